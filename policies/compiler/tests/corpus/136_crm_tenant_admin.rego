# Tenant admin actions gated by plan features, seats and suspension.
# entrypoints: allow, why_not
# input: {"tenant": ["t1", "t2", "t3"], "action": ["sso.configure", "user.invite", "export.schedule", "api.key"], "seats_used": "int:0..300"}
package corpus.p136

t := data.fixtures.tenants[input.tenant]

feature_for := {"sso.configure": "sso", "export.schedule": "export", "api.key": "api"}

why_not contains "tenant suspended" if t.suspended

why_not contains sprintf("plan %s lacks %s", [t.plan, f]) if {
	f := feature_for[input.action]
	not f in t.features
}

why_not contains "no seats left" if {
	input.action == "user.invite"
	input.seats_used >= t.seats
}

default allow := false

allow if {
	t
	count(why_not) == 0
}
