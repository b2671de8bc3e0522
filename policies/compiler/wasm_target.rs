// Included (`include!`) by the build scripts that cross-compile with a nested cargo
// (policies/compiler/build.rs, host/build.rs). Without the target's standard library that
// build fails deep inside with "can't find crate for `core`", and rustup adds no target by
// itself when RUSTUP_AUTO_INSTALL=0.

/// The targets `rust-toolchain.toml` lists, named together so one command fixes every build.
const WASM_TARGETS: &str = "wasm32-wasip2 wasm32-unknown-unknown";

/// Makes sure the compiler the nested cargo in `dir` will use (`$RUSTC`) has `target`:
/// adds it with rustup if it is missing, as `rust-toolchain.toml` would, or else logs one
/// error naming the command to run and exits, which fails the build.
fn ensure_wasm_target(target: &str, dir: &std::path::Path) {
    use std::process::{Command, Stdio};
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Some(sysroot) = Command::new(rustc)
        .current_dir(dir)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    else {
        return; // the nested cargo will say what is wrong with rustc
    };
    let installed = || sysroot.join(format!("lib/rustlib/{target}/lib")).is_dir();
    if installed() {
        return;
    }
    // Set by rustup's proxies: the toolchain whose rustc `$RUSTC` is.
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let flag = toolchain
        .as_ref()
        .map(|t| format!("--toolchain {t} "))
        .unwrap_or_default();
    if let Some(toolchain) = &toolchain {
        // Both build scripts may get here at once, and two rustups must not install into
        // one toolchain together.
        let lock = std::fs::File::create(std::env::temp_dir().join("crm-rustup-target.lock"));
        if let Ok(lock) = &lock {
            let _ = lock.lock();
        }
        if !installed() {
            let _ = Command::new("rustup")
                .args(["target", "add", "--toolchain", toolchain, target])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if installed() {
            println!("cargo::warning=added the {target} target to {toolchain} (rustup target add)");
            return;
        }
    }
    println!(
        "cargo::error=the {target} target is not installed; run: rustup target add {flag}{WASM_TARGETS}"
    );
    // `cargo::error` alone fails the build; a non-zero exit would add a dump of this script's output.
    std::process::exit(0);
}
