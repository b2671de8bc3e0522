//! The sandbox: one Wasmtime engine for every plugin, compiled components cached on disk, and a
//! fresh instance per call from a prepared `InstancePre` (pooling allocator, copy-on-write memory
//! images), bounded by memory/table/instance caps, an output cap and a host-call cap.
//!
//! - A call's budget counts the plugin's own execution: fuel (Wasm instructions), at
//!   [`FUEL_PER_MS`] per millisecond of its deadline, so a busy machine or a slow database never
//!   turns a plugin's 100 ms into a failure. A separate wall-clock ceiling, many times larger,
//!   bounds the whole call, waiting on the host included.
//! - What a plugin hands the host (results, host-call arguments) is bounded while it is read out
//!   of the sandbox, before the host allocates it (Wasmtime's hostcall fuel, at the output cap).
//! - Plugin code runs on a runtime of its own ([`CallPool`]), never on the threads that serve
//!   HTTP, at most a few calls of one tenant at once; a running call yields every millisecond, so
//!   long calls share the pool's threads instead of holding them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::abi::v0_1_0::{self as abi, PluginPre};
use super::caps::{self, Capability, log::LogBuffer};
use crate::app::{Actor, App};

/// Epoch ticks per second: the wall-clock ceiling is counted in milliseconds.
const TICK: Duration = Duration::from_millis(1);

/// Fuel per millisecond of a plugin's deadline. Fuel counts Wasm instructions; a tight loop
/// runs about 12 million of them per millisecond on the 2-core test machine (the hostile
/// plugin's loop spends a 100 ms budget in about 85 ms), memory-bound code fewer.
pub const FUEL_PER_MS: u64 = 10_000_000;

/// The wall-clock ceiling of a call: this many times its deadline, and at least [`MIN_WALL`].
const WALL_FACTOR: u64 = 20;
const MIN_WALL: Duration = Duration::from_secs(2);

/// The most any plugin may have, whatever an admin configures (the pool is sized for it).
const MAX_MEMORY: usize = 64 << 20;

/// Per-plugin limits. The defaults are the ceiling: an admin can only tighten them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock deadline of `render`, `act` and `on-event`, in milliseconds.
    pub deadline_ms: u64,
    /// Wall-clock deadline of `run-job`, in milliseconds.
    pub job_deadline_ms: u64,
    /// Fuel (roughly, Wasm instructions) per call; none means only the deadline bounds work.
    pub fuel: Option<u64>,
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// Elements of all tables together.
    pub table_elements: usize,
    /// Core instances a component may create.
    pub instances: usize,
    /// Bytes of request (params, inputs) passed in.
    pub input_bytes: usize,
    /// Bytes of the result (as JSON) passed out.
    pub output_bytes: usize,
    /// Host-capability calls per invocation.
    pub host_calls: u32,
    /// Bytes of log (log lines, stdout, stderr) kept per invocation.
    pub log_bytes: usize,
    /// Bytes the plugin's records may take (sealed data and index rows).
    pub storage_bytes: usize,
}

