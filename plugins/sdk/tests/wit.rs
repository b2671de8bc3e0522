//! The WIT packages in `wit/0.1.0` and `wit/0.2.0` parse with wit-parser 0.254 (the parser
//! Wasmtime 48's `bindgen!` uses), have the shape the host relies on, and document every item.

use std::path::PathBuf;

use wit_parser::{Resolve, TypeDefKind, WorldItem, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit/0.1.0");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(&dir).expect("wit/0.1.0 parses");
    (resolve, pkg)
}

fn name(resolve: &Resolve, key: &WorldKey) -> String {
    resolve.name_world_key(key)
}

#[test]
fn package_and_world() {
    let (resolve, pkg) = resolve();
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "crm:platform@0.1.0");
    let world = &resolve.worlds[package.worlds["plugin"]];
    let mut imports: Vec<String> = world.imports.keys().map(|k| name(&resolve, k)).collect();
    imports.sort();
    let expected: Vec<String> = [
        "clock",
        "consent",
        "customers",
        "events",
        "log",
        "records",
        "types",
        "ui",
    ]
    .iter()
    .map(|i| format!("crm:platform/{i}@0.1.0"))
    .collect();
    assert_eq!(imports, expected);
    let exports: Vec<String> = world.exports.keys().map(|k| name(&resolve, k)).collect();
    assert_eq!(exports, ["crm:platform/guest@0.1.0"]);
    // Only whole interfaces: a capability is granted by linking an interface or not.
    for item in world.imports.values().chain(world.exports.values()) {
        assert!(matches!(item, WorldItem::Interface { .. }), "{item:?}");
    }
    // `types` and `ui` are type-only (always linked); the others are the capabilities.
    for (key, item) in &world.imports {
        let WorldItem::Interface { id, .. } = item else {
            unreachable!()
        };
        let n = name(&resolve, key);
        let has_functions = !resolve.interfaces[*id].functions.is_empty();
        assert_eq!(
            has_functions,
            !(n.contains("/types@") || n.contains("/ui@")),
            "{n}"
        );
    }
}

#[test]
fn capabilities_name_the_interfaces() {
    let (resolve, pkg) = resolve();
    let guest = resolve.packages[pkg].interfaces["guest"];
    let capability = resolve.interfaces[guest].types["capability"];
    let TypeDefKind::Enum(e) = &resolve.types[capability].kind else {
        panic!("capability is an enum")
    };
    for case in &e.cases {
        if case.name == "scratch" {
            continue; // a WASI directory, not an interface of this package
        }
        assert!(
            resolve.packages[pkg].interfaces.contains_key(&case.name),
            "capability {} has no interface",
            case.name
        );
    }
}

/// 0.2.0's world is 0.1.0's (the same interfaces, still `@0.1.0`) plus the `subject` export.
#[test]
fn version_0_2_0_is_0_1_0_plus_the_subject_export() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit/0.2.0");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(&dir)
        .expect("wit/0.2.0 parses with its deps");
    let package = &resolve.packages[pkg];
    assert_eq!(
        package.name.to_string(),
        format!("crm:platform@{}", crm_plugin_sdk::PLATFORM_VERSION)
    );
    let (old, old_pkg) = self::resolve();
    let old_world = &old.worlds[old.packages[old_pkg].worlds["plugin"]];
    let world = &resolve.worlds[package.worlds["plugin"]];
    let keys = |r: &Resolve, items: &wit_parser::IndexMap<WorldKey, WorldItem>| {
        let mut k: Vec<String> = items.keys().map(|k| name(r, k)).collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&resolve, &world.imports),
        keys(&old, &old_world.imports)
    );
    assert_eq!(
        keys(&resolve, &world.exports),
        ["crm:platform/guest@0.1.0", "crm:platform/subject@0.2.0"]
    );
    documented(&resolve, pkg);
}

#[test]
fn every_item_is_documented() {
    let (resolve, pkg) = resolve();
    documented(&resolve, pkg);
}

fn documented(resolve: &Resolve, pkg: wit_parser::PackageId) {
    let mut missing = Vec::new();
    for (name, id) in &resolve.packages[pkg].interfaces {
        let iface = &resolve.interfaces[*id];
        if iface.docs.contents.is_none() {
            missing.push(format!("interface {name}"));
        }
        for (f, func) in &iface.functions {
            if func.docs.contents.is_none() {
                missing.push(format!("{name}.{f}"));
            }
        }
        for (t, ty) in &iface.types {
            let def = &resolve.types[*ty];
            // A `use`d type is documented where it is defined.
            let used = matches!(def.kind, TypeDefKind::Type(wit_parser::Type::Id(_)));
            if !used && def.docs.contents.is_none() {
                missing.push(format!("{name}.{t}"));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
