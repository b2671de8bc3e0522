# Tests of the baseline access policy (package crm.authz).
# Every rule named test_* must evaluate to true.
package crm.authz_test

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

roles_all := ["admin", "compliance", "sales", "support", "marketing"]

# A well-formed request of one tenant, with MFA passed.
req(roles, action) := {
	"subject": {"type": "user", "tenant": "t1", "user": "u1", "roles": roles, "mfa": true},
	"action": action,
	"resource": {"type": "customer", "tenant": "t1", "id": "c1"},
	"context": {"channel": "api"},
}

# The same request without MFA.
req_no_mfa(roles, action) := object.union(req(roles, action), {"subject": {"mfa": false}})

# A customer write of the given fields.
req_fields(roles, action, fields) := object.union(req(roles, action), {"resource": {"fields": fields}})

decide(i) := d if {
	d := data.crm.authz.decision with input as i
}

allowed(roles, action) if decide(req(roles, action)).allow == true

denied(roles, action) if decide(req(roles, action)).allow == false

# Expected grants: action -> roles that may perform it (MFA passed).
matrix := {
	"customer.list": {"admin", "compliance", "sales", "support", "marketing"},
	"customer.read": {"admin", "compliance", "sales", "support", "marketing"},
	"customer.create": {"admin", "sales"},
	"customer.update": {"admin", "sales", "support"},
	"customer.delete": {"admin", "compliance"},
	"customer.rectify": {"admin", "compliance"},
	"customer.export": {"admin", "compliance"},
	"interaction.create": {"admin", "sales", "support"},
	"audit.read": {"admin", "compliance"},
	"audit.verify": {"admin", "compliance"},
	"backup.read": {"admin", "compliance"},
	"user.manage": {"admin"},
	"tenant.admin": {"admin"},
	"privacy.read": {"admin", "compliance"},
	"privacy.manage": {"admin", "compliance"},
	"privacy.export": {"admin", "compliance"},
}

has_reason_prefix(d, prefix) if {
	some r in d.reasons
	startswith(r, prefix)
}

no_obligations(d) if {
	d.obligations == {"mask": [], "redact": []}
}

# ---------------------------------------------------------------------------
# The whole role matrix
# ---------------------------------------------------------------------------

test_matrix_grants_exactly_the_listed_roles if {
	every action, granted in matrix {
		every role in roles_all {
			decide(req([role], action)).allow == (role in granted)
		}
	}
}

test_matrix_every_decision_has_sorted_nonempty_reasons if {
	every action, _ in matrix {
		every role in roles_all {
			d := decide(req([role], action))
			count(d.reasons) > 0
			d.reasons == sort(d.reasons)
		}
	}
}

# ---------------------------------------------------------------------------
# Per role, per action class
# ---------------------------------------------------------------------------

test_admin_may_do_everything if {
	every action, _ in matrix {
		allowed(["admin"], action)
	}
}

test_compliance_reads_deletes_exports_audits if {
	allowed(["compliance"], "customer.read")
	allowed(["compliance"], "customer.delete")
	allowed(["compliance"], "customer.export")
	allowed(["compliance"], "audit.read")
	allowed(["compliance"], "audit.verify")
}

test_compliance_may_not_write_or_manage if {
	denied(["compliance"], "customer.create")
	denied(["compliance"], "customer.update")
	denied(["compliance"], "interaction.create")
	denied(["compliance"], "user.manage")
	denied(["compliance"], "tenant.admin")
}

test_sales_creates_updates_and_logs_interactions if {
	allowed(["sales"], "customer.list")
	allowed(["sales"], "customer.create")
	allowed(["sales"], "customer.update")
	allowed(["sales"], "interaction.create")
}

test_sales_may_not_delete_export_or_audit if {
	denied(["sales"], "customer.delete")
	denied(["sales"], "customer.export")
	denied(["sales"], "audit.read")
	denied(["sales"], "user.manage")
}

test_support_reads_updates_and_logs_interactions if {
	allowed(["support"], "customer.read")
	allowed(["support"], "customer.update")
	allowed(["support"], "interaction.create")
}

