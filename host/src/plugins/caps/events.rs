//! Capability `events`: a plugin's events, kept with the call and written to the tenant's outbox
//! only when the call succeeds (an event of a failed call is dropped).

use std::sync::Arc;

use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, Setup, View, admit, invalid};
use crate::app::{Actor, App};
use crate::events::Emitted;
use crate::plugins::abi::latest::events::{self as binding, Host};
use crate::plugins::abi::latest::{Error, LimitInfo};

/// Events per call, and bytes per payload.
const MAX_EVENTS: usize = 100;
const MAX_PAYLOAD: usize = 64 << 10;

/// The call's events so far, and the decision point's view of who emits them.
pub struct State {
    app: Arc<App>,
    actor: Actor,
    plugin: String,
    pub emitted: Vec<Emitted>,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    Ok(State {
        app: setup.app.clone(),
        actor: setup.actor.clone(),
        plugin: setup.plugin.to_string(),
        emitted: Vec::new(),
    })
}

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    binding::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.events))
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

impl Host for View<'_, State> {
    async fn emit(
        &mut self,
        topic: String,
        customer: Option<String>,
        payload: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = admit!(self, Capability::Events);
        if !topic_ok(&topic) {
            return Ok(Err(invalid(
                "topic",
                "must be dotted lowercase names (a-z, 0-9, - and _)",
            )));
        }
        if payload.len() > MAX_PAYLOAD {
            return Ok(Err(Error::LimitExceeded(LimitInfo {
                limit: "event-size".into(),
                max: MAX_PAYLOAD as u64,
            })));
        }
        if !serde_json::from_str::<serde_json::Value>(&payload).is_ok_and(|v| v.is_object()) {
            return Ok(Err(invalid("payload", "must be a JSON object")));
        }
        if s.emitted.len() >= MAX_EVENTS {
            return Ok(Err(Error::LimitExceeded(LimitInfo {
                limit: "event-rate".into(),
                max: MAX_EVENTS as u64,
            })));
        }
        if let Some(id) = &customer
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Ok(Err(Error::NotFound));
        }
        let decision = match s
            .app
            .authorize(
                &s.actor,
                "event.emit",
                crate::policy::Resource {
                    attributes: None,
                    kind: "event".into(),
                    tenant: s.actor.tenant_id.clone(),
                    id: None,
                    fields: None,
                },
                serde_json::json!({}),
            )
            .await
        {
            Ok(d) => d,
            Err(e) => return Ok(Err(super::wit_error(e))),
        };
        drop(decision);
        s.emitted.push(Emitted {
            topic: format!("{}.{topic}", s.plugin),
            customer,
            payload,
        });
        Ok(Ok(()))
    }
}
