# Several definitions of one partial set, overlapping elements are merged.
# entrypoints: tags, tag_count
# input: {"deal": {"amount?": "int:0..100000", "stage?": ["lead", "won", "lost"], "owner?": ["u1", "u2", null], "region?": ["eu", "us"]}}
package corpus.p033

tags contains "big" if input.deal.amount >= 50000

tags contains "closed" if input.deal.stage in {"won", "lost"}

tags contains "won" if input.deal.stage == "won"

tags contains "orphan" if not input.deal.owner

tags contains sprintf("region:%s", [input.deal.region]) if input.deal.region

tags contains "closed" if input.deal.stage == "lost"

tag_count := count(tags)
