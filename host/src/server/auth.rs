//! Sessions on the HTTP side: sign-in, the `Authenticated` extractor, cookies and CSRF.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::app::{Actor, App};
use crate::audit;
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::store::now_ms;

pub const SESSION_COOKIE: &str = "crm_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in request. For cookie sessions, unsafe methods must carry the CSRF token
/// (API: `X-CSRF-Token` header; web forms check their `csrf_token` field themselves).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub token_hash: String,
    pub csrf_token: String,
    pub via_cookie: bool,
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

/// Finds the live session or API token behind `token`.
pub async fn session_actor(app: &App, token: &str) -> AppResult<(Actor, String, String)> {
    let hash = auth::token_hash(token);
    let s = app
        .store
        .session(&hash)
        .await?
        .ok_or_else(|| AppError::unauthorized("the session or token is not valid"))?;
    if s.revoked_at.is_some() {
        return Err(AppError::unauthorized(
            "the session has been signed out or revoked",
        ));
    }
    if s.expires_at <= now_ms() {
        return Err(AppError::unauthorized(
            "the session has expired; sign in again",
        ));
    }
    let actor = Actor {
        tenant_id: s.tenant_id,
        user_id: s.user_id,
        username: s.username,
        role: s.role,
        mfa: s.mfa != 0,
        lang: s.lang,
        via_plugin: None,
        service: None,
    };
    Ok((actor, hash, s.csrf_token))
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
        let (actor, token_hash, csrf_token) = session_actor(&state.app, &token).await?;
        let me = Self {
            actor,
            token_hash,
            csrf_token,
            via_cookie,
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let is_api = parts.uri.path().starts_with("/api/");
        if via_cookie && !safe && is_api {
            let submitted = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !me.csrf_ok(submitted) {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong CSRF token (send the X-CSRF-Token header)",
                ));
            }
        }
        Ok(me)
    }
}

/// Failed sign-ins per client address: a source with too many failures in a window is refused for
/// the rest of it, whichever usernames it tries (per-account throttling cannot see spraying).
pub struct SourceThrottle {
    failures: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (i64, u32)>>,
}

/// Failures one address may make in one window.
const SOURCE_MAX_FAILURES: u32 = 30;
const SOURCE_WINDOW_MS: i64 = 10 * 60 * 1000;

impl SourceThrottle {
    pub fn new() -> Self {
        Self {
            failures: Default::default(),
        }
    }

    fn check(&self, ip: std::net::IpAddr, now: i64) -> AppResult<()> {
        let map = self.failures.lock().map_err(|_| AppError::internal())?;
        if let Some((start, n)) = map.get(&ip)
            && now - start < SOURCE_WINDOW_MS
            && *n >= SOURCE_MAX_FAILURES
        {
            let mut e = AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "too many failed sign-ins from this address; try again later",
            );
            e.retry_after = Some(((start + SOURCE_WINDOW_MS - now) / 1000 + 1) as u64);
            return Err(e);
        }
        Ok(())
    }

    fn failed(&self, ip: std::net::IpAddr, now: i64) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (start, _)| now - *start < SOURCE_WINDOW_MS);
            }
            let e = map.entry(ip).or_insert((now, 0));
            if now - e.0 >= SOURCE_WINDOW_MS {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }
}

impl Default for SourceThrottle {
    fn default() -> Self {
        Self::new()
    }
}

/// Sign-in with the per-address throttle around it.
pub async fn sign_in_from(
    state: &AppState,
    source: std::net::IpAddr,
    tenant_slug: &str,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> AppResult<NewSession> {
    let now = now_ms();
    state.throttle.check(source, now)?;
    let result = sign_in(&state.app, tenant_slug, username, password, totp).await;
    if let Err(e) = &result
        && e.status == StatusCode::UNAUTHORIZED
        && e.code != "mfa_required"
    {
        state.throttle.failed(source, now);
    }
    result
}

/// A new session, as returned to the client.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
    pub actor: Actor,
}

