# Org hierarchy with graph.reachable (no recursion needed).
# entrypoints: above, can_view
# input: {"viewer": ["u1", "u2", "u4", "u5"], "target": ["u1", "u2", "u3", "u4", "u5"]}
package corpus.p133

org := {u: [m] | some u, m in data.fixtures.managers}

above := graph.reachable(org, {input.target})

can_view if {
	input.viewer in above
	input.viewer != input.target
}
