# regex.match with an invalid pattern (an error) vs a valid one.
# entrypoints: m, safe
# input: {"p": ["a+", "(", "[z-a]", "ok"], "s": ["aaa", "ok", ""]}
package corpus.p085

m := regex.match(input.p, input.s)

safe := regex.match(input.p, input.s) if regex.is_valid(input.p)
