//! `crm demo`: a broadcaster tenant with staff in every role and synthetic customers.

pub mod synthetic;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crm::app::App;
use crm::audit;
use crm::customers::{self, Changes};
use crm::plugins::Runtime;
use crm::tenants;

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_TENANT_NAME: &str = "Aurora Broadcasting Group";

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub role: String,
    /// Base32 TOTP secret, for users enrolled in two-factor sign-in.
    pub totp_secret: Option<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    pub tenant: String,
    pub url: Option<String>,
    pub users: Vec<DemoUser>,
}

fn demo_password() -> String {
    // Random per install, readable, and within the strength rule (upper, lower, digit, symbol).
    let t = crm::auth::random_token("");
    let core: String = t
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    format!("Demo-{core}-7")
}

/// Converts a synthetic customer into validated changes (the same validation the API applies).
pub fn changes_of(c: &synthetic::SyntheticCustomer) -> anyhow::Result<Changes> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), c.name.clone().into());
    m.insert("email".into(), c.email.clone().into());
    m.insert("phone".into(), c.phone.clone().into());
    m.insert("address".into(), c.address.clone().into());
    m.insert("birth_date".into(), c.birth_date.clone().into());
    if !c.notes.is_empty() {
        m.insert("notes".into(), c.notes.clone().into());
    }
    m.insert("region".into(), c.region.clone().into());
    m.insert("tags".into(), serde_json::json!(c.tags));
    m.insert("consents".into(), serde_json::json!(c.consents));
    customers::validate::changes(&m, true)
        .map_err(|e| anyhow::anyhow!("synthetic customer invalid: {e}"))
}

