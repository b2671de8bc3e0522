//! Data-subject requests over the API: the queue, opening a request, a request with its
//! timeline, and the steps compliance takes on it (`privacy::…` decides and audits each).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::{JsonObject, typed};
use super::auth::Authenticated;
use crate::error::{AppError, AppResult};
use crate::privacy::export::ExportView;
use crate::privacy::request::Step;
use crate::privacy::{self, NewHold, NewRequest, PurposeSetting, PurposeView, RequestView};
use crate::store::{LegalHoldRow, PrivacyStepRow, now_ms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/privacy/requests", get(queue).post(open))
        .route("/api/v1/privacy/requests/{id}", get(show))
        .route("/api/v1/privacy/requests/{id}/steps", post(step))
        .route("/api/v1/privacy/holds", get(holds).post(place_hold))
        .route("/api/v1/privacy/holds/{id}/release", post(release_hold))
        .route(
            "/api/v1/privacy/requests/{id}/exports",
            get(exports).post(start_export),
        )
        .route("/api/v1/privacy/exports/{id}", get(export_status))
        .route("/api/v1/privacy/exports/{id}/archive", get(download_export))
        .route("/api/v1/privacy/purposes", get(purposes))
        .route("/api/v1/privacy/purposes/{purpose}", put(set_purpose))
        .route(
            "/api/v1/privacy/restrictions/{customer}",
            axum::routing::delete(lift_restriction),
        )
        .route("/api/v1/privacy/requests/{id}/rectify", post(rectify))
        .route("/api/v1/privacy/report", get(report))
        .route("/api/v1/privacy/settings", get(settings).put(put_settings))
        .route(
            "/api/v1/privacy/retention/runs",
            get(retention_runs).post(run_retention),
        )
}

/// The tenant's data-subject requests: open ones first, soonest due first, with their urgency.
#[utoipa::path(get, path = "/api/v1/privacy/requests", operation_id = "list_privacy_requests",
    responses((status = 200, body = Vec<RequestView>), (status = 403, description = "The policy denies it")))]
pub async fn queue(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<Vec<RequestView>>> {
    Ok(Json(privacy::queue(&s.app, &who.actor, now_ms()).await?))
}

/// Open a request for a customer: its deadlines follow the customer's region (GDPR, CCPA, PIPL).
#[utoipa::path(post, path = "/api/v1/privacy/requests", operation_id = "open_privacy_request", request_body = NewRequest,
    responses(
        (status = 201, body = RequestView),
        (status = 400, description = "The body is not `{customer, kind, verification?}`, or `verification` is not one line of at most 500 characters"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn open(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let new: NewRequest = typed(body)?;
    let view = privacy::open(&s.app, &who.actor, &new, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// A request and its timeline.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestDetail {
    request: RequestView,
    steps: Vec<PrivacyStepRow>,
}

/// One request with every step taken on it.
#[utoipa::path(get, path = "/api/v1/privacy/requests/{id}", operation_id = "get_privacy_request", params(("id" = String, Path)),
    responses(
        (status = 200, body = RequestDetail),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such request in the tenant"),
    ))]
pub async fn show(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<RequestDetail>> {
    let (request, steps) = privacy::show(&s.app, &who.actor, &id, now_ms()).await?;
    Ok(Json(RequestDetail { request, steps }))
}

/// A step to take on a request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    step: Step,
    /// Why: required to extend or refuse (told to the person).
    #[serde(default)]
    reason: String,
}

/// Take a step: verify, start, extend (with a reason, before the first deadline), complete,
/// refuse (with a reason).
#[utoipa::path(post, path = "/api/v1/privacy/requests/{id}/steps", operation_id = "take_privacy_request_step",
    params(("id" = String, Path)), request_body = StepRequest,
    responses(
        (status = 200, body = RequestView),
        (status = 400, description = "The body is not `{step, reason?}`, or the reason is missing or too long"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such request in the tenant"),
        (status = 409, description = "The request's state does not allow the step, or it is too late to extend"),
    ))]
pub async fn step(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Json<RequestView>> {
    let req: StepRequest = typed(body)?;
    let view = privacy::take_step(
        &s.app,
        &s.plugins,
        &who.actor,
        &id,
        req.step,
        &req.reason,
        now_ms(),
    )
    .await?;
    Ok(Json(view))
}

/// The tenant's legal holds, active ones first.
#[utoipa::path(get, path = "/api/v1/privacy/holds", operation_id = "list_legal_holds",
    responses((status = 200, body = Vec<LegalHoldRow>), (status = 403, description = "The policy denies it")))]
