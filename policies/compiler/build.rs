//! Builds the generic policy runtime (`../runtime`, wasm32-unknown-unknown,
//! release) once and hands its path to the crate through `CRM_POLICY_RUNTIME_WASM`.
//!
//! - Set `CRM_POLICY_RUNTIME_WASM=/path/to/crm_policy_runtime.wasm` to use a
//!   prebuilt runtime instead (nothing is built then).
//! - The nested cargo uses its own target directory (`CRM_POLICY_RUNTIME_TARGET_DIR`,
//!   default `../runtime/target`): sharing the outer build's target directory
//!   would wait forever on the outer build's lock.
//! - The outer build's RUSTFLAGS / CARGO_ENCODED_RUSTFLAGS / CARGO_TARGET_DIR /
//!   CARGO_BUILD_TARGET are removed from the nested cargo's environment: they
//!   would override the runtime's `.cargo/config.toml` (getrandom backend,
//!   imported memory, stack size).
//! - A missing wasm32-unknown-unknown target is added first, or named in one error line
//!   (`wasm_target.rs`, shared with the host's build script).

use std::path::PathBuf;
use std::process::Command;

include!("wasm_target.rs");

fn main() {
    println!("cargo:rerun-if-env-changed=CRM_POLICY_RUNTIME_WASM");
    println!("cargo:rerun-if-env-changed=CRM_POLICY_RUNTIME_TARGET_DIR");
    if let Ok(prebuilt) = std::env::var("CRM_POLICY_RUNTIME_WASM") {
        println!("cargo:rerun-if-changed={prebuilt}");
        println!("cargo:rustc-env=CRM_POLICY_RUNTIME_WASM={prebuilt}");
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let runtime = manifest
        .join("..")
        .join("runtime")
        .canonicalize()
        .expect("policies/runtime not found");
    for f in [
        "src",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "../builtins/src",
        "../builtins/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", runtime.join(f).display());
    }
    let target_dir = std::env::var("CRM_POLICY_RUNTIME_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| runtime.join("target"));
    ensure_wasm_target("wasm32-unknown-unknown", &runtime);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&runtime)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("failed to run cargo for the policy runtime");
    assert!(
        status.success(),
        "building policies/runtime for wasm32-unknown-unknown failed"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/crm_policy_runtime.wasm");
    assert!(wasm.exists(), "{} missing", wasm.display());
    println!("cargo:rustc-env=CRM_POLICY_RUNTIME_WASM={}", wasm.display());
}
