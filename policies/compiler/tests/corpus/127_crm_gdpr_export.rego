# GDPR export request: consent, purpose, fields.
# entrypoints: allow, allowed_fields, denials
# input: {"purpose": ["marketing", "support", "legal", "analytics"], "consents": {"$array": ["marketing", "analytics", "profiling"], "len": "0..3"},
#   "fields": {"$array": ["name", "email", "phone", "birth_date", "ssn", "notes"], "len": "0..4"}, "legal_hold?": "bool"}
package corpus.p127

needs_consent := {"marketing", "analytics"}

denials contains sprintf("no consent for %s", [input.purpose]) if {
	input.purpose in needs_consent
	not input.purpose in input.consents
}

denials contains sprintf("sensitive field %s", [f]) if {
	some f in input.fields
	f in data.fixtures.sensitive_fields
	input.purpose != "legal"
}

allowed_fields := [f | some f in input.fields; not f in data.fixtures.sensitive_fields]

default allow := false

allow if {
	count(denials) == 0
	not input.legal_hold
}
