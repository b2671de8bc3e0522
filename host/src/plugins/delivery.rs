//! Delivery of the tenant's outbox events to the plugins subscribed to them (`on-event`).
//!
//! An event is fanned out when its emitting call's transaction writes it (`events`): one delivery
//! per enabled plugin of the tenant whose manifest subscribes to the topic (an exact topic, or a
//! prefix ending in `.*`). The worker (`worker`) then delivers each at least once, as the
//! subscriber's service identity (`plugin:<name>/event:<topic>`, no staff member behind it),
//! leased and retried as every run is. An event about a customer who was erased meanwhile is
//! dropped, never delivered. The host publishes its own events the same way
//! (`crm.customer.created`, `crm.customer.updated`, `crm.consent.changed`, `crm.customer.erased`),
//! only when some plugin subscribes to them.
use std::sync::Arc;

use super::abi::latest::guest::{EventSource, IncomingEvent};
use super::retry;
use super::runtime::Runtime;
use super::{invoke, lifecycle};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::AppResult;
use crate::store::{DeliveryRow, now_ms};

/// Why an event was not delivered.
enum Undelivered {
    /// Not to be delivered at all (its customer was erased or restricted processing).
    Withheld(&'static str),
    /// The plugin failed: retried while attempts remain.
    Failed(String),
}

/// Delivers one due event to one subscriber if this host can claim it (called by the worker):
/// claim, call, then record the outcome and its audit record in one transaction.
pub(super) async fn deliver(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    row: DeliveryRow,
    now: i64,
) -> AppResult<()> {
    let p = lifecycle::get(app, &row.tenant_id, &row.plugin).await?;
    let lease = retry::lease(now, p.limits.deadline_ms);
    if !app
        .store
        .claim_delivery(&row.event_id, &row.plugin, now, lease)
        .await?
    {
        return Ok(());
    }
    let actor = Actor::service(&row.tenant_id, &row.plugin, format!("event:{}", row.topic));
    // The customer it is about may have been erased since, or asked that their data not be
    // processed: then it is not delivered at all.
    let withheld = match &row.customer_id {
        Some(c) => match app.store.customer_facts(&row.tenant_id, c).await? {
            None => Some("the customer it names was erased"),
            Some(f) if f.restricted => Some("the customer it names restricted processing"),
            Some(_) => None,
        },
        None => None,
    };
    let outcome = if let Some(why) = withheld {
        Err(Undelivered::Withheld(why))
    } else {
        let event = IncomingEvent {
            id: row.event_id.clone(),
            topic: row.topic.clone(),
            source: if row.source == crate::events::PLATFORM {
                EventSource::Platform
            } else {
                EventSource::Plugin(row.source.clone())
            },
            customer: row.customer_id.clone(),
            payload: row.payload.clone(),
            occurred_at: row.occurred_at,
        };
        invoke::with_caller(app, rt, &actor, &p, now, async |prepared, caller| {
            rt.on_event(prepared, caller, event).await
        })
        .await
        .map_err(|e| Undelivered::Failed(e.message.chars().take(500).collect()))
    };
    let ended = now_ms();
    let (status, retry_at, error) = match &outcome {
        Ok(()) => ("delivered", None, None),
        Err(Undelivered::Withheld(why)) => ("dropped", None, Some(*why)),
        Err(Undelivered::Failed(e)) => match retry::retry_at(row.attempt, ended) {
            Some(at) => ("pending", Some(at), Some(e.as_str())),
            None => ("failed", None, Some(e.as_str())),
        },
    };
    let attempt = if retry_at.is_some() {
        row.attempt + 1
    } else {
        row.attempt
    };
    let mut tx = app.store.begin().await?;
    app.store
        .finish_delivery(
            &mut tx,
            &row.event_id,
            &row.plugin,
            status,
            attempt,
            retry_at,
            error,
            ended,
        )
        .await?;
    audit::append(
        &mut tx,
        &row.tenant_id,
        &audit::Event::without_policy(
            actor.audit_name(),
            "plugin.event",
            format!("event/{}", row.event_id),
            true,
            serde_json::json!({
                "topic": row.topic,
                "source": if row.source == crate::events::PLATFORM { "platform" } else { row.source.as_str() },
                "attempt": row.attempt,
                "status": status,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
