# every over data: a subject may act in a region only if every tenant they touch is in it and not suspended.
# entrypoints: ok, blocking
# input: {"region": ["eu", "us"], "tenants": {"$array": ["t1", "t2", "t3"], "len": "0..3"}}
package corpus.p028

ok if {
	every t in input.tenants {
		data.fixtures.tenants[t].region == input.region
		data.fixtures.tenants[t].suspended == false
	}
}

blocking contains t if {
	some t in input.tenants
	not data.fixtures.tenants[t].region == input.region
}

blocking contains t if {
	some t in input.tenants
	data.fixtures.tenants[t].suspended
}
