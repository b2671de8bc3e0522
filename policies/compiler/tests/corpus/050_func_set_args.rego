# Functions taking and returning sets.
# entrypoints: effective, has_overlap, overlap_result
# input: {"granted": {"$array": ["read", "write", "delete", "export"], "len": "0..4"},
#   "denied": {"$array": ["write", "delete"], "len": "0..2"}, "needed": {"$array": ["read", "export"], "len": "0..2"}}
package corpus.p050

to_set(a) := {x | some x in a}

minus(a, b) := to_set(a) - to_set(b)

effective := minus(input.granted, input.denied)

overlap(a, b) := a & b

has_overlap := count(overlap(effective, to_set(input.needed))) > 0

overlap_result := has_overlap
