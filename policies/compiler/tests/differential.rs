//! Differential conformance: every policy of `tests/corpus/` (plus the project's
//! own policies under `policies/`) is compiled into an OPA-ABI Wasm module,
//! evaluated through the unmodified `opa-wasm` crate over randomised inputs, and
//! must return exactly what regorus returns evaluating the same Rego natively.
//!
//!     cargo test -p crm-policy-compiler --test differential -- --nocapture
//!
//! Environment knobs (all optional):
//! - `DIFF_SEED`   base seed (decimal or `0x…` hex), default [`DEFAULT_SEED`];
//! - `DIFF_INPUTS` random inputs per policy, default 40 (a `# inputs:` line wins);
//! - `DIFF_ONLY`   only policies whose name contains this string (debugging; the
//!   "at least 100 policies" assertion is skipped then);
//! - `DIFF_SHOW`   print every evaluation (input, Wasm and native outcome);
//! - `DIFF_MODE`   `auto` builds modules with `ModeChoice::Auto` (RVM first: shows the
//!   regorus RVM's wrong answers), `interpreter` with `InterpreterOnly`; default: the
//!   compiler's default mode, the one the host uses;
//! - `DIFF_CORPUS` another corpus directory (e.g. minimal repros; its
//!   `data.json` is optional).
//!
//! # Corpus files
//!
//! `tests/corpus/NNN_topic_what.rego`, package `corpus.pNNN` (unique: all the
//! policies of a group are linked into one module). The leading comment block
//! holds directives, `# key: value`; a following comment line indented by at
//! least two spaces after the `#` continues the previous directive. Other
//! comment lines are free text.
//!
//! - `# entrypoints: allow, reasons` — rules of the package to evaluate
//!   (`corpus/pNNN/allow`, `data.corpus.pNNN.allow`);
//! - `# input: <spec>` — the input generator (below);
//! - `# case: <json>` — a fixed input, evaluated in addition (repeatable);
//! - `# inputs: N` — number of random inputs for this policy;
//! - `# expect: refused` — a known gap: the compiler must refuse the policy (the test checks it
//!   does, and fails once it compiles, so the line is dropped and the policy compared);
//! - `# group: NAME` — put the policy into its own group of modules (used for the
//!   time builtins, so that a runtime without them cannot take the others down).
//!
//! `tests/corpus/data.json` is the base `data` document of every module (passed
//! with `Runtime::with_data`) and of every native engine (`Engine::add_data`).
//!
//! # Input generator spec
//!
//! A JSON value read as a generator:
//!
//! | spec | generates |
//! | --- | --- |
//! | `[v1, v2, …]` | one of the literal values (taken verbatim, never interpreted) |
//! | `{"k": g, "k2?": g}` | an object; a key ending in `?` is left out one time in three |
//! | `{"$oneof": [g1, g2, …]}` | the output of one of the generators |
//! | `{"$array": g, "len": "A..B"}` | an array of A..=B values of `g` (default `0..4`) |
//! | `{"$map": g, "keys": gk, "len": "A..B"}` | an object with A..=B keys drawn from `gk`, values from `g` |
//! | `{"$const": v}` | `v` verbatim |
//! | `"int:A..B"` | an integer in A..=B |
//! | `"num:A..B"` | a number in A..=B with two decimals |
//! | `"str:A..B:CHARS"` | a string of A..=B characters taken from CHARS |
//! | `"bool"` | `true` / `false` |
//! | `"any"` | a small random JSON value of any type (wrong-type fuzzing) |
//! | `"ipv4"` | a random dotted IPv4 address |
//! | `"time:Y1..Y2"` | an RFC 3339 timestamp in years Y1..=Y2, random offset and fraction |
//! | `"date:Y1..Y2"` | a `YYYY-MM-DD` date |
//! | any other string, number, bool, null | itself |
//!
//! Every policy is also evaluated with the edge inputs `{}`, `null`, `"text"`,
//! `[1, "a"]` and its `# case:` inputs; one random input in five is mutated (one
//! top-level key dropped, or its value replaced by `"any"`), so undefined and
//! error paths are covered too.
//!
//! # Comparison
//!
//! The Wasm result set (`[{"result": v}]`, `[]` when undefined) must equal
//! regorus's `eval_rule` result (Undefined ↔ `[]`); a native error must be a Wasm
//! evaluation error and vice versa (a regorus panic counts as a native error).
//! Every mismatch is collected and the test fails at the end listing them, with
//! the seed and, for RVM modules, what regorus's RVM returns when it runs the
//! same program on the host: agreeing with the Wasm module points at RVM
//! semantics, agreeing with the interpreter points at the Wasm runtime's build.
//!
//! # Groups and modes
//!
//! The compiler picks one mode per module, so policies are grouped by the mode
//! `ModeChoice::Auto` would pick for each alone (the RVM when its compiler
//! accepts the policy, else the interpreter: `with`, …) and by `# group:`. All
//! the policies of a group are linked into ONE module (one Wasmtime compilation,
//! one Store and Policy for every evaluation); an RVM group whose RVM program
//! would not fit one register window is split first. When the compiler refuses
//! a group, bisection finds the policies it refuses: those go to the `refused`
//! group (all their evaluations are Wasm errors), the rest is compiled again.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crm_policy_compiler::{CompiledModule, Mode, ModeChoice, Options, compile_with};
use opa_wasm::{Runtime, wasmtime};
use serde_json::{Map, Value as Json, json};

const DEFAULT_SEED: u64 = 0x00C0_FFEE_D1FF_2024;
const DEFAULT_INPUTS: usize = 40;
const MIN_POLICIES: usize = 100;

const AUTHZ: &str = include_str!("../../platform/authz.rego");
const AUTHZ_TEST: &str = include_str!("../../platform/authz_test.rego");
const TENANT: &str = include_str!("../../tenant-example/rules.rego");
const TENANT_TEST: &str = include_str!("../../tenant-example/rules_test.rego");

