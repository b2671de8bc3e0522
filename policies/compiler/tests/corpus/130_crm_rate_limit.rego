# Rate limiting by plan, with burst and a per-tenant override in the input.
# entrypoints: limit, over, remaining
# input: {"tenant": ["t1", "t2", "t3", "t9"], "used": "int:0..12000", "override?": {"$oneof": ["int:0..500", ["unlimited"]]}}
package corpus.p130

plan := data.fixtures.tenants[input.tenant].plan

limit := "unlimited" if input.override == "unlimited"
else := input.override if is_number(input.override)
else := data.fixtures.plan_limits[plan]

over if {
	is_number(limit)
	input.used > limit
}

remaining := limit - input.used if {
	is_number(limit)
	not over
}
