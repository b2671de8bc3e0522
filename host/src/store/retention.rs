//! A tenant's privacy settings, and what its retention schedule reaches: rows older than a cutoff,
//! less those a legal hold keeps.

use super::{Store, Tx};

/// Rows of one kind that have aged out of a tenant's schedule.
#[derive(Debug, Clone, Copy)]
pub enum Aged<'a> {
    Interactions,
    PluginDocuments {
        plugin: &'a str,
        collection: &'a str,
    },
    DecisionLog,
    ExportArchives,
    /// Closed data-subject requests and their timelines (the request log).
    ClosedRequests,
}

/// Where an [`Aged`] kind lives: its table, the column its age is read from, any further
/// filter (binding `$3` and `$4`), the column naming the customer it is about, and a child
/// table (and its column holding the parent's id) that goes first.
struct Shape {
    table: &'static str,
    age: &'static str,
    filter: &'static str,
    customer: Option<&'static str>,
    child: Option<(&'static str, &'static str)>,
}

/// Customers whose data is kept whatever its age: under an active legal hold of their own (a
/// tenant-wide hold stops the whole run before any of this is asked), or with a data-subject
/// request still open (what they asked about must still be there to answer it).
const HELD: &str = "SELECT customer_id FROM legal_holds WHERE tenant_id = $1 \
     AND released_at IS NULL AND customer_id IS NOT NULL \
     UNION SELECT customer_id FROM privacy_requests WHERE tenant_id = $1 \
     AND state NOT IN ('completed', 'refused')";

impl<'a> Aged<'a> {
    fn shape(&self) -> Shape {
        let plain = |table, age| Shape {
            table,
            age,
            filter: "",
            customer: None,
            child: None,
        };
        match self {
            Aged::Interactions => Shape {
                customer: Some("customer_id"),
                ..plain("interactions", "created_at")
            },
            Aged::PluginDocuments { .. } => Shape {
                filter: "AND plugin = $3 AND collection = $4",
                customer: Some("customer_id"),
                child: Some(("plugin_record_index", "record_id")),
                ..plain("plugin_records", "updated_at")
            },
            Aged::DecisionLog => plain("decision_log", "at"),
            Aged::ExportArchives => Shape {
                customer: Some("customer_id"),
                ..plain("privacy_exports", "created_at")
            },
            Aged::ClosedRequests => Shape {
                filter: "AND state IN ('completed', 'refused')",
                customer: Some("customer_id"),
                child: Some(("privacy_request_steps", "request_id")),
                ..plain("privacy_requests", "updated_at")
            },
        }
    }

    /// The rows that aged out, held ones included.
    fn aged(&self, s: &Shape) -> String {
        format!("tenant_id = $1 AND {} < $2 {}", s.age, s.filter)
    }

    /// The rows that aged out and no hold keeps.
    fn free(&self, s: &Shape) -> String {
        match s.customer {
            Some(c) => format!("{} AND ({c} IS NULL OR {c} NOT IN ({HELD}))", self.aged(s)),
            None => self.aged(s),
        }
    }

    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, super::Db, sqlx::sqlite::SqliteArguments<'q>>,
        tenant_id: &'q str,
        cutoff: i64,
    ) -> sqlx::query::Query<'q, super::Db, sqlx::sqlite::SqliteArguments<'q>>
    where
        'a: 'q,
    {
        let q = q.bind(tenant_id).bind(cutoff);
        match self {
            Aged::PluginDocuments { plugin, collection } => q.bind(plugin).bind(collection),
            _ => q,
        }
    }
}

/// How many rows a rule reaches: those that go, and those a legal hold keeps.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct Reach {
    pub go: u64,
    pub held: u64,
}

/// One retention run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RetentionRunRow {
    pub id: String,
    pub tenant_id: String,
    pub at: i64,
    pub applied: bool,
    pub run_by: String,
    pub report: String,
}

