//! The staff web pages: server-rendered HTML (maud escapes every value), no script at all.
//!
//! This module holds the router and what every screen shares (the page layout, error pages, the
//! form extractors); each screen group has its own module, and the UI's texts are in the
//! catalogues of [`i18n`].

mod account;
mod apps;
mod customers;
mod i18n;
mod policies;
mod privacy;
mod sign_in;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use super::AppState;
use super::auth::Authenticated;
use super::error::HttpStatus;
use crate::error::{AppError, ErrorKind};
use i18n::t;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/customers") }))
        .route(
            "/login",
            get(sign_in::login_page).post(sign_in::login_submit),
        )
        .route("/logout", post(sign_in::logout))
        .route("/lang", post(sign_in::set_lang))
        .route("/customers", get(customers::customer_list))
        .route("/customers/{id}", get(customers::customer_detail))
        .route(
            "/customers/{id}/interactions",
            post(customers::interaction_submit),
        )
        .route(
            "/policies",
            get(policies::policies_page).post(policies::policies_submit),
        )
        .route("/decisions", get(policies::decisions_page))
        .route("/privacy", get(privacy::queue_page))
        .route("/privacy/requests", post(privacy::open_submit))
        .route("/privacy/requests/{id}", get(privacy::request_page))
        .route("/privacy/requests/{id}/steps", post(privacy::step_submit))
        .route(
            "/privacy/requests/{id}/exports",
            post(privacy::export_submit),
        )
        .route(
            "/privacy/exports/{id}/archive",
            get(privacy::archive_download),
        )
        .route(
            "/privacy/holds",
            get(privacy::holds_page).post(privacy::hold_submit),
        )
        .route("/privacy/holds/{id}/release", post(privacy::release_submit))
        .route(
            "/privacy/retention",
            get(privacy::retention_page).post(privacy::retention_submit),
        )
        .route(
            "/privacy/retention/schedule",
            post(privacy::schedule_submit),
        )
        .route("/account", get(account::account_page))
        .route("/account/mfa", post(account::account_mfa_start))
        .route("/account/mfa/confirm", post(account::account_mfa_confirm))
        .route(
            "/account/sign-out-everywhere",
            post(account::account_sign_out_everywhere),
        )
        .route("/apps", get(apps::apps))
        .route("/apps/{plugin}/{screen}", get(apps::show).post(apps::act))
        .route("/static/app.css", get(css))
}

fn layout(lang: &str, title: &str, who: Option<&Authenticated>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang == "zh" { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "app")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/customers" { (t(lang, "app")) }
                        @if let Some(w) = who {
                            a href="/customers" { (t(lang, "customers")) }
                            a href="/apps" { (t(lang, "apps")) }
                            @if w.actor.role == "admin" || w.actor.role == "compliance" {
                                a href="/policies" { (t(lang, "policies")) }
                                a href="/decisions" { (t(lang, "decisions")) }
                                a href="/privacy" { (t(lang, "privacy")) }
                            }
                            a.who href="/account" { (t(lang, "signed_in_as")) " " (w.actor.username) " · " (w.actor.role) }
                            form.inline method="post" action="/lang" {
                                input type="hidden" name="csrf_token" value=(w.csrf_token);
                                input type="hidden" name="lang" value=(if lang == "zh" { "en" } else { "zh" });
                                button type="submit" { (t(lang, "language")) }
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf_token" value=(w.csrf_token);
                                button type="submit" { (t(lang, "sign_out")) }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

pub fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        layout(
            "en",
            "Not found",
            None,
            html! { h1 { "Not found" } p { a href="/customers" { "Back" } } },
        ),
    )
}

fn error_page(lang: &str, who: Option<&Authenticated>, e: &AppError) -> Response {
    page(
        e.status(),
        layout(
            lang,
            "Error",
            who,
            html! {
                h1 { (e.status().canonical_reason().unwrap_or("Error")) }
                p.error role="alert" { (e.message) }
                p { a href="/customers" { (t(lang, "back")) } }
            },
        ),
    )
}

/// An urlencoded form body, limited like every body.
pub struct FormData(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::bad_request("bad_body", "the form could not be read"))?;
        Ok(Self(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }
}

/// A form posted by a signed-in user with the right CSRF token. Signed-out browsers are sent to the
/// sign-in page; a missing or wrong token gets a 403 page. Every state-changing web form uses it.
pub struct SignedForm {
    pub who: Authenticated,
    pub form: HashMap<String, String>,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let Ok(who) = Authenticated::from_request_parts(&mut parts, state).await else {
            return Err(Redirect::to("/login").into_response());
        };
        let FormData(form) = FormData::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| error_page(&who.actor.lang, Some(&who), &e))?;
        if !who.csrf_ok(form.get("csrf_token").map(String::as_str)) {
            let e = AppError::new(
                ErrorKind::Forbidden,
                "csrf",
                "missing or wrong CSRF token; reload the page and try again",
            );
            return Err(error_page(&who.actor.lang, Some(&who), &e));
        }
        Ok(Self { who, form })
    }
}

/// The language a page is shown in: `?lang=` (or a form's `lang`) if it names one, else the
/// member's, else English.
fn lang_of(who: Option<&Authenticated>, q: &HashMap<String, String>) -> String {
    match q.get("lang").map(String::as_str) {
        Some("zh") => "zh".into(),
        Some("en") => "en".into(),
        _ => who
            .map(|w| w.actor.lang.clone())
            .unwrap_or_else(|| "en".into()),
    }
}

fn query_map(uri: &axum::http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}
