# Partial set whose elements are sets; set equality in lookups.
# entrypoints: groups, has_group
# input: {"memberships": {"$array": {"$array": ["sales", "support", "admin"], "len": "1..3"}, "len": "0..3"},
#   "want": {"$array": ["sales", "support", "admin"], "len": "1..2"}}
package corpus.p040

groups contains g if {
	some m in input.memberships
	g := {r | some r in m}
}

has_group if {
	w := {r | some r in input.want}
	groups[w]
}
