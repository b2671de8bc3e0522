# Join input with data: users in tenants that have a feature.
# entrypoints: users_with_feature, tenant_names
# input: {"feature": ["export", "sso", "api", "audit"], "users": {"$array": {"id": ["u1", "u2", "u3"], "tenant": ["t1", "t2", "t3", "t9"]}, "len": "0..4"}}
package corpus.p016

users_with_feature contains u.id if {
	some u in input.users
	some f in data.fixtures.tenants[u.tenant].features
	f == input.feature
}

tenant_names := {t: data.fixtures.tenants[t].name | some u in input.users; t := u.tenant; data.fixtures.tenants[t]}
