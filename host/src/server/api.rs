//! The JSON API under `/api/v1`.

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppState;
use super::auth::{Authenticated, SESSION_COOKIE, set_cookie};
use crate::audit;
use crate::auth;
use crate::customers::{self, ListQuery, validate};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::oversight;
use crate::sessions;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/session",
            post(create_session).delete(delete_session),
        )
        .route("/api/v1/me", get(me))
        .route(
            "/api/v1/me/sessions",
            axum::routing::delete(sign_out_everywhere),
        )
        .route("/api/v1/me/mfa", post(mfa_start))
        .route("/api/v1/me/mfa/confirm", post(mfa_confirm))
        .route("/api/v1/tokens", post(create_token).get(list_tokens))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route(
            "/api/v1/customers",
            post(create_customer).get(list_customers),
        )
        .route(
            "/api/v1/customers/{id}",
            get(get_customer)
                .patch(update_customer)
                .delete(delete_customer),
        )
        .route(
            "/api/v1/customers/{id}/interactions",
            post(add_interaction).get(list_interactions),
        )
        .route("/api/v1/customers/{id}/consents", get(consent_history))
        .route("/api/v1/audit", get(audit_list))
        .route("/api/v1/audit/verify", get(audit_verify))
        .route("/api/v1/backups", get(backup_status))
}

/// A JSON object body, with errors that say exactly what is wrong.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // `application/json`, with parameters (`; charset=utf-8`) or not, and nothing else.
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return Err(AppError::new(
                ErrorKind::UnsupportedFormat,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    ErrorKind::TooLarge,
                    "payload_too_large",
                    format!("the request body exceeds {} bytes", super::MAX_BODY),
                )
            } else {
                AppError::bad_request("bad_body", "the request body could not be read")
            }
        })?;
        if let Err(e) = serde_json::from_slice::<UniqueKeys>(&bytes)
            && e.is_data()
        {
            return Err(AppError::bad_request(
                "invalid_json",
                format!("{e}: a key may appear once in an object"),
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(AppError::bad_request(
                "invalid_json",
                "the body must be a JSON object",
            )),
            Err(e) => Err(AppError::bad_request(
                "invalid_json",
                format!(
                    "malformed JSON at line {} column {}: {}",
                    e.line(),
                    e.column(),
                    e.classify_name()
                ),
            )),
        }
    }
}

