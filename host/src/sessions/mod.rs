//! Staff sessions: sign-in (password, second factor, and throttles that hold under concurrency),
//! sign-out, two-factor enrolment with recovery codes, and API tokens. The API, the web screens
//! and the CLI call these; each authorises first where the policy decides, and audits.
//!
//! - Every sign-in claims its attempt before any credential is checked: a reservation on the
//!   client's address ([`App::signin_sources`]) and a compare-and-set on the account's counter
//!   (`signin_throttles`, keyed by tenant and username whether or not the account exists, so an
//!   unknown username is answered and throttled exactly as a real one).
//! - A TOTP code is used by a conditional update of the account's last step, a recovery code by a
//!   conditional update of the code: a code signs in once, however many requests carry it.

use std::net::IpAddr;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::app::{Actor, App};
use crate::audit;
use crate::auth;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::{Decision, Resource};
use crate::store::{SigninRefusal, TokenRow, UserRow, now_ms};

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A browser or API sign-in with the password (and second factor).
    Session,
    /// An API token made from such a session.
    Token,
}

impl Kind {
    fn of(stored: &str) -> Self {
        if stored == "api" {
            Kind::Token
        } else {
            Kind::Session
        }
    }
}

/// A live session or API token, as a request presents it.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub token_hash: String,
    pub csrf_token: String,
    pub kind: Kind,
}

/// Finds the live session or API token behind `token`.
pub async fn authenticate(app: &App, token: &str) -> AppResult<Session> {
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
    Ok(Session {
        actor: Actor {
            tenant_id: s.tenant_id,
            user_id: s.user_id,
            username: s.username,
            role: s.role,
            mfa: s.mfa != 0,
            lang: s.lang,
            via_plugin: None,
            service: None,
            channel: Default::default(),
            operator: None,
        },
        token_hash: hash,
        csrf_token: s.csrf_token,
        kind: Kind::of(&s.kind),
    })
}

/// A new session, as returned to the client.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
    pub actor: Actor,
}

/// The account's throttle key: a digest of tenant and username (the name is not stored).
fn throttle_key(tenant_slug: &str, username: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant_slug.to_lowercase().as_bytes());
    h.update([0]);
    h.update(username.as_bytes());
    hex::encode(h.finalize())
}

fn too_many(code: &'static str, message: String, until: i64, now: i64) -> AppError {
    let mut e = AppError::new(ErrorKind::Throttled, code, message);
    e.retry_after = Some(((until - now).max(0) / 1000 + 1) as u64);
    e
}

/// Claims an attempt on the account's counter, or answers 429 (locked or throttled).
async fn claim_attempt(app: &App, key: &str, now: i64) -> AppResult<()> {
    match app
        .store
        .claim_signin(key, now, auth::throttle_after_failure)
        .await?
    {
        Ok(()) => Ok(()),
        Err(SigninRefusal::Locked(until)) => Err(too_many(
            "locked",
            "too many failed sign-ins: the account is locked for 15 minutes".into(),
            until,
            now,
        )),
        Err(SigninRefusal::Throttled(until)) => Err(too_many(
            "throttled",
            format!(
                "too many failed sign-ins: wait {} s before trying again",
                (until - now) / 1000 + 1
            ),
            until,
            now,
        )),
    }
}