/// Checks credentials (with throttling, lockout and TOTP) and opens a session.
pub async fn sign_in(
    app: &App,
    tenant_slug: &str,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> AppResult<NewSession> {
    let invalid = || AppError::unauthorized("invalid tenant, username or password");
    let Some(tenant) = app.store.tenant_by_slug(tenant_slug).await? else {
        auth::dummy_verify(password);
        return Err(invalid());
    };
    let Some(user) = app.store.user_by_name(&tenant.id, username).await? else {
        auth::dummy_verify(password);
        return Err(invalid());
    };
    let now = now_ms();
    let audit_event = |decision: &str, reason: &str| audit::Event {
        actor: format!("user:{}", user.id),
        action: "session.create".into(),
        resource: format!("user/{}", user.id),
        decision: decision.into(),
        policy_version: String::new(),
        detail: serde_json::json!({"reason": reason}),
    };
    if user.locked_until > now {
        app.audit
            .record(&tenant.id, &audit_event("deny", "locked"))
            .await?;
        let mut e = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked",
            "too many failed sign-ins: the account is locked for 15 minutes",
        );
        e.retry_after = Some(((user.locked_until - now) / 1000 + 1) as u64);
        return Err(e);
    }
    if user.next_attempt_at > now {
        let mut e = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!(
                "too many failed sign-ins: wait {} s before trying again",
                (user.next_attempt_at - now) / 1000 + 1
            ),
        );
        e.retry_after = Some(((user.next_attempt_at - now) / 1000 + 1) as u64);
        return Err(e);
    }
    let password_ok = auth::verify_password(password, &user.password_hash);
    let mut totp_step = 0;
    let mut failure = if password_ok {
        None
    } else {
        Some(("bad_password", invalid()))
    };
    if failure.is_none()
        && let Some(sealed) = &user.totp_secret
    {
        let secret = app.open_totp(&tenant.id, &user.id, sealed).await?;
        match totp.map(str::trim).filter(|c| !c.is_empty()) {
            None => {
                // Not a failed attempt: the client just learns a code is needed.
                return Err(AppError::new(
                    StatusCode::UNAUTHORIZED,
                    "mfa_required",
                    "this account uses two-factor sign-in: send the current code as `totp`",
                ));
            }
            Some(code) => match auth::check_totp(&secret, code, user.totp_last_step) {
                Some(step) => totp_step = step,
                None => {
                    failure = Some((
                        "bad_totp",
                        AppError::new(
                            StatusCode::UNAUTHORIZED,
                            "invalid_totp",
                            "the two-factor code is wrong or was already used",
                        ),
                    ))
                }
            },
        }
    }
    if let Some((reason, err)) = failure {
        let (n, next, locked) = auth::throttle_after_failure(user.failed_attempts, now);
        app.store
            .record_login_failure(&user.id, n, next, locked)
            .await?;
        app.audit
            .record(&tenant.id, &audit_event("deny", reason))
            .await?;
        return Err(err);
    }
    app.store.record_login_success(&user.id, totp_step).await?;
    let token = auth::random_token("crm_s_");
    let csrf_token = auth::random_token("");
    let expires_at = now + auth::SESSION_TTL_MS;
    let mfa = user.totp_secret.is_some();
    app.store
        .insert_session(
            &auth::token_hash(&token),
            &tenant.id,
            &user.id,
            "session",
            "",
            &csrf_token,
            mfa,
            now,
            expires_at,
        )
        .await?;
    app.audit
        .record(
            &tenant.id,
            &audit_event("allow", if mfa { "password+totp" } else { "password" }),
        )
        .await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
        actor: Actor {
            tenant_id: tenant.id,
            user_id: user.id,
            username: user.username,
            role: user.role,
            mfa,
            lang: user.lang,
            via_plugin: None,
            service: None,
        },
    })
}

/// Revokes the session behind a request and audits it.
pub async fn sign_out(app: &App, who: &Authenticated) -> AppResult<()> {
    app.store.revoke_session(&who.token_hash, now_ms()).await?;
    app.audit
        .record(
            &who.actor.tenant_id,
            &audit::Event {
                actor: who.actor.audit_name(),
                action: "session.delete".into(),
                resource: format!("user/{}", who.actor.user_id),
                decision: "allow".into(),
                policy_version: String::new(),
                detail: serde_json::json!({}),
            },
        )
        .await?;
    Ok(())
}

fn self_resource(who: &Authenticated) -> crate::policy::Resource {
    crate::policy::Resource {
        kind: "user".into(),
        tenant: who.actor.tenant_id.clone(),
        id: Some(who.actor.user_id.clone()),
        fields: None,
    }
}

/// Starts two-factor enrolment: a new secret, kept pending until confirmed. Returns the secret
/// and its `otpauth://` URL.
pub async fn mfa_start(app: &App, who: &Authenticated) -> AppResult<(String, String)> {
    app.authorize(
        &who.actor,
        "self.mfa.enroll",
        self_resource(who),
        serde_json::json!({}),
    )
    .await?;
    let secret = auth::new_totp_secret();
    let sealed = app
        .seal_totp(&who.actor.tenant_id, &who.actor.user_id, &secret)
        .await?;
    let user = app
        .store
        .user_by_id(&who.actor.tenant_id, &who.actor.user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("the user no longer exists"))?;
    app.store
        .set_totp(&user.id, user.totp_secret.as_deref(), Some(&sealed))
        .await?;
    let url = auth::totp_url(&secret, &who.actor.username)?;
    Ok((secret, url))
}

/// Confirms a pending enrolment with a current code; from then on sign-in needs a code.
pub async fn mfa_confirm(app: &App, who: &Authenticated, code: &str) -> AppResult<()> {
    app.authorize(
        &who.actor,
        "self.mfa.enroll",
        self_resource(who),
        serde_json::json!({}),
    )
    .await?;
    let user = app
        .store
        .user_by_id(&who.actor.tenant_id, &who.actor.user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("the user no longer exists"))?;
    let Some(pending) = user.totp_pending else {
        return Err(AppError::bad_request(
            "no_enrolment",
            "start enrolment first",
        ));
    };
    let secret = app.open_totp(&user.tenant_id, &user.id, &pending).await?;
    if auth::check_totp(&secret, code, 0).is_none() {
        return Err(AppError::bad_request(
            "invalid_totp",
            "the code does not match the new secret",
        ));
    }
    app.store.set_totp(&user.id, Some(&pending), None).await?;
    app.audit
        .record(
            &user.tenant_id,
            &audit::Event {
                actor: who.actor.audit_name(),
                action: "self.mfa.enroll".into(),
                resource: format!("user/{}", user.id),
                decision: "allow".into(),
                policy_version: app.pdp.version().to_string(),
                detail: serde_json::json!({}),
            },
        )
        .await?;
    Ok(())
}