pub async fn holds(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<Vec<LegalHoldRow>>> {
    Ok(Json(privacy::holds(&s.app, &who.actor).await?))
}

/// Place a legal hold on a customer, or (no `customer`) on the whole tenant: nothing it covers
/// is erased until it is released.
#[utoipa::path(post, path = "/api/v1/privacy/holds", operation_id = "place_legal_hold", request_body = NewHold,
    responses(
        (status = 201, body = LegalHoldRow),
        (status = 400, description = "The body is not `{customer?, reason, owner}`, or `reason` or `owner` is empty or not one line of at most 500 characters"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such customer in the tenant"),
    ))]
pub async fn place_hold(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let new: NewHold = typed(body)?;
    let hold = privacy::place_hold(&s.app, &who.actor, &new, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(hold)).into_response())
}

/// Release an active legal hold.
#[utoipa::path(post, path = "/api/v1/privacy/holds/{id}/release", operation_id = "release_legal_hold", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Released"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No active hold by that id in the tenant"),
    ))]
pub async fn release_hold(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    privacy::release_hold(&s.app, &who.actor, &id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The consent purposes the tenant has configured (which need separate consent).
#[utoipa::path(get, path = "/api/v1/privacy/purposes", operation_id = "list_consent_purposes",
    responses((status = 200, body = Vec<PurposeView>), (status = 403, description = "The policy denies it")))]
pub async fn purposes(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<Vec<PurposeView>>> {
    Ok(Json(privacy::purposes(&s.app, &who.actor).await?))
}

/// Set whether a consent purpose needs separate consent (PIPL), with a note for staff.
#[utoipa::path(put, path = "/api/v1/privacy/purposes/{purpose}", operation_id = "set_consent_purpose",
    params(("purpose" = String, Path, description = "1 to 40 characters of a-z, 0-9 and _, starting with a letter")),
    request_body = PurposeSetting,
    responses(
        (status = 200, body = PurposeView),
        (status = 400, description = "Not a valid purpose name, or the body is not `{separate, note?}`"),
        (status = 403, description = "The policy denies it"),
    ))]
pub async fn set_purpose(
    State(s): State<AppState>,
    who: Authenticated,
    Path(purpose): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Json<PurposeView>> {
    let setting: PurposeSetting = typed(body)?;
    Ok(Json(
        privacy::set_purpose(&s.app, &who.actor, &purpose, &setting).await?,
    ))
}

/// Lift a customer's restriction of processing (set by completing a restriction request).
#[utoipa::path(delete, path = "/api/v1/privacy/restrictions/{customer}", operation_id = "lift_restriction",
    params(("customer" = String, Path)),
    responses(
        (status = 204, description = "Lifted: the customer's data is processed again"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No restricted customer by that id in the tenant"),
    ))]
pub async fn lift_restriction(
    State(s): State<AppState>,
    who: Authenticated,
    Path(customer): Path<String>,
) -> AppResult<StatusCode> {
    privacy::lift_restriction(&s.app, &who.actor, &customer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start building the archive that answers an access or portability request (its requester's
/// identity verified, the request open); poll the export for progress, then download it.
#[utoipa::path(post, path = "/api/v1/privacy/requests/{id}/exports", operation_id = "start_privacy_export",
    params(("id" = String, Path)),
    responses(
        (status = 202, body = ExportView),
        (status = 403, description = "The policy denies it (it needs a second factor)"),
        (status = 404, description = "No such request in the tenant"),
        (status = 409, description = "Not an open, verified access or portability request, or the customer was erased"),
    ))]
pub async fn start_export(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let view = privacy::export::start(&s.app, &s.plugins, &who.actor, &id, now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// A request's exports, newest first.
#[utoipa::path(get, path = "/api/v1/privacy/requests/{id}/exports", operation_id = "list_privacy_exports",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ExportView>), (status = 403, description = "The policy denies it")))]
pub async fn exports(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<ExportView>>> {
    Ok(Json(
        privacy::export::of_request(&s.app, &who.actor, &id, now_ms()).await?,
    ))
}

/// An export's state and progress.
#[utoipa::path(get, path = "/api/v1/privacy/exports/{id}", operation_id = "privacy_export_status",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ExportView),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such export in the tenant"),
    ))]
pub async fn export_status(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Json<ExportView>> {
    Ok(Json(
        privacy::export::status(&s.app, &who.actor, &id, now_ms()).await?,
    ))
}

/// Download the archive (a zip of JSON and CSV); every download is audited.
#[utoipa::path(get, path = "/api/v1/privacy/exports/{id}/archive", operation_id = "download_privacy_export",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The archive", content_type = "application/zip", body = Vec<u8>),
        (status = 403, description = "The policy denies it (it needs a second factor)"),
        (status = 404, description = "No such export in the tenant"),
        (status = 409, description = "Still being built, or the build failed"),
        (status = 410, description = "The archive has expired, or its customer was erased"),
    ))]
