# Baseline access policy of the broadcaster CRM (platform level).
#
# The host evaluates `data.crm.authz.decision` with an input of the form
#
#   {
#     "subject":  {"type": "user"|"plugin"|"service", "tenant": "...", "user": "...",
#                  "roles": ["support"], "mfa": true, "plugin": "..."},
#     "action":   "customer.read",
#     "resource": {"type": "customer", "tenant": "...", "id": "...",
#                  "fields": ["email"]},        # fields: create/update, and lookup
#     "context":  {"channel": "api"}
#   }
#
# and always gets back an object
#
#   {"allow": bool, "reasons": [sorted strings],
#    "obligations": {"mask": [sorted fields], "redact": [sorted fields]}}
#
# Deny by default: a request is allowed only when at least one role of the
# subject grants the action and no deny reason fires. A plugin subject is
# treated exactly like a user with the same roles. A service subject is a
# plugin's job with no staff member behind it: it has the role `service`,
# which reaches only the plugin's own records and events.
package crm.authz

# ---------------------------------------------------------------------------
# Static tables
# ---------------------------------------------------------------------------

all_roles := {"admin", "compliance", "sales", "support", "marketing"}

# The role of a plugin's service identity (its jobs): never a staff member's.
service_roles := {"service"}

# Which roles may perform which action.
action_roles := {
	"customer.list": all_roles,
	"customer.read": all_roles,
	# Finding customers by an exact personal value (resource.fields names which: email, phone).
	"customer.lookup": all_roles,
	"customer.create": {"admin", "sales"},
	"customer.update": {"admin", "sales", "support"},
	"customer.delete": {"admin", "compliance"},
	# Correcting a person's data at their request (a rectification request in progress).
	"customer.rectify": {"admin", "compliance"},
	"customer.export": {"admin", "compliance"},
	"interaction.create": {"admin", "sales", "support"},
	"audit.read": {"admin", "compliance"},
	"audit.verify": {"admin", "compliance"},
	# The deployment's backups and restore drills (file names, counts, results).
	"backup.read": {"admin", "compliance"},
	"user.manage": {"admin"},
	"tenant.admin": {"admin"},
	# The tenant's own policies and the decision log.
	"policy.read": {"admin", "compliance"},
	"policy.publish": {"admin", "compliance"},
	"decision.read": {"admin", "compliance"},
	# Data-subject requests: the queue and a request's timeline; opening and working on them.
	"privacy.read": {"admin", "compliance"},
	"privacy.manage": {"admin", "compliance"},
	# Building and downloading the archive of everything held about a person.
	"privacy.export": {"admin", "compliance"},
	# Self-service on one's own account (enrol two-factor sign-in, create an API token).
	"self.mfa.enroll": all_roles,
	"self.token.create": all_roles,
	# List and revoke one's own API tokens.
	"self.token.manage": all_roles,
	# Plugins: see the installed ones and use their screens; install and configure them.
	"plugin.list": all_roles,
	"plugin.render": all_roles,
	"plugin.act": all_roles,
	"plugin.manage": {"admin"},
	# What a plugin does through its capabilities (besides the customer actions above).
	"record.read": all_roles | service_roles,
	"record.write": all_roles | service_roles,
	"event.emit": all_roles | service_roles,
}

# The only actions a plugin subject may perform: whatever else it asks is denied, whatever
# roles its acting staff member has.
plugin_actions := {
	"customer.list", "customer.read", "customer.lookup", "customer.create", "customer.update",
	"interaction.create", "record.read", "record.write", "event.emit",
}

# The only actions a service subject (a plugin's job) may perform: no personal data without a
# staff member behind the request.
service_actions := {"record.read", "record.write", "event.emit"}

# Actions a subject may only perform on its own user record.
self_actions := {"self.mfa.enroll", "self.token.create", "self.token.manage"}

# Actions that need a session which passed multi-factor authentication.
mfa_actions := {"customer.export", "privacy.export", "user.manage", "tenant.admin", "policy.publish", "plugin.manage"}

# Actions that return customer data and therefore carry mask/redact
# obligations.
customer_read_actions := {"customer.read", "customer.list", "customer.lookup", "customer.export"}

# Personal fields a lookup may match on exactly (through their blind indexes).
lookup_fields := {"email", "phone"}

# Actions that write customer fields (resource.fields lists them).
field_write_actions := {"customer.create", "customer.update", "customer.rectify"}

# Customer fields subject to masking/redaction on read.
viewable_fields := {"name", "email", "phone", "address", "birth_date", "notes"}

# Customer fields that a create/update may write.
writable_fields := {
	"name", "email", "phone", "address", "birth_date", "notes",
	"region", "tags", "consents",
}

