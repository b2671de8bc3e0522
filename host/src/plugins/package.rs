//! Checking an uploaded plugin before anything is stored: bytes → a compiled component of a
//! supported `crm:platform` version, the capabilities its imports need, and its manifest.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::abi::{self, latest::guest::PluginManifest};
use super::caps::Capability;
use super::runtime::Runtime;
use crate::error::AppError;

/// Largest component accepted: 32 MiB. A Rust plugin is a few hundred KiB, but a Python one
/// carries its interpreter: componentize-py 0.25's CPython with a one-screen plugin is 18.4 MB,
/// a dozen standard-library imports add about 1 MB, and two common pure-Python libraries
/// (jinja2 and python-dateutil) took such a plugin to 20.98 MB, over the former 20 MiB. 32 MiB
/// leaves a Python plugin about 14 MB for its own code and dependencies (a JavaScript one,
/// whose engine is smaller, more). The HTTP body limit is derived from it (`server/plugins.rs`).
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;

/// WASI interfaces every plugin may import, whatever it was granted. The host links them with
/// nothing ambient (`caps/wasi.rs`): no environment, arguments or network (every `wasi:sockets`
/// call is denied), and `wasi:filesystem` without any directory unless `scratch` is granted.
/// Rust's standard library needs the first four; the runtimes of other languages (CPython from
/// componentize-py, for one) import `wasi:filesystem` and `wasi:sockets` too, used or not.
const WASI_ALWAYS: [&str; 6] = super::caps::wasi::LINKED;

/// A component that passed every check that needs no database.
pub struct Checked {
    pub sha256: String,
    pub wit_version: String,
    pub component: Component,
    /// Capabilities its imports need (so an admin must grant them).
    pub imports: BTreeSet<Capability>,
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::rejected(code, message)
}

