# String builtins with non-string arguments.
# entrypoints: up, joined, starts, parts
# input: {"v": "any", "list": {"$oneof": [{"$array": "str:1..2:ab", "len": "0..3"}, "any"]}}
package corpus.p078

up := upper(input.v)

joined := concat(",", input.list)

starts := startswith(input.v, "a")

parts := split(input.v, "")
