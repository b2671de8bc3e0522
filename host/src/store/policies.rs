//! Published tenant policy versions, the active pointer, and the decision log.

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyVersionRow {
    pub version: i64,
    /// JSON object `{path: source}`.
    pub files: String,
    pub digest: String,
    pub author: String,
    pub note: String,
    pub created_at: i64,
    /// How its module evaluates: `rvm`, `interpreter` or `bundle`.
    pub mode: String,
}

/// A decision log row as stored (`reasons` is JSON text; the API serves `DecisionEntry`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DecisionRow {
    pub at: i64,
    pub action: String,
    pub input_digest: String,
    pub policy_version: String,
    pub allow: i64,
    pub reasons: String,
    pub micros: i64,
}

impl Store {
    /// Inserts the next version of a tenant's policy set and makes it active; returns its number.
    /// `module` is the compiled module, its `data` document (JSON) and how it evaluates.
    #[allow(clippy::too_many_arguments)]
    pub async fn publish_policy(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        files: &str,
        digest: &str,
        author: &str,
        note: &str,
        at: i64,
        module: (&[u8], &str, &str),
    ) -> sqlx::Result<i64> {
        let (wasm, data, mode) = module;
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM policy_versions WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO policy_versions (tenant_id, version, files, digest, author, note, created_at, \
             module, data_json, mode) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(tenant_id)
        .bind(version)
        .bind(files)
        .bind(digest)
        .bind(author)
        .bind(note)
        .bind(at)
        .bind(wasm)
        .bind(data)
        .bind(mode)
        .execute(&mut **tx)
        .await?;
        self.activate_policy(tx, tenant_id, version, at).await?;
        Ok(version)
    }

    pub async fn activate_policy(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        version: i64,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO policy_active (tenant_id, version, activated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at",
        )
        .bind(tenant_id)
        .bind(version)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn policy_versions(&self, tenant_id: &str) -> sqlx::Result<Vec<PolicyVersionRow>> {
        sqlx::query_as(
            "SELECT version, files, digest, author, note, created_at, mode FROM policy_versions \
             WHERE tenant_id = $1 ORDER BY version DESC",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn policy_version(
        &self,
        tenant_id: &str,
        version: i64,
    ) -> sqlx::Result<Option<PolicyVersionRow>> {
        sqlx::query_as(
            "SELECT version, files, digest, author, note, created_at, mode FROM policy_versions \
             WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant_id)
        .bind(version)
        .fetch_optional(self.pool())
        .await
    }

    /// A version's module and `data` document (none for versions stored before modules were).
    pub async fn policy_module(
        &self,
        tenant_id: &str,
        version: i64,
    ) -> sqlx::Result<Option<(Vec<u8>, String)>> {
        let row: Option<(Option<Vec<u8>>, String)> = sqlx::query_as(
            "SELECT module, data_json FROM policy_versions WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant_id)
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(m, d)| m.map(|m| (m, d))))
    }

    /// One tenant's active version.
    pub async fn active_policy(&self, tenant_id: &str) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar("SELECT version FROM policy_active WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(self.pool())
            .await
    }

    /// Every tenant's active version: what the policy watcher compares against.
    pub async fn active_policies(&self) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as("SELECT tenant_id, version FROM policy_active")
            .fetch_all(self.pool())
            .await
    }

    pub async fn insert_decisions(
        &self,
        tx: &mut Tx,
        rows: &[(String, DecisionRow)],
    ) -> sqlx::Result<()> {
        for (tenant, d) in rows {
            sqlx::query(
                "INSERT INTO decision_log (tenant_id, at, action, input_digest, policy_version, allow, reasons, micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tenant)
            .bind(d.at)
            .bind(&d.action)
            .bind(&d.input_digest)
            .bind(&d.policy_version)
            .bind(d.allow)
            .bind(&d.reasons)
            .bind(d.micros)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// A tenant's decision log, newest first, narrowed by `q`.
    pub async fn decisions(
        &self,
        tenant_id: &str,
        q: &DecisionQuery,
    ) -> sqlx::Result<Vec<DecisionRow>> {
        // `+tenant@vN` ends the version of a decision the tenant's set N took part in.
        let tenant_version = q.tenant_version.map(|v| format!("%+tenant@v{v}"));
        sqlx::query_as(
            "SELECT at, action, input_digest, policy_version, allow, reasons, micros FROM decision_log \
             WHERE tenant_id = $1 AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR allow = $3) \
             AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             AND ($6 IS NULL OR policy_version LIKE $6) AND ($7 IS NULL OR input_digest = $7) \
             ORDER BY at DESC LIMIT $8",
        )
        .bind(tenant_id)
        .bind(&q.action)
        .bind(q.allow.map(i64::from))
        .bind(q.since)
        .bind(q.until)
        .bind(tenant_version)
        .bind(&q.digest)
        .bind(q.limit)
        .fetch_all(self.pool())
        .await
    }
}

/// Which decisions [`Store::decisions`] returns: every filter that is set must match.
#[derive(Debug, Clone)]
pub struct DecisionQuery {
    pub action: Option<String>,
    pub allow: Option<bool>,
    /// Milliseconds since the epoch, inclusive.
    pub since: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    pub until: Option<i64>,
    /// Decisions the tenant's policy version N took part in.
    pub tenant_version: Option<i64>,
    /// The SHA-256 of one input (hex), to find every decision on it.
    pub digest: Option<String>,
    pub limit: i64,
}

impl Default for DecisionQuery {
    fn default() -> Self {
        Self {
            action: None,
            allow: None,
            since: None,
            until: None,
            tenant_version: None,
            digest: None,
            limit: 100,
        }
    }
}
