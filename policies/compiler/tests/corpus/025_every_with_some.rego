# every combined with some: each requested scope is granted by some token.
# entrypoints: authorized, missing
# input: {"requested": {"$array": ["read", "write", "admin", "export"], "len": "0..3"},
#   "tokens": {"$array": {"scopes": {"$array": ["read", "write", "admin", "export"], "len": "0..2"}, "expired": "bool"}, "len": "0..3"}}
package corpus.p025

live_scopes contains s if {
	some t in input.tokens
	not t.expired
	some s in t.scopes
}

authorized if {
	every r in input.requested {
		some s in live_scopes
		s == r
	}
}

missing := {r | some r in input.requested} - live_scopes
