//! Signing in and out, and switching the UI's language.

use std::collections::HashMap;

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::{FormData, SignedForm, error_page, lang_of, layout, page, query_map, t};
use crate::auth;
use crate::server::AppState;
use crate::server::auth::{SESSION_COOKIE, cookie_value, set_cookie};
use crate::server::error::HttpStatus;

const LOGIN_CSRF_COOKIE: &str = "crm_login_csrf";

pub(super) async fn login_page(uri: axum::http::Uri, s: State<AppState>) -> Response {
    login_form(&s, &lang_of(None, &query_map(&uri)), None, StatusCode::OK)
}

fn login_form(s: &AppState, lang: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = auth::random_token("");
    let cookie = set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, s.tls);
    let body = html! {
        section.card.narrow {
            h1 { (t(lang, "sign_in")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="lang" value=(lang);
                label for="tenant" { (t(lang, "tenant")) }
                input id="tenant" name="tenant" required autocomplete="organization";
                label for="username" { (t(lang, "username")) }
                input id="username" name="username" required autocomplete="username";
                label for="password" { (t(lang, "password")) }
                input id="password" name="password" type="password" required autocomplete="current-password";
                label for="totp" { (t(lang, "totp")) }
                input id="totp" name="totp" autocomplete="one-time-code" maxlength="12";
                button type="submit" { (t(lang, "sign_in")) }
            }
            p { a href=(if lang == "zh" { "/login?lang=en" } else { "/login?lang=zh" }) { (t(lang, "language")) } }
        }
    };
    let mut resp = page(status, layout(lang, t(lang, "sign_in"), None, body));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// What the sign-in form asks for, trimmed (the password as typed).
struct Credentials {
    tenant: String,
    username: String,
    password: String,
    totp: String,
}

impl Credentials {
    /// The form's fields, or `None` when one is missing or too long.
    fn of(f: &HashMap<String, String>) -> Option<Self> {
        let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let c = Self {
            tenant: get("tenant"),
            username: get("username"),
            password: f.get("password").cloned().unwrap_or_default(),
            totp: get("totp"),
        };
        let bad = c.tenant.is_empty()
            || c.username.is_empty()
            || c.password.is_empty()
            || c.tenant.len() > 64
            || c.username.len() > 64
            || c.password.len() > 256;
        (!bad).then_some(c)
    }
}

pub(super) async fn login_submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let cookie_csrf = cookie_value(&parts, LOGIN_CSRF_COOKIE);
    let Ok(FormData(f)) = FormData::from_request(Request::from_parts(parts, body), &s).await else {
        return login_form(
            &s,
            "en",
            Some("The form could not be read."),
            StatusCode::BAD_REQUEST,
        );
    };
    let lang = lang_of(None, &f);
    let csrf_ok = cookie_csrf
        .as_deref()
        .is_some_and(|c| !c.is_empty() && f.get("csrf_token").map(String::as_str) == Some(c));
    if !csrf_ok {
        return login_form(
            &s,
            &lang,
            Some("The sign-in form expired (missing CSRF token). Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(c) = Credentials::of(&f) else {
        return login_form(
            &s,
            &lang,
            Some("Enter organisation, username and password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let totp = Some(c.totp.as_str()).filter(|c| !c.is_empty());
    match crate::sessions::sign_in(&s.app, peer.ip(), &c.tenant, &c.username, &c.password, totp)
        .await
    {
        Ok(session) => signed_in(&s, &session.token),
        Err(e) => login_form(&s, &lang, Some(&e.message), e.status()),
    }
}

/// To the customer list with the session cookie, the sign-in form's CSRF cookie cleared.
fn signed_in(s: &AppState, token: &str) -> Response {
    let cookie = set_cookie(SESSION_COOKIE, token, auth::SESSION_TTL_MS / 1000, s.tls);
    let clear = set_cookie(LOGIN_CSRF_COOKIE, "", 0, s.tls);
    let mut resp = Redirect::to("/customers").into_response();
    for c in [cookie, clear] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

pub(super) async fn logout(
    State(s): State<AppState>,
    SignedForm { who, .. }: SignedForm,
) -> Response {
    if let Err(e) = crate::sessions::sign_out(&s.app, &who).await {
        return error_page(&who.actor.lang, Some(&who), &e);
    }
    signed_out(&s)
}

/// To the sign-in page with the session cookie cleared.
pub(super) fn signed_out(s: &AppState) -> Response {
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0, s.tls).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub(super) async fn set_lang(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let lang = if f.get("lang").map(String::as_str) == Some("zh") {
        "zh"
    } else {
        "en"
    };
    if let Err(e) = crate::sessions::set_lang(&s.app, &who.actor, lang).await {
        return error_page(lang, Some(&who), &e);
    }
    Redirect::to("/customers").into_response()
}
