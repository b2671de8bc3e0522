//! The tenant policy lifecycle: refuse bad sets, publish, take effect at once (on every host), diff,
//! roll back; every step audited; the decision log records versions.

use serde_json::{Value, json};

use crate::common::{Server, spawn};

const RULES: &str = include_str!("../../policies/tenant-example/rules.rego");
const RULES_TEST: &str = include_str!("../../policies/tenant-example/rules_test.rego");

fn set(rules: &str) -> Value {
    json!({"files": {"rules.rego": rules, "rules_test.rego": RULES_TEST}, "note": "test"})
}

async fn phone_seen_by(base: &str, http: &reqwest::Client, token: &str, id: &str) -> Value {
    let r = http
        .get(format!("{base}/api/v1/customers/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().await.unwrap()["phone"].clone()
}

#[tokio::test]
async fn publish_diff_rollback_and_every_host_follows() {
    let s = Server::demo(3);
    let compliance = s.token("compliance").await;
    let marketing = s.token("marketing").await;
    let id = s.some_customer_ids(1).await.remove(0);
    // A second host on the same database.
    let (other, other_url) = spawn(&["serve"], &s.data());
    // Killed even when an assertion fails, so no server outlives the test.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _other = KillOnDrop(other);

    let (st, v) = s.get("/api/v1/policies", Some(&compliance)).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["active"].is_null());
    // The baseline every decision ANDs with, named as the decision log names it.
    assert_eq!(v["baseline"]["mode"], "rvm", "{v}");
    let baseline = v["baseline"]["version"].as_str().unwrap().to_string();
    assert!(baseline.starts_with("sha256:"), "{v}");
    assert!(
        phone_seen_by(&s.url, &s.http, &marketing, &id)
            .await
            .as_str()
            .unwrap()
            .contains('*')
    );

    // Refused: a compile error (named with file:line) and a failing test (named); nothing published.
    let (st, v) = s
        .post_json(
            "/api/v1/policies",
            Some(&compliance),
            &set("package crm.tenant\ndecision := {"),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("policy_invalid")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rules.rego:"),
        "{v}"
    );
    // A set that never says `decision` is told so.
    let (st, v) = s
        .post_json(
            "/api/v1/policies",
            Some(&compliance),
            &set("package crm.tenant\nallow := true\n"),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no policy file defines data.crm.tenant.decision"),
        "{v}"
    );
    let weak = RULES.replace("\"phone\"]}} if {", "]}} if {");
    let (st, v) = s
        .post_json("/api/v1/policies", Some(&compliance), &set(&weak))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("policy_tests_failed")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("test_marketing_never_sees_phones"),
        "{v}"
    );
    assert_eq!(
        s.get("/api/v1/policies", Some(&compliance)).await.1["versions"],
        json!([])
    );
    // Only compliance/admin with MFA may publish.
    let (st, _) = s
        .post_json(
            "/api/v1/policies",
            Some(&s.token("sales").await),
            &set(RULES),
        )
        .await;
    assert_eq!(st, 403);

    // Publish v1: marketing no longer sees phones, here and on the other host within a second.
    let (st, v) = s
        .post_json("/api/v1/policies", Some(&compliance), &set(RULES))
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["version"], 1);
    assert!(
        phone_seen_by(&s.url, &s.http, &marketing, &id)
            .await
            .is_null()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert!(
        phone_seen_by(&other_url, &s.http, &marketing, &id)
            .await
            .is_null(),
        "the other host did not follow"
    );

    // Publish v2 without the marketing rule (and without its test), then diff and roll back.
    let v2 = RULES.replace("\"redact\": [\"phone\"]", "\"redact\": []");
    let body = json!({"files": {"rules.rego": v2}, "note": "phones back"});
    let (st, v) = s
        .post_json("/api/v1/policies", Some(&compliance), &body)
        .await;
    assert_eq!(st, 201, "{v}");
    assert!(v["diff"].as_str().unwrap().contains("-decision := {\"allow\": true, \"reasons\": [], \"obligations\": {\"mask\": [], \"redact\": [\"phone\"]}}"), "{v}");
    assert!(
        phone_seen_by(&s.url, &s.http, &marketing, &id)
            .await
            .as_str()
            .unwrap()
            .contains('*')
    );
    let (st, d) = s
        .get("/api/v1/policies/diff?from=1&to=2", Some(&compliance))
        .await;
    assert_eq!(st, 200);
    assert!(
        d["diff"]
            .as_str()
            .unwrap()
            .contains("--- a/rules_test.rego"),
        "{d}"
    );
    let (st, r) = s
        .post_json(
            "/api/v1/policies/rollback",
            Some(&compliance),
            &json!({"version": 1}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert!(
        phone_seen_by(&s.url, &s.http, &marketing, &id)
            .await
            .is_null()
    );
    let (st, _) = s
        .post_json(
            "/api/v1/policies/rollback",
            Some(&compliance),
            &json!({"version": 99}),
        )
        .await;
    assert_eq!(st, 404);
    let (_, list) = s.get("/api/v1/policies", Some(&compliance)).await;
    assert_eq!(list["active"], 1);
    assert_eq!(list["versions"].as_array().unwrap().len(), 2);

    // Audited with the diff; the decision log names the versions that decided.
    let db = s.db().await;
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'policy.%' AND decision = 'allow' ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        audited,
        ["policy.publish", "policy.publish", "policy.rollback"]
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (st, log) = s
        .get("/api/v1/decisions?limit=1000", Some(&compliance))
        .await;
    assert_eq!(st, 200, "{log}");
    let rows = log.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["policy_version"].as_str().unwrap().contains("tenant@v1")),
        "{log}"
    );
    assert!(
        rows.iter()
            .all(|r| r["policy_version"].as_str().unwrap().starts_with(&baseline)),
        "{log}"
    );
    assert!(
        rows.iter()
            .all(|r| r["input_digest"].as_str().unwrap().len() == 64)
    );
    assert!(
        rows.iter().any(|r| r["allow"] == false),
        "denials are logged too"
    );
    assert!(rows.iter().all(|r| r["reasons"].is_array()));
    // The log's filters: each narrows to what it names, and together they all hold.
    for (query, holds) in [
        (
            "allow=false",
            &(|r: &Value| r["allow"] == false) as &dyn Fn(&Value) -> bool,
        ),
        ("action=customer.read", &|r: &Value| {
            r["action"] == "customer.read"
        }),
        ("tenant_version=1", &|r: &Value| {
            r["policy_version"]
                .as_str()
                .unwrap()
                .ends_with("+tenant@v1")
        }),
        ("action=customer.read&allow=true", &|r: &Value| {
            r["action"] == "customer.read" && r["allow"] == true
        }),
    ] {
        let (st, got) = s
            .get(
                &format!("/api/v1/decisions?limit=1000&{query}"),
                Some(&compliance),
            )
            .await;
        assert_eq!(st, 200, "{query}: {got}");
        let got = got.as_array().unwrap();
        assert!(!got.is_empty() && got.iter().all(holds), "{query}: {got:?}");
        // Reading the log is a decision too (logged while the test reads): leave those out.
        let earlier = |r: &&Value| r["action"] != "decision.read";
        assert_eq!(
            got.iter().filter(earlier).count(),
            rows.iter().filter(earlier).filter(|r| holds(r)).count(),
            "{query}"
        );
    }
    let first = &rows[0];
    let (_, same) = s
        .get(
            &format!(
                "/api/v1/decisions?digest={}",
                first["input_digest"].as_str().unwrap()
            ),
            Some(&compliance),
        )
        .await;
    assert!(
        same.as_array().unwrap().iter().any(|r| r == first),
        "{same}"
    );
    let at = first["at"].as_i64().unwrap();
    let (_, window) = s
        .get(
            &format!("/api/v1/decisions?since={at}&until={}&limit=1000", at + 1),
            Some(&compliance),
        )
        .await;
    let window = window.as_array().unwrap();
    assert!(!window.is_empty() && window.iter().all(|r| r["at"] == at));
    for bad in [
        "bogus=1",
        "allow=maybe",
        "limit=0",
        "digest=abc",
        "since=-1",
        "limit=5&limit=6",
    ] {
        let (st, body) = s
            .get(&format!("/api/v1/decisions?{bad}"), Some(&compliance))
            .await;
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}: {body}"
        );
    }
    assert_eq!(s.get("/api/v1/decisions", Some(&marketing)).await.0, 403);
    assert_eq!(
        s.get("/api/v1/decisions?bogus=1", Some(&marketing)).await.0,
        403
    );
}

