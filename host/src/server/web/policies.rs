//! The compliance screens: the tenant's policy editor (test, publish, history) and the decision log.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{SignedForm, error_page, lang_of, layout, page, query_map, t};
use crate::error::AppError;
use crate::policy::RegoTestResult;
use crate::policy_admin::{self, PolicySet, Refusal};
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::server::error::HttpStatus;
use crate::server::policies::DecisionEntry;
use crate::store::{DecisionRow, PolicyVersionRow};

const POLICY_SKELETON: &str = "package crm.tenant\n\n# Narrow the platform baseline here. The decision must always be defined.\ndefault decision := {\"allow\": true, \"reasons\": [], \"obligations\": {\"mask\": [], \"redact\": []}}\n";
const POLICY_TEST_SKELETON: &str = "package crm.tenant_test\n\ntest_decision_defined if {\n\tdata.crm.tenant.decision with input as {\"action\": \"customer.read\"}\n}\n";

/// What the editor shows after an action.
enum EditorOutcome {
    None,
    Tests(Result<Vec<RegoTestResult>, Refusal>),
    Published(i64),
    Error(String),
}

pub(super) async fn policies_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let lang = lang_of(Some(&who), &query_map(&uri));
    render_policies(&s, &who, &lang, None, EditorOutcome::None).await
}

/// The tenant's policy versions and the active one, if the member may read them.
async fn versions(
    s: &AppState,
    who: &Authenticated,
) -> Result<(Vec<PolicyVersionRow>, Option<i64>), AppError> {
    let h = policy_admin::history::history(&s.app, &who.actor).await?;
    Ok((h.versions, h.active))
}

/// The editor: `files` as submitted, else the active version's, else a skeleton to start from.
async fn render_policies(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    files: Option<BTreeMap<String, String>>,
    outcome: EditorOutcome,
) -> Response {
    let (versions, active) = match versions(s, who).await {
        Ok(v) => v,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let files = files.unwrap_or_else(|| {
        active
            .and_then(|a| versions.iter().find(|v| v.version == a))
            .and_then(|v| serde_json::from_str(&v.files).ok())
            .unwrap_or_else(|| {
                [
                    ("rules.rego".to_string(), POLICY_SKELETON.to_string()),
                    (
                        "rules_test.rego".to_string(),
                        POLICY_TEST_SKELETON.to_string(),
                    ),
                ]
                .into_iter()
                .collect()
            })
    });
    let body = html! {
        h1 { (t(lang, "policies")) }
        p { (t(lang, "baseline")) ": " code { (s.app.pdp.version()) } " (" (s.app.pdp.baseline_mode()) ")" }
        p { (t(lang, "active_version")) ": " strong { @if let Some(a) = active { "v" (a) } @else { (t(lang, "baseline_only")) } } }
        p.muted { (t(lang, "editor_help")) }
        (outcome_note(lang, &outcome))
        (editor_form(lang, who, &files))
        h2 { (t(lang, "history")) }
        (history(lang, &versions, active))
    };
    page(
        StatusCode::OK,
        layout(lang, t(lang, "policies"), Some(who), body),
    )
}

fn outcome_note(lang: &str, outcome: &EditorOutcome) -> Markup {
    html! {
        @match outcome {
            EditorOutcome::None => {}
            EditorOutcome::Published(v) => { p.ok role="status" { (t(lang, "published_version")) " " (v) } }
            EditorOutcome::Error(m) => { p.error role="alert" { (m) } }
            EditorOutcome::Tests(r) => {
                @match r {
                    Ok(results) => { p.ok role="status" { (results.len()) " " (t(lang, "tests_passed")) } }
                    Err(Refusal::Invalid(errors)) => { div.error role="alert" { @for e in errors { pre { (e) } } } }
                    Err(Refusal::TestsFailed(results)) => {
                        ul role="alert" { @for r in results { li class=(if r.passed { "ok" } else { "error" }) { (if r.passed { "PASS " } else { "FAIL " }) (r.name) } } }
                    }
                }
            }
        }
    }
}

fn editor_form(lang: &str, who: &Authenticated, files: &BTreeMap<String, String>) -> Markup {
    html! {
        form method="post" action="/policies" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            @for (i, (path, source)) in files.iter().enumerate() {
                label for=(format!("file{i}")) { (path) }
                input type="hidden" name=(format!("path{i}")) value=(path);
                textarea.code id=(format!("file{i}")) name=(format!("source{i}")) rows="14" spellcheck="false" { (source) }
            }
            label for="note" { (t(lang, "note")) }
            input id="note" name="note" maxlength="500";
            button type="submit" name="op" value="test" { (t(lang, "run_tests")) }
            " "
            button type="submit" name="op" value="publish" { (t(lang, "publish")) }
        }
    }
}

