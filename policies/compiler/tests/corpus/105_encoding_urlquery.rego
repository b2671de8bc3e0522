# urlquery encode/decode (strings and objects).
# entrypoints: q, obj, decoded, decoded_obj
# input: {"term": ["a b&c", "ümlaut", "x=y", ""], "params": {"$map": {"$oneof": ["str:0..3:ab &", {"$array": "str:1..2:xy", "len": "1..2"}]}, "keys": ["q", "page", "sort"], "len": "0..3"},
#   "raw": ["q=a%20b&page=2", "a=1&a=2", "%zz", "x"]}
package corpus.p105

q := urlquery.encode(input.term)

obj := urlquery.encode_object(input.params)

decoded := urlquery.decode(input.term)

decoded_obj := urlquery.decode_object(input.raw)
