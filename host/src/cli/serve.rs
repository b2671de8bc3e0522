//! `crm demo` and `crm serve`: open (or create) the data folder and serve the API and the staff
//! web UI; the demo first makes sure its broadcaster exists and prints how to sign in.

use std::process::ExitCode;

use clap::Args;

use crm::server;

use super::{DataArgs, NetArgs};

#[derive(Args)]
pub(super) struct DemoArgs {
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
}

#[derive(Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    net: NetArgs,
}

pub(super) async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let DemoArgs {
        data,
        net,
        customers,
        no_plugin_data,
    } = args;
    let (app, cfg, file) = data.open().await?;
    let plugins = data.plugins()?;
    let (addr, tls) = net.resolve(&file)?;
    eprintln!("Preparing the demo tenant in {} …", cfg.data_dir.display());
    let mut creds = crate::demo::ensure_demo(
        &app,
        &plugins,
        &cfg.data_dir,
        customers as usize,
        !no_plugin_data,
    )
    .await?;
    let cred_path = cfg.data_dir.join("demo-credentials.json");
    server::serve(app, plugins, addr, tls, None, |bound, tls| {
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
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let ServeArgs { data, net } = args;
    let (app, _cfg, file) = data.open().await?;
    let plugins = data.plugins()?;
    let (addr, tls) = net.resolve(&file)?;
    server::serve(app, plugins, addr, tls, None, |bound, tls| {
        println!(
            "CRM is running at {}://{bound}",
            if tls { "https" } else { "http" }
        );
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
