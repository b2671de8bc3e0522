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
//! - Plugin code runs on a runtime of its own ([`super::pool::CallPool`]), never on the threads that serve
//!   HTTP, at most a few calls of one tenant at once; a running call yields every millisecond, so
//!   long calls share the pool's threads instead of holding them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::WasiCtx;

use super::abi::latest::{self as abi, PluginPre};
use super::abi::v0_2_0::SubjectRights;
use super::abi::v0_2_0::subject::{SubjectAnswer, SubjectRequest};
use super::caps::{self, CallState, Capability, log::LogBuffer};
pub use super::limits::Limits;
use super::limits::MAX_MEMORY;
use super::pool::{CallPool, Refused};
use crate::app::{Actor, App};
use crate::error::{AppError, ErrorKind};

/// Epoch ticks per second: the wall-clock ceiling is counted in milliseconds.
const TICK: Duration = Duration::from_millis(1);

/// Fuel per millisecond of a plugin's deadline. Fuel counts Wasm instructions; a tight loop
/// runs about 12 million of them per millisecond on the 2-core test machine (the hostile
/// plugin's loop spends a 100 ms budget in about 85 ms), memory-bound code fewer.
pub const FUEL_PER_MS: u64 = 10_000_000;

/// The wall-clock ceiling of a call: this many times its deadline, and at least [`MIN_WALL`].
const WALL_FACTOR: u64 = 20;
const MIN_WALL: Duration = Duration::from_secs(2);

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

