//! Lists a plugin component's imports and exports and validates it as Wasmtime 48 would:
//!
//!     cargo run --example inspect -- target/wasm32-wasip2/release/hello.wasm

#[path = "../tests/support/inspect.rs"]
#[allow(dead_code)]
mod inspect;

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let result = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| inspect::inspect(&bytes).map(|info| (bytes.len(), info)));
        match result {
            Ok((size, info)) => {
                println!("{path}: a valid component, {size} bytes");
                for i in &info.imports {
                    println!("  import {i}");
                }
                for e in &info.exports {
                    println!("  export {e}");
                }
                let versions = inspect::platform_versions(&info.imports, &info.exports);
                println!("  crm:platform versions: {}", versions.join(", "));
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
