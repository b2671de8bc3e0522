//! Capability `consent`: a customer's consent per purpose, read and recorded through the customer
//! request path (a change is a `customer.update` of the `consents` field, decided and audited).

use serde_json::{Map, json};
use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, View, admit, invalid, wit_error};
use crate::customers as svc;
use crate::plugins::abi::latest::Error;
use crate::plugins::abi::latest::consent::{self, Host, PurposeState, Status};

/// Consent is read and changed through the customer request path, with its state.
pub use super::customers::{State, configure};

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    consent::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.consent))
}

type Answer<T> = wasmtime::Result<Result<T, Error>>;

fn status(granted: Option<bool>) -> Status {
    match granted {
        Some(true) => Status::Granted,
        Some(false) => Status::Withdrawn,
        None => Status::Unknown,
    }
}

impl Host for View<'_, State> {
    async fn check(&mut self, customer: String, purpose: String) -> Answer<Status> {
        let s = admit!(self, Capability::Consent);
        Ok(svc::get(&s.app, &s.actor, &customer)
            .await
            .map(|c| status(c.consents.get(&purpose).copied()))
            .map_err(wit_error))
    }

    async fn purposes(&mut self, customer: String) -> Answer<Vec<PurposeState>> {
        let s = admit!(self, Capability::Consent);
        let c = match svc::get(&s.app, &s.actor, &customer).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(wit_error(e))),
        };
        // When each purpose last changed, from the consent ledger (the read was decided above).
        let history = s
            .app
            .store
            .consent_history(&s.actor.tenant_id, &customer)
            .await
            .map_err(crate::error::AppError::from);
        let history = match history {
            Ok(h) => h,
            Err(e) => return Ok(Err(wit_error(e))),
        };
        Ok(Ok(c
            .consents
            .iter()
            .map(|(p, g)| PurposeState {
                purpose: p.clone(),
                status: status(Some(*g)),
                changed_at: history
                    .iter()
                    .filter(|e| &e.purpose == p)
                    .map(|e| e.at)
                    .max(),
            })
            .collect()))
    }

    async fn set(
        &mut self,
        customer: String,
        purpose: String,
        granted: bool,
        evidence: Option<String>,
    ) -> Answer<PurposeState> {
        let s = admit!(self, Capability::Consent);
        if evidence.as_ref().is_some_and(|e| e.chars().count() > 200) {
            return Ok(Err(invalid("evidence", "is longer than 200 characters")));
        }
        let mut body = Map::new();
        let entry = match evidence.as_ref().filter(|e| !e.trim().is_empty()) {
            Some(e) => json!({"granted": granted, "evidence": e}),
            None => json!(granted),
        };
        body.insert("consents".into(), json!({ purpose.clone(): entry }));
        let changes = match svc::validate::changes(&body, false) {
            Ok(c) => c,
            Err(msg) => return Ok(Err(invalid("purpose", msg))),
        };
        Ok(svc::update(&s.app, &s.actor, &customer, &changes)
            .await
            .map(|_| PurposeState {
                purpose,
                status: status(Some(granted)),
                changed_at: Some(crate::store::now_ms()),
            })
            .map_err(wit_error))
    }
}