fn history(lang: &str, versions: &[PolicyVersionRow], active: Option<i64>) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Version" } th scope="col" { "Author" } th scope="col" { "Time" } th scope="col" { "Digest" } th scope="col" { (t(lang, "note")) } } }
            tbody {
                @for v in versions {
                    tr {
                        td { "v" (v.version) @if Some(v.version) == active { " ✓" } }
                        td { (v.author) }
                        td { (chrono::DateTime::from_timestamp_millis(v.created_at).map(|d| d.to_rfc3339()).unwrap_or_default()) }
                        td { code { (v.digest.get(..19).unwrap_or(&v.digest)) } }
                        td { (v.note) }
                    }
                }
            }
        }
    }
}

pub(super) async fn policies_submit(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let mut files = BTreeMap::new();
    for i in 0..policy_admin::MAX_FILES {
        match (f.get(&format!("path{i}")), f.get(&format!("source{i}"))) {
            (Some(p), Some(src)) => {
                files.insert(p.clone(), src.replace("\r\n", "\n"));
            }
            _ => break,
        }
    }
    let set = PolicySet {
        files: files.clone(),
    };
    let note = f.get("note").map(String::as_str).unwrap_or_default();
    let app = &s.app;
    let outcome = match f.get("op").map(String::as_str) {
        Some("publish") => match policy_admin::publish(app, &who.actor, &set, note).await {
            Ok(Ok(p)) => EditorOutcome::Published(p.version),
            Ok(Err(r)) => EditorOutcome::Tests(Err(r)),
            Err(e) => EditorOutcome::Error(e.message),
        },
        _ => match policy_admin::test_draft(app, &who.actor, &set).await {
            Ok(r) => EditorOutcome::Tests(r),
            Err(e) => EditorOutcome::Error(e.message),
        },
    };
    render_policies(&s, &who, &lang, Some(files), outcome).await
}

/// The decision log screen: the API's filters (`GET /api/v1/decisions`) as a form, newest first.
pub(super) async fn decisions_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let q = query_map(&uri);
    let lang = lang_of(Some(&who), &q);
    // The form sends every field; an empty one is no filter.
    let filters = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, v)| k != "lang" && !v.is_empty());
    let (status, rows, error) =
        match crate::policy_admin::decisions(&s.app, &who.actor, filters).await {
            Ok(rows) => (StatusCode::OK, rows, None),
            // Refused filters are shown on the form; a refusal of the reader is the error page.
            Err(e) if e.code == "invalid_query" => (e.status(), vec![], Some(e.message)),
            Err(e) => return error_page(&lang, Some(&who), &e),
        };
    let body = html! {
        h1 { (t(&lang, "decisions")) }
        p.muted { (t(&lang, "decisions_help")) }
        (decision_filters(&lang, &q))
        @if let Some(m) = &error { p.error role="alert" { (m) } }
        @if rows.is_empty() && error.is_none() { p { (t(&lang, "none")) } }
        @else if !rows.is_empty() { (decision_table(&lang, rows)) }
    };
    page(
        status,
        layout(&lang, t(&lang, "decisions"), Some(&who), body),
    )
}

/// The decision log's filters, filled in with the query's values.
fn decision_filters(lang: &str, q: &HashMap<String, String>) -> Markup {
    let value = |k: &str| q.get(k).cloned().unwrap_or_default();
    let allow = value("allow");
    html! {
        form.filters method="get" action="/decisions" {
            label for="action" { (t(lang, "action")) }
            input id="action" name="action" value=(value("action")) maxlength="100";
            label for="allow" { (t(lang, "result")) }
            select id="allow" name="allow" {
                option value="" selected[allow.is_empty()] { (t(lang, "any")) }
                option value="true" selected[allow == "true"] { (t(lang, "allowed")) }
                option value="false" selected[allow == "false"] { (t(lang, "denied")) }
            }
            label for="tenant_version" { (t(lang, "tenant_version")) }
            input id="tenant_version" name="tenant_version" type="number" min="1" value=(value("tenant_version"));
            label for="digest" { (t(lang, "input_digest")) }
            input id="digest" name="digest" value=(value("digest")) maxlength="64";
            button type="submit" { (t(lang, "filter")) }
        }
    }
}

fn decision_table(lang: &str, rows: Vec<DecisionRow>) -> Markup {
    html! {
        table.decisions {
            thead { tr {
                th scope="col" { (t(lang, "time")) } th scope="col" { (t(lang, "action")) }
                th scope="col" { (t(lang, "result")) } th scope="col" { (t(lang, "reasons")) }
                th scope="col" { (t(lang, "policy_version")) } th scope="col" { (t(lang, "latency")) }
                th scope="col" { (t(lang, "input_digest")) }
            } }
            tbody {
                @for d in rows.into_iter().map(DecisionEntry::from) {
                    tr class=(if d.allow { "allow" } else { "deny" }) {
                        td { (chrono::DateTime::from_timestamp_millis(d.at).map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()).unwrap_or_default()) }
                        td { code { (d.action) } }
                        td { (if d.allow { t(lang, "allowed") } else { t(lang, "denied") }) }
                        td { ul { @for r in &d.reasons { li { (r) } } } }
                        td { code { (d.policy_version) } }
                        td { (d.micros) }
                        td { a href=(format!("/decisions?digest={}", d.input_digest)) { code { (d.input_digest.get(..12).unwrap_or(&d.input_digest)) } } }
                    }
                }
            }
        }
    }
}
