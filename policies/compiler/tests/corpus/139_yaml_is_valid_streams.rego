# yaml.is_valid over single documents, streams of several, and non-strings (OPA: false).
# entrypoints: valid, doc_valid
# input: {"raw": ["a: 1\n", "a: 1\n---\nb: 2\n", "a: 1\n---\n\tb: 2\n", "  test:\ntest1: hello\n", "", "- x\n- y\n", 7, null]}
package corpus.p139

valid := yaml.is_valid(input.raw)

doc_valid := [json.is_valid(input.raw), yaml.is_valid(input.raw)]
