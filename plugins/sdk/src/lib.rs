//! Write plugins for the broadcaster CRM platform in Rust.
//!
//! A plugin is a WebAssembly component for the world `crm:platform/plugin@0.2.0` (see `wit/0.2.0/`
//! in the repository: 0.1.0's world plus the `subject` export). With this crate a plugin is one
//! type that implements [`Plugin`], exported with [`export_plugin!`]:
//!
//! ```no_run
//! use crm_plugin_sdk::prelude::*;
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn manifest() -> Manifest {
//!         ManifestBuilder::new("hello", "0.1.0", tr!("Hello", "你好"))
//!             .screen("main", tr!("Hello", "你好"), true)
//!             .build()
//!     }
//!
//!     fn render(_request: ScreenRequest) -> Result<Screen, Error> {
//!         Ok(ScreenBuilder::new(tr!("Hello", "你好"))
//!             .heading(tr!("Hello, world", "你好，世界"))
//!             .build())
//!     }
//! }
//!
//! crm_plugin_sdk::export_plugin!(Hello);
//! ```
//!
//! The pieces:
//! - [`bindings`]: the generated bindings of the WIT package; the host interfaces a plugin calls
//!   live under `bindings::crm::platform0_1_0::{customers, records, consent, events, log, clock}` and are
//!   re-exported at the crate root under the same names. Calling one needs that capability
//!   granted at install; it traps outside a WebAssembly host (native unit tests included).
//! - [`screen`]: builders for screens and their blocks (tables, forms, stats, charts, buttons).
//! - [`label`]: bilingual labels ([`tr!`], [`en`]).
//! - [`records`]: typed collections of the plugin's own documents ([`Collection`]).
//! - [`errors`]: constructors for the error variants and reading request parameters.

// The export macro generated below is expanded in plugin crates, where the bindings are reached
// through this crate's name; this makes the same path work inside the SDK too.
extern crate self as crm_plugin_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// The bindings generated from `wit/0.2.0` by `wit-bindgen`: 0.1.0's interfaces (under
/// `crm::platform0_1_0`) and 0.2.0's `subject` export.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        world: "plugin",
        // 0.1.0's interfaces come from `wit/0.2.0/deps`.
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_guest",
        default_bindings_module: "crm_plugin_sdk::bindings",
        runtime_path: "crm_plugin_sdk::__wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

pub mod errors;
pub mod label;
pub mod manifest;
pub mod records;
pub mod screen;

/// The host's `records` interface (the raw calls; [`Collection`] is the typed way in).
pub use bindings::crm::platform0_1_0::records as records_api;
pub use bindings::crm::platform0_1_0::types::{
    ActingUser, Error, FieldError, Label, LimitInfo, Locale, Param,
};
pub use bindings::crm::platform0_1_0::ui::{
    Align, Badge, Block, Button, ButtonTarget, Cell, Chart, ChartKind, Choice, Column, Field,
    FieldKind, Form, Heading, KeyValue, Link, Money, Paging, Paragraph, Row, RowAction, Rule,
    Screen, ScreenRef, Series, Stat, Table, Tone,
};
pub use bindings::crm::platform0_1_0::{clock, consent, customers, events, log};
pub use bindings::exports::crm::platform0_1_0::guest::{
    ActionDecl, ActionOutcome, ActionRequest, Capability, CapabilityRequest, CollectionDecl,
    EventSource, IncomingEvent, JobDecl, JobReport, JobRequest, Next, Notice,
    PluginManifest as Manifest, Schedule, ScreenDecl, ScreenRequest,
};
pub use bindings::exports::crm::platform0_2_0::subject::{
    ExportPart, RequestKind, SubjectAnswer, SubjectRequest,
};
pub use label::en;
pub use manifest::ManifestBuilder;
pub use records::{Collection, Doc, Query};
pub use screen::{ButtonBuilder, FieldBuilder, FormBuilder, ScreenBuilder, TableBuilder};

/// The version of the `crm:platform` world these bindings target.
pub const PLATFORM_VERSION: &str = "0.2.0";

/// What a plugin implements. Only [`Plugin::manifest`] and [`Plugin::render`] are required; the
/// other handlers default to "nothing here" (an unknown action, event or job is `not-found`).
///
/// Each call runs in a fresh instance: keep no state in statics between calls (it is gone), keep
/// it in [`Collection`]s.
pub trait Plugin {
    /// What the plugin is and needs. Must not call the host: it runs with nothing granted.
    fn manifest() -> Manifest;

    /// A screen, as data.
    fn render(request: ScreenRequest) -> Result<Screen, Error>;

    /// A form submission or button press.
    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        let _ = request;
        Err(Error::NotFound)
    }

    /// An event the manifest subscribed to.
    fn on_event(event: IncomingEvent) -> Result<(), Error> {
        let _ = event;
        Ok(())
    }

    /// One run of a job the manifest declared.
    fn run_job(request: JobRequest) -> Result<JobReport, Error> {
        let _ = request;
        Err(Error::NotFound)
    }

    /// A data-subject request about a customer (0.2.0): add to the person's archive, or remove
    /// before their erasure, what the plugin keeps about them outside the documents it stored
    /// with their customer id (the host finds, exports and erases those itself). The default
    /// keeps nothing else. An `Err` is shown on the request and stops an erasure.
    fn on_subject_request(request: SubjectRequest) -> Result<SubjectAnswer, String> {
        let _ = request;
        Ok(SubjectAnswer {
            parts: Vec::new(),
            erased: 0,
            note: String::new(),
        })
    }
}