test_support_may_not_create_or_delete if {
	denied(["support"], "customer.create")
	denied(["support"], "customer.delete")
	denied(["support"], "audit.verify")
}

test_marketing_only_reads if {
	allowed(["marketing"], "customer.read")
	allowed(["marketing"], "customer.list")
	denied(["marketing"], "customer.update")
	denied(["marketing"], "customer.create")
	denied(["marketing"], "interaction.create")
	denied(["marketing"], "customer.export")
}

test_role_denied_reason if {
	d := decide(req(["support"], "customer.delete"))
	d.allow == false
	d.reasons == ["role_denied: no role of the subject permits customer.delete"]
	no_obligations(d)
}

test_allowed_reason_names_the_role if {
	d := decide(req(["sales"], "customer.update"))
	d.allow == true
	d.reasons == ["allowed: role sales permits customer.update"]
}

test_allowed_reasons_list_each_granting_role if {
	d := decide(req(["support", "admin", "marketing"], "customer.update"))
	d.allow == true
	d.reasons == [
		"allowed: role admin permits customer.update",
		"allowed: role support permits customer.update",
	]
}

test_no_roles_denied if {
	d := decide(req([], "customer.read"))
	d.allow == false
	has_reason_prefix(d, "role_denied:")
}

test_unknown_role_grants_nothing if {
	denied(["superuser"], "customer.read")
	denied(["Admin"], "customer.read")
}

test_plugin_acts_with_its_roles if {
	i := object.union(req(["support"], "customer.read"), {"subject": {"type": "plugin", "plugin": "hello"}})
	decide(i).allow == true
	j := object.union(req(["support"], "customer.delete"), {"subject": {"type": "plugin", "plugin": "hello"}})
	decide(j).allow == false
}

# A request about a customer whose processing is restricted.
req_restricted(roles, action) := object.union(req(roles, action), {"resource": {"attributes": {"restricted": true}}})

test_restricted_customer_is_used_by_nobody if {
	every role in roles_all {
		every action in {"customer.update", "interaction.create", "customer.export"} {
			d := decide(req_restricted([role], action))
			d.allow == false
			has_reason_prefix(d, "restricted:")
		}
	}
	every role in {"admin", "sales", "support", "marketing"} {
		decide(req_restricted([role], "customer.read")).allow == false
	}
}

test_restricted_customer_is_read_by_compliance_and_erasable if {
	decide(req_restricted(["compliance"], "customer.read")).allow == true
	decide(req_restricted(["compliance"], "customer.delete")).allow == true
	decide(req_restricted(["admin"], "customer.delete")).allow == true
}

test_rectification_corrects_personal_fields_only if {
	decide(req_fields(["compliance"], "customer.rectify", ["name", "email", "birth_date"])).allow == true
	d := decide(req_fields(["compliance"], "customer.rectify", ["email", "tags"]))
	d.allow == false
	decide(req_fields(["sales"], "customer.rectify", ["email"])).allow == false
	decide(req_fields(["compliance"], "customer.update", ["email"])).allow == false
}

test_rectification_goes_on_under_restriction if {
	i := object.union(req_restricted(["compliance"], "customer.rectify"), {"resource": {"fields": ["email"]}})
	decide(i).allow == true
}

test_restricted_customer_is_refused_to_a_plugin if {
	i := object.union(req_restricted(["compliance"], "customer.read"), {"subject": {"type": "plugin", "plugin": "hello"}})
	d := decide(i)
	d.allow == false
	has_reason_prefix(d, "restricted:")
}

test_unrestricted_customer_is_unaffected if {
	i := object.union(req(["sales"], "customer.read"), {"resource": {"attributes": {"restricted": false}}})
	decide(i).allow == true
}

test_unknown_subject_type_denied if {
	i := object.union(req(["admin"], "customer.read"), {"subject": {"type": "robot"}})
	d := decide(i)
	d.allow == false
	has_reason_prefix(d, "invalid_subject:")
}

# ---------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------

