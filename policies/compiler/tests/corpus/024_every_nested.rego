# Nested every: every team has every member verified.
# entrypoints: all_verified, unverified_teams
# input: {"teams": {"$map": {"$array": {"user": ["u1", "u2"], "verified": [true, true, false]}, "len": "0..3"}, "keys": ["a", "b", "c"], "len": "0..3"}}
package corpus.p024

all_verified if {
	every _, members in input.teams {
		every m in members {
			m.verified == true
		}
	}
}

unverified_teams contains t if {
	some t, members in input.teams
	some m in members
	m.verified != true
}