/// Argon2 takes tens of milliseconds of CPU: off the async workers.
async fn password_matches(password: &str, hash: Option<&str>) -> bool {
    let (password, hash) = (password.to_string(), hash.map(str::to_string));
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => auth::verify_password(&password, &h),
        None => {
            auth::dummy_verify(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A sign-in attempt: decided by the password and second factor, before any policy can be asked.
fn session_event(user: &UserRow, action: &str, allow: bool, reason: &str) -> audit::Event {
    audit::Event::without_policy(
        format!("user:{}", user.id),
        action,
        format!("user/{}", user.id),
        allow,
        serde_json::json!({"reason": reason}),
    )
}

/// Signs in from `source`: the address's and the account's attempts are claimed first; the
/// password, then the second factor (a TOTP code or a recovery code) are checked; a session is
/// opened and audited.
pub async fn sign_in(
    app: &App,
    source: IpAddr,
    tenant_slug: &str,
    username: &str,
    password: &str,
    second_factor: Option<&str>,
) -> AppResult<NewSession> {
    let now = now_ms();
    let address = source.to_string();
    if let Err(retry) = app.signin_sources.take(&address, now) {
        let mut e = AppError::new(
            ErrorKind::Throttled,
            "throttled",
            "too many failed sign-ins from this address; try again later",
        );
        e.retry_after = Some(retry);
        return Err(e);
    }
    let result = attempt(app, tenant_slug, username, password, second_factor, now).await;
    // Only a credential found wrong counts against the address.
    let counted = matches!(&result, Err(e) if e.kind == ErrorKind::Unauthenticated
        && e.code != "mfa_required");
    if !counted {
        app.signin_sources.give_back(&address);
    }
    result
}

async fn attempt(
    app: &App,
    tenant_slug: &str,
    username: &str,
    password: &str,
    second_factor: Option<&str>,
    now: i64,
) -> AppResult<NewSession> {
    let key = throttle_key(tenant_slug, username);
    let claimed = claim_attempt(app, &key, now).await;
    let user = match app.store.tenant_by_slug(tenant_slug).await? {
        Some(t) => app.store.user_by_name(&t.id, username).await?,
        None => None,
    };
    if let Err(e) = claimed {
        if let Some(u) = &user
            && e.code == "locked"
        {
            app.audit
                .record(
                    &u.tenant_id,
                    &session_event(u, "session.create", false, "locked"),
                )
                .await?;
        }
        return Err(e);
    }
    let invalid = || AppError::unauthorized("invalid tenant, username or password");
    // Unknown accounts cost the same argon2 time as known ones.
    if !password_matches(password, user.as_ref().map(|u| u.password_hash.as_str())).await {
        if let Some(u) = &user {
            app.audit
                .record(
                    &u.tenant_id,
                    &session_event(u, "session.create", false, "bad_password"),
                )
                .await?;
        }
        return Err(invalid());
    }
    let Some(user) = user else {
        return Err(invalid());
    };
    let how = passed_second_factor(app, &user, second_factor).await?;
    app.store.reset_signin(&key).await?;
    open_session(app, user, how, now).await
}

/// How the member passed sign-in: by password alone when no second factor is enrolled, else by
/// the code sent (a wrong or reused one is audited and refused).
async fn passed_second_factor(
    app: &App,
    user: &UserRow,
    second_factor: Option<&str>,
) -> AppResult<&'static str> {
    Ok(
        match (
            &user.totp_secret,
            second_factor.map(str::trim).filter(|c| !c.is_empty()),
        ) {
            (None, _) => "password",
            // Not a wrong credential: the client learns a code is needed (the attempt still counts
            // until a sign-in succeeds, so this cannot reset the count between guessed codes).
            (Some(_), None) => {
                return Err(AppError::new(
                    ErrorKind::Unauthenticated,
                    "mfa_required",
                    "this account uses two-factor sign-in: send the current code as `totp` (or a \
                 recovery code)",
                ));
            }
            (Some(sealed), Some(code)) => match second_factor_ok(app, user, sealed, code).await? {
                Some(how) => how,
                None => {
                    app.audit
                        .record(
                            &user.tenant_id,
                            &session_event(user, "session.create", false, "bad_second_factor"),
                        )
                        .await?;
                    return Err(AppError::new(
                        ErrorKind::Unauthenticated,
                        "invalid_totp",
                        "the two-factor code is wrong or was already used",
                    ));
                }
            },
        },
    )
}

/// Opens a session for a member who passed sign-in, audited with how they passed.
async fn open_session(app: &App, user: UserRow, how: &str, now: i64) -> AppResult<NewSession> {
    let token = auth::random_token("crm_s_");
    let csrf_token = auth::random_token("");
    let expires_at = now + auth::SESSION_TTL_MS;
    let mfa = user.totp_secret.is_some();
    app.store
        .insert_session(
            &auth::token_hash(&token),
            &user.tenant_id,
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
            &user.tenant_id,
            &session_event(&user, "session.create", true, how),
        )
        .await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
        actor: Actor {
            tenant_id: user.tenant_id,
            user_id: user.id,
            username: user.username,
            role: user.role,
            mfa,
            lang: user.lang,
            via_plugin: None,
            service: None,
            channel: Default::default(),
            operator: None,
        },
    })
}

