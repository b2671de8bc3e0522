//! A tenant's policy set and what can be done to it without a database: check, test, build to a
//! Wasm module in OPA's ABI, diff. These run tenant-written Rego, so the host runs them only in a
//! policy job (see `sandbox`), never in the server process.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::policy::{
    RegoTestResult, RegorusEngine, TENANT_DECISION_RULE, WasmEngine, run_rego_tests,
};

/// Most files and bytes one policy set may have.
pub const MAX_FILES: usize = 50;
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// A policy set: `path → Rego source`. Files ending `_test.rego` hold `test_*` rules.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PolicySet {
    pub files: BTreeMap<String, String>,
}

/// Why a set was refused.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// Parse or compile errors, each with its `file:line:col`.
    Invalid(Vec<String>),
    /// The set compiles but some of its tests fail.
    TestsFailed(Vec<RegoTestResult>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(errors) => {
                write!(f, "the policy set does not compile: {}", errors.join("; "))
            }
            Refusal::TestsFailed(results) => {
                let failed: Vec<&str> = results
                    .iter()
                    .filter(|r| !r.passed)
                    .map(|r| r.name.as_str())
                    .collect();
                write!(f, "{} test(s) failed: {}", failed.len(), failed.join(", "))
            }
        }
    }
}

impl PolicySet {
    /// Reads every `*.rego` file under `dir` (paths relative to it).
    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
                .collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let p = e.path();
                if e.file_type()?.is_dir() {
                    walk(root, &p, out)?;
                } else if p.extension().is_some_and(|x| x == "rego") {
                    let rel = p
                        .strip_prefix(root)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.insert(
                        rel,
                        std::fs::read_to_string(&p)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                    );
                }
            }
            Ok(())
        }
        let mut files = BTreeMap::new();
        walk(dir, dir, &mut files)?;
        if files.is_empty() {
            anyhow::bail!("no .rego files in {}", dir.display());
        }
        Ok(Self { files })
    }

    /// A stable digest of the whole set.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (p, s) in &self.files {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    fn policy_files(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .filter(|(p, _)| !p.ends_with("_test.rego"))
            .map(|(p, s)| (p.as_str(), s.as_str()))
            .collect()
    }

    fn all_files(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .map(|(p, s)| (p.as_str(), s.as_str()))
            .collect()
    }

    /// Parses and compiles every file; errors name `file:line:col`.
    pub fn check(&self) -> Result<(), Refusal> {
        let mut errors = Vec::new();
        // Whether a policy file declares the tenant's decision rule.
        let mut decides = false;
        if self.files.is_empty() {
            errors.push("the policy set has no files".to_string());
        }
        if self.files.len() > MAX_FILES {
            errors.push(format!("a policy set has at most {MAX_FILES} files"));
        }
        for (path, source) in &self.files {
            match check_file(path, source) {
                Ok(declares_decision) => decides |= declares_decision,
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() && !decides {
            errors.push(format!(
                "no policy file defines {TENANT_DECISION_RULE}, the rule a tenant set answers \
                 with: add one to a file of package crm.tenant, e.g. `{example}`",
                example = r#"default decision := {"allow": true}"#,
            ));
        }
        if errors.is_empty()
            && let Err(e) = RegorusEngine::new(&self.policy_files(), TENANT_DECISION_RULE)
        {
            errors.push(format!("{e:#}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(errors))
        }
    }

    /// Runs the set's `test_*` rules (after `check`).
    pub fn test(&self) -> Result<Vec<RegoTestResult>, Refusal> {
        self.check()?;
        let results = run_rego_tests(&self.all_files())
            .map_err(|e| Refusal::Invalid(vec![format!("{e:#}")]))?;
        if results.iter().any(|r| !r.passed) {
            return Err(Refusal::TestsFailed(results));
        }
        Ok(results)
    }

    /// Compiles the set's policy files to a Wasm module in OPA's ABI (after `check`).
    pub fn build(&self) -> Result<Build, Refusal> {
        let compiled = crm_policy_compiler::compile_with(
            &self.policy_files(),
            &[TENANT_DECISION_RULE],
            crm_policy_compiler::Options::default(),
        )
        .map_err(|e| Refusal::Invalid(vec![format!("{e:#}")]))?;
        Ok(Build {
            wasm: compiled.wasm,
            data: serde_json::json!({}),
            mode: match compiled.mode {
                crm_policy_compiler::Mode::Rvm => "rvm",
                crm_policy_compiler::Mode::Interpreter => "interpreter",
            }
            .to_string(),
        })
    }
}

/// Checks one file on its own, so that a bad file yields exactly one error and the rest of the
/// set is still checked; `Ok` says whether the file declares the tenant's decision rule.
fn check_file(path: &str, source: &str) -> Result<bool, String> {
    if !path_is_allowed(path) {
        return Err(format!(
            "{}: file names are relative paths of a-z, 0-9, / . _ - ending in .rego",
            path.chars().take(80).collect::<String>()
        ));
    }
    if source.len() > MAX_FILE_BYTES {
        return Err(format!("{path}: larger than {MAX_FILE_BYTES} bytes"));
    }
    check_package(path, source)?;
    compile_file(path, source)
}

/// Only plain, relative `.rego` names without empty, `.` or `..` components are accepted, so a
/// file name can never point outside the set.
fn path_is_allowed(path: &str) -> bool {
    path.ends_with(".rego")
        && path.len() <= 200
        && !path.starts_with('/')
        && !path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
}

/// A tenant's rules must live at or below `crm.tenant`, so they cannot define or shadow rules in
/// the host's own packages.
fn check_package(path: &str, source: &str) -> Result<(), String> {
    let package = source
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.trim().strip_prefix("package ").map(|p| (i + 1, p.trim())));
    let allowed =
        |p: &str| p == "crm.tenant" || p.starts_with("crm.tenant.") || p.starts_with("crm.tenant_");
    match package {
        Some((_, p)) if allowed(p) => Ok(()),
        Some((line, _)) => Err(format!(
            "{path}:{line}:1: a tenant policy's package must be crm.tenant (or below it)"
        )),
        None => Err(format!("{path}:1:1: the file declares no package")),
    }
}

/// Compiling each file in an engine of its own pins a parse error to that file, and tells
/// whether it is a policy (not test) file of `crm.tenant` that declares the decision rule.
fn compile_file(path: &str, source: &str) -> Result<bool, String> {
    let mut engine = regorus::Engine::new();
    let package = engine
        .add_policy(path.to_string(), source.to_string())
        .map_err(|e| e.to_string().trim().to_string())?;
    Ok(package == "data.crm.tenant"
        && !path.ends_with("_test.rego")
        && engine
            .has_declared_rule_rooted_at(path, "decision")
            .unwrap_or(false))
}

/// What decides for a published set: an OPA-ABI Wasm module and its `data` document.
#[derive(Debug, Clone)]
pub struct Build {
    pub wasm: Vec<u8>,
    pub data: serde_json::Value,
    /// `rvm` (Rego compiled to regorus RVM bytecode), `interpreter` (the regorus interpreter
    /// inside the module, for constructs the RVM lacks) or `bundle` (a module built elsewhere,
    /// e.g. by `opa build -t wasm`).
    pub mode: String,
}

impl Build {
    /// Loads the module into Wasmtime, ready to decide (optimised code).
    pub fn engine(&self, version: String) -> anyhow::Result<WasmEngine> {
        WasmEngine::new(&self.wasm, self.data.clone(), TENANT_DECISION_RULE, version)
    }

    /// Loads the module fast (see [`WasmEngine::quick`]).
    pub fn quick_engine(&self, version: String) -> anyhow::Result<WasmEngine> {
        WasmEngine::quick(&self.wasm, self.data.clone(), TENANT_DECISION_RULE, version)
    }

    /// The module's digest (`sha256:…`).
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.wasm)))
    }
}

