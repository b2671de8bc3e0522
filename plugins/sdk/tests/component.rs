//! The example plugin, built for `wasm32-wasip2`, is a component that Wasmtime 48's validator
//! (wasmparser 0.254) accepts, that targets `crm:platform@0.2.0` (0.1.0's interfaces and
//! `guest`, plus 0.2.0's `subject` export), and that imports nothing but `crm:platform/*`
//! interfaces and the WASI interfaces Rust's standard library needs.
//!
//! The test builds `hello` with cargo (a release build for `wasm32-wasip2`, in the workspace's
//! target folder unless `CRM_PLUGIN_TEST_TARGET_DIR` says otherwise); set `CRM_PLUGIN_WASM` to
//! check an already built file instead.

#[path = "support/inspect.rs"]
mod inspect;

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds `hello` for wasm32-wasip2 and returns the component's path.
fn build_hello() -> PathBuf {
    if let Ok(path) = std::env::var("CRM_PLUGIN_WASM") {
        return PathBuf::from(path);
    }
    // The workspace's own target folder (cargo has released its lock once the tests run), so
    // this reuses `cargo build --target wasm32-wasip2 --release` and the next build reuses this.
    let target = std::env::var("CRM_PLUGIN_TEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "hello",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building hello for wasm32-wasip2 failed");
    target.join("wasm32-wasip2/release/hello.wasm")
}

#[test]
fn hello_is_a_valid_component_for_crm_platform_0_2_0() {
    let path = build_hello();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = inspect::inspect(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("{} ({} bytes)", path.display(), bytes.len());
    for i in &info.imports {
        eprintln!("  import {i}");
    }
    for e in &info.exports {
        eprintln!("  export {e}");
    }

    let mut exports = info.exports.clone();
    exports.sort();
    assert_eq!(
        exports,
        ["crm:platform/guest@0.1.0", "crm:platform/subject@0.2.0"]
    );
    assert!(
        info.imports
            .contains(&"crm:platform/customers@0.1.0".to_string())
    );
    for import in &info.imports {
        assert!(
            import.starts_with("crm:platform/") && import.ends_with("@0.1.0")
                || inspect::ALLOWED_WASI.iter().any(|w| import.starts_with(w)),
            "unexpected import {import}"
        );
    }
    assert_eq!(
        inspect::platform_versions(&info.imports, &info.exports),
        vec!["0.1.0", "0.2.0"]
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    // The smallest core module: magic and version 1.
    let core = b"\0asm\x01\0\0\0";
    let err = inspect::inspect(core).unwrap_err();
    assert!(err.contains("core module"), "{err}");
    let err = inspect::inspect(b"not wasm").unwrap_err();
    assert!(err.contains("not a WebAssembly"), "{err}");
}