/// Checks and uses a second factor: a current TOTP code (its step claimed) or an unused
/// recovery code (claimed). Returns how the user passed, or `None`.
async fn second_factor_ok(
    app: &App,
    user: &UserRow,
    sealed_secret: &[u8],
    code: &str,
) -> AppResult<Option<&'static str>> {
    if let Some(normalised) = recovery_code_form(code) {
        let keys = app.tenant_keys(&user.tenant_id).await?;
        let hash = recovery_hash(&keys, &user.id, &normalised);
        return Ok(app
            .store
            .claim_recovery_code(&user.id, &hash, now_ms())
            .await?
            .then_some("password+recovery_code"));
    }
    let secret = app
        .open_totp(&user.tenant_id, &user.id, sealed_secret)
        .await?;
    let Some(step) = auth::check_totp(&secret, code, user.totp_last_step) else {
        return Ok(None);
    };
    Ok(app
        .store
        .claim_totp_step(&user.id, step)
        .await?
        .then_some("password+totp"))
}

/// Revokes the session behind a request and audits it.
pub async fn sign_out(app: &App, session: &Session) -> AppResult<()> {
    app.store
        .revoke_session(&session.token_hash, now_ms())
        .await?;
    audit_self(app, &session.actor, "session.delete", serde_json::json!({})).await
}

/// Revokes every session and API token of the signed-in member, this one included.
pub async fn sign_out_everywhere(app: &App, session: &Session) -> AppResult<u64> {
    let n = app
        .store
        .revoke_user_sessions(&session.actor.user_id, &["session", "api"], None, now_ms())
        .await?;
    audit_self(
        app,
        &session.actor,
        "session.delete_all",
        serde_json::json!({"revoked": n}),
    )
    .await?;
    Ok(n)
}

/// What members may always do to their own sessions and factors (sign out, re-authenticate,
/// enrol a second factor): no policy is asked, so the record names none.
async fn audit_self(
    app: &App,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
) -> AppResult<()> {
    let resource = format!("user/{}", actor.user_id);
    let event = audit::Event::without_policy(actor.audit_name(), action, resource, true, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(())
}

fn self_resource(actor: &Actor) -> Resource {
    user_resource(actor, &actor.user_id)
}

fn user_resource(actor: &Actor, user_id: &str) -> Resource {
    Resource {
        attributes: None,
        kind: "user".into(),
        tenant: actor.tenant_id.clone(),
        id: Some(user_id.to_string()),
        fields: None,
    }
}

/// The use case adds nothing to the input's context (the channel is the actor's).
fn ctx() -> serde_json::Value {
    serde_json::json!({})
}

/// Changing the second factor needs a browser sign-in: an API token cannot (it cannot prove the
/// password), nor mint tokens.
fn require_signed_in(session: &Session, what: &str) -> AppResult<()> {
    if session.kind == Kind::Token {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "token_not_allowed",
            format!("{what} needs a signed-in session, not an API token"),
        ));
    }
    Ok(())
}

/// Checks the member's password again (and, when enrolled, a current code or a recovery code),
/// as a sign-in attempt: claimed on the same counter, so it cannot be used to guess either.
async fn reauthenticate(
    app: &App,
    session: &Session,
    user: &UserRow,
    password: &str,
    second_factor: Option<&str>,
) -> AppResult<()> {
    let tenant = app
        .store
        .tenant_by_id(&user.tenant_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("the tenant no longer exists"))?;
    let key = throttle_key(&tenant.slug, &user.username);
    let now = now_ms();
    claim_attempt(app, &key, now).await?;
    let wrong = |m: &str| AppError::new(ErrorKind::Forbidden, "reauthentication_failed", m);
    if !password_matches(password, Some(&user.password_hash)).await {
        audit_self(
            app,
            &session.actor,
            "self.reauthenticate",
            serde_json::json!({"ok": false}),
        )
        .await?;
        return Err(wrong("the password is wrong"));
    }
    if let Some(sealed) = &user.totp_secret {
        let Some(code) = second_factor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(wrong(
                "two-factor sign-in is on: give a current code (or a recovery code) as well",
            ));
        };
        if second_factor_ok(app, user, sealed, code).await?.is_none() {
            audit_self(
                app,
                &session.actor,
                "self.reauthenticate",
                serde_json::json!({"ok": false}),
            )
            .await?;
            return Err(wrong("the two-factor code is wrong or was already used"));
        }
    }
    app.store.reset_signin(&key).await?;
    Ok(())
}

