# Capture groups used to parse a structured string.
# entrypoints: parsed
# input: {"ref": ["INV-2024-0042", "INV-1999-7", "DEAL-2024-1", "INV-abcd-1"]}
package corpus.p086

parsed := {"year": to_number(m[1]), "seq": to_number(m[2])} if {
	ms := regex.find_all_string_submatch_n(`^INV-([0-9]{4})-([0-9]+)$`, input.ref, 1)
	m := ms[0]
}
