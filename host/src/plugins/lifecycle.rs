//! Plugin management: install, upgrade, enable, disable, limits, uninstall, trusted keys (each
//! authorised first through a [`Permit`], validated, then written in one transaction with its
//! audit record). Calls into an installed plugin are `invoke`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::abi::latest::guest::PluginManifest;
use super::caps::Capability;
use super::package;
use super::runtime::{CallError, Limits, Runtime};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::Decision;
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

    pub(super) fn collections(&self) -> BTreeMap<String, Vec<String>> {
        self.manifest
            .collections
            .iter()
            .map(|c| (c.name.clone(), c.indexed.clone()))
            .collect()
    }
}

/// Proof that the policy allowed an actor `plugin.manage`: every management step takes one, so
/// none runs unauthorised, and its audit record names the version that decided. A route gets it
/// before reading its request body; the CLI gets it for the operator.
pub struct Permit {
    pub(super) actor: Actor,
    decision: Decision,
}

/// Authorises `plugin.manage` of the plugin `target` (none: the tenant's plugins as a whole).
impl Permit {
    /// The tenant the permit is for.
    pub fn tenant_id(&self) -> &str {
        &self.actor.tenant_id
    }
}

pub async fn permit(app: &App, actor: &Actor, target: Option<&str>) -> AppResult<Permit> {
    let decision = authorize_plugin(app, actor, "plugin.manage", target).await?;
    Ok(Permit {
        actor: actor.clone(),
        decision,
    })
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
/// version. Nothing is written unless every check passes; the checks run in the order an upload
/// is refused by (bytes, manifest, name and version, grants, limits, signature, linking), and
/// the write and its audit record are one transaction, hence the length.
pub async fn install(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    permit: &Permit,
    upload: Upload,
    upgrade: Option<&str>,
) -> AppResult<PluginInfo> {
    let Permit { actor, decision } = permit;
    let tenant_id = actor.tenant_id.as_str();
    let bytes = upload.bytes;
    let checked = {
        let rt = rt.clone();
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || package::check(&rt, &bytes))
            .await
            .map_err(|_| AppError::internal())??
    };
    let manifest = read_manifest(app, rt, tenant_id, &checked).await?;
    let name = manifest.name.clone();
    let existing = replaced(app, tenant_id, &manifest, upgrade).await?;
    check_grants(&checked.imports, &upload.grants, &manifest)?;
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
    super::schedule::register(app, &mut tx, tenant_id, &manifest).await?;
    audit::append(
        &mut tx,
        tenant_id,
        &actor.audit(
            action,
            format!("plugin/{name}"),
            decision,
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

/// The manifest the component declares (its `manifest` export, called in the sandbox), checked.
async fn read_manifest(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    tenant_id: &str,
    checked: &package::Checked,
) -> AppResult<PluginManifest> {
    let manifest = rt
        .manifest(app, tenant_id, &checked.component)
        .await
        .map_err(|e| match e {
            CallError::Host(_) | CallError::Busy => AppError::from(e),
            other => unprocessable(
                "invalid_component",
                format!(
                    "the component's manifest could not be read: {other}{}",
                    detail(&other)
                ),
            ),
        })?;
    package::check_manifest(&manifest)?;
    Ok(manifest)
}

/// The installed plugin an upload replaces (an upgrade of `upgrade`), or none for a new install;
/// refused when that does not match what is installed, or the version was installed before.
async fn replaced(
    app: &App,
    tenant_id: &str,
    manifest: &PluginManifest,
    upgrade: Option<&str>,
) -> AppResult<Option<PluginRow>> {
    let name = &manifest.name;
    let existing = app.store.plugin(tenant_id, name).await?;
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
        .plugin_uploaded(tenant_id, name, &manifest.version)
        .await?
    {
        return Err(AppError::conflict(format!(
            "version {} of {name} was already installed in this tenant; give the new build a new version",
            manifest.version
        )));
    }
    Ok(existing)
}

/// What the component imports must be granted; what is granted must have been asked for.
fn check_grants(
    imports: &BTreeSet<Capability>,
    grants: &BTreeSet<Capability>,
    manifest: &PluginManifest,
) -> AppResult<()> {
    let requested: BTreeSet<Capability> = manifest
        .capabilities
        .iter()
        .map(|c| package::capability_of(c.capability))
        .collect();
    let missing: Vec<Capability> = imports.difference(grants).copied().collect();
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
    let not_requested: Vec<Capability> = grants.difference(&requested).copied().collect();
    if !not_requested.is_empty() {
        return Err(unprocessable(
            "grant_not_requested",
            format!("the plugin does not ask for: {}", names(not_requested)),
        ));
    }
    Ok(())
}

fn detail(e: &CallError) -> String {
    match e {
        CallError::Plugin { error, .. } => {
            format!(": {}", super::runtime::plugin_error_text(error))
        }
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

/// The tenant's plugins as `actor` may list them (`plugin.list`): the API's and the command
/// line's list.
pub async fn list_for(app: &App, actor: &Actor) -> AppResult<Vec<PluginInfo>> {
    authorize_plugin(app, actor, "plugin.list", None).await?;
    list(app, &actor.tenant_id).await
}

/// One of the tenant's plugins, as `actor` may see it (`plugin.list`).
pub async fn show_for(app: &App, actor: &Actor, name: &str) -> AppResult<PluginInfo> {
    authorize_plugin(app, actor, "plugin.list", Some(name)).await?;
    Ok(get(app, &actor.tenant_id, name).await?.info())
}

/// Asks whether `actor` may `action` the tenant's plugins, or the one named.
async fn authorize_plugin(
    app: &App,
    actor: &Actor,
    action: &str,
    name: Option<&str>,
) -> AppResult<Decision> {
    let resource = crate::policy::Resource::of("plugin", &actor.tenant_id, name.map(clip));
    app.authorize(actor, action, resource, serde_json::json!({}))
        .await
}

/// The newest `lines` lines of the plugin's log (its `log` lines, stdout and stderr).
pub async fn log(
    app: &App,
    permit: &Permit,
    name: &str,
    lines: i64,
) -> AppResult<Vec<crate::store::PluginLogRow>> {
    let tenant_id = &permit.actor.tenant_id;
    get(app, tenant_id, name).await?;
    Ok(app.store.plugin_log(tenant_id, name, lines).await?)
}

/// Every plugin of the tenant with its storage use, unauthorised: for the menu (which asks the
/// policy per screen) and the demo set-up.
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

/// Makes a permitted change and its audit record together.
async fn audited_change(
    app: &App,
    permit: &Permit,
    name: &str,
    action: &str,
    detail: serde_json::Value,
    change: impl AsyncFnOnce(&mut crate::store::Tx) -> sqlx::Result<bool>,
) -> AppResult<()> {
    let Permit { actor, decision } = permit;
    let mut tx = app.store.begin().await?;
    if !change(&mut tx).await? {
        return Err(AppError::not_found(&format!("plugin {}", clip(name))));
    }
    audit::append(
        &mut tx,
        &actor.tenant_id,
        &actor.audit(action, format!("plugin/{name}"), decision, detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Enables or disables a plugin (a disabled plugin keeps its data; its screens answer 409).
pub async fn set_enabled(app: &App, permit: &Permit, name: &str, enabled: bool) -> AppResult<()> {
    let tenant_id = permit.actor.tenant_id.as_str();
    let state = if enabled { "enabled" } else { "disabled" };
    audited_change(
        app,
        permit,
        name,
        &format!("plugin.{}", &state[..state.len() - 1]),
        serde_json::json!({}),
        async |tx| app.store.set_plugin_state(tx, tenant_id, name, state).await,
    )
    .await
}

/// Tightens a plugin's limits (each within the platform's defaults).
pub async fn set_limits(app: &App, permit: &Permit, name: &str, limits: &Limits) -> AppResult<()> {
    limits
        .check()
        .map_err(|m| unprocessable("invalid_limits", m))?;
    let json = serde_json::to_string(limits).map_err(anyhow::Error::from)?;
    let tenant_id = permit.actor.tenant_id.as_str();
    audited_change(
        app,
        permit,
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
    rt: &Runtime,
    permit: &Permit,
    name: &str,
    purge: bool,
) -> AppResult<()> {
    let tenant_id = permit.actor.tenant_id.as_str();
    let records = app.store.count_records(tenant_id, name).await?;
    audited_change(
        app,
        permit,
        name,
        "plugin.uninstall",
        serde_json::json!({"purge": purge, "records": records}),
        async |tx| app.store.delete_plugin(tx, tenant_id, name, purge).await,
    )
    .await?;
    if purge {
        let dir = rt.scratch_dir(tenant_id, name);
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!("cannot remove a plugin's scratch directory: {e}");
        }
    }
    Ok(())
}

/// Trusts an Ed25519 publisher key (64 hex characters) for the tenant's plugin signatures.
pub async fn trust_key(app: &App, permit: &Permit, name: &str, key_hex: &str) -> AppResult<()> {
    let Permit { actor, decision } = permit;
    let tenant_id = actor.tenant_id.as_str();
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
        &actor.audit(
            "plugin.trust",
            format!("publisher/{name}"),
            decision,
            serde_json::json!({"key": key_hex.trim()}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Requires (or stops requiring) signed plugins in the tenant.
pub async fn require_signatures(app: &App, permit: &Permit, required: bool) -> AppResult<()> {
    let Permit { actor, decision } = permit;
    let tenant_id = actor.tenant_id.as_str();
    let mut tx = app.store.begin().await?;
    app.store
        .set_require_signature(&mut tx, tenant_id, required)
        .await?;
    audit::append(
        &mut tx,
        tenant_id,
        &actor.audit(
            "plugin.trust",
            "plugins".into(),
            decision,
            serde_json::json!({"require_signature": required}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;

    /// Plugin management is the admins' with a second factor, and the operator's: a permit is
    /// refused to anyone else, and names the decision that granted it.
    #[tokio::test]
    async fn only_an_admin_with_a_second_factor_or_the_operator_gets_a_permit() {
        let h = Harness::new().await;
        for (role, mfa) in [("sales", true), ("compliance", true), ("admin", false)] {
            let actor = h.member(role, mfa).await;
            let e = permit(&h.app, &actor, Some("hello")).await.err();
            assert_eq!(
                e.map(|e| e.kind),
                Some(ErrorKind::Forbidden),
                "{role} mfa={mfa}"
            );
        }
        let admin = h.member("admin", true).await;
        let p = permit(&h.app, &admin, Some("hello")).await.unwrap();
        assert!(p.decision.allow && !p.decision.policy_version.is_empty());
        assert_eq!(p.tenant_id(), h.tenant.id);

        let operator = Actor::operator(&h.tenant.id, "cli");
        let p = permit(&h.app, &operator, None).await.unwrap();
        assert!(p.decision.allow && p.decision.policy_version.is_empty());
        // Listing asks `plugin.list`, which every role has; a missing plugin is 404 either way.
        let sales = h.member("sales", false).await;
        assert!(list_for(&h.app, &sales).await.unwrap().is_empty());
        let e = show_for(&h.app, &sales, "nothing").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
