//! Plugins: the example plugin end to end, upload refusals, the lifecycle, and a hostile-plugin
//! suite (built from source here) that must be contained while another tenant keeps working.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::common::{Server, crm};

/// The example plugin, as the host's build compiled it.
const HELLO: &str = env!("CRM_PLUGIN_HELLO_WASM");

/// Builds the test plugins (`plugins/hostile`, `plugins/ungranted`, `plugins/relay`) from source,
/// once per run.
fn test_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .current_dir(&plugins)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "hostile",
                "-p",
                "ungranted",
                "-p",
                "relay",
                "-p",
                "impostor",
                "-p",
                "bloated",
            ])
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("run cargo for the test plugins");
        assert!(
            out.status.success(),
            "building the test plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        plugins.join("target/wasm32-wasip2/release")
    })
}

/// Runs cargo in the plugin workspace (its own target directory, none of this build's settings).
fn plugin_cargo(args: &[&str]) -> std::process::Output {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    std::process::Command::new(cargo)
        .current_dir(&plugins)
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo in plugins/")
}

/// The plugin workspace's own tests (the SDK, and each plugin's domain rules, run natively), so that
/// `cargo test --workspace` runs every test of the repository.
#[test]
fn plugin_workspace_tests_pass() {
    let out = plugin_cargo(&["test", "--workspace"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "cargo test in plugins/ failed:\n{text}"
    );
    let passed: usize = text
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed > 20, "only {passed} plugin tests ran:\n{text}");
}

