# JSON / object builtins with wrong argument types.
# entrypoints: u, g, r
# input: {"x": {"$oneof": [{"$map": "any", "keys": ["a", "b"], "len": "0..2"}, "any"]}, "y": {"$oneof": [{"$map": "any", "keys": ["a", "c"], "len": "0..2"}, {"$array": ["a", "b"], "len": "0..2"}, "any"]}}
package corpus.p110

u := object.union(input.x, input.y)

g := object.get(input.x, "a", "default")

r := object.remove(input.x, input.y)
