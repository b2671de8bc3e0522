//! Plugin events: what a plugin or the host emits reaches the subscribed plugins as their service
//! identity; a refused event is retried, one about a customer who is gone is dropped, and each
//! delivery is audited.

use serde_json::json;

use crate::common::Server;
use crate::plugins::{install, wasm};

/// Every event delivery: (event id, status, attempt).
async fn deliveries(s: &Server) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT event_id, status, attempt FROM plugin_event_deliveries ORDER BY event_id",
    )
    .fetch_all(&s.db().await)
    .await
    .unwrap()
}

/// Waits (up to 30 s) until no delivery is pending with its first attempt.
async fn settled(s: &Server) -> Vec<(String, String, i64)> {
    let started = std::time::Instant::now();
    loop {
        let d = deliveries(s).await;
        if !d.is_empty() && d.iter().all(|(_, st, a)| st != "pending" || *a > 1) {
            return d;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "events were not delivered: {d:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn emitted_events_reach_their_subscribers_as_the_service_identity() {
    let s = Server::demo(12);
    let admin = s.token("admin").await;
    let (st, v) = install(&s, &admin, wasm("relay"), "events,records,log", &[]).await;
    assert_eq!(st, 201, "{v}");
    let support = s.token("support").await;

    // A staff member's action emits `relay.ping`; the host delivers it to `on-event` of every
    // plugin subscribed to it (here relay itself, to `relay.*`), which stores what it received.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "7"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let d = settled(&s).await;
    assert_eq!(d.len(), 1, "{d:?}");
    let (event, status, _) = &d[0];
    assert_eq!(status, "delivered", "{d:?}");
    let (st, v) = s
        .get("/api/v1/plugins/relay/screens/main", Some(&support))
        .await;
    assert_eq!(st, 200, "{v}");
    let text = v.to_string();
    assert!(
        text.contains(event.as_str()) && text.contains("relay.ping"),
        "{v}"
    );

    // The emit is audited under the member, the delivery and the subscriber's write under the
    // subscriber's service identity.
    let db = s.db().await;
    let by = |actor: &str, action: &str| {
        let (db, actor, action) = (db.clone(), actor.to_string(), action.to_string());
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM audit_log WHERE actor LIKE $1 AND action = $2",
            )
            .bind(actor)
            .bind(action)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(by("plugin:relay/user:%", "event.emit").await, 1);
    assert_eq!(by("plugin:relay/event:relay.ping", "plugin.event").await, 1);
    assert_eq!(
        by("plugin:relay/event:relay.ping", "record.insert").await,
        1
    );

    // An event about a customer who is gone (erased, or never was) is dropped, not delivered.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "8", "customer": "6f1c2b9e-3d4a-4e8b-9c7d-0a1b2c3d4e5f"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    // A subscriber that refuses an event gets it again later (the first retry after a minute).
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "9", "fail": "true"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let d = settled(&s).await;
    let mut statuses: Vec<(String, i64)> = d.iter().map(|(_, st, a)| (st.clone(), *a)).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("delivered".to_string(), 1),
            ("dropped".to_string(), 1),
            ("pending".to_string(), 2)
        ],
        "{d:?}"
    );
    let (_, v) = s
        .get("/api/v1/plugins/relay/screens/main", Some(&support))
        .await;
    assert_eq!(v["blocks"][0]["KeyValues"][0]["value"]["Integer"], 1, "{v}");

    // The host's own events reach subscribers too: a customer created, then erased (the erasure
    // names the customer in its payload only, so it is not dropped as being about them).
    let sales = s.token("sales").await;
    let (st, c) = s
        .post_json(
            "/api/v1/customers",
            Some(&sales),
            &json!({"name": "Event Person", "region": "EU"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let received = async |topic: &str| {
        let started = std::time::Instant::now();
        loop {
            let (_, v) = s
                .get("/api/v1/plugins/relay/screens/main", Some(&support))
                .await;
            if v.to_string().contains(topic) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{topic} never arrived: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    received("crm.customer.created").await;
    let compliance = s.token("compliance").await;
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{id}"), Some(&compliance))
            .await,
        204
    );
    received("crm.customer.erased").await;
    assert_eq!(
        by("plugin:relay/event:crm.customer.erased", "plugin.event").await,
        1
    );

    // Uninstalled, its deliveries go with it (the audit trail keeps their history).
    assert_eq!(s.delete("/api/v1/plugins/relay", Some(&admin)).await, 204);
    assert!(deliveries(&s).await.is_empty());
    let (st, v) = s.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}
