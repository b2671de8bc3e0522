//! The decision engine the host runs: a policy compiled to WebAssembly in OPA's ABI, evaluated
//! by the `opa-wasm` crate in Wasmtime.
//!
//! - One Wasmtime engine per process; compiled modules are cached on disk, keyed by the module's
//!   SHA-256 and Wasmtime's compatibility hash, so a restart or a second host does not recompile.
//! - A pool of ready instances serves concurrent decisions; `opa-wasm` resets an instance's heap
//!   on every evaluation, and an instance that failed (trap, time limit) is thrown away.
//! - Every decision runs under a CPU-time budget and a memory cap. Epoch ticks (every
//!   millisecond of wall-clock) make Wasmtime ask whether the evaluating thread has used up its
//!   budget; counting the thread's own CPU time, not wall-clock, means a busy machine that
//!   preempts the thread slows a decision down but never turns it into a deny.
//! - Two tiers: Cranelift (optimised code, ~2 s to compile the 2.5 MB module) and Winch, Wasmtime's
//!   baseline compiler (~0.4 s, slower code). A newly published version that is not in the cache
//!   yet starts on Winch, so every host follows a publish within a second, and is swapped for the
//!   Cranelift build in the background ([`WasmEngine::quick`], then [`WasmEngine::new`]).

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use anyhow::Context as _;
use opa_wasm::wasmtime;
use sha2::{Digest, Sha256};

use serde_json::value::RawValue;

use super::Engine;

/// CPU-time budget of one decision: a pathological policy is stopped and the request denied.
pub const DECISION_BUDGET: Duration = Duration::from_millis(50);
/// Wall-clock ceiling of one decision, whatever its CPU time: a safety net, not the budget.
const DECISION_CEILING: Duration = Duration::from_secs(5);
/// Memory one policy instance may use (the runtime, its heap, the input and the result).
pub const MEMORY_CAP: usize = 128 << 20;
/// CPU-time budget of loading a module (runtime start-up and `data`).
const LOAD_BUDGET: Duration = Duration::from_secs(2);
/// Epoch tick: the granularity of the time budget.
const TICK: Duration = Duration::from_millis(1);

/// A module's SHA-256: the key of both caches, computed once per load.
type Sha = [u8; 32];

/// Which compiler made a module's machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Winch: compiles fast, runs slower.
    Baseline,
    /// Cranelift: compiles slower, runs fast.
    Optimized,
}

/// The process-wide Wasmtime engines for policies (one per tier), with their epoch ticker.
struct Runtime {
    optimized: wasmtime::Engine,
    baseline: wasmtime::Engine,
    cache_dir: Mutex<Option<PathBuf>>,
    /// Modules compiled or loaded in this process, by SHA-256 and tier (a rollback or a second
    /// tenant with the same set reuses them).
    loaded: Mutex<std::collections::HashMap<(Sha, Tier), wasmtime::Module>>,
}

impl Runtime {
    fn engine(&self, tier: Tier) -> &wasmtime::Engine {
        match tier {
            Tier::Baseline => &self.baseline,
            Tier::Optimized => &self.optimized,
        }
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let engine = |strategy| {
            let mut config = wasmtime::Config::new();
            config.strategy(strategy);
            config.epoch_interruption(true);
            // Deep Rego nesting must fail as a trap inside the sandbox, never overflow the host.
            config.max_wasm_stack(1 << 20);
            wasmtime::Engine::new(&config).expect("the Wasmtime configuration is valid")
        };
        let (optimized, baseline) = (
            engine(wasmtime::Strategy::Cranelift),
            engine(wasmtime::Strategy::Winch),
        );
        let tickers = [optimized.weak(), baseline.weak()];
        std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                loop {
                    for t in &tickers {
                        if let Some(engine) = t.upgrade() {
                            engine.increment_epoch();
                        }
                    }
                    std::thread::sleep(TICK);
                }
            })
            .expect("spawn the policy epoch ticker");
        let cache_dir = std::env::var_os("CRM_MODULE_CACHE").map(PathBuf::from);
        Runtime {
            optimized,
            baseline,
            cache_dir: Mutex::new(cache_dir),
            loaded: Mutex::new(std::collections::HashMap::new()),
        }
    })
}

