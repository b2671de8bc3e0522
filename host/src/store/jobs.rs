//! Plugins' scheduled jobs: when each is due, who holds it, and how its last run went.

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct JobRow {
    pub tenant_id: String,
    pub plugin: String,
    pub job: String,
    /// The schedule as the manifest declared it, e.g. `daily-at 02:00`, `every-minutes 15`, `manual`.
    pub schedule: String,
    /// When the pending run was due (what the plugin is told); none for a manual job.
    pub scheduled_at: Option<i64>,
    /// When a host should start it (later than `scheduled_at` while backing off).
    pub run_at: Option<i64>,
    /// The try number of the pending run (1, or more after failures).
    pub attempt: i64,
    /// A host is running it until then.
    pub lease_until: Option<i64>,
    pub last_run_at: Option<i64>,
    /// `ok` or `failed`.
    pub last_status: Option<String>,
    pub last_processed: Option<i64>,
    pub last_message: Option<String>,
}

/// A job as the manifest declares it, with its first due time.
pub struct DeclaredJob {
    pub job: String,
    pub schedule: String,
    pub first_due: Option<i64>,
}

/// What to write after a run: the next pending run and the last run's outcome.
pub struct JobDone<'a> {
    pub scheduled_at: Option<i64>,
    pub run_at: Option<i64>,
    pub attempt: i64,
    pub ran_at: i64,
    pub status: &'a str,
    pub processed: Option<i64>,
    pub message: Option<&'a str>,
}

const JOB_COLUMNS: &str = "tenant_id, plugin, job, schedule, scheduled_at, run_at, attempt, \
     lease_until, last_run_at, last_status, last_processed, last_message";

impl Store {
    /// Brings a plugin's job rows in step with its manifest: new jobs are added, dropped ones
    /// removed, and a job whose schedule changed starts over from its new first due time.
    pub async fn sync_jobs(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        plugin: &str,
        jobs: &[DeclaredJob],
    ) -> sqlx::Result<()> {
        let existing: Vec<(String, String)> = sqlx::query_as(
            "SELECT job, schedule FROM plugin_jobs WHERE tenant_id = $1 AND plugin = $2",
        )
        .bind(tenant_id)
        .bind(plugin)
        .fetch_all(&mut **tx)
        .await?;
        for (job, schedule) in &existing {
            let keep = jobs
                .iter()
                .any(|j| &j.job == job && &j.schedule == schedule);
            if !keep {
                sqlx::query(
                    "DELETE FROM plugin_jobs WHERE tenant_id = $1 AND plugin = $2 AND job = $3",
                )
                .bind(tenant_id)
                .bind(plugin)
                .bind(job)
                .execute(&mut **tx)
                .await?;
            }
        }
        for j in jobs {
            if existing
                .iter()
                .any(|(job, s)| job == &j.job && s == &j.schedule)
            {
                continue;
            }
            sqlx::query(
                "INSERT INTO plugin_jobs (tenant_id, plugin, job, schedule, scheduled_at, run_at, attempt) \
                 VALUES ($1, $2, $3, $4, $5, $5, 1)",
            )
            .bind(tenant_id)
            .bind(plugin)
            .bind(&j.job)
            .bind(&j.schedule)
            .bind(j.first_due)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The plugins (tenant, name) that have no job rows yet: installed before jobs were kept.
    pub async fn plugins_without_jobs(&self) -> sqlx::Result<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT p.tenant_id, p.name FROM plugins p WHERE NOT EXISTS \
             (SELECT 1 FROM plugin_jobs j WHERE j.tenant_id = p.tenant_id AND j.plugin = p.name)",
        )
        .fetch_all(self.pool())
        .await
    }

    /// A plugin's jobs.
    pub async fn jobs(&self, tenant_id: &str, plugin: &str) -> sqlx::Result<Vec<JobRow>> {
        sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM plugin_jobs WHERE tenant_id = $1 AND plugin = $2 ORDER BY job"
        ))
        .bind(tenant_id)
        .bind(plugin)
        .fetch_all(self.pool())
        .await
    }

    /// Jobs of enabled plugins whose run is due at `now` and that no host holds, oldest first.
    /// Due jobs, oldest first, at most `per_tenant` of each tenant.
    pub async fn due_jobs(&self, now: i64, per_tenant: i64) -> sqlx::Result<Vec<JobRow>> {
        sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant_id \
             ORDER BY run_at) AS nth FROM plugin_jobs WHERE run_at IS NOT NULL AND run_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) \
             AND EXISTS (SELECT 1 FROM plugins p WHERE p.tenant_id = plugin_jobs.tenant_id \
             AND p.name = plugin_jobs.plugin AND p.state = 'enabled')) due \
             WHERE nth <= $2 ORDER BY run_at"
        ))
        .bind(now)
        .bind(per_tenant)
        .fetch_all(self.pool())
        .await
    }

    /// Takes the job for this host until `until`, if no other host holds it. Returns whether it did.
    pub async fn claim_job(
        &self,
        tenant_id: &str,
        plugin: &str,
        job: &str,
        now: i64,
        until: i64,
    ) -> sqlx::Result<bool> {
        self.update_one(
            sqlx::query(
                "UPDATE plugin_jobs SET lease_until = $4 WHERE tenant_id = $1 AND plugin = $2 \
                 AND job = $3 AND (lease_until IS NULL OR lease_until < $5)",
            )
            .bind(tenant_id)
            .bind(plugin)
            .bind(job)
            .bind(until)
            .bind(now),
        )
        .await
    }

    /// Records a run's outcome and the next pending run, and lets go of the lease.
    pub async fn finish_job(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        plugin: &str,
        job: &str,
        done: &JobDone<'_>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE plugin_jobs SET scheduled_at = $4, run_at = $5, attempt = $6, lease_until = NULL, \
             last_run_at = $7, last_status = $8, last_processed = $9, last_message = $10 \
             WHERE tenant_id = $1 AND plugin = $2 AND job = $3",
        )
        .bind(tenant_id)
        .bind(plugin)
        .bind(job)
        .bind(done.scheduled_at)
        .bind(done.run_at)
        .bind(done.attempt)
        .bind(done.ran_at)
        .bind(done.status)
        .bind(done.processed)
        .bind(done.message)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
