# glob.match for resource patterns, with and without delimiters.
# entrypoints: matched, any_match
# input: {"resource": ["crm.customers.read", "crm.deals.write", "billing.invoices.read", "crm.customers.export"],
#   "patterns": {"$array": ["crm.*.read", "crm.**", "*.invoices.*", "billing.*"], "len": "0..3"}}
package corpus.p125

matched := [p | some p in input.patterns; glob.match(p, ["."], input.resource)]

any_match if glob.match("crm.**", [], input.resource)
