//! The plugin API: upload and manage a tenant's plugins (tenant admins), and use their screens
//! and actions (staff, as the policy allows; the plugin then acts with the member's rights).

use std::collections::BTreeSet;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::api::{JsonObject, typed};
use super::auth::Authenticated;
use super::forms;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::plugins::Limits;
use crate::plugins::abi::latest::Param;
use crate::plugins::abi::latest::ui::ScreenRef;
use crate::plugins::caps::Capability;
use crate::plugins::invoke;
use crate::plugins::jobs::{JobInfo, JobRun};
use crate::plugins::lifecycle::{self, PluginInfo, Upload};
use crate::plugins::package::MAX_COMPONENT_BYTES;
use crate::store::PluginLogRow;

pub fn routes() -> Router<AppState> {
    // An upload may carry a whole component; the 32 MiB limit itself is checked (and explained)
    // by the package check, so the body limit leaves room above it.
    let upload_limit = axum::extract::DefaultBodyLimit::max(MAX_COMPONENT_BYTES + (4 << 20));
    Router::new()
        .route(
            "/api/v1/plugins",
            get(list).post(install).layer(upload_limit),
        )
        .route("/api/v1/plugins/{name}", get(show).delete(uninstall))
        .route(
            "/api/v1/plugins/{name}/upgrade",
            post(upgrade).layer(upload_limit),
        )
        .route("/api/v1/plugins/{name}/enable", post(enable))
        .route("/api/v1/plugins/{name}/disable", post(disable))
        .route("/api/v1/plugins/{name}/limits", put(limits))
        .route("/api/v1/plugins/{name}/log", get(log))
        .route("/api/v1/plugins/{name}/jobs", get(jobs))
        .route("/api/v1/plugins/{name}/jobs/{job}/run", post(run_job))
        .route("/api/v1/plugins/{name}/screens/{screen}", get(screen))
        .route("/api/v1/plugins/{name}/actions/{action}", post(action))
        .route("/api/v1/plugin-trust/keys", post(trust_key))
        .route("/api/v1/plugin-trust", put(trust))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    AppError::new(
        super::error::kind_of(e.status()),
        "invalid_upload",
        format!("the upload could not be read: {}", e.body_text()),
    )
}

/// Reads the multipart upload: `component` (the .wasm file), optional `signature` (hex, base64
/// or raw 64 bytes), `grant` (repeatable, or comma-separated), optional `limits` (JSON).
async fn read_upload(mut form: Multipart) -> AppResult<Upload> {
    let mut bytes = None;
    let mut signature = None;
    let mut grants = BTreeSet::new();
    let mut limits = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(multipart_error)?;
        match name.as_str() {
            "component" => bytes = Some(data.to_vec()),
            "signature" => signature = Some(data.to_vec()),
            "grant" => {
                let text = std::str::from_utf8(&data).map_err(|_| {
                    AppError::bad_request("invalid_upload", "field `grant` must be text")
                })?;
                for g in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                    grants.insert(parse_capability(g)?);
                }
            }
            "limits" => {
                let l: Limits = serde_json::from_slice(&data).map_err(|e| {
                    AppError::bad_request(
                        "invalid_upload",
                        format!("field `limits` is not valid limits JSON: {e}"),
                    )
                })?;
                limits = Some(l);
            }
            other => {
                return Err(AppError::bad_request(
                    "invalid_upload",
                    format!(
                        "unknown field `{}`; expected component, signature, grant, limits",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
    }
    let bytes = bytes.ok_or_else(|| {
        AppError::bad_request(
            "invalid_upload",
            "the upload has no `component` field (the .wasm file)",
        )
    })?;
    Ok(Upload {
        bytes,
        signature,
        grants,
        limits,
    })
}

fn parse_capability(name: &str) -> AppResult<Capability> {
    Capability::parse(name).ok_or_else(|| {
        AppError::bad_request(
            "invalid_upload",
            format!(
                "unknown capability `{}`; capabilities are: {}",
                name.chars().take(40).collect::<String>(),
                Capability::ALL.map(Capability::name).join(", ")
            ),
        )
    })
}

/// The tenant's plugins with version, SHA-256, state, capabilities and screens.
#[utoipa::path(get, path = "/api/v1/plugins", operation_id = "list_plugins",
    responses((status = 200, body = Vec<PluginInfo>), (status = 403, description = "The policy denies it")))]
pub async fn list(
    State(s): State<AppState>,
    who: Authenticated,
) -> AppResult<Json<Vec<PluginInfo>>> {
    Ok(Json(lifecycle::list_for(&s.app, &who.actor).await?))
}

/// A plugin upload as `multipart/form-data` (for the document; `read_upload` reads it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PluginUpload {
    /// The component (`.wasm`), at most 32 MiB.
    #[schema(value_type = String, format = Binary)]
    component: Vec<u8>,
    /// The publisher's Ed25519 signature of the component: hex, base64 or the 64 raw bytes.
    #[schema(value_type = String, format = Binary, required = false)]
    signature: Vec<u8>,
    /// Capabilities to grant (`customers,log`): comma-separated, or the field repeated.
    #[schema(required = false)]
    grant: String,
    /// Limits as JSON (see `Limits`), each at most the platform's.
    #[schema(required = false)]
    limits: String,
}