/// Input shape of `data.crm.authz.decision` / `data.crm.tenant.decision`
/// (policies/README.md): a well-formed request of tenant t1 (so that allowed
/// decisions and read obligations are common)…
const CRM_REQUEST: &str = r#"{
    "subject": {
      "type": ["user", "user", "plugin"],
      "tenant": ["t1"],
      "user": ["u1", "u1", "u2"],
      "roles": {"$array": ["admin", "compliance", "sales", "support", "marketing"], "len": "1..2"},
      "mfa": [true, true, false]
    },
    "action": ["customer.list", "customer.list", "customer.read", "customer.read", "customer.read",
               "customer.export", "customer.create", "customer.update",
               "customer.update", "customer.delete", "customer.export", "interaction.create",
               "audit.read", "audit.verify", "user.manage", "tenant.admin", "policy.read",
               "policy.publish", "decision.read", "self.mfa.enroll", "self.token.create"],
    "resource": {
      "type": ["customer"],
      "tenant": ["t1", "t1", "t1", "t2"],
      "id": ["c1", "u1"],
      "fields?": {"$array": ["name", "email", "phone", "address", "birth_date", "notes", "region",
                             "tags", "consents", "ssn"], "len": "0..3"}
    },
    "context": {"channel": ["api", "web"]}
}"#;

/// …and a possibly malformed one (missing parts, wrong types, unknown values).
const CRM_REQUEST_MALFORMED: &str = r#"{
    "subject?": {
      "type?": ["user", "user", "user", "plugin", "robot", null],
      "tenant?": ["t1", "t1", "t1", "t2", "", 7],
      "user?": ["u1", "u1", "u2"],
      "roles?": {"$oneof": [
        {"$array": ["admin", "compliance", "sales", "support", "marketing"], "len": "0..3"},
        {"$array": ["admin", "compliance", "sales", "support", "marketing", "guest", 7, null], "len": "0..4"},
        ["admin", "support", {"role": "admin"}]
      ]},
      "mfa?": [true, true, false, "true", null]
    },
    "action?": ["customer.list", "customer.read", "customer.create", "customer.update",
                "customer.delete", "customer.export", "interaction.create", "audit.read",
                "audit.verify", "user.manage", "tenant.admin", "policy.read", "policy.publish",
                "decision.read", "self.mfa.enroll", "self.token.create", "bogus.action", 42, null],
    "resource?": {
      "type?": ["customer", "interaction"],
      "tenant?": ["t1", "t1", "t1", "t2", ""],
      "id?": ["c1", "u1", "u2", 3],
      "fields?": {"$oneof": [
        {"$array": ["name", "email", "phone", "address", "birth_date", "notes", "region", "tags", "consents"], "len": "0..4"},
        {"$array": ["email", "phone", "ssn", "password", 1], "len": "1..3"},
        ["email", 3, {"f": 1}]
      ]}
    },
    "context?": {"channel": ["api", "web", "plugin"]}
}"#;

/// Three well-formed requests for one malformed one.
fn crm_request_gen() -> Gen {
    let parse = |s: &str| {
        Gen::parse(&serde_json::from_str(s).expect("CRM request spec")).expect("CRM request spec")
    };
    let well = parse(CRM_REQUEST);
    Gen::OneOf(vec![
        well.clone(),
        well.clone(),
        well,
        parse(CRM_REQUEST_MALFORMED),
    ])
}

// ---------------------------------------------------------------------------
// Deterministic PRNG (splitmix64)
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "empty range {lo}..{hi}");
        let span = (hi - lo) as u64 + 1;
        lo + (self.next() % span) as i64
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

fn policy_seed(base: u64, name: &str) -> u64 {
    Rng(base ^ fnv1a(name)).next()
}

// ---------------------------------------------------------------------------
// Input generators
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Gen {
    Const(Json),
    Pool(Vec<Json>),
    Object(Vec<(String, bool, Gen)>),
    OneOf(Vec<Gen>),
    Array {
        elem: Box<Gen>,
        min: i64,
        max: i64,
    },
    Map {
        keys: Box<Gen>,
        values: Box<Gen>,
        min: i64,
        max: i64,
    },
    Int(i64, i64),
    Num(i64, i64),
    Str {
        min: i64,
        max: i64,
        chars: Vec<char>,
    },
    Bool,
    Any,
    Ipv4,
    Time(i64, i64),
    Date(i64, i64),
}

fn parse_range(s: &str) -> Result<(i64, i64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("range `{s}`: expected A..B"))?;
    let a: i64 = a.trim().parse().map_err(|e| format!("range `{s}`: {e}"))?;
    let b: i64 = b.trim().parse().map_err(|e| format!("range `{s}`: {e}"))?;
    if a > b {
        return Err(format!("range `{s}` is empty"));
    }
    Ok((a, b))
}

fn len_of(o: &Map<String, Json>) -> Result<(i64, i64), String> {
    match o.get("len") {
        None => Ok((0, 4)),
        Some(Json::String(s)) => parse_range(s),
        Some(v) => Err(format!("len must be a string \"A..B\", got {v}")),
    }
}

impl Gen {
    fn parse(spec: &Json) -> Result<Gen, String> {
        Ok(match spec {
            Json::Array(items) => {
                if items.is_empty() {
                    return Err("empty pool []".into());
                }
                Gen::Pool(items.clone())
            }
            Json::Object(o) => {
                if let Some(v) = o.get("$const") {
                    Gen::Const(v.clone())
                } else if let Some(v) = o.get("$oneof") {
                    let alts = v.as_array().ok_or("$oneof takes an array of generators")?;
                    if alts.is_empty() {
                        return Err("empty $oneof".into());
                    }
                    Gen::OneOf(alts.iter().map(Gen::parse).collect::<Result<_, _>>()?)
                } else if let Some(v) = o.get("$array") {
                    let (min, max) = len_of(o)?;
                    Gen::Array {
                        elem: Box::new(Gen::parse(v)?),
                        min,
                        max,
                    }
                } else if let Some(v) = o.get("$map") {
                    let (min, max) = len_of(o)?;
                    let keys = o.get("keys").ok_or("$map needs \"keys\"")?;
                    Gen::Map {
                        keys: Box::new(Gen::parse(keys)?),
                        values: Box::new(Gen::parse(v)?),
                        min,
                        max,
                    }
                } else {
                    let mut fields = Vec::new();
                    for (k, v) in o {
                        if k.starts_with('$') {
                            return Err(format!("unknown generator {k}"));
                        }
                        let (name, optional) = match k.strip_suffix('?') {
                            Some(n) => (n.to_string(), true),
                            None => (k.clone(), false),
                        };
                        fields.push((name, optional, Gen::parse(v)?));
                    }
                    Gen::Object(fields)
                }
            }
            Json::String(s) => {
                if let Some(r) = s.strip_prefix("int:") {
                    let (a, b) = parse_range(r)?;
                    Gen::Int(a, b)
                } else if let Some(r) = s.strip_prefix("num:") {
                    let (a, b) = parse_range(r)?;
                    Gen::Num(a, b)
                } else if let Some(r) = s.strip_prefix("str:") {
                    let (range, chars) = r
                        .split_once(':')
                        .ok_or_else(|| format!("`{s}`: expected str:A..B:CHARS"))?;
                    let (min, max) = parse_range(range)?;
                    let chars: Vec<char> = chars.chars().collect();
                    if chars.is_empty() && max > 0 {
                        return Err(format!("`{s}`: no characters"));
                    }
                    Gen::Str { min, max, chars }
                } else if let Some(r) = s.strip_prefix("time:") {
                    let (a, b) = parse_range(r)?;
                    Gen::Time(a, b)
                } else if let Some(r) = s.strip_prefix("date:") {
                    let (a, b) = parse_range(r)?;
                    Gen::Date(a, b)
                } else {
                    match s.as_str() {
                        "bool" => Gen::Bool,
                        "any" => Gen::Any,
                        "ipv4" => Gen::Ipv4,
                        _ => Gen::Const(spec.clone()),
                    }
                }
            }
            other => Gen::Const(other.clone()),
        })
    }

