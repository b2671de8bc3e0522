//! Tenant plugins: Wasm components that run in Wasmtime sandboxes and reach tenant data only
//! through the capabilities a tenant admin granted them.
//!
//! Request path: `lifecycle` (install, upgrade, enable, …: validate → store → audit) makes a
//! plugin available; `runtime` calls it (fresh instance per call, limits, WASI with nothing
//! ambient); each host capability in `caps` checks its grant, asks the policy decision point as
//! the plugin acting for the staff member, and audits. `jobs` runs the plugins' scheduled jobs
//! and `delivery` hands them their subscribed events, both as the plugin's service identity.

pub mod abi;
pub mod caps;
pub mod delivery;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod package;
pub mod pool;
pub mod runtime;
pub mod screens;

pub use runtime::{Limits, Runtime};
