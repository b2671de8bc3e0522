//! OPA bundles (`bundle.tar.gz`), as `opa build -t wasm` writes them: `/policy.wasm`,
//! `/data.json`, `/.manifest` (naming the Wasm entrypoints) and the Rego sources.

use std::io::{Read, Write};

use anyhow::{Context, bail};

use super::set::{Build, MAX_FILE_BYTES, MAX_FILES, PolicySet};
use crate::policy::{TENANT_DECISION_RULE, opa_entrypoint};

/// Largest bundle accepted, compressed and unpacked.
pub const MAX_BUNDLE_BYTES: u64 = 32 << 20;

/// The `.manifest` of a bundle we write.
fn manifest(revision: &str) -> serde_json::Value {
    let entrypoint = opa_entrypoint(TENANT_DECISION_RULE);
    serde_json::json!({
        "revision": revision,
        "roots": ["crm/tenant"],
        "wasm": [{"entrypoint": entrypoint, "module": "/policy.wasm"}],
        "rego_version": 1,
        "metadata": {"builder": "crm policy build", "mode": "see policy.wasm"},
    })
}

/// Writes `set` and its build as a bundle. Deterministic: same input, same bytes.
pub fn write(set: &PolicySet, build: &Build) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, data: &[u8]| -> anyhow::Result<()> {
        let mut header = tar::Header::new_gnu();
        // OPA names entries with a leading `/`, which `Header::set_path` refuses: set it raw.
        let name = format!("/{path}");
        let field = &mut header.as_old_mut().name;
        if name.len() > field.len() {
            bail!("path too long for a bundle: {path}");
        }
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, data)?;
        Ok(())
    };
    let mut manifest = manifest(&set.digest());
    manifest["metadata"]["mode"] = serde_json::Value::String(build.mode.clone());
    add(".manifest", &serde_json::to_vec_pretty(&manifest)?)?;
    add("data.json", build.data.to_string().as_bytes())?;
    add("policy.wasm", &build.wasm)?;
    for (path, source) in &set.files {
        add(path, source.as_bytes())?;
    }
    let gz = tar.into_inner()?;
    Ok(gz.finish()?)
}

/// A bundle's entries, read and checked for shape but not yet for what a tenant set needs.
pub(crate) struct Unpacked {
    /// The Rego files, by path.
    pub set: PolicySet,
    /// `/policy.wasm`, if any.
    pub wasm: Option<Vec<u8>>,
    /// `/data.json` (`{}` if absent).
    pub data: serde_json::Value,
    /// The Wasm entrypoints `.manifest` declares (`None`: no manifest, or no `wasm` section).
    pub entrypoints: Option<Vec<String>>,
    /// The Rego files `.manifest` marks as Rego v0 (`rego_version`, `file_rego_versions`).
    pub v0_files: Vec<String>,
}

/// Reads a bundle's entries, refusing anything that is not a well-formed bundle.
pub(crate) fn unpack(bytes: &[u8]) -> anyhow::Result<Unpacked> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        bail!("the bundle is larger than {MAX_BUNDLE_BYTES} bytes");
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        bail!("not a bundle: expected a gzip-compressed tar archive (bundle.tar.gz)");
    }
    let Entries {
        set,
        wasm,
        data,
        manifest,
    } = read_entries(bytes)?;
    let data = data.unwrap_or_else(|| serde_json::json!({}));
    if !data.is_object() {
        bail!("data.json must hold a JSON object");
    }
    if let Some(w) = &wasm
        && !w.starts_with(b"\0asm")
    {
        bail!("/policy.wasm is not a WebAssembly module");
    }
    let (entrypoints, v0_files) = manifest_facts(manifest.as_ref(), &set);
    Ok(Unpacked {
        set,
        wasm,
        data,
        entrypoints,
        v0_files,
    })
}

/// The entries of a bundle that matter, each bounded as it is read.
struct Entries {
    set: PolicySet,
    wasm: Option<Vec<u8>>,
    data: Option<serde_json::Value>,
    manifest: Option<serde_json::Value>,
}

