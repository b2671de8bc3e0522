# time.add_date: contract renewal one year and one month later.
# group: time
# entrypoints: renewal, renewal_date
# input: {"start": "time:2019..2025", "years": "int:0..2", "months": "int:-1..13"}
package corpus.p089

renewal := time.add_date(time.parse_rfc3339_ns(input.start), input.years, input.months, 0)

renewal_date := time.date(renewal)
