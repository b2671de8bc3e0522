//! Building a plugin's manifest.

use crate::{
    ActionDecl, Capability, CapabilityRequest, CollectionDecl, JobDecl, Label, Manifest, Schedule,
    ScreenDecl,
};

/// Builds a [`Manifest`]:
///
/// ```
/// use crm_plugin_sdk::{tr, Capability, ManifestBuilder, Schedule};
///
/// let m = ManifestBuilder::new("renewals", "1.0.0", tr!("Renewals", "续订"))
///     .description(tr!("Subscriptions due for renewal", "即将到期的订阅"))
///     .capability(Capability::Customers, tr!("Lists subscribers", "列出订户"))
///     .screen("main", tr!("Renewals", "续订"), true)
///     .action("remind", tr!("Send reminder", "发送提醒"), true)
///     .job("nightly", tr!("Nightly check", "每晚检查"), Schedule::DailyAt("02:00".into()))
///     .collection("reminders", ["status"])
///     .subscribe("crm.customer.*")
///     .build();
/// assert_eq!(m.capabilities.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct ManifestBuilder(Manifest);

impl ManifestBuilder {
    pub fn new(name: impl Into<String>, version: impl Into<String>, title: Label) -> Self {
        let description = title.clone();
        Self(Manifest {
            name: name.into(),
            version: version.into(),
            title,
            description,
            capabilities: Vec::new(),
            screens: Vec::new(),
            actions: Vec::new(),
            subscriptions: Vec::new(),
            jobs: Vec::new(),
            collections: Vec::new(),
        })
    }

    pub fn description(mut self, description: Label) -> Self {
        self.0.description = description;
        self
    }

    /// Asks for a capability, with the reason shown to the admin who grants it.
    pub fn capability(mut self, capability: Capability, reason: Label) -> Self {
        self.0
            .capabilities
            .push(CapabilityRequest { capability, reason });
        self
    }

    /// Offers a screen; `in_menu` lists it in the staff navigation.
    pub fn screen(mut self, name: impl Into<String>, title: Label, in_menu: bool) -> Self {
        self.0.screens.push(ScreenDecl {
            name: name.into(),
            title,
            in_menu,
        });
        self
    }

    /// Accepts an action; `writes` says whether it changes data.
    pub fn action(mut self, name: impl Into<String>, title: Label, writes: bool) -> Self {
        self.0.actions.push(ActionDecl {
            name: name.into(),
            title,
            writes,
        });
        self
    }

    /// Subscribes to an event topic (`crm.customer.*` matches every topic below `crm.customer`).
    pub fn subscribe(mut self, topic: impl Into<String>) -> Self {
        self.0.subscriptions.push(topic.into());
        self
    }

    pub fn job(mut self, name: impl Into<String>, title: Label, schedule: Schedule) -> Self {
        self.0.jobs.push(JobDecl {
            name: name.into(),
            title,
            schedule,
        });
        self
    }

    /// Declares a collection of records and its indexed (exact-match) top-level fields.
    pub fn collection<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        indexed: impl IntoIterator<Item = S>,
    ) -> Self {
        self.0.collections.push(CollectionDecl {
            name: name.into(),
            indexed: indexed.into_iter().map(Into::into).collect(),
        });
        self
    }

    pub fn build(self) -> Manifest {
        self.0
    }
}

impl Capability {
    /// The capability's name as admins grant it (`crm plugin install … --grant customers,log`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Customers => "customers",
            Capability::Records => "records",
            Capability::Consent => "consent",
            Capability::Events => "events",
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Scratch => "scratch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{en, tr};

    #[test]
    fn builds_every_part() {
        let m = ManifestBuilder::new("x", "0.1.0", tr!("X", "某"))
            .capability(Capability::Records, en("stores notes"))
            .screen("main", en("Main"), true)
            .screen("detail", en("Detail"), false)
            .action("save", en("Save"), true)
            .subscribe("crm.customer.*")
            .job("sweep", en("Sweep"), Schedule::EveryMinutes(15))
            .collection("notes", ["customer_ref", "status"])
            .build();
        assert_eq!(m.name, "x");
        assert_eq!(m.description, m.title);
        assert_eq!(m.capabilities[0].capability.name(), "records");
        assert_eq!(m.screens.len(), 2);
        assert!(!m.screens[1].in_menu);
        assert!(m.actions[0].writes);
        assert_eq!(m.subscriptions, vec!["crm.customer.*".to_string()]);
        assert_eq!(m.jobs[0].schedule, Schedule::EveryMinutes(15));
        assert_eq!(m.collections[0].indexed, vec!["customer_ref", "status"]);
    }
}