/// Reads the archive's entries: the Rego files, `/policy.wasm`, `/data.json` and `/.manifest`;
/// other files are skipped, and counts and sizes are bounded before anything is kept.
fn read_entries(bytes: &[u8]) -> anyhow::Result<Entries> {
    let gz = flate2::read::GzDecoder::new(bytes).take(MAX_BUNDLE_BYTES + 1);
    let mut archive = tar::Archive::new(gz);
    let mut set = PolicySet::default();
    let (mut wasm, mut data, mut manifest) = (None, None, None);
    let mut total = 0u64;
    for (n, entry) in archive
        .entries()
        .context("not a bundle: unreadable tar archive")?
        .enumerate()
    {
        if n > MAX_FILES + 8 {
            bail!("the bundle has too many entries (at most {MAX_FILES} policy files)");
        }
        let mut entry = entry.context("not a bundle: corrupt tar entry")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = raw
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        total += entry.size();
        if total > MAX_BUNDLE_BYTES {
            bail!("the bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes");
        }
        let mut buf = Vec::new();
        entry
            .by_ref()
            .take(MAX_BUNDLE_BYTES)
            .read_to_end(&mut buf)
            .with_context(|| format!("not a bundle: cannot read {path}"))?;
        match path.as_str() {
            "policy.wasm" => wasm = Some(buf),
            "data.json" => {
                data = Some(
                    serde_json::from_slice::<serde_json::Value>(&buf)
                        .context("data.json is not valid JSON")?,
                )
            }
            ".manifest" => {
                manifest = Some(
                    serde_json::from_slice::<serde_json::Value>(&buf)
                        .context(".manifest is not valid JSON")?,
                )
            }
            p if p.ends_with(".rego") => {
                if buf.len() > MAX_FILE_BYTES {
                    bail!("{p}: larger than {MAX_FILE_BYTES} bytes");
                }
                let source = String::from_utf8(buf).with_context(|| format!("{p}: not UTF-8"))?;
                set.files.insert(p.to_string(), source);
            }
            // Other files (data under sub-paths, signatures) are not used.
            _ => {}
        }
    }
    Ok(Entries {
        set,
        wasm,
        data,
        manifest,
    })
}

/// What a bundle's `.manifest` says: its Wasm entrypoints, and which Rego files it marks as v0.
fn manifest_facts(
    manifest: Option<&serde_json::Value>,
    set: &PolicySet,
) -> (Option<Vec<String>>, Vec<String>) {
    let entrypoints = manifest
        .and_then(|m| m.get("wasm"))
        .and_then(|w| w.as_array())
        .map(|eps| {
            eps.iter()
                .filter_map(|e| e.get("entrypoint").and_then(|e| e.as_str()))
                .map(str::to_string)
                .collect()
        });
    let version_of = |path: &str| {
        let manifest = manifest?;
        let file = manifest
            .get("file_rego_versions")
            .and_then(|f| f.as_object());
        file.and_then(|f| f.get(path).or_else(|| f.get(&format!("/{path}"))))
            .or_else(|| manifest.get("rego_version"))
            .and_then(|v| v.as_i64())
    };
    let v0_files = set
        .files
        .keys()
        .filter(|p| version_of(p) == Some(0))
        .cloned()
        .collect();
    (entrypoints, v0_files)
}