/// Where compiled modules are cached (`DATA/cache/modules`); `CRM_MODULE_CACHE` wins if set.
pub fn set_cache_dir(dir: &Path) {
    if std::env::var_os("CRM_MODULE_CACHE").is_some() {
        return;
    }
    if let Ok(mut d) = runtime().cache_dir.lock() {
        *d = Some(dir.to_path_buf());
    }
}

/// Compiles `wasm` for this machine, or reuses an earlier compilation (in memory, or on disk).
fn load_module(wasm: &[u8], sha: Sha, tier: Tier) -> anyhow::Result<wasmtime::Module> {
    let rt = runtime();
    if let Some(m) = rt
        .loaded
        .lock()
        .ok()
        .and_then(|l| l.get(&(sha, tier)).cloned())
    {
        return Ok(m);
    }
    let module = compile_or_read(rt, wasm, sha, tier)?;
    if let Ok(mut loaded) = rt.loaded.lock() {
        // Bounded: old versions fall out rather than pile up.
        if loaded.len() >= 64 {
            loaded.clear();
        }
        loaded.insert((sha, tier), module.clone());
    }
    Ok(module)
}

/// Where a tier's build of `wasm` is cached on disk, if caching is on.
fn cache_path(rt: &Runtime, sha: Sha, tier: Tier) -> Option<PathBuf> {
    let dir = rt.cache_dir.lock().ok().and_then(|d| d.clone())?;
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    rt.engine(tier)
        .precompile_compatibility_hash()
        .hash(&mut compat);
    let tier = match tier {
        Tier::Baseline => "winch",
        Tier::Optimized => "cranelift",
    };
    Some(dir.join(format!(
        "{}-{tier}-{:016x}.cwasm",
        hex::encode(sha),
        compat.finish()
    )))
}

/// Whether the optimised build of `wasm` is ready without compiling (in memory or on disk).
fn optimized_is_cached(sha: Sha) -> bool {
    let rt = runtime();
    rt.loaded
        .lock()
        .is_ok_and(|l| l.contains_key(&(sha, Tier::Optimized)))
        || cache_path(rt, sha, Tier::Optimized).is_some_and(|p| p.exists())
}

fn compile_or_read(
    rt: &Runtime,
    wasm: &[u8],
    sha: Sha,
    tier: Tier,
) -> anyhow::Result<wasmtime::Module> {
    let engine = rt.engine(tier);
    let Some(path) = cache_path(rt, sha, tier) else {
        return wasmtime::Module::new(engine, wasm).map_err(anyhow::Error::from);
    };
    if path.exists() {
        // SAFETY: the file was written by `Module::serialize` of this engine configuration (the
        // name carries the tier and the compatibility hash), in the host's own data folder.
        match unsafe { wasmtime::Module::deserialize_file(engine, &path) } {
            Ok(m) => return Ok(m),
            Err(e) => tracing::warn!(error = %e, "ignoring an unreadable cached module"),
        }
    }
    let module = wasmtime::Module::new(engine, wasm)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let write = || -> anyhow::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::write(tmp.path(), module.serialize()?)?;
        tmp.persist(&path)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::warn!(error = %e, dir = %dir.display(), "could not cache a compiled module");
    }
    Ok(module)
}

/// The memory cap, remembering whether it refused a growth (to name it in the error), and the
/// CPU clock of the evaluation in progress.
struct Limits {
    refused: bool,
    /// This thread's CPU time and the wall-clock when the evaluation started.
    started: (Duration, std::time::Instant),
    /// The CPU time an evaluation may use.
    budget: Duration,
}

impl Limits {
    fn new() -> Self {
        Self {
            refused: false,
            started: (thread_cpu_time(), std::time::Instant::now()),
            budget: DECISION_BUDGET,
        }
    }

