//! Plugins' jobs: their list, and one run as the plugin's service identity (when each is due is
//! `schedule`'s).
//!
//! A job runs with no staff member behind it, so it acts as the plugin's **service identity**:
//! policy subject `{type: service, plugin, tenant, roles: [service]}`, audit actor
//! `plugin:<name>/job:<job>`. The baseline lets a service touch only the plugin's own records and
//! emit events; personal data is out of its reach whatever the plugin was granted.
//!
//! A run is told the time it was due (`scheduled-at`, and `clock.now` answers the same), so a retry sees
//! the same day. Due runs are taken, leased and retried by `worker` (as event deliveries are);
//! after the fifth failure a run is given up and the job waits for its next due time.

use std::sync::Arc;

use serde::Serialize;

use super::abi::latest::guest::{JobReport, JobRequest};
use super::retry;
use super::runtime::Runtime;
use super::schedule::{When, register};
use super::{invoke, lifecycle};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::store::{JobDone, JobRow, now_ms};

/// A job as the admin's list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    pub title: String,
    pub title_zh_hans: Option<String>,
    #[serde(flatten)]
    pub state: JobRow,
}

/// The plugin's jobs with their next due time and last run.
pub async fn list(app: &App, permit: &lifecycle::Permit, plugin: &str) -> AppResult<Vec<JobInfo>> {
    let tenant_id = permit.tenant_id();
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
    rt: &Arc<Runtime>,
    permit: &lifecycle::Permit,
    plugin: &str,
    job: &str,
) -> AppResult<JobRun> {
    let tenant_id = permit.actor.tenant_id.as_str();
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
    let lease = retry::lease(now, p.limits.job_deadline_ms);
    if !app
        .store
        .claim_job(tenant_id, plugin, job, now, lease)
        .await?
    {
        return Err(AppError::conflict(format!(
            "the job {job} of {plugin} is running; try again when it has finished"
        )));
    }
    let run = execute(app, rt, &p, job, now, 1).await;
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
        serde_json::json!({"started_by": permit.actor.audit_name()}),
    )
    .await?;
    Ok(run)
}

/// Runs the plugin's `run-job` as its service identity. Never fails: a failure is the run's outcome.
async fn execute(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
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
    let result: AppResult<JobReport> = invoke::with_caller(
        app,
        rt,
        &actor,
        p,
        scheduled_at,
        async |prepared, caller| rt.run_job(prepared, caller, request).await,
    )
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
        &audit::Event::without_policy(
            actor.audit_name(),
            "plugin.job",
            format!("plugin/{}/{}", row.plugin, row.job),
            true,
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

/// Runs one due job if this host can claim it (called by the worker).
pub(super) async fn run_due(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    row: JobRow,
    now: i64,
) -> AppResult<()> {
    let p = lifecycle::get(app, &row.tenant_id, &row.plugin).await?;
    let lease = retry::lease(now, p.limits.job_deadline_ms);
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
    let run = execute(app, rt, &p, &row.job, scheduled_at, attempt).await;
    let ended = now_ms();
    let retry = if run.status == "ok" {
        None
    } else {
        retry::retry_at(attempt, ended)
    };
    let done = if let Some(retry) = retry {
        JobDone {
            scheduled_at: Some(scheduled_at),
            run_at: Some(retry),
            attempt: attempt + 1,
            ran_at: ended,
            status: &run.status,
            processed: None,
            message: run.message.as_deref(),
        }
    } else {
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
    };
    let given_up = run.status != "ok" && retry.is_none();
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
pub(super) async fn backfill(app: &App) -> AppResult<()> {
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