# Fields each role may write (roles that may create/update at all).
role_writable := {
	"admin": writable_fields,
	"sales": writable_fields,
	"support": {"email", "phone", "address", "notes"},
	# Rectification corrects personal data; tags, consents and region are the business's.
	"compliance": {"name", "email", "phone", "address", "birth_date", "notes"},
}

# How each role sees customer data on read. A field that is in neither set is
# shown in clear.
role_view := {
	"admin": {"mask": set(), "redact": set()},
	"compliance": {"mask": set(), "redact": set()},
	"sales": {"mask": set(), "redact": {"birth_date"}},
	"support": {"mask": {"phone"}, "redact": {"birth_date"}},
	"marketing": {"mask": {"email", "phone"}, "redact": {"address", "birth_date", "notes"}},
}

subject_types := {"user", "plugin", "service"}

# Subjects that name the plugin acting.
plugin_subject_types := {"plugin", "service"}

# ---------------------------------------------------------------------------
# Derived facts about the request
# ---------------------------------------------------------------------------

action_known if action_roles[input.action]

action_label := input.action if is_string(input.action) else := "(none)"

# Roles of the subject (strings only; anything else is ignored).
subject_roles contains r if {
	is_array(input.subject.roles)
	some r in input.subject.roles
	is_string(r)
}

# Roles of the subject that grant the requested action.
permitted_roles := subject_roles & action_roles[input.action] if {
	action_known
} else := set()

mfa_passed if input.subject.mfa == true

# Both the subject's and the resource's tenant are non-empty strings.
tenants_present if {
	is_string(input.subject.tenant)
	input.subject.tenant != ""
	is_string(input.resource.tenant)
	input.resource.tenant != ""
}

fields_given if {
	_ = input.resource.fields
}

fields_valid if {
	is_array(input.resource.fields)
	every f in input.resource.fields {
		is_string(f)
	}
}

# Fields that the permitted roles may write, together (most permissive wins).
subject_writable := union({role_writable[r] | some r in permitted_roles})

permitted_label := sprintf("role %s", [r]) if {
	count(permitted_roles) == 1
	some r in permitted_roles
} else := sprintf("roles %s", [concat(", ", sort(permitted_roles))])

# ---------------------------------------------------------------------------
# Deny reasons
# ---------------------------------------------------------------------------
#
# Checks that apply only to some requests are grouped behind that condition
# (plugin subjects, self-service actions, field writes): every other request
# skips a group with one test instead of one per check.

deny_reasons contains msg if {
	not action_known
	msg := sprintf("unknown_action: %s is not a recognised action", [action_label])
}

deny_reasons contains "invalid_subject: subject.type must be user, plugin or service" if {
	not input.subject.type in subject_types
}

deny_reasons contains "invalid_subject: only a service subject has the service role" if {
	input.subject.type != "service"
	some r in subject_roles
	r in service_roles
}

deny_reasons contains msg if {
	input.subject.type in plugin_subject_types
	some msg in plugin_deny_reasons
}

deny_reasons contains "tenant_missing: subject or resource tenant is missing or empty" if {
	not tenants_present
}

deny_reasons contains "tenant_mismatch: subject and resource belong to different tenants" if {
	tenants_present
	input.subject.tenant != input.resource.tenant
}

deny_reasons contains msg if {
	action_known
	count(permitted_roles) == 0
	msg := sprintf("role_denied: no role of the subject permits %s", [input.action])
}

deny_reasons contains msg if {
	input.action in self_actions
	some msg in self_deny_reasons
}

deny_reasons contains msg if {
	input.action in mfa_actions
	not mfa_passed
	msg := sprintf("mfa_required: %s requires multi-factor authentication", [input.action])
}

deny_reasons contains msg if {
	input.action in field_write_actions
	not fields_writable
	some msg in field_deny_reasons
}

deny_reasons contains msg if {
	input.action == "customer.lookup"
	some msg in lookup_deny_reasons
}

# Restriction of processing (GDPR art. 18, PIPL art. 44): a restricted customer's record is
# kept but not used. Erasure (part of the request workflow) and reading by a compliance officer
# in person remain; everything else, a plugin's reads included, is refused.

deny_reasons contains msg if {
	input.resource.type == "customer"
	input.resource.attributes.restricted == true
	not restricted_use_allowed
	msg := sprintf("restricted: processing of this customer is restricted at their request, so %s is not allowed", [action_label])
}

restricted_use_allowed if input.action == "customer.delete"

# Accuracy contested is a ground for restriction (GDPR art. 18(1)(a)): the correction goes on.
restricted_use_allowed if input.action == "customer.rectify"

restricted_use_allowed if {
	input.action == "customer.read"
	input.subject.type == "user"
	"compliance" in subject_roles
}

# Plugin and service subjects (a plugin, or a plugin's job).

plugin_deny_reasons contains "invalid_subject: a service subject has only the service role" if {
	input.subject.type == "service"
	some r in subject_roles
	not r in service_roles
}

