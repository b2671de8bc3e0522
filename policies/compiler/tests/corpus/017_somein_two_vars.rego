# `some x, y in` with a pattern on the key: which fields differ between two versions.
# entrypoints: changed, added, removed
# input: {"old": {"$map": ["a", "b", 1], "keys": ["name", "email", "phone", "tier"], "len": "0..4"},
#   "new": {"$map": ["a", "b", 2], "keys": ["name", "email", "phone", "tier"], "len": "0..4"}}
package corpus.p017

changed contains k if {
	some k, v in input.new
	input.old[k] != v
}

added contains k if {
	some k, _ in input.new
	not k in object.keys(input.old)
}

removed contains k if {
	some k, _ in input.old
	not k in object.keys(input.new)
}
