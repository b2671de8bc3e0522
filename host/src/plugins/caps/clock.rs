//! Capability `clock`: the call's time and the tenant's time zone.

use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, Setup, View};
use crate::plugins::abi::latest::clock::{self, Host};

/// The call's logical time: a job's due time, otherwise the call's start.
pub struct State {
    now: i64,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    Ok(State { now: setup.now })
}

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    clock::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.clock))
}

impl Host for View<'_, State> {
    async fn now(&mut self) -> wasmtime::Result<i64> {
        // No error channel here: past the host-call cap the plugin is stopped by `admit`.
        let _ = self.admit(Capability::Clock)?;
        Ok(self.state.as_ref().map_or(0, |s| s.now))
    }

    async fn time_zone(&mut self) -> wasmtime::Result<String> {
        let _ = self.admit(Capability::Clock)?;
        Ok("UTC".to_string())
    }
}
