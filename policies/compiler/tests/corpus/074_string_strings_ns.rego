# strings.* helpers: any_prefix_match, any_suffix_match, replace_n, reverse, count.
# entrypoints: trusted, internal, redacted, reversed, dots
# input: {"host": ["api.crm.example.com", "evil.com", "crm.example.com.evil.io", "localhost"], "text": ["call 555-0100 or 555-0199", "no numbers", "555"]}
package corpus.p074

trusted := strings.any_suffix_match(input.host, [".example.com", "localhost"])

internal := strings.any_prefix_match(input.host, ["api.", "admin."])

redacted := strings.replace_n({"555": "XXX", "0100": "****"}, input.text)

reversed := strings.reverse(input.host)

dots := strings.count(input.host, ".")