impl Store {
    /// A tenant's privacy settings (JSON), if it has set any.
    pub async fn privacy_settings(&self, tenant_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT settings FROM privacy_settings WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(self.pool())
            .await
    }

    pub async fn put_privacy_settings(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        settings: &str,
        by: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO privacy_settings (tenant_id, settings, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
             settings = excluded.settings, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(settings)
        .bind(by)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Tenants with a retention schedule of their own.
    pub async fn tenants_with_privacy_settings(&self) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar("SELECT tenant_id FROM privacy_settings ORDER BY tenant_id")
            .fetch_all(self.pool())
            .await
    }

    /// Counts what `aged` reaches before `cutoff`.
    pub async fn aged_reach(
        &self,
        tenant_id: &str,
        aged: Aged<'_>,
        cutoff: i64,
    ) -> sqlx::Result<Reach> {
        let s = aged.shape();
        let held = match s.customer {
            Some(c) => format!("CASE WHEN {c} IN ({HELD}) THEN 1 ELSE 0 END"),
            None => "0".into(),
        };
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM({held}), 0) FROM {} WHERE {}",
            s.table,
            aged.aged(&s)
        );
        use sqlx::Row;
        let row = aged
            .bind(sqlx::query(&sql), tenant_id, cutoff)
            .fetch_one(self.pool())
            .await?;
        let (all, held): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(Reach {
            go: (all - held).max(0) as u64,
            held: held.max(0) as u64,
        })
    }

    /// Deletes what `aged` reaches before `cutoff` and no hold keeps; the number deleted.
    pub async fn delete_aged(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        aged: Aged<'_>,
        cutoff: i64,
    ) -> sqlx::Result<u64> {
        let s = aged.shape();
        let free = aged.free(&s);
        if let Some((child, column)) = s.child {
            let sql = format!(
                "DELETE FROM {child} WHERE {column} IN (SELECT id FROM {} WHERE {free})",
                s.table
            );
            aged.bind(sqlx::query(&sql), tenant_id, cutoff)
                .execute(&mut **tx)
                .await?;
        }
        let sql = format!("DELETE FROM {} WHERE {free}", s.table);
        let r = aged
            .bind(sqlx::query(&sql), tenant_id, cutoff)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// Customers with no change, no interaction and no plugin document touched since `cutoff`,
    /// each with whether something keeps them (a legal hold, or a request still open).
    pub async fn inactive_customers(
        &self,
        tenant_id: &str,
        cutoff: i64,
    ) -> sqlx::Result<Vec<(String, bool)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT c.id, CASE WHEN c.id IN ({HELD}) THEN 1 ELSE 0 END \
             FROM customers c WHERE c.tenant_id = $1 AND c.updated_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.tenant_id = $1 \
             AND i.customer_id = c.id AND i.created_at >= $2) \
             AND NOT EXISTS (SELECT 1 FROM plugin_records p WHERE p.tenant_id = $1 \
             AND p.customer_id = c.id AND p.updated_at >= $2) ORDER BY c.id"
        ))
        .bind(tenant_id)
        .bind(cutoff)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, kept)| (id, kept == 1)).collect())
    }

    pub async fn insert_retention_run(&self, tx: &mut Tx, r: &RetentionRunRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO retention_runs (id, tenant_id, at, applied, run_by, report) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(&r.tenant_id)
        .bind(r.at)
        .bind(r.applied)
        .bind(&r.run_by)
        .bind(&r.report)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The tenant's newest runs first.
    pub async fn retention_runs(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<RetentionRunRow>> {
        sqlx::query_as(
            "SELECT id, tenant_id, at, applied, run_by, report FROM retention_runs \
             WHERE tenant_id = $1 ORDER BY at DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// When the schedule was last applied for the tenant.
    pub async fn last_applied_retention(&self, tenant_id: &str) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MAX(at) FROM retention_runs WHERE tenant_id = $1 AND applied = TRUE",
        )
        .bind(tenant_id)
        .fetch_one(self.pool())
        .await
    }
}
