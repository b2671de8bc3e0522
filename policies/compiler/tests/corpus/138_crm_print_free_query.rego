# Array/object indexing edge cases: negative, out of range, non-integer, missing keys.
# entrypoints: first, at, by_key, nested
# input: {"xs": {"$array": "str:1..1:abc", "len": "0..3"}, "i": {"$oneof": ["int:-1..4", ["1", 1.5, null]]},
#   "o": {"$map": {"$map": "int:0..2", "keys": ["x", "y"], "len": "0..2"}, "keys": ["a", "b"], "len": "0..2"}, "k": ["a", "b", "c", 1]}
package corpus.p138

first := input.xs[0]

at := input.xs[input.i]

by_key := input.o[input.k]

nested := input.o[input.k].x
