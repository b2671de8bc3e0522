# Function definitions that produce different outputs for the same argument: a conflict
# error, only when reached.
# entrypoints: safe, risky
# input: {"x": "int:0..6"}
# case: {"x": 3}
package corpus.p044

f(x) := "small" if x < 4

f(x) := "odd" if x % 2 == 1

safe := f(input.x) if input.x % 2 == 0

risky := f(input.x)