    fn sample(&self, r: &mut Rng) -> Json {
        match self {
            Gen::Const(v) => v.clone(),
            Gen::Pool(items) => r.pick(items).clone(),
            Gen::Object(fields) => {
                let mut o = Map::new();
                for (k, optional, g) in fields {
                    if *optional && r.chance(1, 3) {
                        continue;
                    }
                    o.insert(k.clone(), g.sample(r));
                }
                Json::Object(o)
            }
            Gen::OneOf(alts) => r.pick(alts).sample(r),
            Gen::Array { elem, min, max } => {
                let n = r.range(*min, *max);
                Json::Array((0..n).map(|_| elem.sample(r)).collect())
            }
            Gen::Map {
                keys,
                values,
                min,
                max,
            } => {
                let n = r.range(*min, *max);
                let mut o = Map::new();
                for _ in 0..n {
                    let k = match keys.sample(r) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    o.insert(k, values.sample(r));
                }
                Json::Object(o)
            }
            Gen::Int(a, b) => json!(r.range(*a, *b)),
            Gen::Num(a, b) => {
                let cents = r.range(a * 100, b * 100);
                if cents % 100 == 0 {
                    json!(cents / 100)
                } else {
                    json!(cents as f64 / 100.0)
                }
            }
            Gen::Str { min, max, chars } => {
                let n = r.range(*min, *max);
                Json::String((0..n).map(|_| *r.pick(chars)).collect())
            }
            Gen::Bool => json!(r.chance(1, 2)),
            Gen::Any => any_value(r, 2),
            Gen::Ipv4 => {
                let a = *r.pick(&[10, 10, 172, 192, 203, 8, 127, 100]);
                json!(format!(
                    "{a}.{}.{}.{}",
                    r.range(0, 255),
                    r.range(0, 255),
                    r.range(0, 255)
                ))
            }
            Gen::Time(y1, y2) => {
                let (y, mo, d) = (r.range(*y1, *y2), r.range(1, 12), r.range(1, 28));
                let (h, mi, s) = (r.range(0, 23), r.range(0, 59), r.range(0, 59));
                let frac = match r.below(4) {
                    0 => format!(".{:09}", r.range(0, 999_999_999)),
                    1 => format!(".{:03}", r.range(0, 999)),
                    _ => String::new(),
                };
                let off = r.pick(&["Z", "Z", "Z", "+02:00", "-05:00", "+05:30", "+00:00"]);
                json!(format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}"
                ))
            }
            Gen::Date(y1, y2) => {
                json!(format!(
                    "{:04}-{:02}-{:02}",
                    r.range(*y1, *y2),
                    r.range(1, 12),
                    r.range(1, 28)
                ))
            }
        }
    }
}

/// A small JSON value of any type: the wrong-type fuzzer.
fn any_value(r: &mut Rng, depth: u32) -> Json {
    let kinds = if depth == 0 { 6 } else { 8 };
    match r.below(kinds) {
        0 => Json::Null,
        1 => json!(r.chance(1, 2)),
        2 => json!(r.range(-3, 12)),
        3 => json!(r.range(-500, 500) as f64 / 8.0),
        4 | 5 => json!(*r.pick(&[
            "",
            "a",
            "admin",
            "t1",
            "u1",
            "1",
            "true",
            "10.0.0.1",
            "customer.read",
            "é✓"
        ])),
        6 => Json::Array(
            (0..r.range(0, 3))
                .map(|_| any_value(r, depth - 1))
                .collect(),
        ),
        _ => {
            let mut o = Map::new();
            for _ in 0..r.range(0, 3) {
                let k = *r.pick(&["a", "b", "id", "roles", "tenant", "name"]);
                o.insert(k.to_string(), any_value(r, depth - 1));
            }
            Json::Object(o)
        }
    }
}

/// The inputs a policy is evaluated with: edge inputs, fixed cases, random ones.
fn inputs_for(p: &Policy, seed: u64, random: usize) -> Vec<Json> {
    let mut out = vec![json!({}), Json::Null, json!("text"), json!([1, "a"])];
    out.extend(p.cases.iter().cloned());
    let Some(spec) = &p.spec else { return out };
    let mut r = Rng(seed);
    for _ in 0..random {
        let mut v = spec.sample(&mut r);
        if r.chance(1, 5)
            && let Json::Object(o) = &mut v
            && !o.is_empty()
        {
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = r.pick(&keys).clone();
            if r.chance(1, 2) {
                o.remove(&k);
            } else {
                o.insert(k, any_value(&mut r, 2));
            }
        }
        out.push(v);
    }
    out
}

