# sprintf with %s %d %v %q %x %f and mixed argument types.
# entrypoints: msg, debug, hex, money
# input: {"user": ["ann", "bob"], "n": "int:0..300", "obj?": {"$map": "int:0..3", "keys": ["a", "b"], "len": "0..2"}, "price": "num:0..99"}
package corpus.p070

msg := sprintf("%s has %d open deals", [input.user, input.n])

debug := sprintf("%v / %v", [input.obj, input.n])

hex := sprintf("%x", [input.n])

money := sprintf("%.2f EUR", [input.price])
