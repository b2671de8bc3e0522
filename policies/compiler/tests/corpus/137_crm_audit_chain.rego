# Audit log integrity: consecutive sequence numbers, monotonic timestamps, actors known.
# entrypoints: gaps, out_of_order, unknown_actors, intact
# input: {"events": {"$array": {"seq": "int:1..6", "ts": "int:100..110", "actor": ["u1", "u2", "u3", "mallory"]}, "len": "0..5"}}
package corpus.p137

known := {u | some u, _ in data.fixtures.managers} | {"u1"}

gaps contains i if {
	some i, e in input.events
	i > 0
	e.seq != input.events[i - 1].seq + 1
}

out_of_order contains i if {
	some i, e in input.events
	i > 0
	e.ts < input.events[i - 1].ts
}

unknown_actors := {e.actor | some e in input.events; not e.actor in known}

intact if {
	count(gaps) == 0
	count(out_of_order) == 0
	count(unknown_actors) == 0
}
