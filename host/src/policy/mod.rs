//! The one policy decision point (PDP). Staff requests and (later) plugin host calls ask it the
//! same question, `{subject, action, resource, context}`, and get `{allow, reasons, obligations}`.
//!
//! The engine behind [`Pdp`] is a seam. The host runs [`WasmEngine`]: Rego compiled to a Wasm
//! module in OPA's ABI (`policies/compiler`), evaluated by `opa-wasm` in Wasmtime. regorus
//! evaluating the same Rego natively ([`RegorusEngine`]) checks sets, runs their `test_*` rules
//! and is the baseline the benchmark compares against.

mod regorus_engine;
mod wasm_engine;

pub use regorus_engine::{RegoTestResult, RegorusEngine, run_rego_tests};
pub use wasm_engine::{Tier, WasmEngine, set_cache_dir};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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

/// Actions only the baseline decides (see [`Pdp::decide`]).
pub const LIFECYCLE_ACTIONS: &[&str] = &["policy.read", "policy.publish"];

/// Why `out` is not a decision the host can act on (`None`: it is one).
pub fn malformed_decision(out: serde_json::Value) -> Option<String> {
    RawDecision::read(out).err()
}

/// Most reasons one decision may give, and most characters in one.
pub const MAX_REASONS: usize = 32;
pub const MAX_REASON_CHARS: usize = 500;
/// Most entries in one obligation list, and most characters in one entry.
pub const MAX_OBLIGATION_ENTRIES: usize = 32;
pub const MAX_OBLIGATION_CHARS: usize = 64;

/// The rule every decision is read from.
pub const DECISION_RULE: &str = "data.crm.authz.decision";

/// The rule a tenant's own policy set answers with (same shape); it can only narrow the baseline.
pub const TENANT_DECISION_RULE: &str = "data.crm.tenant.decision";

/// A rule's name as an OPA Wasm entrypoint: `data.crm.authz.decision` → `crm/authz/decision`.
pub fn opa_entrypoint(rule: &str) -> String {
    rule.trim_start_matches("data.").replace('.', "/")
}

/// Who is asking.
///
/// The fields of [`Input`], [`Subject`] and [`Resource`] are declared in the order of their JSON
/// names, so an input serialises as canonical (sorted-key) JSON: the text whose SHA-256 the
/// decision log keeps stays the same whichever way the input is written out.
#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    pub mfa: bool,
    /// For `type: plugin`: the plugin acting for `user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    pub roles: Vec<String>,
    pub tenant: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub user: String,
}

/// What is being touched.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    /// Facts about the thing the policy decides with (a customer's restriction and consents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub tenant: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Resource {
    /// A resource of one tenant, by kind and (when it names one) id, with no field list.
    pub fn of(kind: &str, tenant: &str, id: Option<String>) -> Self {
        Self {
            attributes: None,
            fields: None,
            id,
            tenant: tenant.to_string(),
            kind: kind.to_string(),
        }
    }
}

/// A request to decide (fields in the order of their JSON names: see [`Subject`]).
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub action: String,
    pub context: serde_json::Value,
    pub resource: Resource,
    pub subject: Subject,
}

/// Duties that come with an allow: fields to show masked, fields never to show, and the consent
/// purposes a customer must have granted to take part in the request. A duty the host does not
/// know fails the decision (it denies) rather than being ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Obligations {
    #[serde(default)]
    pub mask: Vec<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    /// A customer who has not granted every one of these purposes is left out of a list and
    /// refused (403 `purpose_not_consented`) when named.
    #[serde(default)]
    pub purposes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub allow: bool,
    pub reasons: Vec<String>,
    pub obligations: Obligations,
    pub policy_version: String,
    #[serde(skip)]
    pub micros: u64,
    /// SHA-256 of the input, for the decision log (the input itself is never logged).
    #[serde(skip)]
    pub input_digest: String,
    /// The reasons of the policies that denied (empty when allowed): what a refused caller is
    /// told, without the allowing side's "allowed: …" reasons.
    #[serde(skip)]
    pub deny_reasons: Vec<String>,
}

