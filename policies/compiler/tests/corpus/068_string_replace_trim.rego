# replace / trim / trim_left / trim_right / trim_prefix / trim_suffix.
# entrypoints: phone, slug, bare, cut
# input: {"phone": ["+49 (170) 123-4567", "  555 0100 ", "++1-800", ""], "title": ["  Hello World  ", "--a--b--", "x"],
#   "url": ["https://crm.example.com/", "http://x.io", "crm.example.com"]}
package corpus.p068

phone := replace(replace(replace(replace(trim_space(input.phone), " ", ""), "-", ""), "(", ""), ")", "")

slug := lower(replace(trim(input.title, " -"), " ", "-"))

bare := trim_suffix(trim_prefix(trim_prefix(input.url, "https://"), "http://"), "/")

cut := [trim_left(input.title, " -"), trim_right(input.title, " -")]
