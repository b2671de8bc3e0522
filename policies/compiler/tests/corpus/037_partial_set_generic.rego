# Partial set of pairs from data.fixtures.managers: (manager, report) with input filter.
# entrypoints: reports_of, span
# input: {"manager": ["u1", "u2", "u4", "u9"]}
package corpus.p037

edges contains [m, u] if {
	some u, m in data.fixtures.managers
}

reports_of contains u if {
	some [m, u] in edges
	m == input.manager
}

span := {m: count({u | some [x, u] in edges; x == m}) | some [m, _] in edges}
