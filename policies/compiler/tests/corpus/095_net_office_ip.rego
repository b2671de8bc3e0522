# net.cidr_contains: requests from the office or a blocked range.
# entrypoints: from_office, blocked, allow
# input: {"ip": {"$oneof": ["ipv4", ["10.1.2.3", "192.168.1.7", "203.0.113.50", "198.51.100.200", "::1", "bogus"]]}}
package corpus.p095

from_office if {
	some c in data.fixtures.office_cidrs
	net.cidr_contains(c, input.ip)
}

blocked if {
	some c in data.fixtures.blocked_cidrs
	net.cidr_contains(c, input.ip)
}

default allow := false

allow if {
	from_office
	not blocked
}
