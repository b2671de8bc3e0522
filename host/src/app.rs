//! The host's shared state: store, vault, decision point, and the request path's common steps.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::audit;
use crate::error::{AppError, AppResult};
use crate::policy::{Decision, Input, Pdp, Resource, Subject};
use crate::store::Store;
use crate::vault::{FieldRef, SealingKey, TenantKeys, Vault};

/// Where a request came in: the policy sees it as `input.context.channel`, set here once so
/// that every screen, route and command of a use case asks the same question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    /// The JSON API (a Bearer token or the web UI's own API calls).
    #[default]
    Api,
    /// The staff web screens.
    Web,
    /// The `crm` command line, on the server's own machine.
    Cli,
    /// A plugin's host call: for a staff member (through a screen or action) or as its own
    /// service identity (a job, an event delivery).
    Plugin,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Web => "web",
            Channel::Cli => "cli",
            Channel::Plugin => "plugin",
        }
    }
}

/// Who is acting: a signed-in staff member (or, via the CLI, the operator).
#[derive(Debug, Clone)]
pub struct Actor {
    pub tenant_id: String,
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub mfa: bool,
    pub lang: String,
    /// The plugin acting for this staff member, if any: the plugin then has at most the
    /// member's rights, and the policy and the audit trail see both.
    pub via_plugin: Option<String>,
    /// What the plugin runs when no staff member is behind it (`job:<name>`, `event:<topic>`):
    /// the subject is then the plugin's service identity (`type: service`).
    pub service: Option<String>,
    /// Where the request came in (the policy's `context.channel`).
    pub channel: Channel,
    /// Set only for the operator (see [`Actor::operator`]).
    pub operator: Option<&'static str>,
}

impl Actor {
    pub fn subject(&self) -> Subject {
        Subject {
            kind: match (&self.service, &self.via_plugin) {
                (Some(_), _) => "service",
                (None, Some(_)) => "plugin",
                (None, None) => "user",
            }
            .into(),
            tenant: self.tenant_id.clone(),
            user: self.user_id.clone(),
            roles: vec![self.role.clone()],
            mfa: self.mfa,
            plugin: self.via_plugin.clone(),
        }
    }

    /// The operator on the server's own machine (the `crm` command line, the demo set-up), for
    /// one tenant. No tenant policy is asked for it: whoever runs the binary holds the master key
    /// already. Only the binary makes one; nothing a request carries can.
    pub fn operator(tenant_id: &str, name: &'static str) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            user_id: String::new(),
            username: String::new(),
            role: "operator".into(),
            mfa: false,
            lang: "en".into(),
            via_plugin: None,
            service: None,
            channel: Channel::Cli,
            operator: Some(name),
        }
    }

    /// The audit record of what `decision` allowed (or denied) this actor: the one way an event
    /// names its actor and the policy version that decided.
    pub fn audit(
        &self,
        action: &str,
        resource: String,
        decision: &Decision,
        detail: serde_json::Value,
    ) -> audit::Event {
        audit::Event::decided(
            self.audit_name(),
            action,
            resource,
            decision.allow,
            &decision.policy_version,
            detail,
        )
    }

    /// How the actor appears in audit records (ids, not names).
    pub fn audit_name(&self) -> String {
        if let Some(name) = self.operator {
            return audit::operator_name(name);
        }
        match (&self.via_plugin, &self.service) {
            (Some(p), Some(s)) => format!("plugin:{p}/{s}"),
            (Some(p), None) => format!("plugin:{p}/user:{}", self.user_id),
            (None, _) => format!("user:{}", self.user_id),
        }
    }

    /// A plugin's service identity, running `what` (`job:<name>`, `event:<topic>`) with no staff
    /// member behind it.
    pub fn service(tenant_id: &str, plugin: &str, what: String) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            user_id: String::new(),
            username: String::new(),
            role: "service".into(),
            mfa: false,
            lang: "en".into(),
            via_plugin: Some(plugin.to_string()),
            service: Some(what),
            channel: Channel::Plugin,
            operator: None,
        }
    }

    /// The same staff member acting through `plugin`.
    pub fn through_plugin(&self, plugin: &str) -> Self {
        Self {
            via_plugin: Some(plugin.to_string()),
            channel: Channel::Plugin,
            ..self.clone()
        }
    }
}

/// Lookups by email or phone one member may make in ten minutes: enough for a support desk, too
/// few to guess addresses at scale.
pub const LOOKUPS_PER_WINDOW: u32 = 100;

/// Wrong credentials one client address may send in ten minutes.
pub const SIGNIN_FAILURES_PER_ADDRESS: u32 = 30;