    /// Starts the clock of an evaluation with `budget` of CPU time.
    fn start(&mut self, budget: Duration) {
        self.started = (thread_cpu_time(), std::time::Instant::now());
        self.budget = budget;
    }

    /// Whether the evaluation has used up its CPU budget (or the wall-clock ceiling).
    fn exhausted(&self) -> bool {
        thread_cpu_time().saturating_sub(self.started.0) > self.budget
            || self.started.1.elapsed() > DECISION_CEILING.max(self.budget * 2)
    }
}

/// The CPU time the calling thread has used. Evaluation runs on the caller's thread (see
/// [`block_on`]), so the difference of two readings is what a decision cost.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a valid pointer.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Without a per-thread CPU clock, the wall-clock ceiling alone bounds a decision.
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    Duration::ZERO
}

impl wasmtime::ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= MEMORY_CAP;
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000)
    }

    fn instances(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        4
    }
    fn memories(&self) -> usize {
        1
    }
}

/// One ready instance: its store and the loaded policy.
struct Slot {
    store: wasmtime::Store<Limits>,
    policy: opa_wasm::Policy<opa_wasm::DefaultContext>,
}

/// A compiled policy (an OPA-ABI Wasm module plus its `data`), evaluated at one entrypoint.
pub struct WasmEngine {
    module: wasmtime::Module,
    tier: Tier,
    data: serde_json::Value,
    entrypoint: String,
    version: String,
    idle: Mutex<Vec<Slot>>,
}

impl WasmEngine {
    /// Loads `wasm` (our compiler's output or a module from `opa build -t wasm`) compiled by
    /// Cranelift, checks that it exports `entrypoint` (`crm/authz/decision`), and evaluates once
    /// to fail at load, not later.
    pub fn new(
        wasm: &[u8],
        data: serde_json::Value,
        entrypoint: &str,
        version: String,
    ) -> anyhow::Result<Self> {
        let sha = Sha256::digest(wasm).into();
        Self::with_tier(wasm, sha, data, entrypoint, version, Tier::Optimized)
    }

    /// As [`WasmEngine::new`], but on Winch unless the Cranelift build is already cached: ready in
    /// well under a second. Follow it with [`WasmEngine::optimized`] when `tier()` is `Baseline`.
    pub fn quick(
        wasm: &[u8],
        data: serde_json::Value,
        entrypoint: &str,
        version: String,
    ) -> anyhow::Result<Self> {
        let sha = Sha256::digest(wasm).into();
        let tier = if optimized_is_cached(sha) {
            Tier::Optimized
        } else {
            Tier::Baseline
        };
        Self::with_tier(wasm, sha, data, entrypoint, version, tier)
    }

    /// Which compiler made this engine's code.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    fn with_tier(
        wasm: &[u8],
        sha: Sha,
        data: serde_json::Value,
        entrypoint: &str,
        version: String,
        tier: Tier,
    ) -> anyhow::Result<Self> {
        let module = load_module(wasm, sha, tier).context("the policy module does not compile")?;
        let engine = Self {
            module,
            tier,
            data,
            entrypoint: super::opa_entrypoint(entrypoint),
            version,
            idle: Mutex::new(Vec::new()),
        };
        let slot = engine.instantiate()?;
        let entrypoints = slot.policy.entrypoints();
        if !entrypoints.contains(engine.entrypoint.as_str()) {
            let mut have: Vec<&str> = entrypoints.into_iter().collect();
            have.sort();
            anyhow::bail!(
                "the module has no entrypoint {} (it has: {})",
                engine.entrypoint,
                have.join(", ")
            );
        }
        engine.put_back(slot);
        engine.evaluate(&super::empty_input())?;
        Ok(engine)
    }

    fn instantiate(&self) -> anyhow::Result<Slot> {
        let mut store = wasmtime::Store::new(runtime().engine(self.tier), Limits::new());
        store.limiter(|l| l);
        // At each tick past the deadline, go on while the evaluation is within its CPU budget.
        store.epoch_deadline_callback(|cx| {
            Ok(if cx.data().exhausted() {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Continue(1)
            })
        });
        // Loading (runtime start-up, `data`) gets a generous budget of its own.
        store.data_mut().start(LOAD_BUDGET);
        store.set_epoch_deadline(1);
        let policy = block_on(async {
            let rt = opa_wasm::Runtime::new(&mut store, &self.module).await?;
            rt.with_data(&mut store, &self.data).await
        })
        .context("the policy module does not load")?;
        Ok(Slot { store, policy })
    }

    fn put_back(&self, slot: Slot) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(slot);
        }
    }
}

