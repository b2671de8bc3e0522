# Partial object keyed by user: effective permission count, from data.
# entrypoints: perm_count, admins
# input: {"users": {"$map": {"$array": ["admin", "sales", "support", "viewer", "x"], "len": "0..2"}, "keys": ["u1", "u2", "u3", "u4"], "len": "0..4"}}
package corpus.p032

perm_count[u] := n if {
	some u, roles in input.users
	n := count({p | some r in roles; some p in data.fixtures.role_perms[r]})
}

admins contains u if {
	some u, roles in input.users
	"admin" in roles
}
