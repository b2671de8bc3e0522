# json.marshal_with_options pretty printing; marshal of sets and nested values.
# entrypoints: pretty, compact_set
# input: {"doc": {"$map": {"$oneof": ["int:0..3", ["a", null]]}, "keys": ["b", "a", "c"], "len": "0..3"}, "items": {"$array": "int:0..4", "len": "0..4"}}
package corpus.p111

pretty := json.marshal_with_options(input.doc, {"pretty": true, "indent": "  "})

compact_set := json.marshal({x | some x in input.items})
