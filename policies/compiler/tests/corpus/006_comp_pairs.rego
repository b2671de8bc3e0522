# Comprehension with two generators: duplicate emails across contacts.
# entrypoints: duplicates, pairs
# input: {"contacts": {"$array": {"id": "int:1..6", "email": ["a@x.io", "b@x.io", "c@x.io"]}, "len": "0..5"}}
package corpus.p006

pairs := [[a.id, b.id] |
	some i, a in input.contacts
	some j, b in input.contacts
	i < j
	a.email == b.email
]

duplicates := {a.email | some p in pairs; some a in input.contacts; a.id == p[0]}
