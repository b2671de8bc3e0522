# Building notification texts from templates with sprintf and concat.
# entrypoints: subject, lines
# input: {"customer": {"name": ["Ann", "Bob"], "tier?": ["gold", "silver"]}, "items": {"$array": {"sku": ["A1", "B2"], "qty": "int:1..3"}, "len": "0..3"}}
package corpus.p076

tier := object.get(input.customer, "tier", "standard")

subject := sprintf("[%s] Order for %s (%d items)", [upper(tier), input.customer.name, count(input.items)])

lines := concat("\n", [sprintf("%dx %s", [i.qty, i.sku]) | some i in input.items])
