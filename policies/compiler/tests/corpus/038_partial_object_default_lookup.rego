# Partial object looked up with object.get and a default.
# entrypoints: weight, score
# input: {"signals": {"$array": ["opened", "clicked", "replied", "bounced", "ignored"], "len": "0..5"}}
package corpus.p038

weights["opened"] := 1

weights["clicked"] := 3

weights["replied"] := 10

weights["bounced"] := -5

weight := {s: object.get(weights, s, 0) | some s in input.signals}

score := sum([object.get(weights, s, 0) | some s in input.signals])
