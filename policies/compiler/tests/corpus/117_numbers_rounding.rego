# round / ceil / floor / abs and numbers.range.
# entrypoints: r, c, f, a, steps
# input: {"x": {"$oneof": ["num:-20..20", "int:-10..10"]}, "n": "int:0..5"}
package corpus.p117

r := round(input.x)

c := ceil(input.x)

f := floor(input.x)

a := abs(input.x)

steps := numbers.range(0, input.n)
