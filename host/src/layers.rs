//! The layering check (ARCHITECTURE.md's code map, enforced): read from the code's own `crate::`
//! and `super::` paths, every module of the library uses only modules of layers below its own,
//! and the modules inside one (`plugins::jobs`, `plugins::worker`, …) import no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The library's top-level modules, lowest layer first. A module may use a module of a lower
/// layer only: not one of its own layer, not one above.
const LAYERS: &[&[&str]] = &[
    // Foundations: no knowledge of tenants' data or requests.
    &["vault", "metrics", "ratelimit", "auth"],
    &["error", "config", "store", "ledger"],
    // The trail and the decision point.
    &["audit", "policy"],
    // The event outbox's write side, below everything that emits.
    &["events"],
    // The request context: actor, authorise, the shared services.
    &["app"],
    // Use cases, each one function per operation that the API, web and CLI share.
    &[
        "customers",
        "sessions",
        "policy_admin",
        "tenants",
        "oversight",
        "backup",
    ],
    // Use cases built on other use cases (plugins reach customers through the same path).
    &["import", "plugins"],
    // Data-subject rights: found, exported and erased across customers and plugins' documents.
    &["privacy"],
    // The HTTP edge.
    &["server"],
];

/// A module, as its first two path segments (`plugins::jobs`, `policy`).
type Module = Vec<String>;

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// Every `.rs` file of the library with its module path (`lib.rs` and the binary's modules
/// excluded: `main.rs`, `cli/`, `demo/`, `bench.rs` sit above the library and use it as `crm::`;
/// this check, whose own test names paths, and the tests' harness `testing`, too).
fn sources(root: &Path) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).expect("under src");
            let mut segs: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if segs.last().is_some_and(|s| s == "mod") {
                segs.pop();
            }
            let top = segs[0].as_str();
            if ["lib", "layers", "testing", "main", "cli", "demo", "bench"].contains(&top) {
                continue;
            }
            out.push((segs, std::fs::read_to_string(&path).expect("read file")));
        }
    }
    out
}

/// The paths a file names after `crate::` or `super::`, each as its segments, with `super`
/// resolved against the file's own module path; comments are skipped.
fn paths(module: &[String], src: &str) -> Vec<Vec<String>> {
    let code: String = src
        .lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let (base, len) = if boundary && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if boundary && rest.starts_with("super::") {
            let mut base = module.to_vec();
            let mut len = 0;
            while code[i + len..].starts_with("super::") {
                base.pop();
                len += "super::".len();
            }
            (base, len)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        i += len;
        for tail in tree(&code[i..]) {
            let mut p = base.clone();
            p.extend(tail);
            out.push(p);
        }
    }
    out
}

/// The leading paths of a use tree: `a::b`, `{a, b::{c, d}}` → `[a, b]`, each up to two segments.
fn tree(s: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(inner) = s.strip_prefix('{') {
        let (mut depth, mut start, mut items) = (0, 0, Vec::new());
        for (j, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&inner[start..j]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..j]);
                    start = j + 1;
                }
                _ => {}
            }
        }
        return items
            .into_iter()
            .map(str::trim)
            .filter(|i| !i.is_empty() && !i.starts_with("self"))
            .flat_map(tree)
            .collect();
    }
    let first = ident(s);
    if first.is_empty() {
        return Vec::new();
    }
    let mut path = vec![first.clone()];
    if let Some(rest) = s[first.len()..].strip_prefix("::") {
        let second = ident(rest);
        if !second.is_empty() {
            path.push(second);
        }
    }
    vec![path]
}

/// The module edges of the library: (from, to), each side up to two segments deep.
fn edges(root: &Path) -> BTreeSet<(Module, Module)> {
    let files = sources(root);
    let modules: BTreeSet<Module> = files
        .iter()
        .map(|(m, _)| m.iter().take(2).cloned().collect())
        .collect();
    let mut edges = BTreeSet::new();
    for (module, src) in &files {
        let from: Module = module.iter().take(2).cloned().collect();
        for path in paths(module, src) {
            let to: Module = if path.len() >= 2 && modules.contains(&path[..2]) {
                path[..2].to_vec()
            } else {
                path[..1].to_vec()
            };
            // The tests' harness sits above everything it sets up.
            let is_module = (modules.contains(&to) || modules.iter().any(|m| m[0] == to[0]))
                && to[0] != "testing";
            if is_module && to != from && !from.starts_with(&to) {
                edges.insert((from.clone(), to));
            }
        }
    }
    edges
}

/// The circles among `edges`, each as the modules on it.
fn circles(edges: &BTreeSet<(Module, Module)>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    let mut found = Vec::new();
    for start in next.keys() {
        // Depth-first from each module back to itself; a circle is reported once, from its
        // smallest member.
        let mut stack = vec![(*start, vec![*start])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for &n in next.get(at).into_iter().flatten() {
                if n == *start {
                    if trail.iter().all(|m| *m >= *start) {
                        found.push(trail.iter().map(|m| m.join("::")).collect());
                    }
                } else if seen.insert(n) {
                    let mut t = trail.clone();
                    t.push(n);
                    stack.push((n, t));
                }
            }
        }
    }
    found
}

#[test]
fn modules_use_only_the_layers_below_them_and_import_no_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&root);
    assert!(
        edges.len() > 50,
        "the check reads the code: {} edges",
        edges.len()
    );
    let mut wrong = Vec::new();
    for (from, to) in &edges {
        let (Some(a), Some(b)) = (layer_of(&from[0]), layer_of(&to[0])) else {
            wrong.push(format!(
                "{} or {} is in no layer: add it to LAYERS and ARCHITECTURE.md",
                from[0], to[0]
            ));
            continue;
        };
        if from[0] != to[0] && b >= a {
            wrong.push(format!(
                "{} uses {}, which is not below it",
                from.join("::"),
                to.join("::")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let circles = circles(&edges);
    assert!(circles.is_empty(), "import circles: {circles:?}");
}

#[test]
fn the_check_sees_upward_edges_and_circles() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let module = m("plugins::jobs");
    let src = "use crate::{app::{Actor, App}, error::AppResult};\n\
               use super::worker::{self, MINUTE};\n\
               // crate::server is only a comment\n\
               fn f() { crate::store::now_ms(); super::super::vault::x(); }";
    let found = paths(&module, src);
    for want in [
        "app::Actor",
        "error::AppResult",
        "plugins::worker::MINUTE",
        "store::now_ms",
        "vault::x",
    ] {
        assert!(
            found
                .iter()
                .any(|p| m(want).starts_with(p) || p.starts_with(&m(want)[..2])),
            "{want} in {found:?}"
        );
    }
    assert!(!found.iter().any(|p| p[0] == "server"), "{found:?}");
    assert!(layer_of("server") > layer_of("customers"));
    let circle: BTreeSet<(Module, Module)> = [
        (m("plugins::jobs"), m("plugins::worker")),
        (m("plugins::worker"), m("plugins::jobs")),
    ]
    .into();
    assert_eq!(circles(&circle).len(), 1);
}
