//! The in-process harness of the use-case tests: an `App` on a temporary SQLite database, with
//! one tenant and a staff member per role, decided by the platform baseline (on regorus natively:
//! the same Rego the served module is built from, and `policy`'s tests prove they agree).

use std::sync::Arc;

use crate::app::{Actor, App};
use crate::store::TenantRow;
use crate::vault::{MasterKey, Vault};

pub(crate) struct Harness {
    pub app: Arc<App>,
    /// The plugin runtime (one for every test: an engine reserves its pool's address space).
    pub rt: Arc<crate::plugins::Runtime>,
    pub tenant: TenantRow,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::store::Store::open_sqlite(&dir.path().join("crm.db"))
            .await
            .expect("open store");
        let key = MasterKey::load_or_create(&dir.path().join("master.key")).expect("key");
        let pdp = crate::policy::Pdp::platform_native().expect("baseline");
        let app = Arc::new(App::new(store, Vault::new(key), pdp));
        let tenant = crate::tenants::create_tenant(&app, "acme", "Acme TV")
            .await
            .expect("tenant");
        Self {
            app,
            rt: runtime(),
            tenant,
            _dir: dir,
        }
    }

    /// A new staff member with `role`, signed in with a second factor when `mfa`.
    pub async fn member(&self, role: &str, mfa: bool) -> Actor {
        let name = format!("{role}.{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        crate::tenants::add_user(
            &self.app,
            &self.tenant,
            &name,
            &name,
            role,
            "Quiet-Harbour-Lantern-42",
            mfa,
        )
        .await
        .expect("user");
        let user = self
            .app
            .store
            .user_by_name(&self.tenant.id, &name)
            .await
            .expect("read user")
            .expect("user exists");
        Actor {
            tenant_id: self.tenant.id.clone(),
            user_id: user.id,
            username: user.username,
            role: user.role,
            mfa,
            lang: "en".into(),
            via_plugin: None,
            service: None,
            channel: Default::default(),
            operator: None,
        }
    }

    /// A second tenant's id (with no staff and no customers).
    pub async fn other_tenant(&self) -> String {
        crate::tenants::create_tenant(&self.app, "other", "Other TV")
            .await
            .expect("tenant")
            .id
    }

    /// A new customer of the tenant in `region`, created by a sales member.
    pub async fn customer(&self, region: &str) -> String {
        self.customer_with(serde_json::json!({"name": "Ada Example", "region": region}))
            .await
    }

    /// A new customer of the tenant with the fields of `body`, created by a sales member.
    pub async fn customer_with(&self, body: serde_json::Value) -> String {
        let sales = self.member("sales", false).await;
        let changes = crate::customers::validate::changes(body.as_object().expect("object"), true)
            .expect("valid customer");
        crate::customers::create(&self.app, &sales, &changes)
            .await
            .expect("customer")
            .id
    }

    /// The tenant's audit records, oldest first, as (actor, action, decision, policy version).
    pub async fn audited(&self) -> Vec<(String, String, String, String)> {
        let mut records = crate::audit::list(&self.app.store, &self.tenant.id, 500, None)
            .await
            .expect("audit list");
        records.reverse();
        records
            .into_iter()
            .map(|r| (r.actor, r.action, r.decision, r.policy_version))
            .collect()
    }
}

/// The tests' one plugin runtime, its caches in a folder kept for the process's life.
fn runtime() -> Arc<crate::plugins::Runtime> {
    static RT: std::sync::OnceLock<Arc<crate::plugins::Runtime>> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(crate::plugins::Runtime::new(&dir).expect("plugin runtime"))
    })
    .clone()
}
