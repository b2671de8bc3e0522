//! Shared by the integration tests: one Wasmtime engine per test binary, set up so
//! that compiling many policy modules stays fast.

use std::sync::OnceLock;

use opa_wasm::wasmtime;

/// The process-wide engine every test loads modules with.
#[allow(dead_code)]
pub fn engine() -> &'static wasmtime::Engine {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        // Winch, Wasmtime's baseline compiler, compiles a 2.5 MB policy module in ~0.4 s where
        // Cranelift takes ~2.2 s (measured with this crate's modules); the tests compile hundreds.
        let mut config = wasmtime::Config::new();
        config.strategy(wasmtime::Strategy::Winch);
        wasmtime::Engine::new(&config).expect("wasmtime engine")
    })
}

/// regorus evaluating `rule` (`data.a.b` or `a/b`) natively: OPA's result set (`[]` when
/// undefined), or regorus's error. The reference every Wasm result is compared with.
#[allow(dead_code)]
pub fn native(
    files: &[(&str, &str)],
    data: &serde_json::Value,
    rule: &str,
    input: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    // As the host's native engine is set up (`RegorusEngine`).
    let mut engine = regorus::Engine::new();
    crm_policy_builtins::register(&mut engine)?;
    for (n, s) in files {
        engine.add_policy(n.to_string(), crm_policy_builtins::prepare_source(s))?;
    }
    engine.add_data(regorus::Value::from_json_str(&data.to_string())?)?;
    engine.set_input(regorus::Value::from_json_str(&input.to_string())?);
    let path = format!(
        "data.{}",
        rule.trim_start_matches("data.").replace('/', ".")
    );
    Ok(match engine.eval_rule(path)? {
        regorus::Value::Undefined => serde_json::json!([]),
        v => {
            serde_json::json!([{ "result": serde_json::from_str::<serde_json::Value>(&v.to_json_str()?)? }])
        }
    })
}
