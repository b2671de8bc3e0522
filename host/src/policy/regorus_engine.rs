//! The native regorus engine behind the decision point, and a runner for Rego `test_*` rules.

use std::sync::Mutex;

use anyhow::Context;
use sha2::{Digest, Sha256};

use serde_json::value::RawValue;

use super::Engine;

/// Evaluates one rule with a pool of prepared regorus engines (one per concurrent caller).
pub struct RegorusEngine {
    template: regorus::Engine,
    idle: Mutex<Vec<regorus::Engine>>,
    rule: String,
    version: String,
}

/// Wall-clock budget of one decision: a pathological policy is stopped and the request denied.
pub const DECISION_BUDGET: std::time::Duration = std::time::Duration::from_millis(50);
/// Budget of one `test_*` rule.
pub const TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

fn new_engine(
    files: &[(&str, &str)],
    budget: std::time::Duration,
) -> anyhow::Result<regorus::Engine> {
    let mut engine = regorus::Engine::new();
    // The builtins compiled modules add to regorus, so that native and Wasm agree.
    crm_policy_builtins::register(&mut engine)?;
    engine.set_rego_v0(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: budget,
        check_interval: std::num::NonZeroU32::MIN,
    });
    for (path, source) in files {
        engine
            .add_policy(
                path.to_string(),
                crm_policy_builtins::prepare_source(source),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("policy {path} does not compile"))?;
    }
    Ok(engine)
}

impl RegorusEngine {
    pub fn new(files: &[(&str, &str)], rule: &str) -> anyhow::Result<Self> {
        let template = new_engine(files, DECISION_BUDGET)?;
        let version = Self::version_of(files);
        let engine = Self {
            template,
            idle: Mutex::new(Vec::new()),
            rule: rule.to_string(),
            version,
        };
        // Compile-check the rule against an empty input, so a broken set fails at load, not per request.
        engine.evaluate(&super::empty_input())?;
        Ok(engine)
    }
}

impl RegorusEngine {
    /// A short digest of a set of sources: the version label of the policy they make.
    pub fn version_of(files: &[(&str, &str)]) -> String {
        let mut digest = Sha256::new();
        for (path, source) in files {
            digest.update(path.as_bytes());
            digest.update([0]);
            digest.update(source.as_bytes());
            digest.update([0]);
        }
        format!("sha256:{}", &hex::encode(digest.finalize())[..16])
    }
}

impl Engine for RegorusEngine {
    fn evaluate(&self, input: &RawValue) -> anyhow::Result<serde_json::Value> {
        let pooled = self
            .idle
            .lock()
            .map_err(|_| anyhow::anyhow!("engine pool poisoned"))?
            .pop();
        let mut engine = pooled.unwrap_or_else(|| self.template.clone());
        let value =
            regorus::Value::from_json_str(input.get()).map_err(|e| anyhow::anyhow!("{e}"))?;
        engine.set_input(value);
        let out = engine
            .eval_rule(self.rule.clone())
            .map_err(|e| anyhow::anyhow!("{e}"));
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(engine);
        }
        let out = out?;
        if out == regorus::Value::Undefined {
            anyhow::bail!(
                "{} is undefined (give it a `default`, so every input gets a decision)",
                self.rule
            );
        }
        Ok(serde_json::to_value(&out)?)
    }

    fn version(&self) -> &str {
        &self.version
    }
}

/// The outcome of one Rego `test_*` rule.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegoTestResult {
    pub name: String,
    pub passed: bool,
    pub error: Option<String>,
}

/// Runs every `test_*` rule in `files` the way `opa test` does: a test passes when it is true.
pub fn run_rego_tests(files: &[(&str, &str)]) -> anyhow::Result<Vec<RegoTestResult>> {
    let engine = new_engine(files, TEST_BUDGET)?;
    let mut results = Vec::new();
    for (_, source) in files {
        let Some(package) = source.lines().find_map(|l| {
            l.trim()
                .strip_prefix("package ")
                .map(|p| p.trim().to_string())
        }) else {
            continue;
        };
        let mut seen = std::collections::BTreeSet::new();
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("test_") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let name = format!("test_{name}");
            if !seen.insert(name.clone()) {
                continue;
            }
            let mut e = engine.clone();
            let rule = format!("data.{package}.{name}");
            let (passed, error) = match e.eval_rule(rule.clone()) {
                Ok(v) => (v == regorus::Value::Bool(true), None),
                Err(err) => (false, Some(err.to_string())),
            };
            results.push(RegoTestResult {
                name: rule,
                passed,
                error,
            });
        }
    }
    Ok(results)
}
