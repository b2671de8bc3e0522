//! Plugins' scheduled jobs: when each run is due, and the worker that runs due jobs.
//!
//! A job runs with no staff member behind it, so it acts as the plugin's **service identity**:
//! policy subject `{type: service, plugin, tenant, roles: [service]}`, audit actor
//! `plugin:<name>/job:<job>`. The baseline lets a service touch only the plugin's own records and
//! emit events; personal data is out of its reach whatever the plugin was granted.
//!
//! Schedules are in UTC (tenants have no time zone yet; `clock.time-zone` says `UTC`). A run is
//! told the time it was due (`scheduled-at`, and `clock.now` answers the same), so a retry sees
//! the same day. A failed run is retried with back-off (1, 2, 4, 8 minutes); after the fifth
//! failure that run is given up and the job waits for its next due time. Every host runs the
//! worker; a lease on the job's row makes each run happen on one host only.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::abi::latest::guest::{JobReport, JobRequest, PluginManifest, Schedule};
use super::lifecycle;
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::store::{DeclaredJob, JobDone, JobRow, Tx, now_ms};

/// Tries of one due run before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// How often the worker looks for due jobs.
const POLL: Duration = Duration::from_secs(1);
pub(crate) const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

/// A schedule, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Every N minutes, on the multiples of N minutes since midnight UTC of 1970-01-01.
    Every(i64),
    /// Every day at this minute of the day (UTC).
    Daily(i64),
    Manual,
}

impl When {
    fn of(s: &Schedule) -> Result<Self, String> {
        match s {
            Schedule::EveryMinutes(n) if (5..=7 * 24 * 60).contains(n) => {
                Ok(Self::Every(i64::from(*n)))
            }
            Schedule::EveryMinutes(n) => Err(format!(
                "every-minutes must be between 5 and 10080 (got {n})"
            )),
            Schedule::DailyAt(t) => parse_hh_mm(t).map(Self::Daily).ok_or_else(|| {
                format!(
                    "daily-at `{}` is not a time of day such as 02:00",
                    t.chars().take(20).collect::<String>()
                )
            }),
            Schedule::Manual => Ok(Self::Manual),
        }
    }

    /// As stored in `plugin_jobs.schedule`.
    fn text(self) -> String {
        match self {
            Self::Every(n) => format!("every-minutes {n}"),
            Self::Daily(m) => format!("daily-at {:02}:{:02}", m / 60, m % 60),
            Self::Manual => "manual".into(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.split_once(' ') {
            Some(("every-minutes", n)) => n.parse().ok().filter(|n| *n >= 5).map(Self::Every),
            Some(("daily-at", t)) => parse_hh_mm(t).map(Self::Daily),
            None if text == "manual" => Some(Self::Manual),
            _ => None,
        }
    }

    /// The first due time strictly after `after` (milliseconds since the epoch).
    fn next_after(self, after: i64) -> Option<i64> {
        match self {
            Self::Every(n) => {
                let period = n * MINUTE;
                Some((after.div_euclid(period) + 1) * period)
            }
            Self::Daily(minute) => {
                let today = after.div_euclid(DAY) * DAY + minute * MINUTE;
                Some(if today > after { today } else { today + DAY })
            }
            Self::Manual => None,
        }
    }
}

fn parse_hh_mm(t: &str) -> Option<i64> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// How long to wait before the next try after `attempt` failed: 1, 2, 4, 8 minutes.
pub(crate) fn retry_delay(attempt: i64) -> i64 {
    MINUTE << (attempt - 1).clamp(0, 6)
}

/// Checks a declared schedule (at install: a bad one refuses the plugin).
pub fn check_schedule(s: &Schedule) -> Result<(), String> {
    When::of(s).map(|_| ())
}

/// Brings the plugin's job rows in step with its manifest, inside the install's transaction.
pub async fn register(
    app: &App,
    tx: &mut Tx,
    tenant_id: &str,
    manifest: &PluginManifest,
) -> AppResult<()> {
    let now = now_ms();
    let mut jobs = Vec::new();
    for j in &manifest.jobs {
        let when = When::of(&j.schedule).map_err(|m| {
            AppError::bad_request("invalid_manifest", format!("job {}: {m}", j.name))
        })?;
        jobs.push(DeclaredJob {
            job: j.name.clone(),
            schedule: when.text(),
            first_due: when.next_after(now),
        });
    }
    app.store
        .sync_jobs(tx, tenant_id, &manifest.name, &jobs)
        .await?;
    Ok(())
}

/// A job as the admin's list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    pub title: String,
    pub title_zh_hans: Option<String>,
    #[serde(flatten)]
    pub state: JobRow,
}

/// The plugin's jobs with their next due time and last run.
pub async fn list(app: &App, tenant_id: &str, plugin: &str) -> AppResult<Vec<JobInfo>> {
    let p = lifecycle::get(app, tenant_id, plugin).await?;
    let rows = app.store.jobs(tenant_id, plugin).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let decl = p.manifest.jobs.iter().find(|j| j.name == row.job);
            JobInfo {
                title: decl.map(|d| d.title.en.clone()).unwrap_or_default(),
                title_zh_hans: decl.and_then(|d| d.title.zh_hans.clone()),
                state: row,
            }
        })
        .collect())
}

