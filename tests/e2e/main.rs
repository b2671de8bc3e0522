//! End-to-end tests: the real `crm` binary, real HTTP, real SQLite, real policies.

mod common;

mod audit_trail;
mod auth;
mod backup;
mod bad_input;
mod browser;
mod encryption;
mod plugin_host_work;
mod plugins;
mod plugins_capabilities;
mod plugins_events;
mod plugins_hostile;
mod plugins_install;
mod plugins_screens;
mod policies;
mod privacy;
mod python_plugin;
mod roles;
mod schema;
mod security;
mod tenancy;
mod transport;
mod workflows;
