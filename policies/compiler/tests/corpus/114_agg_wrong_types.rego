# Aggregates over mixed / wrong types.
# entrypoints: s, c, m
# input: {"xs": {"$oneof": [{"$array": "any", "len": "0..3"}, "any"]}}
package corpus.p114

s := sum(input.xs)

c := count(input.xs)

m := max(input.xs)
