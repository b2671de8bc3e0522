//! The compliance screens for data-subject rights: the request queue with its deadlines and the
//! log's figures, opening a request, a request with its timeline and next steps, building and
//! downloading its archive, legal holds, and the retention schedule with its runs. Each form
//! calls the same `privacy::…` function as the API and the CLI (decided and audited there).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{SignedForm, error_page, lang_of, layout, page, query_map, t};
use crate::error::AppError;
use crate::privacy::deadline::{Regime, Urgency};
use crate::privacy::export::{self, ExportState, ExportView};
use crate::privacy::request::{Kind, State as ReqState, Step};
use crate::privacy::retention::RunReport;
use crate::privacy::{self, NewHold, NewRequest, RequestView, report, settings};
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::store::now_ms;

/// A form field, trimmed (empty when absent).
fn field(form: &std::collections::HashMap<String, String>, name: &str) -> String {
    form.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn kind_label(lang: &str, k: Kind) -> &'static str {
    match k {
        Kind::Access => t(lang, "kind_access"),
        Kind::Portability => t(lang, "kind_portability"),
        Kind::Rectification => t(lang, "kind_rectification"),
        Kind::Erasure => t(lang, "kind_erasure"),
        Kind::Restriction => t(lang, "kind_restriction"),
        Kind::Objection => t(lang, "kind_objection"),
    }
}

fn state_label(lang: &str, s: ReqState) -> &'static str {
    match s {
        ReqState::Received => t(lang, "state_received"),
        ReqState::Verified => t(lang, "state_verified"),
        ReqState::InProgress => t(lang, "state_in_progress"),
        ReqState::Extended => t(lang, "state_extended"),
        ReqState::Completed => t(lang, "state_completed"),
        ReqState::Refused => t(lang, "state_refused"),
    }
}

fn step_label(lang: &str, s: Step) -> &'static str {
    match s {
        Step::Verify => t(lang, "step_verify"),
        Step::Start => t(lang, "step_start"),
        Step::Extend => t(lang, "step_extend"),
        Step::Complete => t(lang, "step_complete"),
        Step::Refuse => t(lang, "step_refuse"),
    }
}

/// A timeline step as stored (`open`, `verify`, …, `rectify`) in the page's language.
fn timeline_step<'a>(lang: &str, step: &'a str) -> &'a str {
    match step {
        "open" => t(lang, "step_open"),
        "rectify" => t(lang, "step_rectify"),
        other => match serde_json::from_value::<Step>(serde_json::json!(other)) {
            Ok(s) => step_label(lang, s),
            Err(_) => other,
        },
    }
}

/// A state as stored (`in_progress`) in the page's language.
fn stored_state<'a>(lang: &str, state: &'a str) -> &'a str {
    match serde_json::from_value::<ReqState>(serde_json::json!(state)) {
        Ok(s) => state_label(lang, s),
        Err(_) => state,
    }
}

fn regime_label(r: Regime) -> &'static str {
    match r {
        Regime::Gdpr => "GDPR",
        Regime::Ccpa => "CCPA",
        Regime::Pipl => "PIPL",
    }
}

fn urgency_badge(lang: &str, u: Option<Urgency>) -> Markup {
    html! {
        @match u {
            Some(Urgency::Overdue) => span.badge.overdue { (t(lang, "urgency_overdue")) },
            Some(Urgency::DueSoon) => span.badge.soon { (t(lang, "urgency_due_soon")) },
            Some(Urgency::OnTrack) => span.muted { (t(lang, "urgency_on_track")) },
            None => {},
        }
    }
}

/// A time for staff: minutes, UTC said.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A signed-in member and the page's language (none: send the browser to sign in).
fn signed_in(
    who: Result<Authenticated, AppError>,
    uri: &axum::http::Uri,
) -> Option<(Authenticated, String)> {
    let who = who.ok()?;
    let lang = lang_of(Some(&who), &query_map(uri));
    Some((who, lang))
}

