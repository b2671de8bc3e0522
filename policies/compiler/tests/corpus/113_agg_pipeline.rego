# Aggregates over a sales pipeline: totals per stage and win rate.
# entrypoints: per_stage, win_rate, largest_open
# input: {"deals": {"$array": {"stage": ["lead", "qualified", "proposal", "won", "lost"], "amount": "int:100..10000"}, "len": "0..8"}}
package corpus.p113

per_stage := {s: sum([d.amount | some d in input.deals; d.stage == s]) | some s in data.fixtures.pipeline}

closed := [d | some d in input.deals; d.stage in {"won", "lost"}]

won := [d | some d in closed; d.stage == "won"]

win_rate := round((100 * count(won)) / count(closed)) if count(closed) > 0

largest_open := max([d.amount | some d in input.deals; not d.stage in {"won", "lost"}])
