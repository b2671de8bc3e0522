//! Sessions on the HTTP side: the `Authenticated` extractor, cookies and CSRF.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};

use crate::app::Channel;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::error::{AppError, ErrorKind};
use crate::sessions::{self, Session};

pub const SESSION_COOKIE: &str = "crm_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in request (a [`Session`], through `Deref`). For cookie sessions, unsafe methods must
/// carry the CSRF token (API: `X-CSRF-Token` header; web forms check their `csrf_token` field
/// themselves).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub via_cookie: bool,
}

impl std::ops::Deref for Authenticated {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Authenticated {
    /// Constant-time comparison of a submitted CSRF token.
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|s| bool::from(s.as_bytes().ct_eq(self.csrf_token.as_bytes())))
    }
}

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, and Secure on TLS.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, tls: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if tls { "; Secure" } else { "" }
    )
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let (token, via_cookie) = match bearer {
            Some(t) => (t, false),
            None => match cookie_value(parts, SESSION_COOKIE) {
                Some(t) => (t, true),
                None => {
                    return Err(AppError::unauthorized(
                        "sign in first (session cookie or Bearer token)",
                    ));
                }
            },
        };
        let is_api = parts.uri.path().starts_with("/api/");
        let mut session = sessions::authenticate(&state.app, &token).await?;
        if !is_api {
            session.actor.channel = Channel::Web;
        }
        let me = Self {
            session,
            via_cookie,
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe && is_api {
            let submitted = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !me.csrf_ok(submitted) {
                return Err(AppError::new(
                    ErrorKind::Forbidden,
                    "csrf",
                    "missing or wrong CSRF token (send the X-CSRF-Token header)",
                ));
            }
        }
        Ok(me)
    }
}
