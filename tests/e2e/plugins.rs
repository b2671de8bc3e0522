//! Plugins: what the plugin tests share (the plugins they install, built from source here, and
//! uploads over HTTP) and the plugin workspace's own tests. The end-to-end plugin tests are by
//! concern: `plugins_install` (uploads, refusals, signatures, upgrades, the lifecycle),
//! `plugins_capabilities` (the example and first-party plugins working through their
//! capabilities), `plugins_screens` (their screens in the staff UI and who sees them),
//! `plugins_hostile` (a hostile plugin contained while another tenant keeps working) and
//! `plugins_events` (events and their deliveries).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::Server;

/// The example plugin, as the host's build compiled it.
const HELLO: &str = env!("CRM_PLUGIN_HELLO_WASM");

/// Builds the test plugins (`plugins/hostile`, `plugins/ungranted`, `plugins/relay`) from source,
/// once per run.
pub(crate) fn test_plugins() -> &'static Path {
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
pub(crate) async fn upload(
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
pub(crate) fn table(screen: &Value) -> (Vec<String>, Vec<Vec<Value>>, Vec<String>) {
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

pub(crate) async fn audit_actors(s: &Server, action: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT actor FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_all(&s.db().await)
        .await
        .unwrap()
}
