# json.patch: apply user-supplied operations to a settings document.
# entrypoints: patched
# input: {"settings": {"theme?": ["dark", "light"], "notify?": {"email?": "bool", "sms?": "bool"}},
#   "ops": {"$array": {"$oneof": [
#     ["add", "replace"],
#     {"op": ["add", "replace"], "path": ["/theme", "/notify/email", "/lang"], "value": ["de", true, 3]},
#     {"op": ["remove"], "path": ["/theme", "/notify", "/nope"]},
#     {"op": ["test"], "path": ["/theme"], "value": ["dark"]}
#   ]}, "len": "0..3"}}
package corpus.p103

patched := json.patch(input.settings, input.ops)
