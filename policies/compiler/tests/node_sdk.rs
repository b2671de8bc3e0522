//! Modules made by `crm_policy_compiler` are standard OPA Wasm ABI modules: OPA's
//! own JavaScript SDK, `@open-policy-agent/opa-wasm` (pinned in
//! `tests/node/package.json`), loads and evaluates them in Node, and its result
//! sets are exactly those of the Rust `opa-wasm` crate (Wasmtime) for the same
//! module bytes and inputs, and of regorus evaluating the Rego natively.
//!
//! Each policy is built twice: with ABI minor version 2 (the SDK takes the
//! `opa_eval` fast path) and 1 (the SDK takes the context path,
//! `opa_eval_ctx_*` + `eval`); the test checks from the SDK's side which path it
//! took. `tests/node/eval.mjs` does the JS side (one `loadPolicy` with the SDK's
//! default memory, then `setData` + `evaluate(input, entrypoint)` per case) and
//! prints the result sets.
//!
//!     cargo test -p crm-policy-compiler --test node_sdk -- --nocapture
//!
//! Needs Node.js (`node` on PATH, or `$NODE`); the test FAILS when it is missing.
//! When `tests/node/node_modules` is missing it runs `npm ci` there first (needs
//! the npm registry, or a populated npm cache).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crm_policy_compiler::{Mode, ModeChoice, Options, compile_with};
use opa_wasm::{Runtime, wasmtime};
use serde_json::{Value as Json, json};

const AUTHZ: &str = include_str!("../../platform/authz.rego");
const SDK: &str = "@open-policy-agent/opa-wasm";
/// Pages of the `env.memory` the SDK creates when `loadPolicy` is given no descriptor.
const SDK_DEFAULT_PAGES: u64 = 5;

// ---------------------------------------------------------------------------
// Node side
// ---------------------------------------------------------------------------

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("node")
}

fn node_binary() -> String {
    std::env::var("NODE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// Checks for Node.js and installs the SDK (`npm ci`) when `node_modules` is
/// missing. Once per test binary; panics (fails the test) when Node is missing.
fn setup() -> &'static str {
    static SETUP: OnceLock<String> = OnceLock::new();
    SETUP.get_or_init(|| {
        let node = node_binary();
        let version = match Command::new(&node).arg("--version").output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Ok(o) => panic!(
                "`{node} --version` failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!(
                "Node.js is required by tests/node_sdk.rs but `{node}` could not be run ({e}). \
                 Install Node.js >= 18 (e.g. `apt-get install nodejs npm`) or point $NODE at it. \
                 This test does not skip: it proves the modules work with OPA's JS SDK."
            ),
        };
        let dir = node_dir();
        let pkg_json = dir.join("node_modules").join(SDK).join("package.json");
        if !pkg_json.exists() {
            let t = Instant::now();
            eprintln!("node_sdk: {} missing, running `npm ci` in {}", pkg_json.display(), dir.display());
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| panic!("could not run `npm ci` in {} ({e}); is npm installed?", dir.display()));
            assert!(
                out.status.success(),
                "`npm ci` in {} failed ({}):\n{}\n{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("node_sdk: npm ci took {:.1} s", t.elapsed().as_secs_f64());
        }
        // The installed SDK must be the pinned one.
        let read = |p: &Path| -> Json {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let pinned = read(&dir.join("package.json"))["dependencies"][SDK].as_str().unwrap().to_string();
        let installed = read(&pkg_json)["version"].as_str().unwrap().to_string();
        assert_eq!(
            installed, pinned,
            "tests/node/node_modules has {SDK} {installed}, package.json pins {pinned}: run `npm ci` in {}",
            dir.display()
        );
        let v = format!("node {version}, {SDK} {installed}");
        eprintln!("node_sdk: {v}");
        v
    })
}

/// What `eval.mjs` reports about the loaded policy (stderr line `eval.mjs meta {...}`).
#[derive(Debug)]
struct NodeMeta {
    minor_version: i64,
    entrypoints: Json,
    load_ms: f64,
    eval_ms: f64,
}

/// Runs `node eval.mjs` on `wasm` for `cases`; returns one outcome list per case.
fn node_eval(
    dir: &Path,
    stem: &str,
    wasm: &[u8],
    cases: &Json,
) -> (Vec<Vec<Json>>, NodeMeta, Duration) {
    let module = dir.join(format!("{stem}.wasm"));
    let case_file = dir.join(format!("{stem}.json"));
    std::fs::write(&module, wasm).unwrap();
    std::fs::write(&case_file, serde_json::to_vec(cases).unwrap()).unwrap();
    let t = Instant::now();
    let out = Command::new(node_binary())
        .arg(node_dir().join("eval.mjs"))
        .arg(&module)
        .arg(&case_file)
        .current_dir(node_dir())
        .output()
        .expect("running node");
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node eval.mjs {} {} failed ({}):\n{stderr}",
        module.display(),
        case_file.display(),
        out.status
    );
    // Anything else on stderr (e.g. the SDK's "opa_wasm_abi_version undefined") is a finding.
    let mut meta = None;
    for line in stderr.lines() {
        match line.strip_prefix("eval.mjs meta ") {
            Some(m) => meta = Some(serde_json::from_str::<Json>(m).expect("meta line")),
            None => panic!("{stem}: unexpected output on node's stderr: {line}"),
        }
    }
    let meta = meta.expect("eval.mjs printed no meta line");
    let results: Vec<Vec<Json>> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{stem}: bad JSON from eval.mjs ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let meta = NodeMeta {
        minor_version: meta["minorVersion"].as_i64().expect("minorVersion"),
        entrypoints: meta["entrypoints"].clone(),
        load_ms: meta["load_ms"].as_f64().unwrap(),
        eval_ms: meta["eval_ms"].as_f64().unwrap(),
    };
    (results, meta, wall)
}

