# Two complete definitions of the same rule: identical values merge, different values
# conflict (evaluation error).
# entrypoints: owner, stage
# input: {"a?": ["u1", "u2"], "b?": ["u1", "u2"], "stage?": ["lead", "won"]}
# case: {"a": "u1", "b": "u2"}
package corpus.p056

owner := input.a if input.a

owner := input.b if input.b

stage := "open" if input.stage == "lead"
else := "closed"
