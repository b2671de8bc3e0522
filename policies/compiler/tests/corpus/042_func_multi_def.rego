# A function with several definitions (pattern matching on the argument).
# entrypoints: tier_of_each, discount
# input: {"plans": {"$array": ["free", "pro", "enterprise", "gold", 5], "len": "0..4"}, "plan": ["free", "pro", "enterprise", "gold"]}
package corpus.p042

tier("free") := 0

tier("pro") := 1

tier("enterprise") := 2

tier_of_each := [tier(p) | some p in input.plans]

discount_for(0) := 0

discount_for(t) := 5 * t if t > 0

discount := discount_for(tier(input.plan))
