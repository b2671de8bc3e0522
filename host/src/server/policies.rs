//! The compliance team's policy API: check and test a set, publish, history, diff, rollback, decisions.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::{JsonObject, typed};
use super::auth::Authenticated;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy_admin::{self as admin, PolicySet, Refusal};
use crate::store::{DecisionRow, PolicyVersionRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/policies", get(list).post(publish))
        .route("/api/v1/policies/check", post(check))
        .route(
            "/api/v1/policies/bundle",
            post(publish_bundle).layer(axum::extract::DefaultBodyLimit::max(
                admin::bundle::MAX_BUNDLE_BYTES as usize,
            )),
        )
        .route("/api/v1/policies/diff", get(diff))
        .route("/api/v1/policies/rollback", post(rollback))
        .route("/api/v1/policies/{version}", get(show))
        .route("/api/v1/decisions", get(decisions))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpload {
    /// `path → Rego source`; files ending `_test.rego` hold `test_*` rules.
    files: BTreeMap<String, String>,
    /// Why this version exists.
    #[serde(default)]
    note: String,
}

fn refusal_error(r: &Refusal) -> AppError {
    let code = match r {
        Refusal::Invalid(_) => "policy_invalid",
        Refusal::TestsFailed(_) => "policy_tests_failed",
    };
    AppError::new(ErrorKind::Rejected, code, r.to_string())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    ok: bool,
    /// Parse and compile errors (`file:line:col: …`).
    errors: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    tests: Vec<crate::policy::RegoTestResult>,
}

/// Check and test a policy set without publishing it.
#[utoipa::path(post, path = "/api/v1/policies/check", operation_id = "check_policy_set", request_body = PolicyUpload,
    responses(
        (status = 200, body = CheckResult, description = "The check's outcome: `ok`, or the errors or failing tests"),
        (status = 400, description = "The body is not `{files, note?}` with string values"),
        (status = 403, description = "The policy denies it"),
        (status = 429, description = "A policy job of the tenant is already running (`policy_job_busy`)"),
        (status = 503, description = "The host runs as many policy jobs as it can (`busy`)"),
    ))]
pub async fn check(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Json<CheckResult>> {
    let up: PolicyUpload = typed(body)?;
    let set = PolicySet { files: up.files };
    Ok(Json(
        match admin::test_draft(&s.app, &who.actor, &set).await? {
            Ok(tests) => CheckResult {
                ok: true,
                errors: vec![],
                tests,
            },
            Err(Refusal::Invalid(errors)) => CheckResult {
                ok: false,
                errors,
                tests: vec![],
            },
            Err(Refusal::TestsFailed(tests)) => CheckResult {
                ok: false,
                errors: vec![],
                tests,
            },
        },
    ))
}

/// Publish a policy set: refused (422, naming the failing tests) unless it compiles and its tests pass.
#[utoipa::path(post, path = "/api/v1/policies", operation_id = "publish_policy_set", request_body = PolicyUpload,
    responses(
        (status = 201, body = admin::Published),
        (status = 400, description = "The body is not `{files, note?}` with string values, or `note` is too long"),
        (status = 403, description = "The policy denies it"),
        (status = 422, description = "The set does not compile (`policy_invalid`) or its tests fail (`policy_tests_failed`)"),
        (status = 429, description = "A policy job of the tenant is already running (`policy_job_busy`)"),
        (status = 503, description = "The host runs as many policy jobs as it can (`busy`)"),
    ))]
pub async fn publish(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let up: PolicyUpload = typed(body)?;
    let set = PolicySet { files: up.files };
    match admin::publish(&s.app, &who.actor, &set, &up.note).await? {
        Ok(p) => Ok((StatusCode::CREATED, Json(p)).into_response()),
        Err(r) => Err(refusal_error(&r)),
    }
}

#[derive(utoipa::IntoParams)]
pub struct BundleQuery {
    /// Why this version exists.
    note: String,
}

