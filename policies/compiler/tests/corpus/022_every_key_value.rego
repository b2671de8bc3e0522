# every k, v: every quota in the request stays under the plan limit.
# entrypoints: within_limits, over
# input: {"plan": ["free", "pro", "enterprise", "gold"], "quotas": {"$map": "int:0..20000", "keys": ["contacts", "deals", "emails"], "len": "0..3"}}
package corpus.p022

limit := data.fixtures.plan_limits[input.plan]

within_limits if {
	every k, v in input.quotas {
		is_string(k)
		v <= limit
	}
}

over contains k if {
	some k, v in input.quotas
	v > limit
}
