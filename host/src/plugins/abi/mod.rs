//! The versions of the `crm:platform` interface this host supports, one frozen binding module
//! each, and `latest`: the only name the rest of the host uses.
//!
//! The capabilities implement `latest`'s host traits and the host works in `latest`'s types.
//! Adding `crm:platform@0.2.0` is one new file: `v0_2_0.rs` with its `bindgen!`, becoming
//! `latest`; the module of 0.1.0 then implements its own (frozen) host traits by converting to
//! and from the new types and calling the `latest` implementations, as Zed's
//! `extension_host/src/wasm_host/wit/since_v0_*.rs` do, so plugins built for 0.1.0 keep working.

pub mod v0_1_0;

pub use v0_1_0 as latest;

/// Every `crm:platform` version a plugin may target.
pub const SUPPORTED: &[&str] = &["0.1.0"];

/// The package a plugin's interfaces belong to.
pub const PACKAGE: &str = "crm:platform";
