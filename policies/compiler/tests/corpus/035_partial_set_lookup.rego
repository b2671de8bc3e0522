# Membership tests against a partial set, and its use in another partial set.
# entrypoints: blocked, visible_ids
# input: {"blocked_ids": {"$array": ["c1", "c2", "c3"], "len": "0..2"}, "ids": {"$array": ["c1", "c2", "c3", "c4"], "len": "0..4"}}
package corpus.p035

blocked contains id if {
	some id in input.blocked_ids
}

visible_ids contains id if {
	some id in input.ids
	not blocked[id]
}
