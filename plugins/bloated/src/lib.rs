//! `bloated`: a plugin whose manifest declares far more than a plugin may (1,000 menu screens, a
//! collection with 1,000 indexed fields). It exists only for the host's tests, which check that
//! it is refused at install with the bound it breaks. **Never install it.**

use crm_plugin_sdk::prelude::*;

pub struct Bloated;

impl Plugin for Bloated {
    fn manifest() -> Manifest {
        let mut m = ManifestBuilder::new("bloated", env!("CARGO_PKG_VERSION"), en("bloated"))
            .description(en("Declares too much: for the host's tests only."))
            .collection("wide", (0..1_000).map(|i| format!("f{i}")));
        for i in 0..1_000 {
            m = m.screen(format!("s{i}"), en(format!("screen {i}")), true);
        }
        m.build()
    }

    fn render(_request: ScreenRequest) -> Result<Screen, Error> {
        Ok(ScreenBuilder::new(en("bloated")).build())
    }
}

crm_plugin_sdk::export_plugin!(Bloated);
