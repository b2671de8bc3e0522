# with combined with every: each candidate role checked by overriding input.
# entrypoints: every_role_can_read, roles_that_can_delete
# input: {"candidates": {"$array": ["admin", "sales", "support", "viewer", "marketing"], "len": "0..4"}}
package corpus.p065

can_do(action) if {
	some p in data.fixtures.role_perms[input.role]
	p in {"*", action}
}

reads if can_do("customer.read")

deletes if can_do("customer.delete")

every_role_can_read if {
	every r in input.candidates {
		reads with input.role as r
	}
}

roles_that_can_delete := {r | some r in input.candidates; deletes with input.role as r}
