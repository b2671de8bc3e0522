# Partial object with a key defined by two rules: the same value is fine, different
# values are a conflict (an evaluation error).
# entrypoints: level, lvl_a, fixed
# input: {"a": ["x", "y"], "b": ["x", "y"], "n": "int:0..3"}
# case: {"a": "x", "b": "x", "n": 0}
# case: {"a": "x", "b": "x", "n": 1}
# case: {"a": "x", "b": "y", "n": 1}
package corpus.p036

level[input.a] := input.n

level[input.b] := input.n * 2

level["fixed"] := 1 if input.n > 2

lvl_a := level[input.a]

fixed := object.get(level, "fixed", 0)