pub async fn download_export(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (name, zip) = privacy::export::download(&s.app, &who.actor, &id, now_ms()).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zip".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        zip,
    )
        .into_response())
}

/// Correct the customer's data for a rectification request in progress: the same body as
/// `PATCH /api/v1/customers/{id}` (personal fields only), decided as `customer.rectify`, noted
/// on the request's timeline.
#[utoipa::path(post, path = "/api/v1/privacy/requests/{id}/rectify", operation_id = "rectify_for_privacy_request",
    params(("id" = String, Path)), request_body = super::schemas::CustomerUpdate,
    responses(
        (status = 200, body = crate::customers::CustomerView),
        (status = 400, description = "The body is not a valid customer change, or names no field"),
        (status = 403, description = "The policy denies it (a field compliance may not correct, such as tags)"),
        (status = 404, description = "No such request in the tenant"),
        (status = 409, description = "Not a rectification request, or not in progress"),
    ))]
pub async fn rectify(
    State(s): State<AppState>,
    who: Authenticated,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<Json<crate::customers::CustomerView>> {
    let changes = crate::customers::validate::changes(&body, false)
        .map_err(|m| AppError::bad_request("invalid_customer", m))?;
    Ok(Json(
        privacy::rectify(&s.app, &who.actor, &id, &changes, now_ms()).await?,
    ))
}

/// The request log's figures over the last 24 months: requests by kind, completed, refused,
/// open, overdue, closed late, median and worst days to answer.
#[utoipa::path(get, path = "/api/v1/privacy/report", operation_id = "privacy_request_report",
    responses((status = 200, body = privacy::report::RequestLog), (status = 403, description = "The policy denies it")))]
pub async fn report(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<privacy::report::RequestLog>> {
    Ok(Json(
        privacy::report::report(&s.app, &who.actor, now_ms()).await?,
    ))
}

/// The tenant's privacy settings: deadline periods and retention schedule.
#[utoipa::path(get, path = "/api/v1/privacy/settings", operation_id = "get_privacy_settings",
    responses((status = 200, body = privacy::settings::Settings), (status = 403, description = "The policy denies it")))]
pub async fn settings(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<privacy::settings::Settings>> {
    Ok(Json(privacy::settings::get(&s.app, &who.actor).await?))
}

/// New privacy settings, replacing the old as a whole.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    settings: privacy::settings::Settings,
    /// Why (kept in the audit record).
    #[serde(default)]
    note: String,
}

/// Replace the tenant's privacy settings: periods no longer than the law's, retention no
/// shorter than the platform's floors (audit records and decision logs six months, the request
/// log 24 months).
#[utoipa::path(put, path = "/api/v1/privacy/settings", operation_id = "put_privacy_settings",
    request_body = SettingsChange,
    responses(
        (status = 200, body = privacy::settings::Settings),
        (status = 400, description = "Unknown fields, a period longer than the law allows, or retention below a floor"),
        (status = 403, description = "The policy denies it"),
    ))]
pub async fn put_settings(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Json<privacy::settings::Settings>> {
    let change: SettingsChange = typed(body)?;
    Ok(Json(
        privacy::settings::put(&s.app, &who.actor, &change.settings, &change.note, now_ms())
            .await?,
    ))
}

/// The tenant's retention runs, newest first, with what each found or removed.
#[utoipa::path(get, path = "/api/v1/privacy/retention/runs", operation_id = "list_retention_runs",
    responses((status = 200, body = Vec<privacy::retention::RunReport>), (status = 403, description = "The policy denies it")))]
pub async fn retention_runs(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<Vec<privacy::retention::RunReport>>> {
    Ok(Json(privacy::retention::runs(&s.app, &who.actor).await?))
}

/// A retention run to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRun {
    /// `false` (the default) counts what would go; `true` erases and deletes it.
    #[serde(default)]
    apply: bool,
}

/// Run the retention schedule now: a dry run counts what would go, an applied one removes it
/// (all but what a legal hold keeps; a tenant-wide hold stops the run).
#[utoipa::path(post, path = "/api/v1/privacy/retention/runs", operation_id = "run_retention",
    request_body = RetentionRun,
    responses(
        (status = 201, body = privacy::retention::RunReport),
        (status = 400, description = "The body is not `{apply?}`"),
        (status = 403, description = "The policy denies it"),
    ))]
pub async fn run_retention(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let run: RetentionRun = typed(body)?;
    let report = privacy::retention::run(&s.app, &who.actor, run.apply, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}