// ---------------------------------------------------------------------------
// Rust side: the opa-wasm crate (Wasmtime), and regorus natively
// ---------------------------------------------------------------------------

fn error(msg: impl std::fmt::Display) -> Json {
    json!({ "error": msg.to_string() })
}

fn is_error(v: &Json) -> bool {
    v.get("error").is_some()
}

/// Outcomes agree: the same result set (exactly), or both an error.
fn agree(a: &Json, b: &Json) -> bool {
    (is_error(a) && is_error(b)) || a == b
}

/// One `setData` + a list of inputs for one entrypoint.
#[derive(Clone)]
struct Run {
    entrypoint: &'static str,
    data: Json,
    inputs: Vec<Json>,
}

async fn rust_eval(wasm: &[u8], runs: &[Run]) -> (Vec<Vec<Json>>, Duration) {
    let t = Instant::now();
    let engine = common::engine();
    let module = wasmtime::Module::new(engine, wasm).unwrap();
    let mut all = Vec::new();
    // The crate has no `setData`: one instance per run.
    for run in runs {
        let mut store = wasmtime::Store::new(engine, ());
        let runtime = Runtime::new(&mut store, &module).await.unwrap();
        let policy = runtime.with_data(&mut store, &run.data).await.unwrap();
        let mut out = Vec::new();
        for input in &run.inputs {
            out.push(
                match policy
                    .evaluate::<_, Json, _>(&mut store, run.entrypoint, input)
                    .await
                {
                    Ok(v) => v,
                    Err(e) => error(format!("{e:#}")),
                },
            );
        }
        all.push(out);
    }
    (all, t.elapsed())
}

/// regorus, natively: the OPA-shaped result set, or an error.
fn native(files: &[(&str, &str)], data: &Json, entrypoint: &str, input: &Json) -> Json {
    common::native(files, data, entrypoint, input).unwrap_or_else(error)
}

/// How the module's outcomes must relate to regorus evaluating natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Native {
    /// The same result set, or both an error.
    Exact,
    /// As `Exact`, except that in RVM mode a runtime error of the native
    /// interpreter may be undefined (`[]`) in the module. regorus' RVM (on the
    /// host just the same) turns evaluation errors into undefined: builtin
    /// errors (divide by zero, a type error), as OPA does by default
    /// (`strict-builtin-errors` off), but also complete-rule conflicts, which
    /// OPA reports. Printed, never silent; the JS SDK and the `opa-wasm` crate
    /// must still agree exactly.
    RvmErrorsUndefined,
}

/// `env.memory` import minimum, in pages.
fn memory_min_pages(wasm: &[u8]) -> u64 {
    for p in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(r) = p.unwrap() {
            for i in r.into_imports() {
                let i = i.unwrap();
                if let wasmparser::TypeRef::Memory(m) = i.ty
                    && (i.module, i.name) == ("env", "memory")
                {
                    return m.initial;
                }
            }
        }
    }
    panic!("module does not import env.memory");
}

// ---------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------

