//! Capability `clock`: the call's time and the tenant's time zone.

use super::Capability;
use crate::plugins::abi::v0_1_0::crm::platform::clock::Host;
use crate::plugins::runtime::CallState;

impl Host for CallState {
    async fn now(&mut self) -> wasmtime::Result<i64> {
        // No error channel here: past the host-call cap the plugin is stopped by `admit`.
        let _ = self.admit(Capability::Clock)?;
        Ok(self.now)
    }

    async fn time_zone(&mut self) -> wasmtime::Result<String> {
        let _ = self.admit(Capability::Clock)?;
        Ok("UTC".to_string())
    }
}
