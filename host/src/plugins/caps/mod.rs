//! Host capabilities for plugins, one module each, as Fermyon Spin's factors: a capability owns
//! its `crm:platform` linking (`link`), its per-call state, built from the call's [`Setup`] (the
//! manifest, the grants, the acting member) by `configure`, and its `Host` implementation on
//! [`View`] of that state. A call's state holds the states of the granted capabilities only: an
//! ungranted one is neither linked nor configured. Every host function passes [`View::admit`]
//! (the host-call cap), then the same request path as a staff request, as the plugin acting for
//! the staff member.
//!
//! Adding a capability is one new module (`State`, `configure`, `link`, the `Host` impl) and one
//! line in the `capabilities!` list below.

pub mod clock;
pub mod consent;
pub mod customers;
pub mod events;
pub mod log;
pub mod records;
pub mod scratch;
pub mod wasi;

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::abi::latest::{Error, FieldError, Label, LimitInfo};
use super::limits::{Limiter, Limits};
use crate::app::{Actor, App};
use crate::error::{AppError, ErrorKind};

/// Calls past the host-call cap first get `limit-exceeded`; a plugin that keeps calling this
/// many more times is stopped.
const GRACE: u32 = 100;

/// What a capability may configure its per-call state from.
pub struct Setup<'a> {
    pub app: &'a Arc<App>,
    /// The staff member (or the plugin's service identity), acting through the plugin.
    pub actor: &'a Actor,
    pub plugin: &'a str,
    /// The manifest's record collections and their indexed fields.
    pub collections: &'a BTreeMap<String, Vec<String>>,
    pub limits: &'a Limits,
    /// The call's logical time (milliseconds): a job's due time, otherwise the call's start.
    pub now: i64,
    /// The call's log, where stdout and stderr go too.
    pub log: &'a log::LogBuffer,
    /// The plugin's scratch directory.
    pub scratch: &'a Path,
    /// When the call's wall-clock ceiling passes (the longest a call may take: a job's).
    pub ends: std::time::Instant,
}

/// The list of capabilities: each line is a variant of [`Capability`] (its name is the module's,
/// and the `crm:platform` interface's) and a field of [`Factors`].
macro_rules! capabilities {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)*) => {
        /// A capability a tenant admin can grant: one importable interface each (`scratch` is the
        /// `wasi:filesystem` preopen).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum Capability {
            $($(#[$doc])* $variant,)*
        }

        impl Capability {
            pub const ALL: [Capability; [$(stringify!($module)),*].len()] = [$(Self::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($module),)*
                }
            }
        }

        /// The per-call states of the granted capabilities; `None` where not granted.
        #[derive(Default)]
        pub struct Factors {
            $(pub $module: Option<$module::State>,)*
        }

        impl Factors {
            /// Each granted capability's state for one call.
            pub fn configure(
                grants: &BTreeSet<Capability>,
                setup: &Setup<'_>,
            ) -> anyhow::Result<Self> {
                let mut f = Self::default();
                $(if grants.contains(&Capability::$variant) {
                    f.$module = Some($module::configure(setup)?);
                })*
                Ok(f)
            }
        }

        /// Links exactly the granted capabilities.
        pub fn link(l: &mut Linker<CallState>, grants: &BTreeSet<Capability>) -> wasmtime::Result<()> {
            $(if grants.contains(&Capability::$variant) {
                $module::link(l)?;
            })*
            Ok(())
        }
    };
}

capabilities! {
    /// The tenant's customers, as the acting member may see them.
    Customers => customers,
    /// The plugin's own sealed documents.
    Records => records,
    /// Customers' consent per purpose.
    Consent => consent,
    /// Events into the tenant's outbox.
    Events => events,
    /// Lines into the plugin's log.
    Log => log,
    /// The call's time.
    Clock => clock,
    /// A private directory, as `wasi:filesystem`'s one preopen.
    Scratch => scratch,
}