/// Exports a [`Plugin`] implementation as the component's `crm:platform/guest` interface.
/// Use it once, at the root of a `cdylib` crate. On native targets (unit tests) it only
/// type-checks the implementation and exports nothing.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            struct __CrmPluginExport;

            impl $crate::bindings::exports::crm::platform0_1_0::guest::Guest for __CrmPluginExport {
                fn manifest() -> $crate::Manifest {
                    <$plugin as $crate::Plugin>::manifest()
                }
                fn render(
                    request: $crate::ScreenRequest,
                ) -> ::core::result::Result<$crate::Screen, $crate::Error> {
                    <$plugin as $crate::Plugin>::render(request)
                }
                fn act(
                    request: $crate::ActionRequest,
                ) -> ::core::result::Result<$crate::ActionOutcome, $crate::Error> {
                    <$plugin as $crate::Plugin>::act(request)
                }
                fn on_event(
                    event: $crate::IncomingEvent,
                ) -> ::core::result::Result<(), $crate::Error> {
                    <$plugin as $crate::Plugin>::on_event(event)
                }
                fn run_job(
                    request: $crate::JobRequest,
                ) -> ::core::result::Result<$crate::JobReport, $crate::Error> {
                    <$plugin as $crate::Plugin>::run_job(request)
                }
            }

            impl $crate::bindings::exports::crm::platform0_2_0::subject::Guest for __CrmPluginExport {
                fn on_subject_request(
                    request: $crate::SubjectRequest,
                ) -> ::core::result::Result<$crate::SubjectAnswer, ::std::string::String> {
                    <$plugin as $crate::Plugin>::on_subject_request(request)
                }
            }

            // Only a WebAssembly build exports the component's functions: their names
            // (`crm:platform/guest@0.1.0#render`, …) are not valid native symbol names, and a
            // native build of a plugin is only for its unit tests.
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::__export_guest!(__CrmPluginExport);
        };
    };
}

/// Everything a plugin usually needs, for `use crm_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::customers::{Customer, PersonalField, Region};
    pub use crate::errors::{ParamsExt, denied, invalid, invalid_field};
    pub use crate::screen::{cell, notice, refresh};
    pub use crate::{
        ActionOutcome, ActionRequest, Block, ButtonBuilder, Capability, Cell, Collection, Doc,
        Error, FieldBuilder, FormBuilder, IncomingEvent, JobReport, JobRequest, Label, Locale,
        Manifest, ManifestBuilder, Next, Plugin, Query, Screen, ScreenBuilder, ScreenRef,
        ScreenRequest, TableBuilder, Tone, en, tr,
    };
}