/// Scratch directory for one test's modules and case files (removed on success).
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("node_sdk-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Builds `files` with ABI minor 2 and 1 and checks SDK == opa-wasm crate == native.
async fn check(
    name: &str,
    files: &[(&str, &str)],
    choice: ModeChoice,
    expect: Mode,
    vs_native: Native,
    runs: Vec<Run>,
) {
    let versions = setup();
    let dir = work_dir(name);

    let t = Instant::now();
    let wants: Vec<Vec<Json>> = runs
        .iter()
        .map(|r| {
            r.inputs
                .iter()
                .map(|i| native(files, &r.data, r.entrypoint, i))
                .collect()
        })
        .collect();
    let native_time = t.elapsed();
    let mut entrypoints: Vec<&str> = Vec::new();
    for r in &runs {
        if !entrypoints.contains(&r.entrypoint) {
            entrypoints.push(r.entrypoint);
        }
    }
    let cases: Vec<Json> = runs
        .iter()
        .map(|r| json!({"entrypoint": r.entrypoint, "data": r.data, "inputs": r.inputs}))
        .collect();
    let total: usize = runs.iter().map(|r| r.inputs.len()).sum();

    for minor in [2, 1] {
        let t = Instant::now();
        let m = compile_with(
            files,
            &entrypoints,
            Options {
                mode: choice,
                abi_minor_version: minor,
                ..Options::default()
            },
        )
        .unwrap();
        let compile_time = t.elapsed();
        assert_eq!(
            m.mode, expect,
            "{name}: compiled in the wrong mode ({:?})",
            m.rvm_error
        );
        let pages = memory_min_pages(&m.wasm);
        assert!(
            pages <= SDK_DEFAULT_PAGES,
            "{name}: env.memory minimum {pages} pages > the SDK's default {SDK_DEFAULT_PAGES}"
        );
        let cases = Json::Array(cases.clone());

        let (rust, rust_time) = rust_eval(&m.wasm, &runs).await;
        let (node, meta, node_wall) =
            node_eval(&dir, &format!("{name}-abi1.{minor}"), &m.wasm, &cases);

        // The SDK saw the ABI version we built, hence took the path we meant to test.
        assert_eq!(
            meta.minor_version,
            i64::from(minor),
            "{name}: SDK read opa_wasm_abi_minor_version"
        );
        let want_eps: BTreeMap<String, Json> = m
            .entrypoints
            .iter()
            .enumerate()
            .map(|(i, e)| (e.clone(), json!(i)))
            .collect();
        assert_eq!(
            meta.entrypoints,
            json!(want_eps),
            "{name}: entrypoints as read by the SDK"
        );

        assert_eq!(node.len(), runs.len(), "{name}: case count from eval.mjs");
        let path = if minor >= 2 {
            "opa_eval fast path"
        } else {
            "context path"
        };
        let (mut errors, mut diverged) = (0, 0);
        for (k, run) in runs.iter().enumerate() {
            assert_eq!(
                node[k].len(),
                run.inputs.len(),
                "{name}: result count from eval.mjs"
            );
            for (i, input) in run.inputs.iter().enumerate() {
                let (sdk, crate_, want) = (&node[k][i], &rust[k][i], &wants[k][i]);
                let ctx = format!(
                    "{name}, ABI 1.{minor} ({path}), {} with data {} and input {input}",
                    run.entrypoint, run.data
                );
                assert!(
                    agree(sdk, crate_),
                    "{ctx}:\n  JS SDK:         {sdk}\n  opa-wasm crate: {crate_}"
                );
                if vs_native == Native::RvmErrorsUndefined
                    && m.mode == Mode::Rvm
                    && is_error(want)
                    && crate_ == &json!([])
                {
                    diverged += 1;
                    eprintln!(
                        "  {name} ABI 1.{minor}: {} input {input}: undefined in the module (RVM), an error natively: {}",
                        run.entrypoint,
                        want["error"]
                            .as_str()
                            .unwrap_or("")
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                } else {
                    assert!(
                        agree(crate_, want),
                        "{ctx}:\n  opa-wasm crate: {crate_}\n  regorus native: {want}"
                    );
                }
                if is_error(sdk) {
                    errors += 1;
                    eprintln!(
                        "  {name} ABI 1.{minor}: {} input {input}: error in all three\n    JS SDK:         {}\n    opa-wasm crate: {}\n    regorus native: {}",
                        run.entrypoint, sdk["error"], crate_["error"], want["error"]
                    );
                }
            }
        }
        eprintln!(
            "{name:<18} ABI 1.{minor} {mode:<11} {total:>3} evals ({errors} errors, {diverged} RVM-undefined) {kb:>5} KiB, {pages} pages | \
             compile {c:>6.1} ms | opa-wasm crate (compile+instantiate+eval) {r:>8.1} ms | \
             node process {nw:>7.1} ms (SDK loadPolicy {nl:>6.1} ms, setData+evaluate {ne:>7.1} ms) | {versions}",
            mode = format!("{:?}", m.mode),
            kb = m.wasm.len() / 1024,
            c = ms(compile_time),
            r = ms(rust_time),
            nw = ms(node_wall),
            nl = meta.load_ms,
            ne = meta.eval_ms,
        );
    }
    eprintln!(
        "{name:<18} regorus native ({total} fresh engines) {:.1} ms",
        ms(native_time)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Policies and inputs
// ---------------------------------------------------------------------------

/// ~40 varied inputs of the shape in `policies/README.md`.
fn authz_inputs() -> Vec<Json> {
    let req = |typ: &str, roles: Json, mfa: Json, action: &str, rt: Json, id: Json| {
        json!({
            "subject": {"type": typ, "tenant": "t1", "user": "u1", "roles": roles, "mfa": mfa},
            "action": action,
            "resource": {"type": "customer", "tenant": rt, "id": id},
            "context": {"channel": "api"}
        })
    };
    let mut v = vec![
        // reads: every role, obligations per role, most permissive wins
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["compliance"]),
            json!(false),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["sales"]),
            json!(true),
            "customer.list",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "plugin",
            json!(["support"]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["marketing"]),
            json!(true),
            "customer.list",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["marketing", "support"]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["marketing", "sales", "support"]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c9"),
        ),
        // export needs MFA ("yes" is not true)
        req(
            "user",
            json!(["compliance"]),
            json!(true),
            "customer.export",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["compliance"]),
            json!("yes"),
            "customer.export",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["support"]),
            json!(true),
            "customer.export",
            json!("t1"),
            json!("c1"),
        ),
        // tenant isolation
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "customer.delete",
            json!("t2"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "customer.read",
            json!(""),
            json!("c1"),
        ),
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "customer.read",
            json!(null),
            json!("c1"),
        ),
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "customer.read",
            json!(7),
            json!("c1"),
        ),
        // subject types and roles
        req(
            "robot",
            json!(["admin"]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!([]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!("admin"),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["root", 7, null, {"admin": true}]),
            json!(true),
            "customer.read",
            json!("t1"),
            json!("c1"),
        ),
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "bogus.action",
            json!("t1"),
            json!("c1"),
        ),
        // admin actions, self-service
        req(
            "user",
            json!(["admin"]),
            json!(true),
            "user.manage",
            json!("t1"),
            json!("u2"),
        ),
        req(
            "user",
            json!(["admin"]),
            json!(false),
            "tenant.admin",
            json!("t1"),
            json!("t1"),
        ),
        req(
            "user",
            json!(["sales"]),
            json!(true),
            "audit.read",
            json!("t1"),
            json!("a1"),
        ),
        req(
            "user",
            json!(["compliance"]),
            json!(true),
            "policy.publish",
            json!("t1"),
            json!("p1"),
        ),
        req(
            "user",
            json!(["support"]),
            json!(false),
            "self.mfa.enroll",
            json!("t1"),
            json!("u1"),
        ),
        req(
            "plugin",
            json!(["marketing"]),
            json!(true),
            "self.token.create",
            json!("t1"),
            json!("u2"),
        ),
        req(
            "user",
            json!(["marketing"]),
            json!(true),
            "self.token.create",
            json!("t1"),
            json!(null),
        ),
        req(
            "user",
            json!(["sales", "support"]),
            json!(true),
            "interaction.create",
            json!("t1"),
            json!("i1"),
        ),
    ];
    // writes with fields
    for (roles, action, fields) in [
        (
            json!(["support"]),
            "customer.update",
            json!(["email", "phone"]),
        ),
        (
            json!(["support"]),
            "customer.update",
            json!(["email", "birth_date", "ssn"]),
        ),
        (
            json!(["support", "sales"]),
            "customer.update",
            json!(["birth_date", "tags"]),
        ),
        (
            json!(["sales"]),
            "customer.create",
            json!(["name", "email", "consents"]),
        ),
        (json!(["sales"]), "customer.create", json!("email")),
        (json!(["admin"]), "customer.update", json!([1, "email"])),
        (json!(["marketing"]), "customer.update", json!(["notes"])),
        (json!(["admin"]), "customer.create", json!([])),
        (
            json!(["admin"]),
            "customer.update",
            json!(["Zoë", "電話", "😀"]),
        ),
    ] {
        let mut r = req("user", roles, json!(true), action, json!("t1"), json!("c1"));
        r["resource"]["fields"] = fields;
        v.push(r);
    }
    // unicode everywhere, and degenerate inputs
    v.push(json!({
        "subject": {"type": "user", "tenant": "Mandant-Ü", "user": "Zoë 😀", "roles": ["sales"], "mfa": true},
        "action": "customer.read",
        "resource": {"type": "customer", "tenant": "Mandant-Ü", "id": "Kunde \"1\" \\ ü"},
        "context": {"channel": "web\n\t"}
    }));
    v.push(json!({"subject": {"tenant": ""}, "action": 42}));
    v.push(json!({"action": "customer.read"}));
    v.push(json!({}));
    v.push(json!([1, 2, 3]));
    v.push(json!("customer.read"));
    v
}