// ---------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Policy {
    /// `042_partial_deny`, or `project:platform/authz.rego`
    name: String,
    /// Topic, for the coverage table.
    topic: String,
    /// File name given to the compiler and to regorus.
    file: String,
    source: String,
    /// Rego package (`corpus.p042`).
    package: String,
    /// Rule names (relative to the package).
    entrypoints: Vec<String>,
    spec: Option<Gen>,
    cases: Vec<Json>,
    inputs: Option<usize>,
    group: Option<String>,
    /// `# expect: refused`: a known gap; the compiler must refuse it (checked).
    expect_refused: bool,
    /// Files this policy needs in the same module (by policy `file`).
    deps: Vec<String>,
    /// The mode its group is compiled in, whatever `DIFF_MODE` says: the host's mode for it.
    mode: Option<ModeChoice>,
}

fn corpus_dir() -> PathBuf {
    if let Ok(d) = std::env::var("DIFF_CORPUS") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

fn package_of(src: &str) -> Option<String> {
    src.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim().to_string())
    })
}

/// The `# key: value` directives of the leading comment block.
fn directives(src: &str) -> Vec<(String, String)> {
    const KEYS: &[&str] = &["entrypoints", "input", "case", "inputs", "group", "expect"];
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in src.lines() {
        let t = line.trim_end();
        let Some(body) = t.strip_prefix('#') else {
            if t.trim().is_empty() {
                open = false;
                continue;
            }
            break; // end of the leading comment block
        };
        if open && (body.starts_with("  ") || body.starts_with('\t')) {
            let last = out.last_mut().expect("open directive");
            last.1.push(' ');
            last.1.push_str(body.trim());
            continue;
        }
        open = false;
        if let Some((k, v)) = body.trim().split_once(':')
            && KEYS.contains(&k.trim())
        {
            out.push((k.trim().to_string(), v.trim().to_string()));
            open = true;
        }
    }
    out
}

fn parse_policy(name: &str, file: &str, source: String) -> Result<Policy, String> {
    let package = package_of(&source).ok_or("no package line")?;
    let mut p = Policy {
        name: name.to_string(),
        topic: name.split('_').nth(1).unwrap_or("misc").to_string(),
        file: file.to_string(),
        source: String::new(),
        package,
        entrypoints: Vec::new(),
        spec: None,
        cases: Vec::new(),
        inputs: None,
        group: None,
        expect_refused: false,
        deps: Vec::new(),
        mode: None,
    };
    for (k, v) in directives(&source) {
        match k.as_str() {
            "entrypoints" => p.entrypoints.extend(
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            ),
            "input" => {
                let j: Json = serde_json::from_str(&v).map_err(|e| format!("# input: {e}: {v}"))?;
                p.spec = Some(Gen::parse(&j).map_err(|e| format!("# input: {e}"))?);
            }
            "case" => p
                .cases
                .push(serde_json::from_str(&v).map_err(|e| format!("# case: {e}: {v}"))?),
            "inputs" => p.inputs = Some(v.parse().map_err(|e| format!("# inputs: {e}"))?),
            "group" => p.group = Some(v),
            "expect" if v.starts_with("refused") => p.expect_refused = true,
            "expect" => return Err(format!("# expect: {v}: only `refused` is known")),
            _ => unreachable!(),
        }
    }
    if p.entrypoints.is_empty() {
        return Err("no `# entrypoints:` line".into());
    }
    p.source = source;
    Ok(p)
}

fn load_corpus() -> Vec<Policy> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rego"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut packages = BTreeSet::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        let p = parse_policy(&stem, &file, src).unwrap_or_else(|e| panic!("corpus/{file}: {e}"));
        let num = stem.split('_').next().unwrap();
        assert!(
            num.len() == 3 && num.chars().all(|c| c.is_ascii_digit()),
            "corpus/{file}: name must be NNN_topic_…"
        );
        assert_eq!(
            p.package,
            format!("corpus.p{num}"),
            "corpus/{file}: package must be corpus.p{num}"
        );
        assert!(
            packages.insert(p.package.clone()),
            "corpus/{file}: duplicate package {}",
            p.package
        );
        out.push(p);
    }

    // The project's own policies, from their real paths.
    let request = crm_request_gen();
    let mut project = |file: &str, src: &str, eps: &[&str], deps: &[&str], inputs: usize| {
        // The host runs the platform baseline on the RVM (`Pdp::platform`), alone in its module.
        let baseline = file == "platform/authz.rego";
        out.push(Policy {
            name: format!("project:{file}"),
            topic: "project".into(),
            file: file.to_string(),
            source: src.to_string(),
            package: package_of(src).unwrap(),
            entrypoints: eps.iter().map(|s| s.to_string()).collect(),
            spec: Some(request.clone()),
            cases: Vec::new(),
            inputs: Some(inputs),
            group: baseline.then(|| "platform".to_string()),
            expect_refused: false,
            deps: deps.iter().map(|s| s.to_string()).collect(),
            mode: baseline.then_some(ModeChoice::RvmOnly),
        });
    };
    project(
        "platform/authz.rego",
        AUTHZ,
        &[
            "decision",
            "allow",
            "reasons",
            "obligations",
            "permitted_roles",
            "deny_reasons",
        ],
        &[],
        1000,
    );
    project("tenant-example/rules.rego", TENANT, &["decision"], &[], 100);
    // Their tests override the input with `with`: a few inputs suffice.
    let test_rules = |src: &str| -> Vec<String> {
        let set: BTreeSet<String> = src
            .lines()
            .filter_map(|l| l.strip_prefix("test_"))
            .map(|l| {
                format!(
                    "test_{}",
                    l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap()
                )
            })
            .collect();
        set.into_iter().collect()
    };
    for (file, src, dep) in [
        (
            "platform/authz_test.rego",
            AUTHZ_TEST,
            "platform/authz.rego",
        ),
        (
            "tenant-example/rules_test.rego",
            TENANT_TEST,
            "tenant-example/rules.rego",
        ),
    ] {
        let eps = test_rules(src);
        assert!(!eps.is_empty(), "{file}: no test_ rules");
        let eps: Vec<&str> = eps.iter().map(|s| s.as_str()).collect();
        project(file, src, &eps, &[dep], 2);
    }
    out
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

type Outcome = Result<Json, String>;

fn rego_value(j: &Json) -> regorus::Value {
    regorus::Value::from_json_str(&j.to_string()).expect("JSON → regorus value")
}

