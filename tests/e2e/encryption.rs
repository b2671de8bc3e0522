//! Personal data is encrypted at rest, bound to its row, and shredded with its subject key.

use serde_json::json;

use crate::common::Server;

fn db_bytes(s: &Server) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["crm.db", "crm.db-wal"] {
        if let Ok(b) = std::fs::read(s.data().join(f)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn known_email_never_reaches_the_database_in_clear() {
    let s = Server::demo(20);
    let t = s.token("sales").await;
    let email = "known.person.4711@example.com";
    let (st, c) = s
        .post_json(
            "/api/v1/customers",
            Some(&t),
            &json!({"name": "Quentin Zhuravlev-Known", "email": email, "phone": "+44 20 7946 0999",
                    "address": "1 Secret Lane, Testville", "notes": "unique-note-marker-8842", "region": "EU",
                    "tags": ["sports"], "consents": {"marketing_email": true}}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["email"], email);

    // Checkpoint so that everything is in the main file too, then search every byte on disk.
    let db = s.db().await;
    sqlx::query("PRAGMA wal_checkpoint(FULL)")
        .execute(&db)
        .await
        .unwrap();
    let bytes = db_bytes(&s);
    for secret in [
        email,
        "Zhuravlev-Known",
        "+442079460999",
        "Secret Lane",
        "unique-note-marker-8842",
    ] {
        assert!(
            !contains(&bytes, secret),
            "`{secret}` found in clear in the database"
        );
    }
    // Non-personal attributes stay queryable in clear.
    let region: String = sqlx::query_scalar("SELECT region FROM customers WHERE id = ?")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(region, "EU");

    // The API returns it intact, and finds it by exact email and phone (blind indexes).
    let admin = s.token("admin").await;
    let (st, got) = s
        .get(&format!("/api/v1/customers/{id}"), Some(&admin))
        .await;
    assert_eq!(st, 200);
    assert_eq!(got["email"], email);
    assert_eq!(got["phone"], "+442079460999");
    assert_eq!(got["notes"], "unique-note-marker-8842");
    assert_eq!(got["tags"], json!(["sports"]));
    assert_eq!(got["consents"], json!({"marketing_email": true}));
    // Consents merge per purpose; tags are replaced; both stay filterable.
    let (st, upd) = s
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(&admin),
            &json!({"consents": {"marketing_sms": false}, "tags": ["news", "vip"]}),
        )
        .await;
    assert_eq!(st, 200, "{upd}");
    assert_eq!(
        upd["consents"],
        json!({"marketing_email": true, "marketing_sms": false})
    );
    assert_eq!(upd["tags"], json!(["news", "vip"]));
    let (_, by_tag) = s
        .get("/api/v1/customers?tag=vip&tag=news&region=EU", Some(&admin))
        .await;
    assert!(
        by_tag["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str()),
        "{by_tag}"
    );
    let (_, found) = s
        .get(
            "/api/v1/customers?email=Known.Person.4711%40Example.com",
            Some(&admin),
        )
        .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["id"], id.as_str());
    let (_, found) = s
        .get(
            "/api/v1/customers?phone=%2B44%2020%207946%200999",
            Some(&admin),
        )
        .await;
    assert_eq!(found["total"], 1);

    // Erasure destroys the subject key: the row and its key are gone.
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{id}"), Some(&admin))
            .await,
        204
    );
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subject_keys WHERE subject_id = ?")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(keys, 0);
    let (st, _) = s
        .get(&format!("/api/v1/customers/{id}"), Some(&admin))
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn ciphertext_copied_to_another_row_or_tenant_fails_to_open() {
    let s = Server::demo(5);
    let admin = s.token("admin").await;
    let ids = s.some_customer_ids(3).await;
    let (a, b) = (&ids[0], &ids[1]);
    let (_, ca) = s.get(&format!("/api/v1/customers/{a}"), Some(&admin)).await;
    let a_email = ca["email"].as_str().unwrap().to_string();

    // Another row of the same tenant.
    let db = s.db().await;
    sqlx::query(
        "UPDATE customers SET email = (SELECT email FROM customers WHERE id = ?1) WHERE id = ?2",
    )
    .bind(a)
    .bind(b)
    .execute(&db)
    .await
    .unwrap();
    let resp = s
        .http
        .get(format!("{}/api/v1/customers/{b}", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let text = resp.text().await.unwrap();
    assert!(text.contains("integrity_error"), "{text}");
    assert!(
        !text.contains(&a_email),
        "the wrong person's data leaked: {text}"
    );

    // Another tenant's row.
    let (ok, _, err) = crate::common::crm(
        &s.data(),
        &["tenant", "create", "rival", "--name", "Rival TV"],
        &[],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = crate::common::crm(
        &s.data(),
        &[
            "user",
            "add",
            "--tenant",
            "rival",
            "--username",
            "riv.admin",
            "--role",
            "sales",
        ],
        &[("CRM_USER_PASSWORD", "Rival-Password-2026")],
    );
    assert!(ok, "{err}");
    let rt = s
        .sign_in("rival", "riv.admin", "Rival-Password-2026", None)
        .await;
    let (st, rc) = s
        .post_json(
            "/api/v1/customers",
            Some(&rt),
            &json!({"name": "Rival Person", "email": "rp@example.org", "region": "US"}),
        )
        .await;
    assert_eq!(st, 201, "{rc}");
    let rid = rc["id"].as_str().unwrap();
    sqlx::query("UPDATE customers SET name = (SELECT name FROM customers WHERE id = ?1), name_masked = (SELECT name_masked FROM customers WHERE id = ?1) WHERE id = ?2")
        .bind(&ids[2])
        .bind(rid)
        .execute(&db)
        .await
        .unwrap();
    let resp = s
        .http
        .get(format!("{}/api/v1/customers/{rid}", s.url))
        .bearer_auth(&rt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    assert!(resp.text().await.unwrap().contains("integrity_error"));

    // The failed reads are on the audit trail as errors.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE decision = 'error'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(n >= 2);
}