/// Staff names for the actors the trail records (`user:<id>` → their display name); operators and
/// plugins keep their own names.
async fn staff_names(s: &AppState, tenant: &str) -> std::collections::HashMap<String, String> {
    s.app
        .store
        .users(tenant)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (format!("user:{}", u.id), u.display_name))
        .collect()
}

fn actor_name<'a>(names: &'a std::collections::HashMap<String, String>, actor: &'a str) -> &'a str {
    names.get(actor).map_or(actor, String::as_str)
}

/// The link to a request's customer, or a word saying they were erased.
fn customer_link(lang: &str, r: &RequestView) -> Markup {
    html! {
        @if r.kind == Kind::Erasure && r.state == ReqState::Completed {
            span.muted { (t(lang, "erased")) }
        } @else {
            a href=(format!("/customers/{}", r.customer)) { (t(lang, "open_customer")) }
        }
    }
}

fn ok_page(lang: &str, title: &str, who: &Authenticated, body: Markup) -> Response {
    page(StatusCode::OK, layout(lang, title, Some(who), body))
}

fn sub_nav(lang: &str) -> Markup {
    html! {
        nav.sub aria-label=(t(lang, "privacy")) {
            a href="/privacy" { (t(lang, "privacy_requests")) }
            a href="/privacy/holds" { (t(lang, "legal_holds")) }
            a href="/privacy/retention" { (t(lang, "retention")) }
        }
    }
}

pub(super) async fn queue_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Some((who, lang)) = signed_in(who, &uri) else {
        return Redirect::to("/login").into_response();
    };
    render_queue(&s, &who, &lang, None).await
}

async fn render_queue(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    form_error: Option<&str>,
) -> Response {
    let now = now_ms();
    let requests = match privacy::queue(&s.app, &who.actor, now).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let figures = report::report(&s.app, &who.actor, now).await.ok();
    let open: Vec<&RequestView> = requests.iter().filter(|r| r.state.is_open()).collect();
    let overdue = open
        .iter()
        .filter(|r| r.urgency == Some(Urgency::Overdue))
        .count();
    let soon = open
        .iter()
        .filter(|r| r.urgency == Some(Urgency::DueSoon))
        .count();
    let body = html! {
        h1 { (t(lang, "privacy_requests")) }
        (sub_nav(lang))
        p.summary role="status" {
            strong { (open.len()) } " " (t(lang, "open_requests")) " · "
            span class=(if overdue > 0 { "badge overdue" } else { "muted" }) { (overdue) " " (t(lang, "urgency_overdue")) } " · "
            span class=(if soon > 0 { "badge soon" } else { "muted" }) { (soon) " " (t(lang, "urgency_due_soon")) }
        }
        @if requests.is_empty() { p.muted { (t(lang, "no_requests")) } }
        @else {
            table.requests {
                thead { tr {
                    th scope="col" { (t(lang, "kind")) } th scope="col" { (t(lang, "state")) }
                    th scope="col" { (t(lang, "regime")) } th scope="col" { (t(lang, "due")) }
                    th scope="col" { (t(lang, "received")) } th scope="col" { (t(lang, "customer")) }
                } }
                tbody {
                    @for r in &requests {
                        tr class=(match r.urgency { Some(Urgency::Overdue) => "overdue", Some(Urgency::DueSoon) => "soon", _ => "" }) {
                            td { a href=(format!("/privacy/requests/{}", r.id)) { (kind_label(lang, r.kind)) } }
                            td { (state_label(lang, r.state)) }
                            td { (regime_label(r.regime)) }
                            td { (r.due) " " (urgency_badge(lang, r.urgency)) }
                            td { (when(r.received_at)) }
                            td { (customer_link(lang, r)) }
                        }
                    }
                }
            }
        }
        h2 id="open" { (t(lang, "open_request")) }
        @if let Some(e) = form_error { p.error role="alert" id="open-error" { (e) } }
        form method="post" action="/privacy/requests" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            label for="customer" { (t(lang, "customer_ref")) }
            input id="customer" name="customer" required maxlength="320"
                aria-invalid=[form_error.map(|_| "true")] aria-describedby=[form_error.map(|_| "open-error")];
            label for="kind" { (t(lang, "kind")) }
            select id="kind" name="kind" { @for k in Kind::ALL { option value=(privacy::name_of(&k)) { (kind_label(lang, k)) } } }
            label for="verification" { (t(lang, "verification")) }
            input id="verification" name="verification" maxlength="500" placeholder=(t(lang, "verification_hint"));
            button type="submit" { (t(lang, "open_request")) }
        }
        @if let Some(f) = figures {
            h2 { (t(lang, "request_log")) }
            p.muted { (t(lang, "request_log_help")) }
            table.figures {
                thead { tr {
                    th scope="col" { (t(lang, "kind")) } th scope="col" { (t(lang, "received")) }
                    th scope="col" { (t(lang, "state_completed")) } th scope="col" { (t(lang, "state_refused")) }
                    th scope="col" { (t(lang, "open_requests")) } th scope="col" { (t(lang, "urgency_overdue")) }
                    th scope="col" { (t(lang, "closed_late")) } th scope="col" { (t(lang, "median_days")) }
                    th scope="col" { (t(lang, "worst_days")) }
                } }
                tbody {
                    @for k in Kind::ALL {
                        @if let Some(x) = f.by_kind.get(&privacy::name_of(&k)) {
                            tr {
                                th scope="row" { (kind_label(lang, k)) }
                                td { (x.received) } td { (x.completed) } td { (x.refused) } td { (x.open) }
                                td { (x.overdue) } td { (x.closed_late) }
                                td { (x.median_days.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into())) }
                                td { (x.worst_days.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into())) }
                            }
                        }
                    }
                }
            }
        }
    };
    ok_page(lang, t(lang, "privacy_requests"), who, body)
}

