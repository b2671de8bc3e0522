# else with composite values and a body that errors on wrong types.
# entrypoints: window
# input: {"tz?": ["UTC", "CET", "PST"], "hours?": {"$oneof": ["int:1..48", ["1", null]]}}
package corpus.p054

window := {"tz": input.tz, "hours": input.hours * 2} if {
	input.tz == "UTC"
} else := {"tz": input.tz, "hours": input.hours} if {
	input.hours > 12
} else := {"tz": "UTC", "hours": 24}
