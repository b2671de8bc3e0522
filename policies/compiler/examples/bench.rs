//! Decisions per second: the compiled module through opa-wasm (fast path and
//! context path) vs regorus natively (interpreter, and RVM).
//!
//!     cargo run --release --example bench [iterations]

use std::time::Instant;

use crm_policy_compiler::{ModeChoice, Options, compile_with};
use opa_wasm::{Runtime, wasmtime};
use serde_json::{Value as Json, json};

const BASELINE: &str =
    "package crm.authz\n default allow := false\n allow if input.user == \"alice\"\n";
const AUTHZ: &str = include_str!("../../platform/authz.rego");

fn rate(n: usize, t: std::time::Duration) -> String {
    format!(
        "{:>9.0} decisions/s  ({:>7.2} µs each)",
        n as f64 / t.as_secs_f64(),
        t.as_secs_f64() * 1e6 / n as f64
    )
}

async fn wasm_bench(label: &str, src: &str, ep: &str, input: &Json, minor: i32, n: usize) {
    wasm_bench_in(label, src, ep, input, minor, ModeChoice::default(), n).await
}

async fn wasm_bench_in(
    label: &str,
    src: &str,
    ep: &str,
    input: &Json,
    minor: i32,
    mode: ModeChoice,
    n: usize,
) {
    let t0 = Instant::now();
    let m = compile_with(
        &[("p.rego", src)],
        &[ep],
        Options {
            abi_minor_version: minor,
            mode,
            ..Default::default()
        },
    )
    .unwrap();
    let compile_time = t0.elapsed();
    let engine = wasmtime::Engine::new(&wasmtime::Config::new()).unwrap();
    let t1 = Instant::now();
    let module = wasmtime::Module::new(&engine, &m.wasm).unwrap();
    let jit_time = t1.elapsed();
    let mut store = wasmtime::Store::new(&engine, ());
    let runtime = Runtime::new(&mut store, &module).await.unwrap();
    let policy = runtime.without_data(&mut store).await.unwrap();
    for _ in 0..100 {
        let _: Json = policy.evaluate(&mut store, ep, input).await.unwrap();
    }
    let t = Instant::now();
    for _ in 0..n {
        let _: Json = policy.evaluate(&mut store, ep, input).await.unwrap();
    }
    println!(
        "{label:<40} {}   [{:?} mode, module {} KiB fnv {:016x}, Rego→module {:?}, Wasmtime compile {:?}]",
        rate(n, t.elapsed()),
        m.mode,
        m.wasm.len() / 1024,
        m.wasm
            .iter()
            .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b))
                .wrapping_mul(0x100000001b3)),
        compile_time,
        jit_time
    );
}

fn native_bench(label: &str, src: &str, path: &str, input: &Json, n: usize) {
    let mut engine = regorus::Engine::new();
    engine.add_policy("p.rego".into(), src.into()).unwrap();
    let input_v = regorus::Value::from_json_str(&input.to_string()).unwrap();
    engine.set_input(input_v.clone());
    engine.eval_rule(path.into()).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        // what a host does per request: parse the input JSON, evaluate
        let i = regorus::Value::from_json_str(&input.to_string()).unwrap();
        engine.set_input(i);
        std::hint::black_box(engine.eval_rule(path.into()).unwrap());
    }
    println!("{label:<40} {}", rate(n, t.elapsed()));

    let policy = engine
        .compile_with_entrypoint(&regorus::Rc::from(path))
        .unwrap();
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &[path])
            .unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let i = regorus::Value::from_json_str(&input.to_string()).unwrap();
        let mut vm = regorus::rvm::RegoVM::new();
        vm.load_program(program.clone());
        vm.set_max_instructions(50_000_000);
        vm.set_data(regorus::Value::new_object()).unwrap();
        vm.set_input(i);
        std::hint::black_box(vm.execute_entry_point_by_name(path).unwrap());
    }
    println!(
        "{:<40} {}",
        format!("{label} (RVM, fresh VM)"),
        rate(n, t.elapsed())
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alice = json!({"user": "alice"});
    let req = json!({
        "subject": {"type": "user", "tenant": "t1", "user": "u1", "roles": ["support"], "mfa": true},
        "action": "customer.update",
        "resource": {"type": "customer", "tenant": "t1", "id": "c1", "fields": ["email", "phone"]},
        "context": {"channel": "api"}
    });
    rt.block_on(async {
        wasm_bench(
            "baseline, opa-wasm fast path",
            BASELINE,
            "crm/authz/allow",
            &alice,
            2,
            n,
        )
        .await;
        wasm_bench(
            "baseline, opa-wasm context path",
            BASELINE,
            "crm/authz/allow",
            &alice,
            1,
            n,
        )
        .await;
    });
    native_bench(
        "baseline, regorus native",
        BASELINE,
        "data.crm.authz.allow",
        &alice,
        n,
    );
    let n2 = (n / 10).max(100);
    rt.block_on(async {
        wasm_bench(
            "authz.rego, opa-wasm fast path",
            AUTHZ,
            "crm/authz/decision",
            &req,
            2,
            n2,
        )
        .await;
        wasm_bench(
            "authz.rego, opa-wasm context path",
            AUTHZ,
            "crm/authz/decision",
            &req,
            1,
            n2,
        )
        .await;
        // The RVM (not the default: it gives wrong answers on some valid Rego), for comparison.
        wasm_bench_in(
            "authz.rego, opa-wasm fast path, RVM",
            AUTHZ,
            "crm/authz/decision",
            &req,
            2,
            ModeChoice::RvmOnly,
            n2,
        )
        .await;
    });
    native_bench(
        "authz.rego, regorus native",
        AUTHZ,
        "data.crm.authz.decision",
        &req,
        n2,
    );
}
