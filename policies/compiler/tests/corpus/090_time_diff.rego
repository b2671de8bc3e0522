# time.diff: customer age and account tenure.
# group: time
# expect: refused  (time.diff, time.parse_ns and time.format: neither the runtime nor opa-wasm, its host, has them: a listed gap)
# entrypoints: age, adult, tenure
# input: {"birth": "time:1950..2015", "now": "time:2024..2025", "since": "time:2015..2024"}
package corpus.p090

now := time.parse_rfc3339_ns(input.now)

age := time.diff(now, time.parse_rfc3339_ns(input.birth))[0]

adult if age >= 18

tenure := time.diff(time.parse_rfc3339_ns(input.since), now)
