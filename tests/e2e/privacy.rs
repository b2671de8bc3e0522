//! Data-subject requests over the API: compliance opens one for a demo customer and works it
//! through its states; other roles, another tenant and wrong steps are refused with a clear 4xx
//! and change nothing; every step is audited.

use serde_json::{Value, json};

use crate::common::Server;

#[tokio::test]
async fn compliance_works_a_data_subject_request_and_nobody_else_can() {
    let s = Server::demo(5);
    let compliance = s.token("compliance").await;
    let customer = s.some_customer_ids(1).await.remove(0);
    let path = "/api/v1/privacy/requests";

    let (st, r) = s
        .post_json(
            path,
            Some(&compliance),
            &json!({"customer": customer, "kind": "access", "verification": "code sent to the email on file"}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["state"], "received");
    assert!(
        ["gdpr", "ccpa", "pipl"].contains(&r["regime"].as_str().unwrap()),
        "{r}"
    );
    assert!(
        r["due"].as_str().unwrap().len() == 10 && r["urgency"] == "on_track",
        "{r}"
    );
    let id = r["id"].as_str().unwrap().to_string();
    let steps = format!("{path}/{id}/steps");

    // Bad input: each a clear 4xx.
    for (body, want) in [
        (
            json!({"customer": "no-such-customer", "kind": "access"}),
            404,
        ),
        (json!({"customer": customer, "kind": "teleport"}), 400),
        (
            json!({"customer": customer, "kind": "access", "ssn": "1"}),
            400,
        ),
        (
            json!({"customer": customer, "kind": "access", "verification": "a\nb"}),
            400,
        ),
    ] {
        let (st, v) = s.post_json(path, Some(&compliance), &body).await;
        assert_eq!(st, want, "{body} → {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    let (st, v) = s
        .post_json(&steps, Some(&compliance), &json!({"step": "start"}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("conflict")),
        "not verified yet"
    );
    let (st, _) = s
        .post_json(&steps, Some(&compliance), &json!({"step": "refuse"}))
        .await;
    assert_eq!(st, 400, "a refusal needs a reason");
    let (st, _) = s.get(&format!("{path}/nope"), Some(&compliance)).await;
    assert_eq!(st, 404);

    // Lower roles and another tenant's admin.
    for role in ["sales", "support", "marketing"] {
        let t = s.token(role).await;
        assert_eq!(s.get(path, Some(&t)).await.0, 403, "{role} reads");
        let (st, _) = s
            .post_json(&steps, Some(&t), &json!({"step": "verify"}))
            .await;
        assert_eq!(st, 403, "{role} steps");
    }
    let eve = s.attacker().await;
    let (st, v) = s.get(path, Some(&eve)).await;
    assert_eq!((st, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    assert_eq!(s.get(&format!("{path}/{id}"), Some(&eve)).await.0, 404);
    let (st, _) = s
        .post_json(&steps, Some(&eve), &json!({"step": "verify"}))
        .await;
    assert_eq!(st, 404);

    // The request's way through, and its timeline.
    for (step, reason) in [
        ("verify", ""),
        ("start", ""),
        ("extend", "the archive is large"),
        ("complete", ""),
    ] {
        let (st, v) = s
            .post_json(
                &steps,
                Some(&compliance),
                &json!({"step": step, "reason": reason}),
            )
            .await;
        assert_eq!(st, 200, "{step}: {v}");
    }
    let (st, v) = s.get(&format!("{path}/{id}"), Some(&compliance)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["request"]["state"], "completed");
    assert_eq!(v["request"]["urgency"], Value::Null);
    let names: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["open", "verify", "start", "extend", "complete"]);
    let (st, _) = s
        .post_json(&steps, Some(&compliance), &json!({"step": "verify"}))
        .await;
    assert_eq!(st, 409, "a completed request stays completed");

    let db = s.db().await;
    let audited: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE resource = $1 AND decision = 'allow' ORDER BY seq",
    )
    .bind(format!("privacy/{id}"))
    .fetch_all(&db)
    .await
    .unwrap();
    let audited: Vec<&str> = audited.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        &audited[..5],
        [
            "privacy.request.open",
            "privacy.request.verify",
            "privacy.request.start",
            "privacy.request.extend",
            "privacy.request.complete"
        ]
    );

    // A legal hold stops the erasure, names itself, and once released the erasure goes through.
    let holds = "/api/v1/privacy/holds";
    let (st, v) = s
        .post_json(
            holds,
            Some(&compliance),
            &json!({"customer": customer, "reason": "case 2026-114"}),
        )
        .await;
    assert_eq!(st, 400, "an owner is required: {v}");
    let sales = s.token("sales").await;
    let body = json!({"customer": customer, "reason": "case 2026-114", "owner": "legal team"});
    assert_eq!(s.post_json(holds, Some(&sales), &body).await.0, 403);
    let (st, hold) = s.post_json(holds, Some(&compliance), &body).await;
    assert_eq!(st, 201, "{hold}");
    let (st, v) = s
        .send_json(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{customer}"),
            Some(&compliance),
            &json!({}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("legal_hold")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("case 2026-114"),
        "{v}"
    );
    assert_eq!(
        s.get(&format!("/api/v1/customers/{customer}"), Some(&compliance))
            .await
            .0,
        200
    );
    let release = format!("{holds}/{}/release", hold["id"].as_str().unwrap());
    assert_eq!(
        s.post_json(&release, Some(&eve), &json!({})).await.0,
        404,
        "another tenant's hold"
    );
    assert_eq!(
        s.post_json(&release, Some(&compliance), &json!({})).await.0,
        204
    );
    assert_eq!(
        s.post_json(&release, Some(&compliance), &json!({})).await.0,
        404,
        "released once"
    );
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{customer}"), Some(&compliance))
            .await,
        204
    );
    let (st, v) = s.get(holds, Some(&compliance)).await;
    assert_eq!(st, 200);
    assert!(v[0]["released_at"].is_i64(), "{v}");
    let ledger: Vec<(String,)> = sqlx::query_as("SELECT customer_id FROM erasure_ledger")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(ledger, [(customer.clone(),)]);
    let (st, v) = s.get("/api/v1/audit/verify", Some(&compliance)).await;
    assert_eq!((st, &v["ok"]), (200, &Value::Bool(true)), "{v}");
}
