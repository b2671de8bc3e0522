# Test-style rules: a table of requests checked with `with input as`.
# entrypoints: results, all_pass
# input: {"extra_role": ["admin", "sales", "viewer"]}
package corpus.p060

default allow := false

allow if "admin" in input.roles

allow if {
	"sales" in input.roles
	input.action == "read"
}

table := [
	{"in": {"roles": ["admin"], "action": "delete"}, "want": true},
	{"in": {"roles": ["sales"], "action": "read"}, "want": true},
	{"in": {"roles": ["sales"], "action": "delete"}, "want": false},
	{"in": {"roles": [], "action": "read"}, "want": false},
]

results := [r | some t in table; got := allow with input as object.union(t.in, {"roles": array.concat(t.in.roles, [input.extra_role])}); r := {"got": got, "want": t.want}]

all_pass if {
	every r in results {
		r.got == r.want
	}
}
