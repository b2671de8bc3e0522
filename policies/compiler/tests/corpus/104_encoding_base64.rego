# base64 / base64url encode/decode and validity.
# entrypoints: enc, dec, url, url_nopad, ok
# input: {"s": ["hello", "", "ünïcödé", "a?b>c", "x"], "b": ["aGVsbG8=", "not base64!", "", "YQ", "YWJj"]}
package corpus.p104

enc := base64.encode(input.s)

dec := base64.decode(input.b)

url := base64url.encode(input.s)

url_nopad := base64url.encode_no_pad(input.s)

ok := base64.is_valid(input.b)