#[tokio::test(flavor = "current_thread")]
async fn authz_rvm() {
    let run = Run {
        entrypoint: "crm/authz/decision",
        data: json!({}),
        inputs: authz_inputs(),
    };
    check(
        "authz-rvm",
        &[("authz.rego", AUTHZ)],
        ModeChoice::Auto,
        Mode::Rvm,
        Native::Exact,
        vec![run],
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn authz_interpreter() {
    let run = Run {
        entrypoint: "crm/authz/decision",
        data: json!({}),
        inputs: authz_inputs(),
    };
    check(
        "authz-interp",
        &[("authz.rego", AUTHZ)],
        ModeChoice::InterpreterOnly,
        Mode::Interpreter,
        Native::Exact,
        vec![run],
    )
    .await;
}

const SETS: &str = r#"package sets

admins contains name if {
	some name, u in data.users
	"admin" in u.roles
}

adults contains name if {
	some name, u in data.users
	u.age >= input.min_age
}

ages[name] := u.age if {
	some name, u in data.users
}

teams[t] := members if {
	some t in {u.team | some u in data.users}
	members := sort([n | some n, u in data.users; u.team == t])
}

report := {
	"admins": admins,
	"adults": adults,
	"ages": ages,
	"teams": teams,
	"overlap": admins & adults,
	"either": admins | adults,
	"others": adults - admins,
	"count": count(adults),
	"by_age": {a: names | some a in {u.age | some u in data.users}; names := {n | some n, u in data.users; u.age == a}},
}
"#;

#[tokio::test(flavor = "current_thread")]
async fn partial_sets_and_objects() {
    let users = json!({"users": {
        "ann": {"age": 34, "team": "red", "roles": ["admin", "dev"]},
        "bo": {"age": 17, "team": "blue", "roles": ["dev"]},
        "cy": {"age": 51, "team": "red", "roles": ["ops"]},
        "dé": {"age": 34, "team": "grün", "roles": ["admin"]},
    }});
    let inputs = vec![
        json!({"min_age": 0}),
        json!({"min_age": 18}),
        json!({"min_age": 34}),
        json!({"min_age": 100}),
        json!({"min_age": "x"}),
        json!({"min_age": 34.5}),
        json!({}),
    ];
    let runs = vec![
        Run {
            entrypoint: "sets/report",
            data: users.clone(),
            inputs: inputs.clone(),
        },
        Run {
            entrypoint: "sets/adults",
            data: users.clone(),
            inputs: inputs.clone(),
        },
        // setData again, with other data, on the same instance
        Run {
            entrypoint: "sets/report",
            data: json!({"users": {}}),
            inputs: inputs[..2].to_vec(),
        },
        Run {
            entrypoint: "sets/teams",
            data: json!({"users": {"x": {"age": 1, "team": "t", "roles": []}}}),
            inputs: vec![json!({})],
        },
    ];
    check(
        "partial-sets",
        &[("sets.rego", SETS)],
        ModeChoice::Auto,
        Mode::Rvm,
        Native::Exact,
        runs,
    )
    .await;
}

const FUNCS: &str = r#"package funcs

double(x) := x * 2

clamp(x, lo, hi) := lo if x < lo
else := hi if x > hi
else := x

grade(s) := "A" if s >= 90
else := "B" if s >= 80
else := "C" if s >= 70
else := "F"

kind(x) := "number" if is_number(x)

kind(x) := "string" if is_string(x)

kind(x) := "other" if {
	not is_number(x)
	not is_string(x)
}

greet(name, "de") := sprintf("Hallo, %s!", [name])

greet(name, lang) := sprintf("Hello, %s!", [name]) if lang != "de"

result := {
	"double": double(input.n),
	"half": input.n / 2,
	"clamped": clamp(input.n, 0, 10),
	"grade": grade(input.n),
	"kinds": [kind(v) | some v in input.values],
	"greeting": greet(input.name, input.lang),
	"sum": sum([double(v) | some v in input.values; is_number(v)]),
	"max": max([v | some v in input.values; is_number(v)]),
	"abs": abs(input.n),
	"rem": input.n % 7,
}
"#;

#[tokio::test(flavor = "current_thread")]
async fn functions() {
    let mut inputs = Vec::new();
    let names = ["Ann", "Zoë", "李"];
    let langs = [json!("de"), json!("en"), json!(5)];
    for (i, n) in [0, 7, 85, 95, -12, 70, 1_000_000, 123_456_789]
        .into_iter()
        .enumerate()
    {
        inputs.push(json!({
            "n": n,
            "values": [n, "s", null, [1], i, -3],
            "name": names[i % 3],
            "lang": langs[i % 3],
        }));
    }
    let runs = vec![Run {
        entrypoint: "funcs/result",
        data: json!({}),
        inputs,
    }];
    check(
        "functions",
        &[("funcs.rego", FUNCS)],
        ModeChoice::Auto,
        Mode::Rvm,
        Native::Exact,
        runs,
    )
    .await;
}

const ERRORS: &str = r#"package errs

ratio := input.a / input.b

items := count(input.list)

# Two complete-rule values at once: an error in OPA and in the regorus
# interpreter; undefined in regorus' RVM.
conflict := "a" if input.a

conflict := "b" if input.b
"#;

/// Evaluation errors (opa_abort → a JS exception / a Wasmtime trap) are errors on
/// every side, and the instance keeps evaluating correctly afterwards.
#[tokio::test(flavor = "current_thread")]
async fn errors_and_recovery() {
    let runs = vec![
        Run {
            entrypoint: "errs/ratio",
            data: json!({}),
            inputs: vec![
                json!({"a": 10, "b": 2}),
                json!({"a": 1, "b": 0}),
                json!({"a": 9, "b": 3}),
                json!({"a": "x", "b": 1}),
                json!({"b": 1}),
                json!({"a": 100, "b": 10}),
            ],
        },
        Run {
            entrypoint: "errs/items",
            data: json!({}),
            inputs: vec![
                json!({"list": [1, 2, 3]}),
                json!({"list": 5}),
                json!({"list": "abc"}),
                json!({"list": {"k": 1}}),
            ],
        },
        Run {
            entrypoint: "errs/conflict",
            data: json!({}),
            inputs: vec![
                json!({"a": true}),
                json!({"a": true, "b": true}),
                json!({"b": true}),
                json!({"a": 1, "b": "x"}),
                json!({}),
                json!({"a": true}),
            ],
        },
    ];
    let files = [("errs.rego", ERRORS)];
    check(
        "errors-rvm",
        &files,
        ModeChoice::Auto,
        Mode::Rvm,
        Native::RvmErrorsUndefined,
        runs.clone(),
    )
    .await;
    check(
        "errors-interp",
        &files,
        ModeChoice::InterpreterOnly,
        Mode::Interpreter,
        Native::Exact,
        runs,
    )
    .await;
}

const STRINGS: &str = r#"package strs

out := {
	"upper": upper(input.s),
	"lower": lower(input.s),
	"trim_space": trim_space(input.s),
	"trim": trim(input.s, " !"),
	"count": count(input.s),
	"split": split(input.csv, ","),
	"joined": concat(" | ", sort(split(input.csv, ","))),
	"replace": replace(input.s, " ", "_"),
	"sprintf": sprintf("%s has %d chars, %v", [input.s, count(input.s), input.obj]),
	"starts": startswith(input.s, "He"),
	"ends": endswith(input.s, "!"),
	"contains": contains(input.s, "llo"),
	"indexof": indexof(input.s, "o"),
	"substring": substring(input.s, 1, 3),
	"email_ok": regex.match(`^[a-z0-9.]+@[a-z]+\.[a-z]{2,}$`, input.email),
	"digits": regex.find_n(`[0-9]+`, input.s, -1),
	"regex_replace": regex.replace(input.s, `[aeiou]`, "*"),
	"regex_split": regex.split(`[,;] *`, input.csv),
	"json": json.marshal(input.obj),
	"parsed": json.unmarshal(input.raw),
	"valid": [json.is_valid(input.raw), json.is_valid(input.bad)],
	"b64": base64.encode(input.s),
	"b64_back": base64.decode(base64.encode(input.s)),
	"query": urlquery.encode(input.s),
	"hex": format_int(count(input.s), 16),
	"number": to_number(input.num),
	"type": type_name(input.obj),
}
"#;

#[tokio::test(flavor = "current_thread")]
async fn string_regex_json_builtins() {
    let inputs = vec![
        json!({"s": "Hello world!", "csv": "b,a,c", "email": "ann@example.com", "obj": {"b": [1, 2], "a": "x"}, "raw": "{\"k\": [1, 2.5, null]}", "bad": "{", "num": "42"}),
        json!({"s": "  Grüße 42 aus 7 Orten 😀 ", "csv": "z; y,x", "email": "not an email", "obj": [1, "two", {"three": 3}], "raw": "[1, \"ü\"]", "bad": "[1,", "num": "-3.25"}),
        json!({"s": "", "csv": "", "email": "", "obj": {}, "raw": "\"\"", "bad": "", "num": "0"}),
        json!({"s": "He said \"hi\"\n\ttab\\", "csv": "one", "email": "a.b@c.de", "obj": null, "raw": "true", "bad": "tru", "num": "1e3"}),
        json!({"s": "日本語テキスト", "csv": "日,本", "email": "x@y.z", "obj": {"ключ": "значение"}, "raw": "{}", "bad": "{'a': 1}", "num": "12"}),
    ];
    let runs = vec![Run {
        entrypoint: "strs/out",
        data: json!({}),
        inputs,
    }];
    check(
        "strings-regex-json",
        &[("strs.rego", STRINGS)],
        ModeChoice::Auto,
        // json.is_valid is the runtime's own (OPA's answers), which only its interpreter has.
        Mode::Interpreter,
        Native::Exact,
        runs,
    )
    .await;
}

const EVERY: &str = r#"package ev

default all_positive := false

all_positive if {
	every x in input.nums {
		is_number(x)
		x > 0
	}
}

default short_values := false

short_values if {
	every k, v in input.obj {
		is_string(v)
		count(v) < 5
		k != "forbidden"
	}
}

default allowed_roles := false

allowed_roles if {
	every r in input.roles {
		r in data.known_roles
	}
}

verdict := {
	"all_positive": all_positive,
	"short_values": short_values,
	"allowed_roles": allowed_roles,
}
"#;

#[tokio::test(flavor = "current_thread")]
async fn every_keyword() {
    let data = json!({"known_roles": ["admin", "sales", "support"]});
    let inputs = vec![
        json!({"nums": [1, 2, 3], "obj": {"a": "x", "b": "yy"}, "roles": ["admin"]}),
        json!({"nums": [1, -2, 3], "obj": {"a": "toolong"}, "roles": ["admin", "root"]}),
        json!({"nums": [], "obj": {}, "roles": []}),
        json!({"nums": [1, "2"], "obj": {"forbidden": "x"}, "roles": ["sales", "support"]}),
        json!({"nums": [0.5, 1e3], "obj": {"a": 1}, "roles": "admin"}),
        json!({}),
    ];
    let runs = vec![
        Run {
            entrypoint: "ev/verdict",
            data: data.clone(),
            inputs: inputs.clone(),
        },
        Run {
            entrypoint: "ev/allowed_roles",
            data: json!({"known_roles": []}),
            inputs,
        },
    ];
    check(
        "every",
        &[("every.rego", EVERY)],
        ModeChoice::Auto,
        Mode::Rvm,
        Native::Exact,
        runs,
    )
    .await;
}

const WITH: &str = r#"package w

is_admin if input.role == "admin"

allow if is_admin with input as {"role": "admin"}

plain if is_admin

over if input.n > data.config.limit

over_mocked if over with data.config.limit as 100

summary := {
	"allow": allow,
	"plain": object.get({"v": plain}, "v", false),
	"over": object.get({"v": over}, "v", false),
	"over_mocked": object.get({"v": over_mocked}, "v", false),
}
"#;

/// `with` makes the compiler fall back to the regorus interpreter inside the module.
#[tokio::test(flavor = "current_thread")]
async fn with_keyword_interpreter_mode() {
    let inputs = vec![
        json!({"role": "guest", "n": 5}),
        json!({"role": "admin", "n": 50}),
        json!({"role": "admin", "n": 500}),
        json!({"n": "x"}),
        json!({}),
    ];
    let runs = vec![
        Run {
            entrypoint: "w/summary",
            data: json!({"config": {"limit": 10}}),
            inputs: inputs.clone(),
        },
        Run {
            entrypoint: "w/plain",
            data: json!({"config": {"limit": 10}}),
            inputs: inputs.clone(),
        },
        Run {
            entrypoint: "w/over_mocked",
            data: json!({"config": {"limit": 1000}}),
            inputs,
        },
    ];
    check(
        "with-interpreter",
        &[("w.rego", WITH)],
        ModeChoice::Auto,
        Mode::Interpreter,
        Native::Exact,
        runs,
    )
    .await;
}

const INPUT_KIND: &str = r#"package q

default kind := "undefined"

kind := type_name(input)
"#;

/// A quirk of the JS SDK, pinned down so that nobody mistakes it for a module bug:
/// on the ABI 1.2 fast path `evaluate(input)` passes no input at all
/// (`input_len` 0) when `input` is falsy in JS (`null`, `false`, `0`, `""`), so
/// the policy sees `input` undefined. The context path (ABI 1.1) and the
/// `opa-wasm` crate pass the value. The module reads `input_len` 0 as "no input".
#[tokio::test(flavor = "current_thread")]
async fn falsy_inputs_on_the_sdk_fast_path() {
    setup();
    let files = [("q.rego", INPUT_KIND)];
    let inputs = vec![
        json!(null),
        json!(false),
        json!(0),
        json!(""),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
    ];
    let runs = vec![Run {
        entrypoint: "q/kind",
        data: json!({}),
        inputs: inputs.clone(),
    }];
    let cases = json!([{"entrypoint": "q/kind", "data": {}, "inputs": inputs}]);
    let dir = work_dir("falsy-inputs");
    for minor in [2, 1] {
        let m = compile_with(
            &files,
            &["q/kind"],
            Options {
                mode: ModeChoice::Auto,
                abi_minor_version: minor,
                ..Options::default()
            },
        )
        .unwrap();
        let (rust, _) = rust_eval(&m.wasm, &runs).await;
        let (node, meta, _) = node_eval(&dir, &format!("falsy-abi1.{minor}"), &m.wasm, &cases);
        assert_eq!(meta.minor_version, i64::from(minor));
        for (i, input) in inputs.iter().enumerate() {
            let typed = native(&files, &json!({}), "q/kind", input);
            assert_eq!(
                rust[0][i], typed,
                "opa-wasm crate, ABI 1.{minor}, input {input}"
            );
            let falsy = matches!(input, Json::Null | Json::Bool(false))
                || input == &json!(0)
                || input == &json!("");
            let want = if minor >= 2 && falsy {
                json!([{"result": "undefined"}])
            } else {
                typed
            };
            assert_eq!(node[0][i], want, "JS SDK, ABI 1.{minor}, input {input}");
        }
        eprintln!(
            "falsy-inputs       ABI 1.{minor}: JS SDK {}",
            Json::Array(node[0].clone())
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const REGEX_CLASSES: &str = r#"package rx

out := {
	"digit": regex.match(`\d+`, input.s),
	"word": regex.match(`^\w+$`, input.s),
	"space": regex.split(`,\s*`, input.s),
	"letter": regex.find_n(`\p{L}+`, input.s, -1),
}
"#;

/// Perl/Unicode classes (`\d`, `\w`, `\s`, `\p{L}`) inside the module. regorus pulls
/// in `regex` with `default-features = false`; `policies/runtime/Cargo.toml` turns
/// the Unicode features back on (without them these patterns were "invalid regex"
/// in the module while they worked natively).
#[tokio::test(flavor = "current_thread")]
async fn regex_perl_classes() {
    let inputs = vec![
        json!({"s": "ab12"}),
        json!({"s": "a, b,c"}),
        json!({"s": "Grüße"}),
    ];
    let runs = vec![Run {
        entrypoint: "rx/out",
        data: json!({}),
        inputs,
    }];
    check(
        "regex-classes",
        &[("rx.rego", REGEX_CLASSES)],
        ModeChoice::Auto,
        Mode::Rvm,
        Native::Exact,
        runs,
    )
    .await;
}
