# Group-by with an object comprehension: tickets per assignee, sorted ids.
# entrypoints: by_assignee, unassigned
# input: {"tickets": {"$array": {"id": ["T1", "T2", "T3", "T4", "T5"], "assignee?": ["u1", "u2", null]}, "len": "0..6"}}
package corpus.p008

by_assignee := {a: ids |
	some t in input.tickets
	a := t.assignee
	is_string(a)
	ids := sort([x.id | some x in input.tickets; x.assignee == a])
}

unassigned := [t.id | some t in input.tickets; not is_string(t.assignee)]
