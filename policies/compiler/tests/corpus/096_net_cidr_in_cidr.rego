# net.cidr_contains with a CIDR as the second argument (subnet containment).
# entrypoints: inside, which
# input: {"subnet": ["10.1.0.0/16", "10.0.0.0/7", "192.168.5.0/24", "172.20.0.0/14", "8.8.8.0/24", "2001:db8::/48"]}
package corpus.p096

inside if {
	some c in data.fixtures.office_cidrs
	net.cidr_contains(c, input.subnet)
}

which := [c | some c in data.fixtures.office_cidrs; net.cidr_contains(c, input.subnet)]
