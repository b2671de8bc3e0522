# json.marshal / json.unmarshal round trip and json.is_valid.
# entrypoints: text, back, roundtrip, valid
# input: {"payload": {"$oneof": [{"$map": "any", "keys": ["a", "b", "c"], "len": "0..3"}, "any"]},
#   "raw": ["{\"a\": 1}", "[1,2", "\"s\"", "null", "{\"x\": [true, {\"y\": 2.5}]}"]}
package corpus.p101

text := json.marshal(input.payload)

back := json.unmarshal(input.raw)

roundtrip if json.unmarshal(json.marshal(input.payload)) == input.payload

valid := json.is_valid(input.raw)
