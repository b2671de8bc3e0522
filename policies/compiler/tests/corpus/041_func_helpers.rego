# Plain helper functions with single and multiple arguments.
# entrypoints: allow, label
# input: {"user": {"roles?": {"$array": ["admin", "sales", "viewer"], "len": "0..2"}, "tenant?": ["t1", "t2"]},
#   "resource": {"tenant?": ["t1", "t2"], "kind?": ["customer", "deal", "invoice"]}}
package corpus.p041

has_role(u, r) if r in u.roles

same_tenant(u, res) if u.tenant == res.tenant

label_for(kind, tenant) := sprintf("%s@%s", [kind, tenant])

default allow := false

allow if {
	has_role(input.user, "admin")
	same_tenant(input.user, input.resource)
}

allow if {
	has_role(input.user, "sales")
	same_tenant(input.user, input.resource)
	input.resource.kind in {"customer", "deal"}
}

label := label_for(input.resource.kind, input.resource.tenant)
