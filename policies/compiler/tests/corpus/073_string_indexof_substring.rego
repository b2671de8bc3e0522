# indexof / indexof_n / substring: extract parts of an identifier.
# entrypoints: at, prefix, rest, all_dashes
# input: {"id": ["ORD-2024-0042", "INV-7", "nodash", "-x-", "", "ÄÖ-ü-ß"], "len": "int:-1..6"}
package corpus.p073

at := indexof(input.id, "-")

prefix := substring(input.id, 0, at) if at >= 0

rest := substring(input.id, at + 1, input.len) if at >= 0

all_dashes := indexof_n(input.id, "-")
