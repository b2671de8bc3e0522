# Array comprehensions: names of active contacts, in input order.
# entrypoints: active_names, first_active, n_active
# input: {"contacts": {"$array": {"name": ["ann", "bob", "cid", "dee", 4],
#   "active?": [true, false, "yes"], "score?": "int:0..100"}, "len": "0..5"}}
package corpus.p001

active_names := [c.name | some c in input.contacts; c.active == true]

first_active := active_names[0]

n_active := count(active_names)
