//! `audience-campaigns`: marketing campaigns to consenting segments of the audience.
//!
//! Segments select customers by region and tags (never personal data). A campaign sends a
//! templated message (`{{first_name}}`, `{{name}}`) on one channel (email, SMS, push) to a segment,
//! for one consent purpose. Audience building excludes everyone without recorded consent for the
//! purpose and applies regional rules: PIPL (CN also needs `marketing_cn`), GDPR (no consent, no
//! message), CCPA (an opt-out excludes). Sending writes a per-recipient outbox (no network);
//! delivery is simulated deterministically, re-checking consent first (`queued` → `sent`/`failed`).
//! Counting and sending run in batches over `customers::search` pages, one step per call, with
//! the cursor in a run document.
//!
//! - Screens: `main` (campaigns with state and counts; home, in the menu), `segments` (list and
//!   form; in the menu), `campaign` (builder form, preview with exclusion reasons, results with a
//!   chart of delivery states and the outbox).
//! - Actions: `save-segment`, `edit-segment`, `delete-segment`, `save-campaign`, `preview`,
//!   `send`, `seed-demo`.
//! - Collections (indexed fields): `segments` (none), `campaigns` (`state`, `segment_id`),
//!   `campaign_runs` (`campaign_id`, `kind`), `outbox` (`campaign_id`, `state`; each message is
//!   about its customer, so erasing the customer shreds it), `demo_progress` (none).
//! - Capabilities: `customers`, `records`, `consent`, `log`.
//!
//! Domain rules are pure functions in [`domain`]; screens in [`screens`], batch passes in
//! [`run`], demo data in [`seed`], collections in [`store`].

use crm_plugin_sdk::log;
use crm_plugin_sdk::prelude::*;

pub mod domain;
pub mod run;
pub mod screens;
pub mod seed;
pub mod store;

use domain::CampaignState;
use store::{CAMPAIGNS, SEGMENTS};

pub struct AudienceCampaigns;

impl Plugin for AudienceCampaigns {
    fn manifest() -> Manifest {
        let mut m = ManifestBuilder::new(
            "audience-campaigns",
            env!("CARGO_PKG_VERSION"),
            tr!("Audience campaigns", "受众营销活动"),
        )
        .description(tr!(
            "Segments, consent-aware campaigns (PIPL, GDPR, CCPA) and a simulated outbox.",
            "细分、遵循同意规则（PIPL、GDPR、CCPA）的营销活动与模拟发件箱。"
        ))
        .capability(
            Capability::Customers,
            tr!(
                "Finds the customers of a segment by region and tags, and their first names for messages",
                "按地区和标签查找细分中的客户，以及消息中使用的名字"
            ),
        )
        .capability(
            Capability::Records,
            tr!(
                "Stores segments, campaigns, their progress and the outbox of messages",
                "存储细分、活动、进度以及消息发件箱"
            ),
        )
        .capability(
            Capability::Consent,
            tr!(
                "Checks each recipient's consent again right before a message is sent",
                "在发送每条消息前再次核对收件人的同意"
            ),
        )
        .capability(
            Capability::Log,
            tr!(
                "Logs batches of queued and sent messages (ids and counts only)",
                "记录排队和发送的批次（仅含编号和数量）"
            ),
        )
        .screen("main", tr!("Audience campaigns", "受众营销活动"), true)
        .screen("segments", tr!("Segments", "细分"), true)
        .screen("campaign", tr!("Campaign", "活动"), false)
        .action("save-segment", tr!("Save segment", "保存细分"), true)
        .action("edit-segment", tr!("Edit segment", "编辑细分"), false)
        .action("delete-segment", tr!("Delete segment", "删除细分"), true)
        .action("save-campaign", tr!("Save campaign", "保存活动"), true)
        .action("preview", tr!("Preview audience", "预览受众"), true)
        .action("send", tr!("Send campaign", "发送活动"), true)
        .action("seed-demo", tr!("Load demo data", "加载示例数据"), true);
        for (name, indexed) in store::DECLARED {
            m = m.collection(name, indexed.iter().copied());
        }
        m.build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        match request.screen.as_str() {
            "main" => screens::render_main(&request.params),
            "segments" => screens::render_segments(&request.params),
            "campaign" => screens::render_campaign(&request.params, request.locale),
            _ => Err(Error::NotFound),
        }
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        let inputs = &request.inputs;
        match request.action.as_str() {
            "save-segment" => save_segment(inputs),
            "edit-segment" => {
                let id = request.row.as_deref().ok_or(Error::NotFound)?;
                Ok(ActionOutcome {
                    notice: None,
                    next: Next::Navigate(ScreenRef::to("segments").param("id", id)),
                })
            }
            "delete-segment" => delete_segment(request.row.as_deref().ok_or(Error::NotFound)?),
            "save-campaign" => save_campaign(inputs),
            "preview" => Ok(run::preview_step(inputs.required("id")?)?.outcome()),
            "send" => Ok(run::send_step(inputs.required("id")?)?.outcome()),
            "seed-demo" => seed::step(),
            _ => Err(Error::NotFound),
        }
    }
}

