# A complete rule with an else chain and a default.
# entrypoints: risk, action
# input: {"score": {"$oneof": ["int:0..100", ["high", null]]}, "country?": ["DE", "US", "KP"]}
package corpus.p052

default risk := "unknown"

risk := "blocked" if {
	input.country == "KP"
} else := "high" if {
	input.score > 80
} else := "medium" if {
	input.score > 40
} else := "low" if {
	is_number(input.score)
}

action := {"blocked": "deny", "high": "review", "medium": "review", "low": "allow"}[risk]
