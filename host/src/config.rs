//! Configuration: one optional TOML file, overridden by `CRM_*` environment variables and flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::vault::MasterKey;

/// The longest an API token may live unless the operator sets `token_max_days`.
pub const TOKEN_MAX_DAYS: i64 = 90;

/// What an operator configures (the TOML file and `CRM_*` variables).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The longest an API token may live, in days.
    pub token_max_days: i64,
    /// Where the server also appends the audit checkpoints it signs (a file best kept on
    /// storage the database's administrators cannot rewrite).
    pub audit_checkpoint_file: Option<std::path::PathBuf>,
    /// Bytes all of one tenant's plugins' records may take together.
    pub tenant_storage_bytes: u64,
    /// How long a data-subject export archive may be downloaded, in hours.
    pub export_ttl_hours: i64,
    /// Where every erasure is also noted outside the database (`ledger`), so that a restore
    /// re-applies it; the command line sets `DATA/erasure-ledger.jsonl`.
    pub erasure_ledger_file: Option<std::path::PathBuf>,
    /// Scheduled backups into a directory, each verified by a drill (none unless configured).
    pub backup: Option<BackupSchedule>,
}

/// Backups the server takes by itself.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    /// The target directory (another disk, or a mounted remote store).
    pub dir: PathBuf,
    /// How often a backup is taken (each is then verified by a drill).
    pub every: std::time::Duration,
    /// The newest archives kept in the directory (the newest verified one is never deleted).
    pub keep: usize,
    /// Besides those: the newest archive of each of the last this many hours, days, months
    /// (e.g. 48 hourly, 30 daily, 12 monthly).
    pub keep_hourly: usize,
    pub keep_daily: usize,
    pub keep_monthly: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_max_days: TOKEN_MAX_DAYS,
            audit_checkpoint_file: None,
            tenant_storage_bytes: 1 << 30,
            export_ttl_hours: 168,
            erasure_ledger_file: None,
            backup: None,
        }
    }
}

/// The TOML file's shape (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` (default: `DATA/crm.db`).
    pub database_url: Option<String>,
    /// Path of the base64 master key file (default: `DATA/master.key`, created if missing).
    pub master_key_file: Option<PathBuf>,
    pub tls: Option<TlsConfig>,
    /// The longest an API token may live, in days (1 to 365; default 90).
    /// `CRM_TOKEN_MAX_DAYS` overrides it.
    pub token_max_days: Option<i64>,
    /// A file the server appends each signed audit checkpoint to (JSON lines), for
    /// `crm audit verify --checkpoints`. `CRM_AUDIT_CHECKPOINT_FILE` overrides it.
    pub audit_checkpoint_file: Option<PathBuf>,
    /// Megabytes all of one tenant's plugins may store (default 1,024).
    /// `CRM_TENANT_PLUGIN_STORAGE_MB` overrides it.
    pub tenant_plugin_storage_mb: Option<u64>,
    /// Hours a data-subject export archive may be downloaded before it expires (1 to 720;
    /// default 168). `CRM_EXPORT_TTL_HOURS` overrides it.
    pub export_ttl_hours: Option<i64>,
    /// Scheduled backups: `[backup] dir = "/mnt/backups", every_minutes = 60, keep = 48`.
    /// `CRM_BACKUP_DIR`, `CRM_BACKUP_EVERY_SECONDS` and `CRM_BACKUP_KEEP` override it.
    pub backup: Option<BackupConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub dir: Option<PathBuf>,
    pub every_minutes: Option<u64>,
    pub keep: Option<usize>,
    pub keep_hourly: Option<usize>,
    pub keep_daily: Option<usize>,
    pub keep_monthly: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    #[serde(default)]
    pub self_signed: bool,
}

