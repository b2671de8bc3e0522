# time.parse_rfc3339_ns: token expiry checks against a reference time in the input.
# group: time
# entrypoints: expired, ttl_seconds
# input: {"now": "time:2024..2025", "expires": {"$oneof": ["time:2024..2025", ["not a time", 5]]}}
package corpus.p087

expired if time.parse_rfc3339_ns(input.expires) <= time.parse_rfc3339_ns(input.now)

ttl_seconds := (time.parse_rfc3339_ns(input.expires) - time.parse_rfc3339_ns(input.now)) / 1000000000