async fn own_user(app: &App, actor: &Actor) -> AppResult<UserRow> {
    app.store
        .user_by_id(&actor.tenant_id, &actor.user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("the user no longer exists"))
}

/// Starts two-factor enrolment (or re-enrolment): the password, and the current second factor
/// when there is one, are checked again; a new secret is kept pending until confirmed. Returns
/// the secret and its `otpauth://` URL.
pub async fn mfa_start(
    app: &App,
    session: &Session,
    password: &str,
    second_factor: Option<&str>,
) -> AppResult<(String, String)> {
    require_signed_in(session, "changing two-factor sign-in")?;
    let actor = &session.actor;
    app.authorize(actor, "self.mfa.enroll", self_resource(actor), ctx())
        .await?;
    let user = own_user(app, actor).await?;
    reauthenticate(app, session, &user, password, second_factor).await?;
    let secret = auth::new_totp_secret();
    let sealed = app
        .seal_totp(&actor.tenant_id, &actor.user_id, &secret)
        .await?;
    app.store
        .set_totp(&user.id, user.totp_secret.as_deref(), Some(&sealed))
        .await?;
    let url = auth::totp_url(&secret, &actor.username)?;
    Ok((secret, url))
}

/// Recovery codes issued at each enrolment.
pub const RECOVERY_CODES: usize = 10;

/// Confirms a pending enrolment with a code of the new secret: from then on sign-in needs a
/// code; the member's other sessions are signed out; returns new recovery codes (shown once).
pub async fn mfa_confirm(app: &App, session: &Session, code: &str) -> AppResult<Vec<String>> {
    require_signed_in(session, "changing two-factor sign-in")?;
    let actor = &session.actor;
    app.authorize(actor, "self.mfa.enroll", self_resource(actor), ctx())
        .await?;
    let user = own_user(app, actor).await?;
    let Some(pending) = user.totp_pending.clone() else {
        return Err(AppError::bad_request(
            "no_enrolment",
            "start enrolment first",
        ));
    };
    let secret = app.open_totp(&user.tenant_id, &user.id, &pending).await?;
    let Some(step) = auth::check_totp(&secret, code, 0) else {
        return Err(AppError::bad_request(
            "invalid_totp",
            "the code does not match the new secret",
        ));
    };
    app.store.confirm_totp(&user.id, &pending, step).await?;
    let codes = new_recovery_codes(app, &user).await?;
    let revoked = app
        .store
        .revoke_user_sessions(&user.id, &["session"], Some(&session.token_hash), now_ms())
        .await?;
    audit_self(
        app,
        actor,
        "self.mfa.enroll",
        serde_json::json!({"recovery_codes": codes.len(), "sessions_revoked": revoked}),
    )
    .await?;
    Ok(codes)
}

/// Recovery codes: ten characters of an alphabet without look-alikes (about 50 bits), shown
/// `xxxxx-xxxxx`.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

async fn new_recovery_codes(app: &App, user: &UserRow) -> AppResult<Vec<String>> {
    let keys = app.tenant_keys(&user.tenant_id).await?;
    let codes: Vec<String> = {
        let mut rng = rand::thread_rng();
        (0..RECOVERY_CODES)
            .map(|_| {
                let c: String = (0..10)
                    .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
                    .collect();
                format!("{}-{}", &c[..5], &c[5..])
            })
            .collect()
    };
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery_code_form(c))
        .map(|c| recovery_hash(&keys, &user.id, &c))
        .collect();
    app.store
        .replace_recovery_codes(&user.id, &hashes, now_ms())
        .await?;
    Ok(codes)
}