test_other_tenant_denied_even_for_admin if {
	i := object.union(req(["admin"], "customer.read"), {"resource": {"tenant": "t2"}})
	d := decide(i)
	d.allow == false
	d.reasons == ["tenant_mismatch: subject and resource belong to different tenants"]
}

test_other_tenant_denied_for_every_action if {
	every action, _ in matrix {
		i := object.union(req(["admin"], action), {"resource": {"tenant": "t2"}})
		decide(i).allow == false
	}
}

test_missing_resource_tenant_denied if {
	i := req(["admin"], "customer.read")
	d := decide(json.remove(i, ["resource/tenant"]))
	d.allow == false
	has_reason_prefix(d, "tenant_missing:")
}

test_missing_subject_tenant_denied if {
	i := req(["admin"], "audit.read")
	d := decide(json.remove(i, ["subject/tenant"]))
	d.allow == false
	has_reason_prefix(d, "tenant_missing:")
}

test_empty_tenants_denied if {
	i := object.union(req(["admin"], "customer.read"), {"subject": {"tenant": ""}, "resource": {"tenant": ""}})
	d := decide(i)
	d.allow == false
	has_reason_prefix(d, "tenant_missing:")
}

test_non_string_tenant_denied if {
	i := object.union(req(["admin"], "customer.read"), {"subject": {"tenant": 1}, "resource": {"tenant": 1}})
	decide(i).allow == false
}

# ---------------------------------------------------------------------------
# MFA
# ---------------------------------------------------------------------------

test_export_requires_mfa if {
	d := decide(req_no_mfa(["compliance"], "customer.export"))
	d.allow == false
	d.reasons == ["mfa_required: customer.export requires multi-factor authentication"]
}

test_user_manage_requires_mfa if {
	d := decide(req_no_mfa(["admin"], "user.manage"))
	d.allow == false
	d.reasons == ["mfa_required: user.manage requires multi-factor authentication"]
}

test_tenant_admin_requires_mfa if {
	decide(req_no_mfa(["admin"], "tenant.admin")).allow == false
	decide(req(["admin"], "tenant.admin")).allow == true
}

test_mfa_must_be_boolean_true if {
	i := object.union(req(["admin"], "customer.export"), {"subject": {"mfa": "true"}})
	decide(i).allow == false
	decide(json.remove(req(["admin"], "user.manage"), ["subject/mfa"])).allow == false
}

test_reads_and_writes_do_not_need_mfa if {
	decide(req_no_mfa(["support"], "customer.read")).allow == true
	decide(req_no_mfa(["sales"], "customer.update")).allow == true
	decide(req_no_mfa(["compliance"], "audit.verify")).allow == true
}

# ---------------------------------------------------------------------------
# Field-level write restrictions
# ---------------------------------------------------------------------------

test_support_updates_contact_fields if {
	d := decide(req_fields(["support"], "customer.update", ["email", "phone", "address", "notes"]))
	d.allow == true
	no_obligations(d)
}

test_support_may_not_write_birth_date if {
	d := decide(req_fields(["support"], "customer.update", ["email", "birth_date"]))
	d.allow == false
	d.reasons == ["field_denied: role support may not write birth_date"]
}

test_support_may_not_write_region_tags_consents_name if {
	d := decide(req_fields(["support"], "customer.update", ["region", "tags", "consents", "name"]))
	d.allow == false
	d.reasons == [
		"field_denied: role support may not write consents",
		"field_denied: role support may not write name",
		"field_denied: role support may not write region",
		"field_denied: role support may not write tags",
	]
}

test_sales_and_admin_write_any_field if {
	every role in ["sales", "admin"] {
		every action in ["customer.update", "customer.create"] {
			d := decide(req_fields([role], action, ["name", "email", "phone", "address", "birth_date", "notes", "region", "tags", "consents"]))
			d.allow == true
		}
	}
}

test_support_with_sales_role_writes_any_field if {
	decide(req_fields(["support", "sales"], "customer.update", ["birth_date", "consents"])).allow == true
}

test_marketing_update_is_role_denied_not_field_denied if {
	d := decide(req_fields(["marketing"], "customer.update", ["email"]))
	d.allow == false
	d.reasons == ["role_denied: no role of the subject permits customer.update"]
}

