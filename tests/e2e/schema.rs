//! The OpenAPI document against the server itself: schemathesis generates requests from
//! `/api/v1/openapi.json` (valid ones and invalid ones) and checks every answer against the
//! document: no 5xx, only declared statuses, the declared content type, headers and body shape.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use crate::common::Server;

/// The schemathesis release this test was written and verified against (`.ci/run` installs it).
const SCHEMATHESIS: &str = "4.32.5";

/// Examples per operation: the whole test stays within a few minutes on two cores.
const EXAMPLES: &str = "100";

fn python(args: &[&str]) -> Option<Output> {
    Command::new("python3").args(args).output().ok()
}

fn installed_version() -> Option<String> {
    let out = python(&["-c", "import schemathesis; print(schemathesis.__version__)"])?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Makes sure the pinned schemathesis is importable by `python3`, installing it with pip if not.
fn ensure_schemathesis() {
    if installed_version().as_deref() == Some(SCHEMATHESIS) {
        return;
    }
    let spec = format!("schemathesis=={SCHEMATHESIS}");
    let out = python(&[
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &spec,
    ]);
    let found = installed_version();
    assert_eq!(
        found.as_deref(),
        Some(SCHEMATHESIS),
        "this test needs schemathesis {SCHEMATHESIS} for python3, and `python3 -m pip install \
         {spec}` did not provide it ({}); install it and run the test again",
        match out {
            None => "python3 could not be started".to_string(),
            Some(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        }
    );
}

/// Runs `python3 -m schemathesis.cli ARGS` in `dir`, prints what it said, and returns whether
/// it passed with its output.
fn schemathesis(dir: &Path, args: &[String]) -> (bool, String) {
    let started = Instant::now();
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "schemathesis {} ({:.0} s):\n{text}",
        args.join(" "),
        started.elapsed().as_secs_f64()
    );
    (out.status.success(), text)
}

fn toml_list(values: &[String]) -> String {
    serde_json::to_string(values).expect("a list of strings")
}

#[tokio::test]
async fn the_server_answers_as_its_openapi_document_says() {
    ensure_schemathesis();
    let s = Server::demo(50);
    // Admin may do nearly everything (and has two-factor sign-in, so this is a full session).
    let token = s.token("admin").await;

    // Real names and ids, so that generated requests also reach plugins and customers that
    // exist, not only their 404s.
    let (status, page) = s.get("/api/v1/customers?per_page=5", Some(&token)).await;
    assert_eq!(status, 200, "{page}");
    let customers: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let (status, list) = s.get("/api/v1/plugins", Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    let (mut plugins, mut screens, mut actions) = (Vec::new(), Vec::new(), Vec::new());
    for p in list.as_array().unwrap() {
        plugins.push(p["name"].as_str().unwrap().to_string());
        for sc in p["screens"].as_array().unwrap() {
            screens.push(sc["name"].as_str().unwrap().to_string());
        }
        for a in p["actions"].as_array().unwrap() {
            actions.push(a.as_str().unwrap().to_string());
        }
    }
    assert!(!plugins.is_empty(), "the demo installs plugins: {list}");
    let mut jobs = Vec::new();
    for p in &plugins {
        let (_, js) = s
            .get(&format!("/api/v1/plugins/{p}/jobs"), Some(&token))
            .await;
        for j in js.as_array().into_iter().flatten() {
            jobs.push(j["job"].as_str().unwrap_or_default().to_string());
        }
    }
    for v in [&mut screens, &mut actions, &mut jobs] {
        v.sort();
        v.dedup();
    }
    if jobs.is_empty() {
        jobs.push("none".into());
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    // Path parameters are drawn from these lists most of the time, and generated otherwise. Only
    // operations that read or act go to real plugins and customers: uninstalling, disabling or
    // erasing them is still tested, on generated names (and on what the stateful phase creates).
    std::fs::write(
        &config,
        format!(
            r#"
[dictionaries.plugin]
values = {plugins}
[dictionaries.screen]
values = {screens}
[dictionaries.action]
values = {actions}
[dictionaries.job]
values = {jobs}
[dictionaries.customer]
values = {customers}

[[operations]]
include-operation-id = ["get_plugin", "get_plugin_log", "list_plugin_jobs", "run_plugin_job", "render_plugin_screen", "submit_plugin_action"]
parameters = {{ "path.name" = {{ dictionary = "plugin", probability = 0.7 }}, "path.screen" = {{ dictionary = "screen", probability = 0.7 }}, "path.action" = {{ dictionary = "action", probability = 0.7 }}, "path.job" = {{ dictionary = "job", probability = 0.7 }} }}

[[operations]]
include-operation-id = "set_plugin_limits"
parameters = {{ "path.name" = {{ dictionary = "plugin", probability = 0.5 }} }}

[[operations]]
include-operation-id = ["get_customer", "update_customer", "add_interaction", "list_interactions"]
parameters = {{ "path.id" = {{ dictionary = "customer", probability = 0.7 }} }}
"#,
            plugins = toml_list(&plugins),
            screens = toml_list(&screens),
            actions = toml_list(&actions),
            jobs = toml_list(&jobs),
            customers = toml_list(&customers),
        ),
    )
    .unwrap();

    let run = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "--config-file",
            config.to_str().unwrap(),
            "run",
            &format!("{}/api/v1/openapi.json", s.url),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--max-examples",
            EXAMPLES,
            "--seed",
            "20261204",
            "--workers",
            "2",
            "--request-timeout",
            "60",
            // A debug build on a busy machine is slow; slowness is not what this test is about.
            "--suppress-health-check",
            "too_slow",
            "--generation-database",
            "none",
            "--no-color",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };

    // Every operation, but those that would end the session under test or make the run flaky:
    // - sign_out revokes this session, and sign_out_everywhere every session and API token of
    //   the admin, this one included: every later request would be a 401.
    // - start_mfa_enrolment checks the admin's password again: each wrong guess counts against
    //   the account's sign-in throttle (429s that come and go with timing, then a lock), and
    //   confirm_mfa_enrolment would replace the admin's second factor and sign the admin's
    //   other sessions out.
    // - set_plugin_limits runs last, on its own: limits it sets on a real plugin (a fuel budget
    //   of 10,000, say) make that plugin's later calls stop with 502, as they should.
    // (revoke_token stays: it revokes API tokens only, and this test's token is a session.)
    let checks = "not_a_server_error,status_code_conformance,content_type_conformance,\
                  response_schema_conformance,response_headers_conformance";
    let (ok, out) = schemathesis(
        dir.path(),
        &run(&[
            "--checks",
            checks,
            "--exclude-operation-id",
            "sign_out",
            "--exclude-operation-id",
            "sign_out_everywhere",
            "--exclude-operation-id",
            "start_mfa_enrolment",
            "--exclude-operation-id",
            "confirm_mfa_enrolment",
            "--exclude-operation-id",
            "set_plugin_limits",
        ]),
    );
    assert!(
        ok,
        "schemathesis found answers that do not match the OpenAPI document:\n{out}"
    );
    assert!(out.contains(" generated, "), "{out}");

    // The customer bodies' schemas say exactly what the server takes: every body valid under
    // them is accepted (or refused for a reason other than its shape: 403, 404, 409), and every
    // invalid one is refused.
    let (ok, out) = schemathesis(
        dir.path(),
        &run(&[
            "--checks",
            &format!("{checks},positive_data_acceptance,negative_data_rejection"),
            "--include-operation-id",
            "create_customer",
            "--include-operation-id",
            "update_customer",
        ]),
    );
    assert!(
        ok,
        "schemathesis found customer bodies the document and the server disagree on:\n{out}"
    );

    let (ok, out) = schemathesis(
        dir.path(),
        &run(&[
            "--checks",
            checks,
            "--include-operation-id",
            "set_plugin_limits",
        ]),
    );
    assert!(
        ok,
        "schemathesis found answers that do not match the OpenAPI document:\n{out}"
    );

    // The server is still up and the session still works (on a new connection: the server has
    // closed the client's idle ones meanwhile).
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", s.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(me.status().as_u16(), 200);
}
