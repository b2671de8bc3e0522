//! A tenant's plugins: install, upgrade, enable, disable, limits, uninstall (each validated first,
//! then written in one transaction with its audit record), and calls to their screens and actions.
//!
//! Management functions take the audit name of whoever acts (`user:…` over HTTP, after the policy
//! allowed `plugin.manage`; `operator:cli` from the command line).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::abi::latest::guest::{ActionOutcome, ActionRequest, PluginManifest, ScreenRequest};
use super::abi::latest::types::{ActingUser, Locale};
use super::abi::latest::ui::{Screen, ScreenRef};
use super::abi::latest::{Error, Param};
use super::caps::Capability;
use super::package;
use super::runtime::{CallError, Caller, Limits};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::{PluginRow, now_ms};

/// An upload: the component, an optional detached Ed25519 signature, the grants, optional limits.
pub struct Upload {
    pub bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    pub grants: BTreeSet<Capability>,
    pub limits: Option<Limits>,
}

/// A capability the plugin asks for, and whether it was granted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CapabilityInfo {
    pub capability: Capability,
    pub reason: String,
    pub granted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScreenInfo {
    pub name: String,
    pub title: String,
    pub title_zh_hans: Option<String>,
    pub in_menu: bool,
}

/// A plugin as `GET /api/v1/plugins` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub title: String,
    pub sha256: String,
    /// `crm:platform` version it targets.
    pub interface: String,
    pub state: String,
    pub signed_by: Option<String>,
    pub capabilities: Vec<CapabilityInfo>,
    pub granted: Vec<Capability>,
    pub screens: Vec<ScreenInfo>,
    pub actions: Vec<String>,
    pub limits: Limits,
    /// What its records take, against its quota and its tenant's.
    pub storage: Option<StorageUse>,
    pub installed_at: i64,
    pub updated_at: i64,
}

/// A plugin's stored records against its quota, and its tenant's plugins' against theirs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StorageUse {
    pub bytes: i64,
    pub records: i64,
    pub quota_bytes: i64,
    pub tenant_bytes: i64,
    pub tenant_quota_bytes: i64,
}

/// A plugin as stored, decoded.
pub struct Installed {
    pub row: PluginRow,
    pub manifest: PluginManifest,
    pub grants: BTreeSet<Capability>,
    pub limits: Limits,
}

impl Installed {
    pub(crate) fn decode(row: PluginRow) -> AppResult<Self> {
        let manifest =
            serde_json::from_str(&row.manifest_json).map_err(|_| AppError::integrity())?;
        let grants = serde_json::from_str(&row.grants_json).map_err(|_| AppError::integrity())?;
        let limits = serde_json::from_str(&row.limits_json).map_err(|_| AppError::integrity())?;
        Ok(Self {
            row,
            manifest,
            grants,
            limits,
        })
    }

    pub fn info(&self) -> PluginInfo {
        let m = &self.manifest;
        PluginInfo {
            name: self.row.name.clone(),
            version: self.row.version.clone(),
            title: m.title.en.clone(),
            sha256: self.row.sha256.clone(),
            interface: format!("{}@{}", super::abi::PACKAGE, self.row.wit_version),
            state: self.row.state.clone(),
            signed_by: self.row.signed_by.clone(),
            capabilities: m
                .capabilities
                .iter()
                .map(|c| {
                    let cap = package::capability_of(c.capability);
                    CapabilityInfo {
                        capability: cap,
                        reason: c.reason.en.clone(),
                        granted: self.grants.contains(&cap),
                    }
                })
                .collect(),
            granted: self.grants.iter().copied().collect(),
            screens: m
                .screens
                .iter()
                .map(|s| ScreenInfo {
                    name: s.name.clone(),
                    title: s.title.en.clone(),
                    title_zh_hans: s.title.zh_hans.clone(),
                    in_menu: s.in_menu,
                })
                .collect(),
            actions: m.actions.iter().map(|a| a.name.clone()).collect(),
            limits: self.limits.clone(),
            storage: None,
            installed_at: self.row.installed_at,
            updated_at: self.row.updated_at,
        }
    }

