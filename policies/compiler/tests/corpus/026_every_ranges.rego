# every with arithmetic: discount lines stay within 0..max and sum to at most 100.
# entrypoints: valid_discounts, total
# input: {"max": "int:10..60", "lines": {"$array": {"sku": ["a", "b", "c"], "discount": "int:-5..70"}, "len": "0..4"}}
package corpus.p026

total := sum([l.discount | some l in input.lines])

valid_discounts if {
	every l in input.lines {
		l.discount >= 0
		l.discount <= input.max
	}
	total <= 100
}