/// Installs a plugin (multipart: `component`, `grant`, optional `signature`, `limits`).
#[utoipa::path(post, path = "/api/v1/plugins", operation_id = "install_plugin", request_body(content = PluginUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = PluginInfo),
        (status = 400, description = "Not a multipart upload, an unknown field, no `component`, or an unknown capability (`invalid_upload`)"),
        (status = 403, description = "The policy denies it"),
        (status = 409, description = "A plugin of that name, or that version of it, is already installed"),
        (status = 413, description = "The upload is over 32 MiB"),
        (status = 422, description = "Not a component this host runs, an import that was not granted, a bad or missing signature, or a bad manifest"),
    ))]
pub async fn install(
    State(s): State<AppState>,
    who: Authenticated,
    form: Multipart,
) -> AppResult<Response> {
    let permit = lifecycle::permit(&s.app, &who.actor, None).await?;
    let upload = read_upload(form).await?;
    let info = lifecycle::install(&s.app, &s.plugins, &permit, upload, None).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// Replaces an installed plugin with a new version of it (same fields as install).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/upgrade", operation_id = "upgrade_plugin", params(("name" = String, Path)),
    request_body(content = PluginUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = PluginInfo),
        (status = 400, description = "Not a multipart upload, an unknown field, no `component`, or an unknown capability (`invalid_upload`)"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such plugin in the tenant"),
        (status = 409, description = "That version of the plugin was already installed"),
        (status = 413, description = "The upload is over 32 MiB"),
        (status = 422, description = "Another plugin's component, not a component this host runs, an import that was not granted, a bad or missing signature, or a bad manifest"),
    ))]
pub async fn upgrade(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
    form: Multipart,
) -> AppResult<Json<PluginInfo>> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    let upload = read_upload(form).await?;
    Ok(Json(
        lifecycle::install(&s.app, &s.plugins, &permit, upload, Some(&name)).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/plugins/{name}", operation_id = "get_plugin", params(("name" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 403, description = "The policy denies it"), (status = 404, description = "No such plugin in the tenant")))]
pub async fn show(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
) -> AppResult<Json<PluginInfo>> {
    Ok(Json(lifecycle::show_for(&s.app, &who.actor, &name).await?))
}

#[derive(utoipa::IntoParams)]
pub struct UninstallQuery {
    /// Also delete the plugin's records, log and scratch files.
    purge: bool,
}

#[utoipa::path(delete, path = "/api/v1/plugins/{name}", operation_id = "uninstall_plugin", params(("name" = String, Path), UninstallQuery),
    responses(
        (status = 204, description = "Uninstalled"),
        (status = 400, description = "`purge` is not true or false, or an unknown or repeated parameter (`invalid_query`)"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such plugin in the tenant"),
    ))]
pub async fn uninstall(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
    uri: axum::http::Uri,
) -> AppResult<StatusCode> {
    let mut q = UninstallQuery { purge: false };
    for (_, v) in super::api::query_params(&uri, &["purge"], &[])? {
        q.purge = match v.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(AppError::bad_request(
                    "invalid_query",
                    "`purge` must be true or false",
                ));
            }
        };
    }
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    lifecycle::uninstall(&s.app, &s.plugins, &permit, &name, q.purge).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/plugins/{name}/enable", operation_id = "enable_plugin", params(("name" = String, Path)),
    responses((status = 204, description = "Enabled"), (status = 403, description = "The policy denies it"), (status = 404, description = "No such plugin in the tenant")))]
pub async fn enable(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    lifecycle::set_enabled(&s.app, &permit, &name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/plugins/{name}/disable", operation_id = "disable_plugin", params(("name" = String, Path)),
    responses((status = 204, description = "Disabled"), (status = 403, description = "The policy denies it"), (status = 404, description = "No such plugin in the tenant")))]
