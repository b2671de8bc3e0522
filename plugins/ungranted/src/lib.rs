//! `ungranted`: a plugin whose manifest asks only for `log` but whose code calls `consent`, so the
//! component imports `crm:platform/consent@0.1.0` without asking for it. It exists only for the
//! host's hostile-plugin tests (installing it must be refused, whatever is granted).
//! **Never install it in production.**

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{consent, log};

pub struct Ungranted;

impl Plugin for Ungranted {
    fn manifest() -> Manifest {
        ManifestBuilder::new("ungranted", env!("CARGO_PKG_VERSION"), en("ungranted"))
            .description(en(
                "Imports consent without asking for it: for the host's tests only.",
            ))
            .capability(Capability::Log, en("logs that it checks consent"))
            .screen("main", en("ungranted"), true)
            .build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        let customer = request.params.required("id")?;
        log::log(log::Level::Info, "checking consent without the capability");
        let status = consent::check(customer, "marketing")?;
        Ok(ScreenBuilder::new(en("ungranted"))
            .key_values([(en("marketing"), cell::text(format!("{status:?}")))])
            .build())
    }
}

crm_plugin_sdk::export_plugin!(Ungranted);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_asks_only_for_log() {
        let m = Ungranted::manifest();
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["log"]);
    }
}