/// Checks the bytes: size, Wasm, a component (not a core module), compiles, exports the guest
/// interface of a supported version, imports nothing this host does not provide. The checks run
/// in that order, cheapest first, each refusing with its own reason (hence the length).
pub fn check(runtime: &Runtime, bytes: &[u8]) -> Result<Checked, AppError> {
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(AppError::too_large(
            "too_large",
            format!(
                "the component is {} bytes; the limit is {} bytes ({} MiB)",
                bytes.len(),
                MAX_COMPONENT_BYTES,
                MAX_COMPONENT_BYTES >> 20
            ),
        ));
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(unprocessable(
            "not_wasm",
            "the file is not WebAssembly (it does not start with the \\0asm magic)",
        ));
    }
    match bytes[4..8] {
        [0x01, 0x00, 0x00, 0x00] => {
            return Err(unprocessable(
                "not_component",
                "the file is a core WebAssembly module, not a component: build the plugin for \
                 wasm32-wasip2 (or wrap it with `wasm-tools component new`)",
            ));
        }
        [0x0d, 0x00, 0x01, 0x00] => {}
        _ => {
            return Err(unprocessable(
                "not_component",
                "the file is WebAssembly of an unknown layer or version, not a component",
            ));
        }
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let component = runtime.component(&sha256, bytes).map_err(|e| {
        unprocessable(
            "invalid_component",
            format!("the component does not compile: {e:#}"),
        )
    })?;
    let ty = component.component_type();
    let engine = runtime.engine();
    let guest_prefix = format!("{}/guest@", abi::PACKAGE);
    let exported: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let Some(guest_version) = exported
        .iter()
        .find_map(|n| n.strip_prefix(&guest_prefix))
        .map(str::to_string)
    else {
        return Err(unprocessable(
            "wrong_world",
            format!(
                "the component does not export {}/guest: it must target the world {}/plugin (it exports: {})",
                abi::PACKAGE,
                abi::PACKAGE,
                if exported.is_empty() {
                    "nothing".to_string()
                } else {
                    exported.join(", ")
                }
            ),
        ));
    };
    // 0.2.0's world is 0.1.0's plus the `subject` export: the plugin's version is the world's.
    let subject_prefix = format!("{}/subject@", abi::PACKAGE);
    let wit_version = match exported
        .iter()
        .find_map(|n| n.strip_prefix(&subject_prefix))
    {
        Some(v) if guest_version == "0.1.0" => v.to_string(),
        Some(v) => format!("{v} (with a guest of {guest_version})"),
        None => guest_version.clone(),
    };
    if !abi::SUPPORTED.contains(&wit_version.as_str()) {
        return Err(unprocessable(
            "unsupported_version",
            format!(
                "the plugin is built for {}@{wit_version}; this host supports {}",
                abi::PACKAGE,
                abi::SUPPORTED
                    .iter()
                    .map(|v| format!("{}@{v}", abi::PACKAGE))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let names: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let imports = needed_capabilities(&names, &guest_version)?;
    Ok(Checked {
        sha256,
        wit_version,
        component,
        imports,
    })
}

/// The capabilities a list of import names needs; refuses imports no grant could satisfy.
/// `scratch` is never needed by an import: importing `wasi:filesystem` gets a filesystem with no
/// directory in it, and only the grant (asked for in the manifest) adds the scratch directory.
pub fn needed_capabilities(
    imports: &[String],
    version: &str,
) -> Result<BTreeSet<Capability>, AppError> {
    let mut caps = BTreeSet::new();
    let platform = format!("{}/", abi::PACKAGE);
    for name in imports {
        if let Some(rest) = name.strip_prefix(&platform) {
            let (iface, v) = rest.split_once('@').unwrap_or((rest, ""));
            if v != version {
                return Err(unprocessable(
                    "unsupported_version",
                    format!(
                        "the component imports {name} but exports the guest of {}@{version}",
                        abi::PACKAGE
                    ),
                ));
            }
            match iface {
                "types" | "ui" => {}
                other => match Capability::parse(other) {
                    Some(c) if c != Capability::Scratch => {
                        caps.insert(c);
                    }
                    _ => {
                        return Err(unprocessable(
                            "unknown_import",
                            format!(
                                "the component imports {name}, which this host does not provide"
                            ),
                        ));
                    }
                },
            }
        } else if !WASI_ALWAYS.iter().any(|p| name.starts_with(p)) {
            return Err(unprocessable(
                "unknown_import",
                format!("the component imports {name}, which this host does not provide"),
            ));
        }
    }
    Ok(caps)
}

fn name_ok(s: &str, extra: u8) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == extra)
}

fn version_ok(v: &str) -> bool {
    let (core, pre) = v.split_once('-').unwrap_or((v, ""));
    let parts: Vec<&str> = core.split('.').collect();
    v.len() <= 64
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        && pre
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// Names that belong to the platform: its event topics are `crm.…`, so a plugin named `crm`
/// would publish what subscribers take for platform events.
pub const RESERVED_NAMES: &[&str] = &["crm", "platform", "host", "system"];

/// How much a manifest may declare: every list and string is bounded, so what the host stores,
/// lists and renders for a plugin is too.
pub mod bounds {
    pub const SCREENS: usize = 50;
    /// Screens listed in the staff navigation.
    pub const MENU_SCREENS: usize = 12;
    pub const ACTIONS: usize = 100;
    pub const JOBS: usize = 20;
    pub const SUBSCRIPTIONS: usize = 50;
    pub const COLLECTIONS: usize = 20;
    /// Indexed fields per collection (each is an index row per document written).
    pub const INDEXED_FIELDS: usize = 8;
    /// Characters of a title or a capability's reason, in each language.
    pub const LABEL_CHARS: usize = 200;
    /// Characters of the description, in each language.
    pub const DESCRIPTION_CHARS: usize = 2000;
}

/// Checks a manifest's names and sizes.
pub fn check_manifest(m: &PluginManifest) -> Result<(), AppError> {
    let bad = |what: String| unprocessable("invalid_manifest", what);
    if !name_ok(&m.name, b'-') {
        return Err(bad(format!(
            "the plugin name `{}` must be 1-40 characters of a-z, 0-9 and -, starting with a letter",
            m.name.chars().take(60).collect::<String>()
        )));
    }
    if RESERVED_NAMES.contains(&m.name.as_str()) {
        return Err(bad(format!(
            "the plugin name `{}` belongs to the platform (reserved: {})",
            m.name,
            RESERVED_NAMES.join(", ")
        )));
    }
    check_sizes(m).map_err(bad)?;
    if !version_ok(&m.version) {
        return Err(bad(format!(
            "the version `{}` is not a semantic version such as 1.4.0",
            m.version.chars().take(60).collect::<String>()
        )));
    }
    let mut seen = BTreeSet::new();
    let lists = [
        (
            "screen",
            m.screens
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            b'-',
        ),
        (
            "action",
            m.actions.iter().map(|a| a.name.as_str()).collect(),
            b'-',
        ),
        (
            "job",
            m.jobs.iter().map(|j| j.name.as_str()).collect(),
            b'-',
        ),
        (
            "collection",
            m.collections.iter().map(|c| c.name.as_str()).collect(),
            b'_',
        ),
    ];
    for (kind, names, extra) in lists {
        for n in names {
            if !name_ok(n, extra) {
                return Err(bad(format!(
                    "the {kind} name `{}` is not valid",
                    n.chars().take(60).collect::<String>()
                )));
            }
            if !seen.insert((kind, n)) {
                return Err(bad(format!("the {kind} `{n}` is declared twice")));
            }
        }
    }
    for j in &m.jobs {
        super::schedule::check_schedule(&j.schedule)
            .map_err(|e| bad(format!("the job `{}`: {e}", j.name)))?;
    }
    Ok(())
}

/// Every list of a manifest within [`bounds`], every label within its length: one check per
/// part of the manifest, listed in the manifest's order (hence the length).
fn check_sizes(m: &PluginManifest) -> Result<(), String> {
    use bounds::*;
    let count = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(format!(
                "the manifest declares {n} {what}; at most {max} are allowed"
            ))
        } else {
            Ok(())
        }
    };
    count("screens", m.screens.len(), SCREENS)?;
    count(
        "menu screens",
        m.screens.iter().filter(|s| s.in_menu).count(),
        MENU_SCREENS,
    )?;
    count("actions", m.actions.len(), ACTIONS)?;
    count("jobs", m.jobs.len(), JOBS)?;
    count("subscriptions", m.subscriptions.len(), SUBSCRIPTIONS)?;
    count("collections", m.collections.len(), COLLECTIONS)?;
    count(
        "capability requests",
        m.capabilities.len(),
        Capability::ALL.len(),
    )?;
    for c in &m.collections {
        count(
            &format!("indexed fields in collection `{}`", c.name),
            c.indexed.len(),
            INDEXED_FIELDS,
        )?;
        if let Some(f) = c.indexed.iter().find(|f| !name_ok(f, b'_')) {
            return Err(format!(
                "the indexed field `{}` of collection `{}` is not a valid name",
                f.chars().take(60).collect::<String>(),
                c.name
            ));
        }
    }
    for s in &m.subscriptions {
        let ok = s.len() <= 100
            && s.strip_suffix(".*").unwrap_or(s).split('.').all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            });
        if !ok {
            return Err(format!(
                "the subscription `{}` is not a topic (dotted lowercase names, optionally ending .*)",
                s.chars().take(60).collect::<String>()
            ));
        }
    }
    let labels = std::iter::once(("the title", &m.title, LABEL_CHARS))
        .chain(std::iter::once((
            "the description",
            &m.description,
            DESCRIPTION_CHARS,
        )))
        .chain(
            m.screens
                .iter()
                .map(|s| ("a screen title", &s.title, LABEL_CHARS)),
        )
        .chain(
            m.actions
                .iter()
                .map(|a| ("an action title", &a.title, LABEL_CHARS)),
        )
        .chain(
            m.jobs
                .iter()
                .map(|j| ("a job title", &j.title, LABEL_CHARS)),
        )
        .chain(
            m.capabilities
                .iter()
                .map(|c| ("a capability's reason", &c.reason, LABEL_CHARS)),
        );
    for (what, l, max) in labels {
        let long = l.en.chars().count() > max
            || l.zh_hans.as_ref().is_some_and(|z| z.chars().count() > max);
        if long {
            return Err(format!("{what} is longer than {max} characters"));
        }
    }
    Ok(())
}