plugin_deny_reasons contains msg if {
	input.subject.type == "service"
	not service_actions[input.action]
	msg := sprintf("service_denied: a plugin's job may not perform %s", [action_label])
}

plugin_deny_reasons contains msg if {
	input.subject.type == "plugin"
	not plugin_actions[input.action]
	msg := sprintf("plugin_denied: a plugin may not perform %s", [action_label])
}

plugin_deny_reasons contains "plugin_missing: a plugin subject must name its plugin" if {
	not is_string(input.subject.plugin)
}

# Self-service actions: only on the subject's own account.

self_deny_reasons contains msg if {
	input.resource.id != input.subject.user
	msg := sprintf("not_self: %s applies only to the subject's own account", [input.action])
}

self_deny_reasons contains msg if {
	not input.resource.id
	msg := sprintf("not_self: %s applies only to the subject's own account", [input.action])
}

# Lookups: finding customers by an exact value of a field is as good as reading that field
# (guess a value, see whether it matches), so only a subject that sees the field in clear may
# look customers up by it.

lookup_fields_valid if {
	fields_valid
	count(input.resource.fields) > 0
	fields_within(lookup_fields)
}

lookup_deny_reasons contains "invalid_fields: a lookup names the fields it matches on (email, phone) in resource.fields" if {
	not lookup_fields_valid
}

lookup_deny_reasons contains msg if {
	lookup_fields_valid
	count(permitted_roles) > 0
	some f in input.resource.fields
	f in hidden_fields
	msg := sprintf("field_hidden: %s sees %s masked or withheld, so it may not look customers up by it", [permitted_label, f])
}

# Fields the permitted roles, together, see masked or not at all.
hidden_fields := mask_fields | redact_fields

# Customer writes: the fields named must exist and be writable by the subject. A write that
# names only fields the subject may write skips every check below with one test; one by a
# subject without a write role checks the names with one test.

# The fields named are an array, and every one of them is in `allowed`.
fields_within(allowed) if {
	is_array(input.resource.fields)
	every f in input.resource.fields {
		f in allowed
	}
}

# Every field named is one the subject may write: none of the checks below can fire.
fields_writable if {
	count(permitted_roles) > 0
	fields_within(subject_writable)
}

# Every field named is a writable customer field: neither name check can fire.
fields_known if fields_within(writable_fields)

field_deny_reasons contains msg if {
	not fields_known
	some msg in field_name_reasons
}

field_name_reasons contains "invalid_fields: resource.fields must be an array of field names" if {
	fields_given
	not fields_valid
}

field_name_reasons contains msg if {
	fields_valid
	some f in input.resource.fields
	not f in writable_fields
	msg := sprintf("field_denied: %s is not a writable customer field", [f])
}

field_deny_reasons contains msg if {
	count(permitted_roles) > 0
	fields_valid
	some f in input.resource.fields
	f in writable_fields
	not f in subject_writable
	msg := sprintf("field_denied: %s may not write %s", [permitted_label, f])
}

# ---------------------------------------------------------------------------
# Allow
# ---------------------------------------------------------------------------

default allow := false

allow if {
	count(permitted_roles) > 0
	count(deny_reasons) == 0
}

allow_reasons contains msg if {
	allow
	some r in permitted_roles
	msg := sprintf("allowed: role %s permits %s", [r, input.action])
}

reasons := sort(allow_reasons) if {
	allow
} else := sort(deny_reasons) if {
	count(deny_reasons) > 0
} else := ["denied: no rule permits this request"]

# ---------------------------------------------------------------------------
# Read obligations (most permissive role wins)
# ---------------------------------------------------------------------------

# A field is redacted only if every permitted role redacts it.
redact_fields := intersection({role_view[r].redact | some r in permitted_roles})

# A field is masked if every permitted role masks or redacts it, but it is
# not redacted by all of them.
mask_fields := intersection({(role_view[r].mask | role_view[r].redact) | some r in permitted_roles}) - redact_fields

# What one role alone gets (the two rules above for a single role; a table computed at build
# time, so the common single-role read looks its answer up).
role_obligations := {r: {"mask": sort((v.mask | v.redact) - v.redact), "redact": sort(v.redact)} |
	some r, v in role_view
}

obligations := read_obligations if {
	input.action in customer_read_actions
} else := {"mask": [], "redact": []}

read_obligations := o if {
	allow
	count(permitted_roles) == 1
	some r in permitted_roles
	o := role_obligations[r]
} else := {"mask": sort(mask_fields), "redact": sort(redact_fields)} if {
	allow
} else := {"mask": [], "redact": sort(viewable_fields)} # a denied read fails closed: nothing may be shown

# ---------------------------------------------------------------------------
# The decision the host reads
# ---------------------------------------------------------------------------

decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": obligations,
}
