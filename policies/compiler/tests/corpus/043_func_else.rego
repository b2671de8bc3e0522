# Functions with else chains.
# entrypoints: grade, grades
# input: {"score": "int:-10..110", "scores": {"$array": {"$oneof": ["int:0..100", ["x", null]]}, "len": "0..4"}}
package corpus.p043

grade_of(s) := "A" if {
	s >= 90
} else := "B" if {
	s >= 75
} else := "C" if {
	s >= 50
} else := "F" if {
	is_number(s)
}

grade := grade_of(input.score)

grades := [grade_of(s) | some s in input.scores]