impl Decision {
    /// The operator's allowance: no policy was asked (see `Actor::operator`), so it names no
    /// policy version.
    pub fn operator() -> Self {
        Self {
            allow: true,
            reasons: vec!["operator".into()],
            obligations: Obligations::default(),
            policy_version: String::new(),
            micros: 0,
            input_digest: String::new(),
            deny_reasons: Vec::new(),
        }
    }

    fn deny(reason: String, policy_version: &str) -> Self {
        Self {
            allow: false,
            reasons: vec![reason.clone()],
            obligations: Obligations::default(),
            policy_version: policy_version.to_string(),
            micros: 0,
            input_digest: String::new(),
            deny_reasons: vec![reason],
        }
    }

    /// This decision AND `other`: allowed only if both allow; reasons and obligations merged.
    fn and(mut self, other: Decision) -> Decision {
        self.allow = self.allow && other.allow;
        self.deny_reasons.extend(other.deny_reasons);
        for r in other.reasons {
            if !self.reasons.contains(&r) {
                self.reasons.push(r);
            }
        }
        for (mine, theirs) in [
            (&mut self.obligations.mask, other.obligations.mask),
            (&mut self.obligations.redact, other.obligations.redact),
            (&mut self.obligations.purposes, other.obligations.purposes),
        ] {
            for f in theirs {
                if !mine.contains(&f) {
                    mine.push(f);
                }
            }
            mine.sort();
        }
        // A field both masked and redacted is redacted.
        let redact = self.obligations.redact.clone();
        self.obligations.mask.retain(|f| !redact.contains(f));
        self.policy_version = format!("{}+{}", self.policy_version, other.policy_version);
        self
    }

    /// Whether `field` may be decrypted in full under this decision.
    pub fn reveals(&self, field: &str) -> bool {
        !self.obligations.mask.iter().any(|f| f == field)
            && !self.obligations.redact.iter().any(|f| f == field)
    }
}

/// Evaluates a decision rule for a JSON input. Implementations must be safe to call concurrently.
///
/// The input comes as JSON text: the decision point serialises a request once, for every
/// engine it asks and for the digest it logs.
pub trait Engine: Send + Sync {
    fn evaluate(&self, input: &RawValue) -> anyhow::Result<serde_json::Value>;
    fn version(&self) -> &str;
}

/// A tenant's active policy set.
pub struct TenantPolicy {
    pub version: i64,
    pub engine: Arc<dyn Engine>,
}

/// The decision point: the platform baseline AND the tenant's own active policy, if it has one.
///
/// The baseline is the platform's own, bounded and fast, and is evaluated on the caller's thread.
/// A tenant's policy is tenant-written: [`Pdp::decide`] evaluates it on the blocking pool, never
/// on the async workers, under its CPU budget, with at most [`TENANT_SLOTS`] evaluations of one
/// tenant and a few per core of the host running at once.
#[derive(Clone)]
pub struct Pdp {
    engine: Arc<dyn Engine>,
    /// How the baseline evaluates: `rvm` (compiled module), `native` (regorus), `custom`.
    baseline_mode: &'static str,
    tenants: Arc<RwLock<HashMap<String, Arc<TenantPolicy>>>>,
    slots: Arc<Slots>,
}

/// Tenant-policy evaluations one tenant may have running at once.
pub const TENANT_SLOTS: usize = 2;
/// How long a decision waits for a slot before it denies (fails closed).
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Bounds on tenant-policy evaluations running at once: per tenant and per host.
struct Slots {
    host: Arc<tokio::sync::Semaphore>,
    tenants: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl Slots {
    fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            host: Arc::new(tokio::sync::Semaphore::new((cores * 2).max(4))),
            tenants: Default::default(),
        }
    }

    fn of(&self, tenant: &str) -> Option<Arc<tokio::sync::Semaphore>> {
        let mut m = self.tenants.lock().ok()?;
        if m.len() > 10_000 {
            m.retain(|_, s| s.available_permits() < TENANT_SLOTS);
        }
        Some(
            m.entry(tenant.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(TENANT_SLOTS)))
                .clone(),
        )
    }

    /// Evaluates a tenant's policy on the blocking pool once a slot of the tenant and one of the
    /// host are free; denies when none frees up in time.
    async fn evaluate(
        &self,
        policy: Arc<TenantPolicy>,
        tenant: &str,
        input: Box<RawValue>,
    ) -> Decision {
        let label = format!("tenant@v{}", policy.version);
        let deny = |why: &str| Decision::deny(format!("tenant: policy_error: {why}"), &label);
        let Some(mine) = self.of(tenant) else {
            return deny("no evaluation slot");
        };
        let permits = async {
            let t = mine.acquire_owned().await.ok()?;
            let h = self.host.clone().acquire_owned().await.ok()?;
            Some((t, h))
        };
        let Ok(Some(permits)) = tokio::time::timeout(SLOT_WAIT, permits).await else {
            return deny("too many decisions are waiting for this tenant's policy; try again");
        };
        let run_label = label.clone();
        tokio::task::spawn_blocking(move || {
            let _permits = permits;
            evaluate(policy.engine.as_ref(), &input, &run_label, "tenant: ")
        })
        .await
        .unwrap_or_else(|_| deny("the evaluation failed"))
    }
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

