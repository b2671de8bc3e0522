//! The outside review's attacks, performed as the reviewer did, each of which must now be
//! refused: a policy module reaching the host's environment (1), Rego that freezes the server
//! (2), recovering masked fields by lookup (3), racing the sign-in limits (4), second factor and
//! token abuse (5), rewriting the audit chain (6), skipping a plugin form's rules (7), unbounded
//! list filters (8), and malformed or slow requests (9).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Server, crm, totp_at};

// ---------------------------------------------------------------------------------------------
// 1. A tenant's policy module asks the host for its environment (`opa.runtime`).
// ---------------------------------------------------------------------------------------------

/// A hand-assembled module in OPA's Wasm ABI (1.2, with the `opa_eval` fast path) whose
/// `builtins()` asks for `opa.runtime` and whose decision allows everything, with the runtime's
/// answer (the host's environment, as JSON) as its one reason: the reviewer's 1 KB module.
fn runtime_leaking_module() -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function,
        FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction as I, MemArg,
        MemoryType, Module, TypeSection, ValType::I32,
    };
    const BUILTINS: (u32, &str) = (16, r#"{"opa.runtime":0}"#);
    const ENTRYPOINTS: (u32, &str) = (64, r#"{"crm/tenant/decision":0}"#);
    const PREFIX: (u32, &str) = (128, r#"[{"result":{"allow":true,"reasons":[""#);
    const SUFFIX: (u32, &str) = (256, r#""],"obligations":{"mask":[],"redact":[]}}}]"#);
    let mut types = TypeSection::new();
    types.ty().function([I32], [I32]); // 0
    types.ty().function([I32], []); // 1
    types.ty().function([I32, I32], [I32]); // 2
    types.ty().function([], [I32]); // 3
    types.ty().function([I32, I32], []); // 4
    types.ty().function([I32; 7], [I32]); // 5
    let mut imports = ImportSection::new();
    imports.import(
        "env",
        "memory",
        EntityType::Memory(MemoryType {
            minimum: 2,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        }),
    );
    imports.import("env", "opa_builtin0", EntityType::Function(2)); // func 0
    let mut globals = GlobalSection::new();
    let int = |v: i32, mutable| {
        (
            GlobalType {
                val_type: I32,
                mutable,
                shared: false,
            },
            ConstExpr::i32_const(v),
        )
    };
    for (ty, init) in [int(1024, true), int(1, false), int(2, false)] {
        globals.global(ty, &init);
    }
    let mem = |offset| MemArg {
        offset,
        align: 2,
        memory_index: 0,
    };
    let byte = MemArg {
        offset: 0,
        align: 0,
        memory_index: 0,
    };
    // Defined functions, from index 1, with their type and body.
    let mut bodies: Vec<(u32, Function)> = Vec::new();
    // 1 opa_malloc(n): bump allocation, growing memory as needed.
    let mut f = Function::new([(1, I32)]);
    for i in [
        I::GlobalGet(0),
        I::LocalSet(1),
        I::GlobalGet(0),
        I::LocalGet(0),
        I::I32Add,
        I::I32Const(7),
        I::I32Add,
        I::I32Const(-8),
        I::I32And,
        I::GlobalSet(0),
        I::GlobalGet(0),
        I::MemorySize(0),
        I::I32Const(16),
        I::I32Shl,
        I::I32GtU,
        I::If(wasm_encoder::BlockType::Empty),
        I::GlobalGet(0),
        I::I32Const(16),
        I::I32ShrU,
        I::I32Const(1),
        I::I32Add,
        I::MemorySize(0),
        I::I32Sub,
        I::MemoryGrow(0),
        I::Drop,
        I::End,
        I::LocalGet(1),
        I::End,
    ] {
        f.instruction(&i);
    }
    bodies.push((0, f));
    // 2 opa_free(p): nothing.
    let mut f = Function::new([]);
    f.instruction(&I::End);
    bodies.push((1, f));
    // 3 opa_json_parse(ptr, len): a value is a cell {ptr, len} of JSON text.
    let mut f = Function::new([(1, I32)]);
    for i in [
        I::I32Const(8),
        I::Call(1),
        I::LocalTee(2),
        I::LocalGet(0),
        I::I32Store(mem(0)),
        I::LocalGet(2),
        I::LocalGet(1),
        I::I32Store(mem(4)),
        I::LocalGet(2),
        I::End,
    ] {
        f.instruction(&i);
    }
    bodies.push((2, f));
    // 4 opa_json_dump(v): the cell's text, NUL-terminated.
    let mut f = Function::new([(1, I32)]);
    for i in [
        I::LocalGet(0),
        I::I32Load(mem(4)),
        I::I32Const(1),
        I::I32Add,
        I::Call(1),
        I::LocalTee(1),
        I::LocalGet(0),
        I::I32Load(mem(0)),
        I::LocalGet(0),
        I::I32Load(mem(4)),
        I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        I::LocalGet(1),
        I::LocalGet(0),
        I::I32Load(mem(4)),
        I::I32Add,
        I::I32Const(0),
        I::I32Store8(byte),
        I::LocalGet(1),
        I::End,
    ] {
        f.instruction(&i);
    }
    bodies.push((0, f));
    // 5 builtins(), 6 entrypoints(): a cell over a static string.
    for (at, text) in [BUILTINS, ENTRYPOINTS] {
        let mut f = Function::new([]);
        for i in [
            I::I32Const(at as i32),
            I::I32Const(text.len() as i32),
            I::Call(3),
            I::End,
        ] {
            f.instruction(&i);
        }
        bodies.push((3, f));
    }
    // 7 opa_heap_ptr_get, 8 opa_heap_ptr_set.
    let mut f = Function::new([]);
    f.instruction(&I::GlobalGet(0)).instruction(&I::End);
    bodies.push((3, f));
    let mut f = Function::new([]);
    f.instruction(&I::LocalGet(0))
        .instruction(&I::GlobalSet(0))
        .instruction(&I::End);
    bodies.push((1, f));
    // 9 opa_eval_ctx_new, 10 the context setters, 11 get_result / eval: unused by the fast path.
    let mut f = Function::new([]);
    f.instruction(&I::I32Const(0)).instruction(&I::End);
    bodies.push((3, f));
    let mut f = Function::new([]);
    f.instruction(&I::End);
    bodies.push((4, f));
    let mut f = Function::new([]);
    f.instruction(&I::I32Const(0)).instruction(&I::End);
    bodies.push((0, f));
    // 12 opa_eval(_, _, _, _, _, heap, _): call opa.runtime, escape its JSON into a reason.
    // Locals: 7 src, 8 n, 9 out, 10 w, 11 i, 12 c.
    let mut f = Function::new([(6, I32)]);
    let copy = |f: &mut Function, (at, text): (u32, &str)| {
        for i in [
            I::LocalGet(10),
            I::I32Const(at as i32),
            I::I32Const(text.len() as i32),
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            I::LocalGet(10),
            I::I32Const(text.len() as i32),
            I::I32Add,
            I::LocalSet(10),
        ] {
            f.instruction(&i);
        }
    };
    for i in [
        I::LocalGet(5),
        I::GlobalSet(0),
        I::I32Const(0),
        I::I32Const(0),
        I::Call(0),
        I::LocalTee(12),
        I::I32Load(mem(0)),
        I::LocalSet(7),
        I::LocalGet(12),
        I::I32Load(mem(4)),
        I::LocalSet(8),
        I::LocalGet(8),
        I::I32Const(2),
        I::I32Mul,
        I::I32Const(256),
        I::I32Add,
        I::Call(1),
        I::LocalTee(9),
        I::LocalSet(10),
    ] {
        f.instruction(&i);
    }
    copy(&mut f, PREFIX);
    for i in [
        I::Block(wasm_encoder::BlockType::Empty),
        I::Loop(wasm_encoder::BlockType::Empty),
        I::LocalGet(11),
        I::LocalGet(8),
        I::I32GeU,
        I::BrIf(1),
        I::LocalGet(7),
        I::LocalGet(11),
        I::I32Add,
        I::I32Load8U(byte),
        I::LocalSet(12),
        // A quote or a backslash gets a backslash before it; a control character becomes a space.
        I::LocalGet(12),
        I::I32Const(b'"' as i32),
        I::I32Eq,
        I::LocalGet(12),
        I::I32Const(b'\\' as i32),
        I::I32Eq,
        I::I32Or,
        I::If(wasm_encoder::BlockType::Empty),
        I::LocalGet(10),
        I::I32Const(b'\\' as i32),
        I::I32Store8(byte),
        I::LocalGet(10),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(10),
        I::End,
        I::LocalGet(12),
        I::I32Const(0x20),
        I::I32LtU,
        I::If(wasm_encoder::BlockType::Empty),
        I::I32Const(b' ' as i32),
        I::LocalSet(12),
        I::End,
        I::LocalGet(10),
        I::LocalGet(12),
        I::I32Store8(byte),
        I::LocalGet(10),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(10),
        I::LocalGet(11),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(11),
        I::Br(0),
        I::End,
        I::End,
    ] {
        f.instruction(&i);
    }
    copy(&mut f, SUFFIX);
    for i in [
        I::LocalGet(10),
        I::I32Const(0),
        I::I32Store8(byte),
        I::LocalGet(9),
        I::End,
    ] {
        f.instruction(&i);
    }
    bodies.push((5, f));
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    for (ty, body) in &bodies {
        functions.function(*ty);
        code.function(body);
    }
    let mut exports = ExportSection::new();
    for (name, index) in [
        ("opa_malloc", 1),
        ("opa_free", 2),
        ("opa_json_parse", 3),
        ("opa_json_dump", 4),
        ("builtins", 5),
        ("entrypoints", 6),
        ("opa_heap_ptr_get", 7),
        ("opa_heap_ptr_set", 8),
        ("opa_eval_ctx_new", 9),
        ("opa_eval_ctx_set_input", 10),
        ("opa_eval_ctx_set_data", 10),
        ("opa_eval_ctx_set_entrypoint", 10),
        ("opa_eval_ctx_get_result", 11),
        ("eval", 11),
        ("opa_eval", 12),
    ] {
        exports.export(name, ExportKind::Func, index);
    }
    exports.export("opa_wasm_abi_version", ExportKind::Global, 1);
    exports.export("opa_wasm_abi_minor_version", ExportKind::Global, 2);
    let mut data = DataSection::new();
    for (at, text) in [BUILTINS, ENTRYPOINTS, PREFIX, SUFFIX] {
        data.active(0, &ConstExpr::i32_const(at as i32), text.bytes());
    }
    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&globals)
        .section(&exports)
        .section(&code)
        .section(&data);
    module.finish()
}

/// An OPA bundle (`bundle.tar.gz`) holding `wasm` as its `/policy.wasm`, for the tenant's entrypoint.
fn bundle_of(wasm: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let manifest =
        json!({"wasm": [{"entrypoint": "crm/tenant/decision", "module": "/policy.wasm"}]});
    for (path, bytes) in [
        ("/.manifest", manifest.to_string().into_bytes()),
        ("/data.json", b"{}".to_vec()),
        ("/policy.wasm", wasm.to_vec()),
    ] {
        let mut header = tar::Header::new_gnu();
        let field = &mut header.as_old_mut().name;
        field[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn a_policy_module_cannot_read_the_hosts_environment() {
    // The master key is passed the documented way, in the environment.
    let key = "bWFzdGVyLWtleS1mb3ItdGhlLXNlY3VyaXR5LXRlc3Q=";
    let s = Server::demo_env(3, false, &[("CRM_MASTER_KEY", key)]);
    let compliance = s.token("compliance").await;

    // The server read the key once and took it out of its environment, including the bytes the
    // kernel shows as the process's initial environment.
    let environ = std::fs::read(format!("/proc/{}/environ", s.pid())).unwrap();
    assert!(
        !environ.windows(key.len()).any(|w| w == key.as_bytes()),
        "the master key is still in the server's environment"
    );
    // And it is the key in use: the data folder has no key file of its own.
    assert!(!s.data().join("master.key").exists());

    // The module is a working attack: linked as the host linked policy modules before (by
    // opa-wasm's default context), its decision carries the process's environment.
    let wasm = runtime_leaking_module();
    let engine = opa_wasm::wasmtime::Engine::default();
    let module = opa_wasm::wasmtime::Module::new(&engine, &wasm).unwrap();
    let mut store = opa_wasm::wasmtime::Store::new(&engine, ());
    let policy = opa_wasm::Runtime::new(&mut store, &module)
        .await
        .unwrap()
        .without_data(&mut store)
        .await
        .unwrap();
    let leaked: Value = policy
        .evaluate(&mut store, "crm/tenant/decision", &json!({}))
        .await
        .unwrap();
    let reason = leaked[0]["result"]["reasons"][0].as_str().unwrap();
    assert!(
        leaked[0]["result"]["allow"] == true && reason.contains("\"PATH\""),
        "{leaked}"
    );

    // The attack: publish the module. It is refused at publish, naming the builtin, before it
    // is ever linked or evaluated.
    let resp = s
        .http
        .post(format!("{}/api/v1/policies/bundle", s.url))
        .bearer_auth(&compliance)
        .header("content-type", "application/gzip")
        .body(bundle_of(&wasm))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 422, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`opa.runtime`") && message.contains("does not provide"),
        "{message}"
    );
    let (_, list) = s.get("/api/v1/policies", Some(&compliance)).await;
    assert_eq!(list["active"], Value::Null, "{list}");

    // Nothing of the key anywhere: not in the decision log, not in the database file.
    let (_, decisions) = s.get("/api/v1/decisions", Some(&compliance)).await;
    assert!(!decisions.to_string().contains(key));
    let db = std::fs::read(s.data().join("crm.db")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));

    // A tenant set's reasons reach responses, the decision log and the audit trail: they are
    // bounded in number and length, and a set that breaks the bounds is refused at publish.
    for (answer, bound) in [
        (
            r#"{"allow": true, "reasons": [sprintf("r%d", [i]) | some i in numbers.range(1, 100)]}"#,
            "at most 32",
        ),
        (
            r#"{"allow": false, "reasons": [concat("", ["x" | some _ in numbers.range(1, 600)])]}"#,
            "longer than 500",
        ),
        (
            r#"{"allow": true, "obligations": {"mask": ["<script>"]}}"#,
            "obligation `mask`",
        ),
    ] {
        let rego = format!("package crm.tenant\n\ndecision := {answer}\n");
        let (st, v) = s
            .post_json(
                "/api/v1/policies",
                Some(&compliance),
                &json!({"files": {"rules.rego": rego}}),
            )
            .await;
        assert_eq!(st, 422, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(bound),
            "{bound}: {v}"
        );
    }
    let (_, list) = s.get("/api/v1/policies", Some(&compliance)).await;
    assert_eq!(list["active"], Value::Null, "{list}");
}

// ---------------------------------------------------------------------------------------------
// 2. Staff post Rego tests that would run without bound.
// ---------------------------------------------------------------------------------------------

/// A set whose tests each ask for unbounded work: a 400-million-element array (gigabytes), a
/// comprehension of 16 million iterations.
fn hostile_set(n: usize) -> Value {
    json!({"files": {
        "rules.rego": "package crm.tenant\n\ndefault decision := {\"allow\": true}\n",
        "rules_test.rego": format!(
            "package crm.tenant_test\n\n\
             test_memory_{n} if count(numbers.range(1, 400000000)) > 0\n\n\
             test_cpu_{n} if count([1 | some i in numbers.range(1, 4000); some j in numbers.range(1, 4000)]) > 0\n"
        ),
    }})
}

/// The server's resident memory now and at its peak, from `/proc` (kB).
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Probes `/healthz` and a customer read every 50 ms for `secs` seconds; each must answer
/// within 5 s. Returns their latencies, sorted, and the server's peak RSS seen (kB).
async fn probe(
    s: &Server,
    token: &str,
    customer: &str,
    secs: u64,
) -> (Vec<Duration>, Vec<Duration>, u64) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut health, mut reads, mut peak_rss) = (Vec::new(), Vec::new(), 0);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        let r = client.get(format!("{}/healthz", s.url)).send().await;
        assert!(
            r.is_ok_and(|r| r.status() == 200),
            "/healthz did not answer"
        );
        health.push(t.elapsed());
        let t = Instant::now();
        let r = client
            .get(format!("{}/api/v1/customers/{customer}", s.url))
            .bearer_auth(token)
            .send()
            .await;
        assert!(
            r.is_ok_and(|r| r.status() == 200),
            "the read did not answer"
        );
        reads.push(t.elapsed());
        peak_rss = peak_rss.max(memory_kb(s.pid()).0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    health.sort();
    reads.sort();
    (health, reads, peak_rss)
}

async fn policy_jobs_run(s: &Server) -> u64 {
    let text = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("crm_policy_jobs_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn hostile_rego_tests_do_not_freeze_the_server() {
    let s = Server::demo(20);
    let customer = s.some_customer_ids(1).await.remove(0);
    let support = s.token("support").await;

    // A member without policy.read posts tests through the web editor: refused before any job.
    let web = s.web_client("marketing").await;
    let page = crate::common::page(&web, &format!("{}/customers", s.url)).await;
    let csrf = crate::common::form_token(&page);
    let before = policy_jobs_run(&s).await;
    let set = hostile_set(0);
    let resp = web
        .post(format!("{}/policies", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("op", "test"),
            ("path0", "rules.rego"),
            ("source0", set["files"]["rules.rego"].as_str().unwrap()),
            ("path1", "rules_test.rego"),
            ("source1", set["files"]["rules_test.rego"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("role_denied"), "{html}");
    assert_eq!(policy_jobs_run(&s).await, before, "no policy job ran");

    // Ten hostile test runs are posted at once (API and web editor, two tenants), while
    // another member keeps reading a customer and the health check.
    // (The browser signs in first: both sign-ins use the current TOTP code once each.)
    let web = s.web_client("compliance").await;
    let compliance = s.token("compliance").await;
    let page = crate::common::page(&web, &format!("{}/policies", s.url)).await;
    let csrf = crate::common::form_token(&page);
    let (rss_before, _) = memory_kb(s.pid());
    // A second tenant's admin attacks at the same time, so jobs of two tenants run at once.
    let eve = s.attacker().await;
    let attack = async {
        let runs = (0..10).map(|n| {
            let (s, compliance, web, csrf, eve) = (&s, &compliance, &web, &csrf, &eve);
            async move {
                let set = hostile_set(n);
                if n % 2 == 0 {
                    let who = if n % 4 == 0 { compliance } else { eve };
                    let (st, v) = s.post_json("/api/v1/policies/check", Some(who), &set).await;
                    (st, v.to_string())
                } else {
                    let resp = web
                        .post(format!("{}/policies", s.url))
                        .form(&[
                            ("csrf_token", csrf.as_str()),
                            ("op", "test"),
                            ("path0", "rules.rego"),
                            ("source0", set["files"]["rules.rego"].as_str().unwrap()),
                            ("path1", "rules_test.rego"),
                            ("source1", set["files"]["rules_test.rego"].as_str().unwrap()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    (resp.status().as_u16(), resp.text().await.unwrap())
                }
            }
        });
        futures_util::future::join_all(runs).await
    };
    let (quiet_health, quiet_reads, _) = probe(&s, &support, &customer, 3).await;
    let (outcomes, (health, reads, peak_rss)) =
        tokio::join!(attack, probe(&s, &support, &customer, 15));
    // Each run was stopped by a limit, or refused while the tenant's one job slot was taken.
    let mut stopped = 0;
    for (st, body) in &outcomes {
        let limit = body.contains("limit exceeded") || body.contains("exceeded time limit");
        let busy = body.contains("policy job of this tenant is already running");
        assert!(
            (*st == 200 || *st == 422 || *st == 429) && (limit || busy),
            "{st}: {body}"
        );
        stopped += usize::from(limit);
    }
    assert!(stopped >= 1, "{outcomes:?}");
    let figures = |h: &[Duration], r: &[Duration]| {
        format!(
            "/healthz p50 {:?} p99 {:?}, GET /api/v1/customers/{{id}} p50 {:?} p99 {:?} ({} probes)",
            percentile(h, 0.5),
            percentile(h, 0.99),
            percentile(r, 0.5),
            percentile(r, 0.99),
            h.len()
        )
    };
    eprintln!(
        "quiet: {}\nduring 10 hostile policy test runs ({stopped} stopped by a limit, the others \
         refused while the tenant's job slot was taken): {}\nserver RSS {} MiB before, {} MiB \
         at most during the attack",
        figures(&quiet_health, &quiet_reads),
        figures(&health, &reads),
        rss_before / 1024,
        peak_rss / 1024
    );
    // The jobs' memory is the children's, capped at 1 GiB each: the server's own stays small.
    assert!(peak_rss < 1024 * 1024, "server RSS {peak_rss} kB");
}

// ---------------------------------------------------------------------------------------------
// 3. Recovering masked emails and phones by exact lookup.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn masked_fields_cannot_be_recovered_by_lookup() {
    let s = Server::demo(5);
    let admin = s.token("admin").await;
    let (st, c) = s
        .post_json(
            "/api/v1/customers",
            Some(&admin),
            &json!({"name": "Katrin Schulz", "email": "k.schulz@example.org",
                    "phone": "+4930123456789", "region": "EU"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap();

    // Marketing sees the email masked: a guess confirmed by lookup would reveal it.
    let marketing = s.token("marketing").await;
    let (_, v) = s
        .get(&format!("/api/v1/customers/{id}"), Some(&marketing))
        .await;
    assert_eq!(v["email"], "k***@example.org", "{v}");
    for q in ["email=k.schulz%40example.org", "phone=%2B4930123456789"] {
        let (st, v) = s
            .get(&format!("/api/v1/customers?{q}"), Some(&marketing))
            .await;
        assert_eq!(st, 403, "{q}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("field_hidden"),
            "{v}"
        );
    }
    // Support sees the phone masked but the email in clear.
    let support = s.token("support").await;
    let (st, _) = s
        .get("/api/v1/customers?phone=%2B4930123456789", Some(&support))
        .await;
    assert_eq!(st, 403);
    let (st, v) = s
        .get(
            "/api/v1/customers?email=k.schulz%40example.org",
            Some(&support),
        )
        .await;
    assert_eq!((st, v["items"][0]["id"].as_str()), (200, Some(id)), "{v}");

    // Lookups are audited with the field, never the value.
    let db = s.db().await;
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'customer.lookup' ORDER BY seq",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(details.len() >= 2, "{details:?}");
    assert!(details.iter().any(|d| d.contains(r#""fields":["email"]"#)));
    assert!(
        details
            .iter()
            .all(|d| !d.contains("schulz") && !d.contains("4930123456789"))
    );

    // Forty lookups at once beyond what is left of the window: exactly the limit is served.
    let sales = s.token("sales").await;
    let mut served = 0;
    for _ in 0..80 {
        let (st, _) = s
            .get("/api/v1/customers?email=guess%40example.org", Some(&sales))
            .await;
        assert_eq!(st, 200);
        served += 1;
    }
    let burst = (0..40).map(|i| {
        let (s, sales) = (&s, &sales);
        async move {
            s.get(
                &format!("/api/v1/customers?email=guess{i}%40example.org"),
                Some(sales),
            )
            .await
            .0
        }
    });
    let statuses = futures_util::future::join_all(burst).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((served + ok, limited), (100, 20), "{statuses:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Racing the sign-in limits and the TOTP replay protection.
// ---------------------------------------------------------------------------------------------

/// Sign-ins posted all at once from `from` (an address of this machine: 127.0.0.x), so each
/// burst meets the per-address limit afresh.
async fn sign_in_burst(s: &Server, from: u8, bodies: Vec<Value>) -> Vec<(u16, String)> {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, from]))
        .build()
        .unwrap();
    let attempts = bodies.into_iter().map(|b| {
        let client = client.clone();
        async move {
            let resp = client
                .post(format!("{}/api/v1/session", s.url))
                .json(&b)
                .send()
                .await
                .unwrap();
            let st = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            (st, v["error"]["code"].as_str().unwrap_or("").to_string())
        }
    });
    futures_util::future::join_all(attempts).await
}

fn count(results: &[(u16, String)], status: u16) -> usize {
    results.iter().filter(|(st, _)| *st == status).count()
}

#[tokio::test]
async fn sign_in_limits_hold_under_concurrency() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let guess =
        |user: &str| json!({"tenant": "demo", "username": user, "password": "Wrong-Guess-2026"});

    // Forty wrong passwords at once for one account: three free attempts and the one that
    // starts the delay are evaluated; the other 36 are refused unevaluated.
    let results = sign_in_burst(&s, 11, vec![guess(sales["username"].as_str().unwrap()); 40]).await;
    assert_eq!(
        (count(&results, 401), count(&results, 429)),
        (4, 36),
        "{results:?}"
    );
    let db = s.db().await;
    let evaluated: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'session.create' AND detail LIKE '%bad_password%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(evaluated, 4);

    // An unknown username gets the same answers and the same throttling.
    let results = sign_in_burst(&s, 12, vec![guess("no-such-user"); 40]).await;
    assert_eq!(
        (count(&results, 401), count(&results, 429)),
        (4, 36),
        "{results:?}"
    );

    // One TOTP code, six sign-ins at once: it signs in once.
    let admin = s.user("admin");
    let code = totp_at(admin["totp_secret"].as_str().unwrap(), 0);
    let body = json!({"tenant": "demo", "username": admin["username"],
                      "password": admin["password"], "totp": code});
    let results = sign_in_burst(&s, 13, vec![body; 6]).await;
    assert_eq!(count(&results, 200), 1, "{results:?}");

    // Forty different usernames from one address at once: the address's 30 failures are
    // reserved before any is checked, the other ten refused unevaluated.
    let results = sign_in_burst(
        &s,
        14,
        (0..40).map(|i| guess(&format!("spray{i}"))).collect(),
    )
    .await;
    assert_eq!(
        (count(&results, 401), count(&results, 429)),
        (30, 10),
        "{results:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Second factor, recovery codes and API tokens.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn second_factor_and_tokens_cannot_be_abused() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let (user, password) = (
        sales["username"].as_str().unwrap(),
        sales["password"].as_str().unwrap(),
    );
    let session = s.sign_in("demo", user, password, None).await;
    let other = s.sign_in("demo", user, password, None).await;

    // A token cannot mint tokens, nor change the second factor; tokens last 30 days by
    // default and 90 at most.
    let (st, t) = s
        .post_json("/api/v1/tokens", Some(&session), &json!({"name": "ci"}))
        .await;
    assert_eq!(st, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    let expires = chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "default 30 days, got {days}");
    let (st, v) = s
        .post_json("/api/v1/tokens", Some(&token), &json!({"name": "more"}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("token_not_allowed"))
    );
    let (st, v) = s
        .post_json(
            "/api/v1/me/mfa",
            Some(&token),
            &json!({"password": password}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("token_not_allowed"))
    );
    let (st, _) = s
        .post_json(
            "/api/v1/tokens",
            Some(&session),
            &json!({"name": "long", "days": 91}),
        )
        .await;
    assert_eq!(st, 400);

    // Enrolling checks the password; confirming signs the member's other sessions out.
    let (st, start) = s
        .post_json(
            "/api/v1/me/mfa",
            Some(&session),
            &json!({"password": password}),
        )
        .await;
    assert_eq!(st, 200, "{start}");
    let secret = start["secret"].as_str().unwrap().to_string();
    let (st, confirmed) = s
        .post_json(
            "/api/v1/me/mfa/confirm",
            Some(&session),
            &json!({"code": totp_at(&secret, 0)}),
        )
        .await;
    assert_eq!(st, 200, "{confirmed}");
    assert_eq!(s.get("/api/v1/me", Some(&other)).await.0, 401);
    assert_eq!(s.get("/api/v1/me", Some(&session)).await.0, 200);
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    // Re-enrolling with only a session (or the password alone) is refused: it needs the
    // password and the current factor (here a recovery code, the lost-phone case).
    for body in [
        json!({"password": password}),
        json!({"password": "Not-The-Password-9", "code": codes[0]}),
    ] {
        let (st, v) = s.post_json("/api/v1/me/mfa", Some(&session), &body).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("reauthentication_failed")),
            "{v}"
        );
    }
    let (st, v) = s
        .post_json(
            "/api/v1/me/mfa",
            Some(&session),
            &json!({"password": password, "code": codes[0]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // A recovery code signs in once, however many requests carry it at once; the codes are
    // stored only as keyed hashes.
    let body = json!({"tenant": "demo", "username": user, "password": password, "totp": codes[1]});
    let results = sign_in_burst(&s, 21, vec![body; 6]).await;
    assert_eq!(count(&results, 200), 1, "{results:?}");
    let db = s.db().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for c in &codes {
        let plain = c.replace('-', "");
        assert!(stored.iter().all(|h| !h.contains(&plain)));
    }

    // Tokens are listed and revoked by their owner, and by an admin for another member.
    let (_, mine) = s.get("/api/v1/tokens", Some(&session)).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    let token_id = mine[0]["id"].as_str().unwrap().to_string();
    let admin = s.token("admin").await;
    let (_, admin_me) = s.get("/api/v1/me", Some(&admin)).await;
    let (st, _) = s
        .get(
            &format!("/api/v1/tokens?user={}", admin_me["id"].as_str().unwrap()),
            Some(&session),
        )
        .await;
    assert_eq!(st, 403, "sales may not list the admin's tokens");
    let (_, me) = s.get("/api/v1/me", Some(&session)).await;
    let (st, theirs) = s
        .get(
            &format!("/api/v1/tokens?user={}", me["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (st, theirs.as_array().map(Vec::len)),
        (200, Some(1)),
        "{theirs}"
    );
    assert_eq!(
        s.delete(&format!("/api/v1/tokens/{token_id}"), Some(&admin))
            .await,
        204
    );
    assert_eq!(s.get("/api/v1/me", Some(&token)).await.0, 401);

    // Signing out everywhere ends every session and token of the member.
    let (_, t) = s
        .post_json(
            "/api/v1/tokens",
            Some(&session),
            &json!({"name": "nightly"}),
        )
        .await;
    let token = t["token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/v1/me", Some(&token)).await.0, 200);
    assert_eq!(s.delete("/api/v1/me/sessions", Some(&session)).await, 204);
    assert_eq!(s.get("/api/v1/me", Some(&session)).await.0, 401);
    assert_eq!(s.get("/api/v1/me", Some(&token)).await.0, 401);
}

// ---------------------------------------------------------------------------------------------
// 6. Rewriting the audit chain with database access.
// ---------------------------------------------------------------------------------------------

/// The hash the chain used before it was keyed: what an attacker without the key can compute.
fn plain_hash(
    r: &(
        String,
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
    ),
    prev: &str,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [
        r.0.as_str(),
        &r.1.to_string(),
        &r.2.to_string(),
        &r.3,
        &r.4,
        &r.5,
        &r.6,
        &r.7,
        &r.8,
        prev,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

#[tokio::test]
async fn a_rewritten_or_cut_audit_chain_is_detected() {
    let s = Server::demo(40);
    let admin = s.token("admin").await;
    for id in s.some_customer_ids(40).await {
        assert_eq!(
            s.get(&format!("/api/v1/customers/{id}"), Some(&admin))
                .await
                .0,
            200
        );
    }
    let outside = s.data().join("checkpoints.jsonl");
    let outside_arg = outside.to_str().unwrap();
    let (ok, out, err) = crm(
        &s.data(),
        &["audit", "checkpoint", "--out", outside_arg],
        &[],
    );
    assert!(ok && out.contains("public key: "), "{out}{err}");
    let (ok, out, _) = crm(
        &s.data(),
        &["audit", "verify", "--checkpoints", outside_arg],
        &[],
    );
    assert!(ok && out.contains("demo: ok"), "{out}");

    let db = s.db().await;
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    // The reviewer's rewrite: delete a third of the records, renumber, recompute the chain and
    // the head with SHA-256 as an attacker can.
    sqlx::query("DELETE FROM audit_log WHERE tenant_id = ? AND seq % 3 = 0")
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    type Row = (
        String,
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT tenant_id, seq, at, actor, action, resource, decision, policy_version, detail \
         FROM audit_log WHERE tenant_id = ? ORDER BY seq",
    )
    .bind(&tenant)
    .fetch_all(&db)
    .await
    .unwrap();
    let mut prev = "0".repeat(64);
    for (i, r) in rows.iter().enumerate() {
        let mut r = r.clone();
        let old_seq = r.1;
        r.1 = -(i as i64 + 1);
        sqlx::query("UPDATE audit_log SET seq = ? WHERE tenant_id = ? AND seq = ?")
            .bind(r.1)
            .bind(&tenant)
            .bind(old_seq)
            .execute(&db)
            .await
            .unwrap();
        r.1 = i as i64 + 1;
        let hash = plain_hash(&r, &prev);
        sqlx::query(
            "UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?",
        )
        .bind(r.1)
        .bind(&prev)
        .bind(&hash)
        .bind(&tenant)
        .bind(-r.1)
        .execute(&db)
        .await
        .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant_id = ?")
        .bind(rows.len() as i64)
        .bind(&prev)
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    let (ok, out, _) = crm(&s.data(), &["audit", "verify", "--tenant", "demo"], &[]);
    assert!(
        !ok && out.contains("BROKEN at record 1") && out.contains("keyed hash"),
        "{out}"
    );
    let (_, v) = s
        .get("/api/v1/audit/verify", Some(&s.token("compliance").await))
        .await;
    assert_eq!(v["ok"], false, "{v}");
    // Marking the chain as one of the unkeyed format does not pass either.
    sqlx::query("UPDATE audit_heads SET format = 1 WHERE tenant_id = ?")
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    let (ok, out, _) = crm(&s.data(), &["audit", "verify", "--tenant", "demo"], &[]);
    assert!(!ok && out.contains("unkeyed format"), "{out}");
}

#[tokio::test]
async fn a_chain_cut_back_to_an_earlier_head_is_caught_by_a_signed_checkpoint() {
    let s = Server::demo(20);
    let admin = s.token("admin").await;
    let ids = s.some_customer_ids(20).await;
    for id in &ids[..10] {
        s.get(&format!("/api/v1/customers/{id}"), Some(&admin))
            .await;
    }
    let db = s.db().await;
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db)
        .await
        .unwrap();
    // Remember a genuine head, let the chain grow, and take a checkpoint kept outside.
    let (early_seq, early_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?")
            .bind(&tenant)
            .fetch_one(&db)
            .await
            .unwrap();
    for id in &ids[10..] {
        s.get(&format!("/api/v1/customers/{id}"), Some(&admin))
            .await;
    }
    let outside = s.data().join("outside.jsonl");
    let outside_arg = outside.to_str().unwrap();
    let (ok, out, _) = crm(
        &s.data(),
        &[
            "audit",
            "checkpoint",
            "--tenant",
            "demo",
            "--out",
            outside_arg,
        ],
        &[],
    );
    assert!(ok, "{out}");
    // The attacker cuts the chain back to the earlier head (every remaining HMAC is genuine)
    // and deletes the checkpoints in the database too.
    for q in [
        "DELETE FROM audit_log WHERE tenant_id = ? AND seq > ?",
        "DELETE FROM audit_checkpoints WHERE tenant_id = ? AND seq > ?",
    ] {
        sqlx::query(q)
            .bind(&tenant)
            .bind(early_seq)
            .execute(&db)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant_id = ?")
        .bind(early_seq)
        .bind(&early_hash)
        .bind(&tenant)
        .execute(&db)
        .await
        .unwrap();
    let (ok, out, _) = crm(
        &s.data(),
        &[
            "audit",
            "verify",
            "--tenant",
            "demo",
            "--checkpoints",
            outside_arg,
        ],
        &[],
    );
    assert!(
        !ok && out.contains("signed checkpoint") && out.contains("removed from the end"),
        "{out}"
    );
    // A checkpoint the attacker forges (another signature) is refused as such.
    let forged: Vec<Value> = std::fs::read_to_string(&outside)
        .unwrap()
        .lines()
        .map(|l| {
            let mut c: Value = serde_json::from_str(l).unwrap();
            c["seq"] = json!(early_seq);
            c["hash"] = json!(early_hash);
            c
        })
        .collect();
    let forged_path = s.data().join("forged.jsonl");
    std::fs::write(
        &forged_path,
        forged
            .iter()
            .map(|c| c.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let (ok, out, _) = crm(
        &s.data(),
        &[
            "audit",
            "verify",
            "--tenant",
            "demo",
            "--checkpoints",
            forged_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !ok && out.contains("not signed by this deployment"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Skipping a plugin form's rules.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_plugin_form_cannot_be_submitted_around_its_rules() {
    let s = Server::demo(3);
    let web = s.web_client("admin").await;
    let page = crate::common::page(&web, &format!("{}/apps/subscriptions/plans", s.url)).await;
    assert!(
        page.contains("name=\"_action\" value=\"create-plan\""),
        "{page}"
    );
    let csrf = crate::common::form_token(&page);
    let plans = |html: &str| html.matches("BAD CODE").count();
    // The reviewer's post: the form's action and fields, without `_form` and `_form_mac`, with
    // values its rules refuse.
    let resp = web
        .post(format!("{}/apps/subscriptions/plans", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("_action", "create-plan"),
            ("code", "BAD CODE"),
            ("name", ""),
            ("price", "-5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("does not carry the form it came from"),
        "{html}"
    );
    // Another form's signed specification does not pass for this action either.
    let foreign_form = page
        .split("name=\"_form\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap();
    let foreign_mac = page
        .split("name=\"_form_mac\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap();
    let resp = web
        .post(format!("{}/apps/subscriptions/plans", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("_action", "enroll"),
            ("_form", foreign_form),
            ("_form_mac", foreign_mac),
            ("customer", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "{}", resp.text().await.unwrap());
    // Over the API the origin screen is rendered and its form's rules applied.
    let admin = s.token("admin").await;
    let (st, v) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/create-plan",
            Some(&admin),
            &json!({"inputs": {"code": "BAD CODE", "price": "-5"}, "origin": {"screen": "plans"}}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(
        v["error"]["fields"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{v}"
    );
    let (st, v) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/create-plan",
            Some(&admin),
            &json!({"inputs": {"code": "BAD CODE"}}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("action_not_offered")),
        "{v}"
    );
    // Nothing was created.
    let page = crate::common::page(&web, &format!("{}/apps/subscriptions/plans", s.url)).await;
    assert_eq!(plans(&page), 0);
}

// ---------------------------------------------------------------------------------------------
// 8. Unbounded list filters.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_filters_are_bounded() {
    let s = Server::demo(1);
    let admin = s.token("admin").await;
    let query: String = (0..5000).map(|i| format!("tag=t{i}&")).collect();
    let (st, v) = s
        .get(&format!("/api/v1/customers?{query}"), Some(&admin))
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 20"),
        "{v}"
    );
    let (st, _) = s
        .get(
            &format!(
                "/api/v1/customers?{}",
                (0..20)
                    .map(|i| format!("tag=t{i}"))
                    .collect::<Vec<_>>()
                    .join("&")
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(st, 200);
}

// ---------------------------------------------------------------------------------------------
// 9. Malformed and slow requests.
// ---------------------------------------------------------------------------------------------

async fn raw(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: &str,
    ctype: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut r = s
        .http
        .request(method, format!("{}{path}", s.url))
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(c) = ctype {
        r = r.header("content-type", c);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let is_json = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let text = resp.text().await.unwrap();
    assert!(is_json, "{status} {path}: not JSON: {text:?}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["error"]["code"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    (status, v)
}

#[tokio::test]
async fn malformed_requests_get_json_errors_and_change_nothing() {
    use reqwest::Method;
    let s = Server::demo(2);
    let admin = s.token("admin").await;
    let limits = "/api/v1/plugins/hello/limits";
    // A bare array, as text or as JSON, and a look-alike content type: refused.
    assert_eq!(
        raw(
            &s,
            Method::PUT,
            limits,
            &admin,
            Some("text/plain"),
            "[5,6,7]"
        )
        .await
        .0,
        415
    );
    assert_eq!(
        raw(
            &s,
            Method::PUT,
            limits,
            &admin,
            Some("application/json"),
            "[5,6,7]"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        raw(
            &s,
            Method::PUT,
            limits,
            &admin,
            Some("application/jsonx"),
            r#"{"deadline_ms": 5}"#
        )
        .await
        .0,
        415
    );
    let (st, v) = raw(
        &s,
        Method::PUT,
        limits,
        &admin,
        Some("application/json"),
        r#"{"deadline_ms": 50, "deadline_ms": 5}"#,
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key"),
        "{v}"
    );
    let (_, plugin) = s.get("/api/v1/plugins/hello", Some(&admin)).await;
    assert_ne!(plugin["limits"]["deadline_ms"], 5, "{plugin}");
    // Every refusal under /api/ is the JSON error shape.
    for (method, path, ctype, body, status) in [
        (Method::GET, "/api/v1/customers/%FF", None, "", 400),
        (
            Method::DELETE,
            "/api/v1/plugins/hello?purge=maybe",
            None,
            "",
            400,
        ),
        (Method::GET, "/api/v1/customers?colour=red", None, "", 400),
        (
            Method::GET,
            "/api/v1/customers?page=1&page=2",
            None,
            "",
            400,
        ),
        (Method::GET, "/api/v1/audit?limit=5&limit=6", None, "", 400),
        (
            Method::POST,
            "/api/v1/plugins",
            Some("multipart/form-data"),
            "x",
            400,
        ),
        (Method::PUT, "/api/v1/customers", None, "", 405),
    ] {
        let (st, v) = raw(&s, method, path, &admin, ctype, body).await;
        assert_eq!(st, status, "{path}: {v}");
    }
    // The plugin is still installed, and its limits unchanged.
    assert_eq!(s.get("/api/v1/plugins/hello", Some(&admin)).await.0, 200);
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_capped_per_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::demo(1);
    let addr = s.url.trim_start_matches("http://").to_string();
    // 200 connections that each send the headers of a 100,000-byte body, then 5 bytes of it.
    let started = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"te"
        );
        let _ = c.write_all(head.as_bytes()).await;
        conns.push(c);
    }
    // Meanwhile another address (127.0.0.2, also this machine) is served as usual.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = other
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Every connection ends: those over the per-address cap closed unanswered as they arrive,
    // the others answered 400 at the body deadline; none is held for the 40 s the review saw.
    let (mut refused, mut answered) = (0, 0);
    for c in &mut conns {
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(30), c.read(&mut buf)).await {
            Err(_) => panic!("a connection was held for 30 s more"),
            Ok(Ok(0)) | Ok(Err(_)) => refused += 1,
            Ok(Ok(n)) => {
                assert!(
                    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 400"),
                    "{}",
                    String::from_utf8_lossy(&buf[..n])
                );
                answered += 1;
            }
        }
    }
    let took = started.elapsed();
    eprintln!(
        "200 slow connections from one address: {refused} refused at once (the per-address \
         cap), {answered} answered 400 at the body deadline; all ended after {took:?}"
    );
    assert_eq!((refused, answered), (200 - PER_ADDRESS, PER_ADDRESS));
    assert!(took < Duration::from_secs(25), "{took:?}");
}

/// The server's default cap on one address's connections (`server::listener::MAX_PER_ADDRESS`).
const PER_ADDRESS: usize = 128;
