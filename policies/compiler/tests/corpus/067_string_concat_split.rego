# concat / split / count on strings: normalise a tag list.
# entrypoints: tags, joined, n
# input: {"raw": {"$oneof": ["str:0..12:ab,; ", ["a,b,,c", "", ",", 5]]}}
package corpus.p067

parts := split(input.raw, ",")

tags := [trim_space(p) | some p in parts; trim_space(p) != ""]

joined := concat("|", tags)

n := count(input.raw)