pub(crate) fn wasm(name: &str) -> Vec<u8> {
    let path = if name == "hello" {
        PathBuf::from(HELLO)
    } else {
        test_plugins().join(format!("{name}.wasm"))
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An upload over HTTP: (status, body).
async fn upload(
    s: &Server,
    path: &str,
    token: &str,
    bytes: Vec<u8>,
    grants: &str,
    extra: &[(&str, String)],
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new()
        .part(
            "component",
            reqwest::multipart::Part::bytes(bytes).file_name("plugin.wasm"),
        )
        .text("grant", grants.to_string());
    for (k, v) in extra {
        form = form.text(k.to_string(), v.clone());
    }
    let resp = s
        .http
        .post(format!("{}{path}", s.url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn install(
    s: &Server,
    token: &str,
    bytes: Vec<u8>,
    grants: &str,
    extra: &[(&str, String)],
) -> (u16, Value) {
    upload(s, "/api/v1/plugins", token, bytes, grants, extra).await
}

/// The cells of a screen's first table, by column key.
fn table(screen: &Value) -> (Vec<String>, Vec<Vec<Value>>, Vec<String>) {
    let t = screen["blocks"]
        .as_array()
        .and_then(|b| b.iter().find_map(|b| b.get("Table")))
        .unwrap_or_else(|| panic!("no table in {screen}"));
    let cols = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap().to_string())
        .collect();
    let rows = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"].as_array().unwrap().clone())
        .collect();
    let ids = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    (cols, rows, ids)
}

async fn audit_actors(s: &Server, action: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT actor FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_all(&s.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn hello_lists_customers_through_its_capability_and_its_reads_are_audited() {
    let s = Server::demo(30);
    let support = s.token("support").await;

    // `crm demo` installed hello; every member sees it with its screens and capabilities.
    let (st, list) = s.get("/api/v1/plugins", Some(&support)).await;
    assert_eq!(st, 200, "{list}");
    let hello = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello installed");
    assert_eq!(hello["state"], "enabled");
    assert_eq!(hello["interface"], "crm:platform@0.1.0");
    assert_eq!(hello["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(hello["granted"], json!(["customers", "log"]));
    assert_eq!(hello["screens"][0]["name"], "main");

    // The screen lists customers as the policy lets this member see them.
    let (st, screen) = s
        .get("/api/v1/plugins/hello/screens/main", Some(&support))
        .await;
    assert_eq!(st, 200, "{screen}");
    let (cols, rows, ids) = table(&screen);
    assert_eq!(rows.len(), 10);
    let email = cols.iter().position(|c| c == "email").unwrap();
    assert!(
        rows.iter()
            .all(|r| r[email].get("Text").is_some() || r[email] == "Empty"),
        "support sees emails in clear"
    );
    let marketing = s.token("marketing").await;
    let (_, screen) = s
        .get("/api/v1/plugins/hello/screens/main", Some(&marketing))
        .await;
    let (_, rows, _) = table(&screen);
    assert!(
        rows.iter()
            .all(|r| r[email].get("Masked").is_some() || r[email] == "Empty"),
        "marketing sees emails masked through the plugin, as without it"
    );

    // Its reads are in the audit trail under the plugin's name (and the member's id).
    let actors = audit_actors(&s, "customer.list").await;
    assert!(
        actors.iter().any(|a| a.starts_with("plugin:hello/user:")),
        "{actors:?}"
    );

    // An action: a note interaction, attributed to the member through the plugin.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/hello/actions/greet",
            Some(&support),
            &json!({"row": ids[0]}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["next"], "Refresh");
    assert_eq!(out["notice"]["tone"], "Success");
    let actors = audit_actors(&s, "interaction.create").await;
    assert!(
        actors.iter().any(|a| a.starts_with("plugin:hello/user:")),
        "{actors:?}"
    );
    let (st, inter) = s
        .get(
            &format!("/api/v1/customers/{}/interactions", ids[0]),
            Some(&support),
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        inter
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "note")
    );

    // The plugin acts with at most the member's rights: marketing may not write interactions.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/hello/actions/greet",
            Some(&marketing),
            &json!({"row": ids[0]}),
        )
        .await;
    assert_eq!(st, 403, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role_denied"),
        "{out}"
    );

    // Undeclared screens and actions, and unknown plugins, are 404 before any plugin runs.
    for path in [
        "/api/v1/plugins/hello/screens/admin",
        "/api/v1/plugins/nope/screens/main",
    ] {
        assert_eq!(s.get(path, Some(&support)).await.0, 404, "{path}");
    }
    let (st, _) = s
        .post_json(
            "/api/v1/plugins/hello/actions/drop-all",
            Some(&support),
            &json!({}),
        )
        .await;
    assert_eq!(st, 404);

    // Inputs over the plugin's input limit are refused before it runs.
    let (st, v) = s
        .post_json(
            "/api/v1/plugins/hello/actions/filter",
            Some(&support),
            &json!({"inputs": {"region": "x".repeat(70 << 10)}}),
        )
        .await;
    assert_eq!(st, 413, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input limit of 65536 bytes"),
        "{v}"
    );

    // The compiled component is cached on disk, so a restart does not recompile it.
    let cached: Vec<_> = std::fs::read_dir(crate::common::COMPONENT_CACHE)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        cached
            .iter()
            .any(|f| f.starts_with(hello["sha256"].as_str().unwrap()) && f.ends_with(".cwasm")),
        "{cached:?}"
    );

    // The plugin's log holds its line (ids only).
    let admin = s.token("admin").await;
    let (st, log) = s.get("/api/v1/plugins/hello/log", Some(&admin)).await;
    assert_eq!(st, 200, "{log}");
    assert!(log.as_array().unwrap().iter().any(|l| {
        l["message"]
            .as_str()
            .unwrap()
            .starts_with("said hello to customer")
    }));
}

#[tokio::test]
async fn uploads_are_refused_with_the_reason_and_nothing_is_written() {
    let s = Server::demo(5);
    let admin = s.token("admin").await;
    let support = s.token("support").await;
    let hello = wasm("hello");

    // Only admins (with two-factor sign-in) install plugins.
    let (st, v) = install(&s, &support, hello.clone(), "customers,log", &[]).await;
    assert_eq!(st, 403, "{v}");

    let before = audit_actors(&s, "plugin.install").await.len();
    let check = |st: u16, v: &Value, status: u16, code: &str, words: &str| {
        assert_eq!(st, status, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(words), "`{msg}` should say `{words}`");
    };

    let (st, v) = install(
        &s,
        &admin,
        b"#!/bin/sh\necho not wasm\n".to_vec(),
        "log",
        &[],
    )
    .await;
    check(st, &v, 422, "not_wasm", "not WebAssembly");

    // The smallest valid core module: a module, not a component.
    let (st, v) = install(&s, &admin, b"\0asm\x01\0\0\0".to_vec(), "log", &[]).await;
    check(st, &v, 422, "not_component", "core WebAssembly module");

    // A component of a `crm:platform` version this host does not know (hello, renamed to 0.9.0).
    let mut renamed = hello.clone();
    replace_all(
        &mut renamed,
        b"crm:platform/guest@0.1.0",
        b"crm:platform/guest@0.9.0",
    );
    let (st, v) = install(&s, &admin, renamed, "customers,log", &[]).await;
    check(
        st,
        &v,
        422,
        "unsupported_version",
        "supports crm:platform@0.1.0",
    );

    // Over the size limit (the header of a component, then padding).
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize((32 << 20) + 1, 0);
    let (st, v) = install(&s, &admin, big, "log", &[]).await;
    check(st, &v, 413, "too_large", "limit is 33554432 bytes (32 MiB)");

    // An import that was not granted: install refused, listing what is missing.
    let (st, v) = install(&s, &admin, wasm("ungranted"), "log", &[]).await;
    check(st, &v, 422, "ungranted_imports", "not granted: consent");
    // (Importing `wasi:filesystem` needs no grant: without `scratch` it has no directory, see
    // `python_plugin::without_the_scratch_grant_a_plugin_importing_the_filesystem_reaches_no_file`.)
    let (st, v) = install(&s, &admin, wasm("hostile"), "log", &[]).await;
    check(st, &v, 422, "ungranted_imports", "not granted: customers");

    // Signatures: a trusted key; a signature by another key is refused, a good one accepted.
    use ed25519_dalek::{Signer, SigningKey};
    let publisher = SigningKey::from_bytes(&[42; 32]);
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let (st, v) = s
        .post_json(
            "/api/v1/plugin-trust/keys",
            Some(&admin),
            &json!({"name": "acme-media", "public_key": hex::encode(publisher.verifying_key().to_bytes())}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let (st, v) = s
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/plugin-trust",
            Some(&admin),
            &json!({"require_signature": true}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let hostile = wasm("hostile");
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[],
    )
    .await;
    check(st, &v, 422, "signature_required", "no signature was given");
    let bad = hex::encode(stranger.sign(&hostile).to_bytes());
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", bad)],
    )
    .await;
    check(st, &v, 422, "bad_signature", "does not verify");
    let good = hex::encode(publisher.sign(&hostile).to_bytes());
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", good.clone())],
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["signed_by"], "acme-media");

    // The same name again, and the same version as an upgrade: refused as duplicates.
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", good.clone())],
    )
    .await;
    check(st, &v, 409, "conflict", "already installed");
    let (st, v) = upload(
        &s,
        "/api/v1/plugins/hostile/upgrade",
        &admin,
        hostile,
        "customers,log,scratch,records",
        &[("signature", good)],
    )
    .await;
    check(
        st,
        &v,
        409,
        "conflict",
        "version 0.1.0 of hostile was already installed",
    );

    // Grants the plugin did not ask for, and limits above the platform's, are refused too.
    let (st, v) = s
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/plugins/hostile/limits",
            Some(&admin),
            &json!({"memory_bytes": 1u64 << 30}),
        )
        .await;
    check(
        st,
        &v,
        422,
        "invalid_limits",
        "memory_bytes must be between 1 and 67108864",
    );

    // Nothing of the refused uploads was written: one install more, two plugins listed.
    assert_eq!(audit_actors(&s, "plugin.install").await.len(), before + 1);
    let (_, list) = s.get("/api/v1/plugins", Some(&admin)).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "advertiser-deals",
            "audience-campaigns",
            "hello",
            "hostile",
            "subscriptions"
        ]
    );

    // Lifecycle: disable (screens answer 409), enable, uninstall with purge.
    let path = "/api/v1/plugins/hostile/screens/main";
    assert_eq!(s.get(path, Some(&support)).await.0, 200);
    assert_eq!(
        s.post_json("/api/v1/plugins/hostile/disable", Some(&admin), &json!({}))
            .await
            .0,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 409);
    assert_eq!(
        s.post_json("/api/v1/plugins/hostile/enable", Some(&admin), &json!({}))
            .await
            .0,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 200);
    assert_eq!(
        s.delete("/api/v1/plugins/hostile?purge=true", Some(&admin))
            .await,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 404);
    for action in ["plugin.disable", "plugin.enable", "plugin.uninstall"] {
        assert_eq!(audit_actors(&s, action).await.len(), 1, "{action} audited");
    }

    // The CLI lists what HTTP installed.
    let (ok, out, err) = crm(&s.data(), &["plugin", "list", "--tenant", "demo"], &[]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("hello 0.1.0 [enabled] sha256 ")),
        "{out}"
    );
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0);
}

