//! Backups the server took and the drills that verified them.

use super::Store;

/// One backup or drill.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct BackupRunRow {
    pub id: String,
    /// `backup` or `drill`.
    pub kind: String,
    /// The archive's file name in the target directory.
    pub archive: String,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub ok: bool,
    /// JSON: counts and sizes, or the problems found.
    pub detail: String,
}

impl Store {
    pub async fn insert_backup_run(&self, r: &BackupRunRow) -> sqlx::Result<()> {
        self.update_one(
            sqlx::query(
                "INSERT INTO backup_runs (id, kind, archive, at, ok, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id)
            .bind(&r.kind)
            .bind(&r.archive)
            .bind(r.at)
            .bind(r.ok)
            .bind(&r.detail),
        )
        .await?;
        Ok(())
    }

    /// The newest runs first.
    pub async fn backup_runs(&self, limit: i64) -> sqlx::Result<Vec<BackupRunRow>> {
        sqlx::query_as(
            "SELECT id, kind, archive, at, ok, detail FROM backup_runs ORDER BY at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// The archives a passing drill verified.
    pub async fn verified_archives(&self) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT archive FROM backup_runs WHERE kind = 'drill' AND ok = TRUE",
        )
        .fetch_all(self.pool())
        .await
    }
}
