//! Data-subject requests and their timelines.

use super::{Store, Tx};

/// A request as stored (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PrivacyRequestRow {
    pub id: String,
    pub tenant_id: String,
    pub customer_id: String,
    pub kind: String,
    pub regime: String,
    pub state: String,
    pub received_at: i64,
    pub acknowledge_by: Option<String>,
    pub answer_by: String,
    pub extended_to: String,
    pub verification: String,
    pub opened_by: String,
    pub updated_at: i64,
}

/// One step of a request's timeline.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PrivacyStepRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub step: String,
    pub state: String,
    pub reason: String,
}

const COLUMNS: &str = "id, tenant_id, customer_id, kind, regime, state, received_at, acknowledge_by, \
     answer_by, extended_to, verification, opened_by, updated_at";

impl Store {
    pub async fn insert_privacy_request(
        &self,
        tx: &mut Tx,
        r: &PrivacyRequestRow,
    ) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO privacy_requests ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&r.id)
        .bind(&r.tenant_id)
        .bind(&r.customer_id)
        .bind(&r.kind)
        .bind(&r.regime)
        .bind(&r.state)
        .bind(r.received_at)
        .bind(&r.acknowledge_by)
        .bind(&r.answer_by)
        .bind(&r.extended_to)
        .bind(&r.verification)
        .bind(&r.opened_by)
        .bind(r.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn privacy_request(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> sqlx::Result<Option<PrivacyRequestRow>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// The tenant's requests, open ones first by their answer date, then the newest closed ones.
    pub async fn privacy_requests(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<PrivacyRequestRow>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE tenant_id = $1 \
             ORDER BY CASE WHEN state IN ('completed', 'refused') THEN 1 ELSE 0 END, \
             CASE WHEN state = 'extended' THEN extended_to ELSE answer_by END, received_at DESC \
             LIMIT $2"
        ))
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// Every request the tenant received since `since` (the request log's figures).
    pub async fn privacy_requests_since(
        &self,
        tenant_id: &str,
        since: i64,
    ) -> sqlx::Result<Vec<PrivacyRequestRow>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE tenant_id = $1 AND received_at >= $2 \
             ORDER BY received_at"
        ))
        .bind(tenant_id)
        .bind(since)
        .fetch_all(self.pool())
        .await
    }

    /// Moves a request from `from` to its next state, inside the step's transaction; `false`
    /// when another step moved it first (so two staff members cannot both take one step).
    pub async fn move_privacy_request(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE privacy_requests SET state = $1, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND state = $5",
        )
        .bind(to)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn add_privacy_step(
        &self,
        tx: &mut Tx,
        request_id: &str,
        step: &PrivacyStepRow,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO privacy_request_steps (request_id, seq, at, actor, step, state, reason) \
             VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM privacy_request_steps \
             WHERE request_id = $1), $2, $3, $4, $5, $6)",
        )
        .bind(request_id)
        .bind(step.at)
        .bind(&step.actor)
        .bind(&step.step)
        .bind(&step.state)
        .bind(&step.reason)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn privacy_steps(&self, request_id: &str) -> sqlx::Result<Vec<PrivacyStepRow>> {
        sqlx::query_as(
            "SELECT seq, at, actor, step, state, reason FROM privacy_request_steps \
             WHERE request_id = $1 ORDER BY seq",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await
    }
}

/// A legal hold (on one customer, or on the whole tenant when `customer_id` is none).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LegalHoldRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub reason: String,
    pub owner: String,
    pub placed_by: String,
    pub placed_at: i64,
    pub released_by: Option<String>,
    pub released_at: Option<i64>,
}

const HOLD_COLUMNS: &str =
    "id, customer_id, reason, owner, placed_by, placed_at, released_by, released_at";

