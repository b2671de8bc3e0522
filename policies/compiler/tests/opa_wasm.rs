//! Modules made by `crm_policy_compiler` load and evaluate through the
//! unmodified `opa-wasm` crate (Wasmtime 48), on the ABI 1.2 fast path
//! (`opa_eval`) and on the context path (`opa_eval_ctx_*` + `eval`, selected by
//! building the module with ABI minor version 1), and agree with regorus
//! evaluating the same Rego natively.

mod common;

use crm_policy_compiler::{Mode, ModeChoice, Options, compile, compile_with};
use opa_wasm::{Policy, Runtime, wasmtime};
use serde_json::{Value as Json, json};

const BASELINE: &str =
    "package crm.authz\n default allow := false\n allow if input.user == \"alice\"\n";
const AUTHZ: &str = include_str!("../../platform/authz.rego");

struct Loaded {
    store: wasmtime::Store<()>,
    policy: Policy<opa_wasm::DefaultContext>,
}

async fn load(wasm: &[u8], data: &Json) -> Loaded {
    let engine = common::engine();
    let module = wasmtime::Module::new(engine, wasm).unwrap();
    let mut store = wasmtime::Store::new(engine, ());
    let runtime = Runtime::new(&mut store, &module).await.unwrap();
    let policy = runtime.with_data(&mut store, data).await.unwrap();
    Loaded { store, policy }
}

impl Loaded {
    async fn eval(&mut self, entrypoint: &str, input: &Json) -> anyhow::Result<Json> {
        self.policy
            .evaluate(&mut self.store, entrypoint, input)
            .await
    }
}

/// regorus, natively: the OPA-shaped result set.
fn native(files: &[(&str, &str)], data: &Json, path: &str, input: &Json) -> Json {
    common::native(files, data, path, input).unwrap()
}

