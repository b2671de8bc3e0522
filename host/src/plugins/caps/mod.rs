//! Host capabilities for plugins, one module each: its `crm:platform` binding (`Host` impl),
//! its grant, and its per-call state. Every call passes `CallState::admit` (grant and host-call
//! cap), then the same request path as a staff request, as the plugin acting for the staff member.

pub mod clock;
pub mod consent;
pub mod customers;
pub mod events;
pub mod log;
pub mod records;
pub mod wasi;

use serde::{Deserialize, Serialize};

use super::abi::v0_1_0::{Error, FieldError, Label, LimitInfo};
use super::runtime::CallState;
use crate::error::AppError;

/// Calls past the host-call cap first get `limit-exceeded`; a plugin that keeps calling this
/// many more times is stopped.
const GRACE: u32 = 100;

/// A capability a tenant admin can grant: one importable interface each (`scratch` is the
/// `wasi:filesystem` preopen).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Customers,
    Records,
    Consent,
    Events,
    Log,
    Clock,
    Scratch,
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Self::Customers,
        Self::Records,
        Self::Consent,
        Self::Events,
        Self::Log,
        Self::Clock,
        Self::Scratch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Records => "records",
            Self::Consent => "consent",
            Self::Events => "events",
            Self::Log => "log",
            Self::Clock => "clock",
            Self::Scratch => "scratch",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl CallState {
    /// Checks the grant and counts the call against the host-call cap.
    pub(crate) fn admit(&mut self, cap: Capability) -> wasmtime::Result<Result<(), Error>> {
        if !self.grants.contains(&cap) {
            // Unreachable through linking (ungranted interfaces are not linked): defence in depth.
            let why = format!("called the ungranted capability {}", cap.name());
            self.stopped = Some(why.clone());
            wasmtime::bail!(why);
        }
        self.host_calls = self.host_calls.saturating_add(1);
        let max = self.limits.host_calls;
        if self.host_calls > max.saturating_add(GRACE) {
            let why = format!("host-call limit of {max} per call exceeded (and ignored)");
            self.stopped = Some(why.clone());
            wasmtime::bail!(why);
        }
        if self.host_calls > max {
            return Ok(Err(Error::LimitExceeded(LimitInfo {
                limit: "host-calls".into(),
                max: max.into(),
            })));
        }
        Ok(Ok(()))
    }
}

/// Returns early with the interface error when `admit` refuses the call.
macro_rules! admit {
    ($state:expr, $cap:expr) => {
        if let Err(e) = $state.admit($cap)? {
            return Ok(Err(e));
        }
    };
}
pub(crate) use admit;

/// A request-path error as the interface's `error` (texts carry no personal data).
pub(crate) fn wit_error(e: AppError) -> Error {
    match e.status.as_u16() {
        403 => Error::Denied(e.message),
        404 => Error::NotFound,
        400 | 422 => Error::Invalid(vec![FieldError {
            field: String::new(),
            message: label(e.message),
        }]),
        409 => Error::Conflict(e.message),
        413 | 429 => Error::LimitExceeded(LimitInfo {
            limit: e.code.to_string(),
            max: 0,
        }),
        _ => Error::Unavailable("the host could not complete the call; try again later".into()),
    }
}

/// One invalid field.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![FieldError {
        field: field.to_string(),
        message: label(message.into()),
    }])
}

pub(crate) fn label(en: String) -> Label {
    Label { en, zh_hans: None }
}
