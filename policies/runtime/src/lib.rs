//! Generic policy runtime: OPA's Wasm ABI (1.2) on top of regorus.
//!
//! This crate is built once for `wasm32-unknown-unknown`; it holds no policy.
//! The host-side `crm-policy-compiler` crate appends a policy blob (RVM
//! bytecode, or Rego sources for the interpreter fallback) as a data segment
//! past the runtime's heap base, patches [`CRM_POLICY_DESC`] to point at it,
//! adds the `opa_wasm_abi_version` / `opa_wasm_abi_minor_version` globals and
//! wraps every export so that it resets the shadow stack pointer on entry
//! (except while a host builtin calls back in: see [`CRM_CALLOUT`]).
//!
//! Memory discipline (see `heap.rs`): the host may reset the heap pointer to
//! the value it read after loading `data`, so nothing created during an
//! evaluation may be reachable from state that outlives it. Hence: a fresh VM
//! per evaluation; the program, the entrypoint table, the panic hook, the RNG
//! and regorus's lazy statics are all initialised on the first export call,
//! i.e. before the host can take its snapshot.

#![allow(clippy::missing_safety_doc)]

mod heap;

use std::sync::Arc;

use regorus::Value;
use regorus::rvm::RegoVM;
use regorus::rvm::program::{DeserializationResult, Program};

#[global_allocator]
static ALLOC: heap::Heap = heap::Heap;

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    #[link_name = "opa_abort"]
    fn host_opa_abort(msg: *const u8);
    // Builtins the host implements: `(builtin id, context, value addresses…) -> value address`.
    fn opa_builtin0(id: i32, ctx: i32) -> i32;
    fn opa_builtin1(id: i32, ctx: i32, a: i32) -> i32;
    fn opa_builtin2(id: i32, ctx: i32, a: i32, b: i32) -> i32;
    fn opa_builtin3(id: i32, ctx: i32, a: i32, b: i32, c: i32) -> i32;
    fn opa_builtin4(id: i32, ctx: i32, a: i32, b: i32, c: i32, d: i32) -> i32;
}

/// Non-zero while a host builtin runs. The host then calls back into the module
/// (`opa_json_dump`, `opa_malloc`, `opa_json_parse`, `opa_free`), and the export
/// wrappers the compiler adds must not reset the shadow stack under the suspended
/// evaluation. The compiler finds it through its export, like the descriptor.
#[unsafe(no_mangle)]
#[used]
pub static mut CRM_CALLOUT: u32 = 0;

static mut WARMING_UP: bool = false;

/// Calls host builtin `id` with `args`: what a module built by `opa build -t wasm` does
/// for the builtins its host provides.
fn host_builtin(id: i32, args: &[Value]) -> anyhow::Result<Value> {
    // The warm-up evaluation at load runs before the host has read `builtins()`.
    if unsafe { core::ptr::read_volatile(core::ptr::addr_of!(WARMING_UP)) } {
        anyhow::bail!("host builtins are not available while the policy loads");
    }
    if args.len() > 4 {
        anyhow::bail!("host builtins take at most 4 arguments, not {}", args.len());
    }
    let a: Vec<i32> = args.iter().map(|v| new_handle(v.clone())).collect();
    let at = |i: usize| a.get(i).copied().unwrap_or(0);
    unsafe {
        core::ptr::write_volatile(core::ptr::addr_of_mut!(CRM_CALLOUT), 1);
        let r = match a.len() {
            0 => opa_builtin0(id, 0),
            1 => opa_builtin1(id, 0, at(0)),
            2 => opa_builtin2(id, 0, at(0), at(1)),
            3 => opa_builtin3(id, 0, at(0), at(1), at(2)),
            _ => opa_builtin4(id, 0, at(0), at(1), at(2), at(3)),
        };
        core::ptr::write_volatile(core::ptr::addr_of_mut!(CRM_CALLOUT), 0);
        match handle(r) {
            Some(v) => Ok(v.clone()),
            None => anyhow::bail!("the host's builtin returned no value"),
        }
    }
}