/// A unified diff between two sets, file by file.
pub fn diff(old: &PolicySet, new: &PolicySet) -> String {
    let mut out = String::new();
    let paths: std::collections::BTreeSet<&String> =
        old.files.keys().chain(new.files.keys()).collect();
    for p in paths {
        let a = old.files.get(p).map(String::as_str).unwrap_or("");
        let b = new.files.get(p).map(String::as_str).unwrap_or("");
        if a == b {
            continue;
        }
        let d = similar::TextDiff::from_lines(a, b);
        out.push_str(
            &d.unified_diff()
                .context_radius(3)
                .header(&format!("a/{p}"), &format!("b/{p}"))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(files: &[(&str, &str)]) -> Result<(), Refusal> {
        PolicySet {
            files: files
                .iter()
                .map(|(p, s)| (p.to_string(), s.to_string()))
                .collect(),
        }
        .check()
    }

    #[test]
    fn a_set_without_the_decision_rule_is_refused_naming_it() {
        let missing = |r: Result<(), Refusal>| match r {
            Err(Refusal::Invalid(e)) => {
                e.len() == 1 && e[0].contains("no policy file defines data.crm.tenant.decision")
            }
            _ => false,
        };
        assert!(missing(check(&[(
            "rules.rego",
            "package crm.tenant\nallow := true\n"
        )])));
        // Declared only in a test file, or in a package below crm.tenant: still missing.
        assert!(missing(check(&[
            ("rules.rego", "package crm.tenant\nallow := true\n"),
            (
                "rules_test.rego",
                "package crm.tenant\ndecision := {\"allow\": true}\n"
            ),
        ])));
        assert!(missing(check(&[(
            "sub.rego",
            "package crm.tenant.sub\ndecision := {\"allow\": true}\n"
        )])));
        // A default alone, or a rule split across files, is a decision.
        assert!(
            check(&[(
                "a.rego",
                "package crm.tenant\ndefault decision := {\"allow\": true}\n"
            )])
            .is_ok()
        );
        assert!(
            check(&[
                ("a.rego", "package crm.tenant\nok if input.x\n"),
                (
                    "b.rego",
                    "package crm.tenant\ndecision := {\"allow\": true} if ok\n\
                     default decision := {\"allow\": false}\n"
                ),
            ])
            .is_ok()
        );
        // A parse error is reported as such, not as a missing decision.
        match check(&[("rules.rego", "package crm.tenant\ndecision := {")]) {
            Err(Refusal::Invalid(e)) => assert!(
                e.iter().all(|e| !e.contains("no policy file defines"))
                    && e[0].contains("rules.rego:"),
                "{e:?}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
