# Set union, intersection, difference, union() and intersection() builtins.
# entrypoints: both, either, only_a, all_common, all_any
# input: {"a": {"$array": ["r", "w", "x", "d"], "len": "0..4"}, "b": {"$array": ["r", "w", "x", "d"], "len": "0..4"},
#   "groups": {"$array": {"$array": ["r", "w", "x"], "len": "0..3"}, "len": "0..3"}}
package corpus.p115

sa := {x | some x in input.a}

sb := {x | some x in input.b}

both := sa & sb

either := sa | sb

only_a := sa - sb

all_common := intersection({{x | some x in g} | some g in input.groups})

all_any := union({{x | some x in g} | some g in input.groups})