/// Another tenant's staff keep working (reading a customer) while an attack runs.
struct Bystander {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Bystander {
    fn start(s: &Server, token: String, customer: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (http, url) = (s.http.clone(), s.url.clone());
        let (st, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::Relaxed) {
                let r = http
                    .get(format!("{url}/api/v1/customers/{customer}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => o.fetch_add(1, Ordering::Relaxed),
                    _ => f.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        Self {
            stop,
            ok,
            failed,
            task,
        }
    }

    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_plugins_are_contained_while_another_tenant_keeps_working() {
    let s = Server::demo(10);
    let victim_ids = s.some_customer_ids(2).await;
    let bystander_token = s.token("support").await;

    // The attacker is the admin of another tenant, and uploads the hostile plugin there.
    let eve = s.attacker().await;
    let (st, v) = install(
        &s,
        &eve,
        wasm("hostile"),
        "customers,log,scratch,records",
        &[(
            "limits",
            json!({"deadline_ms": 100, "host_calls": 2, "memory_bytes": 4 << 20}).to_string(),
        )],
    )
    .await;
    assert_eq!(st, 201, "{v}");

    // The scratch directory exists after a harmless call; plant a symlink out of it, as if an
    // earlier bug had let one in.
    let (st, v) = s
        .get("/api/v1/plugins/hostile/screens/scratch-ok", Some(&eve))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["blocks"][0]["KeyValues"][1]["value"]["Text"], "hello",
        "{v}"
    );
    let scratch = std::fs::read_dir(s.data().join("plugins/scratch"))
        .unwrap()
        .map(|e| e.unwrap().path().join("hostile"))
        .find(|p| p.exists())
        .expect("the hostile plugin's scratch directory");
    std::os::unix::fs::symlink("/etc", scratch.join("planted")).unwrap();

    // Every call gets a fresh instance: what a call leaves in memory (statics in the data and
    // zeroed segments, a marked heap block) is gone for the next one, although a pool slot is
    // reset by rewriting only the pages the last call dirtied.
    for _ in 0..3 {
        let (st, v) = s
            .get("/api/v1/plugins/hostile/screens/remember", Some(&eve))
            .await;
        assert_eq!(st, 200, "{v}");
        let kv = &v["blocks"][0]["KeyValues"];
        assert_eq!(kv[0]["value"]["Integer"], 7, "{v}");
        assert_eq!(kv[1]["value"]["Integer"], 0, "{v}");
        assert_eq!(kv[2]["value"]["Integer"], 0, "{v}");
    }

    let records_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&s.db().await)
        .await
        .unwrap();

    // (screen, expected status, words the error must contain)
    let attacks: [(&str, u16, &str); 9] = [
        ("loop", 502, "time limit of 100 ms exceeded"),
        ("memory", 502, "memory limit of 4 MiB exceeded"),
        ("recursion", 502, "stack"),
        ("trap", 502, "unreachable"),
        ("panic", 502, "unreachable"),
        ("output", 502, "limit"),
        ("big-output", 502, "exceeds the limit of 1048576 bytes"),
        ("flood", 429, "host-calls limit of 2 "),
        ("log-flood", 502, "stopped"),
    ];
    for (screen, status, words) in attacks {
        let bystander = Bystander::start(&s, bystander_token.clone(), victim_ids[0].clone());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/{screen}"),
                Some(&eve),
            )
            .await;
        let took = started.elapsed();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (ok, failed) = bystander.finish().await;
        assert_eq!(st, status, "{screen}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(words),
            "{screen}: `{msg}` should say `{words}`"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{screen} took {took:?}"
        );
        assert!(
            ok > 0 && failed == 0,
            "{screen}: the other tenant got {ok} answers and {failed} failures"
        );
    }

    // Reading another tenant's customers by id: simply not found.
    for id in &victim_ids {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/other-tenant?id={id}"),
                Some(&eve),
            )
            .await;
        assert_eq!(st, 404, "{v}");
    }

