# Session hardening: MFA age, IP family, user agent checks, combined into a decision.
# entrypoints: decision
# input: {"mfa_age_min": "int:0..120", "ip": ["10.0.0.5", "192.168.1.9", "8.8.8.8", "2001:db8::1"], "ua": ["Mozilla/5.0", "curl/8.0", "python-requests/2.31", ""],
#   "role": ["admin", "sales"]}
package corpus.p132

problems contains "stale mfa" if {
	input.role == "admin"
	input.mfa_age_min > 15
}

problems contains "external ip" if {
	not net.cidr_contains("10.0.0.0/8", input.ip)
	not net.cidr_contains("192.168.0.0/16", input.ip)
}

problems contains "scripted client" if regex.match(`^(curl|python-requests)/`, input.ua)

problems contains "empty user agent" if input.ua == ""

decision := {"allow": count(problems) == 0, "problems": problems}
