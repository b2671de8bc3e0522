//! The screens. Each `*_screen` function is pure (data in, screen out, tested natively); the
//! `render_*` functions fetch the data first.

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{ChartKind, Param};

use crate::domain::{
    Campaign, CampaignRun, CampaignState, Channel, DeliveryState, Exclusion, Failure, Message,
    PURPOSES, Phase, Region, RunKind, Segment,
};
use crate::store::{self, CAMPAIGNS, OUTBOX, SEGMENTS};

/// Campaigns per page on `main`, messages per page on `campaign`.
const PER_PAGE: u32 = 20;

/// The screen parameter that carries a records cursor (records page by cursor, not number).
const CURSOR: &str = "cursor";

// --- main ------------------------------------------------------------------------------------

pub fn render_main(params: &[Param]) -> Result<Screen, Error> {
    let state = params.value("state").filter(|s| !s.is_empty());
    let mut query = Query::new().limit(PER_PAGE);
    if let Some(s) = state {
        query = query.eq("state", s);
    }
    if let Some(c) = params.value(CURSOR).filter(|c| !c.is_empty()) {
        query = query.after(c);
    }
    let (campaigns, next) = CAMPAIGNS.query(query)?;
    Ok(main_screen(&campaigns, state, next.as_deref()))
}

pub fn main_screen(campaigns: &[Doc<Campaign>], state: Option<&str>, next: Option<&str>) -> Screen {
    let table = TableBuilder::new("campaigns")
        .column("name", tr!("Campaign", "活动"))
        .column("channel", tr!("Channel", "渠道"))
        .column("schedule", tr!("Planned for", "计划时间"))
        .column("state", tr!("State", "状态"))
        .numeric_column("eligible", tr!("Eligible", "符合条件"))
        .numeric_column("excluded", tr!("Excluded", "已排除"))
        .numeric_column("sent", tr!("Sent", "已发送"))
        .numeric_column("failed", tr!("Failed", "失败"))
        .rows(campaigns, |c: &Doc<Campaign>| {
            let d = &c.data;
            let audience = d.sent_audience.as_ref().or(d.preview.as_ref());
            let count = |n: Option<u64>| n.map_or(Cell::Empty, |n| cell::integer(n as i64));
            (
                c.id.clone(),
                vec![
                    cell::link(en(d.spec.name.clone()), campaign_ref(&c.id)),
                    cell::label(d.spec.channel.label()),
                    cell::text(format!("{} {}", d.spec.send_on, d.spec.send_at)),
                    state_badge(d.state),
                    count(audience.map(|a| a.eligible)),
                    count(audience.map(|a| a.excluded_total())),
                    count((d.state != CampaignState::Draft).then_some(d.delivery.sent)),
                    count((d.state != CampaignState::Draft).then_some(d.delivery.failed)),
                ],
            )
        })
        .empty_text(tr!(
            "No campaigns yet. Create one, or load the demo data.",
            "还没有活动。请新建活动，或加载示例数据。"
        ));
    let mut screen = ScreenBuilder::new(tr!("Audience campaigns", "受众营销活动"))
        .text(tr!(
            "Campaigns reach a segment's customers who consented to the campaign's purpose; \
             regional rules (PIPL, GDPR, CCPA) apply.",
            "活动只发送给细分中同意该用途的客户，并适用地区规则（PIPL、GDPR、CCPA）。"
        ))
        .button(
            ButtonBuilder::screen(ScreenRef::to("campaign"), tr!("New campaign", "新建活动"))
                .tone(Tone::Info),
        )
        .button(ButtonBuilder::screen(
            ScreenRef::to("segments"),
            tr!("Segments", "细分"),
        ))
        .button(
            ButtonBuilder::action("seed-demo", tr!("Load demo data", "加载示例数据")).confirm(tr!(
                "Add demo segments and campaigns?",
                "添加示例细分和活动？"
            )),
        );
    let filters = [
        (None, tr!("All", "全部")),
        (Some(CampaignState::Draft), CampaignState::Draft.label()),
        (Some(CampaignState::Sending), CampaignState::Sending.label()),
        (Some(CampaignState::Sent), CampaignState::Sent.label()),
    ];
    screen = screen.heading(tr!("Campaigns", "活动"));
    for (s, text) in filters {
        let code = s.map_or("", CampaignState::code);
        let tone = if code == state.unwrap_or("") {
            Tone::Info
        } else {
            Tone::Neutral
        };
        screen = screen.button(
            ButtonBuilder::screen(ScreenRef::to("main").param("state", code), text).tone(tone),
        );
    }
    screen = screen.table(table);
    if let Some(next) = next {
        screen = screen.button(ButtonBuilder::screen(
            ScreenRef::to("main")
                .param("state", state.unwrap_or(""))
                .param(CURSOR, next),
            tr!("Next page", "下一页"),
        ));
    }
    screen.build()
}

