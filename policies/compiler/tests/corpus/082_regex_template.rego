# regex.template_match: resource paths with embedded patterns.
# entrypoints: matches_customer, matches_any
# input: {"path": ["urn:crm:customer:c42", "urn:crm:deal:d1", "urn:crm:customer:", "urn:other:customer:c1"]}
package corpus.p082

matches_customer := regex.template_match("urn:crm:customer:{[a-z][0-9]+}", input.path, "{", "}")

templates := ["urn:crm:customer:{.*}", "urn:crm:deal:{d[0-9]}"]

matches_any if {
	some t in templates
	regex.template_match(t, input.path, "{", "}")
}
