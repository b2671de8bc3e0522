# String ordering comparisons, sort and min/max over strings.
# entrypoints: ordered, first, last, before
# input: {"names": {"$array": "str:0..3:abAB", "len": "0..5"}, "a": "str:0..3:abc", "b": "str:0..3:abc"}
package corpus.p077

ordered := sort(input.names)

first := min(input.names)

last := max(input.names)

before := input.a < input.b