impl Engine for WasmEngine {
    fn evaluate(&self, input: &RawValue) -> anyhow::Result<serde_json::Value> {
        let pooled = self
            .idle
            .lock()
            .map_err(|_| anyhow::anyhow!("instance pool poisoned"))?
            .pop();
        let mut slot = match pooled {
            Some(s) => s,
            None => self.instantiate()?,
        };
        slot.store.data_mut().start(DECISION_BUDGET);
        slot.store.set_epoch_deadline(1);
        let result: anyhow::Result<serde_json::Value> = block_on(slot.policy.evaluate(
            &mut slot.store,
            &self.entrypoint,
            &input,
        ));
        let result = match result {
            // A failed instance is dropped: a trap may leave its heap in any state.
            Err(_) if slot.store.data().refused => anyhow::bail!(
                "evaluation stopped: memory limit of {} MiB exceeded",
                MEMORY_CAP >> 20
            ),
            Err(e) => return Err(describe(e)),
            Ok(r) => {
                self.put_back(slot);
                r
            }
        };
        // OPA's result set: `[{"result": value}]`, or `[]` when the rule is undefined.
        match result {
            serde_json::Value::Array(mut set) if set.len() == 1 => match set.pop() {
                Some(serde_json::Value::Object(mut o)) if o.contains_key("result") => {
                    Ok(o.remove("result").unwrap_or_default())
                }
                _ => anyhow::bail!("the module returned a malformed result set"),
            },
            serde_json::Value::Array(set) if set.is_empty() => anyhow::bail!(
                "{} is undefined (give it a `default`, so every input gets a decision)",
                self.entrypoint
            ),
            _ => anyhow::bail!("the module returned a malformed result set"),
        }
    }

    fn version(&self) -> &str {
        &self.version
    }
}