impl FileConfig {
    /// The operator's settings: this file's, overridden by `CRM_*` variables, checked.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        let env = std::env::var("CRM_TOKEN_MAX_DAYS")
            .ok()
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("CRM_TOKEN_MAX_DAYS must be a number of days"))
            })
            .transpose()?;
        if let Some(days) = env.or(self.token_max_days) {
            if !(1..=365).contains(&days) {
                anyhow::bail!("token_max_days must be 1 to 365, not {days}");
            }
            s.token_max_days = days;
        }
        let mb = std::env::var("CRM_TENANT_PLUGIN_STORAGE_MB")
            .ok()
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| anyhow::anyhow!("CRM_TENANT_PLUGIN_STORAGE_MB must be a number"))
            })
            .transpose()?
            .or(self.tenant_plugin_storage_mb);
        if let Some(mb) = mb {
            if !(1..=1 << 20).contains(&mb) {
                anyhow::bail!("tenant_plugin_storage_mb must be 1 to 1048576, not {mb}");
            }
            s.tenant_storage_bytes = mb << 20;
        }
        let ttl = std::env::var("CRM_EXPORT_TTL_HOURS")
            .ok()
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("CRM_EXPORT_TTL_HOURS must be a number of hours"))
            })
            .transpose()?
            .or(self.export_ttl_hours);
        if let Some(h) = ttl {
            if !(1..=720).contains(&h) {
                anyhow::bail!("export_ttl_hours must be 1 to 720, not {h}");
            }
            s.export_ttl_hours = h;
        }
        s.audit_checkpoint_file = std::env::var_os("CRM_AUDIT_CHECKPOINT_FILE")
            .map(PathBuf::from)
            .or_else(|| self.audit_checkpoint_file.clone());
        s.backup = self.backup_schedule()?;
        Ok(s)
    }

    fn backup_schedule(&self) -> anyhow::Result<Option<BackupSchedule>> {
        let file = self.backup.as_ref();
        let dir = std::env::var_os("CRM_BACKUP_DIR")
            .map(PathBuf::from)
            .or_else(|| file.and_then(|b| b.dir.clone()));
        let Some(dir) = dir else {
            return Ok(None);
        };
        let number = |name: &str| -> anyhow::Result<Option<u64>> {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| anyhow::anyhow!("{name} must be a whole number"))
                })
                .transpose()
        };
        let seconds = number("CRM_BACKUP_EVERY_SECONDS")?
            .or_else(|| {
                file.and_then(|b| b.every_minutes)
                    .map(|m| m.saturating_mul(60))
            })
            .unwrap_or(3600);
        if !(1..=31 * 86_400).contains(&seconds) {
            anyhow::bail!("backups are taken every 1 second to 31 days, not every {seconds} s");
        }
        let keep = number("CRM_BACKUP_KEEP")?
            .map(|k| k as usize)
            .or_else(|| file.and_then(|b| b.keep))
            .unwrap_or(48);
        if !(1..=10_000).contains(&keep) {
            anyhow::bail!("backup keep must be 1 to 10000, not {keep}");
        }
        let tier = |env: &str, value: Option<usize>| -> anyhow::Result<usize> {
            let n = number(env)?.map(|n| n as usize).or(value).unwrap_or(0);
            if n > 10_000 {
                anyhow::bail!("{env} must be 0 to 10000, not {n}");
            }
            Ok(n)
        };
        Ok(Some(BackupSchedule {
            dir,
            every: std::time::Duration::from_secs(seconds),
            keep,
            keep_hourly: tier("CRM_BACKUP_KEEP_HOURLY", file.and_then(|b| b.keep_hourly))?,
            keep_daily: tier("CRM_BACKUP_KEEP_DAILY", file.and_then(|b| b.keep_daily))?,
            keep_monthly: tier("CRM_BACKUP_KEEP_MONTHLY", file.and_then(|b| b.keep_monthly))?,
        }))
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }
}

pub const DEFAULT_DATA_DIR: &str = "crm-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything needed to open the data folder.
#[derive(Debug, Clone)]
pub struct DataConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub master_key_file: Option<PathBuf>,
}

impl DataConfig {
    /// Creates the data folder (mode 0700) if needed.
    pub fn ensure_dir(&self) -> anyhow::Result<()> {
        if !self.data_dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(&self.data_dir).map_err(|e| {
                anyhow::anyhow!("cannot create data folder {}: {e}", self.data_dir.display())
            })?;
        }
        Ok(())
    }

    /// The master key: `CRM_MASTER_KEY` (base64) if it was set when the process started (see
    /// [`take_master_key_env`]), else the key file (created if missing).
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        if let Some(v) = ENV_MASTER_KEY.get() {
            return MasterKey::from_base64(v).map_err(|e| anyhow::anyhow!("CRM_MASTER_KEY: {e}"));
        }
        let path = self
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"));
        MasterKey::load_or_create(&path)
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("crm.db")
    }
}

/// The master key `CRM_MASTER_KEY` gave, if it gave one.
pub fn master_key_from_env() -> Option<anyhow::Result<MasterKey>> {
    ENV_MASTER_KEY
        .get()
        .map(|v| MasterKey::from_base64(v).map_err(|e| anyhow::anyhow!("CRM_MASTER_KEY: {e}")))
}

/// `CRM_MASTER_KEY` as the process found it, taken out of its environment at start.
static ENV_MASTER_KEY: std::sync::OnceLock<zeroize::Zeroizing<String>> = std::sync::OnceLock::new();

/// Moves `CRM_MASTER_KEY` out of the process environment into zeroizing memory, and overwrites
/// the variable's bytes in the environment block the kernel shows as `/proc/<pid>/environ`.
/// Nothing that reads the environment later (a child process, a library, a policy builtin) can
/// find the key. Call it first thing in `main`, before any other thread exists.
pub fn take_master_key_env() {
    const NAME: &str = "CRM_MASTER_KEY";
    let Some(value) = std::env::var_os(NAME) else {
        return;
    };
    let value = zeroize::Zeroizing::new(value.to_string_lossy().into_owned());
    #[cfg(unix)]
    // SAFETY: single-threaded (the caller's contract), so nothing reads or changes the
    // environment meanwhile; `getenv` returns a pointer to the NUL-terminated value inside the
    // environment block, and exactly `strlen` bytes before that NUL are overwritten.
    unsafe {
        let p = libc::getenv(c"CRM_MASTER_KEY".as_ptr());
        if !p.is_null() {
            std::ptr::write_bytes(p, b'0', libc::strlen(p));
        }
    }
    // SAFETY: as above, no other thread exists yet.
    unsafe { std::env::remove_var(NAME) };
    let _ = ENV_MASTER_KEY.set(value);
}

pub fn parse_listen(s: &str) -> anyhow::Result<SocketAddr> {
    s.parse().map_err(|_| {
        anyhow::anyhow!("listen address `{s}` is not of the form IP:PORT (e.g. 127.0.0.1:8080)")
    })
}