/// A recovery code as stored (lower case, no separators), if `code` has a recovery code's form.
fn recovery_code_form(code: &str) -> Option<String> {
    let c: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (c.len() == 10 && c.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(c)
}

/// A recovery code's keyed hash: without the tenant's index key, a stolen table gives nothing
/// to guess against.
fn recovery_hash(keys: &crate::vault::TenantKeys, user_id: &str, code: &str) -> String {
    keys.blind_index("recovery-code", &format!("{user_id}\n{code}"))
}

/// Whether the signed-in member has two-factor sign-in enrolled; `None` when the member is gone.
pub async fn two_factor_enrolled(app: &App, actor: &Actor) -> AppResult<Option<bool>> {
    let user = app
        .store
        .user_by_id(&actor.tenant_id, &actor.user_id)
        .await?;
    Ok(user.map(|u| u.totp_secret.is_some()))
}

/// Sets the member's own language for the staff screens (`en` or `zh`; anything else is `en`).
pub async fn set_lang(app: &App, actor: &Actor, lang: &str) -> AppResult<()> {
    let lang = if lang == "zh" { "zh" } else { "en" };
    Ok(app.store.set_lang(&actor.user_id, lang).await?)
}

/// Issues an API token for a member, as the operator on the server's machine (`crm token
/// create`): no session or policy is involved, and the token carries the member's enrolment
/// as its second factor.
pub async fn issue_token(
    app: &App,
    operator: &Actor,
    username: &str,
    name: &str,
    days: i64,
) -> AppResult<String> {
    let max = app.settings.token_max_days;
    if !(1..=max).contains(&days) {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("--days must be 1 to {max} (token_max_days)"),
        ));
    }
    let tenant_id = &operator.tenant_id;
    let u = app
        .store
        .user_by_name(tenant_id, username)
        .await?
        .ok_or_else(|| AppError::not_found(&format!("user `{username}` in the tenant")))?;
    let new = store_token(app, tenant_id, &u.id, name, u.totp_secret.is_some(), days).await?;
    let resource = format!("user/{}", u.id);
    let detail = serde_json::json!({"days": days});
    let event = operator.audit("token.create", resource, &Decision::operator(), detail);
    app.audit.record(tenant_id, &event).await?;
    Ok(new.token)
}

/// Stores a new API token of a member for `days`: only its hash is kept, the token is shown once.
async fn store_token(
    app: &App,
    tenant_id: &str,
    user_id: &str,
    name: &str,
    mfa: bool,
    days: i64,
) -> AppResult<NewToken> {
    let token = auth::random_token("crm_t_");
    let hash = auth::token_hash(&token);
    let now = now_ms();
    let expires_at = now + days * 86_400_000;
    app.store
        .insert_session(
            &hash,
            tenant_id,
            user_id,
            "api",
            name,
            &auth::random_token(""),
            mfa,
            now,
            expires_at,
        )
        .await?;
    Ok(NewToken {
        token,
        id: hash[..16].to_string(),
        expires_at,
    })
}

/// How many unused recovery codes the member has.
pub async fn recovery_codes_left(app: &App, actor: &Actor) -> AppResult<i64> {
    Ok(app.store.recovery_codes_left(&actor.user_id).await?)
}

/// API tokens last 30 days unless asked otherwise (the ceiling is `config::TOKEN_MAX_DAYS`).
pub const TOKEN_DEFAULT_DAYS: i64 = 30;

/// A new API token, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewToken {
    pub token: String,
    /// Names the token for listing and revoking.
    pub id: String,
    pub expires_at: i64,
}

/// Creates an API token acting as the signed-in member (never from a token: tokens cannot make
/// tokens), for `days` (default 30, at most the configured maximum).
pub async fn create_token(
    app: &App,
    session: &Session,
    name: &str,
    days: Option<i64>,
) -> AppResult<NewToken> {
    let max = app.settings.token_max_days;
    let days = days.unwrap_or(TOKEN_DEFAULT_DAYS.min(max));
    if !(1..=max).contains(&days) {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("field `days` must be 1 to {max}"),
        ));
    }
    require_signed_in(session, "creating an API token")?;
    let actor = &session.actor;
    let decision = app
        .authorize(actor, "self.token.create", self_resource(actor), ctx())
        .await?;
    let new = store_token(app, &actor.tenant_id, &actor.user_id, name, actor.mfa, days).await?;
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                "self.token.create",
                format!("user/{}", actor.user_id),
                &decision,
                serde_json::json!({"days": days, "token": new.id}),
            ),
        )
        .await?;
    Ok(new)
}

