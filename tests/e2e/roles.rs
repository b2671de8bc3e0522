//! Each role sees exactly what the baseline policy gives it; masked fields arrive masked.

use serde_json::{Value, json};

use crate::common::Server;

fn is_masked(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains('*'))
}

#[tokio::test]
async fn each_role_sees_what_the_policy_gives_it() {
    let s = Server::demo(5);
    let admin = s.token("admin").await;
    let (st, c) = s
        .post_json(
            "/api/v1/customers",
            Some(&admin),
            &json!({"name": "Li Wei", "email": "li.wei.roles@example.com", "phone": "+8613800001234",
                    "address": "1 Century Avenue, Shanghai", "birth_date": "1988-07-15", "notes": "prefers evening calls",
                    "region": "CN"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();

    // (role, fields in clear, fields masked, fields withheld)
    type Fields = &'static [&'static str];
    let expected: [(&str, Fields, Fields, Fields); 5] = [
        (
            "admin",
            &["name", "email", "phone", "address", "birth_date", "notes"],
            &[],
            &[],
        ),
        (
            "compliance",
            &["name", "email", "phone", "address", "birth_date", "notes"],
            &[],
            &[],
        ),
        (
            "sales",
            &["name", "email", "phone", "address", "notes"],
            &[],
            &["birth_date"],
        ),
        (
            "support",
            &["name", "email", "address", "notes"],
            &["phone"],
            &["birth_date"],
        ),
        (
            "marketing",
            &["name"],
            &["email", "phone"],
            &["birth_date", "notes", "address"],
        ),
    ];
    for (role, clear, masked, withheld) in expected {
        let t = s.token(role).await;
        let (st, v) = s.get(&format!("/api/v1/customers/{id}"), Some(&t)).await;
        assert_eq!(st, 200, "{role}: {v}");
        for f in clear {
            assert_eq!(v[*f], c[*f], "{role} should see {f} in clear");
        }
        for f in masked {
            assert!(
                is_masked(&v[*f]) && v[*f] != c[*f],
                "{role} should see {f} masked, got {}",
                v[*f]
            );
        }
        for f in withheld {
            assert!(v[*f].is_null(), "{role} must not see {f}");
        }
        let mut masked_list: Vec<String> = masked.iter().map(|s| s.to_string()).collect();
        masked_list.sort();
        assert_eq!(v["masked"], json!(masked_list), "{role}");
    }
    // Support's masked phone keeps only the last four digits.
    let (_, v) = s
        .get(
            &format!("/api/v1/customers/{id}"),
            Some(&s.token("support").await),
        )
        .await;
    assert_eq!(v["phone"], "+*********1234");
    // Lists follow the same obligations.
    let (_, page) = s
        .get(
            "/api/v1/customers?region=CN&per_page=200",
            Some(&s.token("marketing").await),
        )
        .await;
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .expect("the new customer in the list")
        .clone();
    assert!(item["birth_date"].is_null());
    assert!(is_masked(&item["email"]));
    // Looking a customer up by the email marketing sees masked would reveal it: refused.
    let (st, v) = s
        .get(
            "/api/v1/customers?email=li.wei.roles%40example.com",
            Some(&s.token("marketing").await),
        )
        .await;
    assert_eq!(st, 403, "{v}");
}

#[tokio::test]
async fn least_privilege_per_role() {
    let s = Server::demo(3);
    let id = s.some_customer_ids(1).await.remove(0);
    let new = json!({"name": "New Person", "region": "US"});
    let path = format!("/api/v1/customers/{id}");
    let patch = |body: Value| body;

    // (role, create, update phone, update birth_date, delete, add interaction, read audit)
    let table = [
        ("admin", 201, 200, 200, true, 201, 200),
        ("compliance", 403, 403, 403, true, 403, 200),
        ("sales", 201, 200, 200, false, 201, 403),
        ("support", 403, 200, 403, false, 201, 403),
        ("marketing", 403, 403, 403, false, 403, 403),
    ];
    for (role, create, upd_phone, upd_birth, can_delete, interact, audit) in table {
        let t = s.token(role).await;
        let (st, v) = s.post_json("/api/v1/customers", Some(&t), &new).await;
        assert_eq!(st, create, "{role} create: {v}");
        if st == 403 {
            assert_eq!(v["error"]["code"], "forbidden");
        }
        let (st, _) = s
            .send_json(
                reqwest::Method::PATCH,
                &path,
                Some(&t),
                &patch(json!({"phone": "+12125550100"})),
            )
            .await;
        assert_eq!(st, upd_phone, "{role} update phone");
        let (st, _) = s
            .send_json(
                reqwest::Method::PATCH,
                &path,
                Some(&t),
                &patch(json!({"birth_date": "1970-01-01"})),
            )
            .await;
        assert_eq!(st, upd_birth, "{role} update birth_date");
        let (st, _) = s
            .post_json(
                &format!("{path}/interactions"),
                Some(&t),
                &json!({"kind": "call", "summary": "called"}),
            )
            .await;
        assert_eq!(st, interact, "{role} interaction");
        assert_eq!(
            s.get("/api/v1/audit", Some(&t)).await.0,
            audit,
            "{role} audit"
        );
        if !can_delete {
            assert_eq!(s.delete(&path, Some(&t)).await, 403, "{role} delete");
        }
    }
    // Compliance (with MFA) may erase.
    assert_eq!(
        s.delete(&path, Some(&s.token("compliance").await)).await,
        204
    );

    // Denials are audited with the policy's reason.
    let db = s.db().await;
    let denies: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE decision = 'deny' AND detail LIKE '%role_denied%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(denies >= 10, "{denies}");
}
