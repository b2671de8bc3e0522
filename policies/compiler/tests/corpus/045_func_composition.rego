# Functions calling functions, with object and array arguments.
# entrypoints: normalized, valid_emails
# input: {"emails": {"$array": [" Ann@Example.com", "bob@x.io ", "BAD", "c@d", "", 4], "len": "0..4"}}
package corpus.p045

norm(e) := lower(trim_space(e))

domain(e) := split(norm(e), "@")[1]

valid(e) if {
	is_string(e)
	count(split(norm(e), "@")) == 2
	contains(domain(e), ".")
}

normalized := [norm(e) | some e in input.emails; is_string(e)]

valid_emails := {norm(e) | some e in input.emails; valid(e)}
