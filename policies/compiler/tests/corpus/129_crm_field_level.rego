# Field-level write permissions: per-role writable fields, immutable fields.
# entrypoints: rejected, allow
# input: {"roles": {"$array": ["admin", "sales", "support", "intern"], "len": "0..2"}, "changes": {"$map": ["x", 1, null], "keys": ["name", "email", "id", "created_at", "notes", "owner"], "len": "0..4"}}
package corpus.p129

immutable := {"id", "created_at"}

role_fields := {
	"admin": {"name", "email", "notes", "owner"},
	"sales": {"name", "email", "notes"},
	"support": {"notes"},
}

writable := {f | some r in input.roles; some f in role_fields[r]}

rejected contains k if {
	some k, _ in input.changes
	k in immutable
}

rejected contains k if {
	some k, _ in input.changes
	not k in immutable
	not k in writable
}

default allow := false

allow if {
	count(input.changes) > 0
	count(rejected) == 0
}
