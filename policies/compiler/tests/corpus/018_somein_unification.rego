# Unification with `some` and array patterns: routes matched by method and path.
# entrypoints: handlers, allowed_methods
# input: {"method": ["GET", "POST", "DELETE"], "path": ["/customers", "/deals", "/admin"],
#   "routes": {"$array": [["GET", "/customers", "h1"], ["POST", "/customers", "h2"], ["GET", "/deals", "h3"],
#     ["DELETE", "/admin", "h4"], ["GET", "/admin", "h5"], ["GET", "/customers", "h6"], ["PUT"]], "len": "0..4"}}
package corpus.p018

handlers contains h if {
	some [m, p, h] in input.routes
	m == input.method
	p == input.path
}

allowed_methods contains m if {
	some [m, p, _] in input.routes
	p == input.path
}