/// The platform's deadline for `render`, `act` and `on-event`: 100 ms, or `CRM_PLUGIN_DEADLINE_MS`
/// (10 to 60,000) for an operator whose hosts are slower (the test suite runs debug builds on
/// busy machines).
fn deadline_ceiling() -> u64 {
    static CEILING: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *CEILING.get_or_init(|| {
        std::env::var("CRM_PLUGIN_DEADLINE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(100, |v| v.clamp(10, 60_000))
    })
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline_ms: deadline_ceiling(),
            job_deadline_ms: 10_000,
            fuel: None,
            memory_bytes: MAX_MEMORY,
            table_elements: 20_000,
            // Core instances (and memories, tables) per call: the pool's per-component maximum.
            instances: 64,
            input_bytes: 64 << 10,
            output_bytes: 1 << 20,
            host_calls: 1_000,
            log_bytes: 16 << 10,
            storage_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Checks that every limit is within the default (the ceiling) and above zero.
    pub fn check(&self) -> Result<(), String> {
        let d = Self::default();
        let within = |name: &str, v: u64, max: u64| -> Result<(), String> {
            if v == 0 || v > max {
                Err(format!(
                    "limit {name} must be between 1 and {max} (got {v})"
                ))
            } else {
                Ok(())
            }
        };
        within("deadline_ms", self.deadline_ms, d.deadline_ms)?;
        within("job_deadline_ms", self.job_deadline_ms, d.job_deadline_ms)?;
        if let Some(f) = self.fuel {
            within("fuel", f, u64::MAX)?;
        }
        within(
            "memory_bytes",
            self.memory_bytes as u64,
            d.memory_bytes as u64,
        )?;
        within(
            "table_elements",
            self.table_elements as u64,
            d.table_elements as u64,
        )?;
        within("instances", self.instances as u64, d.instances as u64)?;
        within("input_bytes", self.input_bytes as u64, d.input_bytes as u64)?;
        within(
            "output_bytes",
            self.output_bytes as u64,
            d.output_bytes as u64,
        )?;
        within("host_calls", self.host_calls.into(), d.host_calls.into())?;
        within("log_bytes", self.log_bytes as u64, d.log_bytes as u64)?;
        within(
            "storage_bytes",
            self.storage_bytes as u64,
            d.storage_bytes as u64,
        )
    }
}

/// Why a call did not return a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The sandbox stopped the plugin (a limit, a trap, a panic): the text says which.
    #[error("the plugin {plugin} was stopped: {reason}")]
    Stopped { plugin: String, reason: String },
    /// The tenant's plugins already have as many calls running as they may, for too long.
    #[error("the tenant's plugins are busy; try again in a moment")]
    Busy,
    /// The plugin answered with an error of the interface.
    #[error("the plugin {plugin} answered with an error")]
    Plugin { plugin: String, error: abi::Error },
    /// The host could not run the plugin (a bug or an unavailable database).
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

/// Everything one invocation may touch. Each capability in `caps` reads what it needs from here.
pub struct CallState {
    pub(crate) app: Arc<App>,
    /// The staff member, acting through the plugin.
    pub(crate) actor: Actor,
    pub(crate) plugin: String,
    pub(crate) grants: BTreeSet<Capability>,
    /// The manifest's record collections and their indexed fields.
    pub(crate) collections: BTreeMap<String, Vec<String>>,
    pub(crate) limits: Limits,
    pub(crate) host_calls: u32,
    /// Set when the host stopped the plugin from a host function (why, for the error).
    pub(crate) stopped: Option<String>,
    pub(crate) log: LogBuffer,
    pub(crate) events: Vec<caps::events::Pending>,
    /// The call's logical time, in milliseconds: a job's due time, otherwise the call's start.
    pub(crate) now: i64,
    /// The database work the call may cause; its queries stop when the call's state goes.
    pub(crate) queries: crate::store::QueryBudget,
    limiter: Limiter,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl Drop for CallState {
    fn drop(&mut self) {
        // A query still running for this call (the call was stopped) is interrupted now.
        self.queries
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// SQLite VM instructions all of one call's queries may run (a few seconds' worth at most).
const QUERY_STEPS: u64 = 50_000_000;

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps growth of memories, tables and instances, and remembers which cap stopped the plugin.
struct Limiter {
    memory: usize,
    table_elements: usize,
    /// Instances, and also memories and tables (a component makes one or a few of each per instance).
    instances: usize,
    hit: Option<String>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            let why = format!("memory limit of {} MiB exceeded", self.memory >> 20);
            self.hit = Some(why.clone());
            return Err(wasmtime::format_err!(why));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            let why = format!("table limit of {} elements exceeded", self.table_elements);
            self.hit = Some(why.clone());
            return Err(wasmtime::format_err!(why));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }
}

/// A plugin ready to be called: its component linked with exactly its grants.
pub struct Prepared {
    pre: PluginPre<CallState>,
}

/// Who calls, for what: the context of one invocation.
pub struct Caller<'a> {
    pub app: &'a Arc<App>,
    pub actor: &'a Actor,
    pub plugin: &'a str,
    pub grants: &'a BTreeSet<Capability>,
    pub collections: &'a BTreeMap<String, Vec<String>>,
    pub limits: &'a Limits,
    /// The plugin's scratch directory when `scratch` is granted.
    pub scratch: Option<&'a Path>,
    /// The call's logical time (milliseconds since the epoch).
    pub now: i64,
}

/// The plugin runtime: shared by every tenant, one per process.
pub struct Runtime {
    engine: Engine,
    cache_dir: Option<PathBuf>,
    scratch_root: PathBuf,
    prepared: Mutex<HashMap<String, Arc<Prepared>>>,
    /// Whether slots' memories are reset by rewriting only their dirty pages (PAGEMAP_SCAN).
    dirty_pages_only: bool,
}

impl Runtime {
    /// A runtime whose compiled components and scratch directories live under `data_dir`.
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        // Reset a slot's linear memory by rewriting only the pages the last call dirtied (found
        // with Linux's PAGEMAP_SCAN, kernel 6.7+) instead of discarding them: the next instance
        // then starts without page faults. Where the kernel lacks it, the plain reset is used.
        let (engine, dirty_pages_only) = match Self::new_engine(true) {
            Ok(e) => (e, true),
            Err(_) => (
                Self::new_engine(false).map_err(|e| anyhow::anyhow!("plugin engine: {e}"))?,
                false,
            ),
        };
        Self::finish(engine, dirty_pages_only, data_dir)
    }

    /// The plugin engine: component model, epochs, fuel, the pooling allocator.
    fn new_engine(dirty_pages_only: bool) -> wasmtime::Result<Engine> {
        let mut pool = PoolingAllocationConfig::new();
        // Core instances are only counted (no slot is reserved for them): enough for every
        // component instance to make 40 (a Python plugin makes 14, 38 built with `--stub-wasi`).
        pool.total_component_instances(512)
            .total_core_instances(512 * 40)
            .total_memories(512)
            .total_tables(1024)
            .total_stacks(512)
            .max_memory_size(MAX_MEMORY)
            // A Rust plugin makes 3 core instances; componentize-py 0.25's CPython 14 (38 when
            // built with `--stub-wasi`, a stub module per WASI interface).
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .table_elements(20_000)
            .max_unused_warm_slots(64)
            // Wasm runs on the call's fiber stack: keeping its top resident (zeroed by memset)
            // spares a page fault per frame page on every call.
            .async_stack_keep_resident(128 << 10)
            .table_keep_resident(64 << 10);
        if dirty_pages_only {
            pool.linear_memory_keep_resident(MAX_MEMORY)
                .pagemap_scan(wasmtime::Enabled::Yes);
        }
        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(true)
            .max_wasm_stack(512 << 10)
            .async_stack_size(2 << 20)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&cfg)
    }

    /// A runtime that resets memory the plain way (madvise), as the benchmark's comparison.
    pub fn with_plain_memory_reset(data_dir: &Path) -> anyhow::Result<Self> {
        let engine = Self::new_engine(false).map_err(|e| anyhow::anyhow!("plugin engine: {e}"))?;
        Self::finish(engine, false, data_dir)
    }

    fn finish(engine: Engine, dirty_pages_only: bool, data_dir: &Path) -> anyhow::Result<Self> {
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })?;
        let cache_dir = std::env::var_os("CRM_COMPONENT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("cache").join("components"));
        Ok(Self {
            engine,
            cache_dir: Some(cache_dir),
            scratch_root: data_dir.join("plugins").join("scratch"),
            prepared: Mutex::new(HashMap::new()),
            dirty_pages_only,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How a finished instance's memory is reset, for the benchmark's report.
    pub fn memory_reset(&self) -> &'static str {
        if self.dirty_pages_only {
            "dirty pages rewritten (PAGEMAP_SCAN)"
        } else {
            "pages discarded (madvise)"
        }
    }

    /// The scratch directory of a tenant's plugin (created on first use).
    pub fn scratch_dir(&self, tenant_id: &str, plugin: &str) -> PathBuf {
        self.scratch_root.join(tenant_id).join(plugin)
    }

    /// Compiles a component, or loads it from the disk cache, keyed by the component's SHA-256
    /// and this Wasmtime's compatibility hash, so a restart does not recompile.
    pub fn component(&self, sha256: &str, bytes: &[u8]) -> anyhow::Result<Component> {
        let path = self.cache_dir.as_ref().map(|d| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.engine.precompile_compatibility_hash().hash(&mut h);
            d.join(format!("{sha256}-{:016x}.cwasm", h.finish()))
        });
        if let Some(p) = path.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of this engine configuration
            // (the name carries its compatibility hash) into the host's own data folder.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, p) } {
                return Ok(c);
            }
        }
        let c = Component::new(&self.engine, bytes)
            .map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
        if let (Some(p), Ok(ser)) = (path, c.serialize()) {
            let write = || -> std::io::Result<()> {
                let dir = p.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir)?;
                let tmp = tempfile::NamedTempFile::new_in(dir)?;
                std::fs::write(tmp.path(), &ser)?;
                tmp.persist(&p).map_err(|e| e.error)?;
                Ok(())
            };
            if let Err(e) = write() {
                tracing::warn!("cannot cache a compiled component: {e}");
            }
        }
        Ok(c)
    }

    /// The plugin already prepared with these grants, if it is.
    pub fn prepared(&self, sha256: &str, grants: &BTreeSet<Capability>) -> Option<Arc<Prepared>> {
        let key = prepared_key(sha256, grants);
        self.prepared.lock().ok().and_then(|m| m.get(&key).cloned())
    }

    /// The plugin linked with its grants, prepared once per (component, grants).
    pub fn prepare(
        &self,
        sha256: &str,
        bytes: &[u8],
        grants: &BTreeSet<Capability>,
    ) -> anyhow::Result<Arc<Prepared>> {
        if let Some(p) = self.prepared(sha256, grants) {
            return Ok(p);
        }
        let key = prepared_key(sha256, grants);
        let component = self.component(sha256, bytes)?;
        let linker = self.linker(grants)?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
        let p = Arc::new(Prepared { pre });
        if let Ok(mut m) = self.prepared.lock() {
            m.insert(key, p.clone());
        }
        Ok(p)
    }

    /// WASI as language runtimes need it (stdio into the log, clocks, randomness; no
    /// environment or arguments; `wasi:sockets` denying everything; `wasi:filesystem` with a
    /// directory only with `scratch`) plus exactly the granted `crm:platform` capabilities.
    fn linker(&self, grants: &BTreeSet<Capability>) -> anyhow::Result<Linker<CallState>> {
        let mut l = Linker::new(&self.engine);
        caps::wasi::add_to_linker(&mut l, grants.contains(&Capability::Scratch))
            .map_err(anyhow_of)?;
        use abi::crm::platform as p;
        for cap in grants {
            let r = match cap {
                Capability::Customers => {
                    p::customers::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)
                }
                Capability::Records => p::records::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s),
                Capability::Consent => p::consent::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s),
                Capability::Events => p::events::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s),
                Capability::Log => p::log::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s),
                Capability::Clock => p::clock::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s),
                Capability::Scratch => Ok(()),
            };
            r.map_err(anyhow_of)?;
        }
        Ok(l)
    }

    /// Calls the plugin's `manifest` with nothing granted: every `crm:platform` import traps.
    pub async fn manifest(
        &self,
        app: &Arc<App>,
        tenant_id: &str,
        component: &Component,
    ) -> Result<abi::guest::PluginManifest, CallError> {
        let mut linker = Linker::new(&self.engine);
        caps::wasi::add_to_linker(&mut linker, false).map_err(anyhow_of)?;
        caps::wasi::define_other_imports_as_traps(&mut linker, component).map_err(anyhow_of)?;
        let pre = linker
            .instantiate_pre(component)
            .and_then(PluginPre::new)
            .map_err(anyhow_of)?;
        let actor = Actor {
            tenant_id: tenant_id.to_string(),
            user_id: String::new(),
            username: String::new(),
            role: String::new(),
            mfa: false,
            lang: "en".into(),
            via_plugin: None,
            service: None,
        };
        let limits = Limits::default();
        let caller = Caller {
            app,
            actor: &actor,
            plugin: "(installing)",
            grants: &BTreeSet::new(),
            collections: &BTreeMap::new(),
            limits: &limits,
            scratch: None,
            now: crate::store::now_ms(),
        };
        let (m, _) = self
            .invoke(&pre, &caller, limits.deadline_ms, |p, store| {
                Box::pin(async move { p.crm_platform_guest().call_manifest(store).await })
            })
            .await?;
        Ok(m)
    }

    /// Renders a screen.
    pub async fn render(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        request: abi::guest::ScreenRequest,
    ) -> Result<(abi::crm::platform::ui::Screen, Vec<caps::events::Pending>), CallError> {
        self.handle(
            prepared,
            caller,
            caller.limits.deadline_ms,
            move |p, store| {
                Box::pin(async move { p.crm_platform_guest().call_render(store, &request).await })
            },
        )
        .await
    }

    /// Runs an action.
    pub async fn act(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        request: abi::guest::ActionRequest,
    ) -> Result<(abi::guest::ActionOutcome, Vec<caps::events::Pending>), CallError> {
        self.handle(
            prepared,
            caller,
            caller.limits.deadline_ms,
            move |p, store| {
                Box::pin(async move { p.crm_platform_guest().call_act(store, &request).await })
            },
        )
        .await
    }

    /// Hands the plugin an event it subscribed to.
    pub async fn on_event(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        event: abi::guest::IncomingEvent,
    ) -> Result<((), Vec<caps::events::Pending>), CallError> {
        self.handle(
            prepared,
            caller,
            caller.limits.deadline_ms,
            move |p, store| {
                Box::pin(async move { p.crm_platform_guest().call_on_event(store, &event).await })
            },
        )
        .await
    }

    /// Runs one of the plugin's jobs, under the job deadline.
    pub async fn run_job(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        request: abi::guest::JobRequest,
    ) -> Result<(abi::guest::JobReport, Vec<caps::events::Pending>), CallError> {
        self.handle(
            prepared,
            caller,
            caller.limits.job_deadline_ms,
            move |p, store| {
                Box::pin(async move { p.crm_platform_guest().call_run_job(store, &request).await })
            },
        )
        .await
    }

    /// A guest handler answering `result<T, error>`, in a fresh instance, with the output cap
    /// applied to its answer.
    async fn handle<T, F>(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        deadline_ms: u64,
        f: F,
    ) -> Result<(T, Vec<caps::events::Pending>), CallError>
    where
        T: Serialize + Send + 'static,
        F: for<'a> CallFn<'a, Result<T, abi::Error>>,
    {
        let (r, events) = self.invoke(&prepared.pre, caller, deadline_ms, f).await?;
        answered(caller.plugin, r, events, caller.limits)
    }

    /// One invocation in a fresh instance, on the call pool: build the store with its limits,
    /// instantiate, call `f` within the budget, and turn whatever stopped the plugin into a
    /// `CallError` that says which limit.
    async fn invoke<R, F>(
        &self,
        pre: &PluginPre<CallState>,
        caller: &Caller<'_>,
        deadline_ms: u64,
        f: F,
    ) -> Result<(R, Vec<caps::events::Pending>), CallError>
    where
        R: Send + 'static,
        F: for<'a> CallFn<'a, R>,
    {
        let limits = caller.limits.clone();
        let budget = Budget::of(&limits, deadline_ms);
        let state = self.state(caller)?;
        let (engine, pre) = (self.engine.clone(), pre.clone());
        let (result, mut store) = CallPool::get()
            .run(&caller.actor.tenant_id, budget.wall, async move {
                let mut store = Store::new(&engine, state);
                store.limiter(|s| &mut s.limiter);
                let result = budget.apply(&mut store).map_err(anyhow_of);
                let result = match result {
                    Err(e) => Ok(Err(wasmtime::Error::msg(e.to_string()))),
                    Ok(()) => {
                        // Host calls can wait on the database outside Wasm, where epochs are not
                        // checked: the timeout bounds the whole call (with slack, so the epoch
                        // trap names the limit first).
                        let run = async {
                            let plugin = pre.instantiate_async(&mut store).await?;
                            f(&plugin, &mut store).await
                        };
                        tokio::time::timeout(budget.wall + Duration::from_millis(50), run).await
                    }
                };
                (result, store)
            })
            .await?;
        let stopped = |reason: String| CallError::Stopped {
            plugin: caller.plugin.to_string(),
            reason,
        };
        let tenant = &caller.actor.tenant_id;
        let state = store.data_mut();
        let events = std::mem::take(&mut state.events);
        let log = state.log.clone();
        let why = state.stopped.clone().or(state.limiter.hit.clone());
        drop(store);
        caps::log::persist(&caller.app.store, tenant, caller.plugin, &log).await;
        let ceiling = format!(
            "wall-clock ceiling of {} ms exceeded (time waiting on the host included)",
            budget.wall.as_millis()
        );
        match result {
            Err(_) => Err(stopped(ceiling)),
            Ok(Ok(r)) => Ok((r, events)),
            Ok(Err(e)) => {
                let reason = if let Some(why) = why {
                    why
                } else {
                    match e.downcast_ref::<Trap>() {
                        Some(Trap::Interrupt) => ceiling,
                        Some(Trap::OutOfFuel) if budget.by_admin => {
                            format!("fuel limit of {} exceeded", budget.fuel)
                        }
                        Some(Trap::OutOfFuel) => {
                            format!("time limit of {deadline_ms} ms exceeded")
                        }
                        Some(Trap::StackOverflow) => {
                            "call stack exhausted (too deep a recursion)".to_string()
                        }
                        Some(Trap::MemoryOutOfBounds) => "it trapped: out-of-bounds memory access \
                                                          (its stack overflowed, or a bad pointer)"
                            .to_string(),
                        Some(Trap::UnreachableCodeReached) => {
                            "it trapped (unreachable: a panic or an abort)".to_string()
                        }
                        Some(t) => format!("it trapped: {t}"),
                        None if error_text(&e).contains("fuel allocated for hostcalls") => format!(
                            "what it handed the host exceeds the limit of {} bytes (refused as it \
                             was read, before the host copied it)",
                            limits.output_bytes
                        ),
                        None => error_text(&e),
                    }
                };
                Err(stopped(reason))
            }
        }
    }

    /// The per-call state: WASI with nothing ambient, the plugin's log pipes, limits.
    fn state(&self, caller: &Caller<'_>) -> Result<CallState, CallError> {
        let log = LogBuffer::new(caller.limits.log_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(log.pipe(caps::log::Stream::Stdout))
            .stderr(log.pipe(caps::log::Stream::Stderr))
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        if let Some(dir) = caller.scratch {
            std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
            wasi.preopened_dir(dir, "/scratch", wasmtime_wasi::FsPerms::ReadWrite)
                .map_err(anyhow_of)?;
        }
        Ok(CallState {
            app: caller.app.clone(),
            actor: caller.actor.through_plugin(caller.plugin),
            plugin: caller.plugin.to_string(),
            grants: caller.grants.clone(),
            collections: caller.collections.clone(),
            limits: caller.limits.clone(),
            host_calls: 0,
            stopped: None,
            log,
            events: Vec::new(),
            now: caller.now,
            queries: crate::store::QueryBudget::new(
                std::time::Instant::now()
                    + Budget::of(caller.limits, caller.limits.job_deadline_ms).wall,
                QUERY_STEPS,
            ),
            limiter: Limiter {
                memory: caller.limits.memory_bytes,
                table_elements: caller.limits.table_elements,
                instances: caller.limits.instances,
                hit: None,
            },
            wasi: wasi.build(),
            table: ResourceTable::new(),
        })
    }
}

