//! Builds the first-party plugins (`../plugins`, a workspace of its own, wasm32-wasip2, release)
//! so that `crm demo` can install them; hands each component's path to the crate as
//! `CRM_PLUGIN_<NAME>_WASM`.
//!
//! - The nested cargo uses its own target directory (`CRM_PLUGINS_TARGET_DIR`, default
//!   `../plugins/target`): sharing the outer build's would wait forever on the outer build's lock.
//! - The outer build's flags and target settings are removed from the nested cargo's environment.
//! - A missing wasm32-wasip2 target is added first, or named in one error line
//!   (`../policies/compiler/wasm_target.rs`, shared with the policy compiler's build script).

use std::path::PathBuf;
use std::process::Command;

include!("../policies/compiler/wasm_target.rs");

/// The plugins the host embeds (package names in `../plugins`): the first-party ones `crm demo`
/// installs, and `bench` for `crm bench`.
const FIRST_PARTY: [&str; 5] = [
    "hello",
    "subscriptions",
    "advertiser-deals",
    "audience-campaigns",
    "bench",
];

fn main() {
    println!("cargo:rerun-if-env-changed=CRM_PLUGINS_TARGET_DIR");
    // `sqlx::migrate!` embeds the migrations: a new one must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let plugins = manifest
        .join("..")
        .join("plugins")
        .canonicalize()
        .expect("plugins/ not found");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "sdk/src",
        "sdk/Cargo.toml",
        "../wit",
    ] {
        println!("cargo:rerun-if-changed={}", plugins.join(f).display());
    }
    for p in FIRST_PARTY {
        println!("cargo:rerun-if-changed={}", plugins.join(p).display());
    }
    let target_dir = std::env::var("CRM_PLUGINS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| plugins.join("target"));
    ensure_wasm_target("wasm32-wasip2", &plugins);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in FIRST_PARTY {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("failed to run cargo for the plugins");
    assert!(
        status.success(),
        "building plugins/ for wasm32-wasip2 failed"
    );
    for p in FIRST_PARTY {
        let wasm = target_dir.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            p.replace('-', "_")
        ));
        assert!(wasm.exists(), "{} missing", wasm.display());
        println!(
            "cargo:rustc-env=CRM_PLUGIN_{}_WASM={}",
            p.to_uppercase().replace('-', "_"),
            wasm.display()
        );
    }
}