/// One finished run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobRun {
    pub job: String,
    pub scheduled_at: i64,
    pub attempt: i64,
    /// `ok` or `failed`.
    pub status: String,
    pub processed: Option<u64>,
    pub message: Option<String>,
}

/// The identity a plugin's job acts as: no staff member, only the plugin.
fn service_actor(tenant_id: &str, plugin: &str, job: &str) -> Actor {
    Actor::service(tenant_id, plugin, format!("job:{job}"))
}

/// Runs a job now, outside its schedule, for an admin (`by`): the schedule is left as it was.
/// 409 while another run of it is in progress.
pub async fn run_now(
    app: &Arc<App>,
    tenant_id: &str,
    by: &str,
    plugin: &str,
    job: &str,
) -> AppResult<JobRun> {
    let p = lifecycle::get(app, tenant_id, plugin).await?;
    if !p.manifest.jobs.iter().any(|j| j.name == job) {
        return Err(AppError::not_found(&format!(
            "job {} of plugin {plugin}",
            job.chars().take(40).collect::<String>()
        )));
    }
    if p.row.state != "enabled" {
        return Err(AppError::conflict(format!(
            "the plugin {plugin} is disabled"
        )));
    }
    let find = async || -> AppResult<Option<JobRow>> {
        Ok(app
            .store
            .jobs(tenant_id, plugin)
            .await?
            .into_iter()
            .find(|r| r.job == job))
    };
    let row = match find().await? {
        Some(row) => row,
        None => {
            // Installed before jobs were kept, and no host's worker has registered it yet.
            let mut tx = app.store.begin().await?;
            register(app, &mut tx, tenant_id, &p.manifest).await?;
            tx.commit().await?;
            find()
                .await?
                .ok_or_else(|| AppError::not_found(&format!("job {job} of plugin {plugin}")))?
        }
    };
    let now = now_ms();
    let lease = now + p.limits.job_deadline_ms as i64 + MINUTE;
    if !app
        .store
        .claim_job(tenant_id, plugin, job, now, lease)
        .await?
    {
        return Err(AppError::conflict(format!(
            "the job {job} of {plugin} is running; try again when it has finished"
        )));
    }
    let run = execute(app, &p, job, now, 1).await;
    // The pending scheduled run stays as it was; only the last run's outcome changes.
    finish(
        app,
        &row,
        &run,
        JobDone {
            scheduled_at: row.scheduled_at,
            run_at: row.run_at,
            attempt: row.attempt,
            ran_at: now,
            status: &run.status,
            processed: run.processed.map(|n| n as i64),
            message: run.message.as_deref(),
        },
        serde_json::json!({"started_by": by}),
    )
    .await?;
    Ok(run)
}

