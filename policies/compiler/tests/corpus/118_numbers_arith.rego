# Arithmetic: +, -, *, /, %, division by zero, integer vs float results.
# entrypoints: add, div, mod, mixed, neg
# input: {"a": {"$oneof": ["int:-50..50", "num:-5..5"]}, "b": {"$oneof": ["int:-3..3", "num:0..2"]}}
package corpus.p118

add := input.a + input.b

div := input.a / input.b

mod := input.a % input.b

mixed := (input.a * 3) - (input.b / 2)

neg := 0 - input.a
