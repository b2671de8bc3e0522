# Partial set with object elements: violations with a code and field.
# entrypoints: violations, codes
# input: {"customer": {"email?": ["ann@example.com", "not-an-email", ""], "phone?": ["+4917012345", "12", 7], "country?": ["DE", "XX", "us"]}}
package corpus.p031

violations contains {"code": "email", "field": "email"} if not contains(input.customer.email, "@")

violations contains {"code": "phone_short", "field": "phone"} if count(input.customer.phone) < 5

violations contains {"code": "phone_type", "field": "phone"} if not is_string(input.customer.phone)

violations contains {"code": "country", "field": "country", "value": c} if {
	c := input.customer.country
	not c in {"DE", "FR", "US", "GB"}
}

codes := sort([v.code | some v in violations])
