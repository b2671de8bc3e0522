//! Rego → WebAssembly module implementing OPA's Wasm ABI 1.2.
//!
//! The module is the generic runtime (`policies/runtime`, built once for
//! wasm32-unknown-unknown, embedded here as [`RUNTIME_WASM`]) plus a policy
//! blob: regorus RVM bytecode, or — when the RVM compiler rejects the policy —
//! the Rego sources for the regorus interpreter inside the same module.
//! Nothing is recompiled per policy: [`link`] rewrites the runtime's bytes
//! (pure, deterministic: same sources → same bytes).
//!
//! What [`link`] does to the runtime module:
//! 1. appends the blob as a data segment at `align16(max(__heap_base, __data_end))`;
//! 2. patches the runtime's `CRM_POLICY_DESC` static (found through its export)
//!    with the blob's address and length and the new heap start;
//! 3. makes every data segment passive and sets a start function that grows memory
//!    up to the heap start, copies the segments in and then runs the runtime's own
//!    start function, so that the `env.memory` import can declare [`MEMORY_MIN_PAGES`]:
//!    the runtime's read-only data alone (~450 KiB) is larger than the 5 pages OPA's
//!    JavaScript SDK gives a module by default, and active segments must fit the
//!    memory as imported;
//! 4. adds the immutable globals `opa_wasm_abi_version = 1`,
//!    `opa_wasm_abi_minor_version = 2` (a Rust static can only export an address);
//! 5. exports, for every ABI function, a wrapper that resets the shadow stack
//!    pointer (`__stack_pointer`) to its initial value and calls the original:
//!    a trap (opa_abort) skips Rust's epilogues and would otherwise leak stack on
//!    every failed evaluation. The exports a host calls back from inside a host
//!    builtin (`opa_malloc`, `opa_free`, `opa_json_dump`/`parse`, `opa_value_dump`/
//!    `parse`) reset it only when no host builtin is running (the runtime's
//!    `CRM_CALLOUT` flag), so as not to clobber the suspended evaluation's frames.
//! 6. drops every other export (`__heap_base`, `__data_end`, the descriptor,
//!    `__getrandom_v03_custom`) and all custom sections.

mod fold;
#[cfg(test)]
mod rvm_testing;
mod slim;

use anyhow::{Context, Result, anyhow, bail};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{Parser, Payload};

/// The generic runtime, as built by `build.rs` (or `CRM_POLICY_RUNTIME_WASM`).
pub const RUNTIME_WASM: &[u8] = include_bytes!(env!("CRM_POLICY_RUNTIME_WASM"));

/// ABI functions exported by every module (OPA Wasm ABI 1.2).
pub const ABI_FUNCTIONS: &[&str] = &[
    "opa_malloc",
    "opa_free",
    "opa_json_parse",
    "opa_value_parse",
    "opa_json_dump",
    "opa_value_dump",
    "opa_heap_ptr_get",
    "opa_heap_ptr_set",
    "opa_value_add_path",
    "opa_value_remove_path",
    "entrypoints",
    "builtins",
    "eval",
    "opa_eval_ctx_new",
    "opa_eval_ctx_set_input",
    "opa_eval_ctx_set_data",
    "opa_eval_ctx_set_entrypoint",
    "opa_eval_ctx_get_result",
    "opa_eval",
];

const DESC_EXPORT: &str = "CRM_POLICY_DESC";
const CALLOUT_EXPORT: &str = "CRM_CALLOUT";
/// The exports a host calls while one of its builtins runs (to read arguments, return a value).
const CALLBACKS: &[&str] = &[
    "opa_malloc",
    "opa_free",
    "opa_json_dump",
    "opa_json_parse",
    "opa_value_dump",
    "opa_value_parse",
];
const DESC_MAGIC: u32 = 0x4352_4d50;

/// The `env.memory` minimum every module declares: that of modules `opa build -t wasm` makes,
/// so a host that loads those loads these too. The start function grows the rest.
pub const MEMORY_MIN_PAGES: u64 = 2;

