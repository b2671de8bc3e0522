//! Capability `events`: a plugin's events, kept with the call and written to the tenant's outbox
//! only when the call succeeds (an event of a failed call is dropped).

use super::{Capability, admit, invalid};
use crate::plugins::abi::v0_1_0::Error;
use crate::plugins::abi::v0_1_0::crm::platform::events::Host;
use crate::plugins::runtime::CallState;

/// Events per call, and bytes per payload.
const MAX_EVENTS: usize = 100;
const MAX_PAYLOAD: usize = 64 << 10;

/// An event waiting for its call to succeed.
#[derive(Debug, Clone)]
pub struct Pending {
    pub topic: String,
    pub customer: Option<String>,
    pub payload: String,
}

fn topic_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 100
        && t.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

impl Host for CallState {
    async fn emit(
        &mut self,
        topic: String,
        customer: Option<String>,
        payload: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        admit!(self, Capability::Events);
        if !topic_ok(&topic) {
            return Ok(Err(invalid(
                "topic",
                "must be dotted lowercase names (a-z, 0-9, - and _)",
            )));
        }
        if payload.len() > MAX_PAYLOAD {
            return Ok(Err(Error::LimitExceeded(
                crate::plugins::abi::v0_1_0::LimitInfo {
                    limit: "event-size".into(),
                    max: MAX_PAYLOAD as u64,
                },
            )));
        }
        if !serde_json::from_str::<serde_json::Value>(&payload).is_ok_and(|v| v.is_object()) {
            return Ok(Err(invalid("payload", "must be a JSON object")));
        }
        if self.events.len() >= MAX_EVENTS {
            return Ok(Err(Error::LimitExceeded(
                crate::plugins::abi::v0_1_0::LimitInfo {
                    limit: "event-rate".into(),
                    max: MAX_EVENTS as u64,
                },
            )));
        }
        if let Some(id) = &customer
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Ok(Err(Error::NotFound));
        }
        let decision = match self
            .app
            .authorize(
                &self.actor,
                "event.emit",
                crate::policy::Resource {
                    kind: "event".into(),
                    tenant: self.actor.tenant_id.clone(),
                    id: None,
                    fields: None,
                },
                serde_json::json!({"channel": "plugin"}),
            )
            .await
        {
            Ok(d) => d,
            Err(e) => return Ok(Err(super::wit_error(e))),
        };
        drop(decision);
        self.events.push(Pending {
            topic: format!("{}.{topic}", self.plugin),
            customer,
            payload,
        });
        Ok(Ok(()))
    }
}
