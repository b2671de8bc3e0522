# Campaign audience: contacts with consent, not bounced, in allowed countries; counts by country.
# entrypoints: audience, by_country
# input: {"contacts": {"$array": {"id": ["c1", "c2", "c3", "c4", "c5"], "country": ["DE", "AT", "US"],
#   "consent": "bool", "bounced?": "bool"}, "len": "0..6"}, "countries": {"$array": ["DE", "AT", "CH"], "len": "1..3"}}
package corpus.p131

audience := {c.id |
	some c in input.contacts
	c.consent
	not c.bounced
	c.country in input.countries
}

by_country := {k: n |
	some c in input.contacts
	k := c.country
	n := count([x | some x in input.contacts; x.country == k; x.id in audience])
}
