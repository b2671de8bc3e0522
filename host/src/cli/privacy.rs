//! `crm privacy`: data-subject requests from the command line, for scripted use (acting as
//! `operator:cli`; the same functions as the API and, later, the screens).

use std::process::ExitCode;

use clap::Subcommand;

use super::DataArgs;
use crm::app::Actor;
use crm::privacy::request::{Kind, Step};
use crm::privacy::{self, NewRequest, RequestView, name_of as name};
use crm::store::now_ms;

#[derive(Subcommand)]
pub(super) enum PrivacyCmd {
    /// List the tenant's requests: open ones first, soonest due first.
    Requests {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Open a request for a customer (by id, email address or phone number).
    Open {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        customer: String,
        /// access, portability, rectification, erasure, restriction or objection.
        #[arg(long)]
        kind: Kind,
        /// How the person's identity was verified (a method, not a document).
        #[arg(long, default_value = "")]
        verification: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Legal holds: while one applies, nothing it covers is erased.
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Build the archive answering an access or portability request and write it to a file
    /// (the same archive staff download from the API; the build is audited).
    Export {
        /// The request's id.
        id: String,
        /// Where to write the zip archive (refused if it exists).
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The request log's figures over the last 24 months (JSON).
    Report {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The tenant's privacy settings (deadline periods, retention schedule).
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Retention: run the schedule (a dry run unless --apply) or list the runs.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Take a step on a request: verify, start, extend, complete or refuse.
    Step {
        id: String,
        /// verify, start, extend, complete or refuse.
        #[arg(long)]
        step: Step,
        /// Why (required to extend or refuse).
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub(super) enum SettingsCmd {
    /// Print the settings as JSON (the defaults when none were set).
    Show {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace the settings with a JSON file's (checked whole: nothing is stored if any part
    /// is refused).
    Set {
        #[arg(long)]
        tenant: String,
        /// A JSON file: `{"periods": {...}, "retention": {...}}`.
        #[arg(long)]
        file: std::path::PathBuf,
        /// Why (kept in the audit record).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub(super) enum RetentionCmd {
    /// Run the schedule now and print what it found (or removed, with --apply) as JSON.
    Run {
        #[arg(long)]
        tenant: String,
        /// Erase and delete (without it, only count).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The tenant's runs, newest first, one JSON line each.
    Runs {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
pub(super) enum HoldCmd {
    /// List the tenant's legal holds, active ones first.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Place a hold on a customer, or (without --customer) on every customer of the tenant.
    Place {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        customer: Option<String>,
        /// The matter (a case, an investigation).
        #[arg(long)]
        reason: String,
        /// Who answers for the hold.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Release an active hold.
    Release {
        id: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub(super) async fn run(cmd: PrivacyCmd) -> anyhow::Result<ExitCode> {
    let fail = |e: crm::error::AppError| anyhow::anyhow!("{}", e.message);
    match cmd {
        PrivacyCmd::Requests { tenant, data } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            for r in privacy::queue(&app, &operator, now_ms())
                .await
                .map_err(fail)?
            {
                print_request(&r);
            }
        }
        PrivacyCmd::Open {
            tenant,
            customer,
            kind,
            verification,
            data,
        } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let new = NewRequest {
                customer,
                kind,
                verification,
            };
            let r = privacy::open(&app, &operator, &new, now_ms())
                .await
                .map_err(fail)?;
            print_request(&r);
        }
        PrivacyCmd::Step {
            id,
            step,
            reason,
            tenant,
            data,
        } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let rt = data.plugins()?;
            let r = privacy::take_step(&app, &rt, &operator, &id, step, &reason, now_ms())
                .await
                .map_err(fail)?;
            print_request(&r);
        }
        PrivacyCmd::Hold(cmd) => return hold(cmd).await,
        PrivacyCmd::Report { tenant, data } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let r = privacy::report::report(&app, &operator, now_ms())
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        PrivacyCmd::Settings(SettingsCmd::Show { tenant, data }) => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let s = privacy::settings::get(&app, &operator)
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&s)?);
        }
        PrivacyCmd::Settings(SettingsCmd::Set {
            tenant,
            file,
            note,
            data,
        }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let settings: privacy::settings::Settings = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is not valid settings: {e}", file.display()))?;
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            privacy::settings::put(&app, &operator, &settings, &note, now_ms())
                .await
                .map_err(fail)?;
            println!("privacy settings of {tenant} replaced");
        }
        PrivacyCmd::Retention(RetentionCmd::Run {
            tenant,
            apply,
            data,
        }) => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let r = privacy::retention::run(&app, &operator, apply, now_ms())
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        PrivacyCmd::Retention(RetentionCmd::Runs { tenant, data }) => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            for r in privacy::retention::runs(&app, &operator)
                .await
                .map_err(fail)?
            {
                println!("{}", serde_json::to_string(&r)?);
            }
        }
        PrivacyCmd::Export {
            id,
            out,
            tenant,
            data,
        } => {
            if out.exists() {
                anyhow::bail!("{} exists; name a new file", out.display());
            }
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let rt = data.plugins()?;
            let started = privacy::export::start(&app, &rt, &operator, &id, now_ms())
                .await
                .map_err(fail)?;
            let view = loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let v = privacy::export::status(&app, &operator, &started.id, now_ms())
                    .await
                    .map_err(fail)?;
                if v.state != privacy::export::ExportState::Building {
                    break v;
                }
            };
            let (_, zip) = privacy::export::download(&app, &operator, &view.id, now_ms())
                .await
                .map_err(fail)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)?;
            std::io::Write::write_all(&mut f, &zip)?;
            println!(
                "{} bytes written to {} (export {})",
                zip.len(),
                out.display(),
                view.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn hold(cmd: HoldCmd) -> anyhow::Result<ExitCode> {
    let fail = |e: crm::error::AppError| anyhow::anyhow!("{}", e.message);
    match cmd {
        HoldCmd::List { tenant, data } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            for h in privacy::holds(&app, &operator).await.map_err(fail)? {
                let state = if h.released_at.is_some() {
                    "released"
                } else {
                    "active"
                };
                let scope = h.customer_id.as_deref().unwrap_or("every customer");
                println!(
                    "{}\t{state}\t{scope}\t{}\towner {}",
                    h.id, h.reason, h.owner
                );
            }
        }
        HoldCmd::Place {
            tenant,
            customer,
            reason,
            owner,
            data,
        } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            let new = privacy::NewHold {
                customer,
                reason,
                owner,
            };
            let h = privacy::place_hold(&app, &operator, &new, now_ms())
                .await
                .map_err(fail)?;
            println!("placed legal hold {}", h.id);
        }
        HoldCmd::Release { id, tenant, data } => {
            let (app, t) = data.open_tenant(&tenant).await?;
            let operator = Actor::operator(&t.id, "cli");
            privacy::release_hold(&app, &operator, &id, now_ms())
                .await
                .map_err(fail)?;
            println!("released legal hold {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_request(r: &RequestView) {
    println!(
        "{}\t{}\t{}\t{}\tdue {}{}\tcustomer {}",
        r.id,
        name(&r.kind),
        name(&r.regime),
        name(&r.state),
        r.due,
        r.urgency
            .map(|u| format!(" ({})", name(&u)))
            .unwrap_or_default(),
        r.customer
    );
}
