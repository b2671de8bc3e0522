//! Delivery of the tenant's outbox events to the plugins subscribed to them (`on-event`).
//!
//! An event is fanned out when its emitting call's transaction writes it (`events`): one delivery
//! per enabled plugin of the tenant whose manifest subscribes to the topic (an exact topic, or a
//! prefix ending in `.*`). The job worker then delivers each at least once, as the subscriber's
//! service identity (`plugin:<name>/event:<topic>`, no staff member behind it), retrying a
//! failure after 1, 2, 4 and 8 minutes before giving up. An event about a customer who was
//! erased meanwhile is dropped, never delivered. The host publishes its own events the same way
//! (`crm.customer.created`, `crm.customer.updated`, `crm.consent.changed`, `crm.customer.erased`),
//! only when some plugin subscribes to them.

use std::sync::Arc;

use super::abi::latest::guest::{EventSource, IncomingEvent};
use super::jobs::{MAX_ATTEMPTS, MINUTE, retry_delay};
use super::lifecycle;
use crate::app::{Actor, App};
use crate::audit;
use crate::error::AppResult;
use crate::store::{DeliveryRow, now_ms};

/// Delivers the deliveries that are due (called by the job worker).
pub async fn run_due(app: &Arc<App>) -> AppResult<()> {
    let now = now_ms();
    for row in app
        .store
        .due_deliveries(now, super::jobs::DUE_PER_TENANT)
        .await?
    {
        // Each on its own: one slow or failing delivery holds up no other (a delivery in
        // progress holds its lease, so the next poll skips it).
        let app = app.clone();
        tokio::spawn(async move {
            let (event, plugin) = (row.event_id.clone(), row.plugin.clone());
            if let Err(e) = deliver(&app, row, now).await {
                tracing::warn!(%event, %plugin, error = %e.message, "an event could not be delivered");
            }
        });
    }
    Ok(())
}

async fn deliver(app: &Arc<App>, row: DeliveryRow, now: i64) -> AppResult<()> {
    let p = lifecycle::get(app, &row.tenant_id, &row.plugin).await?;
    let lease = now + p.limits.deadline_ms as i64 + MINUTE;
    if !app
        .store
        .claim_delivery(&row.event_id, &row.plugin, now, lease)
        .await?
    {
        return Ok(());
    }
    let actor = Actor::service(&row.tenant_id, &row.plugin, format!("event:{}", row.topic));
    // The customer it is about may have been erased since: then it is not delivered at all.
    let erased = match &row.customer_id {
        Some(c) => app.store.subject_key(&row.tenant_id, c).await?.is_none(),
        None => false,
    };
    let outcome = if erased {
        Err(None)
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
        lifecycle::with_caller(app, &actor, &p, now, async |prepared, caller| {
            app.plugins.on_event(prepared, caller, event).await
        })
        .await
        .map_err(|e| Some(e.message.chars().take(500).collect::<String>()))
    };
    let ended = now_ms();
    let (status, retry_at, error) = match &outcome {
        Ok(()) => ("delivered", None, None),
        Err(None) => ("dropped", None, Some("the customer it names was erased")),
        Err(Some(e)) if row.attempt >= MAX_ATTEMPTS => ("failed", None, Some(e.as_str())),
        Err(Some(e)) => (
            "pending",
            Some(ended + retry_delay(row.attempt)),
            Some(e.as_str()),
        ),
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
        &lifecycle::allowed(
            app,
            actor.audit_name(),
            "plugin.event",
            format!("event/{}", row.event_id),
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
