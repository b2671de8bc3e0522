# Functions returning composite values; used in comprehensions.
# entrypoints: cards
# input: {"customers": {"$array": {"id": ["c1", "c2"], "name": ["Ann", "Bob"], "vip?": "bool"}, "len": "0..3"}}
package corpus.p047

card(c) := {"id": c.id, "title": upper(c.name), "badge": badge(c)}

badge(c) := "vip" if c.vip == true

badge(c) := "std" if not c.vip == true

cards := [card(c) | some c in input.customers]
