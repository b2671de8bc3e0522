//! Tenant plugins: Wasm components that run in Wasmtime sandboxes and reach tenant data only
//! through the capabilities a tenant admin granted them.
//!
//! Request path: `lifecycle` (install, upgrade, enable, …: validate → store → audit) makes a
//! plugin available; `invoke` authorises a call to it and `runtime` runs it (fresh instance per call, limits, WASI with nothing
//! ambient); each host capability in `caps` checks its grant, asks the policy decision point as
//! the plugin acting for the staff member, and audits. `jobs` runs the plugins' scheduled jobs
//! and `delivery` hands them their subscribed events, both as the plugin's service identity and
//! both taken by `worker`, leased and retried by the rule in `retry`.

pub mod abi;
pub mod caps;
pub mod delivery;
pub mod invoke;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod package;
pub mod pool;
pub mod retry;
pub mod runtime;
pub mod schedule;
pub mod screens;
pub mod subject;
pub mod worker;

pub use runtime::{Limits, Runtime};