pub async fn disable(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    lifecycle::set_enabled(&s.app, &permit, &name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tightens a plugin's limits (each at most the platform default).
#[utoipa::path(put, path = "/api/v1/plugins/{name}/limits", operation_id = "set_plugin_limits", params(("name" = String, Path)), request_body = Limits,
    responses(
        (status = 204, description = "Set"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such plugin in the tenant"),
        (status = 422, description = "A limit above the platform's ceiling, or zero (`invalid_limits`)"),
    ))]
pub async fn limits(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
    JsonObject(body): JsonObject,
) -> AppResult<StatusCode> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    let l: Limits = typed(body)?;
    lifecycle::set_limits(&s.app, &permit, &name, &l).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The newest 500 lines of the plugin's log (its `log` lines, stdout and stderr).
#[utoipa::path(get, path = "/api/v1/plugins/{name}/log", operation_id = "get_plugin_log", params(("name" = String, Path)),
    responses((status = 200, body = Vec<PluginLogRow>), (status = 403, description = "The policy denies it"), (status = 404, description = "No such plugin in the tenant")))]
pub async fn log(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
) -> AppResult<Json<Vec<PluginLogRow>>> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    Ok(Json(lifecycle::log(&s.app, &permit, &name, 500).await?))
}

/// The plugin's jobs: schedule (UTC), when the next run is due, and how the last one went.
#[utoipa::path(get, path = "/api/v1/plugins/{name}/jobs", operation_id = "list_plugin_jobs", params(("name" = String, Path)),
    responses((status = 200, body = Vec<JobInfo>), (status = 403, description = "The policy denies it"), (status = 404, description = "No such plugin in the tenant")))]
pub async fn jobs(
    State(s): State<AppState>,
    who: Authenticated,
    Path(name): Path<String>,
) -> AppResult<Json<Vec<JobInfo>>> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    Ok(Json(
        crate::plugins::jobs::list(&s.app, &permit, &name).await?,
    ))
}

/// Runs one of the plugin's jobs now (as the plugin's service identity) and returns its report;
/// the schedule is unchanged. 409 while a run of it is in progress.
#[utoipa::path(post, path = "/api/v1/plugins/{name}/jobs/{job}/run", operation_id = "run_plugin_job",
    params(("name" = String, Path), ("job" = String, Path)),
    responses(
        (status = 200, body = JobRun, description = "The run's report (`ok` or `failed`)"),
        (status = 403, description = "The policy denies it"),
        (status = 404, description = "No such plugin or job"),
        (status = 409, description = "A run of the job is in progress, or the plugin is disabled"),
    ))]
pub async fn run_job(
    State(s): State<AppState>,
    who: Authenticated,
    Path((name, job)): Path<(String, String)>,
) -> AppResult<Json<JobRun>> {
    let permit = lifecycle::permit(&s.app, &who.actor, Some(&name)).await?;
    Ok(Json(
        crate::plugins::jobs::run_now(&s.app, &s.plugins, &permit, &name, &job).await?,
    ))
}

fn params(pairs: Vec<(String, String)>) -> Vec<Param> {
    pairs
        .into_iter()
        .map(|(name, value)| Param { name, value })
        .collect()
}

/// A plugin's screen, rendered by the plugin for the signed-in member (query string = params).
#[utoipa::path(get, path = "/api/v1/plugins/{name}/screens/{screen}", operation_id = "render_plugin_screen",
    params(("name" = String, Path), ("screen" = String, Path)),
    responses(
        (status = 200, body = Object, description = "The rendered screen: its declarative blocks"),
        (status = 400, description = "The query string cannot be read"),
        (status = 403, description = "The policy denies it, or the plugin refused (`forbidden`)"),
        (status = 404, description = "No such plugin or screen, or the plugin found nothing"),
        (status = 409, description = "The plugin is disabled, or it answered with a conflict"),
        (status = 413, description = "The parameters exceed the plugin's input limit (`too_large`)"),
        (status = 422, description = "The plugin refused the parameters (`invalid`, with `fields`)"),
        (status = 429, description = "The plugin reached one of its limits (`limit_exceeded`)"),
        (status = 502, description = "The plugin failed: a trap, its deadline, or a limit of its sandbox (`plugin_stopped`)"),
        (status = 503, description = "The host's plugin call slots are all taken (`plugins_busy`), or the plugin is unavailable (`unavailable`)"),
    ))]