#[tokio::test]
async fn compliance_reads_and_filters_the_decision_log_screen() {
    let s = Server::demo(1);
    // A denial to find: marketing may not read the policies.
    let marketing = s.web_client("marketing").await;
    let refused = marketing
        .get(format!("{}/policies", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let denied_screen = marketing
        .get(format!("{}/decisions", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        denied_screen.status(),
        403,
        "marketing may not read the log"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let client = s.web_client("compliance").await;
    let all = crate::common::page(&client, &format!("{}/decisions", s.url)).await;
    assert!(
        all.contains("href=\"/decisions\"") && all.contains("<table class=\"decisions\""),
        "{all}"
    );
    // The form's empty fields are no filter; `allow=false` keeps only denials.
    let url = format!(
        "{}/decisions?action=&allow=false&tenant_version=&digest=",
        s.url
    );
    let denials = crate::common::page(&client, &url).await;
    let body = denials.split("<tbody>").nth(1).unwrap_or_default();
    assert!(
        body.contains("<code>policy.read</code>") && body.contains("role_denied"),
        "{denials}"
    );
    assert!(
        !body.contains("class=\"allow\"") && body.contains("class=\"deny\""),
        "{denials}"
    );
    // A digest link finds the same input's decisions.
    let digest = body
        .split("/decisions?digest=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let same = crate::common::page(&client, &format!("{}/decisions?digest={digest}", s.url)).await;
    assert!(same.contains("role_denied"), "{same}");
    // A bad filter is explained in place, in the right language.
    let bad = client
        .get(format!("{}/decisions?allow=maybe&lang=zh", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = bad.text().await.unwrap();
    assert!(
        bad.contains("role=\"alert\"")
            && bad.contains("`allow` must be true or false")
            && bad.contains("决策日志"),
        "{bad}"
    );
}

#[tokio::test]
async fn compliance_edits_tests_and_publishes_in_the_browser_screen() {
    let s = Server::demo(1);
    let client = s.web_client("compliance").await;
    let page = crate::common::page(&client, &format!("{}/policies", s.url)).await;
    assert!(
        page.contains("<textarea") && page.contains("rules_test.rego"),
        "{page}"
    );
    let token = crate::common::form_token(&page);
    let post = |op: &'static str, rules: String| {
        let form = vec![
            ("csrf_token".to_string(), token.clone()),
            ("path0".into(), "rules.rego".into()),
            ("source0".into(), rules),
            ("path1".into(), "rules_test.rego".into()),
            ("source1".into(), RULES_TEST.into()),
            ("op".into(), op.into()),
        ];
        client
            .post(format!("{}/policies", s.url))
            .form(&form)
            .send()
    };
    let weak = RULES.replace("\"phone\"]}} if {", "]}} if {");
    let r = post("test", weak.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        r.contains("FAIL data.crm.tenant_test.test_marketing_never_sees_phones"),
        "{r}"
    );
    let r = post("publish", weak).await.unwrap().text().await.unwrap();
    assert!(
        r.contains("FAIL ") && !r.contains("Published version"),
        "{r}"
    );
    let r = post("test", RULES.into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(r.contains("5 tests passed"), "{r}");
    let r = post("publish", RULES.into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(r.contains("Published version 1"), "{r}");
    // The screen names the baseline every decision ANDs with, and speaks Chinese too.
    assert!(
        page.contains("Platform baseline: <code>sha256:") && page.contains("(rvm)"),
        "{page}"
    );
    let r = client
        .post(format!("{}/lang", s.url))
        .form(&[("csrf_token", token.as_str()), ("lang", "zh")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let r = post("test", RULES.into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        r.contains("5 项测试通过") && r.contains("平台基线策略"),
        "{r}"
    );
    // Without the CSRF token nothing happens.
    let r = client
        .post(format!("{}/policies", s.url))
        .form(&[("op", "publish")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // A role without the grant gets 403 and no navigation entry.
    let sales = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let t = s.token("sales").await;
    let r = sales
        .get(format!("{}/policies", s.url))
        .header("cookie", format!("crm_session={t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let nav = sales
        .get(format!("{}/customers", s.url))
        .header("cookie", format!("crm_session={t}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!nav.contains("href=\"/policies\""));
}

/// Reads a bundle's entries, lets `edit` change them, and packs them again.
fn repack(bundle: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    use std::io::Read;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bundle));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let data = edit(&path, data);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, path.trim_start_matches('/'), &data[..])
            .unwrap();
    }
    out.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn bundles_publish_over_http_and_the_cli_and_a_broken_module_is_refused() {
    let s = Server::demo(3);
    let compliance = s.token("compliance").await;
    let marketing = s.token("marketing").await;
    let id = s.some_customer_ids(1).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let bundle_path = dir.path().join("bundle.tar.gz");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/tenant-example");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["policy", "build", rules, "-o"])
        .arg(&bundle_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("interpreter mode"));
    let bundle = std::fs::read(&bundle_path).unwrap();

    let post = |body: Vec<u8>| {
        let (http, url, token) = (s.http.clone(), s.url.clone(), compliance.clone());
        async move {
            let r = http
                .post(format!(
                    "{url}/api/v1/policies/bundle?note=from%20a%20bundle"
                ))
                .bearer_auth(token)
                .header("content-type", "application/gzip")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Not a bundle; a bundle whose module does not load: refused, nothing published.
    let (st, v) = post(b"just text".to_vec()).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_bundle")),
        "{v}"
    );
    // A bundle from the real `opa build -t wasm` whose module answers other questions: read, and
    // refused naming the entrypoint it lacks.
    let opa_built = include_bytes!("../fixtures/opa-build/example.tar.gz");
    let (st, v) = post(opa_built.to_vec()).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_bundle")),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no Wasm entrypoint crm/tenant/decision")
            && message.contains("example/project_permissions"),
        "{v}"
    );
    let broken = repack(&bundle, |p, d| {
        if p.ends_with("policy.wasm") {
            let mut d = d;
            d.truncate(d.len() / 2);
            d
        } else {
            d
        }
    });
    let (st, v) = post(broken).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("policy_invalid")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("module"),
        "{v}"
    );
    assert!(s.get("/api/v1/policies", Some(&compliance)).await.1["active"].is_null());

    // The real thing: published, in force at once, listed as a bundle.
    let (st, v) = post(bundle.clone()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        (v["version"].as_i64(), v["mode"].as_str()),
        (Some(1), Some("bundle"))
    );
    assert_eq!(
        v["tests"].as_array().unwrap().len(),
        5,
        "its Rego tests ran"
    );
    assert!(
        phone_seen_by(&s.url, &s.http, &marketing, &id)
            .await
            .is_null()
    );

    // A bundle whose module fails to load now leaves version 1 in force.
    let (st, _) = post(repack(&bundle, |p, d| {
        if p.ends_with("policy.wasm") {
            b"\0asm\x01\0\0\0junk".to_vec()
        } else {
            d
        }
    }))
    .await;
    assert_eq!(st, 422);
    let (_, list) = s.get("/api/v1/policies", Some(&compliance)).await;
    assert_eq!(list["active"], 1);
    assert_eq!(list["versions"][0]["mode"], "bundle");

    // The CLI publishes the same file as the next version.
    let (ok, stdout, stderr) = crate::common::crm(
        &s.data(),
        &[
            "policy",
            "publish",
            bundle_path.to_str().unwrap(),
            "--tenant",
            "demo",
        ],
        &[],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("published version 2") && stdout.contains("bundle mode"),
        "{stdout}"
    );
}

/// A tenant rule that requires consent: marketing's lists leave out customers who have not
/// granted `marketing_email`, and naming one is refused (audited); other roles are unaffected.
#[tokio::test]
async fn consent_purposes_filter_lists_and_refuse_reads() {
    let s = Server::demo(40);
    let compliance = s.token("compliance").await;
    let rules = r#"package crm.tenant

default decision := {"allow": true, "reasons": [], "obligations": {"mask": [], "redact": []}}

decision := {"allow": true, "reasons": [], "obligations": {"mask": [], "redact": [], "purposes": ["marketing_email"]}} if {
	"marketing" in input.subject.roles
}
"#;
    let tests = r#"package crm.tenant_test

import data.crm.tenant

test_marketing_needs_email_consent if {
	tenant.decision.obligations.purposes == ["marketing_email"] with input as {"subject": {"roles": ["marketing"]}}
}

test_support_needs_none if {
	not tenant.decision.obligations.purposes with input as {"subject": {"roles": ["support"]}}
}
"#;
    let (st, v) = s
        .post_json(
            "/api/v1/policies",
            Some(&compliance),
            &json!({"files": {"rules.rego": rules, "rules_test.rego": tests}, "note": "consent"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");

    let support = s.token("support").await;
    let (st, all) = s
        .get("/api/v1/customers?per_page=200", Some(&support))
        .await;
    assert_eq!(st, 200, "{all}");
    let all_page_purposes = all["purposes"].clone();
    let all = all["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), 40);
    let (granted, refused): (Vec<&Value>, Vec<&Value>) = all
        .iter()
        .partition(|c| c["consents"]["marketing_email"] == true);
    assert!(!granted.is_empty() && !refused.is_empty());

    let marketing = s.token("marketing").await;
    let (st, page) = s
        .get("/api/v1/customers?per_page=200", Some(&marketing))
        .await;
    assert_eq!(st, 200, "{page}");
    let ids = |v: &[&Value]| -> Vec<String> {
        let mut ids: Vec<String> = v.iter().map(|c| c["id"].as_str().unwrap().into()).collect();
        ids.sort();
        ids
    };
    let seen: Vec<&Value> = page["items"].as_array().unwrap().iter().collect();
    assert_eq!(ids(&seen), ids(&granted));
    assert_eq!(page["total"], granted.len());
    assert_eq!(page["purposes"], json!(["marketing_email"]));
    assert_eq!(all_page_purposes, json!([]));
    // The staff screen says why the list is shorter.
    let web = s.web_client("marketing").await;
    let screen = crate::common::page(&web, &format!("{}/customers", s.url)).await;
    assert!(
        screen.contains("only customers who consented to: marketing_email"),
        "{screen}"
    );

    let yes = granted[0]["id"].as_str().unwrap();
    let no = refused[0]["id"].as_str().unwrap();
    let (st, v) = s
        .get(&format!("/api/v1/customers/{yes}"), Some(&marketing))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .get(&format!("/api/v1/customers/{no}"), Some(&marketing))
        .await;
    assert_eq!(st, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("purpose_not_consented: the customer has not consented to marketing_email"),
        "{v}"
    );
    // Support still reads that customer; the refusal is in the audit trail.
    assert_eq!(
        s.get(&format!("/api/v1/customers/{no}"), Some(&support))
            .await
            .0,
        200
    );
    let (st, trail) = s.get("/api/v1/audit?limit=50", Some(&compliance)).await;
    assert_eq!(st, 200, "{trail}");
    let denied = trail["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"] == format!("customer/{no}") && e["decision"] == "deny")
        .unwrap_or_else(|| panic!("no deny for customer/{no}: {trail}"));
    assert!(
        denied["detail"]
            .to_string()
            .contains("purpose_not_consented"),
        "{denied}"
    );
    // A set answering with a duty the host does not know is refused at publish, not left to
    // deny every request.
    let unknown = r#"package crm.tenant

default decision := {"allow": true, "reasons": [], "obligations": {"mask": [], "redact": [], "notify": ["dpo"]}}
"#;
    let (st, v) = s
        .post_json(
            "/api/v1/policies",
            Some(&compliance),
            &json!({"files": {"rules.rego": unknown}, "note": "unknown duty"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("policy_invalid")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("notify"),
        "{v}"
    );
}
