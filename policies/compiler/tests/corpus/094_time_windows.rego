# Maintenance windows: a change is allowed within 2 hours of a window start.
# group: time
# entrypoints: in_window, windows_hit
# input: {"at": "time:2024..2024", "windows": {"$array": "time:2024..2024", "len": "0..3"}}
# case: {"at": "2024-03-01T10:00:00Z", "windows": ["2024-03-01T09:00:00Z", "2024-03-01T12:00:00Z"]}
# case: {"at": "2024-03-01T10:00:00+02:00", "windows": ["2024-03-01T07:30:00Z"]}
package corpus.p094

two_hours := 2 * 60 * 60 * 1000000000

t := time.parse_rfc3339_ns(input.at)

windows_hit contains w if {
	some w in input.windows
	start := time.parse_rfc3339_ns(w)
	t >= start
	t - start < two_hours
}

in_window if count(windows_hit) > 0
