package crm.tenant_test

req(roles, action) := {
	"subject": {"type": "user", "tenant": "t1", "user": "u1", "roles": roles, "mfa": true},
	"action": action,
	"resource": {"type": "customer", "tenant": "t1"},
	"context": {},
}

test_admin_may_not_export if {
	d := data.crm.tenant.decision with input as req(["admin"], "customer.export")
	d.allow == false
}

test_compliance_may_export if {
	d := data.crm.tenant.decision with input as req(["compliance"], "customer.export")
	d.allow == true
}

test_marketing_never_sees_phones if {
	d := data.crm.tenant.decision with input as req(["marketing"], "customer.read")
	"phone" in d.obligations.redact
}

test_sales_unaffected if {
	d := data.crm.tenant.decision with input as req(["sales"], "customer.read")
	d.allow == true
	count(d.obligations.redact) == 0
}

plugin_req(roles, action, id) := object.union(req(roles, action), {"resource": {"type": "plugin", "id": id}})

allowed(i) if {
	d := data.crm.tenant.decision with input as i
	d.allow == true
}

test_advertiser_deals_for_sales_and_admins_only if {
	not allowed(plugin_req(["support"], "plugin.render", "advertiser-deals/main"))
	not allowed(plugin_req(["marketing"], "plugin.act", "advertiser-deals/book-spot"))
	allowed(plugin_req(["sales"], "plugin.render", "advertiser-deals/main"))
	allowed(plugin_req(["support"], "plugin.render", "subscriptions/main"))
}
