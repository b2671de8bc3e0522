# time.parse_duration_ns: session limits per role.
# group: time
# entrypoints: limit_ns, too_long
# input: {"role": ["admin", "support", "guest"], "session": ["15m", "1h30m", "8h", "13h", "90s", "bogus", "-5m"]}
# case: {"role": "guest", "session": "8h"}
package corpus.p091

max_session := {"admin": "12h", "support": "8h"}

limit_ns := time.parse_duration_ns(object.get(max_session, input.role, "1h"))

too_long if time.parse_duration_ns(input.session) > limit_ns
