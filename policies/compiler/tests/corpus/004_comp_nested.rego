# Nested comprehensions: per team, the members with a given skill.
# entrypoints: skilled, empty_teams
# input: {"skill": ["crm", "sql", "voice"], "teams": {"$map": {"$array": {"user": ["u1", "u2", "u3"],
#   "skills": {"$array": ["crm", "sql", "voice", "go"], "len": "0..3"}}, "len": "0..3"},
#   "keys": ["north", "south", "east"], "len": "0..3"}}
package corpus.p004

skilled := {team: members |
	some team, people in input.teams
	members := {p.user | some p in people; input.skill in p.skills}
}

empty_teams contains team if {
	some team, m in skilled
	count(m) == 0
}