test_role_denied_update_still_names_unknown_fields if {
	d := decide(req_fields(["marketing"], "customer.update", ["email", "password_hash"]))
	d.allow == false
	d.reasons == [
		"field_denied: password_hash is not a writable customer field",
		"role_denied: no role of the subject permits customer.update",
	]
}

test_unknown_field_denied_even_for_admin if {
	d := decide(req_fields(["admin"], "customer.update", ["password_hash"]))
	d.allow == false
	d.reasons == ["field_denied: password_hash is not a writable customer field"]
}

test_malformed_fields_denied if {
	d := decide(req_fields(["admin"], "customer.update", "email"))
	d.allow == false
	has_reason_prefix(d, "invalid_fields:")
	decide(req_fields(["admin"], "customer.create", ["email", 3])).allow == false
}

test_empty_field_list_allowed if {
	decide(req_fields(["support"], "customer.update", [])).allow == true
}

# ---------------------------------------------------------------------------
# Read obligations
# ---------------------------------------------------------------------------

test_admin_and_compliance_see_everything if {
	every role in ["admin", "compliance"] {
		every action in ["customer.read", "customer.list", "customer.export"] {
			d := decide(req([role], action))
			d.allow == true
			no_obligations(d)
		}
	}
}

test_sales_birth_date_redacted if {
	d := decide(req(["sales"], "customer.read"))
	d.obligations == {"mask": [], "redact": ["birth_date"]}
}

test_support_phone_masked if {
	d := decide(req(["support"], "customer.list"))
	d.obligations == {"mask": ["phone"], "redact": ["birth_date"]}
}

test_marketing_obligations if {
	d := decide(req(["marketing"], "customer.read"))
	d.obligations == {"mask": ["email", "phone"], "redact": ["address", "birth_date", "notes"]}
}

test_merge_support_and_marketing if {
	# support shows email/address/notes in clear, masks phone; both redact birth_date
	d := decide(req(["marketing", "support"], "customer.read"))
	d.obligations == {"mask": ["phone"], "redact": ["birth_date"]}
}

test_merge_marketing_and_sales if {
	# sales shows phone/email in clear, so nothing is masked
	d := decide(req(["marketing", "sales"], "customer.list"))
	d.obligations == {"mask": [], "redact": ["birth_date"]}
}

test_merge_with_admin_shows_everything if {
	d := decide(req(["marketing", "admin"], "customer.read"))
	no_obligations(d)
}

test_merge_ignores_unknown_roles if {
	d := decide(req(["marketing", "superuser"], "customer.read"))
	d.obligations == {"mask": ["email", "phone"], "redact": ["address", "birth_date", "notes"]}
}

test_non_read_actions_have_empty_obligations if {
	no_obligations(decide(req(["marketing"], "customer.update")))
	no_obligations(decide(req(["support"], "interaction.create")))
	no_obligations(decide(req(["compliance"], "audit.read")))
}

test_denied_read_fails_closed if {
	i := object.union(req(["support"], "customer.read"), {"resource": {"tenant": "t2"}})
	d := decide(i)
	d.allow == false
	d.obligations.mask == []
	d.obligations.redact == ["address", "birth_date", "email", "name", "notes", "phone"]
}

# ---------------------------------------------------------------------------
# Unknown action, malformed input, decision always defined
# ---------------------------------------------------------------------------

test_unknown_action_denied if {
	d := decide(req(["admin"], "customer.purge"))
	d.allow == false
	d.reasons == ["unknown_action: customer.purge is not a recognised action"]
	no_obligations(d)
}

test_missing_action_denied if {
	d := decide(json.remove(req(["admin"], "customer.read"), ["action"]))
	d.allow == false
	d.reasons == ["unknown_action: (none) is not a recognised action"]
}

test_empty_input_decision_defined if {
	d := decide({})
	d.allow == false
	count(d.reasons) > 0
	d.reasons == sort(d.reasons)
	no_obligations(d)
}

test_garbage_input_decision_defined if {
	d := decide({"subject": "admin", "action": 42, "resource": [], "context": null})
	d.allow == false
	count(d.reasons) > 0
	no_obligations(d)
}

