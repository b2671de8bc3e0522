//! OPA's own conformance cases (`shared/opa-conformance/`, a subset of
//! `open-policy-agent/opa` `v1/test/cases/testdata/v1/`) run through modules
//! built by this crate and evaluated by the unmodified `opa-wasm` crate.
//!
//! It prints a per-category table (cases, pass, refused, strict, wrong, skipped)
//! and writes it, with the reason for every non-passing case, to
//! `target/tmp/opa-conformance-report.txt`. It fails if the harness breaks, if no
//! case passes, or if the non-passing cases differ from `opa_conformance_expected.txt`.
//!
//!     cargo test -p crm-policy-compiler --test opa_conformance -- --nocapture
//!
//! Corpus location: `$OPA_CONFORMANCE_DIR`, else `../../../shared/opa-conformance`
//! from this crate, else `/work/shared/opa-conformance`.
//!
//! How a case is run:
//! - queries of the form `data.<path> = x` / `x := data.<path>` / `x = data.<path>`,
//!   or a `;`/newline-separated conjunction of them, become one module with one
//!   entrypoint per `data.<path>`; any other query shape is `skipped`;
//! - `data` is passed with `Runtime::with_data`, `input` / `input_term` (when it is
//!   JSON; a Rego term holding a set is `skipped`) as the input;
//! - the result of entrypoint `p` is bound to the query's variable: OPA's result
//!   set `[{"x": v}]`, or `[]` when any entrypoint is undefined;
//! - `want_error` / `want_error_code` pass when compiling or evaluating fails, unless
//!   the error says that something is unsupported (then the case is `refused`);
//! - `sort_bindings` sorts array values in the bindings before comparing;
//! - a case is compiled with OPA's default semantics, where a builtin error makes the
//!   expression undefined, unless it sets `strict_error: true` (then with
//!   `Options::strict_builtin_errors`, OPA's `--strict-builtin-errors`);
//!
//! Classification of a non-pass: `refused` = the compiler refuses the policy or
//! entrypoint, or evaluation fails with an "unsupported/unknown" kind of error;
//! `strict` = the case sets `strict_error: true` and wants an error, and the module
//! returns undefined (a builtin that ignores strict mode); `wrong` = any other different answer (including
//! an error where a result was expected, or a result where an error was expected).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod common;

use crm_policy_compiler::{Options, compile_with};
use opa_wasm::{Runtime, wasmtime};
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Refused,
    /// Wanted a builtin error under `strict_error: true`, got undefined.
    Strict,
    Wrong,
    Skipped,
}

struct Case {
    category: String,
    file: String,
    note: String,
    query: String,
    modules: Vec<String>,
    data: Json,
    input: Option<Json>,
    input_term: Option<String>,
    want_result: Option<Json>,
    want_error: bool,
    strict_error: bool,
    sort_bindings: bool,
}

struct CaseResult {
    outcome: Outcome,
    reason: String,
}

fn corpus_dir() -> PathBuf {
    if let Ok(d) = std::env::var("OPA_CONFORMANCE_DIR") {
        return PathBuf::from(d);
    }
    let rel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/opa-conformance");
    if rel.is_dir() {
        return rel;
    }
    PathBuf::from("/work/shared/opa-conformance")
}

/// YAML → JSON; non-string mapping keys are stringified (OPA's YAML loader does too).
fn yaml_to_json(v: &serde_yaml::Value) -> Json {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Json::Null,
        Y::Bool(b) => Json::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Y::String(s) => Json::String(s.clone()),
        Y::Sequence(s) => Json::Array(s.iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Json::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(&t.value),
    }
}