    fn collections(&self) -> BTreeMap<String, Vec<String>> {
        self.manifest
            .collections
            .iter()
            .map(|c| (c.name.clone(), c.indexed.clone()))
            .collect()
    }
}

/// An audit record of an allowed plugin-management step or plugin call.
pub(crate) fn allowed(
    app: &App,
    actor: impl Into<String>,
    action: &str,
    resource: String,
    detail: serde_json::Value,
) -> audit::Event {
    audit::Event {
        actor: actor.into(),
        action: action.to_string(),
        resource,
        decision: "allow".into(),
        policy_version: app.pdp.version().to_string(),
        detail,
    }
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::new(ErrorKind::Rejected, code, message)
}

fn names(caps: impl IntoIterator<Item = Capability>) -> String {
    caps.into_iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Installs a new plugin, or (with `upgrade` naming it) replaces an installed one with a new
/// version. Nothing is written unless every check passes.
pub async fn install(
    app: &Arc<App>,
    tenant_id: &str,
    by: &str,
    upload: Upload,
    upgrade: Option<&str>,
) -> AppResult<PluginInfo> {
    let rt = &app.plugins;
    let bytes = upload.bytes;
    let checked = {
        let app = app.clone();
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || package::check(&app.plugins, &bytes))
            .await
            .map_err(|_| AppError::internal())??
    };
    let manifest = rt
        .manifest(app, tenant_id, &checked.component)
        .await
        .map_err(|e| match e {
            CallError::Host(_) | CallError::Busy => call_error(e),
            other => unprocessable(
                "invalid_component",
                format!(
                    "the component's manifest could not be read: {other}{}",
                    detail(&other)
                ),
            ),
        })?;
    package::check_manifest(&manifest)?;
    let name = manifest.name.clone();
    let existing = app.store.plugin(tenant_id, &name).await?;
    match (upgrade, &existing) {
        (None, Some(_)) => {
            return Err(AppError::conflict(format!(
                "a plugin named {name} is already installed; upgrade it instead"
            )));
        }
        (Some(target), _) if target != name => {
            return Err(unprocessable(
                "wrong_plugin",
                format!("the component is the plugin {name}, not {target}"),
            ));
        }
        (Some(target), None) => return Err(AppError::not_found(&format!("plugin {target}"))),
        _ => {}
    }
    if app
        .store
        .plugin_uploaded(tenant_id, &name, &manifest.version)
        .await?
    {
        return Err(AppError::conflict(format!(
            "version {} of {name} was already installed in this tenant; give the new build a new version",
            manifest.version
        )));
    }
    let requested: BTreeSet<Capability> = manifest
        .capabilities
        .iter()
        .map(|c| package::capability_of(c.capability))
        .collect();
    // What the component imports must be granted; what is granted must have been asked for.
    let missing: Vec<Capability> = checked
        .imports
        .difference(&upload.grants)
        .copied()
        .collect();
    if !missing.is_empty() {
        let unasked: Vec<Capability> = missing
            .iter()
            .filter(|c| !requested.contains(c))
            .copied()
            .collect();
        return Err(unprocessable(
            "ungranted_imports",
            format!(
                "the plugin imports interfaces that were not granted: {}{}",
                names(missing),
                if unasked.is_empty() {
                    " (grant them, or install a build that does not use them)".to_string()
                } else {
                    format!("; its manifest does not even ask for {}", names(unasked))
                }
            ),
        ));
    }
    let not_requested: Vec<Capability> = upload.grants.difference(&requested).copied().collect();
    if !not_requested.is_empty() {
        return Err(unprocessable(
            "grant_not_requested",
            format!("the plugin does not ask for: {}", names(not_requested)),
        ));
    }
    let limits = upload.limits.unwrap_or_default();
    limits
        .check()
        .map_err(|m| unprocessable("invalid_limits", m))?;
    let (trusted, required) = app.store.plugin_trust(tenant_id).await?;
    let signature = upload
        .signature
        .as_deref()
        .map(package::parse_signature)
        .transpose()?;
    let signed_by = package::verify_signature(&bytes, signature.as_ref(), &trusted, required)?;
    let now = now_ms();
    let row = PluginRow {
        tenant_id: tenant_id.to_string(),
        name: name.clone(),
        version: manifest.version.clone(),
        sha256: checked.sha256.clone(),
        wit_version: checked.wit_version.clone(),
        component: bytes,
        manifest_json: serde_json::to_string(&manifest).map_err(anyhow::Error::from)?,
        grants_json: serde_json::to_string(&upload.grants).map_err(anyhow::Error::from)?,
        limits_json: serde_json::to_string(&limits).map_err(anyhow::Error::from)?,
        state: existing
            .as_ref()
            .map_or_else(|| "enabled".to_string(), |e| e.state.clone()),
        signed_by,
        installed_at: existing.as_ref().map_or(now, |e| e.installed_at),
        updated_at: now,
    };
    // Linking with the grants must work before anything is stored.
    rt.prepare(&row.sha256, &row.component, &upload.grants)
        .map_err(|e| {
            unprocessable(
                "invalid_component",
                format!("the component cannot be linked: {e:#}"),
            )
        })?;
    let action = if upgrade.is_some() {
        "plugin.upgrade"
    } else {
        "plugin.install"
    };
    let mut tx = app.store.begin().await?;
    app.store.put_plugin(&mut tx, &row).await?;
    super::jobs::register(app, &mut tx, tenant_id, &manifest).await?;
    audit::append(
        &mut tx,
        tenant_id,
        &allowed(
            app,
            by,
            action,
            format!("plugin/{name}"),
            serde_json::json!({
                "version": row.version,
                "previous": existing.as_ref().map(|e| e.version.clone()),
                "sha256": row.sha256,
                "granted": upload.grants,
                "signed_by": row.signed_by,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Installed::decode(row)?.info())
}

fn detail(e: &CallError) -> String {
    match e {
        CallError::Plugin { error, .. } => format!(": {}", error_text(error)),
        _ => String::new(),
    }
}

/// The installed plugin, or 404.
pub async fn get(app: &App, tenant_id: &str, name: &str) -> AppResult<Installed> {
    match app.store.plugin(tenant_id, name).await? {
        Some(row) => Installed::decode(row),
        None => Err(AppError::not_found(&format!("plugin {}", clip(name)))),
    }
}

pub async fn list(app: &App, tenant_id: &str) -> AppResult<Vec<PluginInfo>> {
    let usage = app.store.plugin_usage(tenant_id).await?;
    let tenant_bytes: i64 = usage.iter().map(|u| u.1).sum();
    let mut out = Vec::new();
    for row in app.store.plugins(tenant_id).await? {
        let mut info = Installed::decode(row)?.info();
        let (bytes, records) = usage
            .iter()
            .find(|u| u.0 == info.name)
            .map_or((0, 0), |u| (u.1, u.2));
        info.storage = Some(StorageUse {
            bytes,
            records,
            quota_bytes: info.limits.storage_bytes as i64,
            tenant_bytes,
            tenant_quota_bytes: app.settings.tenant_storage_bytes as i64,
        });
        out.push(info);
    }
    Ok(out)
}

async fn audited_change(
    app: &App,
    tenant_id: &str,
    by: &str,
    name: &str,
    action: &str,
    detail: serde_json::Value,
    change: impl AsyncFnOnce(&mut crate::store::Tx) -> sqlx::Result<bool>,
) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    if !change(&mut tx).await? {
        return Err(AppError::not_found(&format!("plugin {}", clip(name))));
    }
    audit::append(
        &mut tx,
        tenant_id,
        &allowed(app, by, action, format!("plugin/{name}"), detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Enables or disables a plugin (a disabled plugin keeps its data; its screens answer 409).
pub async fn set_enabled(
    app: &App,
    tenant_id: &str,
    by: &str,
    name: &str,
    enabled: bool,
) -> AppResult<()> {
    let state = if enabled { "enabled" } else { "disabled" };
    audited_change(
        app,
        tenant_id,
        by,
        name,
        &format!("plugin.{}", &state[..state.len() - 1]),
        serde_json::json!({}),
        async |tx| app.store.set_plugin_state(tx, tenant_id, name, state).await,
    )
    .await
}

/// Tightens a plugin's limits (each within the platform's defaults).
pub async fn set_limits(
    app: &App,
    tenant_id: &str,
    by: &str,
    name: &str,
    limits: &Limits,
) -> AppResult<()> {
    limits
        .check()
        .map_err(|m| unprocessable("invalid_limits", m))?;
    let json = serde_json::to_string(limits).map_err(anyhow::Error::from)?;
    audited_change(
        app,
        tenant_id,
        by,
        name,
        "plugin.limits",
        serde_json::json!({"limits": limits}),
        async |tx| {
            app.store
                .set_plugin_limits(tx, tenant_id, name, &json)
                .await
        },
    )
    .await
}

/// Uninstalls a plugin, keeping its records (to reinstall later) or purging them.
pub async fn uninstall(
    app: &App,
    tenant_id: &str,
    by: &str,
    name: &str,
    purge: bool,
) -> AppResult<()> {
    let records = app.store.count_records(tenant_id, name).await?;
    audited_change(
        app,
        tenant_id,
        by,
        name,
        "plugin.uninstall",
        serde_json::json!({"purge": purge, "records": records}),
        async |tx| app.store.delete_plugin(tx, tenant_id, name, purge).await,
    )
    .await?;
    if purge {
        let dir = app.plugins.scratch_dir(tenant_id, name);
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!("cannot remove a plugin's scratch directory: {e}");
        }
    }
    Ok(())
}

/// Trusts an Ed25519 publisher key (64 hex characters) for the tenant's plugin signatures.
pub async fn trust_key(
    app: &App,
    tenant_id: &str,
    by: &str,
    name: &str,
    key_hex: &str,
) -> AppResult<()> {
    package::parse_public_key(key_hex).map_err(|m| unprocessable("invalid_key", m))?;
    if name.is_empty() || name.len() > 60 || name.chars().any(char::is_control) {
        return Err(unprocessable(
            "invalid_key",
            "the key name must be 1-60 printable characters",
        ));
    }
    let mut tx = app.store.begin().await?;
    app.store
        .add_publisher_key(&mut tx, tenant_id, name, key_hex.trim())
        .await
        .map_err(|e| {
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation())
            {
                AppError::conflict(format!("a publisher key named {name} is already trusted"))
            } else {
                e.into()
            }
        })?;
    audit::append(
        &mut tx,
        tenant_id,
        &allowed(
            app,
            by,
            "plugin.trust",
            format!("publisher/{name}"),
            serde_json::json!({"key": key_hex.trim()}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Requires (or stops requiring) signed plugins in the tenant.
pub async fn require_signatures(
    app: &App,
    tenant_id: &str,
    by: &str,
    required: bool,
) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    app.store
        .set_require_signature(&mut tx, tenant_id, required)
        .await?;
    audit::append(
        &mut tx,
        tenant_id,
        &allowed(
            app,
            by,
            "plugin.trust",
            "plugins".into(),
            serde_json::json!({"require_signature": required}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

fn acting_user(actor: &Actor) -> (ActingUser, Locale) {
    let locale = if actor.lang.starts_with("zh") {
        Locale::ZhHans
    } else {
        Locale::En
    };
    (
        ActingUser {
            id: actor.user_id.clone(),
            roles: vec![actor.role.clone()],
        },
        locale,
    )
}

fn params_size(params: &[Param]) -> usize {
    params.iter().map(|p| p.name.len() + p.value.len()).sum()
}

/// An enabled plugin the actor may use with `action` (`plugin.render` or `plugin.act`).
async fn usable(
    app: &Arc<App>,
    actor: &Actor,
    name: &str,
    action: &str,
    target: &str,
    writes: Option<bool>,
) -> AppResult<Installed> {
    app.authorize(
        actor,
        action,
        crate::policy::Resource {
            kind: "plugin".into(),
            tenant: actor.tenant_id.clone(),
            id: Some(format!("{}/{}", clip(name), clip(target))),
            fields: None,
        },
        serde_json::json!({"channel": "api", "writes": writes}),
    )
    .await?;
    let p = get(app, &actor.tenant_id, name).await?;
    if p.row.state != "enabled" {
        return Err(AppError::conflict(format!("the plugin {name} is disabled")));
    }
    Ok(p)
}

/// Runs a call against an installed plugin with its grants, limits and scratch directory; `now`
/// is the call's logical time (what `clock.now` answers).
pub(crate) async fn with_caller<R>(
    app: &Arc<App>,
    actor: &Actor,
    p: &Installed,
    now: i64,
    call: impl AsyncFnOnce(
        &super::runtime::Prepared,
        &Caller<'_>,
    ) -> Result<(R, Vec<crate::events::Emitted>), CallError>,
) -> AppResult<R> {
    // The component's bytes are read only when this host has not prepared it yet.
    let prepared = match app.plugins.prepared(&p.row.sha256, &p.grants) {
        Some(prepared) => prepared,
        None => {
            let bytes = app
                .store
                .plugin_component(&actor.tenant_id, &p.row.name)
                .await?
                .ok_or_else(|| AppError::not_found(&format!("plugin {}", clip(&p.row.name))))?;
            // Compiling a component takes seconds (a Python one, many): off the async workers.
            let (plugins, sha, grants) = (app.clone(), p.row.sha256.clone(), p.grants.clone());
            tokio::task::spawn_blocking(move || plugins.plugins.prepare(&sha, &bytes, &grants))
                .await
                .map_err(anyhow::Error::from)?
                .map_err(AppError::from)?
        }
    };
    let collections = p.collections();
    let caller = Caller {
        app,
        actor,
        plugin: &p.row.name,
        grants: &p.grants,
        collections: &collections,
        limits: &p.limits,
        now,
    };
    let (r, events) = call(&prepared, &caller).await.map_err(call_error)?;
    deliver_events(app, actor, &p.row.name, &events).await?;
    Ok(r)
}

/// Writes the events of a successful call to the tenant's outbox, queued for their subscribers.
async fn deliver_events(
    app: &App,
    actor: &Actor,
    plugin: &str,
    events: &[crate::events::Emitted],
) -> AppResult<()> {
    crate::events::emit(
        &app.store,
        &actor.tenant_id,
        plugin,
        events,
        &actor.through_plugin(plugin).audit_name(),
        app.pdp.version(),
    )
    .await
}

/// Renders one of a plugin's screens for the actor.
pub async fn render(
    app: &Arc<App>,
    actor: &Actor,
    name: &str,
    screen: &str,
    params: Vec<Param>,
) -> AppResult<Screen> {
    let p = usable(app, actor, name, "plugin.render", screen, None).await?;
    if !p.manifest.screens.iter().any(|s| s.name == screen) {
        return Err(AppError::not_found(&format!(
            "screen {} of plugin {name}",
            clip(screen)
        )));
    }
    if params_size(&params) > p.limits.input_bytes {
        return Err(too_large(p.limits.input_bytes));
    }
    let (user, locale) = acting_user(actor);
    let request = ScreenRequest {
        screen: screen.to_string(),
        params,
        locale,
        user,
    };
    let screen = with_caller(app, actor, &p, now_ms(), async |prepared, caller| {
        app.plugins.render(prepared, caller, request).await
    })
    .await?;
    super::screens::check(&screen, &p.manifest).map_err(|why| refused_screen(name, why))?;
    Ok(screen)
}

/// A screen the host will not show, as the plugin's failure (502): what it sent is wrong.
fn refused_screen(plugin: &str, why: String) -> AppError {
    call_error(CallError::Stopped {
        plugin: plugin.to_string(),
        reason: why,
    })
}

/// Runs one of a plugin's declared actions for the actor.
pub async fn act(
    app: &Arc<App>,
    actor: &Actor,
    name: &str,
    action: &str,
    origin: ScreenRef,
    row: Option<String>,
    inputs: Vec<Param>,
) -> AppResult<ActionOutcome> {
    let probe = get(app, &actor.tenant_id, name).await.ok();
    let writes = probe
        .as_ref()
        .and_then(|p| p.manifest.actions.iter().find(|a| a.name == action))
        .map(|a| a.writes);
    let p = usable(app, actor, name, "plugin.act", action, writes).await?;
    if writes.is_none() {
        return Err(AppError::not_found(&format!(
            "action {} of plugin {name}",
            clip(action)
        )));
    }
    let size =
        params_size(&inputs) + params_size(&origin.params) + row.as_ref().map_or(0, String::len);
    if size > p.limits.input_bytes {
        return Err(too_large(p.limits.input_bytes));
    }
    let (user, locale) = acting_user(actor);
    let request = ActionRequest {
        action: action.to_string(),
        origin,
        row,
        inputs,
        locale,
        user,
    };
    let outcome = with_caller(app, actor, &p, now_ms(), async |prepared, caller| {
        app.plugins.act(prepared, caller, request).await
    })
    .await?;
    super::screens::check_outcome(&outcome, &p.manifest)
        .map_err(|why| refused_screen(name, why))?;
    app.audit
        .record(
            &actor.tenant_id,
            &allowed(
                app,
                actor.audit_name(),
                "plugin.act",
                format!("plugin/{name}/{}", clip(action)),
                serde_json::json!({"writes": writes}),
            ),
        )
        .await?;
    Ok(outcome)
}

fn too_large(max: usize) -> AppError {
    AppError::new(
        ErrorKind::TooLarge,
        "too_large",
        format!("the request's parameters exceed the plugin's input limit of {max} bytes"),
    )
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Denied(m) => format!("denied: {m}"),
        Error::NotFound => "not found".into(),
        Error::Invalid(fields) => fields
            .iter()
            .map(|f| {
                if f.field.is_empty() {
                    f.message.en.clone()
                } else {
                    format!("{}: {}", f.field, f.message.en)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Error::LimitExceeded(l) => format!("the {} limit of {} was reached", l.limit, l.max),
        Error::Conflict(m) => format!("conflict: {m}"),
        Error::Unavailable(m) => format!("unavailable: {m}"),
    }
}

/// A failed call as an HTTP error: the sandbox's stop as 502 (the plugin failed, not the
/// request), the plugin's own error by its kind.
fn call_error(e: CallError) -> AppError {
    match e {
        CallError::Stopped { .. } => {
            AppError::new(ErrorKind::PluginFailed, "plugin_stopped", e.to_string())
        }
        CallError::Plugin { plugin, error } => {
            let text = clip_long(&error_text(&error));
            let fields = match &error {
                Error::Invalid(fields) => fields
                    .iter()
                    .take(100)
                    .map(|f| crate::error::FieldIssue {
                        field: clip(&f.field),
                        message: clip_long(&f.message.en),
                        message_zh_hans: f.message.zh_hans.as_deref().map(clip_long),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let (kind, code) = match error {
                Error::Denied(_) => (ErrorKind::Forbidden, "forbidden"),
                Error::NotFound => (ErrorKind::NotFound, "not_found"),
                Error::Invalid(_) => (ErrorKind::Rejected, "invalid"),
                Error::LimitExceeded(_) => (ErrorKind::Throttled, "limit_exceeded"),
                Error::Conflict(_) => (ErrorKind::Conflict, "conflict"),
                Error::Unavailable(_) => (ErrorKind::Busy, "unavailable"),
            };
            let mut e = AppError::new(kind, code, format!("the plugin {plugin} answered: {text}"));
            e.fields = fields;
            e
        }
        CallError::Busy => {
            let mut err = AppError::new(ErrorKind::Busy, "plugins_busy", e.to_string());
            err.retry_after = Some(2);
            err
        }
        CallError::Host(e) => AppError::from(e),
    }
}

fn clip_long(s: &str) -> String {
    if s.len() <= 2000 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(2000).collect::<String>())
    }
}