// ---------------------------------------------------------------------------
// The descriptor the compiler patches
// ---------------------------------------------------------------------------

/// `magic, version, blob_ptr, blob_len, heap_start` (little-endian u32s).
/// Exported (as an address) so that the compiler can find and patch it; the
/// compiler removes the export afterwards. The non-zero magic keeps it in a
/// data segment (a zeroed static would land in .bss, which has no bytes).
#[repr(C)]
pub struct PolicyDesc {
    pub magic: u32,
    pub version: u32,
    pub blob_ptr: u32,
    pub blob_len: u32,
    pub heap_start: u32,
}

pub const DESC_MAGIC: u32 = 0x4352_4d50; // "PMRC"

#[unsafe(no_mangle)]
#[used]
pub static mut CRM_POLICY_DESC: PolicyDesc = PolicyDesc {
    magic: DESC_MAGIC,
    version: 1,
    blob_ptr: 0,
    blob_len: 0,
    heap_start: 0,
};

fn desc() -> (usize, usize, usize) {
    unsafe {
        let d = core::ptr::addr_of!(CRM_POLICY_DESC);
        (
            core::ptr::read_volatile(core::ptr::addr_of!((*d).blob_ptr)) as usize,
            core::ptr::read_volatile(core::ptr::addr_of!((*d).blob_len)) as usize,
            core::ptr::read_volatile(core::ptr::addr_of!((*d).heap_start)) as usize,
        )
    }
}

pub(crate) fn desc_heap_start() -> usize {
    desc().2
}

// ---------------------------------------------------------------------------
// getrandom custom backend (no host randomness in OPA's ABI)
// ---------------------------------------------------------------------------

static mut RNG_STATE: u64 = 0x9E37_79B9_7F4A_7C15;

