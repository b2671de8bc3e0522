//! Plugins at work through their capabilities: the example plugin lists customers with the
//! member's rights and its reads are audited; the first-party plugins do their workflows.

use serde_json::json;

use crate::common::Server;
use crate::plugins::{audit_actors, table};

#[tokio::test]
async fn hello_lists_customers_through_its_capability_and_its_reads_are_audited() {
    let s = Server::demo(30);
    let support = s.token("support").await;

    // `crm demo` installed hello; every member sees it with its screens and capabilities.
    let (st, list) = s.get("/api/v1/plugins", Some(&support)).await;
    assert_eq!(st, 200, "{list}");
    let hello = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello installed");
    assert_eq!(hello["state"], "enabled");
    assert_eq!(hello["interface"], "crm:platform@0.2.0");
    assert_eq!(hello["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(hello["granted"], json!(["customers", "log"]));
    assert_eq!(hello["screens"][0]["name"], "main");

    // The screen lists customers as the policy lets this member see them.
    let (st, screen) = s
        .get("/api/v1/plugins/hello/screens/main", Some(&support))
        .await;
    assert_eq!(st, 200, "{screen}");
    let (cols, rows, ids) = table(&screen);
    assert_eq!(rows.len(), 10);
    let email = cols.iter().position(|c| c == "email").unwrap();
    assert!(
        rows.iter()
            .all(|r| r[email].get("Text").is_some() || r[email] == "Empty"),
        "support sees emails in clear"
    );
    let marketing = s.token("marketing").await;
    let (_, screen) = s
        .get("/api/v1/plugins/hello/screens/main", Some(&marketing))
        .await;
    let (_, rows, _) = table(&screen);
    assert!(
        rows.iter()
            .all(|r| r[email].get("Masked").is_some() || r[email] == "Empty"),
        "marketing sees emails masked through the plugin, as without it"
    );

    // Its reads are in the audit trail under the plugin's name (and the member's id).
    let actors = audit_actors(&s, "customer.list").await;
    assert!(
        actors.iter().any(|a| a.starts_with("plugin:hello/user:")),
        "{actors:?}"
    );

    // An action: a note interaction, attributed to the member through the plugin.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/hello/actions/greet",
            Some(&support),
            &json!({"row": ids[0]}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["next"], "Refresh");
    assert_eq!(out["notice"]["tone"], "Success");
    let actors = audit_actors(&s, "interaction.create").await;
    assert!(
        actors.iter().any(|a| a.starts_with("plugin:hello/user:")),
        "{actors:?}"
    );
    let (st, inter) = s
        .get(
            &format!("/api/v1/customers/{}/interactions", ids[0]),
            Some(&support),
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        inter
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "note")
    );

    // The plugin acts with at most the member's rights: marketing may not write interactions.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/hello/actions/greet",
            Some(&marketing),
            &json!({"row": ids[0]}),
        )
        .await;
    assert_eq!(st, 403, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role_denied"),
        "{out}"
    );

    // Undeclared screens and actions, and unknown plugins, are 404 before any plugin runs.
    for path in [
        "/api/v1/plugins/hello/screens/admin",
        "/api/v1/plugins/nope/screens/main",
    ] {
        assert_eq!(s.get(path, Some(&support)).await.0, 404, "{path}");
    }
    let (st, _) = s
        .post_json(
            "/api/v1/plugins/hello/actions/drop-all",
            Some(&support),
            &json!({}),
        )
        .await;
    assert_eq!(st, 404);

    // Inputs over the plugin's input limit are refused before it runs.
    let (st, v) = s
        .post_json(
            "/api/v1/plugins/hello/actions/filter",
            Some(&support),
            &json!({"inputs": {"region": "x".repeat(70 << 10)}}),
        )
        .await;
    assert_eq!(st, 413, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input limit of 65536 bytes"),
        "{v}"
    );

    // The compiled component is cached on disk, so a restart does not recompile it.
    let cached: Vec<_> = std::fs::read_dir(crate::common::COMPONENT_CACHE)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        cached
            .iter()
            .any(|f| f.starts_with(hello["sha256"].as_str().unwrap()) && f.ends_with(".cwasm")),
        "{cached:?}"
    );

    // The plugin's log holds its line (ids only).
    let admin = s.token("admin").await;
    let (st, log) = s.get("/api/v1/plugins/hello/log", Some(&admin)).await;
    assert_eq!(st, 200, "{log}");
    assert!(log.as_array().unwrap().iter().any(|l| {
        l["message"]
            .as_str()
            .unwrap()
            .starts_with("said hello to customer")
    }));
}

