//! `crm backup`: an encrypted, consistent snapshot taken while the server serves; its
//! verification; and a restore into a new data folder that applies again the erasures made
//! since the snapshot (from the erasure ledger kept beside the database).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{DataArgs, ERASURE_LEDGER};
use crm::backup::{self, archive::BackupKey};
use crm::vault::{Key, MasterKey, Vault};

#[derive(Subcommand)]
pub(super) enum BackupCmd {
    /// Snapshot the database (while the server runs) into an encrypted archive at --out.
    Create {
        /// The archive to write (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Restore an archive into a temporary folder and check it: stream, hashes, SQLite's
    /// integrity, counts, audit chains, a sample of ciphertexts. Exits 1 naming what failed.
    Verify {
        archive: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Restore an archive into a new, empty data folder, then apply again every erasure the
    /// ledger records since the snapshot. Needs the deployment's master key
    /// (--master-key-file or CRM_MASTER_KEY); it is not written into the new folder.
    Restore {
        archive: PathBuf,
        /// The new data folder (refused unless missing or empty).
        #[arg(long = "data")]
        to: PathBuf,
        /// The erasure ledger of the deployment the backup came from
        /// (DATA/erasure-ledger.jsonl, or its off-site copy).
        #[arg(long, required_unless_present = "no_erasure_ledger")]
        erasure_ledger: Option<PathBuf>,
        /// Restore without applying erasures again (only when no ledger survives: erased people
        /// may come back).
        #[arg(long)]
        no_erasure_ledger: bool,
        /// The master key file of the deployment the backup came from.
        #[arg(long, env = "CRM_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
}

#[derive(clap::Args)]
pub(super) struct KeyArgs {
    /// A backup key of its own (32 bytes, base64, in a file) instead of the one derived from
    /// the master key.
    #[arg(long, env = "CRM_BACKUP_KEY_FILE")]
    backup_key_file: Option<PathBuf>,
}

impl KeyArgs {
    fn key(&self, vault: &Vault) -> anyhow::Result<BackupKey> {
        match &self.backup_key_file {
            None => Ok(BackupKey::from_vault(vault)),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| anyhow::anyhow!("{} is not base64", path.display()))?;
                let secret = Key::from_slice(&bytes)
                    .map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes", path.display()))?;
                Ok(BackupKey::from_secret(&secret))
            }
        }
    }
}

pub(super) async fn run(cmd: BackupCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BackupCmd::Create { out, key, data } => {
            let app = data.open_existing().await?;
            let key = key.key(&app.vault)?;
            let m = backup::create(&app.store, &key, &out).await?;
            println!(
                "{} written: snapshot at {}, schema {}, {} bytes of database, {} tenant(s)",
                out.display(),
                m.created_at,
                m.schema_version,
                m.parts[0].bytes,
                m.tenants.len()
            );
            println!("{}", serde_json::to_string(&m)?);
        }
        BackupCmd::Verify { archive, key, data } => {
            let app = data.open_existing().await?;
            let key = key.key(&app.vault)?;
            let v = backup::verify(&archive, &key, &app.vault).await?;
            println!("{}", serde_json::to_string(&v)?);
            if !v.ok() {
                eprintln!(
                    "{} does not verify: {}",
                    archive.display(),
                    v.problems.join("; ")
                );
                return Ok(ExitCode::from(1));
            }
            println!(
                "{} verifies: {} audit records, {} ciphertexts opened, counts as in the manifest",
                archive.display(),
                v.audit_records,
                v.sampled
            );
        }
        BackupCmd::Restore {
            archive,
            to,
            erasure_ledger,
            no_erasure_ledger,
            master_key_file,
            key,
        } => {
            let master = match (crm::config::master_key_from_env(), &master_key_file) {
                (Some(k), _) => k?,
                (None, Some(path)) => {
                    if !path.exists() {
                        anyhow::bail!("no master key at {}", path.display());
                    }
                    MasterKey::load_or_create(path)?
                }
                (None, None) => anyhow::bail!(
                    "give the master key of the deployment the backup came from \
                     (--master-key-file or CRM_MASTER_KEY): a restore never makes a new one"
                ),
            };
            let vault = Vault::new(master);
            let key = key.key(&vault)?;
            let ledger = if no_erasure_ledger {
                eprintln!("warning: no erasure ledger: people erased after the snapshot come back");
                None
            } else {
                erasure_ledger
            };
            let r = backup::restore(&archive, &key, &vault, &to, ledger.as_deref()).await?;
            println!(
                "restored into {} ({} erasure(s) made since the snapshot applied again); start it with \
                 `crm serve --data {} --master-key-file …` (the key is not copied; the ledger file {} starts afresh)",
                to.display(),
                r.erasures_reapplied,
                to.display(),
                ERASURE_LEDGER
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub(super) struct CheckArgs {
    /// SQLite's full integrity check (slower: it reads every index) instead of the quick check.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub(super) async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (cfg, _) = args.data.resolve()?;
    let path = cfg.sqlite_path();
    if !path.exists() {
        anyhow::bail!("no database at {}", path.display());
    }
    let problems = crm::store::Store::check_file(&path, args.full).await;
    if problems.is_empty() {
        println!("{}: ok", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{p}");
    }
    eprintln!(
        "{} fails SQLite's {} check: restore the newest verified backup (`crm backup restore`)",
        path.display(),
        if args.full { "integrity" } else { "quick" }
    );
    Ok(ExitCode::from(1))
}
