# format_int in several bases, to_number on strings.
# entrypoints: bin, oct, hex, parsed
# input: {"n": {"$oneof": ["int:-100..1000", "num:0..50"]}, "s": ["42", "-7", "3.5", "0x1f", "abc", ""]}
package corpus.p071

bin := format_int(input.n, 2)

oct := format_int(input.n, 8)

hex := format_int(input.n, 16)

parsed := to_number(input.s)
