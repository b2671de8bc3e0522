//! Tenants and their staff accounts (used by the CLI and the demo).

use crate::app::App;
use crate::audit;
use crate::auth;
use crate::store::{TenantRow, UserRow, now_ms};

/// A tenant slug: 2-40 characters of a-z, 0-9 and -.
pub fn check_slug(slug: &str) -> anyhow::Result<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if !ok {
        anyhow::bail!(
            "tenant name `{slug}` must be 2-40 characters of a-z, 0-9 and - (not starting with -)"
        );
    }
    Ok(())
}

/// Creates a tenant and its first data key.
pub async fn create_tenant(app: &App, slug: &str, name: &str) -> anyhow::Result<TenantRow> {
    check_slug(slug)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        anyhow::bail!("the tenant's display name must have 1 to 200 characters");
    }
    if app.store.tenant_by_slug(slug).await?.is_some() {
        anyhow::bail!("a tenant named `{slug}` already exists");
    }
    let row = TenantRow {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_string(),
        name: name.to_string(),
        created_at: now_ms(),
    };
    let wrapped = app.vault.new_wrapped_dek(&row.id, 1);
    let mut tx = app.store.begin().await?;
    app.store.create_tenant(&mut tx, &row, &wrapped).await?;
    audit::append(
        &mut tx,
        &row.id,
        &audit::Event::operator(
            "cli",
            "tenant.create",
            format!("tenant/{}", row.id),
            serde_json::json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Every tenant of this deployment (for the operator).
pub async fn list(app: &App) -> anyhow::Result<Vec<TenantRow>> {
    Ok(app.store.tenants().await?)
}

/// A tenant's staff (for the operator).
pub async fn users(app: &App, tenant_id: &str) -> anyhow::Result<Vec<crate::store::UserRow>> {
    Ok(app.store.users(tenant_id).await?)
}

/// The tenant named `slug`.
pub async fn tenant(app: &App, slug: &str) -> anyhow::Result<TenantRow> {
    app.store
        .tenant_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant named `{slug}` (see `crm tenant list`)"))
}

/// Adds a staff member. With `mfa`, enrols TOTP and returns the secret (shown once).
pub async fn add_user(
    app: &App,
    tenant: &TenantRow,
    username: &str,
    display_name: &str,
    role: &str,
    password: &str,
    mfa: bool,
) -> anyhow::Result<Option<String>> {
    let uok = (2..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !uok {
        anyhow::bail!("username must be 2-64 characters of letters, digits, '.', '_' and '-'");
    }
    if !auth::ROLES.contains(&role) {
        anyhow::bail!(
            "unknown role `{role}`; roles are: {}",
            auth::ROLES.join(", ")
        );
    }
    auth::check_password_strength(password, username).map_err(|m| anyhow::anyhow!("{m}"))?;
    if app
        .store
        .user_by_name(&tenant.id, username)
        .await?
        .is_some()
    {
        anyhow::bail!(
            "user `{username}` already exists in tenant `{}`",
            tenant.slug
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    let secret = mfa.then(auth::new_totp_secret);
    let sealed = match &secret {
        Some(s) => Some(
            app.seal_totp(&tenant.id, &id, s)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    let row = UserRow {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        username: username.to_string(),
        display_name: display_name.to_string(),
        role: role.to_string(),
        password_hash: auth::hash_password(password)?,
        totp_secret: sealed,
        totp_pending: None,
        totp_last_step: 0,
        lang: "en".into(),
        created_at: now_ms(),
    };
    let mut tx = app.store.begin().await?;
    app.store.insert_user(&mut tx, &row).await?;
    audit::append(
        &mut tx,
        &tenant.id,
        &audit::Event::operator(
            "cli",
            "user.create",
            format!("user/{id}"),
            serde_json::json!({"role": role, "mfa": mfa}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}
