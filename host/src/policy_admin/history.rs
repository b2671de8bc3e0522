//! Reading a tenant's policy history: its versions, the one in force, one version's files and the
//! diff between two. The `*_of` functions are the operator's (the CLI, on the server's machine);
//! the others authorise `policy.read` for a member first. The API, the web editor and the CLI
//! all read through here.

use super::{PolicySet, authorize};
use crate::app::{Actor, App};
use crate::error::{AppError, AppResult};
use crate::store::PolicyVersionRow;

/// A tenant's versions, newest first, and the one in force.
#[derive(Debug)]
pub struct History {
    pub versions: Vec<PolicyVersionRow>,
    /// None: the platform baseline alone decides.
    pub active: Option<i64>,
}

/// The tenant's version in force, if it published one.
pub async fn active_version(app: &App, tenant_id: &str) -> AppResult<Option<i64>> {
    Ok(app.store.active_policy(tenant_id).await?)
}

pub async fn history_of(app: &App, tenant_id: &str) -> AppResult<History> {
    Ok(History {
        versions: app.store.policy_versions(tenant_id).await?,
        active: active_version(app, tenant_id).await?,
    })
}

/// The member's tenant's history.
pub async fn history(app: &App, actor: &Actor) -> AppResult<History> {
    authorize(app, actor, "policy.read").await?;
    history_of(app, &actor.tenant_id).await
}

pub async fn version_of(app: &App, tenant_id: &str, version: i64) -> AppResult<PolicyVersionRow> {
    app.store
        .policy_version(tenant_id, version)
        .await?
        .ok_or_else(|| AppError::not_found(&format!("policy version {version}")))
}

/// One version of the member's tenant.
pub async fn version(app: &App, actor: &Actor, version: i64) -> AppResult<PolicyVersionRow> {
    authorize(app, actor, "policy.read").await?;
    version_of(app, &actor.tenant_id, version).await
}

/// A unified diff of two versions' files.
pub async fn diff_of(app: &App, tenant_id: &str, from: i64, to: i64) -> AppResult<String> {
    let files = async |v: i64| -> AppResult<PolicySet> {
        let row = version_of(app, tenant_id, v).await?;
        Ok(PolicySet {
            files: serde_json::from_str(&row.files).map_err(anyhow::Error::from)?,
        })
    };
    Ok(super::diff(&files(from).await?, &files(to).await?))
}

/// A diff of two versions of the member's tenant.
pub async fn diff(app: &App, actor: &Actor, from: i64, to: i64) -> AppResult<String> {
    authorize(app, actor, "policy.read").await?;
    diff_of(app, &actor.tenant_id, from, to).await
}