pub(super) async fn open_submit(
    State(s): State<AppState>,
    SignedForm { who, form }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let field = |k: &str| field(&form, k);
    let kind = Kind::ALL
        .into_iter()
        .find(|k| privacy::name_of(k) == field("kind"));
    let (Some(kind), customer) = (kind, field("customer")) else {
        return render_queue(&s, &who, &lang, Some(t(&lang, "choose_kind"))).await;
    };
    if customer.is_empty() {
        return render_queue(&s, &who, &lang, Some(t(&lang, "customer_required"))).await;
    }
    let new = NewRequest {
        customer,
        kind,
        verification: field("verification"),
    };
    match privacy::open(&s.app, &who.actor, &new, now_ms()).await {
        Ok(r) => Redirect::to(&format!("/privacy/requests/{}", r.id)).into_response(),
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => {
            render_queue(&s, &who, &lang, Some(t(&lang, "no_such_customer"))).await
        }
        Err(e) => render_queue(&s, &who, &lang, Some(&e.message)).await,
    }
}

pub(super) async fn request_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some((who, lang)) = signed_in(who, &uri) else {
        return Redirect::to("/login").into_response();
    };
    let note = query_map(&uri).get("done").cloned();
    render_request(&s, &who, &lang, &id, note.as_deref(), None).await
}

