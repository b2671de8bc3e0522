# with input as: evaluate a rule against a synthetic admin request.
# entrypoints: allow, admin_would_be_allowed, self_check
# input: {"role": ["admin", "sales", "guest"], "action": ["read", "write", "delete"]}
package corpus.p057

default allow := false

allow if input.role == "admin"

allow if {
	input.role == "sales"
	input.action in {"read", "write"}
}

admin_would_be_allowed := x if {
	x := allow with input as {"role": "admin", "action": input.action}
}

self_check := [allow, admin_would_be_allowed]
