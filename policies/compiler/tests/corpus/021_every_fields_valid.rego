# every: all written fields are strings from the allowed list.
# entrypoints: valid, allow
# input: {"fields": {"$oneof": [{"$array": ["name", "email", "phone", "ssn", 3], "len": "0..4"}, ["email", 7, null]]}}
package corpus.p021

writable := {"name", "email", "phone"}

valid if {
	every f in input.fields {
		is_string(f)
		f in writable
	}
}

default allow := false

allow if {
	count(input.fields) > 0
	valid
}
