//! A plugin written in Python: `plugins/python-hello`, built from source here with componentize-py
//! (`plugins/python-hello/build.sh`, the version it pins; `.ci/run` installs it), installed by the
//! tenant admin with only `customers` granted although its CPython runtime imports
//! `wasi:filesystem` and `wasi:sockets` too, and rendered over the API for two roles and in the
//! web UI. It prints its size, first install (compile) and per-call time next to the Rust
//! `hello`'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;
use crate::plugins::{install, wasm};

/// Builds `plugins/python-hello` with componentize-py, once per run; a missing or different
/// componentize-py fails the test with the command that installs the pinned one.
fn python_hello() -> Vec<u8> {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    let out = OUT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-hello/python_hello.wasm");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/python-hello/build.sh");
        let r = std::process::Command::new("bash")
            .arg(&script)
            .arg(&out)
            .output()
            .expect("run plugins/python-hello/build.sh");
        assert!(
            r.status.success(),
            "building plugins/python-hello failed:\n{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        out
    });
    std::fs::read(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

/// The rows of a screen's first table: (row id, cells).
fn rows(screen: &Value) -> Vec<(String, Vec<Value>)> {
    let table = screen["blocks"]
        .as_array()
        .and_then(|b| b.iter().find_map(|b| b.get("Table")))
        .unwrap_or_else(|| panic!("no table in {screen}"));
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["cells"].as_array().unwrap().clone(),
            )
        })
        .collect()
}

/// The cell a personal field of a staff API customer should show: clear, masked, withheld or
/// empty, as the API says the policy treated it.
fn expected_cell(customer: &Value, field: &str) -> Value {
    let listed = |key: &str| {
        customer[key]
            .as_array()
            .is_some_and(|a| a.iter().any(|f| f == field))
    };
    if listed("redacted") {
        json!("Redacted")
    } else if listed("masked") {
        json!({ "Masked": customer[field] })
    } else if customer[field].is_null() {
        json!("Empty")
    } else {
        json!({ "Text": customer[field] })
    }
}

/// Renders python-hello's main screen as `role` and checks every row against what the staff API
/// shows the same member; returns how many of the cells were masked or withheld.
async fn check_as(s: &Server, role: &str) -> usize {
    let token = s.token(role).await;
    let (st, screen) = s
        .get("/api/v1/plugins/python-hello/screens/main", Some(&token))
        .await;
    assert_eq!(st, 200, "{role}: {screen}");
    assert_eq!(screen["title"]["en"], "Hello from Python", "{screen}");
    assert_eq!(screen["title"]["zh_hans"], "来自 Python 的问候", "{screen}");
    let (st, list) = s.get("/api/v1/customers?per_page=100", Some(&token)).await;
    assert_eq!(st, 200, "{list}");
    let staff: HashMap<&str, &Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c))
        .collect();
    let rows = rows(&screen);
    assert_eq!(rows.len(), 10, "a page of 10 customers: {screen}");
    let mut restricted = 0;
    for (id, cells) in &rows {
        let c = staff
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{role}: row {id} is not one of the tenant's customers"));
        for (i, field) in ["name", "email", "phone"].into_iter().enumerate() {
            let want = expected_cell(c, field);
            assert_eq!(cells[i], want, "{role}: {field} of {id}");
            if want.get("Masked").is_some() || want == "Redacted" {
                restricted += 1;
            }
        }
        assert_eq!(
            cells[3],
            json!({ "Text": c["region"] }),
            "{role}: region of {id}"
        );
    }
    restricted
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The median time of `n` renders of a plugin's main screen over the API, after one to warm up.
async fn render_median(s: &Server, token: &str, plugin: &str, n: usize) -> Duration {
    let path = format!("/api/v1/plugins/{plugin}/screens/main");
    let (st, v) = s.get(&path, Some(token)).await;
    assert_eq!(st, 200, "{v}");
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (st, v) = s.get(&path, Some(token)).await;
        times.push(t.elapsed());
        assert_eq!(st, 200, "{v}");
    }
    median(times)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::test]