/// Runs the plugin's `run-job` as its service identity. Never fails: a failure is the run's outcome.
async fn execute(
    app: &Arc<App>,
    p: &lifecycle::Installed,
    job: &str,
    scheduled_at: i64,
    attempt: i64,
) -> JobRun {
    let actor = service_actor(&p.row.tenant_id, &p.row.name, job);
    let request = JobRequest {
        job: job.to_string(),
        scheduled_at,
        attempt: attempt.clamp(1, i64::from(u32::MAX)) as u32,
    };
    let result: AppResult<JobReport> =
        lifecycle::with_caller(app, &actor, p, scheduled_at, async |prepared, caller| {
            app.plugins.run_job(prepared, caller, request).await
        })
        .await;
    let (status, processed, message) = match result {
        Ok(r) => ("ok", Some(r.processed), r.message),
        Err(e) => ("failed", None, Some(e.message)),
    };
    JobRun {
        job: job.to_string(),
        scheduled_at,
        attempt,
        status: status.into(),
        processed,
        message: message.map(|m| m.chars().take(500).collect()),
    }
}

/// Writes a run's outcome and its audit record in one transaction.
async fn finish(
    app: &App,
    row: &JobRow,
    run: &JobRun,
    done: JobDone<'_>,
    trigger: serde_json::Value,
) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    app.store
        .finish_job(&mut tx, &row.tenant_id, &row.plugin, &row.job, &done)
        .await?;
    let actor = service_actor(&row.tenant_id, &row.plugin, &row.job);
    let mut detail = serde_json::json!({
        "scheduled_at": run.scheduled_at,
        "attempt": run.attempt,
        "status": run.status,
        "processed": run.processed,
    });
    if let (Some(d), Some(t)) = (detail.as_object_mut(), trigger.as_object()) {
        d.extend(t.clone());
    }
    audit::append(
        &mut tx,
        &row.tenant_id,
        &lifecycle::allowed(
            app,
            actor.audit_name(),
            "plugin.job",
            format!("plugin/{}/{}", row.plugin, row.job),
            detail,
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        tenant = %row.tenant_id,
        plugin = %row.plugin,
        job = %row.job,
        status = %run.status,
        attempt = run.attempt,
        "plugin job ran"
    );
    Ok(())
}

/// Runs one due job if this host can claim it.
async fn run_due(app: &Arc<App>, row: JobRow, now: i64) -> AppResult<()> {
    let p = lifecycle::get(app, &row.tenant_id, &row.plugin).await?;
    let lease = now + p.limits.job_deadline_ms as i64 + MINUTE;
    if !app
        .store
        .claim_job(&row.tenant_id, &row.plugin, &row.job, now, lease)
        .await?
    {
        return Ok(());
    }
    let when = When::parse(&row.schedule).unwrap_or(When::Manual);
    let scheduled_at = row.scheduled_at.unwrap_or(now);
    let attempt = row.attempt.max(1);
    let run = execute(app, &p, &row.job, scheduled_at, attempt).await;
    let ended = now_ms();
    let done = if run.status == "ok" || attempt >= MAX_ATTEMPTS {
        // Next occurrence after now: a host that was down for days runs once, and the plugin
        // catches up from its own bookkeeping.
        let next = when.next_after(ended.max(scheduled_at));
        JobDone {
            scheduled_at: next,
            run_at: next,
            attempt: 1,
            ran_at: ended,
            status: &run.status,
            processed: run.processed.map(|n| n as i64),
            message: run.message.as_deref(),
        }
    } else {
        JobDone {
            scheduled_at: Some(scheduled_at),
            run_at: Some(ended + retry_delay(attempt)),
            attempt: attempt + 1,
            ran_at: ended,
            status: &run.status,
            processed: None,
            message: run.message.as_deref(),
        }
    };
    let given_up = run.status != "ok" && attempt >= MAX_ATTEMPTS;
    finish(
        app,
        &row,
        &run,
        done,
        serde_json::json!({"trigger": "schedule", "given_up": given_up}),
    )
    .await
}

