# object.remove / object.filter / object.keys / object.subset.
# entrypoints: public, only_contact, keys, is_subset
# input: {"rec": {"$map": ["v", 1, null], "keys": ["name", "email", "phone", "ssn", "notes"], "len": "0..5"},
#   "want": {"$map": ["v", 1], "keys": ["name", "email"], "len": "0..2"}}
package corpus.p108

public := object.remove(input.rec, ["ssn", "notes"])

only_contact := object.filter(input.rec, {"email", "phone"})

keys := object.keys(input.rec)

is_subset := object.subset(input.rec, input.want)
