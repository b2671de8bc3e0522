# Object comprehension: index deals by id; total by stage.
# entrypoints: by_id, stage_total, biggest
# input: {"deals": {"$array": {"id": ["d1", "d2", "d3", "d4"], "stage": ["lead", "won", "lost"],
#   "amount": "int:0..5000"}, "len": "0..4"}}
package corpus.p003

by_id := {d.id: d.amount | some d in input.deals}

stage_total := {s: total |
	some d in input.deals
	s := d.stage
	total := sum([x.amount | some x in input.deals; x.stage == s])
}

biggest := max({d.amount | some d in input.deals})
