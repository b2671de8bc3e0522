# Walking a reporting chain from data (bounded, no recursion): managers up to 3 levels.
# entrypoints: chain, is_manager_of
# input: {"user": ["u1", "u2", "u3", "u4", "u5", "u9"], "other": ["u1", "u2", "u4", "u5"]}
package corpus.p019

m := data.fixtures.managers

chain := [x | some x in [m[input.user], m[m[input.user]], m[m[m[input.user]]]]]

is_manager_of if {
	some x in [m[input.other], m[m[input.other]], m[m[m[input.other]]]]
	x == input.user
}
