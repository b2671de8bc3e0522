//! The account screen: two-factor sign-in (enrolment and re-enrolment with the password and the
//! current second factor checked again), recovery codes, and signing out everywhere.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{SignedForm, error_page, layout, page, sign_in, t};
use crate::error::AppError;
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::server::error::HttpStatus;

pub(super) async fn account_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    render_account(&s, &who, AccountNote::None).await
}

/// What the account screen shows besides the member's state.
enum AccountNote {
    None,
    /// A freshly started enrolment: secret and otpauth URL.
    Pending(String, String),
    /// Recovery codes just issued (shown once).
    Codes(Vec<String>),
    Error(String),
}

async fn render_account(s: &AppState, who: &Authenticated, note: AccountNote) -> Response {
    let lang = who.actor.lang.clone();
    let lang = lang.as_str();
    let enrolled = match crate::sessions::two_factor_enrolled(&s.app, &who.actor).await {
        Ok(Some(enrolled)) => enrolled,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let left = if enrolled {
        crate::sessions::recovery_codes_left(&s.app, &who.actor)
            .await
            .unwrap_or(0)
    } else {
        0
    };
    let body = html! {
        h1 { (t(lang, "account")) }
        p { (who.actor.username) " · " (who.actor.role) }
        @if let AccountNote::Error(e) = &note { p.error role="alert" { (e) } }
        (two_factor(lang, who, enrolled, left, &note))
        h2 { (t(lang, "sign_out_everywhere")) }
        form method="post" action="/account/sign-out-everywhere" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            p.muted { (t(lang, "sign_out_everywhere_help")) }
            button type="submit" { (t(lang, "sign_out_everywhere")) }
        }
    };
    page(
        StatusCode::OK,
        layout(lang, t(lang, "account"), Some(who), body),
    )
}

/// The two-factor section: the code to confirm a pending enrolment, else the member's state with
/// the recovery codes (just issued, or how many are left) and the form to (re-)enrol.
fn two_factor(
    lang: &str,
    who: &Authenticated,
    enrolled: bool,
    left: i64,
    note: &AccountNote,
) -> Markup {
    html! {
        @if let AccountNote::Pending(secret, url) = note {
            p { (t(lang, "mfa_scan")) }
            p { code { (secret) } }
            p.muted { code { (url) } }
            form method="post" action="/account/mfa/confirm" {
                input type="hidden" name="csrf_token" value=(who.csrf_token);
                label for="code" { (t(lang, "code")) }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
                button type="submit" { (t(lang, "confirm")) }
            }
        } @else if enrolled {
            p.ok { (t(lang, "mfa_on")) }
            @if let AccountNote::Codes(codes) = note {
                p role="status" { (t(lang, "recovery_codes")) }
                ul.codes { @for c in codes { li { code { (c) } } } }
            } @else {
                p { (t(lang, "recovery_left")) ": " (left) }
            }
            (reauth(lang, who, enrolled, "/account/mfa", t(lang, "mfa_change")))
        } @else {
            p { (t(lang, "mfa_off")) }
            (reauth(lang, who, enrolled, "/account/mfa", t(lang, "mfa_setup")))
        }
    }
}

/// A form that asks for the password again (and the current second factor, once enrolled).
fn reauth(lang: &str, who: &Authenticated, enrolled: bool, action: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            p.muted { (t(lang, "mfa_reauth")) }
            label for="password" { (t(lang, "password")) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            @if enrolled {
                label for="current" { (t(lang, "current_code")) }
                input id="current" name="current" autocomplete="one-time-code" required;
            }
            button type="submit" { (label) }
        }
    }
}

pub(super) async fn account_mfa_start(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let current = f.get("current").map(String::as_str);
    match crate::sessions::mfa_start(&s.app, &who, password, current).await {
        Ok((secret, url)) => render_account(&s, &who, AccountNote::Pending(secret, url)).await,
        Err(e) if e.status().is_client_error() => {
            render_account(&s, &who, AccountNote::Error(e.message)).await
        }
        Err(e) => error_page(&who.actor.lang, Some(&who), &e),
    }
}

pub(super) async fn account_mfa_confirm(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let code = f.get("code").map(String::as_str).unwrap_or("");
    match crate::sessions::mfa_confirm(&s.app, &who, code).await {
        Ok(codes) => render_account(&s, &who, AccountNote::Codes(codes)).await,
        Err(e) => render_account(&s, &who, AccountNote::Error(e.message)).await,
    }
}

pub(super) async fn account_sign_out_everywhere(
    State(s): State<AppState>,
    SignedForm { who, .. }: SignedForm,
) -> Response {
    if let Err(e) = crate::sessions::sign_out_everywhere(&s.app, &who).await {
        return error_page(&who.actor.lang, Some(&who), &e);
    }
    sign_in::signed_out(&s)
}
