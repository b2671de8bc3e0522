# some i, x in array: the index of the first escalation step that matches.
# entrypoints: steps_for, first_step
# input: {"severity": "int:1..5", "steps": {"$array": {"min_severity": "int:1..5", "notify": ["oncall", "lead", "cto"]}, "len": "0..4"}}
package corpus.p013

steps_for contains i if {
	some i, s in input.steps
	input.severity >= s.min_severity
}

first_step := input.steps[min(steps_for)].notify
