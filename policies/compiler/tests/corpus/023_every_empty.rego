# every over empty / missing collections: vacuous truth vs undefined domain.
# entrypoints: all_positive, all_positive_or_none, checked
# input: {"xs?": {"$oneof": [{"$array": "int:-2..5", "len": "0..3"}, ["not-an-array"]]}}
package corpus.p023

all_positive if {
	every x in input.xs {
		x > 0
	}
}

all_positive_or_none := true if {
	every x in object.get(input, "xs", []) {
		x > 0
	}
} else := false

checked := count(input.xs)