impl RawDecision {
    /// Reads a policy's answer, refusing anything the host would not pass on as it is: reasons
    /// reach responses, the decision log and the audit trail, so they are bounded in number and
    /// length and hold no control characters; an obligation names fields or purposes, so each
    /// entry is a short identifier. An error quotes at most 120 characters of the answer.
    fn read(out: serde_json::Value) -> Result<Self, String> {
        let raw: RawDecision = serde_json::from_value(out)
            .map_err(|e| e.to_string().chars().take(120).collect::<String>())?;
        if raw.reasons.len() > MAX_REASONS {
            return Err(format!(
                "the decision gives {} reasons; at most {MAX_REASONS} are allowed",
                raw.reasons.len()
            ));
        }
        if let Some(i) = raw
            .reasons
            .iter()
            .position(|r| r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control))
        {
            return Err(format!(
                "reason {} is longer than {MAX_REASON_CHARS} characters or holds control characters",
                i + 1
            ));
        }
        let o = &raw.obligations;
        for (name, list) in [
            ("mask", &o.mask),
            ("redact", &o.redact),
            ("purposes", &o.purposes),
        ] {
            let identifier = |e: &String| {
                (1..=MAX_OBLIGATION_CHARS).contains(&e.len())
                    && e.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)
                    })
            };
            if list.len() > MAX_OBLIGATION_ENTRIES || !list.iter().all(identifier) {
                return Err(format!(
                    "obligation `{name}` must list at most {MAX_OBLIGATION_ENTRIES} names of a-z, \
                     0-9, _ . - (at most {MAX_OBLIGATION_CHARS} characters each)"
                ));
            }
        }
        Ok(raw)
    }
}

