# Set equality and subset tests through difference and count.
# entrypoints: same_roles, subset, superset_size
# input: {"have": {"$array": ["admin", "sales", "support"], "len": "0..3"}, "need": {"$array": ["admin", "sales", "support"], "len": "0..3"}}
package corpus.p116

have := {r | some r in input.have}

need := {r | some r in input.need}

same_roles := have == need

subset if count(need - have) == 0

superset_size := count(have | need)
