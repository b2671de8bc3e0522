//! The versions of the `crm:platform` interface this host supports, one binding module each.
//!
//! When the interface grows, a new `wit/<version>/` gets its own module here and the older ones
//! stay, so plugins built for them keep working.

pub mod v0_1_0;

/// Every `crm:platform` version a plugin may target.
pub const SUPPORTED: &[&str] = &["0.1.0"];

/// The package a plugin's interfaces belong to.
pub const PACKAGE: &str = "crm:platform";
