//! Persistence with sqlx. SQLite (one file, WAL) is the embedded default; the SQL is kept portable
//! (`$N` placeholders, BIGINT times, no SQLite-only functions) so a PostgreSQL backend can slot in.

mod backups;
mod customers;
mod deliveries;
mod jobs;
mod plugins;
mod policies;
mod privacy;
mod retention;
mod users;

pub use backups::BackupRunRow;
pub use customers::{
    ConsentAct, ConsentEventRow, CustomerFacts, CustomerFilter, CustomerRow, InteractionRow,
    SealedFields,
};
pub use deliveries::DeliveryRow;
pub use jobs::{DeclaredJob, JobDone, JobRow};
pub use plugins::{OverQuota, PluginLogRow, PluginRow, RecordRow, StorageQuota, record_cost};
pub use policies::{DecisionQuery, DecisionRow, PolicyVersionRow};
pub use privacy::{AuditAboutRow, ExportRow, LegalHoldRow, PrivacyRequestRow, PrivacyStepRow};
pub use retention::{Aged, Reach, RetentionRunRow};
pub use users::{SessionRow, SigninRefusal, TokenRow, UserRow};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub type Db = Sqlite;

/// A write transaction. SQLite has one writer at a time; taking this process's write gate first means
/// writers queue in order here instead of spinning in SQLite's busy handler (which sleeps up to 100 ms).
pub struct Tx {
    tx: Transaction<'static, Db>,
    _gate: OwnedMutexGuard<()>,
    audit_chain: Option<Arc<crate::vault::Key>>,
}

