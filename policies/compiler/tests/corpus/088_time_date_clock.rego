# time.date / time.clock / time.weekday on a timestamp.
# group: time
# entrypoints: date, clock, weekday, business_hours
# input: {"at": "time:2020..2026"}
package corpus.p088

ns := time.parse_rfc3339_ns(input.at)

date := time.date(ns)

clock := time.clock(ns)

weekday := time.weekday(ns)

business_hours if {
	not weekday in {"Saturday", "Sunday"}
	clock[0] >= 9
	clock[0] < 17
}
