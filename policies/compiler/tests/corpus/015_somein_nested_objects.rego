# some over nested collections: customers that have an open ticket of a given priority.
# entrypoints: hot_customers, hot_count
# input: {"priority": ["high", "low"], "customers": {"$array": {"id": ["c1", "c2", "c3"],
#   "tickets": {"$array": {"status": ["open", "closed"], "priority": ["high", "low"]}, "len": "0..3"}}, "len": "0..4"}}
package corpus.p015

hot_customers contains c.id if {
	some c in input.customers
	some t in c.tickets
	t.status == "open"
	t.priority == input.priority
}

hot_count := count(hot_customers)