fn load_cases(dir: &Path) -> Vec<Case> {
    let mut files = Vec::new();
    for cat in std::fs::read_dir(dir).expect("reading corpus dir") {
        let cat = cat.unwrap().path();
        if !cat.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&cat).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(f);
            }
        }
    }
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let category = f
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let file = format!("{category}/{}", f.file_name().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {file}: {e}"));
        let list = doc
            .get("cases")
            .and_then(|c| c.as_sequence())
            .unwrap_or_else(|| panic!("{file}: no cases"));
        for c in list {
            let s = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let b = |k: &str| c.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
            cases.push(Case {
                category: category.clone(),
                file: file.clone(),
                note: s("note").unwrap_or_default(),
                query: s("query").unwrap_or_default(),
                modules: c
                    .get("modules")
                    .and_then(|m| m.as_sequence())
                    .map(|m| {
                        m.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                data: c
                    .get("data")
                    .map(yaml_to_json)
                    .unwrap_or(Json::Object(Map::new())),
                input: c.get("input").map(yaml_to_json),
                input_term: s("input_term"),
                want_result: c.get("want_result").map(yaml_to_json),
                want_error: c.get("want_error").is_some() || c.get("want_error_code").is_some(),
                strict_error: b("strict_error"),
                sort_bindings: b("sort_bindings"),
            });
        }
    }
    cases
}

fn is_ident(s: &str) -> bool {
    let mut ch = s.chars();
    ch.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && ch.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_data_path(s: &str) -> bool {
    s.strip_prefix("data.")
        .is_some_and(|rest| rest.split('.').all(is_ident))
}

/// `data.a.b = x` | `x := data.a.b` | `x = data.a.b`, possibly several joined by
/// `;` or newlines → [(path, var)].
fn parse_query(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in q
        .split([';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (l, r) = if let Some((l, r)) = part.split_once(":=") {
            (l.trim(), r.trim())
        } else if let Some((l, r)) = part.split_once('=') {
            (l.trim(), r.trim())
        } else {
            return Err(format!("query shape not supported: `{part}`"));
        };
        if is_data_path(l) && is_ident(r) && !part.contains(":=") {
            out.push((l.to_string(), r.to_string()));
        } else if is_data_path(r) && is_ident(l) {
            out.push((r.to_string(), l.to_string()));
        } else {
            return Err(format!("query shape not supported: `{part}`"));
        }
    }
    if out.is_empty() {
        return Err("empty query".into());
    }
    Ok(out)
}

/// Numbers compare by value: `1.0` == `1`.
fn normalize(v: &Json) -> Json {
    match v {
        Json::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Json::from(f as i64),
            _ => v.clone(),
        },
        Json::Array(a) => Json::Array(a.iter().map(normalize).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        _ => v.clone(),
    }
}

fn sort_key(v: &Json) -> String {
    v.to_string()
}

/// OPA's test runner with `sort_bindings`: array values of bindings are sorted.
fn prepare(rs: &Json, sort: bool) -> Json {
    let mut rs = normalize(rs);
    if sort && let Json::Array(rows) = &mut rs {
        for row in rows.iter_mut() {
            if let Json::Object(o) = row {
                for v in o.values_mut() {
                    if let Json::Array(a) = v {
                        a.sort_by_key(sort_key);
                    }
                }
            }
        }
    }
    rs
}

fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s
    }
}

fn looks_unsupported(msg: &str) -> bool {
    let m = msg.to_lowercase();
    [
        "not supported",
        "unsupported",
        "unknown builtin",
        "not implemented",
        "unknown function",
        "not yet",
    ]
    .iter()
    .any(|p| m.contains(p))
}

async fn run_case(engine: &wasmtime::Engine, c: &Case) -> CaseResult {
    let res = evaluate_case(engine, c).await;
    // opa-wasm always sends an input (null when the case gives none), so a case that
    // depends on `input` being undefined cannot be expressed through it.
    let needs_undefined_input = c.input.is_none()
        && c.input_term.is_none()
        && c.modules.iter().any(|m| m.contains("input"));
    if res.outcome == Outcome::Wrong && needs_undefined_input {
        return CaseResult {
            outcome: Outcome::Skipped,
            reason: format!(
                "needs an undefined input, and opa-wasm always sends one (null here): {}",
                res.reason
            ),
        };
    }
    res
}