fn native_eval(prepared: &regorus::Engine, path: &str, input: &regorus::Value) -> Outcome {
    let mut e = prepared.clone();
    e.set_input(input.clone());
    match e.eval_rule(path.to_string()) {
        Ok(regorus::Value::Undefined) => Ok(json!([])),
        Ok(v) => {
            let s = v
                .to_json_str()
                .map_err(|e| format!("native result not JSON-serialisable: {e:#}"))?;
            let j: Json = serde_json::from_str(&s).map_err(|e| format!("native JSON: {e}"))?;
            Ok(json!([{ "result": j }]))
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Ok(v) => v.to_string(),
        Err(e) => {
            // opa-wasm's error starts with the wasm backtrace; the runtime's
            // message follows the last frame.
            let e = match e.rfind(">: ") {
                Some(k) if e.contains("wasm backtrace") => &e[k + 3..],
                _ => e.as_str(),
            };
            let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = e.chars().take(400).collect();
            format!(
                "ERROR {short}{}",
                if short.len() < e.len() { "…" } else { "" }
            )
        }
    }
}

struct Mismatch {
    group: String,
    policy: String,
    file: String,
    entrypoint: String,
    seed: u64,
    input: Json,
    wasm: Outcome,
    native: Outcome,
    /// The same RVM program run by regorus's RVM on the host (RVM groups only):
    /// tells RVM-vs-interpreter semantics apart from Wasm-runtime differences.
    host_rvm: Option<Outcome>,
}

impl Mismatch {
    fn kind(&self) -> &'static str {
        match (&self.wasm, &self.native) {
            (Ok(_), Err(_)) => "native error, Wasm result",
            (Err(_), Ok(_)) => "Wasm error, native result",
            _ => "different results",
        }
    }

    fn cause(&self) -> &'static str {
        if self.group == "refused" {
            return "the compiler refuses the policy";
        }
        match &self.host_rvm {
            None => "Wasm module vs native interpreter",
            Some(h) if same(h, &self.wasm) => "regorus RVM semantics (host RVM agrees with Wasm)",
            Some(h) if same(h, &self.native) => "Wasm runtime build (host RVM agrees with native)",
            Some(_) => "all three differ",
        }
    }
}

/// Runs an RVM program on the host the way the Wasm runtime does.
fn host_rvm_eval(
    program: &regorus::rvm::program::Program,
    data: &regorus::Value,
    path: &str,
    input: &Json,
) -> Outcome {
    let mut vm = regorus::rvm::RegoVM::new();
    vm.load_program(std::sync::Arc::new(program.clone()));
    vm.set_max_instructions(50_000_000);
    vm.set_data(data.clone()).map_err(|e| format!("{e:#}"))?;
    vm.set_input(rego_value(input));
    match vm.execute_entry_point_by_name(path) {
        Ok(regorus::Value::Undefined) => Ok(json!([])),
        Ok(v) => {
            let s = v.to_json_str().map_err(|e| format!("{e:#}"))?;
            Ok(json!([{ "result": serde_json::from_str::<Json>(&s).map_err(|e| e.to_string())? }]))
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The group's RVM program compiled on the host, for [`host_rvm_eval`].
fn host_rvm_program(
    files: &[(&str, &str)],
    paths: &[&str],
) -> Option<regorus::rvm::program::Program> {
    let mut engine = regorus::Engine::new();
    for (name, src) in files {
        engine.add_policy(name.to_string(), src.to_string()).ok()?;
    }
    let policy = engine
        .compile_with_entrypoint(&regorus::Rc::from(paths[0]))
        .ok()?;
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, paths).ok()?;
    Some((*program).clone())
}

#[derive(Default)]
struct Tally {
    evaluations: usize,
    defined: usize,
    undefined: usize,
    errors: usize,
}

struct GroupReport {
    name: String,
    mode: Option<Mode>,
    policies: usize,
    entrypoints: usize,
    tally: Tally,
    wasm_kib: usize,
    compile: Duration,
    load: Duration,
    eval: Duration,
    native: Duration,
    wasm: Duration,
    note: String,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    Some(match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{name}: {e}")),
        None => v.parse().unwrap_or_else(|e| panic!("{name}: {e}")),
    })
}

fn native_engine(files: &[(&str, &str)], data: &regorus::Value) -> regorus::Engine {
    let mut e = regorus::Engine::new();
    e.set_rego_v0(false);
    // The builtins the runtime adds to regorus, as the host's native engine has them.
    crm_policy_builtins::register(&mut e).expect("register the runtime's builtins");
    for (name, src) in files {
        e.add_policy(name.to_string(), crm_policy_builtins::prepare_source(src))
            .unwrap_or_else(|err| panic!("regorus cannot parse {name}: {err:#}"));
    }
    e.add_data(data.clone()).unwrap();
    e
}

/// How the compiler will treat a policy compiled alone.
enum Class {
    Rvm,
    /// The RVM compiler rejects it (the message): interpreter fallback.
    Interpreter(String),
    /// `compile_with` refuses it in every mode (the message).
    Refused(String),
}

/// Mirrors `compile_with`'s choice without linking a module per policy (linking
/// is ~100 ms each in a debug build): the entrypoint check every mode does,
/// then the RVM compilation `ModeChoice::Auto` tries first. The group's module
/// reports the mode actually used.
fn classify(files: &[(&str, &str)], paths: &[String]) -> Class {
    let mut engine = regorus::Engine::new();
    for (name, src) in files {
        engine
            .add_policy(name.to_string(), src.to_string())
            .expect("parsed before");
    }
    for path in paths {
        if let Err(e) = engine
            .clone()
            .compile_with_entrypoint(&regorus::Rc::from(path.as_str()))
        {
            // Confirm with the real thing.
            let eps: Vec<&str> = paths.iter().map(|s| s.as_str()).collect();
            let opts = Options {
                mode: ModeChoice::InterpreterOnly,
                ..Default::default()
            };
            return match compile_with(files, &eps, opts) {
                Err(e) => Class::Refused(format!("{e:#}")),
                Ok(_) => Class::Interpreter(format!("{e:#}")),
            };
        }
    }
    let rvm = engine
        .compile_with_entrypoint(&regorus::Rc::from(paths[0].as_str()))
        .map_err(|e| format!("{e:#}"))
        .and_then(|policy| {
            let p: Vec<&str> = paths.iter().map(|s| s.as_str()).collect();
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &p)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    match rvm {
        Ok(()) => Class::Rvm,
        Err(e) => Class::Interpreter(e),
    }
}

/// Splits `members` (each RVM-compilable alone) into parts that compile to
/// one RVM program each.
fn rvm_chunks(
    corpus: &[Policy],
    files_of: &dyn Fn(&Policy) -> Vec<(String, String)>,
    members: Vec<usize>,
) -> Vec<Vec<usize>> {
    let (files, eps) = sources_of(corpus, files_of, &members);
    let paths: Vec<String> = eps.into_iter().map(|(_, _, p)| p).collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    if members.len() <= 1 || matches!(classify(&refs, &paths), Class::Rvm) {
        return vec![members];
    }
    let (a, b) = members.split_at(members.len() / 2);
    let mut out = rvm_chunks(corpus, files_of, a.to_vec());
    out.extend(rvm_chunks(corpus, files_of, b.to_vec()));
    out
}

/// The files (deduplicated) and entrypoints `(policy, OPA name, Rego path)` of
/// a set of policies.
type Sources = (Vec<(String, String)>, Vec<(usize, String, String)>);

fn sources_of(
    corpus: &[Policy],
    files_of: &dyn Fn(&Policy) -> Vec<(String, String)>,
    members: &[usize],
) -> Sources {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut eps = Vec::new();
    for &i in members {
        let p = &corpus[i];
        for f in files_of(p) {
            if !files.iter().any(|(n, _)| n == &f.0) {
                files.push(f);
            }
        }
        for r in &p.entrypoints {
            let opa = format!("{}/{}", p.package.replace('.', "/"), r);
            eps.push((i, opa, format!("data.{}.{}", p.package, r)));
        }
    }
    (files, eps)
}

/// The policies of `members` that the compiler refuses on their own, with the
/// reason (bisection: only called after compiling `members` failed).
fn find_refused(
    compile: &dyn Fn(&[usize]) -> Result<CompiledModule, String>,
    members: &[usize],
) -> Vec<(usize, String)> {
    if members.len() == 1 {
        return match compile(members) {
            Ok(_) => Vec::new(),
            Err(e) => vec![(members[0], e)],
        };
    }
    let (a, b) = members.split_at(members.len() / 2);
    let mut out = Vec::new();
    for half in [a, b] {
        if compile(half).is_err() {
            out.extend(find_refused(compile, half));
        }
    }
    out
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic (a regorus bug, natively) into an error outcome
/// without printing it.
fn no_panic(f: impl FnOnce() -> Outcome) -> Outcome {
    QUIET_PANICS.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(false));
    r.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(format!("native panic: {msg}"))
    })
}

