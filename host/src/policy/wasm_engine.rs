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
//! - A module reaches the host only through the builtins of [`ALLOWED_BUILTINS`]. `opa-wasm` links
//!   whatever a module's `builtins()` export asks for (including `opa.runtime`, the process
//!   environment), so every module is asked first, in an instance whose imports all refuse, and
//!   one that names anything else is refused before `opa-wasm` ever links it.

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

/// The builtins a policy module may call in the host: the `time.*` set the host implements and
/// has vetted (what `crm policy build` modules import). Nothing else about the host (environment,
/// files, network) is reachable from Rego.
pub fn allowed_builtins() -> impl Iterator<Item = &'static str> {
    crm_policy_builtins::HOST_BUILTINS
        .iter()
        .map(|(name, _)| *name)
}

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

/// What `opa-wasm` hands the builtins a module calls: the evaluation's start time (every
/// `time.now_ns` of one decision sees the same instant) and a cache bounded in entries.
struct HostContext {
    started: chrono::DateTime<chrono::Utc>,
    cache: std::collections::HashMap<String, serde_json::Value>,
}

/// Most entries one evaluation may cache.
const CONTEXT_CACHE_ENTRIES: usize = 64;

impl opa_wasm::EvaluationContext for HostContext {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.started
    }

    fn evaluation_start(&mut self) {
        self.cache.clear();
        self.started = chrono::Utc::now();
    }

    fn cache_get<K: serde::Serialize, C: serde::de::DeserializeOwned>(
        &mut self,
        key: &K,
    ) -> anyhow::Result<Option<C>> {
        let key = serde_json::to_string(key)?;
        self.cache
            .get(&key)
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(Into::into)
    }

    fn cache_set<K: serde::Serialize, C: serde::Serialize>(
        &mut self,
        key: &K,
        content: &C,
    ) -> anyhow::Result<()> {
        if self.cache.len() < CONTEXT_CACHE_ENTRIES {
            self.cache
                .insert(serde_json::to_string(key)?, serde_json::to_value(content)?);
        }
        Ok(())
    }
}

/// One ready instance: its store and the loaded policy.
struct Slot {
    store: wasmtime::Store<Limits>,
    policy: opa_wasm::Policy<HostContext>,
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
        check_builtins(&module, tier)?;
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
        let mut store = limited_store(self.tier);
        let context = HostContext {
            started: chrono::Utc::now(),
            cache: Default::default(),
        };
        let policy = block_on(async {
            let rt =
                opa_wasm::Runtime::new_with_evaluation_context(&mut store, &self.module, context)
                    .await?;
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

/// A store under the memory cap and the CPU budget, with the generous budget of loading (runtime
/// start-up, `data`) running.
fn limited_store(tier: Tier) -> wasmtime::Store<Limits> {
    let mut store = wasmtime::Store::new(runtime().engine(tier), Limits::new());
    store.limiter(|l| l);
    // At each tick past the deadline, go on while the evaluation is within its CPU budget.
    store.epoch_deadline_callback(|cx| {
        Ok(if cx.data().exhausted() {
            wasmtime::UpdateDeadline::Interrupt
        } else {
            wasmtime::UpdateDeadline::Continue(1)
        })
    });
    store.data_mut().start(LOAD_BUDGET);
    store.set_epoch_deadline(1);
    store
}

/// Most bytes of the builtins list a module may answer with.
const MAX_BUILTINS_JSON: usize = 64 << 10;

/// The builtins `module` asks the host for: what its `builtins()` export answers, read as
/// `opa-wasm` reads it before linking (instantiate, call `builtins`, dump it as JSON), but in an
/// instance whose every imported function refuses. A policy's exports are pure functions of its
/// instance, so the answer is the one `opa-wasm` will get.
pub fn requested_builtins(module: &wasmtime::Module, tier: Tier) -> anyhow::Result<Vec<String>> {
    use wasmtime::ExternType;
    let mut store = limited_store(tier);
    let mut linker = wasmtime::Linker::new(store.engine());
    let mut memory = None;
    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        match import.ty() {
            ExternType::Memory(ty) if (m, name) == ("env", "memory") => {
                let created = block_on(wasmtime::Memory::new_async(&mut store, ty))?;
                linker.define(&store, m, name, created)?;
                memory = Some(created);
            }
            ExternType::Func(ty) if m == "env" => {
                linker.func_new(m, name, ty, |_, _, _| {
                    Err(wasmtime::Error::msg(
                        "host functions are not available while the builtins are read",
                    ))
                })?;
            }
            _ => anyhow::bail!(
                "the module imports {m}.{name}, which OPA's ABI does not have (a policy module \
                 imports env.memory, env.opa_abort, env.opa_println and env.opa_builtin0..4)"
            ),
        }
    }
    let memory = memory.context("the module does not import env.memory, as OPA's ABI asks")?;
    let names = block_on(async {
        let instance = linker.instantiate_async(&mut store, module).await?;
        let builtins = instance.get_typed_func::<(), i32>(&mut store, "builtins")?;
        let dump = instance.get_typed_func::<i32, i32>(&mut store, "opa_json_dump")?;
        let value = builtins.call_async(&mut store, ()).await?;
        let text = dump.call_async(&mut store, value).await?;
        let bytes = memory.data(&store);
        let start = usize::try_from(text).context("the builtins list is out of bounds")?;
        let rest = bytes
            .get(start..)
            .context("the builtins list is out of bounds")?;
        let end = rest
            .iter()
            .take(MAX_BUILTINS_JSON)
            .position(|b| *b == 0)
            .context("the builtins list is not a terminated string of at most 64 KiB")?;
        let map: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&rest[..end])
                .context("the builtins list is not a JSON object")?;
        anyhow::Ok(map.into_keys().collect::<Vec<_>>())
    })
    .map_err(describe)
    .context("cannot read the module's builtins")?;
    Ok(names)
}

/// Refuses a module that asks for a builtin outside [`allowed_builtins`], naming it.
fn check_builtins(module: &wasmtime::Module, tier: Tier) -> anyhow::Result<()> {
    let refused: Vec<String> = requested_builtins(module, tier)?
        .into_iter()
        .filter(|b| !allowed_builtins().any(|a| a == b))
        .collect();
    if !refused.is_empty() {
        anyhow::bail!(
            "the module asks for builtin{} {}, which the host does not provide to policies \
             (it provides: {})",
            if refused.len() == 1 { "" } else { "s" },
            refused
                .iter()
                .map(|b| format!("`{}`", b.chars().take(80).collect::<String>()))
                .collect::<Vec<_>>()
                .join(", "),
            allowed_builtins().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
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
}