/// getrandom 0.3/0.4 with `--cfg getrandom_backend="custom"` links to this.
/// Deterministic (splitmix64): `rand.intn` / `uuid.rfc4122` get pseudo-random,
/// not secret, values — as they would in any sandbox without an entropy source.
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    unsafe {
        for i in 0..len {
            if i % 8 == 0 {
                RNG_STATE = RNG_STATE.wrapping_add(0x9E37_79B9_7F4A_7C15);
            }
            let mut z = RNG_STATE;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            *dest.add(i) = (z >> ((i % 8) * 8)) as u8;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Runtime state (set up once, before the host's first heap snapshot)
// ---------------------------------------------------------------------------

struct Entry {
    /// OPA name, e.g. `crm/authz/decision`
    name: String,
    /// Rego path, e.g. `data.crm.authz.decision`
    path: String,
    /// The path names a package (its whole document), not a rule: queried, not evaluated as a rule.
    package: bool,
}

enum Mode {
    Rvm(Arc<Program>),
    Interp(Box<regorus::Engine>),
}

struct Runtime {
    entries: Vec<Entry>,
    mode: Mode,
    entrypoints_value: *mut Value,
    builtins_value: *mut Value,
    empty_object: Value,
    /// Builtin errors fail the evaluation (else they make the expression undefined).
    strict: bool,
}

static mut INIT_DONE: bool = false;
static mut RUNTIME: Option<Runtime> = None;
static mut INIT_ERROR: Option<String> = None;

fn abort(msg: &str) -> ! {
    let mut bytes = Vec::with_capacity(msg.len() + 1);
    bytes.extend_from_slice(msg.as_bytes());
    bytes.push(0);
    unsafe {
        host_opa_abort(bytes.as_ptr());
    }
    core::arch::wasm32::unreachable()
}

fn ensure_init() {
    unsafe {
        if INIT_DONE {
            return;
        }
        INIT_DONE = true;
        std::panic::set_hook(Box::new(|info| {
            let msg = format!("policy runtime panic: {info}");
            abort(&msg);
        }));
        // Warm lazies that would otherwise be created during an evaluation.
        {
            use rand::RngExt;
            let _: u32 = rand::rng().random();
        }
        let _ = regorus::unstable::BUILTINS.len();
        match load() {
            Ok(rt) => RUNTIME = Some(rt),
            Err(e) => INIT_ERROR = Some(e),
        }
    }
}

fn runtime() -> &'static Runtime {
    ensure_init();
    unsafe {
        match &*core::ptr::addr_of!(RUNTIME) {
            Some(rt) => rt,
            None => {
                let e = (*core::ptr::addr_of!(INIT_ERROR))
                    .as_deref()
                    .unwrap_or("no policy");
                abort(&format!("policy runtime: cannot load policy: {e}"))
            }
        }
    }
}

/// Blob layout: `"CRMPOLICY1\0"`-less on purpose, just
/// `u32 header_len | header JSON | payload`; header:
/// `{"mode":"rvm"|"interp","entrypoints":[["crm/authz/decision","data.crm.authz.decision"],...],
/// "strict":bool}` (strict builtin errors; absent = true);
/// payload: RVM binary (`Program::serialize_binary`) or a JSON array of `[file, source]`.
fn load() -> Result<Runtime, String> {
    let (ptr, len, _) = desc();
    // An unpatched runtime: no entrypoints, nothing to evaluate.
    const EMPTY: &[u8] = b"\x10\x00\x00\x00{\"mode\":\"empty\"}";
    let blob: &'static [u8] = if len == 0 {
        EMPTY
    } else {
        unsafe { core::slice::from_raw_parts(ptr as *const u8, len) }
    };
    if blob.len() < 4 {
        return Err("policy blob too short".into());
    }
    let hlen = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let header = blob
        .get(4..4 + hlen)
        .ok_or("policy blob header truncated")?;
    let payload = &blob[4 + hlen..];
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("bad policy header: {e}"))?;
    let mut entries = Vec::new();
    if let Some(list) = header.get("entrypoints").and_then(|v| v.as_array()) {
        for e in list {
            let name = e.get(0).and_then(|v| v.as_str()).ok_or("bad entrypoint")?;
            let path = e.get(1).and_then(|v| v.as_str()).ok_or("bad entrypoint")?;
            let package = e.get(2).and_then(|v| v.as_str()) == Some("package");
            entries.push(Entry {
                name: name.into(),
                path: path.into(),
                package,
            });
        }
    }
    // The host builtins the policy calls, in id order (`builtins()` tells the host the ids).
    let host_builtins: Vec<String> = match header.get("host_builtins") {
        None => Vec::new(),
        Some(list) => serde_json::from_value(list.clone()).map_err(|e| format!("bad host builtins: {e}"))?,
    };
    let strict = header
        .get("strict")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let mode = match header.get("mode").and_then(|v| v.as_str()) {
        Some("rvm") => {
            let program = match Program::deserialize_binary(payload)? {
                DeserializationResult::Complete(p) => p,
                DeserializationResult::Partial(_) => {
                    return Err(
                        "RVM program needs recompilation (regorus version mismatch?)".into(),
                    );
                }
            };
            Mode::Rvm(Arc::new(program))
        }
        Some("interp") => {
            let files: Vec<(String, String)> =
                serde_json::from_slice(payload).map_err(|e| format!("bad sources: {e}"))?;
            let mut engine = regorus::Engine::new();
            crm_policy_builtins::register(&mut engine).map_err(|e| e.to_string())?;
            for (id, name) in host_builtins.iter().enumerate() {
                let arity = crm_policy_builtins::HOST_BUILTINS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, a)| *a)
                    .ok_or_else(|| format!("{name} is not a host builtin"))?;
                let id = id as i32;
                engine
                    .add_extension(
                        name.clone(),
                        arity,
                        Box::new(move |args: Vec<Value>| host_builtin(id, &args)),
                    )
                    .map_err(|e| e.to_string())?;
            }
            engine.set_strict_builtin_errors(strict);
            for (name, src) in files {
                engine.add_policy(name, src).map_err(|e| e.to_string())?;
            }
            // Prepare once now (pre-snapshot), so that per-evaluation clones
            // start from a fully compiled engine.
            if let Some(e) = entries.first() {
                unsafe { WARMING_UP = true };
                let _ = eval_entry(&mut engine.clone(), e);
                let _ = eval_entry(&mut engine, e);
                unsafe { WARMING_UP = false };
            }
            Mode::Interp(Box::new(engine))
        }
        Some("empty") => Mode::Rvm(Arc::new(Program::new())),
        other => return Err(format!("unknown policy mode {other:?}")),
    };
    let mut eps = std::collections::BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        eps.insert(Value::from(e.name.as_str()), Value::from(i as u64));
    }
    Ok(Runtime {
        entries,
        mode,
        entrypoints_value: Box::into_raw(Box::new(Value::from(eps))),
        builtins_value: Box::into_raw(Box::new(Value::from(
            host_builtins
                .iter()
                .enumerate()
                .map(|(id, name)| (Value::from(name.as_str()), Value::from(id as u64)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ))),
        empty_object: Value::new_object(),
        strict,
    })
}

fn evaluate(rt: &Runtime, entrypoint: i32, data: &Value, input: Value) -> Result<Value, String> {
    let entry = usize::try_from(entrypoint)
        .ok()
        .and_then(|i| rt.entries.get(i))
        .ok_or_else(|| format!("unknown entrypoint id {entrypoint}"))?;
    match &rt.mode {
        Mode::Rvm(program) => {
            let mut vm = RegoVM::new();
            vm.load_program(program.clone());
            vm.set_max_instructions(50_000_000);
            vm.set_strict_builtin_errors(rt.strict);
            vm.set_data(data.clone()).map_err(|e| e.to_string())?;
            vm.set_input(input);
            vm.execute_entry_point_by_name(&entry.path)
                .map_err(|e| e.to_string())
        }
        Mode::Interp(engine) => {
            let mut e = (**engine).clone();
            let has_data = match data {
                Value::Object(o) => !o.is_empty(),
                Value::Undefined | Value::Null => false,
                _ => true,
            };
            if has_data {
                e.add_data(data.clone()).map_err(|e| e.to_string())?;
            }
            e.set_input(input);
            eval_entry(&mut e, entry).map_err(explain)
        }
    }
}

/// A rule is evaluated; a package is queried, which gives its document (its rules, not its
/// functions), or undefined.
fn eval_entry(engine: &mut regorus::Engine, entry: &Entry) -> Result<Value, String> {
    if !entry.package {
        return engine
            .eval_rule(entry.path.clone())
            .map_err(|e| e.to_string());
    }
    let results = engine
        .eval_query(entry.path.clone(), false)
        .map_err(|e| e.to_string())?;
    Ok(results
        .result
        .into_iter()
        .next()
        .and_then(|r| r.expressions.into_iter().next())
        .map_or(Value::Undefined, |x| x.value))
}

/// The interpreter only finds out at run time that a function does not exist:
/// say plainly that it is a builtin this runtime lacks (the compiler refuses the
/// OPA builtins it knows to be missing; this catches the rest).
fn explain(msg: String) -> String {
    const MARK: &str = "could not find function ";
    match msg.find(MARK) {
        Some(i) => {
            let name: String = msg[i + MARK.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
                .collect();
            format!("unsupported builtin (or undefined function): {name}\n{msg}")
        }
        None => msg,
    }
}

/// OPA's result set: `[{"result": v}]`, or `[]` when undefined.
fn result_set(v: Value) -> Value {
    if v == Value::Undefined {
        return Value::new_array();
    }
    let mut m = std::collections::BTreeMap::new();
    m.insert(Value::from("result"), v);
    Value::from(vec![Value::from(m)])
}

fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    let mut end = bytes.len();
    while end > 0 && (bytes[end - 1] == 0 || bytes[end - 1].is_ascii_whitespace()) {
        end -= 1;
    }
    let s = core::str::from_utf8(&bytes[..end]).map_err(|e| e.to_string())?;
    // regorus's own parser interns object keys through a hash table built for each parse:
    // worth it for a large `data` document of many alike objects, about 0.5 µs of a trivial
    // policy's 6 µs decision for a request input. Both give the same value.
    if s.len() > INTERN_ABOVE {
        Value::from_json_str(s).map_err(|e| e.to_string())
    } else {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }
}

/// Documents longer than this (bytes of JSON) are parsed with key interning.
const INTERN_ABOVE: usize = 16 * 1024;

fn to_json(v: &Value) -> Vec<u8> {
    match v {
        Value::Undefined => b"null".to_vec(),
        _ => serde_json::to_vec(v).unwrap_or_else(|e| abort(&format!("json dump: {e}"))),
    }
}

/// An evaluation starts with no host builtin running (one that failed left the flag set).
fn end_callout() {
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(CRM_CALLOUT), 0) }
}