async fn evaluate_case(engine: &wasmtime::Engine, c: &Case) -> CaseResult {
    let r = |outcome, reason: String| CaseResult { outcome, reason };
    let q = match parse_query(&c.query) {
        Ok(q) => q,
        Err(e) => return r(Outcome::Skipped, e),
    };
    let input = match (&c.input, &c.input_term) {
        (Some(i), _) => i.clone(),
        (None, Some(t)) => match serde_json::from_str::<Json>(t) {
            Ok(v) => v,
            Err(_) => {
                return r(
                    Outcome::Skipped,
                    format!("input_term is not JSON (a Rego set?): {t}"),
                );
            }
        },
        (None, None) => Json::Null,
    };
    if c.want_result.is_none() && !c.want_error {
        return r(
            Outcome::Skipped,
            "neither want_result nor want_error".into(),
        );
    }
    let names: Vec<String> = (0..c.modules.len())
        .map(|i| format!("test-{i}.rego"))
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(c.modules.iter().map(String::as_str))
        .collect();
    let mut eps: Vec<&str> = q.iter().map(|(p, _)| p.as_str()).collect();
    eps.dedup();

    let options = Options {
        strict_builtin_errors: c.strict_error,
        ..Options::default()
    };
    let compiled = match compile_with(&files, &eps, options) {
        Ok(m) => m,
        Err(e) => {
            // An error that says "unsupported" is a refusal, not the error the case wants.
            return if c.want_error && !looks_unsupported(&format!("{e:#}")) {
                r(
                    Outcome::Pass,
                    format!(
                        "compile error as expected: {}",
                        short(&format!("{e:#}"), 160)
                    ),
                )
            } else {
                r(
                    Outcome::Refused,
                    format!("compile: {}", short(&format!("{e:#}"), 200)),
                )
            };
        }
    };
    let mode = format!("{:?}", compiled.mode);
    let module = match wasmtime::Module::new(engine, &compiled.wasm) {
        Ok(m) => m,
        Err(e) => return r(Outcome::Refused, format!("wasmtime rejected module: {e:#}")),
    };
    let mut store = wasmtime::Store::new(engine, ());
    let runtime = match Runtime::new(&mut store, &module).await {
        Ok(rt) => rt,
        Err(e) => {
            // The backtrace comes first in `{e:#}`: report the root cause.
            return r(
                Outcome::Refused,
                format!(
                    "opa-wasm Runtime::new: {}",
                    short(&e.root_cause().to_string(), 200)
                ),
            );
        }
    };
    let policy = match runtime.with_data(&mut store, &c.data).await {
        Ok(p) => p,
        Err(e) => {
            return if c.want_error {
                r(
                    Outcome::Pass,
                    format!(
                        "error as expected (with_data): {}",
                        short(&format!("{e:#}"), 160)
                    ),
                )
            } else {
                r(
                    Outcome::Refused,
                    format!("with_data: {}", short(&format!("{e:#}"), 200)),
                )
            };
        }
    };
    let mut row = Map::new();
    let mut undefined = false;
    for (path, var) in &q {
        let ep = path.strip_prefix("data.").unwrap().replace('.', "/");
        let got: anyhow::Result<Json> = policy.evaluate(&mut store, &ep, &input).await;
        match got {
            Err(e) => {
                // The backtrace comes first in `{e:#}`: report the root cause.
                let msg = format!("{}", e.root_cause());
                return if c.want_error && !looks_unsupported(&msg) {
                    r(
                        Outcome::Pass,
                        format!("eval error as expected: {}", short(&msg, 160)),
                    )
                } else if looks_unsupported(&msg) {
                    r(
                        Outcome::Refused,
                        format!("[{mode}] eval: {}", short(&msg, 200)),
                    )
                } else {
                    r(
                        Outcome::Wrong,
                        format!(
                            "[{mode}] eval error, wanted {}: {}",
                            short(&c.want_result.as_ref().unwrap().to_string(), 80),
                            short(&msg, 200)
                        ),
                    )
                };
            }
            Ok(Json::Array(rs)) if rs.is_empty() => undefined = true,
            Ok(Json::Array(rs)) if rs.len() == 1 && rs[0].get("result").is_some() => {
                row.insert(var.clone(), rs[0]["result"].clone());
            }
            Ok(other) => {
                return r(
                    Outcome::Wrong,
                    format!(
                        "[{mode}] unexpected result-set shape: {}",
                        short(&other.to_string(), 200)
                    ),
                );
            }
        }
    }
    let got = if undefined {
        Json::Array(vec![])
    } else {
        Json::Array(vec![Json::Object(row)])
    };
    if c.want_error {
        if c.strict_error && undefined {
            return r(
                Outcome::Strict,
                format!(
                    "[{mode}] wanted a strict builtin error, got undefined (the builtin ignores strict mode)"
                ),
            );
        }
        return r(
            Outcome::Wrong,
            format!(
                "[{mode}] wanted an error, got {}",
                short(&got.to_string(), 160)
            ),
        );
    }
    let want = c.want_result.as_ref().unwrap();
    let (g, w) = (
        prepare(&got, c.sort_bindings),
        prepare(want, c.sort_bindings),
    );
    if g == w {
        r(Outcome::Pass, String::new())
    } else {
        r(
            Outcome::Wrong,
            format!(
                "[{mode}] got {} want {}",
                short(&g.to_string(), 150),
                short(&w.to_string(), 150)
            ),
        )
    }
}

