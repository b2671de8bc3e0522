# count / sum / product / max / min / sort over arrays and sets.
# entrypoints: stats, sorted, uniq_sorted
# input: {"xs": {"$array": {"$oneof": ["int:-20..20", "num:-5..5"]}, "len": "0..6"}}
package corpus.p112

stats := {"n": count(input.xs), "sum": sum(input.xs), "product": product(input.xs), "max": max(input.xs), "min": min(input.xs)}

sorted := sort(input.xs)

uniq_sorted := sort({x | some x in input.xs})