fn new_handle(v: Value) -> i32 {
    Box::into_raw(Box::new(v)) as i32
}

unsafe fn handle<'a>(p: i32) -> Option<&'a mut Value> {
    if p == 0 {
        None
    } else {
        unsafe { Some(&mut *(p as *mut Value)) }
    }
}

// ---------------------------------------------------------------------------
// Memory exports
// ---------------------------------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn opa_malloc(size: i32) -> i32 {
    ensure_init();
    heap::opa_malloc(size as u32 as usize) as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_free(p: i32) {
    heap::opa_free(p as *mut u8)
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_ptr_get() -> i32 {
    ensure_init();
    heap::heap_ptr_get() as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_ptr_set(p: i32) {
    ensure_init();
    heap::heap_ptr_set(p as u32 as usize)
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn opa_json_parse(ptr: i32, len: i32) -> i32 {
    ensure_init();
    let bytes = unsafe { core::slice::from_raw_parts(ptr as *const u8, len as u32 as usize) };
    match parse_json(bytes) {
        Ok(v) => new_handle(v),
        Err(_) => 0,
    }
}

/// Rego value syntax is not supported beyond JSON (sets print as arrays anyway).
#[unsafe(no_mangle)]
pub extern "C" fn opa_value_parse(ptr: i32, len: i32) -> i32 {
    opa_json_parse(ptr, len)
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_json_dump(v: i32) -> i32 {
    ensure_init();
    let json = match unsafe { handle(v) } {
        Some(v) => to_json(v),
        None => b"null".to_vec(),
    };
    heap::malloc_cstr(&json) as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_value_dump(v: i32) -> i32 {
    opa_json_dump(v)
}

const OPA_ERR_OK: i32 = 0;
const OPA_ERR_INTERNAL: i32 = 1;
const OPA_ERR_INVALID_TYPE: i32 = 2;
const OPA_ERR_INVALID_PATH: i32 = 3;

fn path_keys(path: i32) -> Result<Vec<Value>, i32> {
    match unsafe { handle(path) } {
        Some(Value::Array(a)) => Ok(a.iter().cloned().collect()),
        _ => Err(OPA_ERR_INVALID_PATH),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_value_add_path(base: i32, path: i32, value: i32) -> i32 {
    ensure_init();
    let keys = match path_keys(path) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let (Some(base), Some(value)) = (unsafe { handle(base) }, unsafe { handle(value) }) else {
        return OPA_ERR_INTERNAL;
    };
    if keys.is_empty() {
        return OPA_ERR_INVALID_PATH;
    }
    let mut cur = base;
    for (i, k) in keys.iter().enumerate() {
        let Ok(obj) = cur.as_object_mut() else {
            return OPA_ERR_INVALID_TYPE;
        };
        if i + 1 == keys.len() {
            obj.insert(k.clone(), value.clone());
            return OPA_ERR_OK;
        }
        cur = obj.get_or_insert_with(k.clone(), Value::new_object);
    }
    OPA_ERR_OK
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_value_remove_path(base: i32, path: i32) -> i32 {
    ensure_init();
    let keys = match path_keys(path) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let Some(base) = (unsafe { handle(base) }) else {
        return OPA_ERR_INTERNAL;
    };
    if keys.is_empty() {
        return OPA_ERR_INVALID_PATH;
    }
    let mut cur = base;
    for (i, k) in keys.iter().enumerate() {
        let Ok(obj) = cur.as_object_mut() else {
            return OPA_ERR_INVALID_TYPE;
        };
        if i + 1 == keys.len() {
            obj.remove(k);
            return OPA_ERR_OK;
        }
        match obj.get_mut(k) {
            Some(next) => cur = next,
            None => return OPA_ERR_OK,
        }
    }
    OPA_ERR_OK
}

// ---------------------------------------------------------------------------
// Policy metadata
// ---------------------------------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn entrypoints() -> i32 {
    runtime().entrypoints_value as i32
}

/// The builtins the host implements for this policy (`name → id`, see `HOST_BUILTINS`); every
/// other builtin runs inside the module.
#[unsafe(no_mangle)]
pub extern "C" fn builtins() -> i32 {
    runtime().builtins_value as i32
}

// ---------------------------------------------------------------------------
// Evaluation: context path (ABI 1.0)
// ---------------------------------------------------------------------------

#[repr(C)]
struct EvalCtx {
    entrypoint: i32,
    data: i32,
    input: i32,
    result: i32,
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_new() -> i32 {
    ensure_init();
    Box::into_raw(Box::new(EvalCtx {
        entrypoint: 0,
        data: 0,
        input: 0,
        result: 0,
    })) as i32
}

unsafe fn ctx<'a>(p: i32) -> &'a mut EvalCtx {
    if p == 0 {
        abort("null evaluation context");
    }
    unsafe { &mut *(p as *mut EvalCtx) }
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_set_input(c: i32, v: i32) {
    unsafe { ctx(c).input = v }
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_set_data(c: i32, v: i32) {
    unsafe { ctx(c).data = v }
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_set_entrypoint(c: i32, e: i32) {
    unsafe { ctx(c).entrypoint = e }
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_get_result(c: i32) -> i32 {
    unsafe { ctx(c).result }
}

#[unsafe(no_mangle)]
pub extern "C" fn eval(c: i32) -> i32 {
    end_callout();
    let rt = runtime();
    let c = unsafe { ctx(c) };
    let data = unsafe { handle(c.data) }
        .map(|v| &*v)
        .unwrap_or(&rt.empty_object);
    let input = unsafe { handle(c.input) }
        .map(|v| v.clone())
        .unwrap_or(Value::Undefined);
    match evaluate(rt, c.entrypoint, data, input) {
        Ok(v) => {
            c.result = new_handle(result_set(v));
            OPA_ERR_OK
        }
        Err(e) => abort(&format!("policy evaluation failed: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Evaluation: one-call fast path (ABI 1.2)
// ---------------------------------------------------------------------------

/// `opa_eval(reserved, entrypoint, data, input, input_len, heap_ptr, format)`:
/// the host wrote the input JSON at `input` and says the heap is free from
/// `heap_ptr` on; returns a NUL-terminated JSON result set.
#[unsafe(no_mangle)]
pub extern "C" fn opa_eval(
    _reserved: i32,
    entrypoint: i32,
    data: i32,
    input: i32,
    input_len: i32,
    heap_ptr: i32,
    _format: i32,
) -> i32 {
    end_callout();
    let rt = runtime();
    heap::heap_ptr_set(heap_ptr as u32 as usize);
    let input = if input_len <= 0 {
        Value::Undefined
    } else {
        let bytes = unsafe { core::slice::from_raw_parts(input as *const u8, input_len as usize) };
        parse_json(bytes).unwrap_or_else(|e| abort(&format!("invalid input JSON: {e}")))
    };
    let data = unsafe { handle(data) }
        .map(|v| &*v)
        .unwrap_or(&rt.empty_object);
    match evaluate(rt, entrypoint, data, input) {
        Ok(v) => heap::malloc_cstr(&to_json(&result_set(v))) as i32,
        Err(e) => abort(&format!("policy evaluation failed: {e}")),
    }
}
