# Comprehension over object keys: keep only the allowed fields of a record.
# entrypoints: visible, hidden_count
# input: {"record": {"$map": ["x", "y", 1, true, null], "keys": ["name", "email", "phone", "ssn", "notes"], "len": "0..5"},
#   "allowed": {"$array": ["name", "email", "phone"], "len": "0..3"}}
package corpus.p005

visible := {k: v | some k, v in input.record; k in input.allowed}

hidden_count := count(input.record) - count(visible)
