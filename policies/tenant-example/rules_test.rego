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
