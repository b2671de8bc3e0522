//! Tenant isolation, tested from the attacker's side.

use serde_json::json;

use crate::common::Server;

#[tokio::test]
async fn another_tenants_ids_answer_404_everywhere() {
    let s = Server::demo(10);
    let victim_ids = s.some_customer_ids(3).await;
    let eve = s.attacker().await;

    for id in &victim_ids {
        assert_eq!(
            s.get(&format!("/api/v1/customers/{id}"), Some(&eve))
                .await
                .0,
            404
        );
        assert_eq!(
            s.get(&format!("/api/v1/customers/{id}/interactions"), Some(&eve))
                .await
                .0,
            404
        );
        let (st, _) = s
            .send_json(
                reqwest::Method::PATCH,
                &format!("/api/v1/customers/{id}"),
                Some(&eve),
                &json!({"notes": "pwned"}),
            )
            .await;
        assert_eq!(st, 404);
        let (st, _) = s
            .post_json(
                &format!("/api/v1/customers/{id}/interactions"),
                Some(&eve),
                &json!({"kind": "note", "summary": "pwned"}),
            )
            .await;
        assert_eq!(st, 404);
        assert_eq!(
            s.delete(&format!("/api/v1/customers/{id}"), Some(&eve))
                .await,
            404
        );
    }
    // Eve's own list is empty; the victim's customers are untouched.
    let (_, list) = s.get("/api/v1/customers", Some(&eve)).await;
    assert_eq!(list["total"], 0);
    let admin = s.token("admin").await;
    let (st, c) = s
        .get(
            &format!("/api/v1/customers/{}", victim_ids[0]),
            Some(&admin),
        )
        .await;
    assert_eq!(st, 200);
    assert_ne!(c["notes"], "pwned");
    // Eve's probes are on Eve's own audit chain, as not-found reads; the victim's chain has none of them.
    let (_, audit) = s.get("/api/v1/audit?limit=500", Some(&eve)).await;
    let probes = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["detail"].as_str().unwrap_or("").contains("not_found"))
        .count();
    assert!(probes >= victim_ids.len(), "{audit}");
    let db = s.db().await;
    let victim_tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    let eve_user: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'eve'")
        .fetch_one(&db)
        .await
        .unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE tenant_id = ? AND actor = ?")
            .bind(&victim_tenant)
            .bind(format!("user:{eve_user}"))
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn forged_or_foreign_sessions_are_refused() {
    let s = Server::demo(3);
    let ids = s.some_customer_ids(1).await;
    let forged = "crm_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (st, v) = s
        .get(&format!("/api/v1/customers/{}", ids[0]), Some(forged))
        .await;
    assert_eq!(st, 401);
    assert_eq!(v["error"]["code"], "unauthenticated");
    let resp = s
        .http
        .get(format!("{}/api/v1/customers", s.url))
        .header("cookie", "crm_session=garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(s.get("/api/v1/customers", None).await.0, 401);
}