#[test]
fn opa_conformance() {
    let dir = corpus_dir();
    assert!(
        dir.is_dir(),
        "OPA conformance corpus not found at {} (set OPA_CONFORMANCE_DIR)",
        dir.display()
    );
    let cases = load_cases(&dir);
    assert!(!cases.is_empty(), "no cases loaded from {}", dir.display());
    let t0 = Instant::now();

    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CaseResult>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let verbose = std::env::var_os("OPA_CONFORMANCE_VERBOSE").is_some();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let engine = common::engine();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= cases.len() {
                        break;
                    }
                    let c = &cases[i];
                    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        rt.block_on(run_case(engine, c))
                    }))
                    .unwrap_or_else(|p| {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        // A panic inside the crate under test is a wrong answer, not a harness crash.
                        CaseResult {
                            outcome: Outcome::Wrong,
                            reason: format!("panicked: {}", short(&msg, 200)),
                        }
                    });
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if verbose {
                        eprintln!(
                            "[{n}/{}] {:?} {} :: {} {}",
                            cases.len(),
                            res.outcome,
                            c.file,
                            c.note,
                            res.reason
                        );
                    } else if n.is_multiple_of(25) {
                        eprintln!("[{n}/{}] {:.0}s", cases.len(), t0.elapsed().as_secs_f64());
                    }
                    results.lock().unwrap()[i] = Some(res);
                }
            });
        }
    });
    let results: Vec<CaseResult> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("case not run"))
        .collect();

    // category → [cases, pass, refused, strict, wrong, skipped]
    let mut table: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    let mut total = [0usize; 6];
    for (c, r) in cases.iter().zip(&results) {
        let row = table.entry(c.category.as_str()).or_default();
        let col = match r.outcome {
            Outcome::Pass => 1,
            Outcome::Refused => 2,
            Outcome::Strict => 3,
            Outcome::Wrong => 4,
            Outcome::Skipped => 5,
        };
        for t in [&mut *row, &mut total] {
            t[0] += 1;
            t[col] += 1;
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let mut out = String::new();
    writeln!(
        out,
        "OPA conformance through crm-policy-compiler + opa-wasm ({})",
        dir.display()
    )
    .unwrap();
    let row = |out: &mut String, cat: &str, t: &[usize; 6]| {
        writeln!(
            out,
            "{:<22} {:>5} {:>5} {:>7} {:>6} {:>5} {:>7} {:>6.1}%",
            cat,
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            t[5],
            pct(t[1], t[0])
        )
        .unwrap();
    };
    writeln!(
        out,
        "{:<22} {:>5} {:>5} {:>7} {:>6} {:>5} {:>7} {:>7}",
        "category", "cases", "pass", "refused", "strict", "wrong", "skipped", "pass%"
    )
    .unwrap();
    for (cat, t) in &table {
        row(&mut out, cat, t);
    }
    let t = total;
    row(&mut out, "TOTAL", &t);
    writeln!(
        out,
        "overall: {}/{} pass ({:.1}%); {:.1}% of the {} non-skipped cases; {} threads, {:.1}s",
        t[1],
        t[0],
        pct(t[1], t[0]),
        pct(t[1], t[0] - t[5]),
        t[0] - t[5],
        threads,
        t0.elapsed().as_secs_f64()
    )
    .unwrap();
    for (label, which) in [
        ("WRONG", Outcome::Wrong),
        ("REFUSED", Outcome::Refused),
        (
            "STRICT (wanted a strict builtin error, got undefined)",
            Outcome::Strict,
        ),
        ("SKIPPED", Outcome::Skipped),
    ] {
        writeln!(out, "\n{label}:").unwrap();
        for (c, r) in cases
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.outcome == which)
        {
            writeln!(out, "  {} :: {} :: {}", c.file, c.note, r.reason).unwrap();
        }
    }
    print!("{out}");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("opa-conformance-report.txt");
    std::fs::write(&report, &out).unwrap();
    println!("\nreport written to {}", report.display());

    assert!(
        total[1] > 0,
        "no conformance case passed: the harness is broken"
    );
    // Every case that does not pass is listed, with its outcome, in `opa_conformance_expected.txt`:
    // a new failure (a regression) fails this test, and so does a listed case that now passes
    // (take it off the list).
    let expected: std::collections::BTreeSet<String> = include_str!("opa_conformance_expected.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let actual: std::collections::BTreeSet<String> = cases
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.outcome != Outcome::Pass)
        .map(|(c, r)| format!("{:?} {} :: {}", r.outcome, c.file, c.note).to_lowercase())
        .collect();
    let new: Vec<&String> = actual.difference(&expected).collect();
    let fixed: Vec<&String> = expected.difference(&actual).collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "conformance changed.\nnot passing any more (or newly failing):\n  {}\nnow passing (remove from opa_conformance_expected.txt):\n  {}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}
