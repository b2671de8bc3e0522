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

/// Polls an export until it is no longer being built.
async fn finished_export(s: &Server, token: &str, id: &str) -> Value {
    for _ in 0..300 {
        let (st, v) = s
            .get(&format!("/api/v1/privacy/exports/{id}"), Some(token))
            .await;
        assert_eq!(st, 200, "{v}");
        if v["state"] != "building" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the export {id} was still building after 30 s");
}

/// Opens a request of `kind` for `customer` and takes it through `steps`; returns its id.
async fn request(s: &Server, token: &str, customer: &str, kind: &str, steps: &[&str]) -> String {
    let (st, r) = s
        .post_json(
            "/api/v1/privacy/requests",
            Some(token),
            &json!({"customer": customer, "kind": kind, "verification": "code sent to the email on file"}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    for step in steps {
        let (st, v) = s
            .post_json(
                &format!("/api/v1/privacy/requests/{id}/steps"),
                Some(token),
                &json!({"step": step}),
            )
            .await;
        assert_eq!(st, 200, "{kind} {step}: {v}");
    }
    id
}

#[tokio::test]
async fn an_export_holds_everything_about_the_person_and_an_erasure_leaves_nothing_anywhere() {
    let s = Server::demo_with(8, true);
    let compliance = s.token("compliance").await;
    let sales = s.token("sales").await;
    let support = s.token("support").await;
    let db = s.db().await;
    // Two customers the subscriptions plugin keeps documents about.
    let subscribed: Vec<(String, String)> = sqlx::query_as(
        "SELECT customer_id, id FROM plugin_records WHERE plugin = 'subscriptions' \
         AND collection = 'subscriptions' AND customer_id IS NOT NULL ORDER BY id LIMIT 2",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(subscribed.len(), 2, "the demo has subscribers");
    let (who, _) = &subscribed[0];
    let (restricted, restricted_sub) = &subscribed[1];

    // Their consent given with its evidence, and an interaction.
    let consent = json!({"consents": {"newsletter": {"granted": true, "evidence": "signup form on tv.example", "wording": "v3"}}});
    let (st, v) = s
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{who}"),
            Some(&sales),
            &consent,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post_json(
            &format!("/api/v1/customers/{who}/interactions"),
            Some(&sales),
            &json!({"kind": "call", "summary": "asked which channels the premium plan has"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, person) = s
        .get(&format!("/api/v1/customers/{who}"), Some(&compliance))
        .await;
    let name = person["name"].as_str().unwrap().to_string();
    let email = person["email"].as_str().unwrap().to_string();
    let phone = person["phone"].as_str().unwrap_or_default().to_string();

    // Access: opened by the person's email, verified, and answered with an archive.
    let access = request(&s, &compliance, &email, "access", &["verify", "start"]).await;
    let exports = format!("/api/v1/privacy/requests/{access}/exports");
    assert_eq!(s.post_json(&exports, Some(&sales), &json!({})).await.0, 403);
    let (st, started) = s.post_json(&exports, Some(&compliance), &json!({})).await;
    assert_eq!(st, 202, "{started}");
    let export_id = started["id"].as_str().unwrap().to_string();
    let done = finished_export(&s, &compliance, &export_id).await;
    assert_eq!(done["state"], "ready", "{done}");
    assert_eq!(done["done"], done["total"], "{done}");
    let archive_path = format!("/api/v1/privacy/exports/{export_id}/archive");
    let eve = s.attacker().await;
    assert_eq!(
        s.get(&archive_path, Some(&eve)).await.0,
        404,
        "another tenant"
    );
    assert_eq!(s.get(&archive_path, Some(&support)).await.0, 403);
    let res = reqwest::Client::new()
        .get(format!("{}{archive_path}", s.url))
        .bearer_auth(&compliance)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip archive");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        files.insert(f.name().to_string(), text);
    }
    for f in [
        "README.txt",
        "subject.json",
        "schema.json",
        "customer.csv",
        "consent_history.csv",
        "interactions.csv",
        "plugin_documents.csv",
        "audit.csv",
        "request.csv",
        "request_timeline.csv",
    ] {
        assert!(files.contains_key(f), "{f} missing: {:?}", files.keys());
    }
    let subject: Value = serde_json::from_str(&files["subject.json"]).unwrap();
    assert_eq!(subject["format"], "crm.subject-export/1");
    assert_eq!(subject["customer"]["email"], email.as_str());
    assert_eq!(subject["request"]["record"]["id"], access.as_str());
    let history = subject["consent_history"].as_array().unwrap();
    assert!(
        history.iter().any(|e| e["purpose"] == "newsletter"
            && e["evidence"] == "signup form on tv.example"
            && e["wording"] == "v3"),
        "{history:?}"
    );
    assert!(files["interactions.csv"].contains("premium plan"));
    let documents = subject["plugin_documents"].as_array().unwrap();
    assert!(
        documents
            .iter()
            .any(|d| d["plugin"] == "subscriptions" && d["collection"] == "subscriptions"),
        "{documents:?}"
    );
    assert!(files["plugin_documents.csv"].contains("subscriptions"));
    let audit = subject["audit"].as_array().unwrap();
    for action in ["customer.update", "customer.read", "privacy.request.open"] {
        assert!(
            audit.iter().any(|a| a["action"] == action),
            "{action} not in {audit:?}"
        );
    }
    assert!(files["customer.csv"].contains(&name));
    // Nothing about anybody else: no other customer's id or email anywhere in the archive.
    let (_, page) = s
        .get("/api/v1/customers?per_page=100", Some(&compliance))
        .await;
    let everything = files.values().cloned().collect::<Vec<_>>().join("\n");
    for other in page["items"].as_array().unwrap() {
        if other["id"] == who.as_str() {
            continue;
        }
        for key in ["id", "email"] {
            if let Some(v) = other[key].as_str() {
                assert!(
                    !everything.contains(v),
                    "the archive names another customer's {key}"
                );
            }
        }
    }
    // The download is audited; an expired archive is refused and nothing is read.
    let downloads: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.export.download' AND decision = 'allow'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(downloads, 1);
    let erasure_kind = request(&s, &compliance, who, "erasure", &["verify"]).await;
    let (st, v) = s
        .post_json(
            &format!("/api/v1/privacy/requests/{erasure_kind}/exports"),
            Some(&compliance),
            &json!({}),
        )
        .await;
    assert_eq!(st, 409, "an erasure is not answered with an archive: {v}");
    sqlx::query("UPDATE privacy_exports SET expires_at = 1 WHERE id = $1")
        .bind(&export_id)
        .execute(&db)
        .await
        .unwrap();
    let (st, v) = s.get(&archive_path, Some(&compliance)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (410, Some("export_expired")),
        "{v}"
    );

    // Restriction: the record is kept, compliance reads it, nobody and no plugin uses it.
    request(
        &s,
        &compliance,
        restricted,
        "restriction",
        &["verify", "start", "complete"],
    )
    .await;
    let (st, v) = s
        .get(&format!("/api/v1/customers/{restricted}"), Some(&support))
        .await;
    assert_eq!(st, 403, "{v}");
    assert!(v.to_string().contains("restricted"), "{v}");
    let (st, _) = s
        .get(
            &format!("/api/v1/customers/{restricted}"),
            Some(&compliance),
        )
        .await;
    assert_eq!(st, 200);
    let (st, v) = s
        .get(
            &format!("/api/v1/plugins/subscriptions/screens/subscription?id={restricted_sub}"),
            Some(&support),
        )
        .await;
    assert!(st == 200 || st == 403, "{st}: {v}");
    let plugin_denied: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE resource = $1 AND actor LIKE 'plugin:subscriptions%' \
         AND decision = 'deny'",
    )
    .bind(format!("customer/{restricted}"))
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(plugin_denied > 0, "the plugin read a restricted customer");
    let (_, listed) = s
        .get("/api/v1/customers?per_page=100", Some(&support))
        .await;
    assert!(!listed.to_string().contains(restricted.as_str()));

    // Erasure: refused under a legal hold (naming it), then everything about the person goes.
    let (st, hold) = s
        .post_json(
            "/api/v1/privacy/holds",
            Some(&compliance),
            &json!({"customer": who, "reason": "case 2026-207", "owner": "legal"}),
        )
        .await;
    assert_eq!(st, 201, "{hold}");
    let steps = format!("/api/v1/privacy/requests/{erasure_kind}/steps");
    s.post_json(&steps, Some(&compliance), &json!({"step": "start"}))
        .await;
    let (st, v) = s
        .post_json(&steps, Some(&compliance), &json!({"step": "complete"}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("legal_hold")),
        "{v}"
    );
    assert!(v.to_string().contains("case 2026-207"), "{v}");
    let release = format!(
        "/api/v1/privacy/holds/{}/release",
        hold["id"].as_str().unwrap()
    );
    assert_eq!(
        s.post_json(&release, Some(&compliance), &json!({})).await.0,
        204
    );
    let (st, v) = s
        .post_json(&steps, Some(&compliance), &json!({"step": "complete"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        s.get(&format!("/api/v1/customers/{who}"), Some(&compliance))
            .await
            .0,
        404
    );
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{who}"), Some(&compliance))
            .await,
        404,
        "erased once"
    );
    let (st, _) = s
        .post_json(
            "/api/v1/privacy/requests",
            Some(&compliance),
            &json!({"customer": email, "kind": "access"}),
        )
        .await;
    assert_eq!(st, 404, "a new request cannot find the person");
    for table in [
        "plugin_records",
        "consent_events",
        "consents",
        "interactions",
        "plugin_events",
        "privacy_exports",
    ] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE customer_id = $1"
        ))
        .bind(who)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} still holds rows about the person");
    }
    let (_, v) = s
        .get(
            "/api/v1/plugins/subscriptions/screens/subscribers",
            Some(&support),
        )
        .await;
    assert!(!v.to_string().contains(&name) && !v.to_string().contains(who.as_str()));
    let (st, v) = s.get("/api/v1/audit/verify", Some(&compliance)).await;
    assert_eq!((st, &v["ok"]), (200, &json!(true)), "{v}");
    // The raw database files: neither the person's name, email nor phone, in any encoding we store.
    drop(db);
    for file in ["crm.db", "crm.db-wal"] {
        let Ok(raw) = std::fs::read(s.data().join(file)) else {
            continue;
        };
        for needle in [&name, &email, &phone] {
            if needle.is_empty() {
                continue;
            }
            assert!(
                !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{file} holds the erased person's data"
            );
        }
    }
}
