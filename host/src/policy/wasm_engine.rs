//! The decision engine the host runs: a policy compiled to WebAssembly in OPA's ABI, evaluated
//! by the `opa-wasm` crate in Wasmtime.
//!
//! - One Wasmtime engine per process; compiled modules are cached on disk, keyed by the module's
//!   SHA-256 and Wasmtime's compatibility hash, so a restart or a second host does not recompile.
//! - A pool of ready instances serves concurrent decisions; `opa-wasm` resets an instance's heap
//!   on every evaluation, and an instance that failed (trap, time limit) is thrown away.
//! - Every decision runs under a wall-clock budget (epoch interruption) and a memory cap.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use anyhow::Context as _;
use opa_wasm::wasmtime;
use sha2::{Digest, Sha256};

use super::Engine;

/// Wall-clock budget of one decision: a pathological policy is stopped and the request denied.
pub const DECISION_BUDGET: Duration = Duration::from_millis(50);
/// Memory one policy instance may use (the runtime, its heap, the input and the result).
pub const MEMORY_CAP: usize = 128 << 20;
/// Epoch tick: the granularity of the time budget.
const TICK: Duration = Duration::from_millis(1);

/// The process-wide Wasmtime engine for policies, with its epoch ticker.
struct Runtime {
    engine: wasmtime::Engine,
    cache_dir: Mutex<Option<PathBuf>>,
    /// Modules compiled or loaded in this process, by SHA-256 (a rollback or a second tenant
    /// with the same set reuses them).
    loaded: Mutex<std::collections::HashMap<[u8; 32], wasmtime::Module>>,
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // Deep Rego nesting must fail as a trap inside the sandbox, never overflow the host.
        config.max_wasm_stack(1 << 20);
        let engine = wasmtime::Engine::new(&config).expect("the Wasmtime configuration is valid");
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .expect("spawn the policy epoch ticker");
        let cache_dir = std::env::var_os("CRM_MODULE_CACHE").map(PathBuf::from);
        Runtime {
            engine,
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
fn load_module(wasm: &[u8]) -> anyhow::Result<wasmtime::Module> {
    let rt = runtime();
    let sha: [u8; 32] = Sha256::digest(wasm).into();
    if let Some(m) = rt.loaded.lock().ok().and_then(|l| l.get(&sha).cloned()) {
        return Ok(m);
    }
    let module = compile_or_read(rt, wasm)?;
    if let Ok(mut loaded) = rt.loaded.lock() {
        // Bounded: old versions fall out rather than pile up.
        if loaded.len() >= 64 {
            loaded.clear();
        }
        loaded.insert(sha, module.clone());
    }
    Ok(module)
}

fn compile_or_read(rt: &Runtime, wasm: &[u8]) -> anyhow::Result<wasmtime::Module> {
    let dir = rt.cache_dir.lock().ok().and_then(|d| d.clone());
    let Some(dir) = dir else {
        return wasmtime::Module::new(&rt.engine, wasm).map_err(anyhow::Error::from);
    };
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    rt.engine.precompile_compatibility_hash().hash(&mut compat);
    let key = format!(
        "{}-{:016x}.cwasm",
        hex::encode(Sha256::digest(wasm)),
        compat.finish()
    );
    let path = dir.join(key);
    if path.exists() {
        // SAFETY: the file was written by `Module::serialize` of this engine configuration (the
        // name carries the compatibility hash), in a directory only this host writes to.
        match unsafe { wasmtime::Module::deserialize_file(&rt.engine, &path) } {
            Ok(m) => return Ok(m),
            Err(e) => tracing::warn!(error = %e, "ignoring an unreadable cached module"),
        }
    }
    let module = wasmtime::Module::new(&rt.engine, wasm)?;
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

/// The memory cap, remembering whether it refused a growth (to name it in the error).
struct Limits {
    refused: bool,
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
    data: serde_json::Value,
    entrypoint: String,
    version: String,
    idle: Mutex<Vec<Slot>>,
}

impl WasmEngine {
    /// Loads `wasm` (our compiler's output or a module from `opa build -t wasm`), checks that it
    /// exports `entrypoint` (`crm/authz/decision`), and evaluates once to fail at load, not later.
    pub fn new(
        wasm: &[u8],
        data: serde_json::Value,
        entrypoint: &str,
        version: String,
    ) -> anyhow::Result<Self> {
        let module = load_module(wasm).context("the policy module does not compile")?;
        let engine = Self {
            module,
            data,
            entrypoint: entrypoint.trim_start_matches("data.").replace('.', "/"),
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
        engine.evaluate(&serde_json::json!({}))?;
        Ok(engine)
    }

    fn instantiate(&self) -> anyhow::Result<Slot> {
        let mut store = wasmtime::Store::new(&runtime().engine, Limits { refused: false });
        store.limiter(|l| l);
        // Loading (runtime start-up, `data`) gets a generous budget of its own.
        store.set_epoch_deadline(2_000);
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
    fn evaluate(&self, input: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let pooled = self
            .idle
            .lock()
            .map_err(|_| anyhow::anyhow!("instance pool poisoned"))?
            .pop();
        let mut slot = match pooled {
            Some(s) => s,
            None => self.instantiate()?,
        };
        let ticks = (DECISION_BUDGET.as_millis() / TICK.as_millis()) as u64;
        slot.store.set_epoch_deadline(ticks);
        let result: anyhow::Result<serde_json::Value> = block_on(slot.policy.evaluate(
            &mut slot.store,
            &self.entrypoint,
            input,
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
                    "evaluation stopped: time limit of {} ms exceeded",
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
