# hex and yaml encodings.
# entrypoints: hx, unhex, yml, parsed
# input: {"s": ["crm", "", "ß"], "h": ["63726d", "zz", "6"], "doc": {"$map": ["a", 1, true], "keys": ["x", "y"], "len": "0..2"},
#   "y": ["a: 1\nb: [x, y]\n", "- 1\n- 2\n", ": bad: :", "plain"]}
package corpus.p106

hx := hex.encode(input.s)

unhex := hex.decode(input.h)

yml := yaml.marshal(input.doc)

parsed := yaml.unmarshal(input.y)