/// How a compiled module evaluates its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// regorus RVM bytecode compiled on the host.
    Rvm,
    /// Rego sources evaluated by the regorus interpreter inside the module
    /// (fallback for constructs the RVM compiler does not support).
    Interpreter,
}

/// Which modes [`compile_with`] may use.
///
/// The default is the interpreter: regorus 0.14.1's RVM is 2-4x faster but gives wrong answers
/// for some valid Rego (complete-rule conflicts not reported, default functions ignored,
/// `"<undefined>"` leaking into comprehensions, `every` over lookups; see the README and
/// `tests/differential.rs` with `DIFF_MODE=auto`), and an authorisation engine must not.
/// `RvmOnly` is for a policy shown to avoid those constructs (the host's platform baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModeChoice {
    /// RVM, falling back to the interpreter when the RVM compiler fails.
    Auto,
    RvmOnly,
    /// The regorus interpreter inside the module: the same answers as regorus natively.
    #[default]
    InterpreterOnly,
}

/// A finished module and how it was made.
#[derive(Debug, Clone)]
pub struct CompiledModule {
    pub wasm: Vec<u8>,
    pub mode: Mode,
    /// OPA entrypoint names, id = position (`crm/authz/decision`).
    pub entrypoints: Vec<String>,
    /// Why the RVM was not used, when `mode == Interpreter` under `Auto`.
    pub rvm_error: Option<String>,
    /// Rules evaluated at build time because they depend on nothing but the policy
    /// (RVM mode only; see `fold.rs`).
    pub folded: Vec<String>,
}

/// Compiles `files` (`(file name, Rego source)`) into a module exporting the
/// given entrypoints (`crm/authz/decision`, or `data.crm.authz.decision`).
pub fn compile(files: &[(&str, &str)], entrypoints: &[&str]) -> Result<Vec<u8>> {
    Ok(compile_with(files, entrypoints, Options::default())?.wasm)
}

/// Options for [`compile_with`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub mode: ModeChoice,
    /// Value of `opa_wasm_abi_minor_version` (default 2). Hosts use the
    /// one-call `opa_eval` fast path from 2 on; 1 makes `opa-wasm` use the
    /// context path (`opa_eval_ctx_*` + `eval`), which the module also implements.
    pub abi_minor_version: i32,
    /// Whether a builtin's error (a type error, an invalid regex, …) fails the evaluation,
    /// as in `opa eval --strict-builtin-errors`, or makes the expression undefined, OPA's
    /// default. The default here is strict: a policy that denies when a deny rule's builtin
    /// fails, instead of silently skipping that rule, fails closed. (The RVM, which is not the
    /// default, does not honour it for every builtin.)
    pub strict_builtin_errors: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: ModeChoice::default(),
            abi_minor_version: 2,
            strict_builtin_errors: true,
        }
    }
}

