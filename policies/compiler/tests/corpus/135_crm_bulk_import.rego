# Bulk import validation: row-level errors with indices, limits from the tenant plan.
# entrypoints: errors, accepted, summary
# input: {"tenant": ["t1", "t2"], "rows": {"$array": {"email?": ["a@x.io", "bad", ""], "name?": ["Ann", "", 5], "age?": "int:-1..120"}, "len": "0..5"}}
package corpus.p135

max_rows := {"pro": 1000, "free": 3}[data.fixtures.tenants[input.tenant].plan]

errors contains sprintf("row %d: invalid email", [i]) if {
	some i, r in input.rows
	not regex.match(`^[^@]+@[^@]+$`, r.email)
}

errors contains sprintf("row %d: name required", [i]) if {
	some i, r in input.rows
	not r.name
}

errors contains sprintf("row %d: name required", [i]) if {
	some i, r in input.rows
	r.name == ""
}

errors contains sprintf("row %d: age out of range", [i]) if {
	some i, r in input.rows
	not r.age >= 0
}

errors contains "too many rows" if count(input.rows) > max_rows

accepted := [i | some i, _ in input.rows; not row_has_error(i)]

row_has_error(i) if {
	some e in errors
	startswith(e, sprintf("row %d:", [i]))
}

summary := {"rows": count(input.rows), "accepted": count(accepted), "errors": count(errors)}
