# net.cidr_is_valid on user-supplied allowlists.
# entrypoints: invalid, allowlist_ok
# input: {"allowlist": {"$array": ["10.0.0.0/8", "192.168.1.0/33", "fe80::/10", "1.2.3.4", "x/8", "0.0.0.0/0"], "len": "0..4"}}
package corpus.p098

invalid := [c | some c in input.allowlist; not net.cidr_is_valid(c)]

allowlist_ok if {
	count(input.allowlist) > 0
	count(invalid) == 0
	not "0.0.0.0/0" in input.allowlist
}
