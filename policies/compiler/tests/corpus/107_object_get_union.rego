# object.get with paths and defaults; object.union and union_n for layered settings.
# entrypoints: theme, effective, layered
# input: {"user": {"prefs?": {"theme?": ["dark", "light"], "lang?": ["de", "en"]}}, "tenant": {"prefs?": {"theme?": ["blue"], "tz?": ["CET"]}}}
package corpus.p107

defaults := {"theme": "light", "lang": "en", "tz": "UTC"}

theme := object.get(input, ["user", "prefs", "theme"], "light")

effective := object.union(object.union(defaults, object.get(input.tenant, "prefs", {})), object.get(input.user, "prefs", {}))

layered := object.union_n([defaults, object.get(input.tenant, "prefs", {}), object.get(input.user, "prefs", {})])
