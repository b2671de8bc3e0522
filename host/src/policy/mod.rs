//! The one policy decision point (PDP). Staff requests and (later) plugin host calls ask it the
//! same question, `{subject, action, resource, context}`, and get `{allow, reasons, obligations}`.
//!
//! The engine behind [`Pdp`] is a seam: today regorus evaluates the Rego in `policies/` natively;
//! a Wasm-compiled engine can replace it without touching any caller.

mod regorus_engine;

pub use regorus_engine::{RegoTestResult, RegorusEngine, run_rego_tests};

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The platform baseline policy, embedded so the binary is self-contained.
pub const PLATFORM_POLICIES: &[(&str, &str)] = &[(
    "policies/platform/authz.rego",
    include_str!("../../../policies/platform/authz.rego"),
)];

/// The baseline policy's own unit tests (`test_*` rules).
pub const PLATFORM_POLICY_TESTS: &[(&str, &str)] = &[(
    "policies/platform/authz_test.rego",
    include_str!("../../../policies/platform/authz_test.rego"),
)];

/// The rule every decision is read from.
pub const DECISION_RULE: &str = "data.crm.authz.decision";

/// Who is asking.
#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: String,
    pub user: String,
    pub roles: Vec<String>,
    pub mfa: bool,
}

/// What is being touched.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub subject: Subject,
    pub action: String,
    pub resource: Resource,
    pub context: serde_json::Value,
}

/// Duties that come with an allow: fields to show masked, fields never to show.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Obligations {
    #[serde(default)]
    pub mask: Vec<String>,
    #[serde(default)]
    pub redact: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub allow: bool,
    pub reasons: Vec<String>,
    pub obligations: Obligations,
    pub policy_version: String,
    #[serde(skip)]
    pub micros: u64,
}

impl Decision {
    fn deny(reason: String, policy_version: &str) -> Self {
        Self {
            allow: false,
            reasons: vec![reason],
            obligations: Obligations::default(),
            policy_version: policy_version.to_string(),
            micros: 0,
        }
    }

    /// Whether `field` may be decrypted in full under this decision.
    pub fn reveals(&self, field: &str) -> bool {
        !self.obligations.mask.iter().any(|f| f == field)
            && !self.obligations.redact.iter().any(|f| f == field)
    }
}

/// Evaluates a decision rule for a JSON input. Implementations must be safe to call concurrently.
pub trait Engine: Send + Sync {
    fn evaluate(&self, input: &serde_json::Value) -> anyhow::Result<serde_json::Value>;
    fn version(&self) -> &str;
}

/// The decision point.
#[derive(Clone)]
pub struct Pdp {
    engine: Arc<dyn Engine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    allow: bool,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    obligations: Obligations,
}

impl Pdp {
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Self { engine }
    }

    /// The platform baseline, evaluated natively by regorus.
    pub fn platform() -> anyhow::Result<Self> {
        Ok(Self::new(Arc::new(RegorusEngine::new(
            PLATFORM_POLICIES,
            DECISION_RULE,
        )?)))
    }

    pub fn version(&self) -> &str {
        self.engine.version()
    }

    /// Decides. Anything but a well-formed decision object (an error, an undefined result, a
    /// malformed answer) is a deny with a reason, never an allow.
    pub fn decide(&self, input: &Input) -> Decision {
        let version = self.engine.version();
        let started = Instant::now();
        let mut decision = match serde_json::to_value(input) {
            Err(e) => Decision::deny(
                format!("policy_error: input not serialisable: {e}"),
                version,
            ),
            Ok(json) => match self.engine.evaluate(&json) {
                Err(e) => Decision::deny(format!("policy_error: {e}"), version),
                Ok(out) => match serde_json::from_value::<RawDecision>(out) {
                    Ok(raw) => Decision {
                        allow: raw.allow,
                        reasons: raw.reasons,
                        obligations: raw.obligations,
                        policy_version: version.to_string(),
                        micros: 0,
                    },
                    Err(e) => Decision::deny(
                        format!("policy_error: the decision is undefined or malformed ({e})"),
                        version,
                    ),
                },
            },
        };
        decision.micros = started.elapsed().as_micros() as u64;
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(role: &str, action: &str, tenant: &str, mfa: bool) -> Input {
        Input {
            subject: Subject {
                kind: "user".into(),
                tenant: "t1".into(),
                user: "u1".into(),
                roles: vec![role.into()],
                mfa,
            },
            action: action.into(),
            resource: Resource {
                kind: "customer".into(),
                tenant: tenant.into(),
                id: Some("c1".into()),
                fields: None,
            },
            context: serde_json::json!({"channel": "api"}),
        }
    }

    #[test]
    fn baseline_policy_unit_tests_pass() {
        let mut files: Vec<(&str, &str)> = PLATFORM_POLICIES.to_vec();
        files.extend_from_slice(PLATFORM_POLICY_TESTS);
        let results = run_rego_tests(&files).expect("policies compile");
        assert!(
            results.len() >= 25,
            "expected the baseline's own tests, found {}",
            results.len()
        );
        let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
        assert!(failed.is_empty(), "failing Rego tests: {failed:?}");
    }

    #[test]
    fn decisions_follow_the_baseline() {
        let pdp = Pdp::platform().unwrap();
        let d = pdp.decide(&input("support", "customer.read", "t1", false));
        assert!(d.allow);
        assert!(d.obligations.mask.contains(&"phone".to_string()));
        assert!(!d.reveals("phone") && !d.reveals("birth_date") && d.reveals("email"));
        assert!(
            !pdp.decide(&input("support", "customer.read", "t2", false))
                .allow
        );
        assert!(
            !pdp.decide(&input("compliance", "customer.export", "t1", false))
                .allow
        );
        assert!(
            pdp.decide(&input("compliance", "customer.export", "t1", true))
                .allow
        );
        assert!(
            !pdp.decide(&input("marketing", "customer.delete", "t1", true))
                .allow
        );
    }

    struct Broken;
    impl Engine for Broken {
        fn evaluate(&self, _: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
            Ok(serde_json::json!({"allow": "yes"}))
        }
        fn version(&self) -> &str {
            "broken"
        }
    }

    #[test]
    fn malformed_engine_answers_deny() {
        let d = Pdp::new(Arc::new(Broken)).decide(&input("admin", "customer.read", "t1", true));
        assert!(!d.allow);
        assert!(d.reasons[0].starts_with("policy_error"));
    }
}