/// A bundle's bytes (for the document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct BundleBytes(Vec<u8>);

/// Publish an OPA bundle (`bundle.tar.gz` from `crm policy build` or `opa build -t wasm`): its
/// `/policy.wasm` decides; its Rego files, if any, must pass their tests. Refused (422) if it
/// does not load.
#[utoipa::path(post, path = "/api/v1/policies/bundle", operation_id = "publish_policy_bundle", params(BundleQuery),
    request_body(description = "The bundle (`bundle.tar.gz`); the body is read as it is, whatever its content type",
        content((BundleBytes = "application/gzip"), (BundleBytes = "application/octet-stream"))),
    responses(
        (status = 201, body = admin::Published),
        (status = 400, description = "Not a bundle this host can read (`invalid_bundle`), a bad query (`invalid_query`), or `note` is too long"),
        (status = 403, description = "The policy denies it"),
        (status = 413, description = "The bundle is over 32 MiB"),
        (status = 422, description = "The module does not load, or the bundle's Rego does not compile or pass its tests"),
        (status = 429, description = "A policy job of the tenant is already running (`policy_job_busy`)"),
        (status = 503, description = "The host runs as many policy jobs as it can (`busy`)"),
    ))]
pub async fn publish_bundle(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let q = BundleQuery {
        note: super::api::query_params(&uri, &["note"], &[])?
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default(),
    };
    match admin::publish_bundle(&s.app, &who.actor, body.to_vec(), &q.note).await? {
        Ok(p) => Ok((StatusCode::CREATED, Json(p)).into_response()),
        Err(r) => Err(refusal_error(&r)),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    version: i64,
    digest: String,
    /// How its module evaluates: `rvm`, `interpreter` or `bundle`.
    mode: String,
    author: String,
    note: String,
    created_at: i64,
}

/// The platform baseline every decision ANDs with the tenant's set.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BaselineSummary {
    /// As in the decision log's `policy_version` (`sha256:…`).
    version: String,
    /// How it evaluates: `rvm` (the compiled module on the regorus RVM).
    mode: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyList {
    baseline: BaselineSummary,
    /// The version in force (none: the platform baseline alone decides).
    active: Option<i64>,
    versions: Vec<VersionSummary>,
}

/// The tenant's policy versions, newest first, with author and time.
#[utoipa::path(get, path = "/api/v1/policies", operation_id = "list_policy_versions",
    responses((status = 200, body = PolicyList), (status = 403, description = "The policy denies it")))]
pub async fn list(State(s): State<AppState>, who: Authenticated) -> AppResult<Json<PolicyList>> {
    let history = admin::history::history(&s.app, &who.actor).await?;
    let active = history.active;
    let versions = history
        .versions
        .into_iter()
        .map(|r| VersionSummary {
            version: r.version,
            digest: r.digest,
            mode: r.mode,
            author: r.author,
            note: r.note,
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(PolicyList {
        baseline: BaselineSummary {
            version: s.app.pdp.version().to_string(),
            mode: s.app.pdp.baseline_mode().to_string(),
        },
        active,
        versions,
    }))
}

/// One version's files.
#[utoipa::path(get, path = "/api/v1/policies/{version}", operation_id = "get_policy_version", params(("version" = i64, Path)),
    responses(
        (status = 200, body = PolicyVersionRow),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such version in the tenant"),
    ))]
pub async fn show(
    State(s): State<AppState>,
    who: Authenticated,
    Path(version): Path<String>,
) -> AppResult<Json<PolicyVersionRow>> {
    let v: i64 = version
        .parse()
        .map_err(|_| AppError::not_found("policy version"))?;
    Ok(Json(admin::history::version(&s.app, &who.actor, v).await?))
}

/// A unified diff between two versions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyDiff {
    from: i64,
    to: i64,
    /// Unified diff of the two versions' files.
    diff: String,
}