/// What one call may spend.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Fuel for the plugin's own execution.
    fuel: u64,
    /// Whether `fuel` is an admin's fuel limit (tighter than the deadline's).
    by_admin: bool,
    /// The whole call's wall-clock ceiling.
    wall: Duration,
    /// Bytes the plugin may hand the host at once (a result, a host call's arguments).
    handed: usize,
}

impl Budget {
    fn of(limits: &Limits, deadline_ms: u64) -> Self {
        let cpu = deadline_ms.saturating_mul(FUEL_PER_MS);
        let fuel = limits.fuel.map_or(cpu, |f| f.min(cpu));
        Self {
            fuel,
            by_admin: fuel < cpu,
            wall: Duration::from_millis(deadline_ms.saturating_mul(WALL_FACTOR)).max(MIN_WALL),
            handed: limits.output_bytes,
        }
    }

    /// Sets the budget on a fresh store. At each epoch tick a running call yields to the pool's
    /// other tasks, until the wall-clock ceiling stops it.
    fn apply(&self, store: &mut Store<CallState>) -> wasmtime::Result<()> {
        store.set_fuel(self.fuel)?;
        store.set_hostcall_fuel(self.handed);
        let end = std::time::Instant::now() + self.wall;
        store.epoch_deadline_callback(move |_| {
            Ok(if std::time::Instant::now() >= end {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Yield(1)
            })
        });
        store.set_epoch_deadline(1);
        Ok(())
    }
}