pub async fn screen(
    State(s): State<AppState>,
    who: Authenticated,
    Path((name, screen)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> AppResult<Json<Value>> {
    let screen = invoke::render(&s.app, &s.plugins, &who.actor, &name, &screen, params(q)).await?;
    Ok(Json(
        serde_json::to_value(screen).map_err(anyhow::Error::from)?,
    ))
}

/// A form submission or button press (for the document; `action` reads it field by field).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ActionRequest {
    /// The form's inputs: each name to a value, or to a list of values.
    #[schema(value_type = Option<std::collections::HashMap<String, ParamValue>>)]
    inputs: Option<Value>,
    /// The row a row action was pressed on.
    row: Option<String>,
    /// The screen the action is on (default `main`), with its parameters.
    origin: Option<ActionOrigin>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ActionOrigin {
    screen: String,
    #[schema(value_type = Option<std::collections::HashMap<String, ParamValue>>)]
    params: Option<Value>,
}

/// One value, or several (a multi-valued input repeats its name).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ParamValue {
    One(String),
    Many(Vec<String>),
}

/// A form submission or button press: `{"inputs": {name: value or [values]}, "row": id,
/// "origin": {"screen": name, "params": {name: value}}}`.
#[utoipa::path(post, path = "/api/v1/plugins/{name}/actions/{action}", operation_id = "submit_plugin_action",
    params(("name" = String, Path), ("action" = String, Path)),
    request_body = ActionRequest,
    responses(
        (status = 200, body = Object, description = "The action's outcome: a notice and what to show next"),
        (status = 403, description = "The policy denies it, or the plugin refused (`forbidden`)"),
        (status = 404, description = "No such plugin, action or origin screen, or the plugin found nothing"),
        (status = 409, description = "The plugin is disabled, or it answered with a conflict"),
        (status = 413, description = "The inputs exceed the plugin's input limit (`too_large`)"),
        (status = 422, description = "The origin screen offers no such action (`action_not_offered`), or the inputs break the form's rules or the plugin refused them (`invalid`, with `fields`)"),
        (status = 429, description = "The plugin reached one of its limits (`limit_exceeded`)"),
        (status = 502, description = "The plugin failed: a trap, its deadline, or a limit of its sandbox (`plugin_stopped`)"),
        (status = 503, description = "The host's plugin call slots are all taken (`plugins_busy`), or the plugin is unavailable (`unavailable`)"),
    ))]
pub async fn action(
    State(s): State<AppState>,
    who: Authenticated,
    Path((name, action)): Path<(String, String)>,
    JsonObject(obj): JsonObject,
) -> AppResult<Json<Value>> {
    let bad = |m: &str| AppError::bad_request("invalid_request", m.to_string());
    if let Some(k) = obj
        .keys()
        .find(|k| !["inputs", "row", "origin"].contains(&k.as_str()))
    {
        return Err(bad(&format!(
            "unknown field `{}`; expected inputs, row, origin",
            k.chars().take(40).collect::<String>()
        )));
    }
    let inputs = param_map(obj.get("inputs"), "inputs")?;
    let row = match obj.get("row") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return Err(bad("field `row` must be a string")),
    };
    let origin = match obj.get("origin") {
        None | Some(Value::Null) => ScreenRef {
            screen: "main".into(),
            params: Vec::new(),
        },
        Some(Value::Object(o)) => ScreenRef {
            screen: o
                .get("screen")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("field `origin.screen` must be a string"))?
                .to_string(),
            params: param_map(o.get("params"), "origin.params")?,
        },
        Some(_) => return Err(bad("field `origin` must be an object")),
    };
    offered(&s, &who, &name, &action, &origin, row.as_deref(), &inputs).await?;
    let outcome = invoke::act(
        &s.app,
        &s.plugins,
        &who.actor,
        &name,
        &action,
        invoke::Submission {
            origin,
            row,
            inputs,
        },
    )
    .await?;
    Ok(Json(
        serde_json::to_value(outcome).map_err(anyhow::Error::from)?,
    ))
}