/// [`compile`] with options and a report of the mode used.
pub fn compile_with(
    files: &[(&str, &str)],
    entrypoints: &[&str],
    options: Options,
) -> Result<CompiledModule> {
    let choice = options.mode;
    if entrypoints.is_empty() {
        bail!("at least one entrypoint is required");
    }
    let eps: Vec<(String, String)> = entrypoints
        .iter()
        .map(|e| entrypoint_names(e))
        .collect::<Result<_>>()?;
    let prepared: Vec<(&str, String)> = files
        .iter()
        .map(|(name, src)| (*name, crm_policy_builtins::prepare_source(src)))
        .collect();
    let files: Vec<(&str, &str)> = prepared.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let files = files.as_slice();
    // Parse (and type-check) once with the interpreter: syntax errors are
    // reported here whatever the mode.
    let mut engine = regorus::Engine::new();
    for (name, src) in files {
        engine
            .add_policy((*name).to_string(), (*src).to_string())
            .with_context(|| format!("parsing {name}"))?;
    }
    let calls = builtin_calls(files);
    let host_builtins: Vec<&str> = crm_policy_builtins::HOST_BUILTINS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| calls.contains_key(*n))
        .collect();
    let missing: Vec<&str> = calls
        .keys()
        .map(String::as_str)
        .filter(|c| !runtime_has(c) && !host_builtins.contains(c))
        .collect();
    // The builtins the runtime adds to regorus are extensions, which regorus cannot mock with
    // `with`: refused here, not failing later. (Their output form `f(x, out)` is rewritten.)
    for (name, _) in crm_policy_builtins::EXTENSIONS
        .iter()
        .chain(crm_policy_builtins::HOST_BUILTINS)
    {
        if calls.get(*name) == Some(&true) {
            bail!("mocking {name} with `with` is not supported by this compiler");
        }
    }
    if !missing.is_empty() {
        bail!(
            "builtin{} {} {} not supported by this compiler (the policy runtime does not have {})",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
        );
    }
    // An entrypoint names a rule or, as with `opa build -e`, a package: its whole document.
    let packages = engine.get_packages()?;
    let mut package_eps = Vec::new();
    for (_, path) in &eps {
        // compile_with_entrypoint validates that the rule exists.
        let rule = engine
            .clone()
            .compile_with_entrypoint(&regorus::Rc::from(path.as_str()));
        let package = packages.iter().any(|p| {
            p == path
                || p.strip_prefix(path.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        });
        match rule {
            Ok(_) => package_eps.push(false),
            Err(_) if package => package_eps.push(true),
            Err(e) => return Err(e.context(format!("entrypoint {path}"))),
        }
    }

    let rvm = if choice == ModeChoice::InterpreterOnly {
        Err(anyhow!("interpreter requested"))
    } else if package_eps.contains(&true) {
        Err(anyhow!(
            "the RVM evaluates rules, and an entrypoint names a package"
        ))
    } else if !host_builtins.is_empty() {
        Err(anyhow!(
            "the RVM cannot call the host's builtins ({})",
            host_builtins.join(", ")
        ))
    } else if let Some((name, _)) = crm_policy_builtins::EXTENSIONS
        .iter()
        .find(|(n, _)| calls.contains_key(*n))
    {
        // The RVM would run regorus's own builtin (or none), not the runtime's.
        Err(anyhow!("the RVM does not have the runtime's {name}"))
    } else {
        rvm_program(&mut engine, &eps, options.strict_builtin_errors)
    };
    let (mode, payload, rvm_error, folded) = match rvm {
        Ok((bin, folded)) => (Mode::Rvm, bin, None, folded),
        Err(e) if choice == ModeChoice::RvmOnly => return Err(e.context("RVM compilation failed")),
        Err(e) => {
            let srcs: Vec<(&str, &str)> = files.to_vec();
            (
                Mode::Interpreter,
                serde_json::to_vec(&srcs)?,
                (choice == ModeChoice::Auto).then(|| format!("{e:#}")),
                Vec::new(),
            )
        }
    };
    let header = serde_json::json!({
        "mode": match mode { Mode::Rvm => "rvm", Mode::Interpreter => "interp" },
        "entrypoints": eps.iter().zip(&package_eps).map(|((n, p), &package)| {
            let mut e = vec![n.clone(), p.clone()];
            if package {
                e.push("package".into());
            }
            e
        }).collect::<Vec<_>>(),
        "strict": options.strict_builtin_errors,
        "host_builtins": host_builtins,
    });
    let header = serde_json::to_vec(&header)?;
    let mut blob = Vec::with_capacity(4 + header.len() + payload.len());
    blob.extend_from_slice(&u32::try_from(header.len())?.to_le_bytes());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&payload);
    Ok(CompiledModule {
        wasm: link(RUNTIME_WASM, &blob, options.abi_minor_version)?,
        mode,
        entrypoints: eps.into_iter().map(|(n, _)| n).collect(),
        rvm_error,
        folded,
    })
}

// ---------------------------------------------------------------------------
// Builtins the runtime lacks
// ---------------------------------------------------------------------------

