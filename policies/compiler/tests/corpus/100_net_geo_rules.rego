# A realistic allowlist policy: per-tenant CIDRs in the input, admin bypass.
# entrypoints: allow, matched
# input: {"ip": "ipv4", "admin": "bool", "cidrs": {"$array": ["10.0.0.0/8", "100.64.0.0/10", "192.168.0.0/24", "203.0.113.0/24", "127.0.0.0/8"], "len": "0..3"}}
package corpus.p100

matched contains c if {
	some c in input.cidrs
	net.cidr_contains(c, input.ip)
}

default allow := false

allow if input.admin == true

allow if count(matched) > 0