impl Store {
    pub async fn place_legal_hold(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        h: &LegalHoldRow,
    ) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO legal_holds (tenant_id, {HOLD_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
        ))
        .bind(tenant_id)
        .bind(&h.id)
        .bind(&h.customer_id)
        .bind(&h.reason)
        .bind(&h.owner)
        .bind(&h.placed_by)
        .bind(h.placed_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Releases an active hold; `false` when there is none by that id (or it was released).
    pub async fn release_legal_hold(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE legal_holds SET released_by = $1, released_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND released_at IS NULL",
        )
        .bind(by)
        .bind(at)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The tenant's holds, active ones first, newest first.
    pub async fn legal_holds(&self, tenant_id: &str) -> sqlx::Result<Vec<LegalHoldRow>> {
        sqlx::query_as(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = $1 \
             ORDER BY CASE WHEN released_at IS NULL THEN 0 ELSE 1 END, placed_at DESC LIMIT 1000"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }

    /// The active hold that keeps a customer from erasure (theirs or the tenant's), read inside
    /// the erasure's transaction so a hold placed meanwhile is seen.
    pub async fn active_legal_hold(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Option<LegalHoldRow>> {
        sqlx::query_as(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = $1 \
             AND released_at IS NULL AND (customer_id IS NULL OR customer_id = $2) \
             ORDER BY placed_at LIMIT 1"
        ))
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_optional(&mut **tx)
        .await
    }

    /// Notes an erasure in the ledger (ids and time only).
    pub async fn record_erasure(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        customer_id: &str,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO erasure_ledger (tenant_id, customer_id, erased_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, customer_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(customer_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The tenant's erasures, oldest first: `(customer id, erased at)`.
    pub async fn erasures(&self, tenant_id: &str) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT customer_id, erased_at FROM erasure_ledger WHERE tenant_id = $1 \
             ORDER BY erased_at, customer_id",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }
}

/// An export archive's row (the sealed archive itself is read only to download it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub id: String,
    pub request_id: String,
    pub customer_id: String,
    pub state: String,
    pub done: i64,
    pub total: i64,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub downloads: i64,
}

/// One audit record about a person, without its detail (which may name others).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditAboutRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub decision: String,
    pub resource: String,
}

const EXPORT_COLUMNS: &str = "id, request_id, customer_id, state, done, total, bytes, error, \
     created_by, created_at, expires_at, downloads";

impl Store {
    pub async fn insert_export(&self, tenant_id: &str, row: &ExportRow) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO privacy_exports (id, tenant_id, request_id, customer_id, state, done, total, \
             created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(tenant_id)
        .bind(&row.request_id)
        .bind(&row.customer_id)
        .bind(&row.state)
        .bind(row.done)
        .bind(row.total)
        .bind(&row.created_by)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Notes how many of the archive's parts are gathered.
    pub async fn export_progress(&self, id: &str, done: i64) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE privacy_exports SET done = $1 WHERE id = $2 AND state = 'building'")
            .bind(done)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Ends a build: the sealed archive, or the reason it failed.
    pub async fn finish_export(
        &self,
        id: &str,
        archive: Result<(&[u8], i64), &str>,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        let q = match archive {
            Ok((sealed, bytes)) => sqlx::query(
                "UPDATE privacy_exports SET state = 'ready', done = total, archive = $1, bytes = $2 \
                 WHERE id = $3 AND state = 'building'",
            )
            .bind(sealed)
            .bind(bytes),
            Err(e) => sqlx::query(
                "UPDATE privacy_exports SET state = 'failed', error = $1 WHERE id = $2 AND state = 'building'",
            )
            .bind(e),
        };
        q.bind(id).execute(&mut *tx).await?;
        tx.commit().await
    }

    pub async fn export(&self, tenant_id: &str, id: &str) -> sqlx::Result<Option<ExportRow>> {
        sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM privacy_exports WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn exports_of_request(
        &self,
        tenant_id: &str,
        request_id: &str,
    ) -> sqlx::Result<Vec<ExportRow>> {
        sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM privacy_exports WHERE tenant_id = $1 AND request_id = $2 \
             ORDER BY created_at DESC, id"
        ))
        .bind(tenant_id)
        .bind(request_id)
        .fetch_all(self.pool())
        .await
    }

    /// Takes a ready archive for download (counting it) in the caller's transaction.
    pub async fn take_export_archive(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> sqlx::Result<Option<Vec<u8>>> {
        let archive: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "UPDATE privacy_exports SET downloads = downloads + 1, last_download_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND state = 'ready' AND expires_at > $1 RETURNING archive",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(archive.flatten())
    }

    /// Drops the archives of the tenant's exports that expired by `now` (their rows stay, for
    /// the request log); returns how many.
    pub async fn drop_expired_archives(&self, tenant_id: &str, now: i64) -> sqlx::Result<u64> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE privacy_exports SET archive = NULL WHERE tenant_id = $1 AND expires_at <= $2 \
             AND archive IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// The audit records about a customer: their record, their plugins' documents and their
    /// data-subject requests; oldest first.
    pub async fn audit_about(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Vec<AuditAboutRow>> {
        sqlx::query_as(
            "SELECT seq, at, actor, action, decision, resource FROM audit_log WHERE tenant_id = $1 AND (\
             resource = 'customer/' || $2 \
             OR resource IN (SELECT 'record/' || id FROM plugin_records WHERE tenant_id = $1 AND customer_id = $2) \
             OR resource IN (SELECT 'privacy/' || id FROM privacy_requests WHERE tenant_id = $1 AND customer_id = $2)\
             ) ORDER BY seq",
        )
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
    }
}