    // Escaping the scratch directory: `..`, absolute paths, symlinks made inside and planted.
    for screen in ["escape-dotdot", "escape-absolute", "escape-symlink"] {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/{screen}"),
                Some(&eve),
            )
            .await;
        assert_eq!(st, 200, "{screen}: {v}");
        let kvs = v["blocks"][0]["KeyValues"].as_array().unwrap();
        assert!(kvs.len() >= 2);
        for kv in kvs {
            let key = kv["key"]["en"].as_str().unwrap();
            let value = kv["value"]["Text"].as_str().unwrap();
            assert!(!value.starts_with("LEAKED"), "{screen}: {key} → {value}");
            if key.starts_with("read ") || key.starts_with("write ") || key.starts_with("list ") {
                assert!(value.starts_with("blocked: "), "{screen}: {key} → {value}");
            }
        }
    }
    assert!(!Path::new("/tmp/hostile-escape").exists());

    // The log flood was capped: at most 16 KiB of lines per call, and the drop is counted.
    let (st, log) = s.get("/api/v1/plugins/hostile/log", Some(&eve)).await;
    assert_eq!(st, 200);
    let lines = log.as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("lines were dropped")),
        "{log}"
    );

    // The host still serves the plugin and everyone else; nothing was half-written.
    assert_eq!(
        s.get("/api/v1/plugins/hostile/screens/main", Some(&eve))
            .await
            .0,
        200
    );
    let records_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&s.db().await)
        .await
        .unwrap();
    assert_eq!(records_before, records_after);
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_events")
        .fetch_one(&s.db().await)
        .await
        .unwrap();
    assert_eq!(events, 0);
    let (st, v) = s
        .get("/api/v1/audit/verify", Some(&s.token("admin").await))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn first_party_plugins_do_their_work_through_their_capabilities() {
    let s = Server::demo_with(150, true);
    let (support, sales, marketing) = (
        s.token("support").await,
        s.token("sales").await,
        s.token("marketing").await,
    );

    // Each main screen renders with the seeded data.
    for (plugin, token) in [
        ("subscriptions", &support),
        ("advertiser-deals", &sales),
        ("audience-campaigns", &marketing),
    ] {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/{plugin}/screens/main"),
                Some(token),
            )
            .await;
        assert_eq!(st, 200, "{plugin}: {v}");
        assert!(
            v["blocks"].as_array().is_some_and(|b| !b.is_empty()),
            "{plugin}: {v}"
        );
    }

    // Subscriptions: pause a live subscription; its detail then says so, and a second pause is refused.
    let (st, v) = s
        .get(
            "/api/v1/plugins/subscriptions/screens/subscribers",
            Some(&support),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, _, ids) = table(&v);
    let mut paused = None;
    // The pause button of a subscription's screen, as the API presses it.
    let pause = |id: &str| json!({"inputs": {"id": id}, "origin": {"screen": "subscription", "params": {"id": id}}});
    for id in &ids {
        let (st, out) = s
            .post_json(
                "/api/v1/plugins/subscriptions/actions/pause",
                Some(&support),
                &pause(id),
            )
            .await;
        match st {
            200 => {
                assert!(out.to_string().contains("Subscription paused."), "{out}");
                paused = Some(id.clone());
                break;
            }
            // Not every state may be paused: its screen offers no pause button.
            422 => assert_eq!(out["error"]["code"], "action_not_offered", "{out}"),
            _ => panic!("pause answered {st}: {out}"),
        }
    }
    let id = paused.expect("a live subscription to pause");
    let (st, v) = s
        .get(
            &format!("/api/v1/plugins/subscriptions/screens/subscription?id={id}"),
            Some(&support),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v.to_string().contains("Paused"), "{v}");
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/pause",
            Some(&support),
            &pause(&id),
        )
        .await;
    assert_eq!(st, 422, "pausing twice is refused: {out}");
    // Pressed with a row id instead of the button's parameters, it is refused before the
    // plugin runs: the button offers exactly `id`.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/subscriptions/actions/resume",
            Some(&support),
            &json!({"row": id, "origin": {"screen": "subscription", "params": {"id": id}}}),
        )
        .await;
    assert_eq!(st, 422, "{out}");
    assert_eq!(
        out["error"]["message"], "the button's parameters were changed",
        "{out}"
    );

    // Advertiser deals: a spot the seed sold to deal D-0001 cannot be sold again.
    let today = chrono::Utc::now().date_naive();
    let monday = today
        - chrono::Duration::days(
            chrono::Datelike::weekday(&today)
                .num_days_from_monday()
                .into(),
        );
    let spot = format!("SPORT-{}-PRIME-1", monday.format("%Y-%m-%d"));
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/advertiser-deals/actions/book-spot",
            Some(&sales),
            &json!({"inputs": {"deal": "D-0002", "spot": spot},
                "origin": {"screen": "deal", "params": {"id": "D-0002"}}}),
        )
        .await;
    assert_eq!(st, 409, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already booked by deal D-0001"),
        "{out}"
    );

    // Audience campaigns: a draft's preview excludes customers without consent, with the reason.
    let (_, v) = s
        .get(
            "/api/v1/plugins/audience-campaigns/screens/main",
            Some(&marketing),
        )
        .await;
    let (_, _, campaign_ids) = table(&v);
    let mut excluded = false;
    for id in &campaign_ids {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/audience-campaigns/screens/campaign?id={id}"),
                Some(&marketing),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        excluded |= v
            .to_string()
            .contains("No consent recorded for the purpose");
    }
    assert!(
        excluded,
        "no campaign preview shows consent-less customers excluded"
    );

    // Their reads and writes are in the audit trail under each plugin's name.
    let db = s.db().await;
    for plugin in ["subscriptions", "advertiser-deals", "audience-campaigns"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE actor LIKE $1")
            .bind(format!("plugin:{plugin}/user:%"))
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(n > 0, "{plugin} left no audit records");
    }
}