#[tokio::test]
async fn first_party_plugins_do_their_work_through_their_capabilities() {
    let s = Server::demo_with(150, true);
    let (support, sales, marketing) = (
        s.token("support").await,
        s.token("sales").await,
        s.token("marketing").await,
    );

    // Each main screen renders with the seeded data.
    for (plugin, token) in [
        ("subscriptions", &support),
        ("advertiser-deals", &sales),
        ("audience-campaigns", &marketing),
    ] {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/{plugin}/screens/main"),
                Some(token),
            )
            .await;
        assert_eq!(st, 200, "{plugin}: {v}");
        assert!(
            v["blocks"].as_array().is_some_and(|b| !b.is_empty()),
            "{plugin}: {v}"
        );
    }

    // Subscriptions: pause a live subscription; its detail then says so, and a second pause is refused.
    let (st, v) = s
        .get(
            "/api/v1/plugins/subscriptions/screens/subscribers",
            Some(&support),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, _, ids) = table(&v);
    let mut paused = None;
    // The pause button of a subscription's screen, as the API presses it.
    let pause = |id: &str| json!({"inputs": {"id": id}, "origin": {"screen": "subscription", "params": {"id": id}}});
    for id in &ids {
        let (st, out) = s
            .post_json(
                "/api/v1/plugins/subscriptions/actions/pause",
                Some(&support),
                &pause(id),
            )
            .await;
        match st {
            200 => {
                assert!(out.to_string().contains("Subscription paused."), "{out}");
                paused = Some(id.clone());
                break;
            }
            // Not every state may be paused: its screen offers no pause button.
            422 => assert_eq!(out["error"]["code"], "action_not_offered", "{out}"),
            _ => panic!("pause answered {st}: {out}"),
        }
    }
    let id = paused.expect("a live subscription to pause");
    let (st, v) = s
        .get(
            &format!("/api/v1/plugins/subscriptions/screens/subscription?id={id}"),
            Some(&support),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v.to_string().contains("Paused"), "{v}");
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/pause",
            Some(&support),
            &pause(&id),
        )
        .await;
    assert_eq!(st, 422, "pausing twice is refused: {out}");
    // Pressed with a row id instead of the button's parameters, it is refused before the
    // plugin runs: the button offers exactly `id`.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/resume",
            Some(&support),
            &json!({"row": id, "origin": {"screen": "subscription", "params": {"id": id}}}),
        )
        .await;
    assert_eq!(st, 422, "{out}");
    assert_eq!(
        out["error"]["message"], "the button's parameters were changed",
        "{out}"
    );

    // Advertiser deals: a spot the seed sold to deal D-0001 cannot be sold again.
    let today = chrono::Utc::now().date_naive();
    let monday = today
        - chrono::Duration::days(
            chrono::Datelike::weekday(&today)
                .num_days_from_monday()
                .into(),
        );
    let spot = format!("SPORT-{}-PRIME-1", monday.format("%Y-%m-%d"));
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/advertiser-deals/actions/book-spot",
            Some(&sales),
            &json!({"inputs": {"deal": "D-0002", "spot": spot},
                "origin": {"screen": "deal", "params": {"id": "D-0002"}}}),
        )
        .await;
    assert_eq!(st, 409, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already booked by deal D-0001"),
        "{out}"
    );

    // Audience campaigns: a draft's preview excludes customers without consent, with the reason.
    let (_, v) = s
        .get(
            "/api/v1/plugins/audience-campaigns/screens/main",
            Some(&marketing),
        )
        .await;
    let (_, _, campaign_ids) = table(&v);
    let mut excluded = false;
    for id in &campaign_ids {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/audience-campaigns/screens/campaign?id={id}"),
                Some(&marketing),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        excluded |= v
            .to_string()
            .contains("No consent recorded for the purpose");
    }
    assert!(
        excluded,
        "no campaign preview shows consent-less customers excluded"
    );

    // Their reads and writes are in the audit trail under each plugin's name.
    let db = s.db().await;
    for plugin in ["subscriptions", "advertiser-deals", "audience-campaigns"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE actor LIKE $1")
            .bind(format!("plugin:{plugin}/user:%"))
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(n > 0, "{plugin} left no audit records");
    }
}
