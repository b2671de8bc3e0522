//! Inspecting a plugin component with wasmparser 0.254, the parser and validator of Wasmtime 48.
//! Shared by `tests/component.rs` and `examples/inspect.rs` (a module, not a test target).

use wasmparser::{Encoding, Parser, Payload, Validator, WasmFeatures};

/// What a component imports and exports at its top level.
#[derive(Debug, Default)]
pub struct Info {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// WASI interfaces a Rust `wasm32-wasip2` component may import (the standard library's needs).
pub const ALLOWED_WASI: [&str; 5] = [
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
];

/// Validates `bytes` as a component and lists its top-level imports and exports.
pub fn inspect(bytes: &[u8]) -> Result<Info, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly binary".into());
    }
    // The preamble: magic, then version 0x0d and layer 1 for a component (version 1, layer 0
    // for a core module).
    let mut info = Info::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("does not parse: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err("a core module, not a component".into());
                }
                depth += 1;
            }
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| e.to_string())?;
                    info.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    info.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Validator::new_with_features(WasmFeatures::default())
        .validate_all(bytes)
        .map_err(|e| format!("invalid component: {e}"))?;
    Ok(info)
}

/// The `crm:platform` versions named by the imports and exports.
pub fn platform_versions(imports: &[String], exports: &[String]) -> Vec<String> {
    let mut versions: Vec<String> = imports
        .iter()
        .chain(exports)
        .filter_map(|n| n.strip_prefix("crm:platform/"))
        .filter_map(|n| n.split_once('@').map(|(_, v)| v.to_string()))
        .collect();
    versions.sort();
    versions.dedup();
    versions
}