/// A JSON document in which no object repeats a key (serde_json keeps the last silently).
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{}`",
                    key.chars().take(40).collect::<String>()
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "invalid data",
            serde_json::error::Category::Io => "read error",
        }
    }
}

/// Deserialises a typed body from a JSON object, refusing unknown fields by name.
pub fn typed<T: for<'de> Deserialize<'de>>(m: Map<String, Value>) -> AppResult<T> {
    serde_json::from_value(Value::Object(m))
        .map_err(|e| AppError::bad_request("invalid_request", e.to_string()))
}

/// A query string's parameters, held to one rule on every route: only the names the route takes,
/// each at most once unless the route lists it as repeatable.
pub fn query_params(
    uri: &axum::http::Uri,
    once: &[&str],
    repeatable: &[&str],
) -> AppResult<Vec<(String, String)>> {
    let bad = |m: String| AppError::bad_request("invalid_query", m);
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let known = once.contains(&k.as_ref()) || repeatable.contains(&k.as_ref());
        if !known {
            let takes: Vec<&str> = once.iter().chain(repeatable).copied().collect();
            return Err(bad(format!(
                "unknown query parameter `{}`; {}",
                k.chars().take(40).collect::<String>(),
                if takes.is_empty() {
                    "this route takes none".to_string()
                } else {
                    format!("use {}", takes.join(", "))
                }
            )));
        }
        if once.contains(&k.as_ref()) && !seen.insert(k.to_string()) {
            return Err(bad(format!("`{k}` is given twice; give it once")));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

fn check_len(field: &str, v: &str, max: usize) -> AppResult<()> {
    if v.is_empty() || v.chars().count() > max {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("field `{field}` must have 1 to {max} characters"),
        ));
    }
    Ok(())
}

fn valid_id(id: &str) -> AppResult<&str> {
    uuid::Uuid::parse_str(id).map_err(|_| AppError::not_found("customer"))?;
    Ok(id)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The tenant's short name (slug).
    tenant: String,
    username: String,
    password: String,
    /// The current TOTP code, or an unused recovery code, when the account has two-factor
    /// sign-in.
    totp: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// Bearer token for API clients (also set as an HttpOnly cookie for browsers).
    token: String,
    /// Send as `X-CSRF-Token` on state-changing requests authenticated by the cookie.
    csrf_token: String,
    expires_at: String,
    user: MeResponse,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    id: String,
    username: String,
    role: String,
    tenant_id: String,
    mfa: bool,
    lang: String,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Sign in.
#[utoipa::path(post, path = "/api/v1/session", operation_id = "sign_in", request_body = SessionRequest,
    responses(
        (status = 200, body = SessionResponse, description = "Signed in; the session is also set as an HttpOnly cookie",
            headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 400, description = "A field is missing, empty or too long (tenant and username at most 64 characters, password 256)"),
        (status = 401, description = "Wrong tenant, username, password or second factor, or a second factor is needed (`mfa_required`)"),
        (status = 429, description = "Too many failed sign-ins from this address or for this account (`throttled`, `locked`)"),
    ))]
pub async fn create_session(
    State(s): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let req: SessionRequest = typed(body)?;
    check_len("tenant", &req.tenant, 64)?;
    check_len("username", &req.username, 64)?;
    check_len("password", &req.password, 256)?;
    let session = sessions::sign_in(
        &s.app,
        peer.ip(),
        &req.tenant,
        &req.username,
        &req.password,
        req.totp.as_deref(),
    )
    .await?;
    let cookie = set_cookie(
        SESSION_COOKIE,
        &session.token,
        auth::SESSION_TTL_MS / 1000,
        s.tls,
    );
    let body = SessionResponse {
        token: session.token,
        csrf_token: session.csrf_token,
        expires_at: iso(session.expires_at),
        user: me_of(&session.actor),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

fn me_of(a: &crate::app::Actor) -> MeResponse {
    MeResponse {
        id: a.user_id.clone(),
        username: a.username.clone(),
        role: a.role.clone(),
        tenant_id: a.tenant_id.clone(),
        mfa: a.mfa,
        lang: a.lang.clone(),
    }
}

/// Sign out (revokes the session server-side).
#[utoipa::path(delete, path = "/api/v1/session", operation_id = "sign_out",
    responses((status = 204, description = "Signed out; the cookie is cleared")))]
pub async fn delete_session(State(s): State<AppState>, who: Authenticated) -> AppResult<Response> {
    sessions::sign_out(&s.app, &who).await?;
    let cookie = set_cookie(SESSION_COOKIE, "", 0, s.tls);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Sign out everywhere: revokes every session and API token of the signed-in member, this one
/// included.
#[utoipa::path(delete, path = "/api/v1/me/sessions", operation_id = "sign_out_everywhere",
    responses((status = 204, description = "Every session and API token of the member revoked; the cookie is cleared")))]
pub async fn sign_out_everywhere(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Response> {
    sessions::sign_out_everywhere(&s.app, &who).await?;
    let cookie = set_cookie(SESSION_COOKIE, "", 0, s.tls);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "get_me", responses((status = 200, body = MeResponse)))]
pub async fn me(who: Authenticated) -> Json<MeResponse> {
    Json(me_of(&who.actor))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaStart {
    /// Base32 secret for an authenticator app.
    secret: String,
    otpauth_url: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaStartRequest {
    /// The member's password, checked again.
    password: String,
    /// When two-factor sign-in is already on: a current code or an unused recovery code.
    code: Option<String>,
}

/// Start two-factor enrolment (or re-enrolment) from a signed-in session (not an API token): the
/// password, and the current code when enrolled, are checked again; returns a new secret to
/// confirm with a code.
#[utoipa::path(post, path = "/api/v1/me/mfa", operation_id = "start_mfa_enrolment", request_body = MfaStartRequest,
    responses(
        (status = 200, body = MfaStart),
        (status = 400, description = "The password is empty or over 256 characters"),
        (status = 403, description = "An API token cannot (`token_not_allowed`), the password or code is wrong (`reauthentication_failed`), or the policy denies it"),
        (status = 429, description = "Too many failed attempts for this account (`throttled`, `locked`)"),
    ))]
pub async fn mfa_start(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Json<MfaStart>> {
    let req: MfaStartRequest = typed(body)?;
    check_len("password", &req.password, 256)?;
    let (secret, otpauth_url) =
        sessions::mfa_start(&s.app, &who, &req.password, req.code.as_deref()).await?;
    Ok(Json(MfaStart {
        secret,
        otpauth_url,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaConfirm {
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaConfirmed {
    /// One-time codes that stand in for a lost authenticator: shown this once only.
    recovery_codes: Vec<String>,
}

/// Confirm two-factor enrolment with a current code of the new secret; the member's other
/// sessions are signed out.
#[utoipa::path(post, path = "/api/v1/me/mfa/confirm", operation_id = "confirm_mfa_enrolment", request_body = MfaConfirm,
    responses(
        (status = 200, body = MfaConfirmed),
        (status = 400, description = "No enrolment was started (`no_enrolment`) or the code does not match (`invalid_totp`)"),
        (status = 403, description = "An API token cannot (`token_not_allowed`), or the policy denies it"),
    ))]
pub async fn mfa_confirm(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Json<MfaConfirmed>> {
    let req: MfaConfirm = typed(body)?;
    let recovery_codes = sessions::mfa_confirm(&s.app, &who, &req.code).await?;
    Ok(Json(MfaConfirmed { recovery_codes }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// What the token is for.
    name: String,
    /// Lifetime in days (default 30; at most 90, or as configured).
    days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    token: String,
    /// Names the token for listing and revoking.
    id: String,
    expires_at: String,
}

/// Create an API token for automation; it acts as the signed-in member and is shown once. Only
/// a signed-in session may create one (a token cannot).
#[utoipa::path(post, path = "/api/v1/tokens", operation_id = "create_token", request_body = TokenRequest,
    responses(
        (status = 201, body = TokenResponse),
        (status = 400, description = "`name` is empty or over 100 characters, or `days` is outside 1 to the configured maximum"),
        (status = 403, description = "A token cannot make tokens (`token_not_allowed`), or the policy denies it"),
    ))]
pub async fn create_token(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let req: TokenRequest = typed(body)?;
    check_len("name", &req.name, 100)?;
    let t = sessions::create_token(&s.app, &who, &req.name, req.days).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            token: t.token,
            id: t.id,
            expires_at: iso(t.expires_at),
        }),
    )
        .into_response())
}

/// The live API tokens of the signed-in member, or of another member (`?user=ID`, admins).
#[utoipa::path(get, path = "/api/v1/tokens", operation_id = "list_tokens",
    params(("user" = Option<String>, Query, format = Uuid, description = "Another member's id (admins)")),
    responses(
        (status = 200, body = [crate::store::TokenRow]),
        (status = 400, description = "An unknown or repeated query parameter, or `user` is not an id (`invalid_query`)"),
        (status = 403, description = "The policy denies it"),
    ))]
pub async fn list_tokens(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
) -> AppResult<Json<Vec<crate::store::TokenRow>>> {
    let mut user = None;
    for (_, v) in query_params(&uri, &["user"], &[])? {
        if uuid::Uuid::parse_str(&v).is_err() {
            return Err(AppError::bad_request(
                "invalid_query",
                "`user` must be a member's id",
            ));
        }
        user = Some(v);
    }
    Ok(Json(
        sessions::tokens(&s.app, &who.actor, user.as_deref()).await?,
    ))
}

/// Revoke an API token: one's own, or (admins) any of the tenant's.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", operation_id = "revoke_token",
    params(("id" = String, Path, description = "The token's id: 16 hex digits")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such live token in the tenant"),
    ))]
pub async fn revoke_token(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::not_found("token"));
    }
    sessions::revoke_token(&s.app, &who.actor, &id.to_ascii_lowercase()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a customer.
#[utoipa::path(post, path = "/api/v1/customers", operation_id = "create_customer",
    request_body = super::schemas::CustomerCreate,
    responses(
        (status = 201, body = customers::CustomerView),
        (status = 400, description = "A field breaks its rule, is unknown, or `name` or `region` is missing (`invalid_customer`)"),
        (status = 403, description = "The policy denies it (for instance a field the role may not write)"),
        (status = 409, description = "A customer with this email already exists in the tenant"),
    ))]
pub async fn create_customer(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let changes =
        validate::changes(&body, true).map_err(|m| AppError::bad_request("invalid_customer", m))?;
    let v = customers::create(&s.app, &who.actor, &changes).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// Parses the list query: `page`, `per_page`, `region`, `tag` (repeatable, at most
/// [`customers::MAX_TAG_FILTERS`]), `email`, `phone`.
fn list_query(uri: &axum::http::Uri) -> AppResult<ListQuery> {
    let mut q = ListQuery {
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let bad = |m: String| AppError::bad_request("invalid_query", m);
    let pairs = query_params(
        uri,
        &["page", "per_page", "region", "email", "phone"],
        &["tag"],
    )?;
    for (k, v) in pairs {
        match k.as_str() {
            "page" => {
                q.page = v
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| bad("`page` must be a positive integer".into()))?
            }
            "per_page" => {
                q.per_page = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=200).contains(p))
                    .ok_or_else(|| bad("`per_page` must be 1 to 200".into()))?
            }
            "region" => q.region = Some(validate::region(&Value::String(v)).map_err(bad)?),
            "tag" => {
                if q.tags.len() >= customers::MAX_TAG_FILTERS {
                    return Err(bad(format!(
                        "at most {} `tag` filters may be given",
                        customers::MAX_TAG_FILTERS
                    )));
                }
                let t = validate::tags(&Value::Array(vec![Value::String(v)])).map_err(bad)?;
                q.tags.extend(t);
            }
            "email" => q.email = Some(validate::email(&Value::String(v)).map_err(bad)?),
            _ => q.phone = Some(validate::phone(&Value::String(v)).map_err(bad)?),
        }
    }
    Ok(q)
}

/// List customers (filters on non-personal attributes; exact email/phone through blind indexes).
#[utoipa::path(get, path = "/api/v1/customers", operation_id = "list_customers",
    params(
        ("page" = Option<i64>, Query, minimum = 1, description = "From 1 (default 1)"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200 (default 50)"),
        ("region" = Option<String>, Query, description = "CN, EU, US or OTHER"),
        ("tag" = Option<Vec<String>>, Query, style = Form, explode, description = "Repeatable, at most 20: customers with every tag"),
        ("email" = Option<String>, Query, description = "Exact email (a lookup: `customer.lookup`, rate-limited)"),
        ("phone" = Option<String>, Query, description = "Exact phone number (a lookup: `customer.lookup`, rate-limited)"),
    ),
    responses(
        (status = 200, body = customers::Page),
        (status = 400, description = "An unknown or repeated parameter, or a value outside its rule (`invalid_query`)"),
        (status = 403, description = "The policy denies it"),
        (status = 429, description = "Too many lookups by email or phone (`rate_limited`)"),
    ))]
pub async fn list_customers(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
) -> AppResult<Json<customers::Page>> {
    let q = list_query(&uri)?;
    Ok(Json(customers::list(&s.app, &who.actor, &q).await?))
}

/// Read one customer (fields masked or withheld as the policy obliges).
#[utoipa::path(get, path = "/api/v1/customers/{id}", operation_id = "get_customer", params(("id" = String, Path)),
    responses(
        (status = 200, body = customers::CustomerView),
        (status = 403, description = "The policy denies it, or the customer has not consented to a purpose it requires"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn get_customer(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<customers::CustomerView>> {
    Ok(Json(
        customers::get(&s.app, &who.actor, valid_id(&id)?).await?,
    ))
}

/// Change some fields of a customer (`null` clears an optional field).
#[utoipa::path(patch, path = "/api/v1/customers/{id}", operation_id = "update_customer", params(("id" = String, Path)),
    request_body = super::schemas::CustomerUpdate,
    responses(
        (status = 200, body = customers::CustomerView),
        (status = 400, description = "A field breaks its rule or is unknown, or the body changes nothing (`invalid_customer`)"),
        (status = 403, description = "The policy denies it (for instance a field the role may not write)"),
        (status = 404, description = "No such customer in the tenant"),
        (status = 409, description = "Another customer of the tenant has this email"),
    ))]
pub async fn update_customer(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Json<customers::CustomerView>> {
    let id = valid_id(&id)?;
    let changes = validate::changes(&body, false)
        .map_err(|m| AppError::bad_request("invalid_customer", m))?;
    Ok(Json(
        customers::update(&s.app, &who.actor, id, &changes).await?,
    ))
}

/// Erase a customer (its subject key is destroyed: crypto-shredding), unless a legal hold applies.
#[utoipa::path(delete, path = "/api/v1/customers/{id}", operation_id = "erase_customer", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Erased"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such customer in the tenant"),
        (status = 409, description = "A legal hold applies (`legal_hold`, naming it)"),
    ))]
pub async fn delete_customer(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    customers::erase(&s.app, &who.actor, valid_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionRequest {
    /// call, email, visit, chat, complaint or note.
    kind: String,
    summary: String,
}

/// Record an interaction with a customer.
#[utoipa::path(post, path = "/api/v1/customers/{id}/interactions", operation_id = "add_interaction", params(("id" = String, Path)),
    request_body = InteractionRequest,
    responses(
        (status = 201, body = customers::InteractionView),
        (status = 400, description = "`kind` is not one of the kinds, or `summary` is empty or over 2,000 characters"),
        (status = 403, description = "The policy denies it, or the customer has not consented to a purpose it requires"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn add_interaction(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let id = valid_id(&id)?;
    let req: InteractionRequest = typed(body)?;
    if !customers::INTERACTION_KINDS.contains(&req.kind.as_str()) {
        return Err(AppError::bad_request(
            "invalid_request",
            format!(
                "field `kind` must be one of {}",
                customers::INTERACTION_KINDS.join(", ")
            ),
        ));
    }
    let summary = req.summary.trim();
    check_len("summary", summary, 2000)?;
    let v = customers::add_interaction(&s.app, &who.actor, id, &req.kind, summary).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// A customer's interactions, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/interactions", operation_id = "list_interactions", params(("id" = String, Path)),
    responses(
        (status = 200, body = [customers::InteractionView]),
        (status = 403, description = "The policy denies it, or the customer has not consented to a purpose it requires"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn list_interactions(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<customers::InteractionView>>> {
    Ok(Json(
        customers::interactions(&s.app, &who.actor, valid_id(&id)?).await?,
    ))
}

/// A customer's consent history, oldest first: every grant and withdrawal, by whom, with the
/// evidence and wording version.
#[utoipa::path(get, path = "/api/v1/customers/{id}/consents", operation_id = "consent_history", params(("id" = String, Path)),
    responses(
        (status = 200, body = [customers::ConsentEventView]),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn consent_history(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<customers::ConsentEventView>>> {
    Ok(Json(
        customers::consent_history(&s.app, &who.actor, valid_id(&id)?).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    records: Vec<audit::Record>,
}

/// The tenant's audit trail, newest first (`limit` ≤ 500, `before` = a sequence number).
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "list_audit_records",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "1 to 500 (default 100)"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Records before this sequence number"),
    ),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "An unknown or repeated parameter, or a value outside its range (`invalid_query`)"),
        (status = 403, description = "The policy denies it"),
    ))]
pub async fn audit_list(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
) -> AppResult<Json<AuditPage>> {
    let mut limit = 100;
    let mut before = None;
    for (k, v) in query_params(&uri, &["limit", "before"], &[])? {
        let n: Option<i64> = v.parse().ok();
        match (k.as_str(), n) {
            ("limit", Some(n)) => limit = n,
            ("before", Some(n)) => before = Some(n),
            _ => {
                return Err(AppError::bad_request(
                    "invalid_query",
                    "use `limit` (1 to 500) and `before` (a positive sequence number)",
                ));
            }
        }
    }
    let records = oversight::audit_page(&s.app, &who.actor, limit, before).await?;
    Ok(Json(AuditPage { records }))
}

/// Verify the tenant's audit chain; names the first broken link.
#[utoipa::path(get, path = "/api/v1/audit/verify", operation_id = "verify_audit_chain",
    responses((status = 200, body = audit::Report), (status = 403, description = "The policy denies it")))]
pub async fn audit_verify(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<audit::Report>> {
    let report = oversight::verify(&s.app, &who.actor).await?;
    Ok(Json(report))
}

/// The backups the server took and the drills that verified them (the last of each, with the
/// drill's age).
#[utoipa::path(get, path = "/api/v1/backups", operation_id = "backup_status",
    responses((status = 200, body = crate::backup::schedule::Status), (status = 403, description = "The policy denies it")))]
pub async fn backup_status(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<crate::backup::schedule::Status>> {
    Ok(Json(
        crate::backup::schedule::status(&s.app, &who.actor).await?,
    ))
}
