# to_number / format_int conversions and comparisons across types.
# entrypoints: num, cmp, eq_cross
# input: {"s": {"$oneof": [["1", "1.0", "-3", "abc", "", true, null], "int:0..5"]}, "n": "int:0..3"}
package corpus.p121

num := to_number(input.s)

cmp := [input.s < input.n, input.s == input.n]

eq_cross := 1 == 1.0
