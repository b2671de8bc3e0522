//! The WIT package in `wit/0.1.0` parses with wit-parser 0.254 (the parser Wasmtime 48's
//! `bindgen!` uses), has the shape the host relies on, and documents every item.

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
    assert_eq!(
        package
            .name
            .version
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(crm_plugin_sdk::PLATFORM_VERSION)
    );
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

#[test]
fn every_item_is_documented() {
    let (resolve, pkg) = resolve();
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