#[tokio::test]
async fn plugin_screens_render_as_escaped_html_in_the_staff_ui() {
    let s = Server::demo(12);
    let sales = s.token("sales").await;
    // A customer whose name is markup: the plugin returns it as data, the host shows it as text.
    let (st, v) = s
        .post_json(
            "/api/v1/customers",
            Some(&sales),
            &json!({"name": "<script>alert(1)</script> Evil", "region": "EU"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");

    let web = s.web_client("support").await;
    let apps = crate::common::page(&web, &format!("{}/apps", s.url)).await;
    for (plugin, screen) in [
        ("hello", "main"),
        ("subscriptions", "main"),
        ("advertiser-deals", "main"),
        ("audience-campaigns", "main"),
    ] {
        assert!(
            apps.contains(&format!("href=\"/apps/{plugin}/{screen}\"")),
            "{plugin} missing from the navigation"
        );
    }

    let resp = web
        .get(format!("{}/apps/hello/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    // 13 customers, 10 per page: the markup customer is on one of the two pages.
    let both = html.clone()
        + &crate::common::page(&web, &format!("{}/apps/hello/main?page=2", s.url)).await;
    assert!(
        both.contains("&lt;script&gt;alert(1)&lt;/script&gt; Evil"),
        "the name is shown as text"
    );
    assert!(
        !both.contains("<script"),
        "no script element reaches the page"
    );
    assert!(
        html.contains("<table id=\"customers\"") || html.contains("<table"),
        "{html}"
    );

    // A row action posts back with the CSRF token and shows the plugin's notice.
    let csrf = crate::common::form_token(&html);
    let row = html
        .split("name=\"_row\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a row action")
        .to_string();
    // The row's action carries what it offers (a row, no input), signed: the last of each
    // hidden field before the row's id is its own.
    let row_form = html
        .split(&format!("name=\"_row\" value=\"{row}\""))
        .next()
        .unwrap();
    let signed = |field: &str| {
        row_form
            .rsplit(&format!("name=\"{field}\" value=\""))
            .next()
            .and_then(|v| v.split('"').next())
            .unwrap_or_else(|| panic!("{field} in the page"))
            .to_string()
    };
    let (form, mac) = (signed("_form"), signed("_form_mac"));
    let resp = web
        .post(format!("{}/apps/hello/main", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("_action", "greet"),
            ("_form", form.as_str()),
            ("_form_mac", mac.as_str()),
            ("_row", row.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"notice success\""), "{html}");
    assert!(html.contains("Said hello to"), "{html}");

    // Without the CSRF token the action is refused and nothing is written.
    let resp = web
        .post(format!("{}/apps/hello/main", s.url))
        .form(&[("_action", "greet"), ("_row", row.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Signed out: sent to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anon
        .get(format!("{}/apps/hello/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn a_role_the_policy_keeps_out_does_not_see_the_plugin_and_gets_403() {
    let s = Server::demo(5);
    // The example tenant set keeps advertiser deals to sales and admins.
    let files = json!({
        "files": {
            "rules.rego": include_str!("../../policies/tenant-example/rules.rego"),
            "rules_test.rego": include_str!("../../policies/tenant-example/rules_test.rego"),
        },
        "note": "advertiser deals for sales"
    });
    let compliance = s.token("compliance").await;
    let (st, v) = s
        .post_json("/api/v1/policies", Some(&compliance), &files)
        .await;
    assert_eq!(st, 201, "{v}");

    let support = s.web_client("support").await;
    let apps = crate::common::page(&support, &format!("{}/apps", s.url)).await;
    assert!(
        !apps.contains("/apps/advertiser-deals/"),
        "support must not see advertiser deals"
    );
    assert!(apps.contains("/apps/subscriptions/main"));
    let resp = support
        .get(format!("{}/apps/advertiser-deals/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("advertiser deals are for sales and admins")
    );
    let token = s.token("support").await;
    assert_eq!(
        s.get(
            "/api/v1/plugins/advertiser-deals/screens/main",
            Some(&token)
        )
        .await
        .0,
        403
    );

    let sales = s.web_client("sales").await;
    let apps = crate::common::page(&sales, &format!("{}/apps", s.url)).await;
    assert!(
        apps.contains("/apps/advertiser-deals/main"),
        "sales keeps advertiser deals"
    );
}

/// Every event delivery: (event id, status, attempt).
async fn deliveries(s: &Server) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT event_id, status, attempt FROM plugin_event_deliveries ORDER BY event_id",
    )
    .fetch_all(&s.db().await)
    .await
    .unwrap()
}

/// Waits (up to 30 s) until no delivery is pending with its first attempt.
async fn settled(s: &Server) -> Vec<(String, String, i64)> {
    let started = std::time::Instant::now();
    loop {
        let d = deliveries(s).await;
        if !d.is_empty() && d.iter().all(|(_, st, a)| st != "pending" || *a > 1) {
            return d;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "events were not delivered: {d:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn emitted_events_reach_their_subscribers_as_the_service_identity() {
    let s = Server::demo(12);
    let admin = s.token("admin").await;
    let (st, v) = install(&s, &admin, wasm("relay"), "events,records,log", &[]).await;
    assert_eq!(st, 201, "{v}");
    let support = s.token("support").await;

    // A staff member's action emits `relay.ping`; the host delivers it to `on-event` of every
    // plugin subscribed to it (here relay itself, to `relay.*`), which stores what it received.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "7"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let d = settled(&s).await;
    assert_eq!(d.len(), 1, "{d:?}");
    let (event, status, _) = &d[0];
    assert_eq!(status, "delivered", "{d:?}");
    let (st, v) = s
        .get("/api/v1/plugins/relay/screens/main", Some(&support))
        .await;
    assert_eq!(st, 200, "{v}");
    let text = v.to_string();
    assert!(
        text.contains(event.as_str()) && text.contains("relay.ping"),
        "{v}"
    );

    // The emit is audited under the member, the delivery and the subscriber's write under the
    // subscriber's service identity.
    let db = s.db().await;
    let by = |actor: &str, action: &str| {
        let (db, actor, action) = (db.clone(), actor.to_string(), action.to_string());
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM audit_log WHERE actor LIKE $1 AND action = $2",
            )
            .bind(actor)
            .bind(action)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(by("plugin:relay/user:%", "event.emit").await, 1);
    assert_eq!(by("plugin:relay/event:relay.ping", "plugin.event").await, 1);
    assert_eq!(
        by("plugin:relay/event:relay.ping", "record.insert").await,
        1
    );

    // An event about a customer who is gone (erased, or never was) is dropped, not delivered.
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "8", "customer": "6f1c2b9e-3d4a-4e8b-9c7d-0a1b2c3d4e5f"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    // A subscriber that refuses an event gets it again later (the first retry after a minute).
    let (st, out) = s
        .post_json(
            "/api/v1/plugins/relay/actions/emit",
            Some(&support),
            &json!({"inputs": {"n": "9", "fail": "true"}}),
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let d = settled(&s).await;
    let mut statuses: Vec<(String, i64)> = d.iter().map(|(_, st, a)| (st.clone(), *a)).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("delivered".to_string(), 1),
            ("dropped".to_string(), 1),
            ("pending".to_string(), 2)
        ],
        "{d:?}"
    );
    let (_, v) = s
        .get("/api/v1/plugins/relay/screens/main", Some(&support))
        .await;
    assert_eq!(v["blocks"][0]["KeyValues"][0]["value"]["Integer"], 1, "{v}");

    // The host's own events reach subscribers too: a customer created, then erased (the erasure
    // names the customer in its payload only, so it is not dropped as being about them).
    let sales = s.token("sales").await;
    let (st, c) = s
        .post_json(
            "/api/v1/customers",
            Some(&sales),
            &json!({"name": "Event Person", "region": "EU"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let received = async |topic: &str| {
        let started = std::time::Instant::now();
        loop {
            let (_, v) = s
                .get("/api/v1/plugins/relay/screens/main", Some(&support))
                .await;
            if v.to_string().contains(topic) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{topic} never arrived: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    received("crm.customer.created").await;
    let compliance = s.token("compliance").await;
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{id}"), Some(&compliance))
            .await,
        204
    );
    received("crm.customer.erased").await;
    assert_eq!(
        by("plugin:relay/event:crm.customer.erased", "plugin.event").await,
        1
    );

    // Uninstalled, its deliveries go with it (the audit trail keeps their history).
    assert_eq!(s.delete("/api/v1/plugins/relay", Some(&admin)).await, 204);
    assert!(deliveries(&s).await.is_empty());
    let (st, v) = s.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}
