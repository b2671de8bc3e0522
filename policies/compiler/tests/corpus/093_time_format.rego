# time.format and arrays [ns, tz] / [ns, tz, layout] arguments.
# group: time
# expect: refused  (time.diff, time.parse_ns and time.format: neither the runtime nor opa-wasm, its host, has them: a listed gap)
# entrypoints: utc, berlin, custom
# input: {"at": "time:2023..2025"}
package corpus.p093

ns := time.parse_rfc3339_ns(input.at)

utc := time.format(ns)

berlin := time.format([ns, "Europe/Berlin"])

custom := time.format([ns, "UTC", "2006-01-02 15:04"])
