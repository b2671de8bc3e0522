//! `crm plugin`: install, upgrade, list, show, enable, disable and uninstall a tenant's plugins,
//! trust publisher keys, and list and run plugin jobs (acting as `operator:cli`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crm::plugins::lifecycle::{self, PluginInfo, Upload};

use super::DataArgs;

/// Who the lifecycle functions record as acting.
/// The operator's permit to manage the tenant's plugins (no tenant policy is asked for it).
async fn operator(app: &crm::app::App, tenant_id: &str) -> anyhow::Result<lifecycle::Permit> {
    let operator = crm::app::Actor::operator(tenant_id, "cli");
    lifecycle::permit(app, &operator, None)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}

#[derive(Subcommand)]
pub(super) enum PluginCmd {
    /// Install a plugin component (.wasm) in a tenant, granting some or all of what it asks for.
    Install {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        /// Capabilities to grant, comma-separated (customers, records, consent, events, log,
        /// clock, scratch).
        #[arg(long, value_delimiter = ',')]
        grant: Vec<String>,
        /// A detached Ed25519 signature of the file (hex, base64 or 64 raw bytes).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Limits as JSON (e.g. `{"deadline_ms": 50}`), each at most the default.
        #[arg(long)]
        limits: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace an installed plugin with a new version of it.
    Upgrade {
        name: String,
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long, value_delimiter = ',')]
        grant: Vec<String>,
        #[arg(long)]
        signature: Option<PathBuf>,
        #[arg(long)]
        limits: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List a tenant's plugins.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Show one plugin (JSON).
    Show {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Enable a disabled plugin.
    Enable {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Disable a plugin (its data stays; its screens stop answering).
    Disable {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Uninstall a plugin, keeping its records unless --purge.
    Uninstall {
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Trust a publisher's Ed25519 public key (64 hex characters) for plugin signatures.
    Trust {
        name: String,
        public_key: String,
        #[arg(long)]
        tenant: String,
        /// Also require every plugin of the tenant to be signed from now on.
        #[arg(long)]
        require: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List a plugin's scheduled jobs: schedule (UTC), next due time, last run.
    Jobs {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run one of a plugin's jobs now, as the plugin's service identity (its schedule is unchanged).
    RunJob {
        name: String,
        job: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub(super) async fn run(cmd: PluginCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCmd::Install {
            file,
            tenant,
            grant,
            signature,
            limits,
            data,
        } => {
            let up = upload(&file, &grant, signature.as_deref(), limits.as_deref())?;
            install(up, None, &tenant, &data).await
        }
        PluginCmd::Upgrade {
            name,
            file,
            tenant,
            grant,
            signature,
            limits,
            data,
        } => {
            let up = upload(&file, &grant, signature.as_deref(), limits.as_deref())?;
            install(up, Some(&name), &tenant, &data).await
        }
        PluginCmd::List { tenant, data } => list(&tenant, &data).await,
        PluginCmd::Show { name, tenant, data } => show_one(&name, &tenant, &data).await,
        PluginCmd::Enable { name, tenant, data } => set_enabled(&name, true, &tenant, &data).await,
        PluginCmd::Disable { name, tenant, data } => {
            set_enabled(&name, false, &tenant, &data).await
        }
        PluginCmd::Uninstall {
            name,
            tenant,
            purge,
            data,
        } => uninstall(&name, purge, &tenant, &data).await,
        PluginCmd::Trust {
            name,
            public_key,
            tenant,
            require,
            data,
        } => trust(&name, &public_key, require, &tenant, &data).await,
        PluginCmd::Jobs { name, tenant, data } => jobs(&name, &tenant, &data).await,
        PluginCmd::RunJob {
            name,
            job,
            tenant,
            data,
        } => run_job(&name, &job, &tenant, &data).await,
    }
}

/// One plugin on one line.
fn show(i: &PluginInfo) {
    println!(
        "{} {} [{}] sha256 {} granted: {}",
        i.name,
        i.version,
        i.state,
        i.sha256,
        i.granted
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// A refusal from the plugin lifecycle: its message, exit code 2.
fn fail(e: crm::error::AppError) -> anyhow::Result<ExitCode> {
    eprintln!("error: {}", e.message);
    Ok(ExitCode::from(2))
}

fn upload(
    file: &Path,
    grant: &[String],
    signature: Option<&Path>,
    limits: Option<&str>,
) -> anyhow::Result<Upload> {
    use crm::plugins::caps::Capability;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let mut grants = std::collections::BTreeSet::new();
    for g in grant.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        grants.insert(Capability::parse(g).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown capability `{g}`; capabilities are: {}",
                Capability::ALL.map(Capability::name).join(", ")
            )
        })?);
    }
    Ok(Upload {
        bytes: read(file)?,
        signature: signature.map(read).transpose()?,
        grants,
        limits: limits
            .map(|l| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("--limits: {e}")))
            .transpose()?,
    })
}

/// Installs `up`, or with `upgrade`, replaces that installed plugin with it.
async fn install(
    up: Upload,
    upgrade: Option<&str>,
    tenant: &str,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    match lifecycle::install(
        &app,
        &data.plugins()?,
        &operator(&app, &t.id).await?,
        up,
        upgrade,
    )
    .await
    {
        Ok(i) => {
            print!(
                "{} ",
                if upgrade.is_some() {
                    "upgraded"
                } else {
                    "installed"
                }
            );
            show(&i);
        }
        Err(e) => return fail(e),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let operator = crm::app::Actor::operator(&t.id, "cli");
    for i in lifecycle::list_for(&app, &operator).await? {
        show(&i);
    }
    Ok(ExitCode::SUCCESS)
}

async fn show_one(name: &str, tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let operator = crm::app::Actor::operator(&t.id, "cli");
    match lifecycle::show_for(&app, &operator, name).await {
        Ok(p) => println!("{}", serde_json::to_string_pretty(&p)?),
        Err(e) => return fail(e),
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_enabled(
    name: &str,
    enabled: bool,
    tenant: &str,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    if let Err(e) = lifecycle::set_enabled(&app, &operator(&app, &t.id).await?, name, enabled).await
    {
        return fail(e);
    }
    println!("{name} {}", if enabled { "enabled" } else { "disabled" });
    Ok(ExitCode::SUCCESS)
}

async fn uninstall(
    name: &str,
    purge: bool,
    tenant: &str,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    if let Err(e) = lifecycle::uninstall(
        &app,
        &*data.plugins()?,
        &operator(&app, &t.id).await?,
        name,
        purge,
    )
    .await
    {
        return fail(e);
    }
    println!(
        "{name} uninstalled{}",
        if purge { " and its data purged" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

async fn trust(
    name: &str,
    public_key: &str,
    require: bool,
    tenant: &str,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    if let Err(e) =
        lifecycle::trust_key(&app, &operator(&app, &t.id).await?, name, public_key).await
    {
        return fail(e);
    }
    if require
        && let Err(e) =
            lifecycle::require_signatures(&app, &operator(&app, &t.id).await?, true).await
    {
        return fail(e);
    }
    println!(
        "trusted publisher key {name}{}",
        if require {
            "; signatures now required"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists a plugin's jobs: schedule, next due time and attempt, last run and its outcome.
async fn jobs(name: &str, tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let time = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map_or("-".to_string(), |d| {
                d.format("%Y-%m-%d %H:%M UTC").to_string()
            })
    };
    match crm::plugins::jobs::list(&app, &operator(&app, &t.id).await?, name).await {
        Ok(jobs) => {
            for j in jobs {
                let s = &j.state;
                println!(
                    "{} [{}] next {} (try {}); last run {} {}{}",
                    s.job,
                    s.schedule,
                    time(s.run_at),
                    s.attempt,
                    time(s.last_run_at),
                    s.last_status.as_deref().unwrap_or("-"),
                    s.last_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
            }
        }
        Err(e) => return fail(e),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a job now: exit code 1 if the run failed, 2 if it was refused.
async fn run_job(name: &str, job: &str, tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    match crm::plugins::jobs::run_now(
        &app,
        &data.plugins()?,
        &operator(&app, &t.id).await?,
        name,
        job,
    )
    .await
    {
        Ok(run) if run.status == "ok" => println!(
            "{name}/{job}: ok, {} processed{}",
            run.processed.unwrap_or(0),
            run.message.map(|m| format!(": {m}")).unwrap_or_default()
        ),
        Ok(run) => {
            eprintln!("{name}/{job} failed: {}", run.message.unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return fail(e),
    }
    Ok(ExitCode::SUCCESS)
}