test_roles_not_an_array_denied if {
	i := object.union(req([], "customer.read"), {"subject": {"roles": "admin"}})
	decide(i).allow == false
}

test_deny_reasons_accumulate_sorted if {
	i := object.union(req_no_mfa(["sales"], "customer.export"), {"resource": {"tenant": "t2"}})
	d := decide(i)
	d.allow == false
	d.reasons == [
		"mfa_required: customer.export requires multi-factor authentication",
		"role_denied: no role of the subject permits customer.export",
		"tenant_mismatch: subject and resource belong to different tenants",
	]
}

# ---------------------------------------------------------------------------
# Self-service actions
# ---------------------------------------------------------------------------

req_self(roles, action, id) := object.union(req(roles, action), {"resource": {"type": "user", "id": id}})

test_self_service_allowed_for_every_role_on_own_account if {
	every r in roles_all {
		decide(req_self([r], "self.token.create", "u1")).allow == true
		decide(req_self([r], "self.mfa.enroll", "u1")).allow == true
	}
}

test_self_service_denied_on_another_account if {
	d := decide(req_self(["admin"], "self.token.create", "u2"))
	d.allow == false
	some reason in d.reasons
	startswith(reason, "not_self:")
}

test_self_service_denied_without_resource_id if {
	i := json.remove(req_self(["admin"], "self.mfa.enroll", "u1"), ["resource/id"])
	decide(i).allow == false
}

# ---------------------------------------------------------------------------
# Policy lifecycle and decision log
# ---------------------------------------------------------------------------

test_policy_publish_needs_compliance_or_admin_with_mfa if {
	allowed(["compliance"], "policy.publish")
	allowed(["admin"], "policy.publish")
	denied(["sales"], "policy.publish")
	denied(["marketing"], "policy.publish")
	decide(req_no_mfa(["compliance"], "policy.publish")).allow == false
}

test_policy_and_decision_reads if {
	allowed(["compliance"], "policy.read")
	allowed(["compliance"], "decision.read")
	denied(["support"], "policy.read")
	denied(["sales"], "decision.read")
}

# ---------------------------------------------------------------------------
# Plugins
# ---------------------------------------------------------------------------

# The request of a plugin acting for a staff member with `roles`.
req_plugin(roles, action) := object.union(req(roles, action), {"subject": {"type": "plugin", "plugin": "hello"}})

test_plugin_has_its_users_rights if {
	decide(req_plugin(["support"], "customer.read")).allow == true
	decide(req_plugin(["support"], "customer.read")).obligations == {"mask": ["phone"], "redact": ["birth_date"]}
	decide(req_plugin(["support"], "interaction.create")).allow == true
	decide(req_plugin(["marketing"], "customer.update")).allow == false
}

test_plugin_may_not_do_staff_only_actions if {
	every action in ["customer.delete", "customer.export", "user.manage", "tenant.admin", "policy.publish", "plugin.manage", "audit.read", "self.token.create"] {
		d := decide(req_plugin(["admin"], action))
		d.allow == false
		sprintf("plugin_denied: a plugin may not perform %s", [action]) in d.reasons
	}
}

test_plugin_subject_must_name_its_plugin if {
	i := json.remove(req_plugin(["admin"], "customer.read"), ["subject/plugin"])
	d := decide(i)
	d.allow == false
	"plugin_missing: a plugin subject must name its plugin" in d.reasons
}

test_plugin_other_tenant_denied if {
	i := object.union(req_plugin(["admin"], "customer.read"), {"resource": {"tenant": "t2"}})
	decide(i).allow == false
}

test_plugin_screens_for_all_staff_manage_for_admins if {
	every r in roles_all {
		allowed([r], "plugin.render")
		allowed([r], "plugin.act")
		allowed([r], "plugin.list")
	}
	allowed(["admin"], "plugin.manage")
	not allowed(["compliance"], "plugin.manage")
	decide(req_no_mfa(["admin"], "plugin.manage")).allow == false
}

