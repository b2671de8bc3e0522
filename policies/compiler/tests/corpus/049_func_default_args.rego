# A function with optional-like behaviour via object.get on its argument.
# entrypoints: page, offset
# input: {"query": {"page?": "int:0..5", "size?": {"$oneof": ["int:1..50", ["20", null]]}}}
package corpus.p049

param(q, k, d) := object.get(q, k, d)

page := {"page": param(input.query, "page", 1), "size": param(input.query, "size", 10)}

offset := (page.page - 1) * page.size if page.page > 0