impl Pdp {
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Self {
            engine,
            baseline_mode: "custom",
            tenants: Arc::new(RwLock::new(HashMap::new())),
            slots: Arc::new(Slots::new()),
        }
    }

    /// The platform baseline, compiled to Wasm and evaluated in Wasmtime.
    ///
    /// The baseline runs on the regorus RVM (about 4x faster than the in-module interpreter),
    /// while tenants' sets stay on the interpreter. The RVM's known wrong answers are for Rego
    /// this policy does not contain: complete rules that could conflict (each of its complete
    /// rules has one definition or an `else` chain, and one solution), `default` functions,
    /// possibly-undefined values inside collection literals, iteration over a value that may
    /// not be a collection without a type guard. What proves it: the differential test
    /// compiles the baseline in this mode against regorus natively over randomised and
    /// malformed requests, and `baseline_on_the_rvm_agrees_with_native` walks every action,
    /// role set, subject type, tenant, MFA state and field list. Should a change to the
    /// baseline leave the RVM's reach, this fails at start-up (and in every test) instead of
    /// quietly falling back.
    pub fn platform() -> anyhow::Result<Self> {
        let module = crm_policy_compiler::compile_with(
            PLATFORM_POLICIES,
            &[DECISION_RULE],
            crm_policy_compiler::Options {
                mode: crm_policy_compiler::ModeChoice::RvmOnly,
                ..Default::default()
            },
        )?
        .wasm;
        let version = RegorusEngine::version_of(PLATFORM_POLICIES);
        Ok(Self {
            baseline_mode: "rvm",
            ..Self::new(Arc::new(WasmEngine::new(
                &module,
                serde_json::json!({}),
                DECISION_RULE,
                version,
            )?))
        })
    }

    /// The platform baseline evaluated natively by regorus (the benchmark's baseline).
    pub fn platform_native() -> anyhow::Result<Self> {
        Ok(Self {
            baseline_mode: "native",
            ..Self::new(Arc::new(RegorusEngine::new(
                PLATFORM_POLICIES,
                DECISION_RULE,
            )?))
        })
    }

    /// The baseline's version.
    pub fn version(&self) -> &str {
        self.engine.version()
    }

    /// How the baseline evaluates: `rvm`, `native` or `custom`.
    pub fn baseline_mode(&self) -> &'static str {
        self.baseline_mode
    }

    /// Swaps in a tenant's policy atomically: a decision sees the old set or the new, never a mix.
    pub fn set_tenant_policy(&self, tenant: &str, policy: Option<TenantPolicy>) {
        if let Ok(mut m) = self.tenants.write() {
            match policy {
                Some(p) => m.insert(tenant.to_string(), Arc::new(p)),
                None => m.remove(tenant),
            };
        }
    }

    /// Swaps in a faster build of the version in force (the optimised tier), unless another
    /// version has been activated meanwhile.
    pub fn upgrade_tenant_policy(&self, tenant: &str, policy: TenantPolicy) {
        if let Ok(mut m) = self.tenants.write()
            && m.get(tenant).is_some_and(|p| p.version == policy.version)
        {
            m.insert(tenant.to_string(), Arc::new(policy));
        }
    }

    /// The version of a tenant's policy in force here, if any.
    pub fn tenant_version(&self, tenant: &str) -> Option<i64> {
        self.tenants.read().ok()?.get(tenant).map(|p| p.version)
    }

    /// Decides. Anything but a well-formed decision object (an error, an undefined result, a
    /// malformed answer) is a deny with a reason, never an allow. The tenant's policy, if any, is
    /// evaluated off the async workers (see [`Pdp`]).
    ///
    /// The policy lifecycle's own actions (`policy.read`, `policy.publish`) are the baseline's
    /// alone: a tenant's set that denies everything must not lock its compliance team out of
    /// rolling it back.
    pub async fn decide(&self, input: &Input) -> Decision {
        let started = Instant::now();
        let (mut decision, json) = self.baseline(input);
        let Some(json) = json else {
            return decision;
        };
        if let Some(t) = self.tenant_policy(input) {
            let tenant = self
                .slots
                .evaluate(t, &input.subject.tenant, json.clone())
                .await;
            decision = decision.and(tenant);
        }
        finish(decision, &json, started)
    }

    /// [`Pdp::decide`] entirely on the calling thread (benchmarks and tests).
    pub fn decide_here(&self, input: &Input) -> Decision {
        let started = Instant::now();
        let (mut decision, json) = self.baseline(input);
        let Some(json) = json else {
            return decision;
        };
        if let Some(t) = self.tenant_policy(input) {
            let label = format!("tenant@v{}", t.version);
            decision = decision.and(evaluate(t.engine.as_ref(), &json, &label, "tenant: "));
        }
        finish(decision, &json, started)
    }

    /// The baseline's decision on `input`, and the input as JSON (none when it cannot be
    /// serialised, and the decision denies).
    fn baseline(&self, input: &Input) -> (Decision, Option<Box<RawValue>>) {
        match serde_json::value::to_raw_value(input) {
            Ok(json) => (
                evaluate(self.engine.as_ref(), &json, self.version(), ""),
                Some(json),
            ),
            Err(e) => (
                Decision::deny(
                    format!("policy_error: input not serialisable: {e}"),
                    self.version(),
                ),
                None,
            ),
        }
    }

    /// The tenant's policy that takes part in deciding `input`, if any.
    fn tenant_policy(&self, input: &Input) -> Option<Arc<TenantPolicy>> {
        if LIFECYCLE_ACTIONS.contains(&input.action.as_str()) {
            return None;
        }
        self.tenants
            .read()
            .ok()
            .and_then(|m| m.get(&input.subject.tenant).cloned())
    }
}

