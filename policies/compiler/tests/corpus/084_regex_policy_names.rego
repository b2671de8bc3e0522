# Naming rules enforced with regex: lowercase kebab ids, reserved prefixes.
# entrypoints: violations
# input: {"ids": {"$array": {"$oneof": ["str:1..8:ab-_9", ["sys-core", "Admin", "x--y", "ok-id"]]}, "len": "0..4"}}
package corpus.p084

violations contains sprintf("%s: not kebab-case", [id]) if {
	some id in input.ids
	not regex.match(`^[a-z0-9]+(-[a-z0-9]+)*$`, id)
}

violations contains sprintf("%s: reserved", [id]) if {
	some id in input.ids
	regex.match(`^(sys|admin)-`, id)
}