async fn render_request(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    id: &str,
    done: Option<&str>,
    error: Option<&str>,
) -> Response {
    let now = now_ms();
    let (r, steps) = match privacy::show(&s.app, &who.actor, id, now).await {
        Ok(v) => v,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let exports = export::of_request(&s.app, &who.actor, id, now)
        .await
        .unwrap_or_default();
    let names = staff_names(s, &who.actor.tenant_id).await;
    let possible: Vec<Step> = [
        Step::Verify,
        Step::Start,
        Step::Extend,
        Step::Complete,
        Step::Refuse,
    ]
    .into_iter()
    .filter(|st| r.state.after(*st).is_ok())
    .collect();
    let action = format!("/privacy/requests/{id}/steps");
    let body = html! {
        p { a href="/privacy" { "← " (t(lang, "privacy_requests")) } }
        h1 { (kind_label(lang, r.kind)) " · " (state_label(lang, r.state)) }
        @if let Some(d) = done { p.ok role="status" { (d) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        dl.kv {
            dt { (t(lang, "customer")) } dd { (customer_link(lang, &r)) }
            dt { (t(lang, "regime")) } dd { (regime_label(r.regime)) }
            dt { (t(lang, "received")) } dd { (when(r.received_at)) }
            @if let Some(a) = r.acknowledge_by { dt { (t(lang, "acknowledge_by")) } dd { (a) } }
            dt { (t(lang, "due")) } dd { (r.due) " " (urgency_badge(lang, r.urgency)) }
            dt { (t(lang, "verification")) } dd { (if r.verification.is_empty() { "—" } else { &r.verification }) }
            dt { (t(lang, "opened_by")) } dd { (actor_name(&names, &r.opened_by)) }
        }
        h2 { (t(lang, "timeline")) }
        ol.timeline {
            @for st in &steps {
                li { time { (when(st.at)) } " · " strong { (timeline_step(lang, &st.step)) } " → " (stored_state(lang, &st.state)) " · " (actor_name(&names, &st.actor))
                    @if !st.reason.is_empty() { br; (st.reason) } }
            }
        }
        @if !possible.is_empty() {
            h2 { (t(lang, "next_steps")) }
            div.steps {
                @for st in &possible {
                    @if st.needs_reason() {
                        details {
                            summary { (step_label(lang, *st)) }
                            form method="post" action=(action) {
                                input type="hidden" name="csrf_token" value=(who.csrf_token);
                                input type="hidden" name="step" value=(privacy::name_of(st));
                                label for=(format!("reason-{}", privacy::name_of(st))) { (t(lang, "reason")) }
                                input id=(format!("reason-{}", privacy::name_of(st))) name="reason" required maxlength="500";
                                button type="submit" { (step_label(lang, *st)) }
                            }
                        }
                    } @else if *st == Step::Complete && r.kind == Kind::Erasure {
                        details.danger {
                            summary { (t(lang, "complete_erasure")) }
                            p role="note" { (t(lang, "erasure_warning")) }
                            form method="post" action=(action) {
                                input type="hidden" name="csrf_token" value=(who.csrf_token);
                                input type="hidden" name="step" value="complete";
                                button.danger type="submit" { (t(lang, "confirm_erasure")) }
                            }
                        }
                    } @else {
                        form.inline method="post" action=(action) {
                            input type="hidden" name="csrf_token" value=(who.csrf_token);
                            input type="hidden" name="step" value=(privacy::name_of(st));
                            button type="submit" { (step_label(lang, *st)) }
                        }
                    }
                }
            }
        }
        @if matches!(r.kind, Kind::Access | Kind::Portability) {
            h2 { (t(lang, "archive")) }
            p.muted { (t(lang, "archive_help")) }
            (exports_table(lang, &exports, now))
            @if r.state != ReqState::Received && r.state.is_open() {
                form method="post" action=(format!("/privacy/requests/{id}/exports")) {
                    input type="hidden" name="csrf_token" value=(who.csrf_token);
                    button type="submit" { (t(lang, "build_archive")) }
                }
            }
        }
    };
    ok_page(lang, kind_label(lang, r.kind), who, body)
}

fn exports_table(lang: &str, exports: &[ExportView], now: i64) -> Markup {
    html! {
        @if exports.is_empty() { p.muted { (t(lang, "none")) } }
        @else {
            table.exports {
                thead { tr {
                    th scope="col" { (t(lang, "time")) } th scope="col" { (t(lang, "state")) }
                    th scope="col" { (t(lang, "expires")) } th scope="col" { (t(lang, "downloads")) } th scope="col" {}
                } }
                tbody {
                    @for e in exports {
                        tr {
                            td { (when(e.created_at)) }
                            td {
                                @match e.state {
                                    ExportState::Building => { (t(lang, "export_building")) " " progress max=(e.total.max(1)) value=(e.done) { (e.done) "/" (e.total) } }
                                    ExportState::Ready => { (t(lang, "export_ready")) " · " (e.bytes.unwrap_or(0)) " B" }
                                    ExportState::Failed => { span.error { (t(lang, "export_failed")) } " " (e.error.clone().unwrap_or_default()) }
                                    ExportState::Expired => { span.muted { (t(lang, "export_expired")) } }
                                }
                            }
                            td { (when(e.expires_at)) }
                            td { (e.downloads) }
                            td {
                                @if e.state == ExportState::Ready && e.expires_at > now {
                                    a href=(format!("/privacy/exports/{}/archive", e.id)) download { (t(lang, "download")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn step_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    SignedForm { who, form }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let step = form
        .get("step")
        .and_then(|v| serde_json::from_value::<Step>(serde_json::json!(v)).ok());
    let Some(step) = step else {
        return render_request(&s, &who, &lang, &id, None, Some(t(&lang, "choose_step"))).await;
    };
    let reason = form.get("reason").cloned().unwrap_or_default();
    match privacy::take_step(&s.app, &s.plugins, &who.actor, &id, step, &reason, now_ms()).await {
        Ok(r) => {
            let done = format!(
                "{}: {}",
                t(&lang, "step_taken"),
                state_label(&lang, r.state)
            );
            done_redirect(&format!("/privacy/requests/{id}"), &done)
        }
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => error_page(&lang, Some(&who), &e),
        Err(e) => render_request(&s, &who, &lang, &id, None, Some(&e.message)).await,
    }
}

pub(super) async fn export_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    SignedForm { who, .. }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    match export::start(&s.app, &s.plugins, &who.actor, &id, now_ms()).await {
        Ok(_) => done_redirect(
            &format!("/privacy/requests/{id}"),
            t(&lang, "archive_started"),
        ),
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => error_page(&lang, Some(&who), &e),
        Err(e) => render_request(&s, &who, &lang, &id, None, Some(&e.message)).await,
    }
}

pub(super) async fn archive_download(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some((who, lang)) = signed_in(who, &uri) else {
        return Redirect::to("/login").into_response();
    };
    match export::download(&s.app, &who.actor, &id, now_ms()).await {
        Ok((name, zip)) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            zip,
        )
            .into_response(),
        Err(e) => error_page(&lang, Some(&who), &e),
    }
}

pub(super) async fn holds_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Some((who, lang)) = signed_in(who, &uri) else {
        return Redirect::to("/login").into_response();
    };
    let done = query_map(&uri).get("done").cloned();
    render_holds(&s, &who, &lang, done.as_deref(), None).await
}

async fn render_holds(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    done: Option<&str>,
    error: Option<&str>,
) -> Response {
    let holds = match privacy::holds(&s.app, &who.actor).await {
        Ok(h) => h,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let names = staff_names(s, &who.actor.tenant_id).await;
    let body = html! {
        h1 { (t(lang, "legal_holds")) }
        (sub_nav(lang))
        p.muted { (t(lang, "holds_help")) }
        @if let Some(d) = done { p.ok role="status" { (d) } }
        @if let Some(e) = error { p.error role="alert" id="hold-error" { (e) } }
        @if holds.is_empty() { p.muted { (t(lang, "none")) } }
        @else {
            table.holds {
                thead { tr {
                    th scope="col" { (t(lang, "scope")) } th scope="col" { (t(lang, "reason")) }
                    th scope="col" { (t(lang, "owner")) } th scope="col" { (t(lang, "placed")) }
                    th scope="col" { (t(lang, "state")) } th scope="col" {}
                } }
                tbody {
                    @for h in &holds {
                        tr {
                            td { @match &h.customer_id {
                                Some(c) => a href=(format!("/customers/{c}")) { (t(lang, "one_customer")) },
                                None => strong { (t(lang, "every_customer")) },
                            } }
                            td { (h.reason) }
                            td { (h.owner) }
                            td { (when(h.placed_at)) " · " (actor_name(&names, &h.placed_by)) }
                            td { @if let Some(at) = h.released_at { (t(lang, "released")) " " (when(at)) } @else { strong { (t(lang, "active")) } } }
                            td { @if h.released_at.is_none() {
                                details {
                                    summary { (t(lang, "release")) }
                                    form method="post" action=(format!("/privacy/holds/{}/release", h.id)) {
                                        input type="hidden" name="csrf_token" value=(who.csrf_token);
                                        button type="submit" { (t(lang, "confirm_release")) }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
        h2 { (t(lang, "place_hold")) }
        form method="post" action="/privacy/holds" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            label for="hold-customer" { (t(lang, "hold_customer")) }
            input id="hold-customer" name="customer" maxlength="64";
            label for="hold-reason" { (t(lang, "reason")) }
            input id="hold-reason" name="reason" required maxlength="500"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "hold-error")];
            label for="hold-owner" { (t(lang, "owner")) }
            input id="hold-owner" name="owner" required maxlength="500";
            button type="submit" { (t(lang, "place_hold")) }
        }
    };
    ok_page(lang, t(lang, "legal_holds"), who, body)
}

pub(super) async fn hold_submit(
    State(s): State<AppState>,
    SignedForm { who, form }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let field = |k: &str| field(&form, k);
    let customer = Some(field("customer")).filter(|c| !c.is_empty());
    let new = NewHold {
        customer,
        reason: field("reason"),
        owner: field("owner"),
    };
    match privacy::place_hold(&s.app, &who.actor, &new, now_ms()).await {
        Ok(_) => done_redirect("/privacy/holds", t(&lang, "hold_placed")),
        Err(e) => render_holds(&s, &who, &lang, None, Some(&e.message)).await,
    }
}

pub(super) async fn release_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    SignedForm { who, .. }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    match privacy::release_hold(&s.app, &who.actor, &id, now_ms()).await {
        Ok(()) => done_redirect("/privacy/holds", t(&lang, "hold_released")),
        Err(e) => render_holds(&s, &who, &lang, None, Some(&e.message)).await,
    }
}

fn done_redirect(path: &str, done: &str) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("done", done)
        .finish();
    Redirect::to(&format!("{path}?{q}")).into_response()
}

pub(super) async fn retention_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Some((who, lang)) = signed_in(who, &uri) else {
        return Redirect::to("/login").into_response();
    };
    let saved = query_map(&uri).contains_key("saved");
    let outcome = Outcome {
        saved,
        ..Outcome::default()
    };
    render_retention(&s, &who, &lang, outcome).await
}

/// What the retention page shows besides the schedule: a run's result, a refusal, the schedule
/// form as submitted (when it was refused), or that it was saved.
#[derive(Default)]
struct Outcome<'a> {
    last: Option<&'a RunReport>,
    error: Option<&'a str>,
    draft: Option<&'a std::collections::HashMap<String, String>>,
    saved: bool,
}

/// The schedule's number fields: form name, label key, lowest value.
const SCHEDULE_FIELDS: [(&str, &str, u32); 6] = [
    ("inactive_customers_months", "ret_inactive_customers", 1),
    ("interactions_months", "ret_interactions", 1),
    ("decision_log_months", "ret_decision_log", 6),
    ("audit_months", "ret_audit", 6),
    ("request_log_months", "ret_request_log", 24),
    ("export_archives_days", "ret_export_archives", 1),
];

async fn render_retention(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    outcome: Outcome<'_>,
) -> Response {
    let Outcome {
        last,
        error,
        draft,
        saved,
    } = outcome;
    let settings = match settings::get(&s.app, &who.actor).await {
        Ok(v) => v,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let runs = crate::privacy::retention::runs(&s.app, &who.actor)
        .await
        .unwrap_or_default();
    let names = staff_names(s, &who.actor.tenant_id).await;
    let r = &settings.retention;
    let stored = |name: &str| -> String {
        match name {
            "inactive_customers_months" => r.inactive_customers_months,
            "interactions_months" => r.interactions_months,
            "decision_log_months" => r.decision_log_months,
            "audit_months" => r.audit_months,
            "request_log_months" => r.request_log_months,
            _ => r.export_archives_days,
        }
        .map(|v| v.to_string())
        .unwrap_or_default()
    };
    let value = |name: &str| -> String {
        draft
            .and_then(|d| d.get(name).cloned())
            .unwrap_or_else(|| stored(name))
    };
    let collections = draft
        .and_then(|d| d.get("plugin_documents").cloned())
        .unwrap_or_else(|| {
            r.plugin_documents_months
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        });
    let daily = draft.map_or(r.apply_daily, |d| d.contains_key("apply_daily"));
    // The field a refusal names (`audit_months` must be …), marked invalid.
    let bad = |name: &str| error.is_some_and(|e| e.contains(&format!("`{name}`")));
    let label_of = |key: &str| match key {
        "ret_inactive_customers" => t(lang, "ret_inactive_customers"),
        "ret_interactions" => t(lang, "ret_interactions"),
        "ret_decision_log" => t(lang, "ret_decision_log"),
        "ret_audit" => t(lang, "ret_audit"),
        "ret_request_log" => t(lang, "ret_request_log"),
        _ => t(lang, "ret_export_archives"),
    };
    let body = html! {
        h1 { (t(lang, "retention")) }
        (sub_nav(lang))
        p.muted { (t(lang, "retention_help")) }
        @if let Some(run) = last { p.ok role="status" { (if run.applied { t(lang, "run_applied") } else { t(lang, "run_dry") }) } (run_table(lang, run)) }
        h2 { (t(lang, "schedule")) }
        @if saved { p.ok role="status" { (t(lang, "schedule_saved")) } }
        @if let Some(e) = error { p.error role="alert" id="schedule-error" { (e) } }
        form.schedule method="post" action="/privacy/retention/schedule" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            p.muted { (t(lang, "schedule_help")) }
            @for (name, key, min) in SCHEDULE_FIELDS {
                label for=(name) { (label_of(key)) " (" (if name.ends_with("_days") { t(lang, "days") } else { t(lang, "months") }) ")" }
                input id=(name) name=(name) type="number" min=(min) max=(if name.ends_with("_days") { 3650 } else { 1200 }) value=(value(name))
                    aria-invalid=[bad(name).then_some("true")] aria-describedby=[bad(name).then_some("schedule-error")];
            }
            label for="plugin_documents" { (t(lang, "ret_plugin_documents")) " — " (t(lang, "plugin_documents_help")) }
            textarea id="plugin_documents" name="plugin_documents" rows="3"
                aria-invalid=[bad("plugin_documents_months").then_some("true")] { (collections) }
            label.check { input type="checkbox" name="apply_daily" value="on" checked[daily]; " " (t(lang, "apply_daily")) }
            label for="schedule-note" { (t(lang, "note")) }
            input id="schedule-note" name="note" maxlength="500";
            button type="submit" { (t(lang, "save_schedule")) }
        }
        h2 { (t(lang, "run_now")) }
        form.inline method="post" action="/privacy/retention" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            input type="hidden" name="apply" value="false";
            button type="submit" { (t(lang, "dry_run")) }
        }
        details.danger {
            summary { (t(lang, "apply_now")) }
            p role="note" { (t(lang, "apply_warning")) }
            form method="post" action="/privacy/retention" {
                input type="hidden" name="csrf_token" value=(who.csrf_token);
                input type="hidden" name="apply" value="true";
                button.danger type="submit" { (t(lang, "confirm_apply")) }
            }
        }
        h2 { (t(lang, "last_runs")) }
        @if runs.is_empty() { p.muted { (t(lang, "none")) } }
        @for run in runs.iter().take(10) {
            h3 { (when(run.at)) " · " (if run.applied { t(lang, "applied") } else { t(lang, "dry_run") }) " · " (actor_name(&names, &run.run_by)) }
            (run_table(lang, run))
        }
    };
    ok_page(lang, t(lang, "retention"), who, body)
}

fn run_table(lang: &str, run: &RunReport) -> Markup {
    html! {
        @if let Some(h) = &run.stopped_by_hold { p.error { (t(lang, "stopped_by_hold")) " " (h) } }
        @if !run.categories.is_empty() {
            table.runs {
                thead { tr { th scope="col" { (t(lang, "category")) } th scope="col" { (if run.applied { t(lang, "removed") } else { t(lang, "would_go") }) } th scope="col" { (t(lang, "kept_by_hold")) } } }
                tbody { @for (k, v) in &run.categories { tr { th scope="row" { code { (k) } } td { (v.go) } td { (v.held) } } } }
            }
        }
        @for n in &run.notes { p.muted { (n) } }
    }
}

pub(super) async fn retention_submit(
    State(s): State<AppState>,
    SignedForm { who, form }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let apply = form.get("apply").map(String::as_str) == Some("true");
    match crate::privacy::retention::run(&s.app, &who.actor, apply, now_ms()).await {
        Ok(run) => {
            let outcome = Outcome {
                last: Some(&run),
                ..Outcome::default()
            };
            render_retention(&s, &who, &lang, outcome).await
        }
        Err(e) => {
            let outcome = Outcome {
                error: Some(&e.message),
                ..Outcome::default()
            };
            render_retention(&s, &who, &lang, outcome).await
        }
    }
}

/// The schedule as the form gives it, or the sentence saying which field is wrong.
fn schedule_of(
    form: &std::collections::HashMap<String, String>,
    mut schedule: crate::privacy::retention::Schedule,
) -> Result<crate::privacy::retention::Schedule, String> {
    let number = |name: &str| -> Result<Option<u32>, String> {
        match form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("`{name}` must be a whole number, or empty to keep the data")),
        }
    };
    schedule.inactive_customers_months = number("inactive_customers_months")?;
    schedule.interactions_months = number("interactions_months")?;
    schedule.decision_log_months = number("decision_log_months")?;
    schedule.audit_months = number("audit_months")?;
    schedule.request_log_months = number("request_log_months")?;
    schedule.export_archives_days = number("export_archives_days")?;
    schedule.apply_daily = form.contains_key("apply_daily");
    let mut collections = std::collections::BTreeMap::new();
    for line in form
        .get("plugin_documents")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let parsed = line
            .split_once(char::is_whitespace)
            .and_then(|(k, m)| Some((k.to_string(), m.trim().parse::<u32>().ok()?)));
        let Some((key, months)) = parsed else {
            return Err(format!(
                "`plugin_documents_months`: write one `plugin/collection months` a line, not `{}`",
                line.chars().take(80).collect::<String>()
            ));
        };
        collections.insert(key, months);
    }
    schedule.plugin_documents_months = collections;
    Ok(schedule)
}

pub(super) async fn schedule_submit(
    State(s): State<AppState>,
    SignedForm { who, form }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let current = match settings::get(&s.app, &who.actor).await {
        Ok(v) => v,
        Err(e) => return error_page(&lang, Some(&who), &e),
    };
    let refused = |message: String| {
        let (s, who, lang, form) = (&s, &who, &lang, &form);
        async move {
            let outcome = Outcome {
                error: Some(&message),
                draft: Some(form),
                ..Outcome::default()
            };
            render_retention(s, who, lang, outcome).await
        }
    };
    let schedule = match schedule_of(&form, current.retention.clone()) {
        Ok(v) => v,
        Err(m) => return refused(m).await,
    };
    let new = settings::Settings {
        retention: schedule,
        ..current
    };
    let note = form.get("note").cloned().unwrap_or_default();
    match settings::put(&s.app, &who.actor, &new, &note, now_ms()).await {
        Ok(_) => Redirect::to("/privacy/retention?saved=1").into_response(),
        Err(e) => refused(e.message).await,
    }
}
