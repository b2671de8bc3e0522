# Unicode: count, upper/lower, substring on non-ASCII names.
# entrypoints: length, first, up
# input: {"name": ["Zoë", "Łukasz", "José", "Ærø", "北京", "e\u0301", "plain"]}
package corpus.p075

length := count(input.name)

first := substring(input.name, 0, 1)

up := upper(input.name)