/// A plugin's error of the interface, as one line of English.
pub fn plugin_error_text(e: &abi::Error) -> String {
    use abi::Error;
    match e {
        Error::Denied(m) => format!("denied: {m}"),
        Error::NotFound => "not found".into(),
        Error::Invalid(fields) => fields
            .iter()
            .map(|f| {
                if f.field.is_empty() {
                    f.message.en.clone()
                } else {
                    format!("{}: {}", f.field, f.message.en)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Error::LimitExceeded(l) => format!("the {} limit of {} was reached", l.limit, l.max),
        Error::Conflict(m) => format!("conflict: {m}"),
        Error::Unavailable(m) => format!("unavailable: {m}"),
    }
}

/// A failed call as a domain error: the sandbox's stop as a plugin failure (not the request's),
/// the plugin's own error by its kind.
impl From<CallError> for AppError {
    fn from(e: CallError) -> Self {
        use abi::Error;
        match e {
            CallError::Stopped { .. } => {
                AppError::new(ErrorKind::PluginFailed, "plugin_stopped", e.to_string())
            }
            CallError::Plugin { plugin, error } => {
                let text = clip_long(&plugin_error_text(&error));
                let fields = match &error {
                    Error::Invalid(fields) => fields
                        .iter()
                        .take(100)
                        .map(|f| crate::error::FieldIssue {
                            field: f.field.chars().take(60).collect(),
                            message: clip_long(&f.message.en),
                            message_zh_hans: f.message.zh_hans.as_deref().map(clip_long),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let (kind, code) = match error {
                    Error::Denied(_) => (ErrorKind::Forbidden, "forbidden"),
                    Error::NotFound => (ErrorKind::NotFound, "not_found"),
                    Error::Invalid(_) => (ErrorKind::Rejected, "invalid"),
                    Error::LimitExceeded(_) => (ErrorKind::Throttled, "limit_exceeded"),
                    Error::Conflict(_) => (ErrorKind::Conflict, "conflict"),
                    Error::Unavailable(_) => (ErrorKind::Busy, "unavailable"),
                };
                let mut e =
                    AppError::new(kind, code, format!("the plugin {plugin} answered: {text}"));
                e.fields = fields;
                e
            }
            CallError::Busy => {
                let mut err = AppError::new(ErrorKind::Busy, "plugins_busy", e.to_string());
                err.retry_after = Some(2);
                err
            }
            CallError::Host(e) => AppError::from(e),
        }
    }
}

fn clip_long(s: &str) -> String {
    if s.len() <= 2000 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(2000).collect::<String>())
    }
}

/// A plugin ready to be called: its component linked with exactly its grants.
pub struct Prepared {
    pre: PluginPre<CallState>,
}

/// Who calls, for what: the context of one invocation.
pub struct Caller<'a> {
    /// The services the capabilities reach the tenant's data through.
    pub app: &'a Arc<App>,
    pub actor: &'a Actor,
    pub plugin: &'a str,
    pub grants: &'a BTreeSet<Capability>,
    pub collections: &'a BTreeMap<String, Vec<String>>,
    pub limits: &'a Limits,
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
        caps::link(&mut l, grants).map_err(anyhow_of)?;
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
            channel: crate::app::Channel::Plugin,
            operator: None,
        };
        let limits = Limits::default();
        let caller = Caller {
            app,
            actor: &actor,
            plugin: "(installing)",
            grants: &BTreeSet::new(),
            collections: &BTreeMap::new(),
            limits: &limits,
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
    ) -> Result<(abi::crm::platform::ui::Screen, Vec<crate::events::Emitted>), CallError> {
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
    ) -> Result<(abi::guest::ActionOutcome, Vec<crate::events::Emitted>), CallError> {
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
    ) -> Result<((), Vec<crate::events::Emitted>), CallError> {
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
    ) -> Result<(abi::guest::JobReport, Vec<crate::events::Emitted>), CallError> {
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

    /// Asks a 0.2.0 plugin about a data-subject request (its `subject` export), under the job
    /// deadline: it may walk its documents. A plugin without the export is `not-found`.
    pub async fn on_subject_request(
        &self,
        prepared: &Prepared,
        caller: &Caller<'_>,
        request: SubjectRequest,
    ) -> Result<(SubjectAnswer, Vec<crate::events::Emitted>), CallError> {
        self.handle(
            prepared,
            caller,
            caller.limits.job_deadline_ms,
            move |p, store| {
                Box::pin(async move {
                    let Some(subject) = &p.subject else {
                        return Ok(Err(abi::Error::NotFound));
                    };
                    let answer = subject
                        .crm_platform0_2_0_subject()
                        .call_on_subject_request(store, &request)
                        .await?;
                    // The export answers a sentence; the host's errors carry it as a refusal.
                    Ok(answer.map_err(abi::Error::Denied))
                })
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
    ) -> Result<(T, Vec<crate::events::Emitted>), CallError>
    where
        T: Serialize + Send + 'static,
        F: for<'a> CallFn<'a, Result<T, abi::Error>>,
    {
        let (r, events) = self.invoke(&prepared.pre, caller, deadline_ms, f).await?;
        answered(caller.plugin, r, events, caller.limits)
    }

    /// One invocation in a fresh instance, on the call pool: build the store with its limits,
    /// instantiate, call `f` within the budget, and turn whatever stopped the plugin into a
    /// `CallError` that says which limit. Kept whole: each limit's set-up and its reading after
    /// the call belong to the same store, and splitting them apart would hide which is which.
    async fn invoke<R, F>(
        &self,
        pre: &PluginPre<CallState>,
        caller: &Caller<'_>,
        deadline_ms: u64,
        f: F,
    ) -> Result<(R, Vec<crate::events::Emitted>), CallError>
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
                            let instance = pre.instance_pre().instantiate_async(&mut store).await?;
                            let exports = Exports {
                                guest: abi::Plugin::new(&mut store, &instance)?,
                                subject: SubjectRights::new(&mut store, &instance).ok(),
                            };
                            f(&exports, &mut store).await
                        };
                        tokio::time::timeout(budget.wall + Duration::from_millis(50), run).await
                    }
                };
                (result, store)
            })
            .await
            .map_err(|e| match e {
                Refused::Busy => CallError::Busy,
                Refused::Lost(e) => CallError::Host(anyhow::anyhow!("plugin call task: {e}")),
            })?;
        let stopped = |reason: String| CallError::Stopped {
            plugin: caller.plugin.to_string(),
            reason,
        };
        let tenant = &caller.actor.tenant_id;
        let state = store.data_mut();
        let events = state
            .factors
            .events
            .take()
            .map(|e| e.emitted)
            .unwrap_or_default();
        let log = state.log.clone();
        let why = state.calls.stopped.clone().or(state.limiter.hit.clone());
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

    /// The per-call state: WASI with nothing ambient, the plugin's log pipes, limits, and the
    /// states of the granted capabilities.
    fn state(&self, caller: &Caller<'_>) -> Result<CallState, CallError> {
        let log = LogBuffer::new(caller.limits.log_bytes);
        let actor = caller.actor.through_plugin(caller.plugin);
        let scratch = self.scratch_dir(&caller.actor.tenant_id, caller.plugin);
        let setup = caps::Setup {
            app: caller.app,
            actor: &actor,
            plugin: caller.plugin,
            collections: caller.collections,
            limits: caller.limits,
            now: caller.now,
            log: &log,
            scratch: &scratch,
            ends: std::time::Instant::now()
                + Budget::of(caller.limits, caller.limits.job_deadline_ms).wall,
        };
        let factors = caps::Factors::configure(caller.grants, &setup)?;
        let mut wasi = WasiCtx::builder();
        wasi.stdout(log.pipe(caps::log::Stream::Stdout))
            .stderr(log.pipe(caps::log::Stream::Stderr))
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        if let Some(s) = &factors.scratch {
            wasi.preopened_dir(&s.dir, "/scratch", wasmtime_wasi::FsPerms::ReadWrite)
                .map_err(anyhow_of)?;
        }
        Ok(CallState {
            calls: caps::HostCalls::new(caller.limits.host_calls),
            factors,
            log,
            limiter: super::limits::Limiter {
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

/// A plugin instance's exports: 0.1.0's `guest` (every plugin), and 0.2.0's `subject` when the
/// plugin targets 0.2.0.
pub struct Exports {
    guest: abi::Plugin,
    subject: Option<SubjectRights>,
}

impl std::ops::Deref for Exports {
    type Target = abi::Plugin;
    fn deref(&self) -> &abi::Plugin {
        &self.guest
    }
}

/// A call into a plugin's exports, given its instance and store for as long as it runs.
pub trait CallFn<'a, R>:
    FnOnce(
        &'a Exports,
        &'a mut Store<CallState>,
    ) -> futures_util::future::BoxFuture<'a, wasmtime::Result<R>>
    + Send
    + 'static
{
}

impl<'a, R, F> CallFn<'a, R> for F where
    F: FnOnce(
            &'a Exports,
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
    events: Vec<crate::events::Emitted>,
    limits: &Limits,
) -> Result<(T, Vec<crate::events::Emitted>), CallError> {
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