# ---------------------------------------------------------------------------
# A plugin's service identity (its scheduled jobs)
# ---------------------------------------------------------------------------

# The request of a plugin's job: no staff member, the `service` role.
req_service(action) := object.union(req(["service"], action), {"subject": {"type": "service", "user": "", "plugin": "subscriptions", "mfa": false}})

test_service_reaches_only_the_plugins_records_and_events if {
	every action in ["record.read", "record.write", "event.emit"] {
		decide(req_service(action)).allow == true
	}
}

test_service_never_touches_personal_data_or_staff_actions if {
	every action in ["customer.read", "customer.list", "customer.update", "customer.create", "interaction.create", "customer.export", "plugin.render", "plugin.manage", "audit.read"] {
		d := decide(req_service(action))
		d.allow == false
		sprintf("service_denied: a plugin's job may not perform %s", [action]) in d.reasons
	}
	decide(req_service("customer.read")).obligations == {"mask": [], "redact": ["address", "birth_date", "email", "name", "notes", "phone"]}
}

test_service_role_is_not_for_people if {
	d := decide(req(["service"], "record.read"))
	d.allow == false
	"invalid_subject: only a service subject has the service role" in d.reasons
	p := decide(object.union(req_plugin(["support"], "record.read"), {"subject": {"roles": ["support", "service"]}}))
	p.allow == false
}

test_service_has_no_staff_role_and_names_its_plugin if {
	d := decide(object.union(req_service("record.read"), {"subject": {"roles": ["service", "admin"]}}))
	d.allow == false
	"invalid_subject: a service subject has only the service role" in d.reasons
	e := decide(json.remove(req_service("record.read"), ["subject/plugin"]))
	"plugin_missing: a plugin subject must name its plugin" in e.reasons
}

test_service_stays_in_its_tenant if {
	d := decide(object.union(req_service("record.write"), {"resource": {"tenant": "t2"}}))
	d.allow == false
	"tenant_mismatch: subject and resource belong to different tenants" in d.reasons
}

# ---------------------------------------------------------------------------
# Lookups by a personal field
# ---------------------------------------------------------------------------

req_lookup(roles, fields) := req_fields(roles, "customer.lookup", fields)

test_lookup_by_a_field_seen_in_clear_is_allowed if {
	decide(req_lookup(["admin"], ["email"])).allow
	decide(req_lookup(["sales"], ["email", "phone"])).allow
	decide(req_lookup(["support"], ["email"])).allow
}

test_lookup_by_a_masked_field_is_denied_naming_it if {
	d := decide(req_lookup(["support"], ["phone"]))
	not d.allow
	d.reasons == ["field_hidden: role support sees phone masked or withheld, so it may not look customers up by it"]
	not decide(req_lookup(["marketing"], ["email"])).allow
	not decide(req_lookup(["marketing"], ["phone"])).allow
}

test_lookup_by_a_field_one_role_sees_in_clear_is_allowed if {
	decide(req_lookup(["support", "sales"], ["phone"])).allow
	decide(req_lookup(["marketing", "support"], ["email"])).allow
}

test_lookup_needs_lookup_fields if {
	d := decide(req_lookup(["admin"], ["name"]))
	not d.allow
	has_reason_prefix(d, "invalid_fields:")
	not decide(req_lookup(["admin"], [])).allow
	not decide(req(["admin"], "customer.lookup")).allow
	not decide(req_lookup(["admin"], "email")).allow
}

test_lookup_carries_read_obligations if {
	d := decide(req_lookup(["sales"], ["email"]))
	d.allow
	d.obligations == {"mask": [], "redact": ["birth_date"]}
}

test_plugin_lookup_is_decided_like_its_member if {
	decide(object.union(req_lookup(["support"], ["email"]), {"subject": {"type": "plugin", "plugin": "hello"}})).allow
	not decide(object.union(req_lookup(["marketing"], ["email"]), {"subject": {"type": "plugin", "plugin": "hello"}})).allow
}

test_token_management_is_self_service if {
	decide(req_self(roles_all, "self.token.manage", "u1")).allow
	not decide(req_self(roles_all, "self.token.manage", "u2")).allow
}
