# Dates compared against data: is a date a holiday or a weekend?
# group: time
# expect: refused  (time.diff, time.parse_ns and time.format: neither the runtime nor opa-wasm, its host, has them: a listed gap)
# entrypoints: holiday, closed
# input: {"day": {"$oneof": ["date:2024..2025", ["2024-12-25", "2025-01-01", "2025-05-01", "31/12/2024"]]}}
package corpus.p092

ns := time.parse_ns("2006-01-02", input.day)

holiday if input.day in data.fixtures.holidays

closed if holiday

closed if time.weekday(ns) in {"Saturday", "Sunday"}
