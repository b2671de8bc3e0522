//! Bindings of `crm:platform@0.1.0` (`wit/0.1.0/`). Host functions are async (they reach the
//! database) and trappable (a plugin that keeps calling past its limit is stopped).

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::crm::platform::types::{Error, FieldError, Label, LimitInfo, Param};
pub use self::crm::platform::{clock, consent, customers, events, log, records, types, ui};
pub use exports::crm::platform::guest;
