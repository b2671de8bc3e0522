# type_name and the is_* builtins.
# entrypoints: name, kinds
# input: {"v": {"$oneof": ["any", ["", 0, 1.5, true, null, [], {}]]}}
package corpus.p120

name := type_name(input.v)

kinds := {k |
	some k, f in {
		"string": is_string(input.v),
		"number": is_number(input.v),
		"boolean": is_boolean(input.v),
		"array": is_array(input.v),
		"object": is_object(input.v),
		"null": is_null(input.v),
		"set": is_set(input.v),
	}
	f == true
}