/// Namespaces of OPA's builtin functions (a dotted call in one of these that is
/// not a builtin of the runtime is an OPA builtin the runtime lacks).
const OPA_NAMESPACES: &[&str] = &[
    "array",
    "base64",
    "base64url",
    "bits",
    "crypto",
    "glob",
    "graph",
    "graphql",
    "hex",
    "http",
    "io",
    "json",
    "net",
    "numbers",
    "object",
    "opa",
    "providers",
    "rand",
    "regex",
    "rego",
    "semver",
    "strings",
    "time",
    "units",
    "urlquery",
    "uuid",
    "yaml",
];

/// Builtins this crate's regorus has but the runtime is built without
/// (`policies/runtime/Cargo.toml` leaves out the `time` and `jsonschema` features).
fn runtime_lacks(name: &str) -> bool {
    name.starts_with("time.") || matches!(name, "json.match_schema" | "json.verify_schema")
}

fn runtime_has(name: &str) -> bool {
    (regorus::unstable::BUILTINS.contains_key(name) && !runtime_lacks(name))
        || crm_policy_builtins::EXTENSIONS
            .iter()
            .any(|(n, _)| *n == name)
}

/// OPA builtins that the policy calls (or mocks with `with`). A dotted name counts
/// only when it is followed by `(` or follows `with`, its first part is an OPA
/// builtin namespace not shadowed by an import, and no rule of the policy is
/// defined under that name.
/// Each maps to whether it is mocked.
fn builtin_calls(files: &[(&str, &str)]) -> std::collections::BTreeMap<String, bool> {
    let code: Vec<String> = files
        .iter()
        .map(|(_, s)| crm_policy_builtins::source::code_only(s))
        .collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut imported = std::collections::BTreeSet::new();
    let mut defined = std::collections::BTreeSet::new();
    for src in &code {
        for line in src.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("import ") {
                let rest = rest.trim();
                let alias = match rest.split_once(" as ") {
                    Some((_, a)) => a.trim(),
                    None => rest.rsplit('.').next().unwrap_or(rest),
                };
                imported.insert(alias.to_string());
            } else if line.starts_with(|c: char| c.is_ascii_alphabetic()) {
                let head: String = line.chars().take_while(|&c| is_ident(c)).collect();
                defined.insert(head);
            }
        }
    }
    let mut calls = std::collections::BTreeMap::<String, bool>::new();
    for src in &code {
        let chars: Vec<char> = src.chars().collect();
        let mut prev_word = String::new();
        for w in crm_policy_builtins::source::words(&chars) {
            let word: String = chars[w.range].iter().collect();
            let called = chars.get(w.next) == Some(&'(');
            let mocked = prev_word == "with";
            let ns = word.split('.').next().unwrap_or("");
            if (called || mocked)
                && word.contains('.')
                && OPA_NAMESPACES.contains(&ns)
                && !imported.contains(ns)
                && !defined.contains(&word)
            {
                *calls.entry(word.clone()).or_default() |= mocked;
            }
            prev_word = word;
        }
    }
    calls
}

/// `crm/authz/decision` | `data.crm.authz.decision` → (OPA name, Rego path).
fn entrypoint_names(e: &str) -> Result<(String, String)> {
    let e = e.trim();
    if e.is_empty() {
        bail!("empty entrypoint");
    }
    if let Some(rest) = e.strip_prefix("data.") {
        Ok((rest.replace('.', "/"), e.to_string()))
    } else {
        let name = e.trim_matches('/').to_string();
        Ok((name.clone(), format!("data.{}", name.replace('/', "."))))
    }
}