/// The manifest's capability as the host's.
pub fn capability_of(c: abi::latest::guest::Capability) -> Capability {
    use abi::latest::guest::Capability as G;
    match c {
        G::Customers => Capability::Customers,
        G::Records => Capability::Records,
        G::Consent => Capability::Consent,
        G::Events => Capability::Events,
        G::Log => Capability::Log,
        G::Clock => Capability::Clock,
        G::Scratch => Capability::Scratch,
    }
}

/// Parses an Ed25519 public key given as 64 hex characters.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim())
        .map_err(|_| "the public key must be 64 hex characters".to_string())?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "the public key must be 32 bytes (64 hex characters)".to_string())?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| "the public key is not a valid Ed25519 key".to_string())
}

/// Parses a detached Ed25519 signature given as hex (128 characters) or base64, or raw 64 bytes.
pub fn parse_signature(raw: &[u8]) -> Result<Signature, AppError> {
    let text = std::str::from_utf8(raw).map(str::trim).unwrap_or("");
    let bytes = if raw.len() == 64 && text.len() != 64 {
        raw.to_vec()
    } else if let Ok(b) = hex::decode(text) {
        b
    } else {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                unprocessable(
                    "bad_signature",
                    "the signature is neither hex, base64 nor 64 raw bytes",
                )
            })?
    };
    let arr: [u8; 64] = bytes
        .try_into()
        .map_err(|_| unprocessable("bad_signature", "an Ed25519 signature is 64 bytes"))?;
    Ok(Signature::from_bytes(&arr))
}

