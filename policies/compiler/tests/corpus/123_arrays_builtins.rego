# array.concat / array.slice / array.reverse.
# entrypoints: joined, window, rev
# input: {"a": {"$array": "int:0..9", "len": "0..4"}, "b": {"$array": "str:1..1:xyz", "len": "0..3"}, "from": "int:-1..5", "to": "int:0..6"}
package corpus.p123

joined := array.concat(input.a, input.b)

window := array.slice(joined, input.from, input.to)

rev := array.reverse(joined)