/// The RVM program for `eps`, serialised, with its constant rules folded (and their names).
fn rvm_program(
    engine: &mut regorus::Engine,
    eps: &[(String, String)],
    strict_builtin_errors: bool,
) -> Result<(Vec<u8>, Vec<String>)> {
    let first = regorus::Rc::from(eps[0].1.as_str());
    let policy = engine.compile_with_entrypoint(&first)?;
    let paths: Vec<&str> = eps.iter().map(|(_, p)| p.as_str()).collect();
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &paths)
            .map_err(|e| anyhow!("{e}"))?;
    let mut program = (*program).clone();
    let folded = fold::fold_constants(&mut program, strict_builtin_errors);
    slim::slim_rule_infos(&mut program);
    let bin = program
        .serialize_binary()
        .map_err(|e| anyhow!("serialising RVM program: {e}"))?;
    Ok((bin, folded))
}

// ---------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------

fn const_i32(expr: &wasmparser::ConstExpr<'_>) -> Option<i32> {
    let mut r = expr.get_operators_reader();
    match r.read().ok()? {
        wasmparser::Operator::I32Const { value } => Some(value),
        _ => None,
    }
}

/// Puts `blob` into the runtime module `runtime` and turns it into an
/// OPA-ABI module (see the crate docs). Deterministic.
pub fn link(runtime: &[u8], blob: &[u8], abi_minor_version: i32) -> Result<Vec<u8>> {
    // ---- pass 1: facts -----------------------------------------------------
    let mut imported_funcs = 0u32;
    let mut imported_globals = 0u32;
    let mut types: Vec<wasmparser::FuncType> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut global_inits: Vec<(wasmparser::GlobalType, Option<i32>)> = Vec::new();
    let mut exports: Vec<(String, wasmparser::ExternalKind, u32)> = Vec::new();
    let mut stack_pointer_name: Option<u32> = None;
    let mut data_segments: Vec<(u32, usize)> = Vec::new(); // (addr, len)
    let mut runtime_start: Option<u32> = None;
    let mut has_data_count = false;
    for payload in Parser::new(0).parse_all(runtime) {
        match payload? {
            Payload::TypeSection(r) => {
                for rg in r {
                    for st in rg?.into_types() {
                        match st.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => types.push(f),
                            _ => bail!("unexpected non-function type"),
                        }
                    }
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    match imp?.ty {
                        wasmparser::TypeRef::Func(_) => imported_funcs += 1,
                        wasmparser::TypeRef::Global(_) => imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t?);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g?;
                    global_inits.push((g.ty, const_i32(&g.init_expr)));
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::DataSection(r) => {
                for d in r {
                    let d = d?;
                    if let wasmparser::DataKind::Active { offset_expr, .. } = d.kind {
                        let addr = const_i32(&offset_expr).context("non-constant data offset")?;
                        data_segments.push((addr as u32, d.data.len()));
                    }
                }
            }
            Payload::StartSection { func, .. } => runtime_start = Some(func),
            Payload::DataCountSection { .. } => has_data_count = true,
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    for n in names {
                        if let Ok(wasmparser::Name::Global(map)) = n {
                            for naming in map {
                                let naming = naming?;
                                if naming.name == "__stack_pointer" {
                                    stack_pointer_name = Some(naming.index);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let global_value = |idx: u32| -> Option<i32> {
        idx.checked_sub(imported_globals)
            .and_then(|i| global_inits.get(i as usize))
            .and_then(|g| g.1)
    };
    let export_global = |name: &str| -> Option<u32> {
        exports
            .iter()
            .find(|(n, k, _)| n == name && *k == wasmparser::ExternalKind::Global)
            .map(|e| e.2)
    };
    // __stack_pointer: from the name section, else the first defined mutable i32 global.
    let sp = match stack_pointer_name {
        Some(i) => i,
        None => {
            let i = global_inits
                .iter()
                .position(|(t, _)| t.mutable && t.content_type == wasmparser::ValType::I32)
                .context("no __stack_pointer global")?;
            imported_globals + i as u32
        }
    };
    let sp_init = global_value(sp).context("__stack_pointer has no constant initialiser")?;
    let desc_addr = export_global(DESC_EXPORT)
        .and_then(global_value)
        .context("runtime lacks the CRM_POLICY_DESC export")? as u32;
    let callout_addr = export_global(CALLOUT_EXPORT)
        .and_then(global_value)
        .context("runtime lacks the CRM_CALLOUT export")?;
    let heap_base = export_global("__heap_base")
        .and_then(global_value)
        .context("no __heap_base")? as u32;
    let data_end = export_global("__data_end")
        .and_then(global_value)
        .unwrap_or(0) as u32;
    let seg_end = data_segments
        .iter()
        .map(|(a, l)| a + *l as u32)
        .max()
        .unwrap_or(0);
    let blob_addr = (heap_base.max(data_end).max(seg_end) + 15) & !15;
    let blob_len = u32::try_from(blob.len()).context("policy blob too large")?;
    let heap_start = (blob_addr
        .checked_add(blob_len)
        .context("policy blob too large")?
        + 15)
        & !15;
    let heap_pages = u64::from(heap_start).div_ceil(65536);
    let unit_type = types
        .iter()
        .position(|t| t.params().is_empty() && t.results().is_empty())
        .context("runtime has no () -> () function type")? as u32;

    // Which segment holds the descriptor?
    let (desc_seg, desc_off) = data_segments
        .iter()
        .enumerate()
        .find(|(_, (a, l))| desc_addr >= *a && desc_addr + 20 <= a + *l as u32)
        .map(|(i, (a, _))| (i, (desc_addr - a) as usize))
        .context("CRM_POLICY_DESC is not inside a data segment")?;

    // ABI exports → wrappers (new functions appended after the existing ones).
    let defined = func_types.len() as u32;
    let mut wrappers: Vec<(String, u32, u32)> = Vec::new(); // (name, original func, type)
    for name in ABI_FUNCTIONS {
        let (_, _, idx) = exports
            .iter()
            .find(|(n, k, _)| n == name && *k == wasmparser::ExternalKind::Func)
            .with_context(|| format!("runtime lacks export {name}"))?;
        let ty = func_types
            .get((idx - imported_funcs) as usize)
            .copied()
            .context("export of an imported function")?;
        wrappers.push((name.to_string(), *idx, ty));
    }

    // ---- pass 2: rewrite ----------------------------------------------------
    let mut out = wasm_encoder::Module::new();
    let mut re = RoundtripReencoder;
    let mut seg_index = 0usize;
    for payload in Parser::new(0).parse_all(runtime) {
        let payload = payload?;
        match &payload {
            Payload::Version { .. } | Payload::End(_) => {}
            Payload::CustomSection(_) => {}
            Payload::ImportSection(r) => {
                let mut s = wasm_encoder::ImportSection::new();
                for imp in r.clone().into_imports() {
                    let imp = imp?;
                    let ty = match imp.ty {
                        wasmparser::TypeRef::Memory(m)
                            if imp.module == "env" && imp.name == "memory" =>
                        {
                            let mut m = re.memory_type(m)?;
                            m.minimum = MEMORY_MIN_PAGES;
                            if let Some(max) = m.maximum
                                && max < heap_pages
                            {
                                bail!("memory maximum {max} pages < {heap_pages} needed");
                            }
                            wasm_encoder::EntityType::Memory(m)
                        }
                        other => re.entity_type(other)?,
                    };
                    s.import(imp.module, imp.name, ty);
                }
                out.section(&s);
            }
            Payload::FunctionSection(r) => {
                let mut s = wasm_encoder::FunctionSection::new();
                for t in r.clone() {
                    s.function(t?);
                }
                for (_, _, ty) in &wrappers {
                    s.function(*ty);
                }
                s.function(unit_type);
                out.section(&s);
            }
            Payload::GlobalSection(r) => {
                let mut s = wasm_encoder::GlobalSection::new();
                re.parse_global_section(&mut s, r.clone())?;
                for v in [1, abi_minor_version] {
                    s.global(
                        wasm_encoder::GlobalType {
                            val_type: wasm_encoder::ValType::I32,
                            mutable: false,
                            shared: false,
                        },
                        &wasm_encoder::ConstExpr::i32_const(v),
                    );
                }
                out.section(&s);
            }
            Payload::ExportSection(_) => {
                let mut s = wasm_encoder::ExportSection::new();
                // keep the memory export if any (there is none with an imported memory)
                for (i, (name, _, _)) in wrappers.iter().enumerate() {
                    s.export(
                        name,
                        wasm_encoder::ExportKind::Func,
                        imported_funcs + defined + i as u32,
                    );
                }
                let g = imported_globals + global_inits.len() as u32;
                s.export("opa_wasm_abi_version", wasm_encoder::ExportKind::Global, g);
                s.export(
                    "opa_wasm_abi_minor_version",
                    wasm_encoder::ExportKind::Global,
                    g + 1,
                );
                out.section(&s);
                out.section(&wasm_encoder::StartSection {
                    function_index: imported_funcs + defined + wrappers.len() as u32,
                });
            }
            Payload::StartSection { .. } => {}
            Payload::DataCountSection { count, .. } => {
                out.section(&wasm_encoder::DataCountSection { count: count + 1 });
            }
            Payload::CodeSectionStart { .. } => {}
            Payload::CodeSectionEntry(_) => {}
            Payload::DataSection(r) => {
                let mut s = wasm_encoder::DataSection::new();
                for d in r.clone() {
                    let d = d?;
                    let wasmparser::DataKind::Active { .. } = d.kind else {
                        bail!("passive data segments are not supported");
                    };
                    let mut bytes = d.data.to_vec();
                    if seg_index == desc_seg {
                        let cur = u32::from_le_bytes(bytes[desc_off..desc_off + 4].try_into()?);
                        if cur != DESC_MAGIC {
                            bail!("CRM_POLICY_DESC magic mismatch");
                        }
                        for (k, v) in [(8, blob_addr), (12, blob_len), (16, heap_start)] {
                            bytes[desc_off + k..desc_off + k + 4].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                    seg_index += 1;
                    s.passive(bytes);
                }
                s.passive(blob.iter().copied());
                out.section(&s);
            }
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&wasm_encoder::RawSection {
                        id,
                        data: &runtime[range],
                    });
                }
            }
        }
        // The code section comes as Start + entries: copy every body, then add the wrappers.
        if let Payload::CodeSectionStart { range, .. } = &payload {
            if !has_data_count {
                // memory.init and data.drop need it.
                out.section(&wasm_encoder::DataCountSection {
                    count: data_segments.len() as u32 + 1,
                });
            }
            let mut s = wasm_encoder::CodeSection::new();
            let reader = wasmparser::CodeSectionReader::new(wasmparser::BinaryReader::new(
                &runtime[range.clone()],
                range.start,
            ))?;
            for body in reader {
                let body = body?;
                s.raw(&runtime[body.range()]);
            }
            for (name, orig, ty) in &wrappers {
                let params = types
                    .get(*ty as usize)
                    .context("bad type index")?
                    .params()
                    .len() as u32;
                let mut f = wasm_encoder::Function::new([]);
                if !CALLBACKS.contains(&name.as_str()) {
                    f.instructions().i32_const(sp_init).global_set(sp);
                } else {
                    // if (*CRM_CALLOUT == 0) sp = init
                    f.instructions()
                        .i32_const(callout_addr)
                        .i32_load(wasm_encoder::MemArg {
                            offset: 0,
                            align: 2,
                            memory_index: 0,
                        })
                        .i32_eqz()
                        .if_(wasm_encoder::BlockType::Empty)
                        .i32_const(sp_init)
                        .global_set(sp)
                        .end();
                }
                for p in 0..params {
                    f.instructions().local_get(p);
                }
                f.instructions().call(*orig).end();
                s.function(&f);
            }
            s.function(&init_memory(
                heap_pages,
                data_segments
                    .iter()
                    .copied()
                    .chain([(blob_addr, blob.len())]),
                runtime_start,
            ));
            out.section(&s);
        }
    }
    if seg_index != data_segments.len() {
        bail!("data segment count mismatch");
    }
    let bytes = out.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(&bytes)
        .context("linked module does not validate")?;
    Ok(bytes)
}

/// The start function: grows memory to `pages` (trapping if the host refuses), copies each
/// passive segment `(address, length)` to its address, then calls the runtime's own start.
fn init_memory(
    pages: u64,
    segments: impl Iterator<Item = (u32, usize)>,
    runtime_start: Option<u32>,
) -> wasm_encoder::Function {
    let mut f = wasm_encoder::Function::new([(1, wasm_encoder::ValType::I32)]);
    f.instructions()
        .i32_const(pages as i32)
        .memory_size(0)
        .i32_sub()
        .local_tee(0)
        .i32_const(0)
        .i32_gt_s()
        .if_(wasm_encoder::BlockType::Empty)
        .local_get(0)
        .memory_grow(0)
        .i32_const(-1)
        .i32_eq()
        .if_(wasm_encoder::BlockType::Empty)
        .unreachable()
        .end()
        .end();
    for (k, (addr, len)) in segments.enumerate() {
        f.instructions()
            .i32_const(addr as i32)
            .i32_const(0)
            .i32_const(len as i32)
            .memory_init(0, k as u32)
            .data_drop(k as u32);
    }
    if let Some(start) = runtime_start {
        f.instructions().call(start);
    }
    f.instructions().end();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_builtins_are_found() {
        let src = "package t\nimport data.lib.io\n# time.now_ns()\ns := \"time.now_ns()\"\n\
                   a := time.now_ns()\nb := count([1]) with time.weekday as f\nc := regex.globs_match(\"a\", \"b\")\n\
                   d := io.jwt.decode(x)\ne := strings.split_n(\"a.b\", \".\", 1)\nf(x) := x\n\
                   array.mine(x) := x\ng := array.mine(1)\n";
        let calls = builtin_calls(&[("t.rego", src)]);
        assert_eq!(
            calls.keys().collect::<Vec<_>>(),
            [
                "regex.globs_match",
                "strings.split_n",
                "time.now_ns",
                "time.weekday"
            ]
        );
        assert!(calls["time.weekday"] && !calls["time.now_ns"]);
        let lacking: Vec<_> = calls.keys().filter(|c| !runtime_has(c)).collect();
        assert_eq!(
            lacking,
            ["regex.globs_match", "time.now_ns", "time.weekday"]
        );
        let err = compile(
            &[(
                "t.rego",
                "package t\np := regex.globs_match(\"a\", \"b\")\n",
            )],
            &["t/p"],
        )
        .unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("builtin regex.globs_match is not supported by this compiler"),
            "{err:#}"
        );
        // The host provides time builtins.
        let m = compile_with(
            &[("t.rego", "package t\np := time.now_ns()\n")],
            &["t/p"],
            Options {
                mode: ModeChoice::Auto,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(m.mode, Mode::Interpreter);
        assert!(m.rvm_error.unwrap_or_default().contains("time.now_ns"));
        for (src, says) in [
            (
                "p if { time.now_ns() with time.now_ns as 1 }",
                "mocking time.now_ns",
            ),
            (
                "p if { q with json.is_valid as true }\nq := 1",
                "mocking json.is_valid",
            ),
        ] {
            let err = compile(&[("t.rego", &format!("package t\n{src}\n"))], &["t/p"]);
            let err = format!("{:#}", err.unwrap_err());
            assert!(err.contains(says), "{src}: {err}");
        }
    }

    #[test]
    fn entrypoint_name_forms() {
        assert_eq!(
            entrypoint_names("crm/authz/decision").unwrap(),
            (
                "crm/authz/decision".into(),
                "data.crm.authz.decision".into()
            )
        );
        assert_eq!(
            entrypoint_names("data.crm.authz.allow").unwrap(),
            ("crm/authz/allow".into(), "data.crm.authz.allow".into())
        );
    }
}