/// Inserts `n` synthetic customers into a tenant in one transaction, each audited.
pub async fn seed_customers(
    app: &App,
    tenant_id: &str,
    n: usize,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let keys = app
        .tenant_keys(tenant_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = app.store.begin().await?;
    let mut ids = Vec::with_capacity(n);
    for c in synthetic::generate(seed, n) {
        let changes = changes_of(&c)?;
        let id = customers::insert_new(
            app,
            &mut tx,
            &keys,
            &changes,
            &crm::audit::operator_name("demo"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        audit::append(
            &mut tx,
            tenant_id,
            &audit::Event::operator(
                "demo",
                "customer.create",
                format!("customer/{id}"),
                serde_json::json!({"source": "synthetic"}),
            ),
        )
        .await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Creates the demo tenant, its staff and customers, unless they exist. Writes the credentials file.
pub async fn ensure_demo(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    data_dir: &Path,
    customers: usize,
    plugin_data: bool,
) -> anyhow::Result<DemoCredentials> {
    let cred_path = data_dir.join("demo-credentials.json");
    if let Some(t) = app.store.tenant_by_slug(DEMO_TENANT).await? {
        let text = std::fs::read_to_string(&cred_path).map_err(|e| {
            anyhow::anyhow!(
                "the demo tenant exists but {} is unreadable: {e}",
                cred_path.display()
            )
        })?;
        install_first_party(app, rt, &t.id, None).await?;
        return Ok(serde_json::from_str(&text)?);
    }
    let tenant = tenants::create_tenant(app, DEMO_TENANT, DEMO_TENANT_NAME).await?;
    let mut users = Vec::new();
    // Admin and compliance use two-factor sign-in: the policy requires MFA for admin actions and exports.
    let staff: BTreeMap<&str, (&str, bool)> = [
        ("admin", ("admin", true)),
        ("compliance", ("chen.jing", true)),
        ("sales", ("sofia.rossi", false)),
        ("support", ("tom.becker", false)),
        ("marketing", ("lea.dubois", false)),
    ]
    .into_iter()
    .collect();
    for role in crm::auth::ROLES {
        let (username, mfa) = staff[role];
        let password = demo_password();
        let secret = tenants::add_user(
            app,
            &tenant,
            username,
            synthetic::staff_name(role),
            role,
            &password,
            mfa,
        )
        .await?;
        users.push(DemoUser {
            username: username.into(),
            password,
            role: role.into(),
            totp_secret: secret,
        });
    }
    seed_customers(app, &tenant.id, customers, 2026).await?;
    let admin = app
        .store
        .user_by_name(&tenant.id, "admin")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo admin is missing"))?;
    let admin = crm::app::Actor {
        tenant_id: tenant.id.clone(),
        user_id: admin.id,
        username: admin.username,
        role: admin.role,
        mfa: true,
        lang: "en".into(),
        via_plugin: None,
        service: None,
        channel: crm::app::Channel::Cli,
        operator: None,
    };
    install_first_party(app, rt, &tenant.id, plugin_data.then_some(&admin)).await?;
    let creds = DemoCredentials {
        tenant: DEMO_TENANT.into(),
        url: None,
        users,
    };
    write_credentials(&cred_path, &creds)?;
    Ok(creds)
}

/// The first-party plugins, built with the host: (name, component, capabilities to grant).
const FIRST_PARTY: [(&str, &[u8], &[&str]); 4] = [
    (
        "hello",
        include_bytes!(env!("CRM_PLUGIN_HELLO_WASM")),
        &["customers", "log"],
    ),
    (
        "subscriptions",
        include_bytes!(env!("CRM_PLUGIN_SUBSCRIPTIONS_WASM")),
        &["customers", "records", "clock", "log"],
    ),
    (
        "advertiser-deals",
        include_bytes!(env!("CRM_PLUGIN_ADVERTISER_DEALS_WASM")),
        &["customers", "records", "log"],
    ),
    (
        "audience-campaigns",
        include_bytes!(env!("CRM_PLUGIN_AUDIENCE_CAMPAIGNS_WASM")),
        &["customers", "records", "consent", "log"],
    ),
];

/// Installs each first-party plugin the tenant does not have yet (granting what it asks for) and,
/// with `seed_as`, loads its demo data the way an admin would: its `seed-demo` action, called
/// until it reports that everything is seeded.
pub async fn install_first_party(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    tenant_id: &str,
    seed_as: Option<&crm::app::Actor>,
) -> anyhow::Result<()> {
    use crm::plugins::{caps::Capability, lifecycle};
    let installed: Vec<String> = lifecycle::list(app, tenant_id)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    for (name, bytes, grants) in FIRST_PARTY {
        if installed.iter().any(|n| n == name) {
            continue;
        }
        let upload = lifecycle::Upload {
            bytes: bytes.to_vec(),
            signature: None,
            grants: grants.iter().filter_map(|g| Capability::parse(g)).collect(),
            limits: None,
        };
        let operator = crm::app::Actor::operator(tenant_id, "demo");
        let permit = lifecycle::permit(app, &operator, None)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        lifecycle::install(app, rt, &permit, upload, None)
            .await
            .map_err(|e| anyhow::anyhow!("installing {name}: {}", e.message))?;
        if name == "hello" {
            continue;
        }
        if let Some(admin) = seed_as {
            seed_plugin(app, rt, admin, name).await?;
        }
    }
    Ok(())
}

/// Calls a plugin's `seed-demo` action until its notice says it is done (tone `success`). The
/// action is resumable, so a call the sandbox stopped (a busy machine, the deadline) is retried.
async fn seed_plugin(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    admin: &crm::app::Actor,
    name: &str,
) -> anyhow::Result<()> {
    use crm::plugins::abi::latest::ui::{ScreenRef, Tone};
    use crm::plugins::invoke;
    let mut last = String::new();
    for _ in 0..200 {
        let seed = invoke::Submission {
            origin: ScreenRef {
                screen: "main".into(),
                params: Vec::new(),
            },
            row: None,
            inputs: Vec::new(),
        };
        match invoke::act(app, rt, admin, name, "seed-demo", seed).await {
            Ok(out) if out.notice.as_ref().is_some_and(|n| n.tone == Tone::Success) => {
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.code == "plugin_stopped" => last = e.message,
            Err(e) => anyhow::bail!("seeding {name}: {}", e.message),
        }
    }
    anyhow::bail!("seeding {name} did not finish in 200 calls (last failure: {last})")
}

/// Writes the credentials file with mode 0600.
pub fn write_credentials(path: &Path, creds: &DemoCredentials) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(serde_json::to_string_pretty(creds)?.as_bytes())?;
    Ok(())
}