async fn a_python_plugin_installs_and_lists_customers_as_the_policy_shows_them() {
    let bytes = python_hello();
    let hello = wasm("hello");
    // A component cache of its own, so the installs below compile (the suite's shared cache
    // would hold an earlier run's build).
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap().to_string();
    let s = Server::demo_env(30, false, &[("CRM_COMPONENT_CACHE", &cache_dir)]);
    let admin = s.token("admin").await;

    // Installed with only what its manifest asks for (the WASI its runtime imports needs no
    // grant), and held to production's 100 ms deadline, i.e. its fuel budget, rather than the
    // roomier one this suite gives debug builds.
    let production = [("limits", json!({"deadline_ms": 100}).to_string())];
    let t = Instant::now();
    let (st, v) = install(&s, &admin, bytes.clone(), "customers", &production).await;
    let python_install = t.elapsed();
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["name"], "python-hello");
    assert_eq!(v["granted"], json!(["customers"]), "{v}");
    assert_eq!(v["limits"]["deadline_ms"], 100, "{v}");
    assert_eq!(v["screens"][0]["name"], "main", "{v}");

    // A plugin built for crm:platform@0.1.0 (python-hello, from wit/0.1.0) runs beside the
    // first-party ones built for 0.2.0 on the same host: both listed with their version, both
    // rendering.
    let (st, list) = s.get("/api/v1/plugins", Some(&admin)).await;
    assert_eq!(st, 200, "{list}");
    let interface = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["interface"]
            .clone()
    };
    assert_eq!(interface("python-hello"), "crm:platform@0.1.0");
    assert_eq!(interface("hello"), "crm:platform@0.2.0");
    let (st, v) = s
        .get("/api/v1/plugins/hello/screens/main", Some(&admin))
        .await;
    assert_eq!(st, 200, "{v}");

    // As the admin every field comes in clear; as marketing, what the policy masks comes masked,
    // exactly as the staff API shows it to the same member.
    assert_eq!(check_as(&s, "admin").await, 0);
    assert!(check_as(&s, "marketing").await > 0);

    // The web UI lists it under Apps and renders its table, masked values as masked.
    let web = s.web_client("marketing").await;
    let apps = crate::common::page(&web, &format!("{}/apps", s.url)).await;
    assert!(apps.contains("href=\"/apps/python-hello/main\""), "{apps}");
    let resp = web
        .get(format!("{}/apps/python-hello/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Hello from Python"), "{html}");
    assert!(html.contains("<table"), "{html}");
    assert!(
        html.contains("<span class=\"masked\" title=\"masked by policy\">"),
        "{html}"
    );

    // The Rust `hello` installed the same way in a tenant of its own, with its compiled form
    // removed from the cache first so that this install compiles too.
    let sha = {
        let (st, list) = s.get("/api/v1/plugins", Some(&admin)).await;
        assert_eq!(st, 200, "{list}");
        let h = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "hello")
            .expect("hello is installed by `crm demo`");
        h["sha256"].as_str().unwrap().to_string()
    };
    let mut removed = 0;
    for e in std::fs::read_dir(cache.path()).unwrap() {
        let path = e.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&sha)
        {
            std::fs::remove_file(path).unwrap();
            removed += 1;
        }
    }
    assert_eq!(
        removed, 1,
        "hello's compiled form was cached when `crm demo` installed it"
    );
    let eve = s.attacker().await;
    let t = Instant::now();
    let (st, v) = install(&s, &eve, hello.clone(), "customers,log", &[]).await;
    let hello_install = t.elapsed();
    assert_eq!(st, 201, "{v}");
    // The Python plugin again, in that tenant: compiled once, it now comes from the cache.
    let t = Instant::now();
    let (st, v) = install(&s, &eve, bytes.clone(), "customers", &[]).await;
    let python_cached = t.elapsed();
    assert_eq!(st, 201, "{v}");

    // Both list a page of 10 of the demo tenant's customers, as its admin.
    let n = 20;
    let python_call = render_median(&s, &admin, "python-hello", n).await;
    let hello_call = render_median(&s, &admin, "hello", n).await;
    eprintln!(
        "\nplugin        component   install: compiling   from the cache   render, median of {n}"
    );
    for (name, size, install, cached, call) in [
        (
            "python-hello",
            bytes.len(),
            python_install,
            ms(python_cached),
            python_call,
        ),
        (
            "hello (Rust)",
            hello.len(),
            hello_install,
            "-".to_string(),
            hello_call,
        ),
    ] {
        eprintln!(
            "{name:<12}  {size:>9} B   {:>18}   {cached:>14}   {:>10}",
            ms(install),
            ms(call)
        );
    }
    eprintln!(
        "(over the API: sign-in check, the screen's policy decision, the plugin in a fresh \
         instance, its customers.search of 10 with their decisions, decryption and audit)\n"
    );
}

#[tokio::test]
async fn without_the_scratch_grant_a_plugin_importing_the_filesystem_reaches_no_file() {
    let s = Server::demo(3);
    let admin = s.token("admin").await;
    // The hostile plugin asks for `scratch` and imports `wasi:filesystem`; installed without
    // the grant, it has the interface but not one directory.
    let (st, v) = install(&s, &admin, wasm("hostile"), "customers,log,records", &[]).await;
    assert_eq!(st, 201, "{v}");
    for screen in ["scratch-ok", "escape-absolute", "escape-dotdot"] {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/{screen}"),
                Some(&admin),
            )
            .await;
        assert_eq!(st, 200, "{screen}: {v}");
        let kvs = v["blocks"][0]["KeyValues"].as_array().unwrap();
        assert!(kvs.len() >= 2, "{v}");
        for kv in kvs {
            let value = kv["value"]["Text"].as_str().unwrap();
            assert!(value.starts_with("blocked: "), "{screen}: {kv}");
        }
    }
    if let Ok(tenants) = std::fs::read_dir(s.data().join("plugins/scratch")) {
        for t in tenants {
            assert!(!t.unwrap().path().join("hostile").exists());
        }
    }
    assert!(!Path::new("/tmp/hostile-escape").exists());
}
