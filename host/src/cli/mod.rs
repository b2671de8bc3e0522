//! The `crm` command line: the top-level commands, where the data lives ([`DataArgs`]) and where
//! to listen ([`NetArgs`]), and `main`. Each command group is a module of its own, with its
//! subcommands' arguments and what they do.

mod admin;
mod audit;
mod backup;
mod bench;
mod import;
mod plugin;
mod policy;
mod privacy;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crm::app::App;
use crm::config::{self, DataConfig, FileConfig};
use crm::policy::Pdp;
use crm::server::Tls;
use crm::store::{Store, TenantRow};
use crm::vault::Vault;

/// The erasure ledger's file in the data folder (see `crm::ledger`).
const ERASURE_LEDGER: &str = "erasure-ledger.jsonl";

/// Broadcaster CRM: encrypted customer records, policy-decided access, audited.
#[derive(Parser)]
#[command(name = "crm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a demo broadcaster (staff in every role, ~1,000 synthetic customers) and serve it.
    Demo(serve::DemoArgs),
    /// Serve the CRM (HTTP API and staff web UI).
    Serve(serve::ServeArgs),
    /// Manage tenants (broadcasters).
    #[command(subcommand)]
    Tenant(admin::TenantCmd),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Create API tokens for automation.
    #[command(subcommand)]
    Token(admin::TokenCmd),
    /// Import data.
    #[command(subcommand)]
    Import(import::ImportCmd),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Backups: create an encrypted snapshot while serving, verify one, restore one into a new
    /// data folder (erasures made since are applied again).
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Check the database file with SQLite (its quick check, or --full its integrity check);
    /// exits 1 listing the problems. The server runs the quick check at every start.
    Check(backup::CheckArgs),
    /// Check, test, publish, diff and roll back Rego policies.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Install, list, upgrade, enable, disable and uninstall a tenant's plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCmd),
    /// Data-subject requests: list, open, and take steps on them.
    #[command(subcommand)]
    Privacy(privacy::PrivacyCmd),
    /// Runs one policy job (check, test or build a tenant's Rego) from standard input, under
    /// limits; the server starts it (see `policy_admin::sandbox`).
    #[command(hide = true)]
    PolicyJob,
    /// Measure seal/open throughput and end-to-end request throughput against baselines.
    Bench(bench::BenchArgs),
}

/// Where the data lives.
#[derive(Args, Clone)]
struct DataArgs {
    /// Data folder (SQLite database, master key file).
    #[arg(long = "data", env = "CRM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML config file (listen, data_dir, database_url, master_key_file, [tls]).
    #[arg(long, env = "CRM_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (default: sqlite in the data folder).
    #[arg(long, env = "CRM_DATABASE_URL")]
    database_url: Option<String>,
    /// Master key file (default: DATA/master.key). CRM_MASTER_KEY (base64) takes precedence.
    #[arg(long, env = "CRM_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct NetArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, env = "CRM_LISTEN")]
    listen: Option<String>,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long, env = "CRM_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, env = "CRM_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// `self-signed`: serve HTTPS with a fresh self-signed certificate (local use).
    #[arg(long, env = "CRM_TLS", value_parser = ["self-signed"], conflicts_with = "tls_cert")]
    tls: Option<String>,
}

impl DataArgs {
    fn resolve(&self) -> anyhow::Result<(DataConfig, FileConfig)> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
        let cfg = DataConfig {
            data_dir,
            database_url: self
                .database_url
                .clone()
                .or_else(|| file.database_url.clone()),
            master_key_file: self
                .master_key_file
                .clone()
                .or_else(|| file.master_key_file.clone()),
        };
        Ok((cfg, file))
    }

    async fn open(&self) -> anyhow::Result<(Arc<App>, DataConfig, FileConfig)> {
        let (cfg, file) = self.resolve()?;
        cfg.ensure_dir()?;
        let store = match &cfg.database_url {
            Some(url) => Store::open_url(url).await?,
            None => Store::open_sqlite(&cfg.sqlite_path()).await?,
        };
        let vault = Vault::new(cfg.master_key()?);
        crm::policy::set_cache_dir(&cfg.data_dir.join("cache").join("modules"));
        let pdp = tokio::task::spawn_blocking(Pdp::platform).await??;
        let mut app = App::new(store, vault, pdp);
        app.settings = file.settings()?;
        app.settings.erasure_ledger_file = Some(cfg.data_dir.join(ERASURE_LEDGER));
        let app = Arc::new(app);
        Ok((app, cfg, file))
    }

    /// The plugin runtime, its compiled components and scratch directories in the data folder.
    fn plugins(&self) -> anyhow::Result<Arc<crm::plugins::Runtime>> {
        let (cfg, _) = self.resolve()?;
        Ok(Arc::new(crm::plugins::Runtime::new(&cfg.data_dir)?))
    }

    /// Opens an existing data folder (commands other than demo/serve must not create one by accident).
    async fn open_existing(&self) -> anyhow::Result<Arc<App>> {
        let (cfg, _) = self.resolve()?;
        if cfg.database_url.is_none() && !cfg.sqlite_path().exists() {
            anyhow::bail!(
                "no CRM database in {} (run `crm demo` or `crm serve` first, or pass --data)",
                cfg.data_dir.display()
            );
        }
        Ok(self.open().await?.0)
    }

    /// Opens an existing data folder and finds the tenant with that slug.
    async fn open_tenant(&self, slug: &str) -> anyhow::Result<(Arc<App>, TenantRow)> {
        let app = self.open_existing().await?;
        let t = crm::tenants::tenant(&app, slug).await?;
        Ok((app, t))
    }
}

impl NetArgs {
    fn resolve(&self, file: &FileConfig) -> anyhow::Result<(std::net::SocketAddr, Tls)> {
        let listen = self
            .listen
            .clone()
            .or_else(|| file.listen.clone())
            .unwrap_or_else(|| config::DEFAULT_LISTEN.into());
        let addr = config::parse_listen(&listen)?;
        let ftls = file.tls.as_ref();
        let tls = if let (Some(c), Some(k)) = (&self.tls_cert, &self.tls_key) {
            Tls::Files {
                cert: c.clone(),
                key: k.clone(),
            }
        } else if self.tls.is_some() {
            Tls::SelfSigned
        } else if let Some(t) = ftls {
            match (&t.cert, &t.key, t.self_signed) {
                (Some(c), Some(k), _) => Tls::Files {
                    cert: c.clone(),
                    key: k.clone(),
                },
                (None, None, true) => Tls::SelfSigned,
                (None, None, false) => Tls::None,
                _ => anyhow::bail!("[tls] needs both `cert` and `key`"),
            }
        } else {
            Tls::None
        };
        Ok((addr, tls))
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    config::take_master_key_env();
    let cli = Cli::parse();
    if let Command::PolicyJob = cli.command {
        return crm::policy_admin::sandbox::child_main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CRM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => serve::demo(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Tenant(cmd) => admin::tenant(cmd).await,
        Command::User(cmd) => admin::user(cmd).await,
        Command::Token(cmd) => admin::token(cmd).await,
        Command::Import(cmd) => import::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Backup(cmd) => backup::run(cmd).await,
        Command::Check(args) => backup::check(args).await,
        Command::Policy(cmd) => policy::run(cmd).await,
        Command::PolicyJob => Ok(crm::policy_admin::sandbox::child_main()),
        Command::Plugin(cmd) => plugin::run(cmd).await,
        Command::Privacy(cmd) => privacy::run(cmd).await,
        Command::Bench(args) => bench::run(args).await,
    }
}
