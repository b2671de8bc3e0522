//! Bindings of `crm:platform@0.2.0` (`wit/0.2.0/`). Its world is 0.1.0's, interfaces unchanged,
//! plus the `subject` export; so a 0.2.0 plugin runs on 0.1.0's bindings for everything else,
//! and only `subject` is bound here.

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "subject-rights",
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use exports::crm::platform0_2_0::subject;

/// The export a 0.2.0 plugin adds to 0.1.0's world.
pub const SUBJECT_EXPORT: &str = "crm:platform/subject@0.2.0";
