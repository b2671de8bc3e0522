//! `crm audit`: verify the hash-chained trail and its signed checkpoints, sign new checkpoints,
//! and key the chains an earlier version wrote.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crm::app::App;

use super::DataArgs;

#[derive(Subcommand)]
pub(super) enum AuditCmd {
    /// Verify the keyed hash chains (every chain, or one tenant's) and their signed checkpoints;
    /// exits 1 and names the first break.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        /// Checkpoints kept outside the database (JSON lines from `crm audit checkpoint --out`),
        /// checked as well as those in it.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Sign a checkpoint of every chain's head (or one tenant's), store it, print it with the
    /// public key it verifies with, and append it to FILE (keep that file off this machine).
    Checkpoint {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Key the chains an earlier version wrote in plain SHA-256 (each verified first).
    Upgrade {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub(super) async fn run(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCmd::Verify {
            tenant,
            checkpoints,
            data,
        } => verify(tenant.as_deref(), checkpoints.as_deref(), &data).await,
        AuditCmd::Checkpoint { tenant, out, data } => {
            checkpoint(tenant.as_deref(), out.as_deref(), &data).await
        }
        AuditCmd::Upgrade { data } => upgrade(&data).await,
    }
}

/// The chains to act on: one tenant's, or every chain (each tenant's and the platform's own),
/// with the name to print for each.
async fn audit_chains(app: &App, tenant: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    if let Some(slug) = tenant {
        let t = crm::tenants::tenant(app, slug).await?;
        return Ok(vec![(t.id, t.slug)]);
    }
    let slugs: std::collections::HashMap<String, String> = app
        .store
        .tenants()
        .await?
        .into_iter()
        .map(|t| (t.id, t.slug))
        .collect();
    let mut ids = crm::audit::chains(&app.store).await?;
    ids.extend(
        slugs
            .keys()
            .filter(|id| !ids.contains(id))
            .cloned()
            .collect::<Vec<_>>(),
    );
    Ok(ids
        .into_iter()
        .map(|id| {
            let name = match slugs.get(&id) {
                Some(s) => s.clone(),
                None if id.is_empty() => "(platform)".into(),
                None => id.clone(),
            };
            (id, name)
        })
        .collect())
}

/// The checkpoints kept outside the database: JSON lines, blank lines skipped.
fn read_checkpoints(path: Option<&Path>) -> anyhow::Result<Vec<crm::audit::Checkpoint>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                anyhow::anyhow!("{} line {}: not a checkpoint: {e}", path.display(), i + 1)
            })
        })
        .collect()
}

async fn verify(
    tenant: Option<&str>,
    checkpoints: Option<&Path>,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let app = data.open_existing().await?;
    let outside = read_checkpoints(checkpoints)?;
    let keys = app.vault.audit_keys();
    let mut broken = false;
    for (id, name) in audit_chains(&app, tenant).await? {
        let r = crm::audit::verify(&app.store, &keys, &id, &outside).await?;
        match &r.first_break {
            None => println!(
                "{name}: ok ({} records, {} signed checkpoints)",
                r.records_checked, r.checkpoints_checked
            ),
            Some(b) => {
                broken = true;
                println!("{name}: BROKEN at record {}: {}", b.seq, b.problem);
            }
        }
    }
    if broken {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

async fn checkpoint(
    tenant: Option<&str>,
    out: Option<&Path>,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let app = data.open_existing().await?;
    let keys = app.vault.audit_keys();
    println!(
        "public key: {}",
        hex::encode(keys.verifying_key().to_bytes())
    );
    let mut lines = String::new();
    for (id, name) in audit_chains(&app, tenant).await? {
        match crm::audit::checkpoint(&app.store, &keys, &id).await? {
            Some(c) => {
                println!("{name}: record {} {}", c.seq, c.hash);
                lines.push_str(&serde_json::to_string(&c)?);
                lines.push('\n');
            }
            None => println!("{name}: nothing to checkpoint (empty, or not yet keyed)"),
        }
    }
    if let Some(path) = out {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(lines.as_bytes()))
            .map_err(|e| anyhow::anyhow!("cannot append to {}: {e}", path.display()))?;
        println!("appended to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn upgrade(data: &DataArgs) -> anyhow::Result<ExitCode> {
    let app = data.open_existing().await?;
    let keys = app.vault.audit_keys();
    let mut failed = false;
    for (id, name) in audit_chains(&app, None).await? {
        match crm::audit::upgrade(&app.store, &keys, &id).await? {
            None => println!("{name}: keyed"),
            Some(b) => {
                failed = true;
                println!("{name}: NOT keyed, record {}: {}", b.seq, b.problem);
            }
        }
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
