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
    // Enough customers that the demo campaign reaches some subscribers.
    let s = Server::demo_with(150, true);
    let compliance = s.token("compliance").await;
    let sales = s.token("sales").await;
    let support = s.token("support").await;
    let db = s.db().await;
    // A subscriber the demo campaign was sent to (documents of two plugins about them), and
    // another subscriber.
    let (who, _): (String, String) = sqlx::query_as(
        "SELECT s.customer_id, s.id FROM plugin_records s WHERE s.plugin = 'subscriptions' \
         AND s.collection = 'subscriptions' AND s.customer_id IS NOT NULL AND EXISTS \
         (SELECT 1 FROM plugin_records o WHERE o.plugin = 'audience-campaigns' \
         AND o.collection = 'outbox' AND o.customer_id = s.customer_id) ORDER BY s.id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("a subscriber with campaign history");
    let (restricted, restricted_sub): (String, String) = sqlx::query_as(
        "SELECT customer_id, id FROM plugin_records WHERE plugin = 'subscriptions' \
         AND collection = 'subscriptions' AND customer_id IS NOT NULL AND customer_id != $1 \
         ORDER BY id LIMIT 1",
    )
    .bind(&who)
    .fetch_one(&db)
    .await
    .expect("another subscriber");
    let (who, restricted, restricted_sub) = (&who, &restricted, &restricted_sub);
    // And the contact person of an advertiser (a role the advertiser-deals plugin keeps on the
    // advertiser, a company: only the plugin can tell it is about them).
    let (st, v) = s
        .post_json(
            "/api/v1/plugins/advertiser-deals/actions/new-advertiser",
            Some(&sales),
            &json!({"inputs": {"name": "Acme Motors", "industry": "automotive", "contact": who}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");

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
    assert!(
        documents
            .iter()
            .any(|d| d["plugin"] == "audience-campaigns" && d["collection"] == "outbox"),
        "campaign history: {documents:?}"
    );
    assert!(files["plugin_documents.csv"].contains("subscriptions"));
    // What only the advertiser-deals plugin knows (a 0.2.0 plugin, asked through `subject`).
    let parts = subject["plugin_parts"].as_array().unwrap();
    assert!(
        parts.iter().any(|p| p["plugin"] == "advertiser-deals"
            && p["name"] == "advertiser-contacts"
            && p["rows"][0]["advertiser"] == "Acme Motors"),
        "{parts:?}"
    );
    assert!(
        files["plugin_advertiser-deals_advertiser-contacts.csv"].contains("Acme Motors"),
        "{:?}",
        files.keys()
    );
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

    // Two customers in the audience of the demo's "We miss you" campaign (churn risk, email
    // consent); one of them is about to be restricted.
    let control = {
        let (_, page) = s
            .get("/api/v1/customers?per_page=20", Some(&compliance))
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .find(|id| id != who && id != restricted)
            .unwrap()
    };
    for c in [restricted.as_str(), control.as_str()] {
        let (st, v) = s
            .send_json(
                reqwest::Method::PATCH,
                &format!("/api/v1/customers/{c}"),
                Some(&sales),
                &json!({"region": "EU", "tags": ["churn-risk"], "consents": {"marketing_email": true}}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }

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
    // A campaign sent now reaches the control customer and skips the restricted one.
    let (_, main) = s
        .get(
            "/api/v1/plugins/audience-campaigns/screens/main",
            Some(&sales),
        )
        .await;
    let campaign = find_link_param(&main, "We miss you", "id").expect("the demo campaign");
    let outbox_of = async |c: &str| -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM plugin_records WHERE plugin = 'audience-campaigns' \
             AND collection = 'outbox' AND customer_id = $1",
        )
        .bind(c)
        .fetch_one(&db)
        .await
        .unwrap()
    };
    for _ in 0..60 {
        let (st, v) = s
            .post_json(
                "/api/v1/plugins/audience-campaigns/actions/send",
                Some(&sales),
                &json!({"inputs": {"id": campaign},
                    "origin": {"screen": "campaign", "params": {"id": campaign}}}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        // The last step's notice is a success; the others say how far it got.
        if v.to_string().contains("\"Success\"") {
            break;
        }
    }
    assert_eq!(
        outbox_of(&control).await,
        1,
        "the campaign reached the control customer"
    );
    assert_eq!(
        outbox_of(restricted).await,
        0,
        "the campaign skipped the restricted customer"
    );

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
    // The advertiser-deals plugin unlinked the person before the erasure, and said so.
    let (_, detail) = s
        .get(
            &format!("/api/v1/privacy/requests/{erasure_kind}"),
            Some(&compliance),
        )
        .await;
    assert!(
        detail["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|st| st["step"] == "plugin"
                && st["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("advertiser-deals: unlinked as the contact of 1")),
        "{detail}"
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
    for screen in [
        "subscriptions/screens/subscribers",
        "subscriptions/screens/main",
        "advertiser-deals/screens/main",
        "audience-campaigns/screens/main",
    ] {
        let (st, v) = s
            .get(&format!("/api/v1/plugins/{screen}"), Some(&sales))
            .await;
        assert_eq!(st, 200, "{screen}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains(&name) && !text.contains(who.as_str()) && !text.contains(&email),
            "{screen} still shows the erased person"
        );
    }
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

/// Retention over the demo tenant: a year of inactivity back-dated onto six customers, a legal
/// hold on one and an open request for another; the dry run (CLI) counts, the apply (API)
/// erases and deletes what no hold keeps, and the audit chain still verifies.
#[tokio::test]
async fn retention_dry_run_and_apply_over_the_demo_tenant_respect_holds() {
    let s = Server::demo_with(30, true);
    let compliance = s.token("compliance").await;
    let ids = s.some_customer_ids(30).await;
    let old = &ids[..6];
    let support = s.token("support").await;
    for c in old.iter().chain(&ids[6..8]) {
        let (st, v) = s
            .post_json(
                &format!("/api/v1/customers/{c}/interactions"),
                Some(&support),
                &json!({"kind": "call", "summary": "asked about the winter package"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let db = s.db().await;
    let then = crm::store::now_ms() - 400 * 86_400_000;
    for c in old {
        for q in [
            "UPDATE customers SET updated_at = $1 WHERE id = $2",
            "UPDATE interactions SET created_at = $1 WHERE customer_id = $2",
            "UPDATE plugin_records SET updated_at = $1 WHERE customer_id = $2",
        ] {
            sqlx::query(q)
                .bind(then)
                .bind(c)
                .execute(&db)
                .await
                .unwrap();
        }
    }
    sqlx::query("UPDATE decision_log SET at = at - 400 * 86400000")
        .execute(&db)
        .await
        .unwrap();
    let collections: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT plugin, collection FROM plugin_records WHERE customer_id IS NOT NULL",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(!collections.is_empty());
    let (st, h) = s
        .post_json(
            "/api/v1/privacy/holds",
            Some(&compliance),
            &json!({"customer": old[0], "reason": "case 2026-114", "owner": "legal"}),
        )
        .await;
    assert_eq!(st, 201, "{h}");
    request(&s, &compliance, &old[1], "access", &["verify"]).await;

    let plugin_documents: serde_json::Map<String, Value> = collections
        .iter()
        .map(|(p, c)| (format!("{p}/{c}"), json!(12)))
        .collect();
    let settings = json!({"settings": {"retention": {
        "inactive_customers_months": 12,
        "interactions_months": 12,
        "plugin_documents_months": plugin_documents,
        "decision_log_months": 6,
        "request_log_months": 24,
    }}, "note": "one year for inactive subscribers"});
    // Bad input first: below a floor, unknown fields, a lower role. Nothing is stored.
    for (body, token, want) in [
        (
            json!({"settings": {"retention": {"audit_months": 3}}}),
            &compliance,
            400,
        ),
        (
            json!({"settings": {"retention": {"forever": true}}}),
            &compliance,
            400,
        ),
        (settings.clone(), &s.token("sales").await, 403),
    ] {
        let (st, v) = s
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/privacy/settings",
                Some(token),
                &body,
            )
            .await;
        assert_eq!(st, want, "{v}");
    }
    let (_, none) = s.get("/api/v1/privacy/settings", Some(&compliance)).await;
    assert_eq!(
        none["retention"]["inactive_customers_months"],
        Value::Null,
        "{none}"
    );
    let (st, v) = s
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/privacy/settings",
            Some(&compliance),
            &settings,
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // The dry run, from the command line as a compliance engineer would script it.
    let (ok, out, err) = crate::common::crm(
        &s.data(),
        &["privacy", "retention", "run", "--tenant", "demo"],
        &[],
    );
    assert!(ok, "{err}");
    let dry: Value = serde_json::from_str(&out).unwrap();
    eprintln!("retention dry run: {}", dry["categories"]);
    assert_eq!(dry["applied"], false);
    assert_eq!(
        dry["categories"]["inactive_customers"],
        json!({"go": 4, "held": 2})
    );
    // The held customer's interaction and the one with a request open are kept.
    assert_eq!(
        dry["categories"]["interactions"],
        json!({"go": 4, "held": 2})
    );
    assert!(
        dry["categories"]["decision_log"]["go"].as_u64().unwrap() > 0,
        "{dry}"
    );
    for c in old {
        assert_eq!(
            s.get(&format!("/api/v1/customers/{c}"), Some(&compliance))
                .await
                .0,
            200
        );
    }

    let (st, applied) = s
        .post_json(
            "/api/v1/privacy/retention/runs",
            Some(&compliance),
            &json!({"apply": true}),
        )
        .await;
    assert_eq!(st, 201, "{applied}");
    eprintln!("retention apply: {}", applied["categories"]);
    assert_eq!(
        applied["categories"]["inactive_customers"],
        json!({"go": 4, "held": 2})
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 4, "the two held and the two recent interactions");
    for (c, want) in old.iter().zip([200, 200, 404, 404, 404, 404]) {
        let (st, _) = s
            .get(&format!("/api/v1/customers/{c}"), Some(&compliance))
            .await;
        assert_eq!(st, want, "{c}");
    }
    // The customers not back-dated are untouched, and so are the documents of the held one and
    // of the one with a request open.
    assert_eq!(
        s.get(&format!("/api/v1/customers/{}", ids[6]), Some(&compliance))
            .await
            .0,
        200
    );
    let kept: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM plugin_records WHERE customer_id = $1 OR customer_id = $2",
    )
    .bind(&old[0])
    .bind(&old[1])
    .fetch_one(&db)
    .await
    .unwrap();
    let before: i64 = dry["categories"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("plugin_documents:"))
        .map(|(_, v)| v["held"].as_i64().unwrap())
        .sum();
    assert_eq!(kept, before, "{dry}");

    let (st, runs) = s
        .get("/api/v1/privacy/retention/runs", Some(&compliance))
        .await;
    assert_eq!(st, 200);
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    let (st, v) = s
        .post_json(
            "/api/v1/privacy/retention/runs",
            Some(&compliance),
            &json!({"apply": "yes"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.get("/api/v1/audit/verify", Some(&compliance)).await;
    assert_eq!((st, v["ok"].clone()), (200, json!(true)), "{v}");
    let (ok, out, err) =
        crate::common::crm(&s.data(), &["audit", "verify", "--tenant", "demo"], &[]);
    assert!(ok, "{out}{err}");
}

/// The value of parameter `param` of the link labelled `label` (English) in a plugin screen.
fn find_link_param(v: &Value, label: &str, param: &str) -> Option<String> {
    match v {
        Value::Object(o) if o.values().any(|x| x["en"] == label) => params_in(v, param),
        Value::Object(o) => o.values().find_map(|x| find_link_param(x, label, param)),
        Value::Array(a) => a.iter().find_map(|x| find_link_param(x, label, param)),
        _ => None,
    }
}

fn params_in(v: &Value, param: &str) -> Option<String> {
    match v {
        Value::Object(o) => {
            if o.get("name").and_then(Value::as_str) == Some(param) {
                return o.get("value").and_then(Value::as_str).map(str::to_string);
            }
            o.values().find_map(|x| params_in(x, param))
        }
        Value::Array(a) => a.iter().find_map(|x| params_in(x, param)),
        _ => None,
    }
}
