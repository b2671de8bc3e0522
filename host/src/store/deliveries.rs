//! Deliveries of the tenant's outbox events to the plugins subscribed to them.

use super::{Store, Tx};

/// A pending delivery with its event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub event_id: String,
    pub tenant_id: String,
    /// The subscriber.
    pub plugin: String,
    pub attempt: i64,
    pub topic: String,
    /// The plugin that emitted it.
    pub source: String,
    pub customer_id: Option<String>,
    pub payload: String,
    pub occurred_at: i64,
}

impl Store {
    /// Queues an event for a subscriber, inside the emitting call's transaction.
    pub async fn queue_delivery(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        event_id: &str,
        plugin: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO plugin_event_deliveries (event_id, tenant_id, plugin, status, attempt, run_at) \
             VALUES ($1, $2, $3, 'pending', 1, $4)",
        )
        .bind(event_id)
        .bind(tenant_id)
        .bind(plugin)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Pending deliveries due at `now` to enabled plugins that no host holds, oldest first.
    /// Due deliveries, oldest first, at most `per_tenant` of each tenant (so a tenant with a
    /// backlog shares the worker with the others).
    pub async fn due_deliveries(
        &self,
        now: i64,
        per_tenant: i64,
    ) -> sqlx::Result<Vec<DeliveryRow>> {
        sqlx::query_as(
            "SELECT event_id, tenant_id, plugin, attempt, topic, source, customer_id, payload, \
             occurred_at FROM (SELECT d.event_id, d.tenant_id, d.plugin, d.attempt, e.topic, \
             e.source, e.customer_id, e.payload, e.occurred_at, d.run_at, ROW_NUMBER() OVER \
             (PARTITION BY d.tenant_id ORDER BY d.run_at) AS nth \
             FROM plugin_event_deliveries d JOIN plugin_events e ON e.id = d.event_id \
             WHERE d.status = 'pending' AND d.run_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until < $1) \
             AND EXISTS (SELECT 1 FROM plugins p WHERE p.tenant_id = d.tenant_id \
             AND p.name = d.plugin AND p.state = 'enabled')) due \
             WHERE nth <= $2 ORDER BY run_at",
        )
        .bind(now)
        .bind(per_tenant)
        .fetch_all(self.pool())
        .await
    }

    /// Takes a delivery for this host until `until`, if it is still pending and free.
    pub async fn claim_delivery(
        &self,
        event_id: &str,
        plugin: &str,
        now: i64,
        until: i64,
    ) -> sqlx::Result<bool> {
        self.update_one(
            sqlx::query(
                "UPDATE plugin_event_deliveries SET lease_until = $3 WHERE event_id = $1 \
                 AND plugin = $2 AND status = 'pending' AND (lease_until IS NULL OR lease_until < $4)",
            )
            .bind(event_id)
            .bind(plugin)
            .bind(until)
            .bind(now),
        )
        .await
    }

    /// Records a delivery's outcome: finished (`delivered`, `failed`, `dropped`) or, with
    /// `retry_at`, pending again for its next attempt.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_delivery(
        &self,
        tx: &mut Tx,
        event_id: &str,
        plugin: &str,
        status: &str,
        attempt: i64,
        retry_at: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE plugin_event_deliveries SET status = $3, attempt = $4, run_at = $5, \
             lease_until = NULL, last_error = $6, finished_at = $7 WHERE event_id = $1 AND plugin = $2",
        )
        .bind(event_id)
        .bind(plugin)
        .bind(status)
        .bind(attempt)
        .bind(retry_at)
        .bind(error)
        .bind(retry_at.is_none().then_some(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