/// Reads a bundle for a tenant: its Rego files (for tests, diff and history) and, when it
/// carries `/policy.wasm`, the module that will decide (with `/data.json`), which must have the
/// tenant's decision entrypoint.
pub fn read(bytes: &[u8]) -> anyhow::Result<(PolicySet, Option<Build>)> {
    let Unpacked {
        set,
        wasm,
        data,
        entrypoints,
        v0_files,
    } = unpack(bytes)?;
    if !v0_files.is_empty() {
        bail!(
            "the bundle's .manifest marks {} as Rego v0; policy sets here are Rego v1, which their \
             tests are checked as: rewrite them with `opa fmt --v0-v1` and build again",
            v0_files.join(", ")
        );
    }
    let Some(wasm) = wasm else {
        if set.files.is_empty() {
            bail!("the bundle holds neither /policy.wasm nor any .rego file");
        }
        return Ok((set, None));
    };
    let want = opa_entrypoint(TENANT_DECISION_RULE);
    if let Some(eps) = entrypoints
        && !eps.contains(&want)
    {
        bail!(
            "the bundle's .manifest declares no Wasm entrypoint {want} (it declares: {}); \
             build it with `opa build -t wasm -e {want}`",
            if eps.is_empty() {
                "none".to_string()
            } else {
                eps.join(", ")
            }
        );
    }
    let build = Build {
        wasm,
        data,
        mode: "bundle".into(),
    };
    Ok((set, Some(build)))
}

