# json.filter / json.remove: project a customer record for export.
# entrypoints: export, scrubbed
# input: {"customer": {"name": ["Ann", "Bob"], "contact?": {"email?": ["a@x.io"], "phone?": ["555"]},
#   "meta?": {"created?": ["2024-01-01"], "ssn?": ["123"]}}, "paths": {"$array": ["name", "contact/email", "meta/created", "missing"], "len": "0..3"}}
package corpus.p102

export := json.filter(input.customer, input.paths)

scrubbed := json.remove(input.customer, ["meta/ssn", "contact/phone"])
