//! Backups the server takes by itself (`Settings::backup`): every period a new archive in the
//! target directory, then a drill that verifies it as `crm backup verify` would, then pruning to
//! the configured count, never deleting the newest archive a drill verified. Each backup and each
//! drill is recorded, failures included (a target that cannot be written is reported, never
//! skipped in silence); admins and compliance read them (`backup.read`).

use std::sync::Arc;

use serde::Serialize;

use super::archive::BackupKey;
use crate::app::{Actor, App};
use crate::config::BackupSchedule;
use crate::error::AppResult;
use crate::policy::Resource;
use crate::store::{BackupRunRow, now_ms};

/// The runs the status shows.
pub const RUNS_SHOWN: i64 = 20;

/// Starts the schedule, if one is configured.
pub fn spawn(app: Arc<App>) {
    let Some(schedule) = app.settings.backup.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(schedule.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&app, &schedule).await {
                tracing::error!(error = %e, "scheduled backup failed");
            }
        }
    });
}

/// One backup, its drill and the pruning; every outcome recorded.
pub async fn run_once(app: &App, schedule: &BackupSchedule) -> anyhow::Result<()> {
    let key = BackupKey::from_vault(&app.vault);
    let at = now_ms();
    let name = format!(
        "crm-{}.crmbak",
        chrono::DateTime::from_timestamp_millis(at)
            .map(|t| t.format("%Y%m%dT%H%M%S%.3fZ").to_string())
            .unwrap_or_default()
    );
    let path = schedule.dir.join(&name);
    let record = async |kind: &str, ok: bool, detail: serde_json::Value| {
        let row = BackupRunRow {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.into(),
            archive: name.clone(),
            at: now_ms(),
            ok,
            detail: detail.to_string(),
        };
        app.store.insert_backup_run(&row).await
    };
    let created = match std::fs::create_dir_all(&schedule.dir) {
        Err(e) => Err(anyhow::anyhow!(
            "cannot create {}: {e}",
            schedule.dir.display()
        )),
        Ok(()) => super::create(&app.store, &key, &path).await,
    };
    let manifest = match created {
        Ok(m) => m,
        Err(e) => {
            record("backup", false, serde_json::json!({"error": e.to_string()})).await?;
            return Err(e);
        }
    };
    record(
        "backup",
        true,
        serde_json::json!({"bytes": manifest.parts[0].bytes, "tenants": manifest.tenants.len(),
                           "schema_version": manifest.schema_version}),
    )
    .await?;
    match super::verify(&path, &key, &app.vault).await {
        Ok(v) => {
            record(
                "drill",
                v.ok(),
                serde_json::json!({"problems": v.problems, "audit_records": v.audit_records,
                                   "sampled": v.sampled}),
            )
            .await?
        }
        Err(e) => {
            record(
                "drill",
                false,
                serde_json::json!({"problems": [e.to_string()]}),
            )
            .await?
        }
    };
    prune(app, schedule).await
}

/// Keeps the `keep` newest archives, and the newest verified one whatever its age.
async fn prune(app: &App, schedule: &BackupSchedule) -> anyhow::Result<()> {
    let mut archives: Vec<String> = std::fs::read_dir(&schedule.dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("crm-") && n.ends_with(".crmbak"))
        .collect();
    archives.sort();
    let verified = app.store.verified_archives().await?;
    let newest_verified = archives
        .iter()
        .rev()
        .find(|a| verified.contains(a))
        .cloned();
    let excess = archives.len().saturating_sub(schedule.keep);
    for old in archives.iter().take(excess) {
        if Some(old) != newest_verified.as_ref() {
            std::fs::remove_file(schedule.dir.join(old))?;
        }
    }
    Ok(())
}

/// The backups and drills as admins and compliance see them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Whether the server takes backups by itself (a target directory is configured).
    pub scheduled: bool,
    pub last_backup: Option<BackupRunRow>,
    pub last_drill: Option<BackupRunRow>,
    /// Seconds since the last drill, verified or not.
    pub last_drill_age_seconds: Option<i64>,
    pub runs: Vec<BackupRunRow>,
}

/// The status (`backup.read`; audited).
pub async fn status(app: &App, actor: &Actor) -> AppResult<Status> {
    let resource = Resource::of("backup", &actor.tenant_id, None);
    let decision = app
        .authorize(actor, "backup.read", resource, serde_json::json!({}))
        .await?;
    let runs = app.store.backup_runs(RUNS_SHOWN).await?;
    let last = |kind: &str| runs.iter().find(|r| r.kind == kind).cloned();
    let last_drill = last("drill");
    let event = actor.audit(
        "backup.read",
        "backups".into(),
        &decision,
        serde_json::json!({}),
    );
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(Status {
        scheduled: app.settings.backup.is_some(),
        last_backup: last("backup"),
        last_drill_age_seconds: last_drill.as_ref().map(|d| (now_ms() - d.at) / 1000),
        last_drill,
        runs,
    })
}
