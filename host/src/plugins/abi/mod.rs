//! The versions of the `crm:platform` interface this host supports, one frozen binding module
//! each, and `latest`: the interfaces' bindings the rest of the host uses.
//!
//! 0.2.0 is additive: its world includes 0.1.0's (the interfaces keep their `@0.1.0` names and
//! their bindings) and adds the `subject` export, bound in [`v0_2_0`]. A plugin of either
//! version runs on `latest`'s bindings; a 0.2.0 one is also asked about data-subject requests.
//! A version that changes an interface would bring its own bindings, and the older module would
//! implement its frozen host traits by converting to the new types, as Zed's
//! `extension_host/src/wasm_host/wit/since_v0_*.rs` do.

pub mod v0_1_0;
pub mod v0_2_0;

pub use v0_1_0 as latest;

/// Every `crm:platform` version a plugin may target.
pub const SUPPORTED: &[&str] = &["0.1.0", "0.2.0"];

/// The version whose world adds the `subject` export.
pub const SUBJECT_VERSION: &str = "0.2.0";

/// The package a plugin's interfaces belong to.
pub const PACKAGE: &str = "crm:platform";
