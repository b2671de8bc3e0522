//! The broadcaster CRM host: encrypted customer store, staff sign-in, one policy decision point,
//! hash-chained audit trail, served over HTTP by the `crm` binary.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod config;
pub mod customers;
pub mod error;
pub mod events;
pub mod import;
#[cfg(test)]
mod layers;
pub mod ledger;
pub mod metrics;
pub mod oversight;
pub mod plugins;
pub mod policy;
pub mod policy_admin;
pub mod privacy;
pub mod ratelimit;
pub mod server;
pub mod sessions;
pub mod store;
pub mod tenants;
#[cfg(test)]
mod testing;
pub mod vault;
