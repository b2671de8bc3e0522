# some ... in over roles and permissions from data.
# entrypoints: allow, granting_roles
# input: {"roles": {"$array": ["admin", "sales", "support", "marketing", "viewer", "ghost"], "len": "0..3"},
#   "action": ["customer.read", "deal.create", "ticket.update", "campaign.create", "tenant.admin"]}
package corpus.p011

granting_roles contains r if {
	some r in input.roles
	some p in data.fixtures.role_perms[r]
	p in {"*", input.action}
}

default allow := false

allow if count(granting_roles) > 0
