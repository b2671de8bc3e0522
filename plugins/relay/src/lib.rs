//! `relay`: a test plugin for the host's event delivery. Its `emit` action publishes
//! `relay.ping` (optionally about a customer), and it subscribes to `relay.*`: each event it
//! receives becomes a document in its `received` collection, which `main` lists; so does every
//! `crm.customer.*` event the host publishes. An event whose
//! payload says `"fail": true` is refused, so the host retries it. **Tests only.**

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{EventSource, events, log};
use serde::{Deserialize, Serialize};

pub struct Relay;

/// An event as received.
#[derive(Debug, Serialize, Deserialize)]
pub struct Received {
    pub event: String,
    pub topic: String,
    pub source: String,
    pub n: i64,
}

const RECEIVED: Collection<Received> = Collection::new("received");

/// The `n` of a payload, and whether it asks to be refused.
pub fn payload(json: &str) -> (i64, bool) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    (
        v["n"].as_i64().unwrap_or(0),
        v["fail"].as_bool().unwrap_or(false),
    )
}

impl Plugin for Relay {
    fn manifest() -> Manifest {
        ManifestBuilder::new("relay", env!("CARGO_PKG_VERSION"), en("relay"))
            .description(en("Emits and receives events: for the host's tests only."))
            .capability(Capability::Events, en("emits relay.ping"))
            .capability(Capability::Records, en("keeps the events it received"))
            .capability(Capability::Log, en("logs event ids"))
            .screen("main", en("relay"), true)
            .action("emit", en("Emit"), true)
            .subscribe("relay.*")
            .subscribe("crm.customer.*")
            .collection("received", ["event"])
            .build()
    }

    fn render(_request: ScreenRequest) -> Result<Screen, Error> {
        let (docs, _) = RECEIVED.query(Query::new().limit(100))?;
        Ok(ScreenBuilder::new(en("relay"))
            .key_values([(en("received"), cell::integer(docs.len() as i64))])
            // The form `emit` is offered by: the host takes what a submission may carry from it.
            .form(
                FormBuilder::new("emit", "emit", en("Emit"))
                    .field(FieldBuilder::integer("n", en("n")))
                    .field(FieldBuilder::text("customer", en("About customer")))
                    .field(FieldBuilder::text("fail", en("Ask subscribers to fail"))),
            )
            .table(
                TableBuilder::new("received")
                    .column("event", en("Event"))
                    .column("topic", en("Topic"))
                    .column("n", en("n"))
                    .rows(&docs, |d: &Doc<Received>| {
                        (
                            d.id.clone(),
                            vec![
                                cell::text(&d.data.event),
                                cell::text(&d.data.topic),
                                cell::integer(d.data.n),
                            ],
                        )
                    }),
            )
            .build())
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "emit" => {
                let n: i64 = request.inputs.parse("n")?.unwrap_or(1);
                let fail = request.inputs.value("fail") == Some("true");
                let customer = request.inputs.value("customer");
                let body = serde_json::json!({"n": n, "fail": fail}).to_string();
                events::emit("ping", customer, &body)?;
                Ok(ActionOutcome {
                    notice: None,
                    next: Next::Refresh,
                })
            }
            _ => Err(Error::NotFound),
        }
    }

    fn on_event(event: IncomingEvent) -> Result<(), Error> {
        let (n, fail) = payload(&event.payload);
        if fail {
            return Err(Error::Unavailable("asked to fail".into()));
        }
        let source = match &event.source {
            EventSource::Plugin(p) => p.clone(),
            EventSource::Platform => "crm".into(),
        };
        RECEIVED.insert(
            None,
            &Received {
                event: event.id.clone(),
                topic: event.topic.clone(),
                source,
                n,
            },
        )?;
        log::log(log::Level::Info, &format!("received {}", event.id));
        Ok(())
    }
}

crm_plugin_sdk::export_plugin!(Relay);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_subscribes_to_its_own_topics() {
        let m = Relay::manifest();
        assert_eq!(m.subscriptions, ["relay.*", "crm.customer.*"]);
        assert_eq!(payload(r#"{"n": 3, "fail": true}"#), (3, true));
        assert_eq!(payload("not json"), (0, false));
    }
}