pub struct App {
    pub store: Store,
    pub audit: audit::Recorder,
    pub vault: Vault,
    pub pdp: Pdp,
    /// Lookups by email or phone per member (see `customers::list`).
    pub lookups: crate::ratelimit::Window,
    /// Wrong credentials per client address (see `sessions::sign_in`): an address spraying many
    /// usernames is stopped, which per-account counters cannot see.
    pub signin_sources: crate::ratelimit::Window,
    pub settings: crate::config::Settings,
    keys: RwLock<HashMap<String, Arc<TenantKeys>>>,
}

impl App {
    pub fn new(store: Store, vault: Vault, pdp: Pdp) -> Self {
        let store = store.with_audit_chain_key(vault.audit_keys().chain().duplicate());
        Self {
            audit: audit::Recorder::spawn(store.clone()),
            store,
            vault,
            pdp,
            lookups: crate::ratelimit::Window::new(
                LOOKUPS_PER_WINDOW,
                std::time::Duration::from_secs(600),
            ),
            signin_sources: crate::ratelimit::Window::new(
                SIGNIN_FAILURES_PER_ADDRESS,
                std::time::Duration::from_secs(600),
            ),
            settings: crate::config::Settings::default(),
            keys: RwLock::new(HashMap::new()),
        }
    }

    /// The tenant's unwrapped keys, cached after the first use.
    pub async fn tenant_keys(&self, tenant_id: &str) -> AppResult<Arc<TenantKeys>> {
        if let Some(k) = self
            .keys
            .read()
            .ok()
            .and_then(|m| m.get(tenant_id).cloned())
        {
            return Ok(k);
        }
        let wrapped = self.store.tenant_keys(tenant_id).await?;
        let keys = Arc::new(self.vault.tenant_keys(tenant_id, &wrapped)?);
        if let Ok(mut m) = self.keys.write() {
            m.insert(tenant_id.to_string(), keys.clone());
        }
        Ok(keys)
    }

    /// A subject's key, unwrapped; `None` when the subject does not exist (or was erased).
    pub async fn subject_key(
        &self,
        keys: &TenantKeys,
        subject: &str,
    ) -> AppResult<Option<SealingKey>> {
        let Some((_, key_version, wrapped)) = self.store.subject_key(&keys.tenant, subject).await?
        else {
            return Ok(None);
        };
        Ok(Some(keys.unwrap_subject_key(
            subject,
            key_version,
            &wrapped,
        )?))
    }

    /// Asks the decision point; a deny is audited here and returned as a `Forbidden` error.
    /// `context` is what the use case adds to the input (an object, or null); the actor's
    /// channel is written into it here, so no caller can name another.
    pub async fn authorize(
        &self,
        actor: &Actor,
        action: &str,
        resource: Resource,
        context: serde_json::Value,
    ) -> AppResult<Decision> {
        if actor.operator.is_some() {
            return Ok(Decision::operator());
        }
        let mut context = match context {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        context.insert("channel".into(), actor.channel.as_str().into());
        let context = serde_json::Value::Object(context);
        let resource_name = match &resource.id {
            Some(id) => format!("{}/{id}", resource.kind),
            None => resource.kind.clone(),
        };
        let decision = self
            .pdp
            .decide(&Input {
                subject: actor.subject(),
                action: action.to_string(),
                resource,
                context,
            })
            .await;
        self.audit.log_decision(
            &actor.tenant_id,
            crate::store::DecisionRow {
                at: crate::store::now_ms(),
                action: action.to_string(),
                input_digest: decision.input_digest.clone(),
                policy_version: decision.policy_version.clone(),
                allow: decision.allow as i64,
                reasons: serde_json::to_string(&decision.reasons).unwrap_or_default(),
                micros: decision.micros as i64,
            },
        );
        if !decision.allow {
            self.audit
                .record(
                    &actor.tenant_id,
                    &actor.audit(
                        action,
                        resource_name,
                        &decision,
                        serde_json::json!({"reasons": decision.reasons}),
                    ),
                )
                .await?;
            return Err(AppError::forbidden(&decision.deny_reasons));
        }
        Ok(decision)
    }

    /// Seals a TOTP secret under the tenant's data key.
    pub async fn seal_totp(
        &self,
        tenant_id: &str,
        user_id: &str,
        secret: &str,
    ) -> AppResult<Vec<u8>> {
        let keys = self.tenant_keys(tenant_id).await?;
        Ok(keys
            .dek
            .seal(&totp_ref(tenant_id, user_id), secret.as_bytes()))
    }

    pub async fn open_totp(
        &self,
        tenant_id: &str,
        user_id: &str,
        sealed: &[u8],
    ) -> AppResult<String> {
        let keys = self.tenant_keys(tenant_id).await?;
        Ok(keys
            .dek
            .open_string(&totp_ref(tenant_id, user_id), sealed)?)
    }
}

fn totp_ref<'a>(tenant: &'a str, user: &'a str) -> FieldRef<'a> {
    FieldRef {
        tenant,
        table: "users",
        record: user,
        field: "totp_secret",
    }
}
