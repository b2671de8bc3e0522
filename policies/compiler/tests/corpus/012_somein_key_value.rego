# some k, v in object: flags that are switched on.
# entrypoints: enabled, any_beta
# input: {"flags": {"$map": ["on", "off", true, false, 1], "keys": ["beta_ui", "beta_api", "dark", "exports", "sso"], "len": "0..5"}}
package corpus.p012

enabled contains name if {
	some name, v in input.flags
	v in {"on", true}
}

any_beta if {
	some name in enabled
	startswith(name, "beta_")
}