crm_plugin_sdk::export_plugin!(AudienceCampaigns);

fn save_segment(inputs: &[crm_plugin_sdk::Param]) -> Result<ActionOutcome, Error> {
    let segment = domain::validate_segment(
        inputs.value("name").unwrap_or_default(),
        &inputs.values("regions"),
        inputs.value("tags_all").unwrap_or_default(),
        inputs.value("tags_none").unwrap_or_default(),
    )
    .map_err(invalid)?;
    match inputs.value("id").filter(|id| !id.is_empty()) {
        Some(id) => {
            let mut doc = SEGMENTS.get(id)?;
            doc.data = segment;
            SEGMENTS.replace(&doc)?;
        }
        None => {
            SEGMENTS.insert(None, &segment)?;
        }
    }
    Ok(ActionOutcome {
        notice: Some(notice(Tone::Success, tr!("Segment saved.", "细分已保存。"))),
        next: Next::Navigate(ScreenRef::to("segments")),
    })
}

/// Refused while a campaign still uses the segment (its results would lose their meaning).
fn delete_segment(id: &str) -> Result<ActionOutcome, Error> {
    let (users, _) = CAMPAIGNS.query(Query::new().eq("segment_id", id).limit(1))?;
    if let Some(c) = users.first() {
        return Err(Error::Conflict(format!(
            "segment {id} is used by campaign {}",
            c.id
        )));
    }
    SEGMENTS.delete(id)?;
    log::log(log::Level::Info, &format!("deleted segment {id}"));
    Ok(refresh(
        Tone::Success,
        tr!("Segment deleted.", "细分已删除。"),
    ))
}

fn save_campaign(inputs: &[crm_plugin_sdk::Param]) -> Result<ActionOutcome, Error> {
    let spec = domain::validate_campaign(|name| inputs.value(name).map(str::to_string))
        .map_err(invalid)?;
    match SEGMENTS.get(&spec.segment_id) {
        Ok(_) => {}
        Err(Error::NotFound) => {
            return Err(invalid_field(
                "segment",
                tr!("no such segment", "没有此细分"),
            ));
        }
        Err(e) => return Err(e),
    }
    let id = match inputs.value("id").filter(|id| !id.is_empty()) {
        Some(id) => {
            let mut doc = store::campaign(id)?;
            if doc.data.state != CampaignState::Draft {
                return Err(Error::Conflict(
                    "only a draft campaign can be edited".into(),
                ));
            }
            // A changed audience or purpose makes the old preview wrong.
            let keeps_preview = doc.data.spec.segment_id == spec.segment_id
                && doc.data.spec.purpose == spec.purpose
                && doc.data.spec.channel == spec.channel;
            if !keeps_preview {
                doc.data.preview = None;
            }
            doc.data.segment_id = spec.segment_id.clone();
            doc.data.spec = spec;
            CAMPAIGNS.replace(&doc)?.id
        }
        None => CAMPAIGNS.insert(None, &domain::Campaign::new(spec))?.id,
    };
    Ok(ActionOutcome {
        notice: Some(notice(
            Tone::Success,
            tr!("Campaign saved.", "活动已保存。"),
        )),
        next: Next::Navigate(ScreenRef::to("campaign").param("id", id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_screens_actions_collections_and_capabilities() {
        let m = AudienceCampaigns::manifest();
        assert_eq!(m.name, "audience-campaigns");
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["customers", "records", "consent", "log"]);
        let main = m.screens.iter().find(|s| s.name == "main").unwrap();
        assert!(main.in_menu);
        let actions: Vec<_> = m.actions.iter().map(|a| a.name.as_str()).collect();
        for a in ["save-campaign", "preview", "send", "seed-demo"] {
            assert!(actions.contains(&a), "{a}");
        }
        assert!(
            m.actions
                .iter()
                .find(|a| a.name == "seed-demo")
                .unwrap()
                .writes
        );
        let outbox = m.collections.iter().find(|c| c.name == "outbox").unwrap();
        assert_eq!(outbox.indexed, ["campaign_id", "state"]);
        // Every label is bilingual.
        let labels = m
            .screens
            .iter()
            .map(|s| &s.title)
            .chain(m.actions.iter().map(|a| &a.title))
            .chain(m.capabilities.iter().map(|c| &c.reason))
            .chain([&m.title, &m.description]);
        for l in labels {
            assert!(l.zh_hans.is_some(), "{}", l.en);
        }
    }

    #[test]
    fn unknown_screen_is_not_found() {
        let r = AudienceCampaigns::render(ScreenRequest {
            screen: "nope".into(),
            params: Vec::new(),
            locale: Locale::En,
            user: crm_plugin_sdk::ActingUser {
                id: "u".into(),
                roles: Vec::new(),
            },
        });
        assert_eq!(r, Err(Error::NotFound));
    }
}
