//! Installed plugins, their uploads, records, logs, events, and the tenant's publisher trust.

use sqlx::QueryBuilder;

use super::{Db, Store, Tx, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PluginRow {
    pub tenant_id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub wit_version: String,
    pub component: Vec<u8>,
    pub manifest_json: String,
    pub grants_json: String,
    pub limits_json: String,
    pub state: String,
    pub signed_by: Option<String>,
    pub installed_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub id: String,
    pub plugin: String,
    pub collection: String,
    pub customer_id: Option<String>,
    pub data: Vec<u8>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PluginLogRow {
    pub at: i64,
    pub level: String,
    pub message: String,
}

const PLUGIN_COLUMNS: &str = "tenant_id, name, version, sha256, wit_version, component, manifest_json, \
     grants_json, limits_json, state, signed_by, installed_at, updated_at";

/// The same columns without the component's bytes (hundreds of KiB each), which only a cold
/// runtime needs: `plugin_component` fetches them.
const PLUGIN_META: &str = "tenant_id, name, version, sha256, wit_version, CAST(X'' AS BLOB) AS component, \
     manifest_json, grants_json, limits_json, state, signed_by, installed_at, updated_at";

impl Store {
    pub async fn plugins(&self, tenant_id: &str) -> sqlx::Result<Vec<PluginRow>> {
        sqlx::query_as(&format!(
            "SELECT {PLUGIN_META} FROM plugins WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn plugin(&self, tenant_id: &str, name: &str) -> sqlx::Result<Option<PluginRow>> {
        sqlx::query_as(&format!(
            "SELECT {PLUGIN_META} FROM plugins WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(self.pool())
        .await
    }

    /// The installed component's bytes.
    pub async fn plugin_component(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> sqlx::Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT component FROM plugins WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await
    }

    /// Whether this name/version was ever installed in the tenant.
    pub async fn plugin_uploaded(
        &self,
        tenant_id: &str,
        name: &str,
        version: &str,
    ) -> sqlx::Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM plugin_uploads WHERE tenant_id = $1 AND name = $2 AND version = $3",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(version)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Inserts or replaces (upgrade) the tenant's plugin of this name, and records the upload.
    pub async fn put_plugin(&self, tx: &mut Tx, row: &PluginRow) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM plugins WHERE tenant_id = $1 AND name = $2")
            .bind(&row.tenant_id)
            .bind(&row.name)
            .execute(&mut **tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO plugins ({PLUGIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&row.tenant_id)
        .bind(&row.name)
        .bind(&row.version)
        .bind(&row.sha256)
        .bind(&row.wit_version)
        .bind(&row.component)
        .bind(&row.manifest_json)
        .bind(&row.grants_json)
        .bind(&row.limits_json)
        .bind(&row.state)
        .bind(&row.signed_by)
        .bind(row.installed_at)
        .bind(row.updated_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO plugin_uploads (tenant_id, name, version, sha256, uploaded_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.tenant_id)
        .bind(&row.name)
        .bind(&row.version)
        .bind(&row.sha256)
        .bind(row.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn set_plugin_state(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        name: &str,
        state: &str,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE plugins SET state = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4",
        )
        .bind(state)
        .bind(now_ms())
        .bind(tenant_id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn set_plugin_limits(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        name: &str,
        limits_json: &str,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query("UPDATE plugins SET limits_json = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4")
            .bind(limits_json)
            .bind(now_ms())
            .bind(tenant_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Removes a plugin; with `purge` also its records and log. Returns whether it existed.
    pub async fn delete_plugin(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        name: &str,
        purge: bool,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query("DELETE FROM plugins WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        // Its jobs and event deliveries go with it (a reinstall declares its jobs again); its
        // records and log only with `purge`.
        let mut tables = vec!["plugin_jobs", "plugin_event_deliveries"];
        if purge {
            tables.extend(["plugin_records", "plugin_logs", "plugin_usage"]);
        }
        for table in tables {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND plugin = $2"
            ))
            .bind(tenant_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        }
        Ok(r.rows_affected() > 0)
    }

    pub async fn count_records(&self, tenant_id: &str, plugin: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM plugin_records WHERE tenant_id = $1 AND plugin = $2",
        )
        .bind(tenant_id)
        .bind(plugin)
        .fetch_one(self.pool())
        .await
    }

    /// Inserts a record, unless it would take its plugin or tenant over `quota`.
    pub async fn insert_record(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        r: &RecordRow,
        index: &[(String, String)],
        quota: &StorageQuota,
    ) -> sqlx::Result<Result<(), OverQuota>> {
        let cost = record_cost(r.data.len(), index.len());
        if let Err(over) = charge(tx, tenant_id, &r.plugin, cost, 1, Some(quota)).await? {
            return Ok(Err(over));
        }
        sqlx::query(
            "INSERT INTO plugin_records (id, tenant_id, plugin, collection, customer_id, data, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(tenant_id)
        .bind(&r.plugin)
        .bind(&r.collection)
        .bind(&r.customer_id)
        .bind(&r.data)
        .bind(r.version)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut **tx)
        .await?;
        put_index(tx, &r.id, index).await?;
        Ok(Ok(()))
    }

    /// One of a plugin's records, read within the call's `budget`.
    pub async fn record(
        &self,
        budget: &super::QueryBudget,
        tenant_id: &str,
        plugin: &str,
        collection: &str,
        id: &str,
    ) -> sqlx::Result<Option<RecordRow>> {
        let mut conn = self.plugin_connection(budget).await?;
        sqlx::query_as(
            "SELECT id, plugin, collection, customer_id, data, version, created_at, updated_at FROM plugin_records \
             WHERE tenant_id = $1 AND plugin = $2 AND collection = $3 AND id = $4",
        )
        .bind(tenant_id)
        .bind(plugin)
        .bind(collection)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
    }

    /// Replaces a record's data if it is still at `version` (false if not), unless the new data
    /// would take its plugin or tenant over `quota`.
    #[allow(clippy::too_many_arguments)]
    pub async fn replace_record(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        version: i64,
        data: &[u8],
        at: i64,
        index: &[(String, String)],
        quota: &StorageQuota,
    ) -> sqlx::Result<Result<bool, OverQuota>> {
        let old: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT plugin, length(data), (SELECT COUNT(*) FROM plugin_record_index i \
             WHERE i.record_id = r.id) FROM plugin_records r WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((plugin, old_len, old_index)) = old else {
            return Ok(Ok(false));
        };
        let delta = record_cost(data.len(), index.len())
            - record_cost(old_len as usize, old_index as usize);
        if let Err(over) = charge(tx, tenant_id, &plugin, delta, 0, Some(quota)).await? {
            return Ok(Err(over));
        }
        let r = sqlx::query(
            "UPDATE plugin_records SET data = $1, version = version + 1, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND version = $5",
        )
        .bind(data)
        .bind(at)
        .bind(tenant_id)
        .bind(id)
        .bind(version)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(Ok(false));
        }
        sqlx::query("DELETE FROM plugin_record_index WHERE record_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        put_index(tx, id, index).await?;
        Ok(Ok(true))
    }

    pub async fn delete_record(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        plugin: &str,
        collection: &str,
        id: &str,
    ) -> sqlx::Result<bool> {
        let old: Option<(i64, i64)> = sqlx::query_as(
            "SELECT length(data), (SELECT COUNT(*) FROM plugin_record_index i WHERE i.record_id = r.id) \
             FROM plugin_records r WHERE tenant_id = $1 AND plugin = $2 AND collection = $3 AND id = $4",
        )
        .bind(tenant_id)
        .bind(plugin)
        .bind(collection)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((len, index)) = old else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM plugin_records WHERE tenant_id = $1 AND plugin = $2 AND collection = $3 AND id = $4")
            .bind(tenant_id)
            .bind(plugin)
            .bind(collection)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let _ = charge(
            tx,
            tenant_id,
            plugin,
            -record_cost(len as usize, index as usize),
            -1,
            None,
        )
        .await?;
        Ok(true)
    }

    /// Records matching every (field, blind index) condition, oldest first, after `after`, read
    /// within the call's `budget`.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_records(
        &self,
        budget: &super::QueryBudget,
        tenant_id: &str,
        plugin: &str,
        collection: &str,
        customer: Option<&str>,
        conditions: &[(String, String)],
        after: Option<&(i64, String)>,
        limit: i64,
    ) -> sqlx::Result<Vec<RecordRow>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT id, plugin, collection, customer_id, data, version, created_at, updated_at FROM plugin_records r WHERE tenant_id = ",
        );
        q.push_bind(tenant_id)
            .push(" AND plugin = ")
            .push_bind(plugin)
            .push(" AND collection = ")
            .push_bind(collection);
        if let Some(c) = customer {
            q.push(" AND customer_id = ").push_bind(c);
        }
        for (field, bidx) in conditions {
            q.push(" AND EXISTS (SELECT 1 FROM plugin_record_index i WHERE i.record_id = r.id AND i.field = ")
                .push_bind(field)
                .push(" AND i.bidx = ")
                .push_bind(bidx)
                .push(")");
        }
        if let Some((at, id)) = after {
            q.push(" AND (created_at > ")
                .push_bind(*at)
                .push(" OR (created_at = ")
                .push_bind(*at)
                .push(" AND id > ")
                .push_bind(id)
                .push("))");
        }
        q.push(" ORDER BY created_at, id LIMIT ").push_bind(limit);
        let mut conn = self.plugin_connection(budget).await?;
        q.build_query_as().fetch_all(&mut *conn).await
    }

    /// Every plugin's documents about one customer, oldest first (for the person's own export).
    pub async fn records_about(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Vec<RecordRow>> {
        sqlx::query_as(
            "SELECT id, plugin, collection, customer_id, data, version, created_at, updated_at \
             FROM plugin_records WHERE tenant_id = $1 AND customer_id = $2 \
             ORDER BY plugin, collection, created_at, id",
        )
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
    }

    /// Appends a call's log lines (one statement per line, one transaction).
    pub async fn append_plugin_log(
        &self,
        tenant_id: &str,
        plugin: &str,
        lines: &[(&str, String)],
    ) -> sqlx::Result<()> {
        let at = now_ms();
        let mut tx = self.begin().await?;
        for (n, (level, message)) in lines.iter().enumerate() {
            sqlx::query("INSERT INTO plugin_logs (tenant_id, plugin, at, line, level, message) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(tenant_id)
                .bind(plugin)
                .bind(at)
                .bind(n as i64)
                .bind(level)
                .bind(message)
                .execute(&mut *tx)
                .await?;
        }
        // A plugin's log keeps its newest calls: older lines go once it passes the cap.
        if at % 16 == 0 {
            sqlx::query(
                "DELETE FROM plugin_logs WHERE tenant_id = $1 AND plugin = $2 AND at < \
                 (SELECT at FROM plugin_logs WHERE tenant_id = $1 AND plugin = $2 \
                 ORDER BY at DESC LIMIT 1 OFFSET $3)",
            )
            .bind(tenant_id)
            .bind(plugin)
            .bind(MAX_LOG_LINES)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// The newest `limit` lines of a plugin's log, oldest first.
    pub async fn plugin_log(
        &self,
        tenant_id: &str,
        plugin: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<PluginLogRow>> {
        let mut rows: Vec<PluginLogRow> = sqlx::query_as(
            "SELECT at, level, message FROM plugin_logs WHERE tenant_id = $1 AND plugin = $2 ORDER BY at DESC, line DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(plugin)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn insert_plugin_event(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        source: &str,
        topic: &str,
        customer: Option<&str>,
        payload: &str,
    ) -> sqlx::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO plugin_events (id, tenant_id, topic, source, customer_id, payload, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id)
            .bind(tenant_id)
            .bind(topic)
            .bind(source)
            .bind(customer)
            .bind(payload)
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    /// The tenant's trusted publisher keys (name, hex public key) and whether it requires a signature.
    pub async fn plugin_trust(
        &self,
        tenant_id: &str,
    ) -> sqlx::Result<(Vec<(String, String)>, bool)> {
        let keys = sqlx::query_as(
            "SELECT name, public_key FROM publisher_keys WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        let required: Option<i64> =
            sqlx::query_scalar("SELECT require_signature FROM plugin_trust WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(self.pool())
                .await?;
        Ok((keys, required.unwrap_or(0) != 0))
    }

    pub async fn add_publisher_key(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        name: &str,
        public_key_hex: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO publisher_keys (tenant_id, name, public_key, added_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant_id)
            .bind(name)
            .bind(public_key_hex)
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn set_require_signature(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        required: bool,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM plugin_trust WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO plugin_trust (tenant_id, require_signature) VALUES ($1, $2)")
            .bind(tenant_id)
            .bind(required as i64)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// Log lines kept per plugin.
const MAX_LOG_LINES: i64 = 10_000;

/// How much a plugin may store, and its tenant's plugins together (bytes as [`record_cost`]
/// counts them).
#[derive(Debug, Clone, Copy)]
pub struct StorageQuota {
    pub plugin_bytes: i64,
    pub tenant_bytes: i64,
}

/// A write refused because it would exceed a quota: which (`plugin` or `tenant`), of how much.
#[derive(Debug, Clone, Copy)]
pub struct OverQuota {
    pub which: &'static str,
    pub quota: i64,
}

/// What a stored record counts for: its sealed data, 100 bytes per index row, 200 per record.
pub fn record_cost(data_len: usize, index_rows: usize) -> i64 {
    (data_len + 100 * index_rows + 200) as i64
}

/// Adds to a plugin's usage inside the write's transaction; a growth that would take the plugin
/// or its tenant over `quota` is refused and nothing is added.
async fn charge(
    tx: &mut Tx,
    tenant_id: &str,
    plugin: &str,
    bytes: i64,
    records: i64,
    quota: Option<&StorageQuota>,
) -> sqlx::Result<Result<(), OverQuota>> {
    if let Some(q) = quota.filter(|_| bytes > 0) {
        let (mine, all): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN plugin = $2 THEN bytes END), 0), COALESCE(SUM(bytes), 0) \
             FROM plugin_usage WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .bind(plugin)
        .fetch_one(&mut **tx)
        .await?;
        if mine + bytes > q.plugin_bytes {
            return Ok(Err(OverQuota {
                which: "plugin",
                quota: q.plugin_bytes,
            }));
        }
        if all + bytes > q.tenant_bytes {
            return Ok(Err(OverQuota {
                which: "tenant",
                quota: q.tenant_bytes,
            }));
        }
    }
    sqlx::query(
        "INSERT INTO plugin_usage (tenant_id, plugin, bytes, records) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, plugin) DO UPDATE SET bytes = MAX(0, plugin_usage.bytes + $3), \
         records = MAX(0, plugin_usage.records + $4)",
    )
    .bind(tenant_id)
    .bind(plugin)
    .bind(bytes)
    .bind(records)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(()))
}

impl Store {
    /// What each of the tenant's plugins stores: `(plugin, bytes, records)`.
    pub async fn plugin_usage(&self, tenant_id: &str) -> sqlx::Result<Vec<(String, i64, i64)>> {
        sqlx::query_as(
            "SELECT plugin, bytes, records FROM plugin_usage WHERE tenant_id = $1 ORDER BY plugin",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }
}

async fn put_index(tx: &mut Tx, id: &str, index: &[(String, String)]) -> sqlx::Result<()> {
    for (field, bidx) in index {
        sqlx::query("INSERT INTO plugin_record_index (record_id, field, bidx) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(field)
            .bind(bidx)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
