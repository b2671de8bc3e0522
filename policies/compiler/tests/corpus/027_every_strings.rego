# every with string builtins: all tags are lowercase slugs.
# entrypoints: slugs_ok, bad_tags
# input: {"tags": {"$array": {"$oneof": ["str:1..6:abc-_", "str:1..4:ABc1 "]}, "len": "0..4"}}
package corpus.p027

slug(t) if {
	t == lower(t)
	not contains(t, " ")
	not startswith(t, "-")
}

slugs_ok if {
	every t in input.tags {
		slug(t)
	}
}

bad_tags := [t | some t in input.tags; not slug(t)]