/// Stamps a decision with its input's digest and its time, and counts it.
fn finish(mut decision: Decision, json: &RawValue, started: Instant) -> Decision {
    decision.input_digest = hex::encode(Sha256::digest(json.get().as_bytes()));
    decision.micros = started.elapsed().as_micros() as u64;
    crate::metrics::decision(decision.allow, decision.micros);
    decision
}

/// `{}`: the input a freshly loaded engine is checked with.
fn empty_input() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap_or_default()
}

fn evaluate(engine: &dyn Engine, input: &RawValue, version: &str, prefix: &str) -> Decision {
    match engine.evaluate(input) {
        Err(e) => Decision::deny(format!("{prefix}policy_error: {e}"), version),
        Ok(out) => match RawDecision::read(out) {
            Ok(raw) => {
                let reasons: Vec<String> = raw
                    .reasons
                    .into_iter()
                    .map(|r| format!("{prefix}{r}"))
                    .collect();
                Decision {
                    allow: raw.allow,
                    deny_reasons: if raw.allow { vec![] } else { reasons.clone() },
                    reasons,
                    obligations: raw.obligations,
                    policy_version: version.to_string(),
                    micros: 0,
                    input_digest: String::new(),
                }
            }
            Err(e) => Decision::deny(
                format!("{prefix}policy_error: the decision is undefined or malformed ({e})"),
                version,
            ),
        },
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
                plugin: None,
            },
            action: action.into(),
            resource: Resource {
                attributes: None,
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
        let d = pdp.decide_here(&input("support", "customer.read", "t1", false));
        assert!(d.allow);
        assert!(d.obligations.mask.contains(&"phone".to_string()));
        assert!(!d.reveals("phone") && !d.reveals("birth_date") && d.reveals("email"));
        assert!(
            !pdp.decide_here(&input("support", "customer.read", "t2", false))
                .allow
        );
        assert!(
            !pdp.decide_here(&input("compliance", "customer.export", "t1", false))
                .allow
        );
        assert!(
            pdp.decide_here(&input("compliance", "customer.export", "t1", true))
                .allow
        );
        assert!(
            !pdp.decide_here(&input("marketing", "customer.delete", "t1", true))
                .allow
        );
    }

    #[test]
    fn an_input_serialises_as_canonical_json_so_its_logged_digest_is_stable() {
        let mut i = input("support", "customer.update", "t1", true);
        i.subject.plugin = Some("hello".into());
        i.resource.fields = Some(vec!["notes".into(), "email".into()]);
        i.context = serde_json::json!({"zone": 1, "channel": "api"});
        for i in [i, input("admin", "customer.read", "t2", false)] {
            let raw = serde_json::value::to_raw_value(&i).unwrap();
            let canonical = serde_json::to_value(&i).unwrap().to_string();
            assert_eq!(raw.get(), canonical);
        }
    }

    struct Broken;
    impl Engine for Broken {
        fn evaluate(&self, _: &RawValue) -> anyhow::Result<serde_json::Value> {
            Ok(serde_json::json!({"allow": "yes"}))
        }
        fn version(&self) -> &str {
            "broken"
        }
    }

    /// `rego` compiled to a tenant module and loaded (optimised code).
    fn tenant_engine(rego: &str) -> anyhow::Result<WasmEngine> {
        let wasm = crm_policy_compiler::compile_with(
            &[("p.rego", rego)],
            &[TENANT_DECISION_RULE],
            crm_policy_compiler::Options::default(),
        )
        .expect("compiles")
        .wasm;
        WasmEngine::new(
            &wasm,
            serde_json::json!({}),
            TENANT_DECISION_RULE,
            "test".into(),
        )
    }

    /// Publishes `rego` as tenant t1's policy, compiled to Wasm, and asks for a decision.
    fn decide_under(pdp: &Pdp, rego: &str) -> (Decision, std::time::Duration) {
        // Loading evaluates the policy once with an empty input, which takes the cheap branch.
        let engine = tenant_engine(rego).expect("loads");
        pdp.set_tenant_policy(
            "t1",
            Some(TenantPolicy {
                version: 1,
                engine: Arc::new(engine),
            }),
        );
        let started = Instant::now();
        let d = pdp.decide_here(&input("admin", "customer.read", "t1", true));
        (d, started.elapsed())
    }

    const ALLOW: &str =
        "{\"allow\": true, \"reasons\": [], \"obligations\": {\"mask\": [], \"redact\": []}}";

    #[test]
    fn pathological_tenant_policies_are_stopped_and_deny() {
        let pdp = Pdp::platform().unwrap();
        let cases = [
            // A huge comprehension: 16 M iterations.
            format!(
                "package crm.tenant\ndefault decision := {{\"allow\": false}}\n\
                 decision := {ALLOW} if {{\n input.action == \"customer.read\"\n\
                 count([1 | some i in numbers.range(1, 4000); some j in numbers.range(1, 4000)]) > 0\n}}\n"
            ),
            // Deep nesting: comprehensions six levels deep, 30^6 = 729 M iterations.
            format!(
                "package crm.tenant\ndefault decision := {{\"allow\": false}}\n\
                 decision := {ALLOW} if {{\n input.action == \"customer.read\"\n\
                 count([a | some a in numbers.range(1, 30); count([b | some b in numbers.range(1, 30);\
                 count([c | some c in numbers.range(1, 30); count([d | some d in numbers.range(1, 30);\
                 count([e | some e in numbers.range(1, 30); count([f | some f in numbers.range(1, 30)]) > 0]) > 0\
                 ]) > 0]) > 0]) > 0]) > 0\n}}\n"
            ),
            // Memory: a 30-million-element array.
            format!(
                "package crm.tenant\ndefault decision := {{\"allow\": false}}\n\
                 decision := {ALLOW} if {{\n input.action == \"customer.read\"\n\
                 count(numbers.range(1, 30000000)) > 0\n}}\n"
            ),
        ];
        for rego in &cases {
            let (d, took) = decide_under(&pdp, rego);
            assert!(!d.allow, "{d:?}");
            assert!(
                d.reasons
                    .iter()
                    .any(|r| r.starts_with("tenant: policy_error") && r.contains("limit")),
                "{:?}",
                d.reasons
            );
            // Stopped by its budget, not run to the end.
            assert!(took < std::time::Duration::from_secs(5), "{took:?}");
            // The host keeps deciding: the baseline alone still allows after the tenant policy goes.
            pdp.set_tenant_policy("t1", None);
            assert!(
                pdp.decide_here(&input("admin", "customer.read", "t1", true))
                    .allow
            );
        }
    }

    /// The baseline runs on the RVM (see [`Pdp::platform`]): it must answer exactly as regorus
    /// does natively for every action, role set, subject type, tenant pairing, MFA state, field
    /// list and self/other resource, and for malformed requests. Long because it is the table
    /// of those cases; one loop compares the engines on all of them.
    #[test]
    fn baseline_on_the_rvm_agrees_with_native() {
        let wasm = Pdp::platform().unwrap();
        let native = Pdp::platform_native().unwrap();
        let actions = [
            "customer.list",
            "customer.read",
            "customer.lookup",
            "customer.create",
            "customer.update",
            "customer.delete",
            "customer.export",
            "interaction.create",
            "audit.read",
            "audit.verify",
            "user.manage",
            "tenant.admin",
            "policy.read",
            "policy.publish",
            "decision.read",
            "self.mfa.enroll",
            "self.token.create",
            "self.token.manage",
            "plugin.list",
            "plugin.render",
            "plugin.act",
            "plugin.manage",
            "record.read",
            "record.write",
            "event.emit",
            "customer.nuke",
            "",
        ];
        let role_sets: &[&[&str]] = &[
            &[],
            &["admin"],
            &["compliance"],
            &["sales"],
            &["support"],
            &["marketing"],
            &["sales", "support"],
            &["support", "marketing"],
            &["compliance", "marketing"],
            &["admin", "compliance", "sales", "support", "marketing"],
            &["service"],
            &["service", "admin"],
            &["nobody"],
        ];
        let fields: &[Option<&[&str]>] = &[
            None,
            Some(&[]),
            Some(&["email", "notes"]),
            Some(&["name", "birth_date", "region"]),
            Some(&["email", "password"]),
            Some(&["email"]),
            Some(&["phone"]),
            Some(&["email", "phone"]),
        ];
        let mut n = 0;
        for action in actions {
            let writes =
                ["customer.create", "customer.update", "customer.lookup"].contains(&action);
            let ids: &[&str] = if action.starts_with("self.") {
                &["u1", "u2"]
            } else {
                &["c1"]
            };
            for roles in role_sets {
                for kind in ["user", "plugin", "service", "robot"] {
                    for tenant in ["t1", "t2", ""] {
                        for mfa in [false, true] {
                            for f in if writes { fields } else { &fields[..1] } {
                                for id in ids {
                                    let i = Input {
                                        subject: Subject {
                                            kind: kind.into(),
                                            tenant: "t1".into(),
                                            user: "u1".into(),
                                            roles: roles.iter().map(|r| r.to_string()).collect(),
                                            mfa,
                                            plugin: (kind != "user").then(|| "deals".into()),
                                        },
                                        action: action.into(),
                                        resource: Resource {
                                            attributes: None,
                                            kind: "customer".into(),
                                            tenant: tenant.into(),
                                            id: Some(id.to_string()),
                                            fields: f
                                                .map(|f| f.iter().map(|s| s.to_string()).collect()),
                                        },
                                        context: serde_json::json!({"channel": "api"}),
                                    };
                                    let decide = || (wasm.decide_here(&i), native.decide_here(&i));
                                    let (mut a, mut b) = decide();
                                    // Native regorus's budget is wall-clock: a busy machine can
                                    // stop it. A real disagreement is the same the second time.
                                    if (a.allow, &a.reasons, &a.obligations)
                                        != (b.allow, &b.reasons, &b.obligations)
                                    {
                                        (a, b) = decide();
                                    }
                                    assert_eq!(
                                        (a.allow, &a.reasons, &a.obligations),
                                        (b.allow, &b.reasons, &b.obligations),
                                        "{kind} {roles:?} {action} {tenant} mfa={mfa} {f:?} {id}"
                                    );
                                    n += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 10_000, "{n}");
        // Malformed requests, as raw JSON: the same answer (or both an error).
        for raw in [
            serde_json::json!({}),
            serde_json::json!(null),
            serde_json::json!([1, 2]),
            serde_json::json!({"subject": 3, "action": "customer.read"}),
            serde_json::json!({"subject": {"type": "user", "roles": "admin", "tenant": "t1"},
                "action": "customer.read", "resource": {"tenant": "t1"}}),
            serde_json::json!({"subject": {"type": "user", "roles": [1, "admin", null], "tenant": "t1",
                "mfa": "true"}, "action": "customer.export", "resource": {"tenant": "t1"}}),
            serde_json::json!({"subject": {"type": "user", "roles": ["sales"], "tenant": "t1"},
                "action": "customer.update", "resource": {"tenant": "t1", "fields": "email"}}),
            serde_json::json!({"subject": {"type": "user", "roles": ["sales"], "tenant": "t1"},
                "action": "customer.update", "resource": {"tenant": "t1", "fields": [1, "email", {}]}}),
            serde_json::json!({"subject": {"type": "user", "roles": ["admin"], "tenant": "t1"},
                "action": 7, "resource": {"tenant": "t1"}}),
            serde_json::json!({"subject": {"type": "user", "roles": ["admin"], "tenant": 1},
                "action": "customer.read", "resource": {"tenant": 1}}),
            serde_json::json!({"subject": {"type": "plugin", "roles": ["admin"], "tenant": "t1",
                "plugin": 5}, "action": "record.read", "resource": {"tenant": "t1"}}),
            serde_json::json!({"subject": {"type": "user", "roles": ["admin"], "tenant": "t1",
                "user": "u1"}, "action": "self.token.create", "resource": {"tenant": "t1"}}),
        ] {
            let json = serde_json::value::to_raw_value(&raw).unwrap();
            let (a, b) = (wasm.engine.evaluate(&json), native.engine.evaluate(&json));
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{raw}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{raw}: Wasm {a:?}, native {b:?}"),
            }
        }
    }

    #[test]
    fn tenant_policies_can_use_the_clock_and_calendar() {
        let pdp = Pdp::platform().unwrap();
        // A records freeze from a date on (the host's clock, through the module's host builtins),
        // and weekend reads refused: a rule a compliance team writes with time builtins.
        let freeze = |from: &str| {
            format!(
                r#"package crm.tenant
default decision := {{"allow": true, "reasons": [], "obligations": {{"mask": [], "redact": []}}}}
decision := {{"allow": false, "reasons": [reason], "obligations": {{"mask": [], "redact": []}}}} if {{
	time.now_ns() >= time.parse_rfc3339_ns("{from}")
	[y, _, _] := time.date(time.now_ns())
	reason := sprintf("freeze: since {from} (year %d)", [y])
}}
"#
            )
        };
        let (d, _) = decide_under(&pdp, &freeze("2020-01-01T00:00:00Z"));
        assert!(!d.allow, "{:?}", d.reasons);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.starts_with("tenant: freeze: since 2020-01-01T00:00:00Z (year 20")),
            "{:?}",
            d.reasons
        );
        // The log keeps both sides' reasons; the refused caller is told only the tenant's.
        assert!(d.reasons.iter().any(|r| r.starts_with("allowed: ")));
        assert!(
            d.deny_reasons.len() == 1 && d.deny_reasons[0].starts_with("tenant: freeze: "),
            "{:?}",
            d.deny_reasons
        );
        let (d, _) = decide_under(&pdp, &freeze("2200-01-01T00:00:00Z"));
        assert!(d.allow && d.deny_reasons.is_empty(), "{:?}", d.reasons);
        // A host builtin's error fails the evaluation: a set that fails on every input is
        // refused when it loads, before it could deny everything.
        let err = tenant_engine(&freeze("not a time"))
            .err()
            .expect("refused at load");
        assert!(format!("{err:#}").contains("evaluation failed"), "{err:#}");
    }

    #[test]
    fn malformed_engine_answers_deny() {
        let d =
            Pdp::new(Arc::new(Broken)).decide_here(&input("admin", "customer.read", "t1", true));
        assert!(!d.allow);
        assert!(d.reasons[0].starts_with("policy_error"));
    }

    /// A tenant set answering with `answer` (its tests: none).
    fn tenant_answering(pdp: &Pdp, answer: &str) -> Decision {
        let rego = format!("package crm.tenant\ndecision := {answer}\n");
        decide_under(pdp, &rego).0
    }

    #[test]
    fn a_tenant_set_cannot_lock_out_its_own_policy_lifecycle() {
        let pdp = Pdp::platform().unwrap();
        let deny_all =
            r#"{"allow": false, "reasons": ["closed"], "obligations": {"mask": [], "redact": []}}"#;
        let d = tenant_answering(&pdp, deny_all);
        assert!(!d.allow, "the set does narrow other actions");
        for action in LIFECYCLE_ACTIONS {
            let d = pdp.decide_here(&input("compliance", action, "t1", true));
            assert!(d.allow, "{action}: {:?}", d.reasons);
            assert!(!d.policy_version.contains("tenant"), "{}", d.policy_version);
        }
        // The baseline still decides them: no MFA, no publish.
        assert!(
            !pdp.decide_here(&input("compliance", "policy.publish", "t1", false))
                .allow
        );
    }

    #[test]
    fn purposes_are_merged_and_an_unknown_duty_denies() {
        let pdp = Pdp::platform().unwrap();
        let d = tenant_answering(
            &pdp,
            r#"{"allow": true, "reasons": [], "obligations": {"mask": ["email"], "redact": [], "purposes": ["marketing_sms", "analytics", "analytics"]}}"#,
        );
        assert!(d.allow, "{:?}", d.reasons);
        assert_eq!(d.obligations.purposes, ["analytics", "marketing_sms"]);
        assert_eq!(d.obligations.mask, ["email"]);
        // The baseline requires no purpose: alone, none.
        pdp.set_tenant_policy("t1", None);
        assert!(
            pdp.decide_here(&input("admin", "customer.read", "t1", true))
                .obligations
                .purposes
                .is_empty()
        );
        // An obligation the host cannot carry out is not ignored: the decision denies.
        let d = tenant_answering(
            &pdp,
            r#"{"allow": true, "reasons": [], "obligations": {"mask": [], "redact": [], "notify": ["dpo"]}}"#,
        );
        assert!(!d.allow);
        assert!(
            d.deny_reasons
                .iter()
                .any(|r| r.starts_with("tenant: policy_error") && r.contains("notify")),
            "{:?}",
            d.deny_reasons
        );
    }
}
