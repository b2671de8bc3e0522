//! `crm tenant`, `crm user` and `crm token`: tenants, their staff accounts and API tokens, made by
//! the operator (audited as `operator:cli` where the trail records it).

use std::process::ExitCode;

use clap::Subcommand;

use super::DataArgs;

#[derive(Subcommand)]
pub(super) enum TenantCmd {
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
pub(super) enum UserCmd {
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
pub(super) enum TokenCmd {
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

pub(super) async fn tenant(cmd: TenantCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TenantCmd::Create { slug, name, data } => {
            let (app, _, _) = data.open().await?;
            let t = crm::tenants::create_tenant(&app, &slug, &name).await?;
            println!("created tenant {} ({})", t.slug, t.id);
        }
        TenantCmd::List { data } => {
            let app = data.open_existing().await?;
            for t in crm::tenants::list(&app).await? {
                println!("{}\t{}\t{}", t.slug, t.id, t.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn user(cmd: UserCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCmd::Add {
            tenant,
            username,
            role,
            display_name,
            password_stdin,
            mfa,
            data,
        } => {
            let (app, t) = data.open_tenant(&tenant).await?;
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
        UserCmd::List { tenant, data } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            for u in crm::tenants::users(&app, &t.id).await? {
                println!(
                    "{}\t{}\tmfa={}",
                    u.username,
                    u.role,
                    u.totp_secret.is_some()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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

pub(super) async fn token(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    let TokenCmd::Create {
        tenant,
        username,
        name,
        days,
        data,
    } = cmd;
    let app = data.open_existing().await?;
    let t = crm::tenants::tenant(&app, &tenant).await?;
    let operator = crm::app::Actor::operator(&t.id, "cli");
    let token = crm::sessions::issue_token(&app, &operator, &username, &name, days)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
