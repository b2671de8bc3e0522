# Functions applied to wrong types: builtin type errors inside a function body.
# entrypoints: total_len, upper_name
# input: {"names": {"$array": {"$oneof": ["str:0..4:ab", "any"]}, "len": "0..3"}, "name": {"$oneof": ["str:0..5:xyz", "any"]}}
package corpus.p048

len_of(s) := count(s)

total_len := sum([len_of(n) | some n in input.names])

upper_name := upper(input.name)
