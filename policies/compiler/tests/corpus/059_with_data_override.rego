# with data... as: evaluate against a modified fixture.
# entrypoints: perms, perms_if_viewer_could_write, limit_free_doubled
# input: {"role": ["sales", "viewer", "support", "admin"], "plan": ["free", "pro"]}
package corpus.p059

perms := {p | some p in data.fixtures.role_perms[input.role]}

perms_if_viewer_could_write := p if {
	p := perms with data.fixtures.role_perms.viewer as ["customer.read", "customer.update"]
}

limit := data.fixtures.plan_limits[input.plan]

limit_free_doubled := l if {
	l := limit with data.fixtures.plan_limits as {"free": 200, "pro": 10000}
}
