# Iterating a set built from input, with arithmetic on elements.
# entrypoints: doubled, big
# input: {"nums": {"$array": "int:-5..20", "len": "0..6"}, "threshold": "int:0..15"}
package corpus.p020

uniq := {n | some n in input.nums}

doubled := {d | some n in uniq; d := 2 * n}

big contains n if {
	some n in uniq
	n > input.threshold
}
