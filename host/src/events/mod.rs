//! The tenant's event outbox, write side: who subscribes to a topic, and writing an event with one
//! delivery queued per subscriber, inside the transaction of the change it reports.
//!
//! The host publishes its own events (`crm.customer.created`, `crm.customer.updated`,
//! `crm.consent.changed`, `crm.customer.erased`) only when some plugin subscribes to them, with
//! ids in the payload, never personal data. A plugin's events (`<plugin>.<topic>`) are written when
//! its call succeeds. Delivering them is plugin invocation's business (`plugin_calls`); this
//! module sits below both the customers and the plugins, so neither needs the other to publish.

use crate::audit;
use crate::error::AppResult;
use crate::store::{Store, Tx, now_ms};

/// Whether a subscription (`crm.customer.created`, `subscriptions.*`) covers `topic`.
pub fn covers(subscription: &str, topic: &str) -> bool {
    match subscription.strip_suffix(".*") {
        Some(prefix) => topic
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => subscription == topic,
    }
}

/// The source the host's own events are stored under (topics `crm.…`): empty, which no plugin's
/// name can be, so an event's source is always who emitted it.
pub const PLATFORM: &str = "";

/// The tenant's enabled plugins and the topics each subscribes to: read once for all the events
/// one change writes.
pub struct Subscriptions(Vec<(String, Vec<String>)>);

/// The part of a stored manifest this module reads.
#[derive(serde::Deserialize)]
struct Subscribes {
    #[serde(default)]
    subscriptions: Vec<String>,
}

impl Subscriptions {
    pub async fn of(store: &Store, tenant_id: &str) -> AppResult<Self> {
        let mut subs = Vec::new();
        for row in store.plugins(tenant_id).await? {
            if row.state == "enabled" {
                let m: Subscribes = serde_json::from_str(&row.manifest_json)
                    .map_err(|_| crate::error::AppError::integrity())?;
                subs.push((row.name, m.subscriptions));
            }
        }
        Ok(Self(subs))
    }

    /// The plugins subscribed to `topic`.
    fn to<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(_, subs)| subs.iter().any(|s| covers(s, topic)))
            .map(|(name, _)| name.as_str())
    }

    /// Queues the event for every plugin subscribed to its topic, inside the transaction that
    /// writes the event. Returns the subscribers.
    async fn fan_out(
        &self,
        store: &Store,
        tx: &mut Tx,
        tenant_id: &str,
        event_id: &str,
        topic: &str,
    ) -> AppResult<Vec<String>> {
        let mut queued = Vec::new();
        for name in self.to(topic) {
            store
                .queue_delivery(tx, tenant_id, event_id, name, now_ms())
                .await?;
            queued.push(name.to_string());
        }
        Ok(queued)
    }
}

/// Publishes platform events, one per topic, inside the change's transaction; a topic no plugin
/// subscribes to is not written. `payload` holds ids, never personal data.
pub async fn publish(
    store: &Store,
    tx: &mut Tx,
    tenant_id: &str,
    topics: &[&str],
    customer: Option<&str>,
    payload: serde_json::Value,
) -> AppResult<()> {
    let subs = Subscriptions::of(store, tenant_id).await?;
    for topic in topics {
        if subs.to(topic).next().is_none() {
            continue;
        }
        let id = store
            .insert_plugin_event(
                tx,
                tenant_id,
                PLATFORM,
                topic,
                customer,
                &payload.to_string(),
            )
            .await?;
        subs.fan_out(store, tx, tenant_id, &id, topic).await?;
    }
    Ok(())
}

/// An event a plugin's call emitted: its full topic (`<plugin>.<topic>`), the customer it is
/// about, and its JSON payload.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub topic: String,
    pub customer: Option<String>,
    pub payload: String,
}

/// Writes the events of a plugin's successful call, each queued for its subscribers and audited
/// (`event.emit`, under `audit_actor` and the policy version that allowed the call), in one
/// transaction.
pub async fn emit(
    store: &Store,
    tenant_id: &str,
    plugin: &str,
    events: &[Emitted],
    audit_actor: &str,
    policy_version: &str,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let subs = Subscriptions::of(store, tenant_id).await?;
    let mut tx = store.begin().await?;
    for e in events {
        let id = store
            .insert_plugin_event(
                &mut tx,
                tenant_id,
                plugin,
                &e.topic,
                e.customer.as_deref(),
                &e.payload,
            )
            .await?;
        let subscribers = subs
            .fan_out(store, &mut tx, tenant_id, &id, &e.topic)
            .await?;
        let event = audit::Event::decided(
            audit_actor.to_string(),
            "event.emit",
            format!("event/{id}"),
            true,
            policy_version,
            serde_json::json!({
                "topic": e.topic,
                "customer": e.customer,
                "subscribers": subscribers,
            }),
        );
        audit::append(&mut tx, tenant_id, &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn subscriptions_cover_exact_topics_and_prefixes() {
        assert!(covers("relay.ping", "relay.ping"));
        assert!(!covers("relay.ping", "relay.pingback"));
        assert!(covers("relay.*", "relay.ping"));
        assert!(covers("relay.*", "relay.ping.again"));
        assert!(!covers("relay.*", "relay"));
        assert!(!covers("relay.*", "relayx.ping"));
        assert!(covers("crm.customer.*", "crm.customer.erased"));
    }
}
