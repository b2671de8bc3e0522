# with inside comprehensions and rules using data overrides together with input overrides.
# entrypoints: matrix
# input: {"roles": {"$array": ["admin", "sales", "support", "viewer"], "len": "1..3"}}
package corpus.p062

can(action) if {
	some r in input.roles
	some p in data.fixtures.role_perms[r]
	p in {"*", action}
}

readable if can("customer.read")

writable if can("customer.update")

matrix := {r: {"read": rd, "write": wr} |
	some r in input.roles
	rd := readable with input.roles as [r]
	wr := writable with input.roles as [r]
}