/// The live API tokens of the member, or of another member of the tenant (`user.manage`).
pub async fn tokens(app: &App, actor: &Actor, of: Option<&str>) -> AppResult<Vec<TokenRow>> {
    let of = of.unwrap_or(&actor.user_id);
    let action = if of == actor.user_id {
        "self.token.manage"
    } else {
        "user.manage"
    };
    app.authorize(actor, action, user_resource(actor, of), ctx())
        .await?;
    Ok(app
        .store
        .api_tokens(&actor.tenant_id, Some(of), now_ms())
        .await?)
}

/// Revokes one API token: the member's own (`self.token.manage`) or, for an admin, anyone's in
/// the tenant (`user.manage`).
pub async fn revoke_token(app: &App, actor: &Actor, id: &str) -> AppResult<()> {
    let live = app
        .store
        .api_tokens(&actor.tenant_id, None, now_ms())
        .await?;
    let Some(t) = live.iter().find(|t| t.id == id) else {
        // Decided anyway, so probing ids of other members' tokens is audited.
        app.authorize(actor, "self.token.manage", self_resource(actor), ctx())
            .await?;
        return Err(AppError::not_found("token"));
    };
    let action = if t.user_id == actor.user_id {
        "self.token.manage"
    } else {
        "user.manage"
    };
    let decision = app
        .authorize(actor, action, user_resource(actor, &t.user_id), ctx())
        .await?;
    if app
        .store
        .revoke_token(&actor.tenant_id, id, now_ms())
        .await?
        .is_none()
    {
        return Err(AppError::not_found("token"));
    }
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                "token.revoke",
                format!("user/{}", t.user_id),
                &decision,
                serde_json::json!({"token": id}),
            ),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;

    /// The operator's token (`crm token create`): bounded like every token, for a member of the
    /// tenant only, audited as the operator with no policy version.
    #[tokio::test]
    async fn the_operator_issues_bounded_tokens_for_members_and_is_audited_as_such() {
        let h = Harness::new().await;
        let member = h.member("support", true).await;
        let operator = Actor::operator(&h.tenant.id, "cli");
        let max = h.app.settings.token_max_days;
        for days in [0, max + 1] {
            let e = issue_token(&h.app, &operator, &member.username, "ci", days).await;
            assert_eq!(e.unwrap_err().code, "invalid_request", "{days}");
        }
        let e = issue_token(&h.app, &operator, "nobody", "ci", 7).await;
        assert_eq!(e.unwrap_err().kind, ErrorKind::NotFound);
        let token = issue_token(&h.app, &operator, &member.username, "ci", 7)
            .await
            .unwrap();
        assert!(token.starts_with("crm_t_"));
        let row = h
            .app
            .store
            .session(&auth::token_hash(&token))
            .await
            .unwrap();
        assert!(row.is_some_and(|r| r.user_id == member.user_id && r.mfa == 1));
        let audited = h.audited().await;
        let last = audited.last().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1.as_str(), last.3.as_str()),
            ("operator:cli", "token.create", "")
        );
    }

    #[tokio::test]
    async fn a_member_sets_only_their_own_language_and_only_to_a_known_one() {
        let h = Harness::new().await;
        let a = h.member("sales", false).await;
        let b = h.member("sales", false).await;
        set_lang(&h.app, &a, "zh").await.unwrap();
        let lang = |id: String| {
            let app = h.app.clone();
            let tenant = h.tenant.id.clone();
            async move {
                app.store
                    .user_by_id(&tenant, &id)
                    .await
                    .unwrap()
                    .unwrap()
                    .lang
            }
        };
        assert_eq!(lang(a.user_id.clone()).await, "zh");
        assert_eq!(lang(b.user_id.clone()).await, "en");
        set_lang(&h.app, &a, "<script>").await.unwrap();
        assert_eq!(lang(a.user_id.clone()).await, "en");
        assert_eq!(two_factor_enrolled(&h.app, &a).await.unwrap(), Some(false));
    }

    #[test]
    fn recovery_codes_have_their_own_form() {
        assert_eq!(
            recovery_code_form("ABCDE-fgh23").as_deref(),
            Some("abcdefgh23")
        );
        // A TOTP code is not a recovery code, nor is a code with look-alike characters.
        assert!(recovery_code_form("123456").is_none());
        assert!(recovery_code_form("abcde-fgh1l").is_none());
    }
}
