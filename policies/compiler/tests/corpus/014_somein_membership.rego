# `in` as a membership test, with `not` and a set literal.
# entrypoints: allow, reason
# input: {"country": ["DE", "FR", "US", "KP", "IR", "", 5], "channel": ["email", "sms", "fax", "phone"]}
package corpus.p014

embargoed := {"KP", "IR", "SY", "CU"}

allowed_channels := ["email", "sms", "phone"]

default allow := false

allow if {
	not input.country in embargoed
	input.channel in allowed_channels
}

reason := "embargo" if input.country in embargoed
else := "channel" if not input.channel in allowed_channels
else := "ok"
