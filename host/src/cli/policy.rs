//! `crm policy`: check, test and build Rego policy sets, and publish, list, diff and roll back a
//! tenant's versions (the same policy administration the API and the web editor use).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crm::app::Actor;
use crm::policy_admin::{self as admin, Job, Jobs, PolicySet, Refusal};

use super::DataArgs;

#[derive(Subcommand)]
pub(super) enum PolicyCmd {
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

pub(super) async fn run(cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCmd::Check { dir } => check(&dir).await,
        PolicyCmd::Test { dir } => test(dir.as_deref()).await,
        PolicyCmd::Build { dir, output } => build(&dir, &output).await,
        PolicyCmd::Publish {
            dir,
            tenant,
            note,
            data,
        } => publish(&dir, &tenant, &note, &data).await,
        PolicyCmd::History { tenant, data } => history(&tenant, &data).await,
        PolicyCmd::Diff {
            from,
            to,
            tenant,
            data,
        } => diff(from, to, &tenant, &data).await,
        PolicyCmd::Rollback {
            version,
            tenant,
            data,
        } => rollback(version, &tenant, &data).await,
    }
}

/// A refused set: exit code 1.
fn failed() -> ExitCode {
    ExitCode::from(1)
}

/// Runs `job` on `set`: tenant Rego runs in policy jobs here too, as it does in the server.
async fn run_job(job: Job, set: &PolicySet) -> anyhow::Result<admin::sandbox::Outcome> {
    Jobs::for_this_host()
        .run("cli", job, set)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
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

fn print_refusal(r: &Refusal) {
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

async fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match run_job(Job::Check, &PolicySet::load_dir(dir)?)
        .await?
        .into_tests()
    {
        Ok(_) => println!("ok: the policy set compiles"),
        Err(r) => {
            print_refusal(&r);
            return Ok(failed());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tests a set in a policy job, or (without a folder) the platform baseline in this process.
async fn test(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Some(dir) = dir else {
        let mut files: Vec<(&str, &str)> = crm::policy::PLATFORM_POLICIES.to_vec();
        files.extend_from_slice(crm::policy::PLATFORM_POLICY_TESTS);
        if !print_tests(&crm::policy::run_rego_tests(&files)?) {
            return Ok(failed());
        }
        return Ok(ExitCode::SUCCESS);
    };
    match run_job(Job::Test, &PolicySet::load_dir(dir)?)
        .await?
        .into_tests()
    {
        Ok(results) => {
            print_tests(&results);
        }
        Err(r) => {
            print_refusal(&r);
            return Ok(failed());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn build(dir: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let set = PolicySet::load_dir(dir)?;
    let started = std::time::Instant::now();
    let (tests, build) = match run_job(Job::Build, &set).await?.into_build() {
        Ok(tb) => tb,
        Err(r) => {
            print_refusal(&r);
            return Ok(failed());
        }
    };
    let bytes = admin::bundle::write(&set, &build)?;
    admin::bundle::save(output, &bytes)?;
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
    Ok(ExitCode::SUCCESS)
}

/// Publishes a folder of .rego files, or a bundle (a file), as the tenant's next version.
async fn publish(
    dir: &Path,
    tenant: &str,
    note: &str,
    data: &DataArgs,
) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let started = std::time::Instant::now();
    let operator = Actor::operator(&t.id, "cli");
    let published = if dir.is_file() {
        let bytes = std::fs::read(dir)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
        admin::publish_bundle(&app, &operator, bytes, note).await
    } else {
        admin::publish(&app, &operator, &PolicySet::load_dir(dir)?, note).await
    };
    match published.map_err(|e| anyhow::anyhow!("{}: {}", dir.display(), e.message))? {
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
            return Ok(failed());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the tenant's versions, the active one marked `*`.
async fn history(tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let history = admin::history::history_of(&app, &t.id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let active = history.active;
    for v in history.versions {
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
    Ok(ExitCode::SUCCESS)
}

async fn diff(from: i64, to: i64, tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    let diff = admin::history::diff_of(&app, &t.id, from, to)
        .await
        .map_err(|e| anyhow::anyhow!("{} in {tenant}", e.message))?;
    print!("{diff}");
    Ok(ExitCode::SUCCESS)
}

async fn rollback(version: i64, tenant: &str, data: &DataArgs) -> anyhow::Result<ExitCode> {
    let (app, t) = data.open_tenant(tenant).await?;
    match admin::rollback(&app, &Actor::operator(&t.id, "cli"), version)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?
    {
        Some(diff) => {
            print!("{diff}");
            println!("version {version} of {} is active again", t.slug);
        }
        None => anyhow::bail!("no policy version {version} in {tenant}"),
    }
    Ok(ExitCode::SUCCESS)
}
