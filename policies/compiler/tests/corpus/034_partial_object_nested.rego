# Partial object whose values are objects; lookups into it from another rule.
# entrypoints: summary, owner_of_biggest
# input: {"deals": {"$array": {"owner": ["u1", "u2", "u3"], "amount": "int:1..900"}, "len": "0..5"}}
package corpus.p034

summary[o] := {"count": count(mine), "total": sum(mine)} if {
	some d in input.deals
	o := d.owner
	mine := [x.amount | some x in input.deals; x.owner == o]
}

owner_of_biggest contains o if {
	some o, s in summary
	s.total == max([t.total | some t in summary])
}
