# walk: find every path in a document whose key looks like PII.
# entrypoints: pii_paths, has_pii
# input: {"doc": {"$map": {"$oneof": ["str:1..3:ab", {"$map": ["v"], "keys": ["email", "city", "ssn"], "len": "0..2"}]}, "keys": ["name", "address", "email", "meta"], "len": "0..4"}}
package corpus.p134

pii := {"email", "ssn", "phone"}

pii_paths contains path if {
	walk(input.doc, [path, _])
	count(path) > 0
	path[count(path) - 1] in pii
}

has_pii if count(pii_paths) > 0
