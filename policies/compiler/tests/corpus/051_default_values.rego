# default on booleans, numbers, objects; default vs defined value.
# entrypoints: allow, limit, settings
# input: {"plan?": ["free", "pro", "enterprise", "gold"], "user?": {"admin?": "bool"}}
package corpus.p051

default allow := false

allow if input.user.admin == true

default limit := 10

limit := data.fixtures.plan_limits[input.plan]

default settings := {"theme": "light", "beta": false}

settings := {"theme": "dark", "beta": true} if input.plan == "enterprise"