impl Capability {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The host-call count every capability's calls go through.
pub struct HostCalls {
    count: u32,
    max: u32,
    /// Set when the host stopped the plugin from a host function (why, for the error).
    pub stopped: Option<String>,
}

impl HostCalls {
    pub fn new(max: u32) -> Self {
        Self {
            count: 0,
            max,
            stopped: None,
        }
    }

    fn admit(&mut self) -> wasmtime::Result<Result<(), Error>> {
        self.count = self.count.saturating_add(1);
        if self.count > self.max.saturating_add(GRACE) {
            let why = format!(
                "host-call limit of {} per call exceeded (and ignored)",
                self.max
            );
            self.stopped = Some(why.clone());
            wasmtime::bail!(why);
        }
        if self.count > self.max {
            return Ok(Err(Error::LimitExceeded(LimitInfo {
                limit: "host-calls".into(),
                max: self.max.into(),
            })));
        }
        Ok(Ok(()))
    }
}

/// What a capability's host functions see of the call: its own state and the host-call count.
pub struct View<'a, S> {
    calls: &'a mut HostCalls,
    state: Option<&'a mut S>,
}

impl<S> View<'_, S> {
    /// Counts the call against the host-call cap; the capability's state when admitted.
    pub(crate) fn admit(&mut self, cap: Capability) -> wasmtime::Result<Result<&mut S, Error>> {
        let Some(state) = self.state.as_deref_mut() else {
            // Unreachable through linking (ungranted interfaces are not linked): defence in depth.
            let why = format!("called the ungranted capability {}", cap.name());
            self.calls.stopped = Some(why.clone());
            wasmtime::bail!(why);
        };
        Ok(self.calls.admit()?.map(|()| state))
    }
}

/// The `HasData` of a capability whose state is `S`: its host functions get a [`View`].
pub struct Factor<S>(PhantomData<S>);

impl<S: Send + 'static> HasData for Factor<S> {
    type Data<'a> = View<'a, S>;
}

impl CallState {
    /// The view a capability's bindings are linked with.
    pub(crate) fn view<S>(&mut self, pick: fn(&mut Factors) -> &mut Option<S>) -> View<'_, S> {
        View {
            calls: &mut self.calls,
            state: pick(&mut self.factors).as_mut(),
        }
    }
}

/// The capability's state, or an early return with the interface error when `admit` refuses the
/// call.
macro_rules! admit {
    ($view:expr, $cap:expr) => {
        match $view.admit($cap)? {
            Ok(state) => state,
            Err(e) => return Ok(Err(e)),
        }
    };
}
pub(crate) use admit;

/// A request-path error as the interface's `error` (texts carry no personal data).
pub(crate) fn wit_error(e: AppError) -> Error {
    match e.kind {
        ErrorKind::Forbidden | ErrorKind::Unauthenticated => Error::Denied(e.message),
        ErrorKind::NotFound | ErrorKind::Gone => Error::NotFound,
        ErrorKind::Invalid | ErrorKind::Rejected | ErrorKind::UnsupportedFormat => {
            Error::Invalid(vec![FieldError {
                field: String::new(),
                message: label(e.message),
            }])
        }
        ErrorKind::Conflict => Error::Conflict(e.message),
        ErrorKind::TooLarge | ErrorKind::Throttled => Error::LimitExceeded(LimitInfo {
            limit: e.code.to_string(),
            max: 0,
        }),
        ErrorKind::Busy | ErrorKind::PluginFailed | ErrorKind::Integrity | ErrorKind::Internal => {
            Error::Unavailable("the host could not complete the call; try again later".into())
        }
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

/// The store data of one invocation (what Wasmtime hands every host call): everything it may touch: the states of its granted capabilities, the host-call
/// count they share, the log, and the sandbox's own bookkeeping (limits, WASI, resources).
pub struct CallState {
    pub(crate) calls: HostCalls,
    pub(crate) factors: Factors,
    /// Where the plugin's log lines, stdout and stderr go.
    pub(crate) log: log::LogBuffer,
    pub(crate) limiter: Limiter,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
