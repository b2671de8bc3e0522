# Ticket routing: queue selection with else, tags from regex, SLA from priority.
# entrypoints: route
# input: {"subject": ["Invoice wrong amount", "Cannot login", "URGENT: outage", "feature request", "refund please"],
#   "tier": ["gold", "silver", "free"], "lang?": ["de", "en", "fr"]}
package corpus.p128

queue := "billing" if regex.match(`(?i)invoice|refund`, input.subject)
else := "auth" if regex.match(`(?i)login|password`, input.subject)
else := "incident" if startswith(upper(input.subject), "URGENT")
else := "general"

sla_hours := {"gold": 4, "silver": 24, "free": 72}[input.tier]

route := {
	"queue": queue,
	"sla_hours": sla_hours,
	"lang": object.get(input, "lang", "en"),
	"priority": priority,
}

default priority := "p3"

priority := "p1" if queue == "incident"