fn both_paths(
    files: &[(&str, &str)],
    eps: &[&str],
    mode: ModeChoice,
) -> Vec<(&'static str, Vec<u8>, Mode)> {
    let mut out = Vec::new();
    for (label, minor) in [("fast path (ABI 1.2)", 2), ("context path (ABI 1.1)", 1)] {
        let m = compile_with(
            files,
            eps,
            Options {
                mode,
                abi_minor_version: minor,
                ..Options::default()
            },
        )
        .unwrap();
        out.push((label, m.wasm, m.mode));
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn baseline_policy_matches_native() {
    let files = [("baseline.rego", BASELINE)];
    let inputs = [
        json!({"user": "alice"}),
        json!({"user": "bob"}),
        json!({}),
        json!(null),
        json!([1, 2]),
    ];
    for (label, wasm, mode) in both_paths(&files, &["crm/authz/allow"], ModeChoice::Auto) {
        assert_eq!(mode, Mode::Rvm, "baseline should compile to RVM bytecode");
        let mut l = load(&wasm, &json!({})).await;
        assert_eq!(
            l.policy.entrypoints(),
            ["crm/authz/allow"].into_iter().collect()
        );
        for _round in 0..50 {
            for input in &inputs {
                let got = l.eval("crm/authz/allow", input).await.unwrap();
                let want = native(&files, &json!({}), "data.crm.authz.allow", input);
                assert_eq!(got, want, "{label}: input {input}");
            }
        }
        assert_eq!(
            l.eval("crm/authz/allow", &json!({"user": "alice"}))
                .await
                .unwrap(),
            json!([{"result": true}])
        );
    }
}

fn authz_inputs() -> Vec<Json> {
    let mut v = Vec::new();
    let actions = [
        "customer.read",
        "customer.list",
        "customer.create",
        "customer.update",
        "customer.delete",
        "customer.export",
        "interaction.create",
        "audit.read",
        "user.manage",
        "tenant.admin",
        "self.mfa.enroll",
        "self.token.create",
        "bogus.action",
    ];
    let roles: [Json; 6] = [
        json!(["admin"]),
        json!(["support"]),
        json!(["marketing"]),
        json!(["sales", "support"]),
        json!([]),
        json!(["compliance", "marketing", 7]),
    ];
    let fields = [
        json!(["email", "phone"]),
        json!(["birth_date", "ssn"]),
        json!("email"),
        json!([1]),
    ];
    let mut i = 0usize;
    for a in actions {
        for r in &roles {
            i += 1;
            let mut input = json!({
                "subject": {"type": if i.is_multiple_of(7) { "robot" } else if i.is_multiple_of(2) { "plugin" } else { "user" },
                            "tenant": "t1", "user": "u1", "roles": r, "mfa": !i.is_multiple_of(3)},
                "action": a,
                "resource": {"type": "customer", "tenant": if i.is_multiple_of(5) { "t2" } else { "t1" },
                             "id": if i.is_multiple_of(4) { "u1" } else { "c1" }},
                "context": {"channel": "api"}
            });
            if a == "customer.create" || a == "customer.update" {
                input["resource"]["fields"] = fields[i % fields.len()].clone();
            }
            v.push(input);
        }
    }
    v.push(json!({}));
    v.push(json!(null));
    v.push(json!({"subject": {"tenant": ""}, "action": 42}));
    v
}

async fn check_authz(mode: ModeChoice, expect: Mode) {
    let files = [("authz.rego", AUTHZ)];
    let inputs = authz_inputs();
    let wants: Vec<Json> = inputs
        .iter()
        .map(|i| native(&files, &json!({}), "data.crm.authz.decision", i))
        .collect();
    for (label, wasm, got_mode) in both_paths(&files, &["crm/authz/decision"], mode) {
        assert_eq!(got_mode, expect, "{label}");
        let mut l = load(&wasm, &json!({})).await;
        for _round in 0..3 {
            for (input, want) in inputs.iter().zip(&wants) {
                let got = l.eval("crm/authz/decision", input).await.unwrap();
                assert_eq!(&got, want, "{label} {expect:?}: input {input}");
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn authz_policy_rvm_matches_native() {
    check_authz(ModeChoice::Auto, Mode::Rvm).await;
}

#[tokio::test(flavor = "current_thread")]
async fn authz_policy_interpreter_fallback_matches_native() {
    check_authz(ModeChoice::InterpreterOnly, Mode::Interpreter).await;
}

#[tokio::test(flavor = "current_thread")]
async fn data_document_is_visible() {
    let src = "package app\nallow if input.user in data.admins\n";
    let files = [("app.rego", src)];
    let data = json!({"admins": ["ann", "bo"]});
    for mode in [ModeChoice::Auto, ModeChoice::InterpreterOnly] {
        for (label, wasm, _) in both_paths(&files, &["app/allow"], mode) {
            let mut l = load(&wasm, &data).await;
            for u in ["ann", "carl"] {
                let input = json!({"user": u});
                let got = l.eval("app/allow", &input).await.unwrap();
                assert_eq!(
                    got,
                    native(&files, &data, "data.app.allow", &input),
                    "{label} {mode:?} {u}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn errors_trap_and_the_instance_recovers() {
    let src = "package e\nx := 10 / input.d\nok := count(input.list)\n";
    let files = [("e.rego", src)];
    for (label, wasm, _) in both_paths(&files, &["e/x", "e/ok"], ModeChoice::Auto) {
        let mut l = load(&wasm, &json!({})).await;
        for _ in 0..20 {
            // count() of a number is a type error: evaluation fails or is undefined,
            // but never corrupts the instance.
            let _ = l.eval("e/ok", &json!({"list": 5})).await;
            let _ = l.eval("e/x", &json!({"d": 0})).await;
            assert_eq!(
                l.eval("e/x", &json!({"d": 5})).await.unwrap(),
                json!([{"result": 2}]),
                "{label}"
            );
            assert_eq!(
                l.eval("e/ok", &json!({"list": [1, 2, 3]})).await.unwrap(),
                json!([{"result": 3}]),
                "{label}"
            );
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn builtin_errors_fail_the_evaluation_unless_compiled_with_opas_default() {
    let src =
        "package b\nm if regex.match(input.re, \"x\")\nn if not regex.match(input.re, \"x\")\n";
    let files = [("b.rego", src)];
    let bad = json!({"re": "$^[[["});
    // (The RVM, not the default, does not honour strict mode for every builtin.)
    for (strict, mode) in [
        (true, ModeChoice::InterpreterOnly),
        (false, ModeChoice::InterpreterOnly),
        (false, ModeChoice::RvmOnly),
    ] {
        let options = Options {
            strict_builtin_errors: strict,
            mode,
            ..Options::default()
        };
        let m = compile_with(&files, &["b/m", "b/n"], options).unwrap();
        let mut l = load(&m.wasm, &json!({})).await;
        let (got_m, got_n) = (l.eval("b/m", &bad).await, l.eval("b/n", &bad).await);
        if strict {
            // Fails closed: the host denies on an evaluation error.
            let e = got_m.unwrap_err();
            assert!(
                format!("{e:#}").to_lowercase().contains("regex"),
                "{mode:?}: {e:#}"
            );
            assert!(
                got_n.is_err(),
                "{mode:?}: `not` of a failing builtin must not be true"
            );
        } else {
            // OPA's default: the failing expression is undefined, so `not` of it holds.
            assert_eq!(got_m.unwrap(), json!([]));
            assert_eq!(got_n.unwrap(), json!([{"result": true}]));
        }
        assert_eq!(
            l.eval("b/m", &json!({"re": "^x$"})).await.unwrap(),
            json!([{"result": true}]),
            "strict = {strict}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_package_entrypoint_gives_the_packages_document() {
    let top = "package pkg\nx := 1\ny contains v if { some v in input.vs }\nf(a) := a\n";
    let sub = "package pkg.sub\nz := input.z\n";
    let files = [("a.rego", top), ("b.rego", sub)];
    let m = compile_with(
        &files,
        &["pkg", "pkg/x", "data.pkg.sub"],
        Options::default(),
    )
    .unwrap();
    assert_eq!(m.mode, Mode::Interpreter);
    let mut l = load(&m.wasm, &json!({})).await;
    let input = json!({"vs": [2, 1], "z": "q"});
    // Its rules and sub-packages, not its functions (as OPA gives it).
    assert_eq!(
        l.eval("pkg", &input).await.unwrap(),
        json!([{"result": {"x": 1, "y": [1, 2], "sub": {"z": "q"}}}])
    );
    assert_eq!(
        l.eval("pkg/x", &input).await.unwrap(),
        json!([{"result": 1}])
    );
    assert_eq!(
        l.eval("pkg/sub", &json!({})).await.unwrap(),
        json!([{"result": {}}])
    );
    // A prefix of a package's name is neither a package nor a rule.
    let e = compile(&files, &["pk"]).unwrap_err();
    assert!(format!("{e:#}").contains("entrypoint data.pk"), "{e:#}");
    let auto = Options {
        mode: ModeChoice::RvmOnly,
        ..Options::default()
    };
    assert!(compile_with(&files, &["pkg"], auto).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn time_builtins_are_the_hosts_and_agree_with_native() {
    // Deep enough that the evaluation's shadow stack is in use while the host calls back.
    let src = r#"package t
ns := time.parse_rfc3339_ns(input.at)
date := time.date(ns)
clock := time.clock([ns, "Asia/Shanghai"])
weekday := time.weekday(ns)
later := time.add_date(ns, 0, 1, 30)
dur := time.parse_duration_ns("1h30m")
stamps := [time.date(time.add_date(ns, 0, 0, d)) | some d in numbers.range(0, 20)]
same_now if time.now_ns() == time.now_ns()
recent if time.now_ns() - ns < 100 * 365 * 24 * 60 * 60 * 1000000000
far := time.add_date(ns, 0, 300000, 0)
next_year := time.date(time.add_date(ns, 1, 0, 0))
output_form if { time.parse_rfc3339_ns(input.at, n); n == ns; json.is_valid("[1]", true) }
"#;
    let files = [("t.rego", src)];
    // The first entrypoint is evaluated once at load, before the host has read `builtins()`.
    let eps = [
        "t/same_now",
        "t/date",
        "t/clock",
        "t/weekday",
        "t/later",
        "t/dur",
        "t/stamps",
        "t/recent",
        "t/output_form",
        "t/next_year",
    ];
    for (label, minor) in [("fast path", 2), ("context path", 1)] {
        let options = Options {
            abi_minor_version: minor,
            ..Options::default()
        };
        let m = compile_with(&files, &eps, options).unwrap();
        let mut l = load(&m.wasm, &json!({})).await;
        for at in ["2024-02-29T23:30:00Z", "1999-12-31T08:00:00+08:00"] {
            let input = json!({"at": at});
            for ep in eps {
                let got = l.eval(ep, &input).await.unwrap();
                let path = format!("data.{}", ep.replace('/', "."));
                let want = native(&files, &json!({}), &path, &input);
                assert_eq!(got, want, "{label}: {ep} at {at}");
            }
        }
        // time.add_date is the module's own, OPA's (Go's) arithmetic: month ends normalise.
        assert_eq!(
            l.eval("t/next_year", &json!({"at": "2024-02-29T23:30:00Z"}))
                .await
                .unwrap(),
            json!([{"result": [2025, 3, 1]}])
        );
        // Out of the int64 range of nanoseconds: an error, as natively.
        assert!(
            l.eval("t/far", &json!({"at": "2024-02-29T23:30:00Z"}))
                .await
                .is_err()
        );
        // A host builtin's error fails the evaluation (and the instance goes on).
        assert!(
            l.eval("t/date", &json!({"at": "not a time"}))
                .await
                .is_err()
        );
        assert_eq!(
            l.eval("t/dur", &json!({})).await.unwrap(),
            json!([{"result": 5_400_000_000_000i64}])
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn large_inputs_grow_memory() {
    let files = [("baseline.rego", BASELINE)];
    let wasm = compile(&files, &["crm/authz/allow"]).unwrap();
    let mut l = load(&wasm, &json!({})).await;
    let big: Vec<String> = (0..20_000).map(|i| format!("item-{i}")).collect();
    for _ in 0..5 {
        let got = l
            .eval("crm/authz/allow", &json!({"user": "alice", "junk": big}))
            .await
            .unwrap();
        assert_eq!(got, json!([{"result": true}]));
    }
}

#[test]
fn deterministic_and_abi_shaped() {
    let files = [("authz.rego", AUTHZ)];
    let a = compile(&files, &["crm/authz/decision"]).unwrap();
    let b = compile(&files, &["crm/authz/decision"]).unwrap();
    assert_eq!(a, b, "same sources must give the same bytes");

    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for p in wasmparser::Parser::new(0).parse_all(&a) {
        match p.unwrap() {
            wasmparser::Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    let i = i.unwrap();
                    imports.push(format!("{}.{}", i.module, i.name));
                }
            }
            wasmparser::Payload::ExportSection(r) => {
                for e in r {
                    exports.push(e.unwrap().name.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(imports.iter().all(|i| i.starts_with("env.")), "{imports:?}");
    assert!(imports.contains(&"env.memory".to_string()));
    let mut want: Vec<String> = crm_policy_compiler::ABI_FUNCTIONS
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.push("opa_wasm_abi_version".into());
    want.push("opa_wasm_abi_minor_version".into());
    want.sort();
    exports.sort();
    assert_eq!(exports, want);
}

#[test]
fn rejects_bad_rego_and_unknown_entrypoints() {
    assert!(compile(&[("bad.rego", "package x\nallow if {")], &["x/allow"]).is_err());
    assert!(compile(&[("b.rego", BASELINE)], &["crm/authz/nope"]).is_err());
}

/// `with` is not supported by the RVM compiler: `ModeChoice::Auto` falls back to the
/// interpreter inside the module and says so.
#[tokio::test(flavor = "current_thread")]
async fn with_keyword_falls_back_to_interpreter() {
    let src = "package w\nis_admin if input.role == \"admin\"\nallow if is_admin with input as {\"role\": \"admin\"}\nplain if is_admin\n";
    let files = [("w.rego", src)];
    let auto = Options {
        mode: ModeChoice::Auto,
        ..Default::default()
    };
    let m = compile_with(&files, &["w/allow", "w/plain"], auto).unwrap();
    assert_eq!(m.mode, Mode::Interpreter);
    eprintln!(
        "RVM rejected the policy: {}",
        m.rvm_error.as_deref().unwrap_or("?")
    );
    assert!(m.rvm_error.is_some());
    assert!(
        compile_with(
            &files,
            &["w/allow"],
            Options {
                mode: ModeChoice::RvmOnly,
                ..Default::default()
            }
        )
        .is_err()
    );
    let mut l = load(&m.wasm, &json!({})).await;
    for input in [json!({"role": "guest"}), json!({"role": "admin"})] {
        for ep in ["w/allow", "w/plain"] {
            let path = format!("data.{}", ep.replace('/', "."));
            assert_eq!(
                l.eval(ep, &input).await.unwrap(),
                native(&files, &json!({}), &path, &input),
                "{ep} {input}"
            );
        }
    }
}
