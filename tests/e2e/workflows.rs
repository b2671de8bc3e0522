//! The plugins' background work and forms: scheduled jobs run as the plugin's service identity,
//! and the host checks a form's declared rules before the plugin sees the input.

use std::time::{Duration, Instant};

use crate::common::{Server, form_token, page};

/// The hidden value a rendered form carries under `name`, in the form posting `action`.
fn hidden(html: &str, action: &str, name: &str) -> String {
    let form = html
        .split("<form")
        .find(|f| f.contains(&format!("name=\"_action\" value=\"{action}\"")))
        .unwrap_or_else(|| panic!("no form for {action}"));
    form.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in the {action} form"))
        .to_string()
}

/// The markup of the field whose input is named `name` (up to the next field).
fn field<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at..];
    &rest[..rest.find("class=\"field\"").unwrap_or(rest.len())]
}

#[tokio::test]
async fn a_plugins_job_runs_on_its_schedule_as_the_plugins_service_identity() {
    let s = Server::demo_with(60, true);
    let admin = s.token("admin").await;

    // The manifest's job is registered at install with its next due time (daily at 02:00 UTC).
    let (st, jobs) = s
        .get("/api/v1/plugins/subscriptions/jobs", Some(&admin))
        .await;
    assert_eq!(st, 200, "{jobs}");
    let job = &jobs[0];
    assert_eq!(job["job"], "renewals", "{jobs}");
    assert_eq!(job["schedule"], "daily-at 02:00", "{jobs}");
    let due = job["run_at"].as_i64().expect("a due time");
    let now = chrono::Utc::now().timestamp_millis();
    assert!(due > now && due <= now + 86_400_000, "{jobs}");
    assert_eq!(
        chrono::DateTime::from_timestamp_millis(due)
            .unwrap()
            .format("%H:%M")
            .to_string(),
        "02:00"
    );
    // Jobs are for tenant admins.
    let support = s.token("support").await;
    let (st, _) = s
        .get("/api/v1/plugins/subscriptions/jobs", Some(&support))
        .await;
    assert_eq!(st, 403);
    let (st, _) = s
        .post_json(
            "/api/v1/plugins/subscriptions/jobs/renewals/run",
            Some(&support),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 403);

    // An admin runs it now: it reports what it did, and the schedule stays as it was.
    let (st, run) = s
        .post_json(
            "/api/v1/plugins/subscriptions/jobs/renewals/run",
            Some(&admin),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 200, "{run}");
    assert_eq!(run["status"], "ok", "{run}");
    assert!(run["processed"].is_u64(), "{run}");
    let (_, jobs) = s
        .get("/api/v1/plugins/subscriptions/jobs", Some(&admin))
        .await;
    assert_eq!(jobs[0]["run_at"].as_i64(), Some(due), "{jobs}");
    assert_eq!(jobs[0]["last_status"], "ok", "{jobs}");
    let (st, e) = s
        .post_json(
            "/api/v1/plugins/subscriptions/jobs/nightly/run",
            Some(&admin),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 404, "{e}");

    // Its record reads and writes, and the run itself, are audited under the service identity.
    let db = s.db().await;
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT action FROM audit_log WHERE actor = $1")
            .bind("plugin:subscriptions/job:renewals")
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(actions.iter().any(|a| a == "plugin.job"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a.starts_with("record.")),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a.starts_with("customer.")),
        "a job reached personal data: {actions:?}"
    );

    // When it falls due, the host's worker runs it by itself and schedules the next run. The
    // run is told the time it was due: a run due on a day some subscription renews (as the
    // subscribers screen shows) renews it, writing the plugin's records as the service identity.
    let (_, subscribers) = s
        .get(
            "/api/v1/plugins/subscriptions/screens/subscribers",
            Some(&admin),
        )
        .await;
    let today = chrono::Utc::now().date_naive();
    let renewal_day = subscribers["blocks"]
        .as_array()
        .and_then(|b| b.iter().find_map(|b| b.get("Table")))
        .and_then(|t| t["rows"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r["cells"][4]["Date"].as_str())
        .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|d| *d > today)
        .min()
        .unwrap_or_else(|| panic!("no upcoming renewal in {subscribers}"));
    let later = renewal_day
        .and_hms_opt(2, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    sqlx::query(
        "UPDATE plugin_jobs SET run_at = 0, scheduled_at = $1 WHERE plugin = 'subscriptions'",
    )
    .bind(later)
    .execute(&db)
    .await
    .unwrap();
    let started = Instant::now();
    let scheduled = loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'plugin:subscriptions/job:renewals' \
             AND action = 'plugin.job' AND detail LIKE '%\"trigger\":\"schedule\"%'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if n > 0 {
            break n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the due job did not run"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(scheduled, 1);
    let (_, jobs) = s
        .get("/api/v1/plugins/subscriptions/jobs", Some(&admin))
        .await;
    assert_eq!(jobs[0]["last_status"], "ok", "{jobs}");
    assert!(jobs[0]["last_processed"].as_i64().unwrap() > 0, "{jobs}");
    let next = jobs[0]["run_at"].as_i64().unwrap();
    assert_eq!(next, later + 86_400_000, "{jobs}");
    assert_eq!(jobs[0]["scheduled_at"].as_i64(), Some(next), "{jobs}");
    assert_eq!(jobs[0]["attempt"], 1, "{jobs}");
    let writes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'plugin:subscriptions/job:renewals' \
         AND action = 'record.replace'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(writes > 0, "the job changed no subscription");

    // The same from the command line.
    let (ok, out, err) = crate::common::crm(
        &s.data(),
        &["plugin", "jobs", "subscriptions", "--tenant", "demo"],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("renewals [daily-at 02:00]"), "{out}");
    assert!(out.contains(" ok"), "{out}");

    let (st, v) = s.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn the_host_checks_a_forms_rules_and_shows_each_fields_error_in_place() {
    let s = Server::demo(12);
    let web = s.web_client("sales").await;
    let url = format!("{}/apps/subscriptions/plans", s.url);
    let html = page(&web, &url).await;
    let spec = hidden(&html, "create-plan", "_form");
    let mac = hidden(&html, "create-plan", "_form_mac");
    let csrf = form_token(&html);
    let post = |fields: Vec<(&'static str, String)>| {
        let web = web.clone();
        let url = url.clone();
        async move {
            let r = web.post(&url).form(&fields).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let base = |code: &str, price: &str, trial: &str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("_action", "create-plan".to_string()),
            ("_form", spec.clone()),
            ("_form_mac", mac.clone()),
            ("code", code.to_string()),
            ("name_en", "Jobs test".to_string()),
            ("name_zh", "测试".to_string()),
            ("channels", "news".to_string()),
            ("currency", "CNY".to_string()),
            ("price", price.to_string()),
            ("period", "monthly".to_string()),
            ("trial_days", trial.to_string()),
        ]
    };

    // Input that breaks the declared rules never reaches the plugin: each field says why, in
    // place, and keeps what was typed.
    let (st, html) = post(base("Bad Code", "12,5", "500")).await;
    assert_eq!(st, 200);
    assert!(html.contains("Please check the marked fields."), "{html}");
    let code = field(&html, "code");
    assert!(code.contains("is not in the expected format"), "{code}");
    assert!(code.contains("value=\"Bad Code\""), "{code}");
    assert!(field(&html, "price").contains("is not in the expected format"));
    let trial = field(&html, "trial_days");
    assert!(trial.contains("must be a number of at most 90"), "{trial}");
    assert!(!field(&html, "name_en").contains("role=\"alert\""));
    let sales = s.token("sales").await;
    let (_, plans) = s
        .get("/api/v1/plugins/subscriptions/screens/plans", Some(&sales))
        .await;
    assert!(!plans.to_string().contains("Bad Code"), "{plans}");

    // A loosened or forged form is refused.
    let mut forged = base("ok-code", "10", "0");
    forged[2].1 = spec.replace('A', "B");
    let (st, body) = post(forged).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("the form was altered"), "{body}");

    // Valid input reaches the plugin; the plugin's own field error (a duplicate code) is shown
    // next to its field too.
    let (st, html) = post(base("jobs-test", "10", "0")).await;
    assert_eq!(st, 200);
    assert!(html.contains("Plan jobs-test added."), "{html}");
    let (_, html) = post(base("jobs-test", "10", "0")).await;
    let code = field(&html, "code");
    assert!(code.contains("is already used by another plan"), "{code}");
    assert!(code.contains("value=\"jobs-test\""), "{code}");

    // In Chinese, the host's messages are Chinese too.
    let r = web
        .post(format!("{}/lang", s.url))
        .form(&[("csrf_token", csrf.as_str()), ("lang", "zh")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let (_, html) = post(base("Bad Code", "10", "0")).await;
    assert!(html.contains("请检查标出的字段。"), "{html}");
    assert!(field(&html, "code").contains("格式不正确"));
}