/// Names the two limits in an evaluation error; anything else is passed on as it is.
fn describe(e: anyhow::Error) -> anyhow::Error {
    for cause in e.chain() {
        if let Some(trap) = cause.downcast_ref::<wasmtime::Trap>() {
            return match trap {
                wasmtime::Trap::Interrupt => anyhow::anyhow!(
                    "evaluation stopped: CPU time limit of {} ms exceeded",
                    DECISION_BUDGET.as_millis()
                ),
                wasmtime::Trap::StackOverflow => {
                    anyhow::anyhow!("evaluation stopped: stack limit exceeded")
                }
                other => anyhow::anyhow!("evaluation trapped: {other}"),
            };
        }
    }
    anyhow::anyhow!("evaluation failed: {}", first_line(&format!("{e:#}")))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Runs a future to completion on this thread. Policy evaluation never waits on I/O: the future
/// only returns `Pending` if Wasmtime yields, and then it is ready to be polled again at once.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(n: u32) -> Vec<u8> {
        let rego = format!(
            "package crm.tenant\ndefault decision := {{\"allow\": false, \"n\": {n}}}\n\
             decision := {{\"allow\": true, \"n\": {n}}} if input.action == \"customer.read\"\n"
        );
        crm_policy_compiler::compile(&[("p.rego", &rego)], &["data.crm.tenant.decision"])
            .expect("compiles")
    }

    #[test]
    fn a_new_module_starts_on_the_fast_tier_and_its_optimised_build_is_reused() {
        let wasm = module(7);
        let quick = WasmEngine::quick(
            &wasm,
            serde_json::json!({}),
            "data.crm.tenant.decision",
            "v".into(),
        )
        .unwrap();
        assert_eq!(quick.tier(), Tier::Baseline);
        let input = RawValue::from_string(r#"{"action": "customer.read"}"#.into()).unwrap();
        let optimized = WasmEngine::new(
            &wasm,
            serde_json::json!({}),
            "data.crm.tenant.decision",
            "v".into(),
        )
        .unwrap();
        assert_eq!(optimized.tier(), Tier::Optimized);
        // Both tiers answer alike.
        assert_eq!(
            quick.evaluate(&input).unwrap(),
            optimized.evaluate(&input).unwrap()
        );
        assert_eq!(
            quick.evaluate(&input).unwrap(),
            serde_json::json!({"allow": true, "n": 7})
        );
        // Once the optimised build exists, a quick load uses it.
        let again = WasmEngine::quick(
            &wasm,
            serde_json::json!({}),
            "data.crm.tenant.decision",
            "v".into(),
        )
        .unwrap();
        assert_eq!(again.tier(), Tier::Optimized);
    }

    #[test]
    fn a_module_without_the_entrypoint_or_a_broken_module_is_refused() {
        let wasm = module(8);
        let e = WasmEngine::quick(
            &wasm,
            serde_json::json!({}),
            "data.crm.authz.decision",
            "v".into(),
        )
        .err()
        .unwrap();
        assert!(
            format!("{e:#}").contains("no entrypoint crm/authz/decision"),
            "{e:#}"
        );
        let e = WasmEngine::quick(
            &wasm[..wasm.len() / 2],
            serde_json::json!({}),
            "x",
            "v".into(),
        )
        .err()
        .unwrap();
        assert!(format!("{e:#}").contains("does not compile"), "{e:#}");
    }

    /// The real `opa build -t wasm` output (`tests/fixtures/opa-build`) through the engine that
    /// serves decisions (cache, pool, budget, memory cap) answers as regorus does on its source.
    #[test]
    fn a_module_built_by_opa_itself_answers_as_regorus_does_on_its_source() {
        let bundle =
            crate::policy::bundle::unpack(crate::policy::bundle::tests::OPA_BUILT).unwrap();
        let wasm = bundle.wasm.unwrap();
        let data = serde_json::json!({
            "users": {
                "ann": {"projects": {"news": {"roles": ["owner"]}, "sport": {"roles": ["viewer"]}}},
                "bo": {"projects": {"news": {"roles": ["viewer", "owner"]}}},
            },
            "projects": {"news": {}, "sport": {}},
        });
        let engine = WasmEngine::new(
            &wasm,
            data.clone(),
            "data.example.project_permissions",
            "opa-built".into(),
        )
        .expect("the OPA-built module loads");
        let mut native = regorus::Engine::new();
        native.set_rego_v0(true);
        native
            .add_policy(
                "example.rego".into(),
                include_str!("../../../tests/fixtures/opa-build/example.rego").into(),
            )
            .unwrap();
        native
            .add_data(regorus::Value::from_json_str(&data.to_string()).unwrap())
            .unwrap();
        let mut allowed = 0;
        for user in ["ann", "bo", "cy"] {
            for project in ["news", "sport", "weather"] {
                let input = serde_json::json!({"user_id": user, "project_id": project}).to_string();
                native.set_input(regorus::Value::from_json_str(&input).unwrap());
                let want = native
                    .eval_rule("data.example.project_permissions".into())
                    .unwrap();
                let want = serde_json::to_value(&want).unwrap();
                // Twice: the second evaluation reuses the pooled instance.
                for _ in 0..2 {
                    let wasm = engine
                        .evaluate(&RawValue::from_string(input.clone()).unwrap())
                        .unwrap();
                    assert_eq!(wasm, want, "{input}");
                    allowed += usize::from(wasm != serde_json::json!([]));
                }
            }
        }
        // Owners get ["read", "write"]; the comparison is not vacuous.
        assert_eq!(allowed, 4);
        assert_eq!(
            engine
                .evaluate(
                    &RawValue::from_string(r#"{"user_id":"bo","project_id":"news"}"#.into())
                        .unwrap()
                )
                .unwrap(),
            serde_json::json!(["read", "write"])
        );
    }
}
