# with against a hand-written copy of part of the project's matrix.
# entrypoints: decisions
# input: {"action": ["customer.read", "customer.delete", "audit.read"], "mfa": "bool"}
package corpus.p066

matrix := {"customer.read": {"admin", "sales"}, "customer.delete": {"admin"}, "audit.read": {"admin", "compliance"}}

allowed if {
	some r in input.roles
	r in matrix[input.action]
}

decisions := {r: d |
	some r in ["admin", "sales", "compliance"]
	d := allowed with input as {"roles": [r], "action": input.action}
}
