# with applied to a rule producing a partial set.
# entrypoints: deny, deny_for_guest, deny_without_data
# input: {"user?": ["ann", "bob"], "ip?": ["10.1.2.3", "203.0.113.9", "8.8.8.8"]}
package corpus.p063

deny contains "no user" if not input.user

deny contains "blocked ip" if {
	some c in data.fixtures.blocked_cidrs
	net.cidr_contains(c, input.ip)
}

deny_for_guest := d if {
	d := deny with input.user as "guest"
}

deny_without_data := d if {
	d := deny with data.fixtures.blocked_cidrs as []
}
