# Partial object: field -> masked value, built by several rules.
# entrypoints: masked, mask_mode
# input: {"role": ["admin", "support", "marketing"], "customer": {"email?": ["ann@example.com", "bob@x.io"],
#   "phone?": ["+49 170 1234567", "555-0100"], "name?": ["Ann", "Bob"]}}
package corpus.p030

mask_mode := "none" if input.role == "admin"
else := "partial" if input.role == "support"
else := "full"

masked[k] := v if {
	some k, v in input.customer
	mask_mode == "none"
}

masked["email"] := concat("@", ["***", split(input.customer.email, "@")[1]]) if mask_mode == "partial"

masked["phone"] := "***" if {
	mask_mode != "none"
	input.customer.phone
}

masked["name"] := input.customer.name if mask_mode != "none"