#[tokio::test(flavor = "current_thread")]
async fn corpus_wasm_matches_native() {
    let started = Instant::now();
    let seed = env_u64("DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let random_inputs = env_u64("DIFF_INPUTS")
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_INPUTS);
    let only = std::env::var("DIFF_ONLY").ok();
    let show_all = std::env::var("DIFF_SHOW").is_ok();
    let mode_choice = match std::env::var("DIFF_MODE").as_deref() {
        Ok("interpreter") => ModeChoice::InterpreterOnly,
        Ok("auto") => ModeChoice::Auto,
        Err(_) => ModeChoice::default(),
        Ok(other) => panic!("DIFF_MODE={other}: expected auto or interpreter"),
    };
    eprintln!(
        "differential: seed {seed:#x} (DIFF_SEED), {random_inputs} random inputs per policy (DIFF_INPUTS)"
    );

    let data_json: Json = match std::fs::read_to_string(corpus_dir().join("data.json")) {
        Ok(text) => serde_json::from_str(&text).expect("corpus/data.json"),
        Err(_) => json!({}),
    };
    let data_value = rego_value(&data_json);

    let all = load_corpus();
    let corpus: Vec<Policy> = all
        .iter()
        .filter(|p| only.as_ref().is_none_or(|f| p.name.contains(f.as_str())))
        .cloned()
        .collect();
    let files_of = |p: &Policy| -> Vec<(String, String)> {
        let mut v = vec![(p.file.clone(), p.source.clone())];
        for d in &p.deps {
            let dep = all
                .iter()
                .find(|q| &q.file == d)
                .unwrap_or_else(|| panic!("{}: missing dep {d}", p.name));
            v.push((dep.file.clone(), dep.source.clone()));
        }
        v
    };

    // 0. Every file must parse natively: a file regorus rejects is a corpus bug.
    let mut bad = Vec::new();
    for p in &corpus {
        let mut e = regorus::Engine::new();
        e.set_rego_v0(false);
        if let Err(err) = e.add_policy(p.file.clone(), p.source.clone()) {
            bad.push(format!("{}: {err:#}", p.file));
        }
    }
    assert!(
        bad.is_empty(),
        "regorus cannot parse {} corpus files:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // 1. Group by mode.
    let t = Instant::now();
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut notes: Vec<String> = Vec::new();
    let mut refused: BTreeMap<usize, String> = BTreeMap::new();
    for (i, p) in corpus.iter().enumerate() {
        let owned = files_of(p);
        let files: Vec<(&str, &str)> = owned
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let paths: Vec<String> = p
            .entrypoints
            .iter()
            .map(|r| format!("data.{}.{}", p.package, r))
            .collect();
        let base = p.group.clone().unwrap_or_else(|| "main".into());
        let short = |e: &str| -> String {
            e.replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let g = match classify(&files, &paths) {
            Class::Rvm => format!("{base}/rvm"),
            Class::Interpreter(e) => {
                notes.push(format!("  interpreter: {}: {}", p.name, short(&e)));
                format!("{base}/interpreter")
            }
            Class::Refused(e) => {
                notes.push(format!("  REFUSED:     {}: {}", p.name, short(&e)));
                refused.insert(i, short(&e));
                "refused".to_string()
            }
        };
        groups.entry(g).or_default().push(i);
    }
    // One RVM program has a bounded register window: split RVM groups until each
    // part compiles to RVM as a whole.
    let mut split: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (g, members) in groups {
        if !g.ends_with("/rvm") {
            split.insert(g, members);
            continue;
        }
        let parts = rvm_chunks(&corpus, &files_of, members);
        let n = parts.len();
        for (k, part) in parts.into_iter().enumerate() {
            split.insert(
                if n == 1 {
                    g.clone()
                } else {
                    format!("{g}#{}", k + 1)
                },
                part,
            );
        }
    }
    let groups = split;
    eprintln!(
        "classified {} policies into {} groups in {:.2?}",
        corpus.len(),
        groups.len(),
        t.elapsed()
    );
    for n in &notes {
        eprintln!("{}", n.chars().take(240).collect::<String>());
    }

    // Native panics (regorus bugs) become error outcomes, silently.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET_PANICS.with(|q| q.get()) {
            default_hook(info);
        }
    }));
    let mut native_panics: BTreeSet<String> = BTreeSet::new();

    // 2. Compile one module per group. A group the compiler refuses is bisected:
    // the policies it refuses on their own move to the `refused` group (every
    // evaluation of theirs is then a Wasm error), the rest is compiled again.
    let try_compile = |members: &[usize]| -> Result<CompiledModule, String> {
        let (files, eps) = sources_of(&corpus, &files_of, members);
        let file_refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let ep_refs: Vec<&str> = eps.iter().map(|(_, o, _)| o.as_str()).collect();
        let options = Options {
            mode: members
                .iter()
                .find_map(|&i| corpus[i].mode)
                .unwrap_or(mode_choice),
            ..Default::default()
        };
        compile_with(&file_refs, &ep_refs, options).map_err(|e| format!("{e:#}"))
    };
    let mut groups = groups;
    let mut modules: BTreeMap<String, (Result<CompiledModule, String>, Duration)> = BTreeMap::new();
    let names: Vec<String> = groups.keys().filter(|g| *g != "refused").cloned().collect();
    for g in names {
        let members = groups[&g].clone();
        let t = Instant::now();
        let mut module = try_compile(&members);
        if module.is_err() {
            let bad = find_refused(&try_compile, &members);
            for (i, e) in &bad {
                let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
                eprintln!(
                    "  REFUSED:     {}: {}",
                    corpus[*i].name,
                    e.chars().take(200).collect::<String>()
                );
                refused.insert(*i, e);
                groups.entry("refused".into()).or_default().push(*i);
            }
            let keep: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| !refused.contains_key(i))
                .collect();
            if keep.is_empty() {
                groups.remove(&g);
                continue;
            }
            if keep.len() < members.len() {
                module = try_compile(&keep);
                groups.insert(g.clone(), keep);
            }
        }
        modules.insert(g, (module, t.elapsed()));
    }

    // 3. Evaluate.
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut reports: Vec<GroupReport> = Vec::new();
    let mut covered_policies = 0usize;
    let mut topics: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut never_defined: Vec<String> = Vec::new();
    for (gname, members) in &groups {
        let (files, eps) = sources_of(&corpus, &files_of, members);
        let file_refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let mut report = GroupReport {
            name: gname.clone(),
            mode: None,
            policies: members.len(),
            entrypoints: eps.len(),
            tally: Tally::default(),
            wasm_kib: 0,
            compile: Duration::ZERO,
            load: Duration::ZERO,
            eval: Duration::ZERO,
            native: Duration::ZERO,
            wasm: Duration::ZERO,
            note: String::new(),
        };

        let compiled = match modules.remove(gname) {
            Some((m, took)) => {
                report.compile = took;
                m
            }
            None => Err("the compiler refuses these policies".to_string()),
        };
        let mut native = native_engine(&file_refs, &data_value);
        let rvm_paths: Vec<&str> = eps.iter().map(|(_, _, p)| p.as_str()).collect();
        let mut host_program = None;
        let _ = native.eval_rule(eps[0].2.clone()); // prepare once; clones start prepared

        // Load the module (a failure is recorded against every evaluation).
        let t = Instant::now();
        let mut loaded: Result<
            (
                wasmtime::Store<()>,
                opa_wasm::Policy<opa_wasm::DefaultContext>,
            ),
            String,
        > = match compiled {
            Err(e) => Err(format!("compile: {e}")),
            Ok(m) => {
                report.mode = Some(m.mode);
                if m.mode == Mode::Rvm {
                    host_program = host_rvm_program(&file_refs, &rvm_paths);
                }
                report.wasm_kib = m.wasm.len() / 1024;
                if let Some(e) = &m.rvm_error {
                    report.note = format!(
                        "RVM rejected the group: {}",
                        e.split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                }
                async {
                    let module = wasmtime::Module::new(common::engine(), &m.wasm)
                        .map_err(|e| format!("wasmtime: {e:#}"))?;
                    let mut store = wasmtime::Store::new(common::engine(), ());
                    let rt = Runtime::new(&mut store, &module)
                        .await
                        .map_err(|e| format!("opa-wasm load: {e:#}"))?;
                    let policy = rt
                        .with_data(&mut store, &data_json)
                        .await
                        .map_err(|e| format!("opa-wasm with_data: {e:#}"))?;
                    Ok((store, policy))
                }
                .await
            }
        };
        report.load = t.elapsed();
        if let Err(e) = &loaded {
            report.note = format!("module unusable: {}", show(&Err(e.clone())));
        }

        let t = Instant::now();
        for &i in members {
            let p = &corpus[i];
            if p.expect_refused {
                // A listed gap: checked below to be refused, not compared.
                continue;
            }
            let pseed = policy_seed(seed, &p.name);
            let inputs = inputs_for(p, pseed, p.inputs.unwrap_or(random_inputs));
            for (_, opa, path) in eps.iter().filter(|(j, _, _)| *j == i) {
                let mut defined = 0;
                for input in &inputs {
                    let tn = Instant::now();
                    let want = no_panic(|| native_eval(&native, path, &rego_value(input)));
                    report.native += tn.elapsed();
                    if let Err(e) = &want
                        && e.starts_with("native panic")
                    {
                        native_panics.insert(format!("{} {opa}: {e}", p.name));
                    }
                    let tw = Instant::now();
                    let got: Outcome = match &mut loaded {
                        Ok((store, policy)) => policy
                            .evaluate(&mut *store, opa, input)
                            .await
                            .map_err(|e| format!("{e:#}")),
                        Err(e) => Err(refused.get(&i).cloned().unwrap_or_else(|| e.clone())),
                    };
                    report.wasm += tw.elapsed();
                    if show_all {
                        eprintln!(
                            "{opa} {input}\n    wasm:   {}\n    native: {}",
                            show(&got),
                            show(&want)
                        );
                    }
                    report.tally.evaluations += 1;
                    match &want {
                        Ok(v) if v.as_array().is_some_and(|a| a.is_empty()) => {
                            report.tally.undefined += 1
                        }
                        Ok(_) => {
                            report.tally.defined += 1;
                            defined += 1;
                        }
                        Err(_) => report.tally.errors += 1,
                    }
                    if !same(&got, &want) {
                        mismatches.push(Mismatch {
                            group: gname.clone(),
                            policy: p.name.clone(),
                            file: p.file.clone(),
                            entrypoint: opa.clone(),
                            seed: pseed,
                            input: input.clone(),
                            wasm: got,
                            native: want,
                            host_rvm: host_program.as_ref().map(|prog| {
                                no_panic(|| host_rvm_eval(prog, &data_value, path, input))
                            }),
                        });
                    }
                }
                if defined == 0 {
                    never_defined.push(format!("{} {opa}", p.name));
                }
            }
            covered_policies += 1;
            let e = topics.entry(p.topic.clone()).or_default();
            e.0 += 1;
            e.1 += p.entrypoints.len();
        }
        report.eval = t.elapsed();
        eprintln!(
            "  group {gname}: {} policies, {} evaluations, link {:.2?}, load {:.2?}, eval {:.2?} (wasm {:.2?}, native {:.2?})",
            report.policies,
            report.tally.evaluations,
            report.compile,
            report.load,
            report.eval,
            report.wasm,
            report.native
        );
        reports.push(report);
    }

    // 4. Summary.
    let mut s = String::new();
    let total: Tally = reports.iter().fold(Tally::default(), |mut a, r| {
        a.evaluations += r.tally.evaluations;
        a.defined += r.tally.defined;
        a.undefined += r.tally.undefined;
        a.errors += r.tally.errors;
        a
    });
    let _ = writeln!(
        s,
        "\n=== differential conformance: Wasm (opa-wasm) vs regorus native ==="
    );
    let _ = writeln!(
        s,
        "seed {seed:#x}, {random_inputs} random inputs per corpus policy (+ edge and fixed cases)"
    );
    let _ = writeln!(
        s,
        "{:<22} {:>11} {:>8} {:>4} {:>6} {:>8} {:>7} {:>7} {:>8}",
        "group", "mode", "policies", "eps", "evals", "wasm KiB", "link", "load", "eval"
    );
    for r in &reports {
        let _ = writeln!(
            s,
            "{:<22} {:>11} {:>8} {:>4} {:>6} {:>8} {:>7.2?} {:>7.2?} {:>8.2?}",
            r.name,
            r.mode
                .map(|m| format!("{m:?}"))
                .unwrap_or_else(|| "-".into()),
            r.policies,
            r.entrypoints,
            r.tally.evaluations,
            r.wasm_kib,
            r.compile,
            r.load,
            r.eval
        );
        if !r.note.is_empty() {
            let n: String = r.note.chars().take(300).collect();
            let _ = writeln!(s, "    note: {n}");
        }
    }
    let _ = writeln!(
        s,
        "total: {covered_policies} policies, {} entrypoints, {} evaluations (native: {} defined, {} undefined, {} errors)",
        reports.iter().map(|r| r.entrypoints).sum::<usize>(),
        total.evaluations,
        total.defined,
        total.undefined,
        total.errors
    );
    let _ = writeln!(
        s,
        "topics: {}",
        topics
            .iter()
            .map(|(t, (p, e))| format!("{t} {p}/{e}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !native_panics.is_empty() {
        let _ = writeln!(
            s,
            "regorus panicked natively (counted as errors; Wasm must fail too):"
        );
        for p in &native_panics {
            let _ = writeln!(s, "  {}", p.chars().take(200).collect::<String>());
        }
    }
    if !never_defined.is_empty() {
        let _ = writeln!(
            s,
            "entrypoints never defined natively ({}): {}",
            never_defined.len(),
            never_defined.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "mismatches: {} (in {:?})",
        mismatches.len(),
        started.elapsed()
    );
    eprintln!("{s}");

    if only.is_none() {
        assert!(
            covered_policies >= MIN_POLICIES,
            "only {covered_policies} policies evaluated, want at least {MIN_POLICIES}"
        );
    }
    // Known gaps (`# expect: refused`) must still be refused, with a clear error; a policy the
    // compiler refuses without being listed shows up as mismatches above.
    let gaps: Vec<(&String, Option<&String>)> = corpus
        .iter()
        .enumerate()
        .filter(|(_, p)| p.expect_refused)
        .map(|(i, p)| (&p.name, refused.get(&i)))
        .collect();
    for (name, why) in &gaps {
        let why = why.unwrap_or_else(|| {
            panic!(
                "{name} is marked `# expect: refused` but compiles now: compare it (drop the line)"
            )
        });
        eprintln!("known gap, refused as expected: {name}: {why}");
    }
    if !mismatches.is_empty() {
        // Totals per likely cause and kind, then one entry per (policy,
        // entrypoint, kind, cause) with its first failing input.
        let mut by_cause: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut seen: BTreeMap<(&str, &str, &str, &str), (usize, &Mismatch)> = BTreeMap::new();
        for m in &mismatches {
            *by_cause.entry((m.cause(), m.kind())).or_default() += 1;
            seen.entry((&m.policy, &m.entrypoint, m.kind(), m.cause()))
                .or_insert((0, m))
                .0 += 1;
        }
        let mut msg = format!(
            "{} Wasm/native disagreements, {} distinct (base seed {seed:#x}):\n",
            mismatches.len(),
            seen.len()
        );
        for ((cause, kind), n) in &by_cause {
            let _ = writeln!(msg, "  {n:>5}  {cause}: {kind}");
        }
        for ((_, _, kind, cause), (n, m)) in &seen {
            let _ = writeln!(
                msg,
                "- [{}] {} `{}` ×{n}: {kind}; {cause}; policy seed {:#x}\n    input:    {}\n    wasm:     {}\n    native:   {}",
                m.group,
                m.file,
                m.entrypoint,
                m.seed,
                m.input,
                show(&m.wasm),
                show(&m.native)
            );
            if let Some(h) = &m.host_rvm {
                let _ = writeln!(msg, "    host RVM: {}", show(h));
            }
        }
        panic!("{msg}");
    }
    assert!(total.evaluations > 0);
}
