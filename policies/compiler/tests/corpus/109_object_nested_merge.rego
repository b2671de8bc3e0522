# Deep object.union semantics on nested objects and conflicting leaves.
# entrypoints: merged, notify
# input: {"a": {"notify?": {"email?": "bool", "sms?": "bool"}, "name?": ["A"]}, "b": {"notify?": {"email?": "bool", "push?": "bool"}, "name?": ["B", 3]}}
package corpus.p109

merged := object.union(input.a, input.b)

notify := {k | some k, v in merged.notify; v == true}
