# with and default: the default applies under the override when nothing matches.
# entrypoints: level, level_as_empty, level_as_vip
# input: {"points": "int:0..2000"}
package corpus.p064

default level := "bronze"

level := "gold" if input.points >= 1000

level := "silver" if {
	input.points >= 500
	input.points < 1000
}

level_as_empty := l if {
	l := level with input as {}
}

level_as_vip := l if {
	l := level with input.points as 5000
}
