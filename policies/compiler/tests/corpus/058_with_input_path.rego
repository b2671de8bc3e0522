# with input.path as: override one field only.
# entrypoints: as_other_tenant, same
# input: {"tenant": ["t1", "t2"], "resource_tenant": ["t1", "t2"], "role?": ["admin", "viewer"]}
package corpus.p058

ok if input.tenant == input.resource_tenant

as_other_tenant if not ok with input.tenant as "t9"

same if ok with input.resource_tenant as input.tenant