impl Tx {
    /// The key audit records appended in this transaction are chained under (see `audit`).
    pub fn audit_chain_key(&self) -> Option<&crate::vault::Key> {
        self.audit_chain.as_deref()
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// Connections of the plugins' pool.
const PLUGIN_CONNECTIONS: u32 = 3;
/// SQLite VM instructions between two checks of a plugin query's budget.
const STEPS_PER_CHECK: u64 = 10_000;

/// The database work one plugin call may cause: its queries are interrupted at `deadline`,
/// once they have run `steps` SQLite VM instructions together, or as soon as `stop` is set (the
/// call ended), so no query outlives the call that asked for it.
#[derive(Clone)]
pub struct QueryBudget {
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    pub deadline: std::time::Instant,
    pub steps_left: Arc<std::sync::atomic::AtomicI64>,
}

impl QueryBudget {
    pub fn new(deadline: std::time::Instant, steps: u64) -> Self {
        Self {
            stop: Arc::default(),
            deadline,
            steps_left: Arc::new(std::sync::atomic::AtomicI64::new(steps as i64)),
        }
    }
}

/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The database behind the host.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The connections plugins' queries use: never one a staff request or the audit writer
    /// needs (see [`Store::plugin_connection`]).
    plugin_pool: SqlitePool,
    write_gate: Arc<Mutex<()>>,
    /// The audit chain's key, once the vault has given it (see [`Store::with_audit_chain_key`]).
    audit_chain: Option<Arc<crate::vault::Key>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: i64,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` (WAL) and applies the embedded migrations.
    pub async fn open_sqlite(path: &Path) -> anyhow::Result<Self> {
        Self::connect(SqliteConnectOptions::new().filename(path)).await
    }

    /// SQLite's quick check (or, `full`, its integrity check) of a database file, on a
    /// connection of its own: the problems found, none when it is sound. A file SQLite cannot
    /// read at all is one problem.
    pub async fn check_file(path: &Path, full: bool) -> Vec<String> {
        let opts = SqliteConnectOptions::new().filename(path).read_only(true);
        let pragma = if full {
            "PRAGMA integrity_check"
        } else {
            "PRAGMA quick_check"
        };
        let result: sqlx::Result<Vec<String>> = async {
            let mut conn = sqlx::ConnectOptions::connect(&opts).await?;
            sqlx::query_scalar(pragma).fetch_all(&mut conn).await
        }
        .await;
        match result {
            Ok(lines) => lines.into_iter().filter(|l| l != "ok").collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    /// Opens a database from a URL such as `sqlite://path/crm.db`.
    pub async fn open_url(url: &str) -> anyhow::Result<Self> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!(
                "unsupported database URL scheme (this build supports sqlite: URLs; PostgreSQL support is planned)"
            );
        }
        Self::connect(SqliteConnectOptions::from_str(url)?).await
    }

    async fn connect(opts: SqliteConnectOptions) -> anyhow::Result<Self> {
        // A damaged database is not served: the quick check runs before anything else touches it.
        let path = opts.get_filename().to_path_buf();
        if path.exists() {
            let problems = Self::check_file(&path, false).await;
            if !problems.is_empty() {
                anyhow::bail!(
                    "the database {} fails SQLite's quick check ({}); it is not opened. Restore \
                     the newest verified backup into a new folder (`crm backup restore FILE --data \
                     NEW_DIR --erasure-ledger OLD_DIR/erasure-ledger.jsonl --master-key-file KEY`); \
                     `crm check --full` lists every problem",
                    path.display(),
                    problems
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
        }
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // An erased person's rows are overwritten, not left in free pages of the file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let plugin_pool = SqlitePoolOptions::new()
            .max_connections(PLUGIN_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool,
            plugin_pool,
            write_gate: Arc::new(Mutex::new(())),
            audit_chain: None,
        })
    }

    /// This store, appending and verifying audit records under `key` (derived from the master
    /// key: the database never holds it).
    pub fn with_audit_chain_key(mut self, key: crate::vault::Key) -> Self {
        self.audit_chain = Some(Arc::new(key));
        self
    }

    /// The audit chain's key, if set.
    pub fn audit_chain_key(&self) -> Option<&crate::vault::Key> {
        self.audit_chain.as_deref()
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A connection of the plugins' own pool whose statements stop when `budget` runs out (the
    /// query then fails with SQLite's `interrupted`).
    pub async fn plugin_connection(
        &self,
        budget: &QueryBudget,
    ) -> sqlx::Result<sqlx::pool::PoolConnection<Db>> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut conn = self.plugin_pool.acquire().await?;
        let b = budget.clone();
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_CHECK as i32, move || {
                b.steps_left.fetch_sub(STEPS_PER_CHECK as i64, Relaxed) > 0
                    && !b.stop.load(Relaxed)
                    && std::time::Instant::now() < b.deadline
            });
        Ok(conn)
    }

    /// Starts a write transaction (reads need none: WAL readers never wait for the writer).
    /// Runs one conditional update in a write transaction of its own and tells whether it
    /// changed exactly one row (a lease taken, for example).
    pub async fn update_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> sqlx::Result<bool> {
        let mut tx = self.begin().await?;
        let r = query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Moves the write-ahead log into the database file and empties it, so that pages an erasure
    /// overwrote do not linger in the log (best effort: readers in flight keep their frames).
    pub async fn checkpoint(&self) -> sqlx::Result<()> {
        let _gate = self.write_gate.lock().await;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn begin(&self) -> sqlx::Result<Tx> {
        let gate = self.write_gate.clone().lock_owned().await;
        Ok(Tx {
            tx: self.pool.begin().await?,
            _gate: gate,
            audit_chain: self.audit_chain.clone(),
        })
    }

    /// Creates a tenant with its first wrapped data key, atomically.
    pub async fn create_tenant(
        &self,
        tx: &mut Tx,
        tenant: &TenantRow,
        wrapped_dek: &[u8],
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&tenant.id)
            .bind(&tenant.slug)
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO tenant_keys (tenant_id, version, wrapped_dek, created_at) VALUES ($1, 1, $2, $3)",
        )
        .bind(&tenant.id)
        .bind(wrapped_dek)
        .bind(tenant.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> sqlx::Result<Option<TenantRow>> {
        sqlx::query_as("SELECT id, slug, name, created_at FROM tenants WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn tenant_by_id(&self, id: &str) -> sqlx::Result<Option<TenantRow>> {
        sqlx::query_as("SELECT id, slug, name, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn tenants(&self) -> sqlx::Result<Vec<TenantRow>> {
        sqlx::query_as("SELECT id, slug, name, created_at FROM tenants ORDER BY slug")
            .fetch_all(&self.pool)
            .await
    }

    /// The tenant's wrapped data keys as `(version, wrapped)`.
    pub async fn tenant_keys(&self, tenant_id: &str) -> sqlx::Result<Vec<(u32, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT version, wrapped_dek FROM tenant_keys WHERE tenant_id = $1 ORDER BY version",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(v, w)| (v as u32, w)).collect())
    }
}
