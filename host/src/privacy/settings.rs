//! A tenant's privacy settings: its deadline periods (shorter than the law's, never longer) and
//! its retention schedule. Read by compliance (`privacy.read`), changed by compliance
//! (`privacy.manage`), checked whole before anything is stored, and audited.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deadline::Periods;
use super::{authorize, check_note};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult};

/// What a tenant sets; anything it leaves out keeps the platform's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Deadline periods per regime (defaults: the law's, 15 business days for PIPL).
    #[schema(value_type = Object)]
    pub periods: Periods,
    /// How long each kind of data is kept (nothing is deleted for a kind left out).
    pub retention: Schedule,
}

impl Settings {
    /// Refuses periods longer than the law's and retention below the platform's floors.
    pub fn check(&self) -> Result<(), String> {
        self.periods.check()?;
        self.retention.check()
    }
}

/// The tenant's settings as stored (the defaults when it has set none). No decision: the host's
/// own paths (opening a request, the retention job) read them.
pub async fn load(app: &App, tenant_id: &str) -> AppResult<Settings> {
    match app.store.privacy_settings(tenant_id).await? {
        None => Ok(Settings::default()),
        Some(json) => serde_json::from_str(&json).map_err(|_| AppError::integrity()),
    }
}

/// The tenant's settings (`privacy.read`).
pub async fn get(app: &App, actor: &Actor) -> AppResult<Settings> {
    authorize(app, actor, "privacy.read", None).await?;
    load(app, &actor.tenant_id).await
}

/// Replaces the tenant's settings (`privacy.manage`) with `settings`, checked whole; `note`
/// says why (kept in the audit record).
pub async fn put(
    app: &App,
    actor: &Actor,
    settings: &Settings,
    note: &str,
    now: i64,
) -> AppResult<Settings> {
    let note = check_note("note", note, false)?;
    settings
        .check()
        .map_err(|m| AppError::bad_request("invalid_settings", m))?;
    let decision = authorize(app, actor, "privacy.manage", None).await?;
    let json = serde_json::to_string(settings).map_err(|_| AppError::integrity())?;
    let mut tx = app.store.begin().await?;
    app.store
        .put_privacy_settings(&mut tx, &actor.tenant_id, &json, &actor.audit_name(), now)
        .await?;
    let detail = serde_json::json!({"settings": settings, "note": note});
    let event = actor.audit(
        "privacy.settings",
        "privacy/settings".into(),
        &decision,
        detail,
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok(settings.clone())
}

/// The longest period a schedule may name (100 years).
pub const MAX_MONTHS: u32 = 1200;
/// The request log is kept at least this long (CCPA record-keeping).
pub const REQUEST_LOG_FLOOR_MONTHS: u32 = 24;
/// Decision logs are kept at least this long (network logs, Cybersecurity Law Art. 21).
pub const DECISION_LOG_FLOOR_MONTHS: u32 = audit::FLOOR_MONTHS;
/// Collections a schedule may name.
pub const MAX_COLLECTIONS: usize = 50;

/// A tenant's retention schedule: for each kind of data, how long it is kept after it was last
/// touched. A kind left out is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// Customers with no change, interaction or plugin document for this many months are erased.
    pub inactive_customers_months: Option<u32>,
    pub interactions_months: Option<u32>,
    /// Plugin documents per `plugin/collection`, by when they were last written.
    pub plugin_documents_months: BTreeMap<String, u32>,
    /// At least six months.
    pub decision_log_months: Option<u32>,
    pub export_archives_days: Option<u32>,
    /// At least six months; records go only up to one a signed checkpoint vouches for.
    pub audit_months: Option<u32>,
    /// Closed data-subject requests; at least 24 months.
    pub request_log_months: Option<u32>,
    /// Whether the host applies the schedule by itself once a day.
    pub apply_daily: bool,
}

fn within(name: &str, v: Option<u32>, min: u32, max: u32, why: &str) -> Result<(), String> {
    match v {
        Some(v) if !(min..=max).contains(&v) => {
            Err(format!("`{name}` must be {min} to {max}{why}"))
        }
        _ => Ok(()),
    }
}

/// A `plugin/collection` name.
fn collection_ok(key: &str) -> bool {
    let part = |p: &str| {
        (1..=64).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    key.split_once('/').is_some_and(|(p, c)| part(p) && part(c))
}

impl Schedule {
    /// Refuses periods out of range and any below the platform's floors.
    pub fn check(&self) -> Result<(), String> {
        let law = |l: &str| format!(" (the platform keeps these at least as long as {l} asks)");
        within(
            "inactive_customers_months",
            self.inactive_customers_months,
            1,
            MAX_MONTHS,
            "",
        )?;
        within(
            "interactions_months",
            self.interactions_months,
            1,
            MAX_MONTHS,
            "",
        )?;
        within(
            "decision_log_months",
            self.decision_log_months,
            DECISION_LOG_FLOOR_MONTHS,
            MAX_MONTHS,
            &law("China's Cybersecurity Law"),
        )?;
        within(
            "export_archives_days",
            self.export_archives_days,
            1,
            3650,
            "",
        )?;
        within(
            "audit_months",
            self.audit_months,
            audit::FLOOR_MONTHS,
            MAX_MONTHS,
            &law("China's Cybersecurity Law"),
        )?;
        within(
            "request_log_months",
            self.request_log_months,
            REQUEST_LOG_FLOOR_MONTHS,
            MAX_MONTHS,
            &law("the CCPA's record-keeping rule"),
        )?;
        if self.plugin_documents_months.len() > MAX_COLLECTIONS {
            return Err(format!(
                "`plugin_documents_months` names at most {MAX_COLLECTIONS} collections"
            ));
        }
        for (key, months) in &self.plugin_documents_months {
            if !collection_ok(key) {
                return Err(format!(
                    "`plugin_documents_months` keys are plugin/collection (a-z, 0-9, - and _): `{key}` is not"
                ));
            }
            within("plugin_documents_months", Some(*months), 1, MAX_MONTHS, "")?;
        }
        Ok(())
    }
}
