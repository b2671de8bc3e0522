# IPv6 containment and mixed-family checks.
# entrypoints: in_doc_range, loopback
# input: {"ip": ["2001:db8::1", "2001:db8:1::5", "::1", "fe80::1", "10.0.0.1", "2001:db9::1"]}
package corpus.p099

in_doc_range := net.cidr_contains("2001:db8::/32", input.ip)

loopback if net.cidr_contains("::1/128", input.ip)

loopback if net.cidr_contains("127.0.0.0/8", input.ip)
