//! `crm bench`: its arguments, handed to the benchmark (`crate::bench`).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub(super) struct BenchArgs {
    #[arg(long, default_value_t = 1000)]
    customers: usize,
    /// Seconds per measured HTTP run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

pub(super) async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    crate::bench::run(crate::bench::Options {
        customers: args.customers,
        seconds: args.seconds,
        concurrency: args.concurrency.max(1),
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
