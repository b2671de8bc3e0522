# Partial set of deny messages from several rules; allow when empty.
# entrypoints: deny, allow
# input: {"user?": {"active?": "bool", "tenant?": ["t1", "t2"], "age?": "int:10..70"}, "tenant?": ["t1", "t2", "t3"], "amount?": "int:0..2000"}
package corpus.p029

deny contains "inactive user" if not input.user.active

deny contains "cross-tenant" if input.user.tenant != input.tenant

deny contains msg if {
	input.amount > 1000
	msg := sprintf("amount %d over limit", [input.amount])
}

deny contains "minor" if input.user.age < 18

default allow := false

allow if count(deny) == 0