/// Which trusted key (by name) signed `bytes`; refuses a signature none of them verifies, and
/// a missing one when the tenant requires signatures.
pub fn verify_signature(
    bytes: &[u8],
    signature: Option<&Signature>,
    trusted: &[(String, String)],
    required: bool,
) -> Result<Option<String>, AppError> {
    let Some(sig) = signature else {
        if required {
            return Err(unprocessable(
                "signature_required",
                "this tenant accepts only plugins signed by a trusted publisher; no signature was given",
            ));
        }
        return Ok(None);
    };
    for (name, key) in trusted {
        if let Ok(k) = parse_public_key(key)
            && k.verify(bytes, sig).is_ok()
        {
            return Ok(Some(name.clone()));
        }
    }
    Err(unprocessable(
        "bad_signature",
        if trusted.is_empty() {
            "the signature cannot be checked: this tenant trusts no publisher key".to_string()
        } else {
            format!(
                "the signature does not verify against any of this tenant's {} trusted publisher key(s)",
                trusted.len()
            )
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn imports_map_to_capabilities() {
        let caps = needed_capabilities(
            &names(&[
                "crm:platform/types@0.1.0",
                "crm:platform/customers@0.1.0",
                "crm:platform/log@0.1.0",
                "wasi:cli/stdout@0.2.6",
                "wasi:filesystem/preopens@0.2.6",
            ]),
            "0.1.0",
        )
        .unwrap();
        assert_eq!(
            caps.into_iter().collect::<Vec<_>>(),
            vec![Capability::Customers, Capability::Log]
        );
    }

    #[test]
    fn what_other_languages_runtimes_import_needs_no_grant() {
        // componentize-py's CPython imports these whether or not the plugin uses them; the host
        // links them denying (sockets) or with no directory (filesystem without `scratch`).
        let caps = needed_capabilities(
            &names(&[
                "wasi:filesystem/types@0.2.9",
                "wasi:filesystem/preopens@0.2.9",
                "wasi:sockets/network@0.2.9",
                "wasi:sockets/instance-network@0.2.9",
                "wasi:sockets/tcp@0.2.9",
                "wasi:sockets/tcp-create-socket@0.2.9",
                "wasi:sockets/udp@0.2.9",
                "wasi:sockets/udp-create-socket@0.2.9",
                "wasi:sockets/ip-name-lookup@0.2.9",
                "crm:platform/customers@0.1.0",
            ]),
            "0.1.0",
        )
        .unwrap();
        assert_eq!(
            caps.into_iter().collect::<Vec<_>>(),
            vec![Capability::Customers]
        );
    }

    #[test]
    fn foreign_imports_are_refused() {
        for bad in [
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:keyvalue/store@0.2.0-draft",
            "crm:platform/customers@0.2.0",
            "crm:platform/admin@0.1.0",
        ] {
            let e = needed_capabilities(&names(&[bad]), "0.1.0").unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Rejected, "{bad}");
        }
    }

    #[test]
    fn versions_and_names() {
        assert!(version_ok("1.4.0") && version_ok("0.1.0-beta.2"));
        assert!(!version_ok("1.4") && !version_ok("v1.4.0") && !version_ok("1.4.0-x y"));
        assert!(name_ok("hello", b'-') && name_ok("a-b2", b'-'));
        assert!(!name_ok("Hello", b'-') && !name_ok("2a", b'-') && !name_ok("", b'-'));
    }

    #[test]
    fn signatures() {
        use ed25519_dalek::{Signer, SigningKey};
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().to_bytes());
        let trusted = vec![("acme".to_string(), public)];
        let sig = key.sign(b"component");
        let hex_sig = hex::encode(sig.to_bytes());
        let parsed = parse_signature(hex_sig.as_bytes()).unwrap();
        assert_eq!(
            verify_signature(b"component", Some(&parsed), &trusted, true).unwrap(),
            Some("acme".into())
        );
        assert_eq!(
            verify_signature(b"other", Some(&parsed), &trusted, false)
                .unwrap_err()
                .code,
            "bad_signature"
        );
        assert_eq!(
            verify_signature(b"component", None, &trusted, true)
                .unwrap_err()
                .code,
            "signature_required"
        );
        assert_eq!(
            verify_signature(b"component", None, &trusted, false).unwrap(),
            None
        );
    }
}
