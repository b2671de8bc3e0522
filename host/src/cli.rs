//! The `crm` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crm::app::App;
use crm::config::{self, DataConfig, FileConfig};
use crm::policy::Pdp;
use crm::server::{self, Tls};
use crm::store::Store;
use crm::vault::Vault;

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
    Demo {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        net: NetArgs,
        /// Number of synthetic customers to create the first time.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        customers: u32,
        /// Install the first-party plugins without loading their demo data.
        #[arg(long)]
        no_plugin_data: bool,
    },
    /// Serve the CRM (HTTP API and staff web UI).
    Serve {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Manage tenants (broadcasters).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Create API tokens for automation.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Import data.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Check, test, publish, diff and roll back Rego policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Install, list, upgrade, enable, disable and uninstall a tenant's plugins.
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Runs one policy job (check, test or build a tenant's Rego) from standard input, under
    /// limits; the server starts it (see `policy_admin::sandbox`).
    #[command(hide = true)]
    PolicyJob,
    /// Measure seal/open throughput and end-to-end request throughput against baselines.
    Bench {
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        /// Seconds per measured HTTP run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
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

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant with its own data key.
    Create {
        /// Short name used at sign-in (a-z, 0-9, -).
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a staff member with a role (admin, compliance, sales, support, marketing).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (otherwise CRM_USER_PASSWORD, else one is generated and printed).
        #[arg(long)]
        password_stdin: bool,
        /// Enrol two-factor sign-in (TOTP) and print the secret.
        #[arg(long)]
        mfa: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List a tenant's staff.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token acting as a staff member (printed once).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "automation")]
        name: String,
        /// Lifetime in days (at most `token_max_days`, 90 unless configured).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=365))]
        days: i64,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Import customers from CSV (columns: name,email,phone,address,birth_date,notes,region,tags,consents).
    Customers {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        /// Import the valid rows and report the others, instead of importing nothing.
        #[arg(long)]
        skip_invalid: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
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

#[derive(Subcommand)]
enum PolicyCmd {
    /// Parse and compile a tenant policy set (errors with file:line:col).
    Check { dir: PathBuf },
    /// Run the `test_*` rules of a policy set (default: the platform baseline), as `opa test` does.
    Test { dir: Option<PathBuf> },
    /// Check, test and compile a policy set into an OPA bundle (`/policy.wasm`, `/data.json`,
    /// `/.manifest` and the sources), as `opa build -t wasm` does.
    Build {
        dir: PathBuf,
        #[arg(short = 'o', long, default_value = "bundle.tar.gz")]
        output: PathBuf,
    },
    /// Check, test and publish a tenant policy set (a folder of .rego files, or a bundle.tar.gz,
    /// including one from `opa build -t wasm`) as its next active version.
    Publish {
        dir: PathBuf,
        #[arg(long)]
        tenant: String,
        /// Why this version exists.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List a tenant's policy versions.
    History {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Show the diff between two versions.
    Diff {
        from: i64,
        to: i64,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Make an earlier version active again.
    Rollback {
        version: i64,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum PluginCmd {
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

fn print_tests(results: &[crm::policy::RegoTestResult]) -> bool {
    let failed = results.iter().filter(|r| !r.passed).count();
    for r in results {
        match &r.error {
            None => println!("{} {}", if r.passed { "PASS" } else { "FAIL" }, r.name),
            Some(e) => println!("FAIL {} ({})", r.name, e.lines().next().unwrap_or("")),
        }
    }
    println!("{} passed, {} failed", results.len() - failed, failed);
    failed == 0
}

fn print_refusal(r: &crm::policy_admin::Refusal) {
    use crm::policy_admin::Refusal;
    match r {
        Refusal::Invalid(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            eprintln!("error: the policy set does not compile");
        }
        Refusal::TestsFailed(results) => {
            print_tests(results);
            eprintln!("error: {r}");
        }
    }
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
        let plugins = crm::plugins::Runtime::new(&cfg.data_dir)?;
        let mut app = App::new(store, vault, pdp, plugins);
        app.settings = file.settings()?;
        let app = Arc::new(app);
        Ok((app, cfg, file))
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

fn read_password(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        return Ok((s.trim_end_matches(['\n', '\r']).to_string(), false));
    }
    if let Ok(p) = std::env::var("CRM_USER_PASSWORD") {
        return Ok((p, false));
    }
    let t = crm::auth::random_token("");
    let core: String = t
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(14)
        .collect();
    Ok((format!("Crm-{core}-9"), true))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            data,
            net,
            customers,
            no_plugin_data,
        } => {
            let (app, cfg, file) = data.open().await?;
            let (addr, tls) = net.resolve(&file)?;
            eprintln!("Preparing the demo tenant in {} …", cfg.data_dir.display());
            let mut creds =
                crate::demo::ensure_demo(&app, &cfg.data_dir, customers as usize, !no_plugin_data)
                    .await?;
            let cred_path = cfg.data_dir.join("demo-credentials.json");
            server::serve(app, addr, tls, None, |bound, tls| {
                let url = format!("{}://{bound}", if tls { "https" } else { "http" });
                creds.url = Some(url.clone());
                let _ = crate::demo::write_credentials(&cred_path, &creds);
                println!("CRM is running at {url}");
                println!("Tenant: {}", creds.tenant);
                for u in &creds.users {
                    println!(
                        "  {:<11} username {:<12} password {}{}",
                        u.role,
                        u.username,
                        u.password,
                        u.totp_secret
                            .as_ref()
                            .map(|s| format!("  TOTP secret {s}"))
                            .unwrap_or_default()
                    );
                }
                println!("Sign-in details are also in {}", cred_path.display());
                println!("Press Ctrl-C to stop.");
            })
            .await?;
        }
        Command::Serve { data, net } => {
            let (app, _cfg, file) = data.open().await?;
            let (addr, tls) = net.resolve(&file)?;
            server::serve(app, addr, tls, None, |bound, tls| {
                println!(
                    "CRM is running at {}://{bound}",
                    if tls { "https" } else { "http" }
                );
            })
            .await?;
        }
        Command::Tenant(TenantCmd::Create { slug, name, data }) => {
            let (app, _, _) = data.open().await?;
            let t = crm::tenants::create_tenant(&app, &slug, &name).await?;
            println!("created tenant {} ({})", t.slug, t.id);
        }
        Command::Tenant(TenantCmd::List { data }) => {
            let app = data.open_existing().await?;
            for t in app.store.tenants().await? {
                println!("{}\t{}\t{}", t.slug, t.id, t.name);
            }
        }
        Command::User(UserCmd::Add {
            tenant,
            username,
            role,
            display_name,
            password_stdin,
            mfa,
            data,
        }) => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let (password, generated) = read_password(password_stdin)?;
            let display = display_name.unwrap_or_else(|| username.clone());
            let secret =
                crm::tenants::add_user(&app, &t, &username, &display, &role, &password, mfa)
                    .await?;
            println!("added {username} ({role}) to {}", t.slug);
            if generated {
                println!("password: {password}");
            }
            if let Some(s) = secret {
                println!("TOTP secret: {s}");
                println!("otpauth URL: {}", crm::auth::totp_url(&s, &username)?);
            }
        }
        Command::User(UserCmd::List { tenant, data }) => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            for u in app.store.users(&t.id).await? {
                println!(
                    "{}\t{}\tmfa={}",
                    u.username,
                    u.role,
                    u.totp_secret.is_some()
                );
            }
        }
        Command::Token(TokenCmd::Create {
            tenant,
            username,
            name,
            days,
            data,
        }) => {
            let app = data.open_existing().await?;
            if days > app.settings.token_max_days {
                anyhow::bail!(
                    "--days must be at most {} (token_max_days)",
                    app.settings.token_max_days
                );
            }
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let u = app
                .store
                .user_by_name(&t.id, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user `{username}` in tenant `{tenant}`"))?;
            let token = crm::auth::random_token("crm_t_");
            let now = crm::store::now_ms();
            app.store
                .insert_session(
                    &crm::auth::token_hash(&token),
                    &t.id,
                    &u.id,
                    "api",
                    &name,
                    &crm::auth::random_token(""),
                    u.totp_secret.is_some(),
                    now,
                    now + days * 86_400_000,
                )
                .await?;
            app.audit
                .record(
                    &t.id,
                    &crm::audit::Event {
                        actor: "operator:cli".into(),
                        action: "token.create".into(),
                        resource: format!("user/{}", u.id),
                        decision: "allow".into(),
                        policy_version: String::new(),
                        detail: serde_json::json!({"days": days}),
                    },
                )
                .await?;
            println!("{token}");
        }
        Command::Import(ImportCmd::Customers {
            file,
            tenant,
            skip_invalid,
            data,
        }) => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            match crm::import::import_customers(&app, &t.id, &file, skip_invalid, progress)
                .await?
            {
                Ok(outcome) => {
                    for e in &outcome.skipped {
                        eprintln!("line {}: skipped: {}", e.line, e.message);
                    }
                    println!(
                        "imported {} customers into {} ({} rows skipped)",
                        outcome.imported,
                        t.slug,
                        outcome.skipped.len()
                    );
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("line {}: {}", e.line, e.message);
                    }
                    eprintln!(
                        "error: {} invalid row(s); nothing was imported (fix them, or pass --skip-invalid)",
                        errors.len()
                    );
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Audit(cmd) => return audit_command(cmd).await,
        Command::Policy(cmd) => return policy_command(cmd).await,
        Command::PolicyJob => return Ok(crm::policy_admin::sandbox::child_main()),
        Command::Plugin(cmd) => return plugin_command(cmd).await,
        Command::Bench {
            customers,
            seconds,
            concurrency,
        } => {
            crate::bench::run(crate::bench::Options {
                customers,
                seconds,
                concurrency: concurrency.max(1),
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
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

async fn audit_command(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCmd::Verify {
            tenant,
            checkpoints,
            data,
        } => {
            let app = data.open_existing().await?;
            let outside: Vec<crm::audit::Checkpoint> = match &checkpoints {
                None => Vec::new(),
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| {
                        serde_json::from_str(l).map_err(|e| {
                            anyhow::anyhow!(
                                "{} line {}: not a checkpoint: {e}",
                                path.display(),
                                i + 1
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            let keys = app.vault.audit_keys();
            let mut broken = false;
            for (id, name) in audit_chains(&app, tenant.as_deref()).await? {
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
        }
        AuditCmd::Checkpoint { tenant, out, data } => {
            let app = data.open_existing().await?;
            let keys = app.vault.audit_keys();
            println!(
                "public key: {}",
                hex::encode(keys.verifying_key().to_bytes())
            );
            let mut lines = String::new();
            for (id, name) in audit_chains(&app, tenant.as_deref()).await? {
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
                    .open(&path)
                    .and_then(|mut f| f.write_all(lines.as_bytes()))
                    .map_err(|e| anyhow::anyhow!("cannot append to {}: {e}", path.display()))?;
                println!("appended to {}", path.display());
            }
        }
        AuditCmd::Upgrade { data } => {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn upload(
    file: &std::path::Path,
    grant: &[String],
    signature: Option<&std::path::Path>,
    limits: Option<&str>,
) -> anyhow::Result<crm::plugins::lifecycle::Upload> {
    use crm::plugins::caps::Capability;
    let read = |p: &std::path::Path| {
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
    Ok(crm::plugins::lifecycle::Upload {
        bytes: read(file)?,
        signature: signature.map(read).transpose()?,
        grants,
        limits: limits
            .map(|l| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("--limits: {e}")))
            .transpose()?,
    })
}

async fn plugin_command(cmd: PluginCmd) -> anyhow::Result<ExitCode> {
    use crm::plugins::lifecycle;
    const BY: &str = "operator:cli";
    let show = |i: &lifecycle::PluginInfo| {
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
    };
    let fail = |e: crm::error::AppError| -> anyhow::Result<ExitCode> {
        eprintln!("error: {}", e.message);
        Ok(ExitCode::from(2))
    };
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
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            match lifecycle::install(&app, &t.id, BY, up, None).await {
                Ok(i) => {
                    print!("installed ");
                    show(&i);
                }
                Err(e) => return fail(e),
            }
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
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            match lifecycle::install(&app, &t.id, BY, up, Some(&name)).await {
                Ok(i) => {
                    print!("upgraded ");
                    show(&i);
                }
                Err(e) => return fail(e),
            }
        }
        PluginCmd::List { tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            for i in lifecycle::list(&app, &t.id).await? {
                show(&i);
            }
        }
        PluginCmd::Show { name, tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            match lifecycle::get(&app, &t.id, &name).await {
                Ok(p) => println!("{}", serde_json::to_string_pretty(&p.info())?),
                Err(e) => return fail(e),
            }
        }
        PluginCmd::Enable { name, tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            if let Err(e) = lifecycle::set_enabled(&app, &t.id, BY, &name, true).await {
                return fail(e);
            }
            println!("{name} enabled");
        }
        PluginCmd::Disable { name, tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            if let Err(e) = lifecycle::set_enabled(&app, &t.id, BY, &name, false).await {
                return fail(e);
            }
            println!("{name} disabled");
        }
        PluginCmd::Uninstall {
            name,
            tenant,
            purge,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            if let Err(e) = lifecycle::uninstall(&app, &t.id, BY, &name, purge).await {
                return fail(e);
            }
            println!(
                "{name} uninstalled{}",
                if purge { " and its data purged" } else { "" }
            );
        }
        PluginCmd::Trust {
            name,
            public_key,
            tenant,
            require,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            if let Err(e) = lifecycle::trust_key(&app, &t.id, BY, &name, &public_key).await {
                return fail(e);
            }
            if require && let Err(e) = lifecycle::require_signatures(&app, &t.id, BY, true).await {
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
        }
        PluginCmd::Jobs { name, tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let time = |ms: Option<i64>| {
                ms.and_then(chrono::DateTime::from_timestamp_millis)
                    .map_or("-".to_string(), |d| {
                        d.format("%Y-%m-%d %H:%M UTC").to_string()
                    })
            };
            match crm::plugins::jobs::list(&app, &t.id, &name).await {
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
        }
        PluginCmd::RunJob {
            name,
            job,
            tenant,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            match crm::plugins::jobs::run_now(&app, &t.id, BY, &name, &job).await {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn policy_command(cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    use crm::policy_admin::{self as admin, Job, Jobs, PolicySet};
    let fail = ExitCode::from(1);
    // Tenant Rego runs in policy jobs here too, as it does in the server.
    let jobs = Jobs::for_this_host();
    let job = async |job: Job, set: &PolicySet| -> anyhow::Result<admin::sandbox::Outcome> {
        jobs.run("cli", job, set)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    match cmd {
        PolicyCmd::Check { dir } => match job(Job::Check, &PolicySet::load_dir(&dir)?)
            .await?
            .into_tests()
        {
            Ok(_) => println!("ok: the policy set compiles"),
            Err(r) => {
                print_refusal(&r);
                return Ok(fail);
            }
        },
        PolicyCmd::Test { dir: None } => {
            let mut files: Vec<(&str, &str)> = crm::policy::PLATFORM_POLICIES.to_vec();
            files.extend_from_slice(crm::policy::PLATFORM_POLICY_TESTS);
            if !print_tests(&crm::policy::run_rego_tests(&files)?) {
                return Ok(fail);
            }
        }
        PolicyCmd::Test { dir: Some(dir) } => match job(Job::Test, &PolicySet::load_dir(&dir)?)
            .await?
            .into_tests()
        {
            Ok(results) => {
                print_tests(&results);
            }
            Err(r) => {
                print_refusal(&r);
                return Ok(fail);
            }
        },
        PolicyCmd::Build { dir, output } => {
            let set = PolicySet::load_dir(&dir)?;
            let started = std::time::Instant::now();
            let (tests, build) = match job(Job::Build, &set).await?.into_build() {
                Ok(tb) => tb,
                Err(r) => {
                    print_refusal(&r);
                    return Ok(fail);
                }
            };
            let bytes = admin::bundle::write(&set, &build)?;
            admin::bundle::save(&output, &bytes)?;
            println!(
                "wrote {} ({} KiB; policy.wasm {} KiB, {} mode, {}; {} tests passed; {} ms)",
                output.display(),
                bytes.len() / 1024,
                build.wasm.len() / 1024,
                build.mode,
                build.digest(),
                tests.len(),
                started.elapsed().as_millis()
            );
        }
        PolicyCmd::Publish {
            dir,
            tenant,
            note,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let started = std::time::Instant::now();
            let (set, prebuilt) = if dir.is_file() {
                let bytes = std::fs::read(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
                admin::bundle::read(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", dir.display()))?
            } else {
                (PolicySet::load_dir(&dir)?, None)
            };
            match admin::publish_set(&app, &t.id, &set, prebuilt, "operator:cli", &note)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
            {
                Ok(p) => {
                    print!("{}", p.diff);
                    println!(
                        "published version {} of {} ({} tests passed, {} mode, {}) in {} ms",
                        p.version,
                        t.slug,
                        p.tests.len(),
                        p.mode,
                        p.digest,
                        started.elapsed().as_millis()
                    );
                }
                Err(r) => {
                    print_refusal(&r);
                    return Ok(fail);
                }
            }
        }
        PolicyCmd::History { tenant, data } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let active = app
                .store
                .active_policies()
                .await?
                .into_iter()
                .find(|(id, _)| *id == t.id)
                .map(|(_, v)| v);
            for v in app.store.policy_versions(&t.id).await? {
                let at = chrono::DateTime::from_timestamp_millis(v.created_at)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default();
                let mark = if Some(v.version) == active { "*" } else { " " };
                println!(
                    "{mark} v{}\t{at}\t{}\t{}\t{}",
                    v.version,
                    v.author,
                    &v.digest[..19.min(v.digest.len())],
                    v.note
                );
            }
        }
        PolicyCmd::Diff {
            from,
            to,
            tenant,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            let load = |v: Option<crm::store::PolicyVersionRow>,
                        n: i64|
             -> anyhow::Result<PolicySet> {
                let row = v.ok_or_else(|| anyhow::anyhow!("no policy version {n} in {tenant}"))?;
                Ok(PolicySet {
                    files: serde_json::from_str(&row.files)?,
                })
            };
            let a = load(app.store.policy_version(&t.id, from).await?, from)?;
            let b = load(app.store.policy_version(&t.id, to).await?, to)?;
            print!("{}", admin::diff(&a, &b));
        }
        PolicyCmd::Rollback {
            version,
            tenant,
            data,
        } => {
            let app = data.open_existing().await?;
            let t = crm::tenants::tenant(&app, &tenant).await?;
            match admin::rollback_to(&app, &t.id, version, "operator:cli")
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
            {
                Some(diff) => {
                    print!("{diff}");
                    println!("version {version} of {} is active again", t.slug);
                }
                None => anyhow::bail!("no policy version {version} in {tenant}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