fn campaign_ref(id: &str) -> ScreenRef {
    ScreenRef::to("campaign").param("id", id)
}

fn state_badge(state: CampaignState) -> Cell {
    let tone = match state {
        CampaignState::Draft => Tone::Neutral,
        CampaignState::Sending => Tone::Warning,
        CampaignState::Sent => Tone::Success,
    };
    cell::badge(tone, state.label())
}

// --- segments --------------------------------------------------------------------------------

pub fn render_segments(params: &[Param]) -> Result<Screen, Error> {
    let segments = store::all_segments()?;
    let editing = match params.value("id").filter(|id| !id.is_empty()) {
        Some(id) => Some(SEGMENTS.get(id)?),
        None => None,
    };
    Ok(segments_screen(&segments, editing.as_ref()))
}

pub fn segments_screen(segments: &[Doc<Segment>], editing: Option<&Doc<Segment>>) -> Screen {
    let table = TableBuilder::new("segments")
        .column("name", tr!("Segment", "细分"))
        .column("regions", tr!("Regions", "地区"))
        .column("tags_all", tr!("Has all tags", "包含全部标签"))
        .column("tags_none", tr!("Has none of", "不含标签"))
        .rows(segments, |s: &Doc<Segment>| {
            let r = &s.data.rule;
            let regions = if r.regions.is_empty() {
                cell::label(tr!("All regions", "全部地区"))
            } else {
                cell::tags(r.regions.iter().map(|r| r.code()))
            };
            (
                s.id.clone(),
                vec![
                    cell::text(s.data.name.clone()),
                    regions,
                    cell::tags(r.tags_all.iter().cloned()),
                    cell::tags(r.tags_none.iter().cloned()),
                ],
            )
        })
        .row_action("edit-segment", tr!("Edit", "编辑"))
        .row_action_with(crm_plugin_sdk::RowAction {
            action: "delete-segment".into(),
            text: tr!("Delete", "删除"),
            tone: Tone::Danger,
            confirm: Some(tr!("Delete this segment?", "删除此细分？")),
        })
        .empty_text(tr!("No segments yet.", "还没有细分。"));
    let rule = editing.map(|s| &s.data.rule);
    let join = |tags: Option<&Vec<String>>| tags.map(|t| t.join(", ")).unwrap_or_default();
    let mut regions = FieldBuilder::multi_select(
        "regions",
        tr!("Regions", "地区"),
        Region::ALL.map(|r| (r.code(), r.label())),
    )
    .help(tr!("None chosen: every region.", "不选择则为全部地区。"));
    if let Some(r) = rule {
        regions = regions.value(
            r.regions
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let form = FormBuilder::new(
        "segment",
        "save-segment",
        if editing.is_some() {
            tr!("Save segment", "保存细分")
        } else {
            tr!("Add segment", "添加细分")
        },
    )
    .title(if editing.is_some() {
        tr!("Edit segment", "编辑细分")
    } else {
        tr!("New segment", "新建细分")
    })
    .field(FieldBuilder::hidden(
        "id",
        editing.map(|s| s.id.clone()).unwrap_or_default(),
    ))
    .field(
        FieldBuilder::text("name", tr!("Name", "名称"))
            .required()
            .max_length(80)
            .value(editing.map(|s| s.data.name.clone()).unwrap_or_default()),
    )
    .field(regions)
    .field(
        FieldBuilder::text(
            "tags_all",
            tr!("Must have all of these tags", "必须包含全部标签"),
        )
        .help(tr!(
            "Comma-separated, e.g. sports, premium",
            "以逗号分隔，例如 sports, premium"
        ))
        .value(join(rule.map(|r| &r.tags_all))),
    )
    .field(
        FieldBuilder::text(
            "tags_none",
            tr!("Must have none of these tags", "不得包含以下标签"),
        )
        .value(join(rule.map(|r| &r.tags_none))),
    );
    ScreenBuilder::new(tr!("Segments", "细分"))
        .text(tr!(
            "Segments select customers by region and tags only: never by personal data.",
            "细分仅按地区和标签选择客户，从不使用个人数据。"
        ))
        .button(ButtonBuilder::screen(
            ScreenRef::to("main"),
            tr!("Campaigns", "活动"),
        ))
        .table(table)
        .form(form)
        .build()
}

// --- campaign --------------------------------------------------------------------------------

/// What the campaign screen shows, fetched by [`render_campaign`].
pub struct CampaignView {
    pub campaign: Option<Doc<Campaign>>,
    pub segments: Vec<Doc<Segment>>,
    pub preview_run: Option<Doc<CampaignRun>>,
    pub send_run: Option<Doc<CampaignRun>>,
    pub messages: Vec<Doc<Message>>,
    pub next: Option<String>,
}

pub fn render_campaign(params: &[Param], locale: Locale) -> Result<Screen, Error> {
    let segments = store::all_segments()?;
    let Some(id) = params.value("id").filter(|id| !id.is_empty()) else {
        return Ok(campaign_screen(
            &CampaignView {
                campaign: None,
                segments,
                preview_run: None,
                send_run: None,
                messages: Vec::new(),
                next: None,
            },
            locale,
        ));
    };
    let campaign = store::campaign(id)?;
    let (preview_run, send_run, messages, next) = if campaign.data.state == CampaignState::Draft {
        (
            store::find_run(id, RunKind::Preview)?,
            None,
            Vec::new(),
            None,
        )
    } else {
        let mut q = Query::new().eq("campaign_id", id).limit(PER_PAGE);
        if let Some(c) = params.value(CURSOR).filter(|c| !c.is_empty()) {
            q = q.after(c);
        }
        let (messages, next) = OUTBOX.query(q)?;
        (None, store::find_run(id, RunKind::Send)?, messages, next)
    };
    Ok(campaign_screen(
        &CampaignView {
            campaign: Some(campaign),
            segments,
            preview_run,
            send_run,
            messages,
            next,
        },
        locale,
    ))
}

pub fn campaign_screen(view: &CampaignView, locale: Locale) -> Screen {
    let Some(campaign) = &view.campaign else {
        let mut screen = ScreenBuilder::new(tr!("New campaign", "新建活动")).button(
            ButtonBuilder::screen(ScreenRef::to("main"), tr!("Campaigns", "活动")),
        );
        if view.segments.is_empty() {
            screen = screen.notice(
                Tone::Warning,
                tr!(
                    "Create a segment first: a campaign is sent to one.",
                    "请先创建细分：活动需要发送给一个细分。"
                ),
            );
        }
        return screen.form(campaign_form(None, &view.segments)).build();
    };
    let c = &campaign.data;
    let segment = view.segments.iter().find(|s| s.id == c.segment_id);
    let mut screen = ScreenBuilder::new(en(c.spec.name.clone()))
        .button(ButtonBuilder::screen(
            ScreenRef::to("main"),
            tr!("Campaigns", "活动"),
        ))
        .key_values([
            (tr!("State", "状态"), state_badge(c.state)),
            (
                tr!("Segment", "细分"),
                segment.map_or(cell::label(tr!("(deleted)", "（已删除）")), |s| {
                    cell::text(format!("{} — {}", s.data.name, s.data.rule.describe()))
                }),
            ),
            (tr!("Channel", "渠道"), cell::label(c.spec.channel.label())),
            (
                tr!("Consent purpose", "同意用途"),
                cell::text(c.spec.purpose.clone()),
            ),
            (
                tr!("Planned for", "计划时间"),
                cell::text(format!("{} {}", c.spec.send_on, c.spec.send_at)),
            ),
            (
                tr!("Sample message", "消息示例"),
                cell::text(crate::domain::render(
                    &c.spec.template,
                    &crm_plugin_sdk::customers::PersonalField::Redacted,
                    &c.spec.fallback,
                )),
            ),
        ]);
    match c.state {
        CampaignState::Draft => {
            screen = screen.heading(tr!("Audience preview", "受众预览"));
            let running = view
                .preview_run
                .as_ref()
                .filter(|r| r.data.phase != Phase::Done);
            if let Some(run) = running {
                screen = screen.notice(
                    Tone::Info,
                    tr!(
                        "Counting: {} of {} customers so far.",
                        "统计中：已统计 {} / {} 位客户。",
                        run.data.cursor.progress(),
                        run.data.cursor.total
                    ),
                );
            }
            screen = match &c.preview {
                Some(counts) => audience_block(screen, counts),
                None => screen.text(tr!(
                    "Not counted yet: preview to see who gets the message and why others do not.",
                    "尚未统计：预览以查看谁会收到消息，以及其他人被排除的原因。"
                )),
            };
            screen = screen
                .button(
                    ButtonBuilder::action(
                        "preview",
                        if running.is_some() {
                            tr!("Continue counting", "继续统计")
                        } else {
                            tr!("Preview audience", "预览受众")
                        },
                    )
                    .param("id", campaign.id.clone()),
                )
                .button(
                    ButtonBuilder::action("send", tr!("Send now", "立即发送"))
                        .param("id", campaign.id.clone())
                        .tone(Tone::Danger)
                        .confirm(tr!(
                            "Send this campaign now? It can no longer be edited.",
                            "立即发送此活动？发送后将无法编辑。"
                        )),
                )
                .form(campaign_form(Some(campaign), &view.segments));
        }
        CampaignState::Sending | CampaignState::Sent => {
            screen = results_block(screen, campaign, view, locale);
        }
    }
    screen.build()
}

/// Eligible and excluded counts, with a row per exclusion reason.
fn audience_block(screen: ScreenBuilder, counts: &crate::domain::AudienceCounts) -> ScreenBuilder {
    let reasons = TableBuilder::new("exclusions")
        .title(tr!("Excluded, by reason", "排除原因"))
        .column("reason", tr!("Reason", "原因"))
        .numeric_column("count", tr!("Customers", "客户数"))
        .rows(Exclusion::ALL, |e: Exclusion| {
            let n = counts.excluded.get(&e).copied().unwrap_or(0);
            (
                format!("{e:?}"),
                vec![cell::label(e.label()), cell::integer(n as i64)],
            )
        });
    screen
        .stat(
            tr!("In segment", "细分内"),
            cell::integer(counts.matched as i64),
        )
        .stat_with(crm_plugin_sdk::Stat {
            title: tr!("Eligible", "符合条件"),
            value: cell::integer(counts.eligible as i64),
            note: None,
            tone: Tone::Success,
        })
        .stat_with(crm_plugin_sdk::Stat {
            title: tr!("Excluded", "已排除"),
            value: cell::integer(counts.excluded_total() as i64),
            note: None,
            tone: Tone::Warning,
        })
        .table(reasons)
}

/// Delivery states (stats and a chart), failures, the audience as sending found it, the outbox.
fn results_block(
    mut screen: ScreenBuilder,
    campaign: &Doc<Campaign>,
    view: &CampaignView,
    locale: Locale,
) -> ScreenBuilder {
    let c = &campaign.data;
    let d = &c.delivery;
    screen = screen.heading(tr!("Results", "结果"));
    if c.state == CampaignState::Sending {
        let progress = view
            .send_run
            .as_ref()
            .map_or(en(""), |r| match r.data.phase {
                Phase::Audience => tr!(
                    "Queueing: {} of {} customers checked.",
                    "排队中：已检查 {} / {} 位客户。",
                    r.data.cursor.progress(),
                    r.data.cursor.total
                ),
                _ => tr!("Delivering the queued messages.", "正在投递排队的消息。"),
            });
        screen = screen.notice(Tone::Warning, progress).button(
            ButtonBuilder::action("send", tr!("Continue sending", "继续发送"))
                .param("id", campaign.id.clone())
                .tone(Tone::Info),
        );
    }
    for state in DeliveryState::ALL {
        screen = screen.stat(state.label(), cell::integer(d.count(state) as i64));
    }
    screen = screen.chart(
        ChartKind::Bar,
        tr!("Delivery states", "投递状态"),
        DeliveryState::ALL.map(|s| s.label().text(locale).to_string()),
        [(
            tr!("Messages", "消息"),
            DeliveryState::ALL.map(|s| Some(d.count(s) as f64)).to_vec(),
        )],
    );
    if !d.failures.is_empty() {
        screen = screen.table(
            TableBuilder::new("failures")
                .title(tr!("Failures, by reason", "失败原因"))
                .column("reason", tr!("Reason", "原因"))
                .numeric_column("count", tr!("Messages", "消息数"))
                .rows(&d.failures, |(f, n): (&Failure, &u64)| {
                    (
                        format!("{f:?}"),
                        vec![cell::label(f.label()), cell::integer(*n as i64)],
                    )
                }),
        );
    }
    if let Some(counts) = c
        .sent_audience
        .as_ref()
        .or(view.send_run.as_ref().map(|r| &r.data.counts))
    {
        screen = audience_block(
            screen.heading(tr!("Audience at sending", "发送时的受众")),
            counts,
        );
    }
    // Customer ids and states only: the rendered text stays in the outbox, since whoever looks
    // at this screen may be allowed to see less than the user who sent it.
    screen = screen.table(
        TableBuilder::new("outbox")
            .title(tr!("Outbox", "发件箱"))
            .column("customer", tr!("Customer", "客户"))
            .column("region", tr!("Region", "地区"))
            .column("state", tr!("State", "状态"))
            .column("failure", tr!("Failure", "失败原因"))
            .column("updated", tr!("Updated", "更新时间"))
            .rows(&view.messages, |m: &Doc<Message>| {
                let tone = match m.data.state {
                    DeliveryState::Queued => Tone::Neutral,
                    DeliveryState::Sent => Tone::Success,
                    DeliveryState::Failed => Tone::Danger,
                };
                (
                    m.id.clone(),
                    vec![
                        cell::text(m.customer.clone().unwrap_or_default()),
                        cell::text(m.data.region.code()),
                        cell::badge(tone, m.data.state.label()),
                        m.data
                            .failure
                            .map_or(Cell::Empty, |f| cell::label(f.label())),
                        cell::time(m.updated_at),
                    ],
                )
            })
            .empty_text(tr!("No messages.", "没有消息。")),
    );
    if let Some(next) = &view.next {
        screen = screen.button(ButtonBuilder::screen(
            campaign_ref(&campaign.id).param(CURSOR, next.clone()),
            tr!("More messages", "更多消息"),
        ));
    }
    screen
}

/// The builder form, empty or prefilled from a draft.
pub fn campaign_form(campaign: Option<&Doc<Campaign>>, segments: &[Doc<Segment>]) -> FormBuilder {
    let spec = campaign.map(|c| &c.data.spec);
    let val = |f: fn(&crate::domain::CampaignSpec) -> String, default: &str| {
        spec.map_or(default.to_string(), f)
    };
    FormBuilder::new(
        "campaign",
        "save-campaign",
        if campaign.is_some() {
            tr!("Save campaign", "保存活动")
        } else {
            tr!("Create campaign", "创建活动")
        },
    )
    .title(tr!("Campaign", "活动"))
    .field(FieldBuilder::hidden(
        "id",
        campaign.map(|c| c.id.clone()).unwrap_or_default(),
    ))
    .field(
        FieldBuilder::text("name", tr!("Name", "名称"))
            .required()
            .max_length(80)
            .value(val(|s| s.name.clone(), "")),
    )
    .field(
        FieldBuilder::select(
            "segment",
            tr!("Segment", "细分"),
            segments.iter().map(|s| (s.id.clone(), en(s.data.name.clone()))),
        )
        .required()
        .value(val(|s| s.segment_id.clone(), "")),
    )
    .field(
        FieldBuilder::select(
            "channel",
            tr!("Channel", "渠道"),
            Channel::ALL.map(|c| (c.code(), c.label())),
        )
        .required()
        .value(val(|s| s.channel.code().to_string(), "email")),
    )
    .field(
        FieldBuilder::select(
            "purpose",
            tr!("Consent purpose", "同意用途"),
            PURPOSES.map(|p| (p, en(p))),
        )
        .required()
        .value(val(|s| s.purpose.clone(), "marketing_email"))
        .help(tr!(
            "Only customers who consented to it get the message; CN customers also need marketing_cn (PIPL).",
            "只有同意该用途的客户才会收到消息；中国客户还需要 marketing_cn 同意（PIPL）。"
        )),
    )
    .field(
        FieldBuilder::text("subject", tr!("Subject (email)", "主题（电子邮件）"))
            .max_length(150)
            .value(val(|s| s.subject.clone(), "")),
    )
    .field(
        FieldBuilder::multiline("template", tr!("Message", "消息"))
            .required()
            .max_length(5000)
            .value(val(|s| s.template.clone(), "Hi {{first_name}}, "))
            .help(tr!(
                "Placeholders: {{first_name}}, {{name}}. A name you may not see renders as the fallback.",
                "占位符：{{first_name}}、{{name}}。您无权查看的姓名将显示为备用称呼。"
            )),
    )
    .field(
        FieldBuilder::text("fallback", tr!("Fallback for a hidden name", "姓名不可见时的称呼"))
            .required()
            .max_length(40)
            .value(val(|s| s.fallback.clone(), "there")),
    )
    .field(
        FieldBuilder::date("send_on", tr!("Send on", "发送日期"))
            .required()
            .value(val(|s| s.send_on.clone(), "")),
    )
    .field(
        FieldBuilder::text("send_at", tr!("At (HH:MM)", "时间（HH:MM）"))
            .required()
            .pattern("[0-2][0-9]:[0-5][0-9]")
            .value(val(|s| s.send_at.clone(), "18:00")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AudienceCounts, CampaignSpec, DeliveryCounts, SegmentRule};
    use crm_plugin_sdk::{Block, Table};

    fn doc<T>(id: &str, data: T) -> Doc<T> {
        Doc {
            id: id.into(),
            customer: None,
            data,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn spec() -> CampaignSpec {
        CampaignSpec {
            name: "Kick-off".into(),
            segment_id: "seg-1".into(),
            channel: Channel::Email,
            purpose: "marketing_email".into(),
            subject: "Hi".into(),
            template: "Hi {{first_name}}".into(),
            fallback: "there".into(),
            send_on: "2026-03-02".into(),
            send_at: "18:00".into(),
        }
    }

    fn segment() -> Doc<Segment> {
        doc(
            "seg-1",
            Segment {
                name: "EU sports".into(),
                rule: SegmentRule {
                    regions: vec![Region::Eu],
                    tags_all: vec!["sports".into()],
                    tags_none: Vec::new(),
                },
            },
        )
    }

    fn tables(s: &Screen) -> Vec<&Table> {
        s.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Table(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn counts() -> AudienceCounts {
        let mut c = AudienceCounts::default();
        c.record(Some(Ok(())));
        c.record(Some(Err(Exclusion::PiplSeparateConsent)));
        c.record(Some(Err(Exclusion::CcpaOptOut)));
        c
    }

    #[test]
    fn main_lists_campaigns_with_state_and_counts() {
        let mut sent = Campaign::new(spec());
        sent.state = CampaignState::Sent;
        sent.sent_audience = Some(counts());
        sent.delivery = DeliveryCounts {
            queued: 0,
            sent: 1,
            failed: 0,
            failures: Default::default(),
        };
        let draft = Campaign::new(spec());
        let s = main_screen(&[doc("c1", sent), doc("c2", draft)], None, Some("cur"));
        let t = tables(&s)[0];
        assert_eq!(t.rows.len(), 2);
        assert!(matches!(&t.rows[0].cells[3], Cell::Badge(b) if b.tone == Tone::Success));
        assert_eq!(t.rows[0].cells[4], Cell::Integer(1));
        assert_eq!(t.rows[0].cells[5], Cell::Integer(2));
        assert_eq!(t.rows[0].cells[6], Cell::Integer(1));
        assert_eq!(t.rows[1].cells[6], Cell::Empty);
        // A next-page button carries the cursor.
        assert!(matches!(s.blocks.last(), Some(Block::Actions(b))
            if matches!(&b[0].target, crm_plugin_sdk::ButtonTarget::Screen(r) if r.params.iter().any(|p| p.value == "cur"))));
    }

    #[test]
    fn draft_campaign_shows_preview_reasons_and_form() {
        let mut c = Campaign::new(spec());
        c.preview = Some(counts());
        let view = CampaignView {
            campaign: Some(doc("c1", c)),
            segments: vec![segment()],
            preview_run: None,
            send_run: None,
            messages: Vec::new(),
            next: None,
        };
        let s = campaign_screen(&view, Locale::En);
        let reasons = tables(&s)[0];
        assert_eq!(reasons.rows.len(), Exclusion::ALL.len());
        let pipl = reasons
            .rows
            .iter()
            .find(|r| r.id == "PiplSeparateConsent")
            .unwrap();
        assert_eq!(pipl.cells[1], Cell::Integer(1));
        let form = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Form(f) => Some(f),
                _ => None,
            })
            .expect("the builder form");
        assert_eq!(form.action, "save-campaign");
        let name = form.fields.iter().find(|f| f.name == "name").unwrap();
        assert_eq!(name.value.as_deref(), Some("Kick-off"));
        // The sample message never shows a real name.
        assert!(matches!(&s.blocks[1], Block::KeyValues(kv)
            if kv.last().unwrap().value == Cell::Text("Hi there".into())));
    }

    #[test]
    fn sent_campaign_charts_delivery_states() {
        let mut c = Campaign::new(spec());
        c.state = CampaignState::Sent;
        c.delivery.queued = 2;
        c.delivery.delivered(Ok(()));
        c.delivery.delivered(Err(Failure::Bounced));
        let msg = Message {
            campaign_id: "c1".into(),
            state: DeliveryState::Failed,
            failure: Some(Failure::Bounced),
            channel: Channel::Email,
            region: Region::Eu,
            subject: "Hi Ada".into(),
            body: "Hi Ada".into(),
        };
        let mut m = doc("m1", msg);
        m.customer = Some("cust-1".into());
        let view = CampaignView {
            campaign: Some(doc("c1", c)),
            segments: vec![segment()],
            preview_run: None,
            send_run: None,
            messages: vec![m],
            next: None,
        };
        let s = campaign_screen(&view, Locale::ZhHans);
        let chart = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Chart(c) => Some(c),
                _ => None,
            })
            .expect("a chart");
        assert_eq!(chart.x_labels, ["排队中", "已发送", "失败"]);
        assert_eq!(
            chart.series[0].values,
            vec![Some(0.0), Some(1.0), Some(1.0)]
        );
        let outbox = tables(&s).into_iter().find(|t| t.id == "outbox").unwrap();
        assert_eq!(outbox.rows[0].cells[0], Cell::Text("cust-1".into()));
        // The rendered text is not shown.
        let json = format!("{s:?}");
        assert!(!json.contains("Hi Ada"));
        assert!(!s.blocks.iter().any(|b| matches!(b, Block::Form(_))));
    }

    #[test]
    fn segments_screen_prefills_the_edited_segment() {
        let seg = segment();
        let s = segments_screen(std::slice::from_ref(&seg), Some(&seg));
        let t = tables(&s)[0];
        assert_eq!(t.rows[0].cells[1], Cell::Tags(vec!["EU".into()]));
        assert_eq!(t.row_actions.len(), 2);
        let form = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Form(f) => Some(f),
                _ => None,
            })
            .unwrap();
        assert_eq!(form.fields[0].value.as_deref(), Some("seg-1"));
        assert_eq!(form.fields[3].value.as_deref(), Some("sports"));
    }

    #[test]
    fn new_campaign_is_a_form() {
        let view = CampaignView {
            campaign: None,
            segments: vec![segment()],
            preview_run: None,
            send_run: None,
            messages: Vec::new(),
            next: None,
        };
        let s = campaign_screen(&view, Locale::En);
        assert!(matches!(s.blocks.last(), Some(Block::Form(f)) if f.fields.len() == 10));
    }
}
