# net.cidr_expand on small ranges; counting hosts.
# entrypoints: hosts, n
# input: {"cidr": ["10.0.0.0/30", "192.168.1.8/29", "10.0.0.1/32", "203.0.113.0/31", "bad/99"]}
package corpus.p097

hosts := net.cidr_expand(input.cidr)

n := count(hosts)
