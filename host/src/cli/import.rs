//! `crm import`: bulk imports into a tenant (customers from CSV).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::DataArgs;

#[derive(Subcommand)]
pub(super) enum ImportCmd {
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

pub(super) async fn run(cmd: ImportCmd) -> anyhow::Result<ExitCode> {
    let ImportCmd::Customers {
        file,
        tenant,
        skip_invalid,
        data,
    } = cmd;
    let (app, t) = data.open_tenant(&tenant).await?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match crm::import::import_customers(&app, &t.id, &file, skip_invalid, progress).await? {
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
    Ok(ExitCode::SUCCESS)
}
