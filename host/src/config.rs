//! Configuration: one optional TOML file, overridden by `CRM_*` environment variables and flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::vault::MasterKey;

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

    /// The master key: `CRM_MASTER_KEY` (base64) if set, else the key file (created if missing).
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        if let Ok(v) = std::env::var("CRM_MASTER_KEY") {
            return MasterKey::from_base64(&v).map_err(|e| anyhow::anyhow!("CRM_MASTER_KEY: {e}"));
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

pub fn parse_listen(s: &str) -> anyhow::Result<SocketAddr> {
    s.parse().map_err(|_| {
        anyhow::anyhow!("listen address `{s}` is not of the form IP:PORT (e.g. 127.0.0.1:8080)")
    })
}
