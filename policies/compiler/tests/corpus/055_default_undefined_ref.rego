# default values when the body refers to missing data paths.
# entrypoints: tenant_plan, seats_left, allow
# input: {"tenant?": ["t1", "t2", "t3", "t9"], "used?": "int:0..300"}
package corpus.p055

default tenant_plan := "none"

tenant_plan := data.fixtures.tenants[input.tenant].plan

default seats_left := 0

seats_left := data.fixtures.tenants[input.tenant].seats - input.used if {
	data.fixtures.tenants[input.tenant].seats > input.used
}

default allow := false

allow if {
	seats_left > 0
	not data.fixtures.tenants[input.tenant].suspended
}
