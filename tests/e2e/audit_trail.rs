//! The audit trail is hash-chained: edits, deletions and reordering made directly in SQLite are found.

use crate::common::{Server, crm};

async fn verify(s: &Server) -> serde_json::Value {
    let (st, v) = s
        .get("/api/v1/audit/verify", Some(&s.token("compliance").await))
        .await;
    assert_eq!(st, 200, "{v}");
    v
}

#[tokio::test]
async fn tampering_is_detected_and_named() {
    let s = Server::demo(10);
    let admin = s.token("admin").await;
    for id in s.some_customer_ids(5).await {
        assert_eq!(
            s.get(&format!("/api/v1/customers/{id}"), Some(&admin))
                .await
                .0,
            200
        );
    }
    let v = verify(&s).await;
    assert_eq!(v["ok"], true, "{v}");
    let (ok, out, _) = crm(&s.data(), &["audit", "verify"], &[]);
    assert!(ok && out.contains("demo: ok"), "{out}");

    let db = s.db().await;
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();

    // Every record holds ids, never plaintext.
    let details: Vec<String> = sqlx::query_scalar("SELECT detail || resource FROM audit_log")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(details.iter().all(|d| !d.contains('@')));

    // 1. Edit a record.
    sqlx::query("UPDATE audit_log SET decision = 'deny' WHERE tenant_id = ? AND seq = 5")
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], 5, "{v}");
    assert!(
        v["first_break"]["problem"]
            .as_str()
            .unwrap()
            .contains("altered")
    );
    let (ok, out, _) = crm(&s.data(), &["audit", "verify", "--tenant", "demo"], &[]);
    assert!(!ok && out.contains("BROKEN at record 5"), "{out}");
    sqlx::query("UPDATE audit_log SET decision = 'allow' WHERE tenant_id = ? AND seq = 5")
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(verify(&s).await["ok"], true);

    // 2. Reorder two records (swap their sequence numbers).
    for (from, to) in [(7, -7), (8, 7), (-7, 8)] {
        sqlx::query("UPDATE audit_log SET seq = ? WHERE tenant_id = ? AND seq = ?")
            .bind(to)
            .bind(&tenant)
            .bind(from)
            .execute(&db)
            .await
            .unwrap();
    }
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], 7, "{v}");
    for (from, to) in [(7, -7), (8, 7), (-7, 8)] {
        sqlx::query("UPDATE audit_log SET seq = ? WHERE tenant_id = ? AND seq = ?")
            .bind(to)
            .bind(&tenant)
            .bind(from)
            .execute(&db)
            .await
            .unwrap();
    }
    assert_eq!(verify(&s).await["ok"], true);

    // 3. Delete a record.
    sqlx::query("DELETE FROM audit_log WHERE tenant_id = ? AND seq = 9")
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], 9, "{v}");
    assert!(
        v["first_break"]["problem"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}

#[tokio::test]
async fn truncating_the_tail_is_detected() {
    let s = Server::demo(3);
    let db = s.db().await;
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE tenant_id = ?")
        .bind(&tenant)
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE tenant_id = ? AND seq = ?")
        .bind(&tenant)
        .bind(last)
        .execute(&db)
        .await
        .unwrap();
    let (ok, out, _) = crm(&s.data(), &["audit", "verify"], &[]);
    assert!(!ok && out.contains("removed from the end"), "{out}");
}