/// Registers the jobs of plugins installed before jobs were kept (an older data folder).
async fn backfill(app: &App) -> AppResult<()> {
    for (tenant_id, name) in app.store.plugins_without_jobs().await? {
        let p = lifecycle::get(app, &tenant_id, &name).await?;
        if p.manifest.jobs.is_empty() {
            continue;
        }
        let mut tx = app.store.begin().await?;
        register(app, &mut tx, &tenant_id, &p.manifest).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Starts this host's job worker: every second it runs the due jobs, one at a time, then delivers
/// the due events.
/// Due jobs or deliveries of one tenant taken per poll.
pub const DUE_PER_TENANT: i64 = 8;

pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        if let Err(e) = backfill(&app).await {
            tracing::warn!(error = %e.message, "could not register older plugins' jobs");
        }
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = now_ms();
            let due = match app.store.due_jobs(now, DUE_PER_TENANT).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read due plugin jobs");
                    continue;
                }
            };
            // Each job runs on its own: a long one holds up no other job and no delivery, and
            // the call pool shares the plugins' threads between tenants. A job still running is
            // skipped, since it holds its lease.
            for row in due {
                let app = app.clone();
                tokio::spawn(async move {
                    let (plugin, job) = (row.plugin.clone(), row.job.clone());
                    if let Err(e) = run_due(&app, row, now).await {
                        tracing::warn!(%plugin, %job, error = %e.message, "a plugin job could not run");
                    }
                });
            }
            if let Err(e) = super::delivery::run_due(&app).await {
                tracing::warn!(error = %e.message, "plugin events could not be delivered");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    #[test]
    fn schedules_are_checked_and_stored_as_text() {
        assert_eq!(
            When::of(&Schedule::DailyAt("02:00".into())),
            Ok(When::Daily(120))
        );
        assert_eq!(When::Daily(120).text(), "daily-at 02:00");
        assert_eq!(When::parse("daily-at 02:00"), Some(When::Daily(120)));
        assert_eq!(When::parse("every-minutes 15"), Some(When::Every(15)));
        assert_eq!(When::parse("manual"), Some(When::Manual));
        for bad in ["2:00", "24:00", "12:60", "ab:cd", "", "02:00:00"] {
            assert!(
                check_schedule(&Schedule::DailyAt(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(check_schedule(&Schedule::EveryMinutes(4)).is_err());
        assert!(check_schedule(&Schedule::EveryMinutes(5)).is_ok());
        assert!(When::parse("every-minutes 1").is_none());
    }

    #[test]
    fn next_due_times() {
        let daily = When::Daily(120);
        // Before 02:00: today; at or after: tomorrow.
        assert_eq!(daily.next_after(T0), Some(T0 + 2 * 3_600_000));
        assert_eq!(
            daily.next_after(T0 + 2 * 3_600_000),
            Some(T0 + DAY + 2 * 3_600_000)
        );
        assert_eq!(
            daily.next_after(T0 + 23 * 3_600_000),
            Some(T0 + DAY + 2 * 3_600_000)
        );
        let every = When::Every(15);
        assert_eq!(every.next_after(T0), Some(T0 + 15 * MINUTE));
        assert_eq!(every.next_after(T0 + 14 * MINUTE), Some(T0 + 15 * MINUTE));
        assert_eq!(every.next_after(T0 + 15 * MINUTE), Some(T0 + 30 * MINUTE));
        assert_eq!(When::Manual.next_after(T0), None);
    }

    #[test]
    fn retries_back_off() {
        let delays: Vec<i64> = (1..MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(delays, [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]);
    }
}