/// Where plugin code runs: a Tokio runtime of its own, so guest code never occupies a thread
/// that serves HTTP. At most [`TENANT_CALLS`] calls of one tenant run at once and
/// [`HOST_CALLS`] in all; a tenant's further calls wait behind its own (so one tenant cannot
/// take every slot), for at most the call's wall-clock ceiling.
pub struct CallPool {
    handle: tokio::runtime::Handle,
    host: Arc<tokio::sync::Semaphore>,
    tenants: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// Calls of one tenant's plugins running at once.
pub const TENANT_CALLS: usize = 4;
/// Calls running at once in all, per core.
const CALLS_PER_CORE: usize = 8;

impl CallPool {
    /// The process's pool (started on first use; it lives as long as the process).
    pub fn get() -> &'static CallPool {
        static POOL: std::sync::OnceLock<(tokio::runtime::Runtime, CallPool)> =
            std::sync::OnceLock::new();
        &POOL
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(cores)
                    .thread_name("plugin-call")
                    .enable_all()
                    .build()
                    .expect("the plugin call runtime starts");
                let pool = CallPool {
                    handle: rt.handle().clone(),
                    host: Arc::new(tokio::sync::Semaphore::new(cores * CALLS_PER_CORE)),
                    tenants: Mutex::new(HashMap::new()),
                };
                (rt, pool)
            })
            .1
    }

    fn tenant(&self, tenant: &str) -> Arc<tokio::sync::Semaphore> {
        let mut m = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, s| s.available_permits() < TENANT_CALLS);
        }
        m.entry(tenant.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(TENANT_CALLS)))
            .clone()
    }

    /// Runs `work` on the pool once a slot of the tenant and one of the host are free. Dropping
    /// the returned future stops the work.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        wait: Duration,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, CallError> {
        let mine = self.tenant(tenant);
        let permits = async {
            let t = mine.acquire_owned().await.ok()?;
            let h = self.host.clone().acquire_owned().await.ok()?;
            Some((t, h))
        };
        let Ok(Some(permits)) = tokio::time::timeout(wait, permits).await else {
            return Err(CallError::Busy);
        };
        let task = self.handle.spawn(async move {
            let _permits = permits;
            work.await
        });
        // Aborted if the caller goes away (a client that disconnected).
        struct AbortOnDrop(tokio::task::AbortHandle);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _guard = AbortOnDrop(task.abort_handle());
        task.await
            .map_err(|e| CallError::Host(anyhow::anyhow!("plugin call task: {e}")))
    }
}

