//! Backups the server takes by itself (`Settings::backup`): every period a new archive in the
//! target directory (with a copy of the erasure ledger beside it), then a drill that verifies it as `crm backup verify` would, then pruning to
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
/// The erasure ledger's copy beside the archives.
pub const LEDGER_COPY: &str = "erasure-ledger.jsonl";

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
    // The erasure ledger travels with the archives, so that a restore after losing this disk
    // can still apply again the erasures made since the snapshot it restores.
    if let Some(ledger) = &app.settings.erasure_ledger_file
        && ledger.exists()
    {
        let copy = schedule.dir.join(LEDGER_COPY);
        let partial = schedule.dir.join(format!("{LEDGER_COPY}.partial"));
        if let Err(e) =
            std::fs::copy(ledger, &partial).and_then(|_| std::fs::rename(&partial, &copy))
        {
            record(
                "backup",
                false,
                serde_json::json!({"error": format!("copying the erasure ledger: {e}")}),
            )
            .await?;
        }
    }
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

/// Prunes the directory to what [`kept`] keeps.
async fn prune(app: &App, schedule: &BackupSchedule) -> anyhow::Result<()> {
    let mut archives: Vec<String> = std::fs::read_dir(&schedule.dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("crm-") && n.ends_with(".crmbak"))
        .collect();
    archives.sort();
    let verified = app.store.verified_archives().await?;
    let keep = kept(&archives, schedule, &verified);
    for old in archives.iter().filter(|a| !keep.contains(*a)) {
        std::fs::remove_file(schedule.dir.join(old))?;
    }
    Ok(())
}

/// The archives to keep (names sorted oldest first; a name holds its UTC time,
/// `crm-YYYYMMDDTHHMMSS.mmmZ.crmbak`): the newest `keep`; the newest of each of the last
/// `keep_hourly` hours, `keep_daily` days and `keep_monthly` months that have one; and the newest
/// archive a drill verified, whatever its age.
pub fn kept<'a>(
    archives: &'a [String],
    schedule: &BackupSchedule,
    verified: &[String],
) -> std::collections::BTreeSet<&'a String> {
    let mut keep: std::collections::BTreeSet<&String> =
        archives.iter().rev().take(schedule.keep).collect();
    // The newest archive of each period: walking newest first, the first seen of a period.
    for (len, count) in [
        (11, schedule.keep_hourly),
        (8, schedule.keep_daily),
        (6, schedule.keep_monthly),
    ] {
        let mut periods = std::collections::BTreeSet::new();
        for a in archives.iter().rev() {
            let Some(period) = a.get(4..4 + len) else {
                continue;
            };
            if periods.len() >= count && !periods.contains(period) {
                break;
            }
            if periods.insert(period) {
                keep.insert(a);
            }
        }
    }
    if let Some(v) = archives.iter().rev().find(|a| verified.contains(a)) {
        keep.insert(v);
    }
    keep
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

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(keep: usize, hourly: usize, daily: usize, monthly: usize) -> BackupSchedule {
        BackupSchedule {
            dir: "/nowhere".into(),
            every: std::time::Duration::from_secs(3600),
            keep,
            keep_hourly: hourly,
            keep_daily: daily,
            keep_monthly: monthly,
        }
    }

    #[test]
    fn pruning_keeps_the_newest_each_period_and_the_newest_verified() {
        // Every 30 minutes over three days in two months, oldest first.
        let mut archives = Vec::new();
        for (day, month) in [(30, 11), (1, 12), (2, 12)] {
            for h in 0..24 {
                for m in [0, 30] {
                    archives.push(format!(
                        "crm-2026{month:02}{day:02}T{h:02}{m:02}00.000Z.crmbak"
                    ));
                }
            }
        }
        archives.sort();
        let keep = kept(&archives, &schedule(2, 3, 2, 2), &[]);
        let mut names: Vec<&str> = keep.iter().map(|s| s.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "crm-20261130T233000.000Z.crmbak", // November's newest (monthly)
                "crm-20261201T233000.000Z.crmbak", // 1 December's newest (daily)
                "crm-20261202T213000.000Z.crmbak", // hourly
                "crm-20261202T223000.000Z.crmbak", // hourly
                "crm-20261202T230000.000Z.crmbak", // the newest two
                "crm-20261202T233000.000Z.crmbak", // the newest (and hourly, daily, monthly)
            ]
        );
        // An old verified archive survives when nothing newer was verified.
        let verified = vec![archives[3].clone()];
        assert!(kept(&archives, &schedule(1, 0, 0, 0), &verified).contains(&archives[3]));
        assert_eq!(kept(&archives, &schedule(1, 0, 0, 0), &[]).len(), 1);
    }
}
