# Boolean-valued functions (undefined when false) and their negation.
# entrypoints: business_hours, weekend, status
# input: {"hour": "int:0..23", "day": ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "xyz"]}
package corpus.p046

is_weekend(d) if d in {"sat", "sun"}

in_hours(h) if {
	h >= 9
	h < 18
}

business_hours if {
	not is_weekend(input.day)
	in_hours(input.hour)
}

weekend := is_weekend(input.day)

status := "open" if business_hours else := "closed"