/// A call into a plugin's exports, given its instance and store for as long as it runs.
pub trait CallFn<'a, R>:
    FnOnce(
        &'a abi::Plugin,
        &'a mut Store<CallState>,
    ) -> futures_util::future::BoxFuture<'a, wasmtime::Result<R>>
    + Send
    + 'static
{
}

impl<'a, R, F> CallFn<'a, R> for F where
    F: FnOnce(
            &'a abi::Plugin,
            &'a mut Store<CallState>,
        ) -> futures_util::future::BoxFuture<'a, wasmtime::Result<R>>
        + Send
        + 'static
{
}

fn prepared_key(sha256: &str, grants: &BTreeSet<Capability>) -> String {
    let names: Vec<&str> = grants.iter().map(|c| c.name()).collect();
    format!("{sha256}:{}", names.join(","))
}

/// A plugin's `result<T, error>` with the output cap applied.
fn answered<T: Serialize>(
    plugin: &str,
    r: Result<T, abi::Error>,
    events: Vec<caps::events::Pending>,
    limits: &Limits,
) -> Result<(T, Vec<caps::events::Pending>), CallError> {
    match r {
        Err(error) => Err(CallError::Plugin {
            plugin: plugin.to_string(),
            error,
        }),
        Ok(v) => {
            let size = serde_json::to_vec(&v)
                .map(|b| b.len())
                .unwrap_or(usize::MAX);
            if size > limits.output_bytes {
                return Err(CallError::Stopped {
                    plugin: plugin.to_string(),
                    reason: format!(
                        "its output of {size} bytes exceeds the limit of {} bytes",
                        limits.output_bytes
                    ),
                });
            }
            Ok((v, events))
        }
    }
}

fn anyhow_of(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", error_text(&e))
}

/// An error with its causes, on one line.
pub fn error_text(e: &wasmtime::Error) -> String {
    let mut s = e.to_string();
    for c in e.chain().skip(1) {
        s.push_str(": ");
        s.push_str(&c.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::Limits;

    #[test]
    fn limits_can_only_be_tightened() {
        assert!(Limits::default().check().is_ok());
        let tighter = Limits {
            deadline_ms: 20,
            memory_bytes: 8 << 20,
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        assert!(tighter.check().is_ok());
        for looser in [
            Limits {
                deadline_ms: 101,
                ..Limits::default()
            },
            Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
            Limits {
                host_calls: 0,
                ..Limits::default()
            },
            Limits {
                fuel: Some(0),
                ..Limits::default()
            },
        ] {
            assert!(looser.check().is_err(), "{looser:?}");
        }
        let e = serde_json::from_str::<Limits>(r#"{"memory": 1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"));
    }
}
