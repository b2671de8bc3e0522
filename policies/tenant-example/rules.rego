# An example tenant policy set (Aurora Broadcasting Group). A tenant's rules are ANDed with the
# platform baseline: they can narrow what the baseline allows, never widen it.
package crm.tenant

no_obligations := {"mask": [], "redact": []}

default decision := {"allow": true, "reasons": [], "obligations": {"mask": [], "redact": []}}

# Exports leave the building: only the compliance team runs them here.
decision := {
	"allow": false,
	"reasons": ["aurora: customer exports are for the compliance team only"],
	"obligations": no_obligations,
} if {
	input.action == "customer.export"
	not "compliance" in input.subject.roles
}

# Marketing plans campaigns without phone numbers at all.
decision := {"allow": true, "reasons": [], "obligations": {"mask": [], "redact": ["phone"]}} if {
	input.action in {"customer.read", "customer.list"}
	"marketing" in input.subject.roles
}

# Advertiser deals are the sales team's (and admins'): nobody else opens that plugin.
decision := {
	"allow": false,
	"reasons": ["aurora: advertiser deals are for sales and admins"],
	"obligations": no_obligations,
} if {
	input.action in {"plugin.render", "plugin.act"}
	startswith(input.resource.id, "advertiser-deals/")
	not "sales" in input.subject.roles
	not "admin" in input.subject.roles
}
