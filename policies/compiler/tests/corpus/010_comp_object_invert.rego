# Object comprehension that inverts a mapping (users per role from data).
# entrypoints: users_by_role, my_perms
# input: {"assignments": {"$map": ["admin", "sales", "support", "viewer", "nobody"], "keys": ["u1", "u2", "u3", "u4"], "len": "0..4"},
#   "user": ["u1", "u2", "u3", "u9"]}
package corpus.p010

users_by_role := {role: users |
	some _, role in input.assignments
	users := {u | some u, r in input.assignments; r == role}
}

my_perms := {p | role := input.assignments[input.user]; some p in data.fixtures.role_perms[role]}
