# Multi-level rule heads: a.b[k] refs building nested objects.
# entrypoints: email, sms_pro, by_channel
# input: {"channel": ["email", "sms", "push"], "tier": ["free", "pro"]}
package corpus.p039

limits.email[t] := n if {
	t := input.tier
	n := {"free": 100, "pro": 1000}[t]
}

limits.sms[t] := 10 if t := input.tier

email := limits.email

sms_pro := limits.sms.pro

by_channel := limits[input.channel]
