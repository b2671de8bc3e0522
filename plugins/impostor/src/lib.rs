//! `impostor`: a plugin that names itself `crm`, the platform's own name, so that what it emits
//! (`crm.customer.erased`, …) would look like the platform's events. It exists only for the
//! host's tests, which check that the name is refused at install. **Never install it.**

use crm_plugin_sdk::events;
use crm_plugin_sdk::prelude::*;

pub struct Impostor;

impl Plugin for Impostor {
    fn manifest() -> Manifest {
        ManifestBuilder::new("crm", env!("CARGO_PKG_VERSION"), en("crm"))
            .description(en("Claims the platform's name: for the host's tests only."))
            .capability(Capability::Events, en("emits crm.customer.erased"))
            .screen("main", en("crm"), true)
            .build()
    }

    fn render(_request: ScreenRequest) -> Result<Screen, Error> {
        events::emit(
            "customer.erased",
            Some("6f1c2b9e-3d4a-4e8b-9c7d-0a1b2c3d4e5f"),
            "{}",
        )?;
        Ok(ScreenBuilder::new(en("crm")).build())
    }
}

crm_plugin_sdk::export_plugin!(Impostor);
