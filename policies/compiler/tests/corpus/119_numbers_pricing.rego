# A pricing rule: seats, discounts, tax, rounded to cents.
# entrypoints: quote
# input: {"plan": ["free", "pro", "enterprise"], "seats": "int:0..300", "coupon?": ["TENOFF", "HALF", "BOGUS"], "vat": "num:0..25"}
package corpus.p119

unit := {"free": 0, "pro": 12, "enterprise": 30}[input.plan]

discount := {"TENOFF": 10, "HALF": 50}[input.coupon]

default pct := 0

pct := discount

net := (unit * input.seats) * (100 - pct) / 100

quote := {"net": net, "gross": round((net * (100 + input.vat)) / 100 * 100) / 100, "seats": input.seats}