/// Refuses a submission that no form, button or row action of its origin screen offers (the
/// screen is rendered for the member to find out), naming the fields a form's rules refuse: the
/// API is held to the same rules as the web UI, before the plugin's `act` runs.
async fn offered(
    s: &AppState,
    who: &Authenticated,
    name: &str,
    action: &str,
    origin: &ScreenRef,
    row: Option<&str>,
    inputs: &[Param],
) -> AppResult<()> {
    // An undeclared action is 404, and inputs over the plugin's limit 413, before any plugin
    // runs (`act` checks both again).
    let plugin = lifecycle::get(&s.app, &who.actor.tenant_id, name)
        .await
        .ok();
    let Some(plugin) = plugin.filter(|p| p.manifest.actions.iter().any(|a| a.name == action))
    else {
        return Err(AppError::not_found(&format!(
            "action {} of plugin {name}",
            action.chars().take(60).collect::<String>()
        )));
    };
    let size: usize = inputs
        .iter()
        .chain(&origin.params)
        .map(|p| p.name.len() + p.value.len())
        .sum::<usize>()
        + row.map_or(0, str::len);
    if size > plugin.limits.input_bytes {
        return Err(AppError::new(
            ErrorKind::TooLarge,
            "too_large",
            format!(
                "the request's parameters exceed the plugin's input limit of {} bytes",
                plugin.limits.input_bytes
            ),
        ));
    }
    let screen = invoke::render(
        &s.app,
        &s.plugins,
        &who.actor,
        name,
        &origin.screen,
        origin.params.clone(),
    )
    .await?;
    let offers = forms::offers(&screen, action);
    if offers.is_empty() {
        return Err(AppError::new(
            ErrorKind::Rejected,
            "action_not_offered",
            format!(
                "screen `{}` offers no action `{}`; give the screen it is on as `origin`",
                origin.screen.chars().take(60).collect::<String>(),
                action.chars().take(60).collect::<String>()
            ),
        ));
    }
    let mut checked: Vec<_> = offers
        .iter()
        .map(|o| forms::check(o, row, inputs))
        .collect();
    if checked.iter().any(Vec::is_empty) {
        return Ok(());
    }
    checked.sort_by_key(Vec::len);
    let issues = checked.swap_remove(0);
    let message = match issues.as_slice() {
        [one] if one.field == "_form" => one.message.clone(),
        _ => "the inputs do not meet the form's rules".to_string(),
    };
    let mut e = AppError::new(ErrorKind::Rejected, "invalid", message);
    e.fields = issues;
    Err(e)
}

/// `{name: "v"}` or `{name: ["a", "b"]}` (a multi-valued input repeats its name).
fn param_map(v: Option<&Value>, field: &str) -> AppResult<Vec<Param>> {
    let bad = || {
        AppError::bad_request(
            "invalid_request",
            format!("field `{field}` must map names to strings or lists of strings"),
        )
    };
    let mut out = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, value) in m {
                match value {
                    Value::String(s) => out.push(Param {
                        name: name.clone(),
                        value: s.clone(),
                    }),
                    Value::Array(items) => {
                        for i in items {
                            let s = i.as_str().ok_or_else(bad)?;
                            out.push(Param {
                                name: name.clone(),
                                value: s.to_string(),
                            });
                        }
                    }
                    _ => return Err(bad()),
                }
            }
        }
        Some(_) => return Err(bad()),
    }
    Ok(out)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    name: String,
    /// The publisher's Ed25519 public key, 64 hex characters.
    public_key: String,
}

/// Trusts a publisher's Ed25519 key for plugin signatures.
#[utoipa::path(post, path = "/api/v1/plugin-trust/keys", operation_id = "trust_publisher_key", request_body = TrustedKey,
    responses(
        (status = 204, description = "Trusted"),
        (status = 403, description = "The policy denies it"),
        (status = 409, description = "A key of that name is already trusted"),
        (status = 422, description = "Not an Ed25519 public key in hex, or a name that is not 1-60 printable characters (`invalid_key`)"),
    ))]
pub async fn trust_key(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<StatusCode> {
    let permit = lifecycle::permit(&s.app, &who.actor, None).await?;
    let k: TrustedKey = typed(body)?;
    lifecycle::trust_key(&s.app, &permit, &k.name, &k.public_key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustSettings {
    /// Accept only plugins signed by a trusted publisher key.
    require_signature: bool,
}

#[utoipa::path(put, path = "/api/v1/plugin-trust", operation_id = "set_plugin_trust", request_body = TrustSettings,
    responses((status = 204, description = "Set"), (status = 403, description = "The policy denies it")))]
pub async fn trust(
    State(s): State<AppState>,
    who: Authenticated,
    JsonObject(body): JsonObject,
) -> AppResult<StatusCode> {
    let permit = lifecycle::permit(&s.app, &who.actor, None).await?;
    let t: TrustSettings = typed(body)?;
    lifecycle::require_signatures(&s.app, &permit, t.require_signature).await?;
    Ok(StatusCode::NO_CONTENT)
}