/// Writes `bytes` to `path` (the CLI's `-o`).
pub fn save(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn set() -> PolicySet {
        PolicySet {
            files: [(
                "rules.rego".to_string(),
                include_str!("../../../policies/tenant-example/rules.rego").to_string(),
            )]
            .into(),
        }
    }

    #[test]
    fn a_bundle_round_trips_and_is_deterministic() {
        let set = set();
        let build = set.build().expect("builds");
        let a = write(&set, &build).unwrap();
        assert_eq!(a, write(&set, &build).unwrap(), "same input, same bytes");
        let (back, prebuilt) = read(&a).unwrap();
        assert_eq!(back, set);
        let prebuilt = prebuilt.expect("carries the module");
        assert_eq!(prebuilt.wasm, build.wasm);
        assert_eq!(prebuilt.mode, "bundle");
        // The entries are named as `opa build` names them.
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&a[..]));
        for e in ar.entries().unwrap() {
            names.push(String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned());
        }
        assert_eq!(
            names,
            ["/.manifest", "/data.json", "/policy.wasm", "/rules.rego"]
        );
    }

    #[test]
    fn bad_bundles_are_refused_with_a_reason() {
        let err = |b: &[u8]| read(b).unwrap_err().to_string();
        assert!(err(b"hello").contains("gzip"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"not a tar archive at all, just text that is long enough")
            .unwrap();
        let junk = gz.finish().unwrap();
        assert!(read(&junk).is_err());
        let set = set();
        let mut build = set.build().unwrap();
        build.wasm = b"MZ not wasm".to_vec();
        assert!(err(&write(&set, &build).unwrap()).contains("not a WebAssembly module"));
        build.data = serde_json::json!([1, 2]);
        build.wasm = b"\0asm\x01\0\0\0".to_vec();
        assert!(err(&write(&set, &build).unwrap()).contains("JSON object"));
    }

    /// `tests/fixtures/opa-build`: a bundle the real `opa build -t wasm` wrote.
    pub(crate) const OPA_BUILT: &[u8] =
        include_bytes!("../../../tests/fixtures/opa-build/example.tar.gz");

    #[test]
    fn a_bundle_from_opa_build_is_read_and_refused_for_want_of_the_tenant_entrypoint() {
        let u = unpack(OPA_BUILT).expect("OPA's own bundle layout is understood");
        let wasm = u.wasm.expect("carries /policy.wasm");
        assert!(wasm.starts_with(b"\0asm") && wasm.len() == 132_123);
        assert_eq!(u.data, serde_json::json!({}));
        assert_eq!(
            u.entrypoints.as_deref(),
            Some(
                &[
                    "example/project_permissions".to_string(),
                    "example/user_project".to_string()
                ][..]
            )
        );
        assert_eq!(u.set.files.keys().collect::<Vec<_>>(), ["example.rego"]);
        // As a tenant's set it cannot decide: the refusal says what it has and what to build.
        let e = read(OPA_BUILT).unwrap_err().to_string();
        assert!(
            e.contains("no Wasm entrypoint crm/tenant/decision")
                && e.contains("it declares: example/project_permissions, example/user_project")
                && e.contains("opa build -t wasm -e crm/tenant/decision"),
            "{e}"
        );
    }

    /// A bundle of `entries` (path, bytes), packed as `opa build` packs one.
    fn pack(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            tar.append_data(&mut h, path, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn rego_v0_sources_are_refused_by_the_manifest_s_word() {
        let rules = include_str!("../../../policies/tenant-example/rules.rego").as_bytes();
        let with = |manifest: &str| {
            read(&pack(&[
                (".manifest", manifest.as_bytes()),
                ("rules.rego", rules),
                ("old.rego", b"package crm.tenant.old\n"),
            ]))
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        let e = with(r#"{"revision": "", "rego_version": 0}"#).unwrap_err();
        assert!(
            e.contains("marks old.rego, rules.rego as Rego v0") && e.contains("opa fmt --v0-v1"),
            "{e}"
        );
        // Per-file versions override the bundle's, with or without OPA's leading `/`.
        let e =
            with(r#"{"revision": "", "rego_version": 1, "file_rego_versions": {"/old.rego": 0}}"#)
                .unwrap_err();
        assert!(e.contains("marks old.rego as Rego v0"), "{e}");
        with(r#"{"revision": "", "rego_version": 0, "file_rego_versions": {"old.rego": 1, "/rules.rego": 1}}"#)
            .unwrap();
        with(r#"{"revision": ""}"#).unwrap();
    }

    /// The real `opa build -t wasm` output (`tests/fixtures/opa-build`) through the engine that
    /// serves decisions (cache, pool, budget, memory cap) answers as regorus does on its source.
    #[test]
    fn a_module_built_by_opa_itself_answers_as_regorus_does_on_its_source() {
        use crate::policy::Engine as _;
        let bundle = unpack(OPA_BUILT).unwrap();
        let wasm = bundle.wasm.unwrap();
        let data = serde_json::json!({
            "users": {
                "ann": {"projects": {"news": {"roles": ["owner"]}, "sport": {"roles": ["viewer"]}}},
                "bo": {"projects": {"news": {"roles": ["viewer", "owner"]}}},
            },
            "projects": {"news": {}, "sport": {}},
        });
        let engine = crate::policy::WasmEngine::new(
            &wasm,
            data.clone(),
            "data.example.project_permissions",
            "opa-built".into(),
        )
        .expect("the OPA-built module loads");
        let mut native = regorus::Engine::new();
        native.set_rego_v0(true);
        native
            .add_policy(
                "example.rego".into(),
                include_str!("../../../tests/fixtures/opa-build/example.rego").into(),
            )
            .unwrap();
        native
            .add_data(regorus::Value::from_json_str(&data.to_string()).unwrap())
            .unwrap();
        let mut allowed = 0;
        for user in ["ann", "bo", "cy"] {
            for project in ["news", "sport", "weather"] {
                let input = serde_json::json!({"user_id": user, "project_id": project}).to_string();
                native.set_input(regorus::Value::from_json_str(&input).unwrap());
                let want = native
                    .eval_rule("data.example.project_permissions".into())
                    .unwrap();
                let want = serde_json::to_value(&want).unwrap();
                // Twice: the second evaluation reuses the pooled instance.
                for _ in 0..2 {
                    let wasm = engine
                        .evaluate(&serde_json::value::RawValue::from_string(input.clone()).unwrap())
                        .unwrap();
                    assert_eq!(wasm, want, "{input}");
                    allowed += usize::from(wasm != serde_json::json!([]));
                }
            }
        }
        // Owners get ["read", "write"]; the comparison is not vacuous.
        assert_eq!(allowed, 4);
        assert_eq!(
            engine
                .evaluate(
                    &serde_json::value::RawValue::from_string(
                        r#"{"user_id":"bo","project_id":"news"}"#.into()
                    )
                    .unwrap()
                )
                .unwrap(),
            serde_json::json!(["read", "write"])
        );
    }
}
