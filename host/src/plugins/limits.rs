//! What a plugin may use per call: the limits an admin can tighten, never loosen.

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

/// The most any plugin may have, whatever an admin configures (the pool is sized for it).
pub(crate) const MAX_MEMORY: usize = 64 << 20;

/// Per-plugin limits. The defaults are the ceiling: an admin can only tighten them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock deadline of `render`, `act` and `on-event`, in milliseconds.
    pub deadline_ms: u64,
    /// Wall-clock deadline of `run-job`, in milliseconds.
    pub job_deadline_ms: u64,
    /// Fuel (roughly, Wasm instructions) per call; none means only the deadline bounds work.
    pub fuel: Option<u64>,
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// Elements of all tables together.
    pub table_elements: usize,
    /// Core instances a component may create.
    pub instances: usize,
    /// Bytes of request (params, inputs) passed in.
    pub input_bytes: usize,
    /// Bytes of the result (as JSON) passed out.
    pub output_bytes: usize,
    /// Host-capability calls per invocation.
    pub host_calls: u32,
    /// Bytes of log (log lines, stdout, stderr) kept per invocation.
    pub log_bytes: usize,
    /// Bytes the plugin's records may take (sealed data and index rows).
    pub storage_bytes: usize,
}

/// The platform's deadline for `render`, `act` and `on-event`: 100 ms, or `CRM_PLUGIN_DEADLINE_MS`
/// (10 to 60,000) for an operator whose hosts are slower (the test suite runs debug builds on
/// busy machines).
fn deadline_ceiling() -> u64 {
    static CEILING: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *CEILING.get_or_init(|| {
        std::env::var("CRM_PLUGIN_DEADLINE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(100, |v| v.clamp(10, 60_000))
    })
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline_ms: deadline_ceiling(),
            job_deadline_ms: 10_000,
            fuel: None,
            memory_bytes: MAX_MEMORY,
            table_elements: 20_000,
            // Core instances (and memories, tables) per call: the pool's per-component maximum.
            instances: 64,
            input_bytes: 64 << 10,
            output_bytes: 1 << 20,
            host_calls: 1_000,
            log_bytes: 16 << 10,
            storage_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Checks that every limit is within the default (the ceiling) and above zero.
    pub fn check(&self) -> Result<(), String> {
        let d = Self::default();
        let within = |name: &str, v: u64, max: u64| -> Result<(), String> {
            if v == 0 || v > max {
                Err(format!(
                    "limit {name} must be between 1 and {max} (got {v})"
                ))
            } else {
                Ok(())
            }
        };
        within("deadline_ms", self.deadline_ms, d.deadline_ms)?;
        within("job_deadline_ms", self.job_deadline_ms, d.job_deadline_ms)?;
        if let Some(f) = self.fuel {
            within("fuel", f, u64::MAX)?;
        }
        within(
            "memory_bytes",
            self.memory_bytes as u64,
            d.memory_bytes as u64,
        )?;
        within(
            "table_elements",
            self.table_elements as u64,
            d.table_elements as u64,
        )?;
        within("instances", self.instances as u64, d.instances as u64)?;
        within("input_bytes", self.input_bytes as u64, d.input_bytes as u64)?;
        within(
            "output_bytes",
            self.output_bytes as u64,
            d.output_bytes as u64,
        )?;
        within("host_calls", self.host_calls.into(), d.host_calls.into())?;
        within("log_bytes", self.log_bytes as u64, d.log_bytes as u64)?;
        within(
            "storage_bytes",
            self.storage_bytes as u64,
            d.storage_bytes as u64,
        )
    }
}

/// Caps growth of memories, tables and instances, and remembers which cap stopped the plugin.
pub(crate) struct Limiter {
    pub(crate) memory: usize,
    pub(crate) table_elements: usize,
    /// Instances, and also memories and tables (a component makes one or a few of each per instance).
    pub(crate) instances: usize,
    pub(crate) hit: Option<String>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            let why = format!("memory limit of {} MiB exceeded", self.memory >> 20);
            self.hit = Some(why.clone());
            return Err(wasmtime::format_err!(why));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            let why = format!("table limit of {} elements exceeded", self.table_elements);
            self.hit = Some(why.clone());
            return Err(wasmtime::format_err!(why));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }
}

#[cfg(test)]
mod tests {
    use super::Limits;

    #[test]
    fn limits_can_only_be_tightened() {
        assert!(Limits::default().check().is_ok());
        let tighter = Limits {
            deadline_ms: 20,
            memory_bytes: 8 << 20,
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        assert!(tighter.check().is_ok());
        for looser in [
            Limits {
                deadline_ms: 101,
                ..Limits::default()
            },
            Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
            Limits {
                host_calls: 0,
                ..Limits::default()
            },
            Limits {
                fuel: Some(0),
                ..Limits::default()
            },
        ] {
            assert!(looser.check().is_err(), "{looser:?}");
        }
        let e = serde_json::from_str::<Limits>(r#"{"memory": 1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"));
    }
}
