//! Backups: an online, consistent snapshot of the database (SQLite's `VACUUM INTO`, taken while
//! the server serves), sealed as a stream under a backup key that is never in the archive
//! ([`archive`]); a verification that restores into a temporary folder and checks everything a
//! restore relies on; and a restore into a new data folder that re-applies the erasures made
//! after the snapshot, so that restoring never brings an erased person back.

pub mod archive;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::App;
use crate::store::{Store, now_ms};
use crate::vault::{FieldRef, Vault};
use archive::{ArchiveError, BackupKey, Counts, Manifest, Part};

/// Customers per tenant whose name a verification decrypts.
pub const SAMPLE_PER_TENANT: i64 = 5;

/// Takes a snapshot of `store` and writes it as an archive at `out` (which must not exist; it is
/// written beside as `.partial` and renamed once complete and synced).
pub async fn create(store: &Store, key: &BackupKey, out: &Path) -> anyhow::Result<Manifest> {
    if out.exists() {
        anyhow::bail!("{} exists: name a new file", out.display());
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::tempdir_in(parent)
        .map_err(|e| anyhow::anyhow!("cannot work in {}: {e}", parent.display()))?;
    let snapshot = work.path().join("crm.db");
    // Writes committed before this instant are in the snapshot (VACUUM INTO reads one
    // consistent state); erasures from here on are re-applied by a restore.
    let snapshot_at = now_ms();
    sqlx::query("VACUUM INTO $1")
        .bind(snapshot.to_string_lossy().as_ref())
        .execute(store.pool())
        .await?;
    let (tenants, schema_version) = counts(&snapshot).await?;
    let (bytes, sha256) = hash_file(&snapshot)?;
    let manifest = Manifest {
        format: archive::FORMAT,
        snapshot_at,
        created_at: iso(snapshot_at),
        source_host: hostname(),
        schema_version,
        key_id: key.id(),
        nonce_prefix: hex::encode(&crate::vault::Key::random().as_bytes()[..7]),
        parts: vec![Part {
            name: "crm.db".into(),
            bytes,
            sha256,
        }],
        tenants,
    };
    let partial = out.with_extension("partial");
    let written = (|| -> Result<(), ArchiveError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        let mut w = std::io::BufWriter::new(&mut f);
        archive::write(
            &mut w,
            &manifest,
            key,
            &mut std::io::BufReader::new(std::fs::File::open(&snapshot)?),
        )?;
        std::io::Write::flush(&mut w)?;
        drop(w);
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    std::fs::rename(&partial, out)?;
    Ok(manifest)
}

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub manifest: Manifest,
    /// One line per check that failed (empty: the archive restores as it claims).
    pub problems: Vec<String>,
    /// Audit records checked across every chain.
    pub audit_records: i64,
    /// Customers whose name was decrypted.
    pub sampled: i64,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Restores `archive` into a temporary folder and checks it: the stream and its hash, SQLite's
/// integrity check, the counts against the manifest, every audit chain, and a sample of every
/// tenant's ciphertexts opened with `vault`. The temporary folder is gone afterwards.
pub async fn verify(archive: &Path, key: &BackupKey, vault: &Vault) -> anyhow::Result<Verified> {
    let work = tempfile::tempdir()?;
    let db = work.path().join("crm.db");
    let manifest = unpack(archive, key, &db)?;
    check(&db, manifest, vault).await
}

/// Decrypts the archive's database to `db` (a new file); the manifest.
fn unpack(archive: &Path, key: &BackupKey, db: &Path) -> anyhow::Result<Manifest> {
    let mut r = std::io::BufReader::new(
        std::fs::File::open(archive)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", archive.display()))?,
    );
    let (manifest, body) = archive::read_manifest(&mut r, key)?;
    let result = (|| -> Result<(), ArchiveError> {
        let mut out = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(db)?,
        );
        archive::decrypt(&mut r, &manifest, &body, key, &mut out)?;
        std::io::Write::flush(&mut out)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(db);
        return Err(e.into());
    }
    Ok(manifest)
}

async fn check(db: &Path, manifest: Manifest, vault: &Vault) -> anyhow::Result<Verified> {
    let mut problems: Vec<String> = Store::check_file(db, true)
        .await
        .into_iter()
        .map(|p| format!("SQLite's integrity check: {p}"))
        .collect();
    let (counted, _) = counts(db).await?;
    if counted != manifest.tenants {
        problems.push("the counts per tenant differ from the manifest's".into());
    }
    let store = Store::open_sqlite(db).await?;
    let keys = vault.audit_keys();
    let mut audit_records = 0;
    for chain in crate::audit::chains(&store).await? {
        let report = crate::audit::verify(&store, &keys, &chain, &[]).await?;
        audit_records += report.records_checked;
        if let Some(b) = report.first_break {
            problems.push(format!(
                "the audit chain of tenant {chain:?}: {}",
                b.problem
            ));
        }
    }
    let sampled = sample(store, vault, manifest.tenants.keys(), &mut problems).await?;
    Ok(Verified {
        manifest,
        problems,
        audit_records,
        sampled,
    })
}

/// Opens the names of a few customers of every tenant: the backup's data keys unwrap under this
/// deployment's master key, and its ciphertexts open.
async fn sample<'a>(
    store: Store,
    vault: &Vault,
    tenants: impl Iterator<Item = &'a String>,
    problems: &mut Vec<String>,
) -> anyhow::Result<i64> {
    let app = App::new(
        store,
        vault.duplicate(),
        crate::policy::Pdp::platform_native()?,
    );
    let mut opened = 0;
    for tenant in tenants {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE tenant_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(tenant)
        .bind(SAMPLE_PER_TENANT)
        .fetch_all(app.store.pool())
        .await?;
        if ids.is_empty() {
            continue;
        }
        let Ok(keys) = app.tenant_keys(tenant).await else {
            problems.push(format!(
                "tenant {tenant}'s data key does not unwrap under this master key"
            ));
            continue;
        };
        for id in ids {
            let row = app.store.customer(tenant, &id).await?;
            let name = row.and_then(|r| r.sealed.get("name").cloned().flatten());
            let sk = app.subject_key(&keys, &id).await.ok().flatten();
            let at = FieldRef {
                tenant,
                table: "customers",
                record: &id,
                field: "name",
            };
            match (sk, name) {
                (Some(sk), Some(sealed)) if sk.open(&at, &sealed).is_ok() => opened += 1,
                _ => problems.push(format!("customer {id} of tenant {tenant} does not open")),
            }
        }
    }
    Ok(opened)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub verified: Verified,
    pub database: PathBuf,
    /// Erasures made after the snapshot, applied again.
    pub erasures_reapplied: usize,
}

/// Restores `archive` into `data_dir`, a new data folder (refused if it holds anything): the
/// archive is verified first (nothing is written if it fails), then every erasure of `ledger`
/// made since the snapshot is applied again. The master key is not written: the operator gives
/// the deployment the key it had (`--master-key-file` or `CRM_MASTER_KEY`).
pub async fn restore(
    archive: &Path,
    key: &BackupKey,
    vault: &Vault,
    data_dir: &Path,
    ledger: Option<&Path>,
) -> anyhow::Result<Restored> {
    if data_dir.exists() && std::fs::read_dir(data_dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: restore into a new data folder, never over a live one",
            data_dir.display()
        );
    }
    let erasures = match ledger {
        Some(path) => crate::ledger::read(path)?,
        None => Vec::new(),
    };
    let work = tempfile::tempdir()?;
    let staged = work.path().join("crm.db");
    let manifest = unpack(archive, key, &staged)?;
    let verified = check(&staged, manifest, vault).await?;
    if !verified.ok() {
        anyhow::bail!(
            "the archive does not verify, nothing was restored: {}",
            verified.problems.join("; ")
        );
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(data_dir)?;
    let database = data_dir.join("crm.db");
    std::fs::copy(&staged, &database)?;
    let store = Store::open_sqlite(&database)
        .await?
        .with_audit_chain_key(vault.audit_keys().chain().duplicate());
    let since = verified.manifest.snapshot_at;
    let mut reapplied = 0;
    for e in erasures.iter().filter(|e| e.at >= since) {
        let mut tx = store.begin().await?;
        if store
            .delete_customer(&mut tx, &e.tenant, &e.customer)
            .await?
        {
            store
                .record_erasure(&mut tx, &e.tenant, &e.customer, e.at)
                .await?;
            let event = crate::audit::Event::operator(
                "restore",
                "customer.delete",
                format!("customer/{}", e.customer),
                serde_json::json!({"erased": true, "reapplied_after_restore": true}),
            );
            crate::audit::append(&mut tx, &e.tenant, &event).await?;
            reapplied += 1;
        }
        tx.commit().await?;
    }
    store.checkpoint().await?;
    Ok(Restored {
        verified,
        database,
        erasures_reapplied: reapplied,
    })
}

/// Per-tenant counts and the schema version of a database file (read only).
async fn counts(db: &Path) -> anyhow::Result<(BTreeMap<String, Counts>, i64)> {
    let pool = read_only(db).await?;
    let mut tenants: BTreeMap<String, Counts> =
        sqlx::query_scalar::<_, String>("SELECT id FROM tenants")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .map(|t| (t, Counts::default()))
            .collect();
    // Each table's rows per tenant, and the count it fills.
    type Field = fn(&mut Counts) -> &mut i64;
    let tables: [(&str, Field); 5] = [
        ("customers", |c| &mut c.customers),
        ("interactions", |c| &mut c.interactions),
        ("plugin_records", |c| &mut c.plugin_records),
        ("audit_log", |c| &mut c.audit_records),
        ("erasure_ledger", |c| &mut c.erasures),
    ];
    for (table, count) in tables {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT tenant_id, COUNT(*) FROM {table} GROUP BY tenant_id"
        ))
        .fetch_all(&pool)
        .await?;
        for (tenant, n) in rows {
            if let Some(c) = tenants.get_mut(&tenant) {
                *count(c) = n;
            }
        }
    }
    let schema: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok((tenants, schema))
}

async fn read_only(db: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?)
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h)?;
    Ok((bytes, hex::encode(h.finalize())))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