/// A unified diff between two versions (`?from=1&to=2`).
#[utoipa::path(get, path = "/api/v1/policies/diff", operation_id = "diff_policy_versions",
    params(("from" = i64, Query), ("to" = i64, Query)),
    responses(
        (status = 200, body = PolicyDiff),
        (status = 400, description = "`from` or `to` is missing or not a number, or an unknown or repeated parameter (`invalid_query`)"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such version in the tenant"),
    ))]
pub async fn diff(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
) -> AppResult<Json<PolicyDiff>> {
    let q: BTreeMap<String, String> = super::api::query_params(&uri, &["from", "to"], &[])?
        .into_iter()
        .collect();
    let num = |k: &str| -> AppResult<i64> {
        q.get(k).and_then(|v| v.parse().ok()).ok_or_else(|| {
            AppError::bad_request("invalid_query", "give `from` and `to` as version numbers")
        })
    };
    let (from, to) = (num("from")?, num("to")?);
    let diff = admin::history::diff(&s.app, &who.actor, from, to).await?;
    Ok(Json(PolicyDiff { from, to, diff }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    version: i64,
}

/// What a rollback did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RolledBack {
    /// The version now in force.
    active: i64,
    /// Unified diff from the version that was in force.
    diff: String,
}

/// Make an earlier version active again.
#[utoipa::path(post, path = "/api/v1/policies/rollback", operation_id = "rollback_policy", request_body = RollbackRequest,
    responses(
        (status = 200, body = RolledBack),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such version in the tenant"),
    ))]
pub async fn rollback(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Json<RolledBack>> {
    let req: RollbackRequest = typed(body)?;
    match admin::rollback(&s.app, &who.actor, req.version).await? {
        Some(diff) => Ok(Json(RolledBack {
            active: req.version,
            diff,
        })),
        None => Err(AppError::not_found("policy version")),
    }
}

/// One entry of the decision log: what was asked (by its input's digest, never the input),
/// which policy versions decided it, the result and how long it took.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub action: String,
    /// SHA-256 (hex) of the decision's input.
    pub input_digest: String,
    /// The baseline's version, then `+tenant@vN` when the tenant's set N took part.
    pub policy_version: String,
    pub allow: bool,
    pub reasons: Vec<String>,
    pub micros: i64,
}

impl From<DecisionRow> for DecisionEntry {
    fn from(r: DecisionRow) -> Self {
        Self {
            at: r.at,
            action: r.action,
            input_digest: r.input_digest,
            policy_version: r.policy_version,
            allow: r.allow != 0,
            reasons: serde_json::from_str(&r.reasons).unwrap_or_else(|_| vec![r.reasons]),
            micros: r.micros,
        }
    }
}

/// The decision log, newest first, narrowed by the query's filters (see `DecisionQuery`).
#[utoipa::path(get, path = "/api/v1/decisions", params(
    ("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)"),
    ("action" = Option<String>, Query),
    ("allow" = Option<bool>, Query),
    ("since" = Option<i64>, Query, description = "milliseconds since the epoch, inclusive"),
    ("until" = Option<i64>, Query, description = "milliseconds since the epoch, exclusive"),
    ("tenant_version" = Option<i64>, Query, description = "decisions the tenant's version took part in"),
    ("digest" = Option<String>, Query, description = "SHA-256 of one input"),
), operation_id = "list_decisions", responses(
    (status = 200, body = [DecisionEntry]),
    (status = 400, description = "An unknown or repeated filter, or a value outside its rule (`invalid_query`)"),
    (status = 403, description = "The policy denies it"),
))]
pub async fn decisions(
    State(s): State<AppState>,
    who: Authenticated,
    uri: axum::http::Uri,
) -> AppResult<Json<Vec<DecisionEntry>>> {
    let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
    let rows = admin::decisions(&s.app, &who.actor, pairs).await?;
    Ok(Json(rows.into_iter().map(DecisionEntry::from).collect()))
}
