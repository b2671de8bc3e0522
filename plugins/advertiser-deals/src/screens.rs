//! The screens, as pure functions of the data the plugin loaded (so they are tested natively):
//! `main`, `deal`, `inventory` and `forecast`. Loading the data is in `lib.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{ChartKind, Stat};

use crate::domain::{
    Date, FULL_BP, Stage, StageTotals, currencies, minor_to_major_f64, percent_text,
};
use crate::store::{Advertiser, Booking, Deal, Spot, State};

/// Deals per page on the main screen.
pub const DEALS_PER_PAGE: u32 = 25;

pub fn stage_label(stage: Stage) -> Label {
    match stage {
        Stage::Lead => tr!("Lead", "线索"),
        Stage::Proposal => tr!("Proposal", "提案"),
        Stage::Negotiation => tr!("Negotiation", "谈判"),
        Stage::Won => tr!("Won", "赢单"),
        Stage::Lost => tr!("Lost", "输单"),
    }
}

fn stage_badge(stage: Stage) -> Cell {
    let tone = match stage {
        Stage::Won => Tone::Success,
        Stage::Lost => Tone::Danger,
        Stage::Negotiation => Tone::Warning,
        Stage::Lead | Stage::Proposal => Tone::Info,
    };
    cell::badge(tone, stage_label(stage))
}

pub fn daypart_label(code: &str) -> Label {
    match code {
        "morning" => tr!("Morning", "早间"),
        "daytime" => tr!("Daytime", "日间"),
        "prime" => tr!("Prime time", "黄金时段"),
        "late" => tr!("Late night", "深夜"),
        other => data(other),
    }
}

/// A data value where a label is needed (a name, a code): the same text in every language.
fn data(text: impl Into<String>) -> Label {
    let text = text.into();
    Label {
        zh_hans: Some(text.clone()),
        en: text,
    }
}

/// `label` with a prefix in each language.
fn prefixed(en_prefix: &str, zh_prefix: &str, label: Label) -> Label {
    Label {
        zh_hans: Some(format!(
            "{zh_prefix}{}",
            label.zh_hans.as_deref().unwrap_or(&label.en)
        )),
        en: format!("{en_prefix}{}", label.en),
    }
}

fn date_cell(date: &str) -> Cell {
    Cell::Date(date.into())
}

fn deal_link(id: &str, reference: &str) -> Cell {
    cell::link(data(reference), ScreenRef::to("deal").param("id", id))
}

fn nav_buttons(screen: ScreenBuilder, here: &str) -> ScreenBuilder {
    let targets = [
        ("main", tr!("Pipeline", "销售管道")),
        ("inventory", tr!("Inventory", "广告库存")),
        ("forecast", tr!("Forecast", "预测")),
    ];
    targets
        .into_iter()
        .filter(|(s, _)| *s != here)
        .fold(screen, |screen, (s, text)| {
            screen.button(ButtonBuilder::screen(ScreenRef::to(s), text))
        })
}

/// Rows for one stage's totals: one per currency (one empty row for a stage with no deals).
fn totals_rows(id: &str, name: Cell, t: &StageTotals) -> Vec<(String, Vec<Cell>)> {
    if t.value.is_empty() {
        return vec![(
            id.to_string(),
            vec![name, cell::integer(t.count), Cell::Empty, Cell::Empty],
        )];
    }
    t.value
        .iter()
        .enumerate()
        .map(|(i, (currency, value))| {
            let expected = t.expected.get(currency).copied().unwrap_or(0);
            (
                format!("{id}-{currency}"),
                vec![
                    if i == 0 { name.clone() } else { Cell::Empty },
                    if i == 0 {
                        cell::integer(t.count)
                    } else {
                        Cell::Empty
                    },
                    cell::money(*value, currency),
                    cell::money(expected, currency),
                ],
            )
        })
        .collect()
}

/// What the main screen shows.
pub struct MainView<'a> {
    pub state: &'a State,
    pub stage: Stage,
    pub deals: &'a [Doc<Deal>],
    /// The cursor of the page shown, and of the next one.
    pub after: Option<&'a str>,
    pub next: Option<&'a str>,
    pub advertisers: &'a [Doc<Advertiser>],
}

/// `main`: the pipeline by stage with totals, one stage's deals, and forms for new deals and
/// advertisers.
pub fn main_screen(v: &MainView) -> Screen {
    let pipeline = &v.state.pipeline;
    let open = pipeline.open_totals();
    let mut screen = ScreenBuilder::new(tr!("Advertiser deals", "广告客户交易"));
    screen = screen.stat(tr!("Open deals", "进行中的交易"), cell::integer(open.count));
    for (currency, value) in &open.value {
        screen = screen
            .stat(
                tr!("Open pipeline", "管道总额"),
                cell::money(*value, currency),
            )
            .stat_with(Stat {
                title: tr!("Weighted pipeline", "加权管道"),
                value: cell::money(open.expected.get(currency).copied().unwrap_or(0), currency),
                note: Some(tr!("value × probability", "金额 × 概率")),
                tone: Tone::Info,
            });
    }
    for (currency, value) in &pipeline.stage(Stage::Won).value {
        screen = screen.stat_with(Stat {
            title: tr!("Won", "赢单"),
            value: cell::money(*value, currency),
            note: None,
            tone: Tone::Success,
        });
    }

    let mut totals = TableBuilder::new("pipeline")
        .title(tr!("Pipeline by stage", "按阶段的销售管道"))
        .column("stage", tr!("Stage", "阶段"))
        .numeric_column("deals", tr!("Deals", "交易数"))
        .numeric_column("value", tr!("Value", "金额"))
        .numeric_column("expected", tr!("Expected value", "预期价值"));
    for stage in Stage::ALL {
        let link = cell::link(
            stage_label(stage),
            ScreenRef::to("main").param("stage", stage.code()),
        );
        totals = totals.rows(
            totals_rows(stage.code(), link, &pipeline.stage(stage)),
            |r| r,
        );
    }
    totals = totals.rows(
        totals_rows(
            "open",
            cell::label(tr!("Open (lead to negotiation)", "进行中（线索至谈判）")),
            &open,
        ),
        |r| r,
    );
    screen = screen.table(totals);

    let deals = TableBuilder::new("deals")
        .title(prefixed("Deals: ", "交易：", stage_label(v.stage)))
        .column("ref", tr!("Deal", "交易"))
        .column("advertiser", tr!("Advertiser", "广告客户"))
        .column("title", tr!("Title", "标题"))
        .numeric_column("value", tr!("Value", "金额"))
        .numeric_column("probability", tr!("Probability", "概率"))
        .numeric_column("expected", tr!("Expected value", "预期价值"))
        .column("close", tr!("Close date", "成交日期"))
        .rows(v.deals, |d: &Doc<Deal>| {
            (
                d.id.clone(),
                vec![
                    deal_link(&d.id, &d.data.reference),
                    cell::text(&d.data.advertiser_name),
                    cell::text(&d.data.title),
                    cell::money(d.data.value(), &d.data.currency),
                    cell::text(percent_text(d.data.probability_bp)),
                    cell::money(d.data.expected(), &d.data.currency),
                    date_cell(&d.data.close_date),
                ],
            )
        })
        .empty_text(tr!("No deals in this stage.", "此阶段没有交易。"));
    screen = screen.table(deals);
    let here = ScreenRef::to("main").param("stage", v.stage.code());
    if v.after.is_some() {
        screen = screen.button(ButtonBuilder::screen(
            here.clone(),
            tr!("First page", "第一页"),
        ));
    }
    if let Some(next) = v.next {
        screen = screen.button(ButtonBuilder::screen(
            here.param("after", next),
            tr!("Next page", "下一页"),
        ));
    }
    screen = nav_buttons(screen, "main");
    if !v.state.seed.done {
        screen = screen.button(
            ButtonBuilder::action("seed-demo", tr!("Load demo data", "加载演示数据")).confirm(tr!(
                "Load demo advertisers, inventory, deals and bookings?",
                "加载演示广告客户、库存、交易和预订？"
            )),
        );
    }

    let advertiser_choices: Vec<(String, Label)> = v
        .advertisers
        .iter()
        .map(|a| (a.id.clone(), data(&a.data.name)))
        .collect();
    screen
        .form(new_deal_form(advertiser_choices))
        .form(new_advertiser_form())
        .build()
}

fn new_deal_form(advertisers: Vec<(String, Label)>) -> FormBuilder {
    FormBuilder::new("new-deal", "new-deal", tr!("Create deal", "创建交易"))
        .title(tr!("New deal", "新建交易"))
        .field(
            FieldBuilder::select("advertiser", tr!("Advertiser", "广告客户"), advertisers)
                .required(),
        )
        .field(
            FieldBuilder::text("title", tr!("Title", "标题"))
                .required()
                .max_length(120),
        )
        .field(
            FieldBuilder::select(
                "currency",
                tr!("Currency", "币种"),
                currencies().map(|c| (c, data(c))),
            )
            .required()
            .value("CNY"),
        )
        .field(
            FieldBuilder::text("budget", tr!("Budget", "预算"))
                .required()
                .help(tr!(
                    "In the currency's units, e.g. 250000.00",
                    "以币种单位填写，例如 250000.00"
                )),
        )
        .field(
            FieldBuilder::text("discount", tr!("Discount (%)", "折扣（%）")).help(tr!(
                "Applied to each spot's rate-card price, up to two decimals",
                "应用于每个广告位的刊例价，最多两位小数"
            )),
        )
        .field(
            FieldBuilder::date("close_date", tr!("Expected close date", "预计成交日期")).required(),
        )
}

fn new_advertiser_form() -> FormBuilder {
    FormBuilder::new(
        "new-advertiser",
        "new-advertiser",
        tr!("Add advertiser", "添加广告客户"),
    )
    .title(tr!("New advertiser", "新建广告客户"))
    .field(
        FieldBuilder::text("name", tr!("Organisation", "机构名称"))
            .required()
            .max_length(120),
    )
    .field(FieldBuilder::text("industry", tr!("Industry", "行业")).max_length(60))
    .field(
        FieldBuilder::text(
            "contact",
            tr!("Contact (customer id)", "联系人（客户编号）"),
        )
        .help(tr!("The contact person's customer id", "联系人的客户编号")),
    )
}

/// The advertiser's contact as the plugin could read it.
pub enum Contact {
    /// No contact linked.
    None,
    /// Its name, as the policy lets this user see it.
    Found(PersonalField),
    /// Erased, or not visible to this user.
    NotFound,
    /// The policy denied reading it: shown, with the reason.
    Denied(String),
}

/// `deal`: a deal's details, its bookings (cancel each), and forms to move it and book a spot.
pub fn deal_screen(deal: &Doc<Deal>, contact: &Contact, bookings: &[Doc<Booking>]) -> Screen {
    let d = &deal.data;
    let money = |m: i64| cell::money(m, &d.currency);
    let contact_cell = match contact {
        Contact::None => Cell::Empty,
        Contact::Found(name) => cell::personal(name),
        Contact::NotFound => cell::label(tr!("not found (erased?)", "未找到（已删除？）")),
        Contact::Denied(_) => Cell::Redacted,
    };
    let mut screen = ScreenBuilder::new(tr!("Deal {}", "交易 {}", d.reference)).key_values([
        (tr!("Deal", "交易"), cell::text(&d.reference)),
        (
            tr!("Advertiser", "广告客户"),
            cell::text(&d.advertiser_name),
        ),
        (tr!("Contact", "联系人"), contact_cell),
        (tr!("Title", "标题"), cell::text(&d.title)),
        (tr!("Stage", "阶段"), stage_badge(d.stage)),
        (
            tr!("Probability", "概率"),
            cell::text(percent_text(d.probability_bp)),
        ),
        (tr!("Budget", "预算"), money(d.budget_minor)),
        (
            tr!("Discount", "折扣"),
            cell::text(percent_text(d.discount_bp)),
        ),
        (tr!("Booked (net)", "已预订（净额）"), money(d.booked_minor)),
        (tr!("Value", "金额"), money(d.value())),
        (tr!("Expected value", "预期价值"), money(d.expected())),
        (tr!("Close date", "成交日期"), date_cell(&d.close_date)),
    ]);
    if let Contact::Denied(reason) = contact {
        screen = screen.notice(
            Tone::Warning,
            tr!(
                "The contact could not be read: {}",
                "无法读取联系人：{}",
                reason
            ),
        );
    }
    let gross: i64 = bookings.iter().map(|b| b.data.rate_minor).sum();
    let discount: i64 = bookings.iter().map(|b| b.data.discount_minor).sum();
    screen = screen
        .stat(tr!("Spots", "广告位"), cell::integer(bookings.len() as i64))
        .stat(tr!("Rate card", "刊例价"), money(gross))
        .stat(tr!("Discount", "折扣"), money(discount))
        .stat(tr!("Net", "净额"), money(d.booked_minor));
    let table = TableBuilder::new("bookings")
        .title(tr!("Bookings", "预订"))
        .column("spot", tr!("Spot", "广告位"))
        .column("date", tr!("Date", "日期"))
        .column("channel", tr!("Channel", "频道"))
        .column("programme", tr!("Programme", "节目"))
        .column("daypart", tr!("Daypart", "时段"))
        .numeric_column("length", tr!("Length (s)", "时长（秒）"))
        .numeric_column("rate", tr!("Rate card", "刊例价"))
        .numeric_column("discount", tr!("Discount", "折扣"))
        .numeric_column("net", tr!("Net", "净额"))
        .rows(bookings, |b: &Doc<Booking>| {
            let x = &b.data;
            (
                b.id.clone(),
                vec![
                    cell::text(&x.spot),
                    date_cell(&x.date),
                    cell::text(&x.channel),
                    cell::text(&x.programme),
                    cell::label(daypart_label(&x.daypart)),
                    cell::integer(i64::from(x.length_s)),
                    cell::money(x.rate_minor, &x.currency),
                    cell::money(x.discount_minor, &x.currency),
                    cell::money(x.net_minor, &x.currency),
                ],
            )
        })
        .row_action_with(crm_plugin_sdk::RowAction {
            action: "cancel-booking".into(),
            text: tr!("Cancel booking", "取消预订"),
            tone: Tone::Danger,
            confirm: Some(tr!("Release this spot?", "释放此广告位？")),
        })
        .empty_text(tr!("No spots booked yet.", "尚未预订广告位。"));
    screen = screen.table(table);

    if !d.stage.is_closed() {
        let stages = Stage::ALL
            .into_iter()
            .filter(|s| crate::domain::check_move(d.stage, *s).is_ok())
            .map(|s| (s.code(), stage_label(s)));
        screen = screen.form(
            FormBuilder::new("move-stage", "move-stage", tr!("Move", "移动"))
                .title(tr!("Move stage", "变更阶段"))
                .field(FieldBuilder::hidden("deal", &deal.id))
                .field(FieldBuilder::select("stage", tr!("New stage", "新阶段"), stages).required())
                .field(
                    FieldBuilder::text("probability", tr!("Probability (%)", "概率（%）")).help(
                        tr!(
                            "Empty: the stage's default. Won is 100 %, lost 0 %.",
                            "留空则使用阶段默认值。赢单为 100%，输单为 0%。"
                        ),
                    ),
                ),
        );
    }
    if d.stage != Stage::Lost {
        screen = screen.form(
            FormBuilder::new("book-spot", "book-spot", tr!("Book", "预订"))
                .title(tr!("Book a spot", "预订广告位"))
                .field(FieldBuilder::hidden("deal", &deal.id))
                .field(
                    FieldBuilder::text("spot", tr!("Spot", "广告位"))
                        .required()
                        .max_length(60)
                        .help(tr!(
                            "The spot's key from the inventory, e.g. NEWS-2026-03-02-PRIME-1",
                            "库存中的广告位编号，例如 NEWS-2026-03-02-PRIME-1"
                        )),
                ),
        );
    }
    nav_buttons(screen, "deal").build()
}

/// One day of a channel's inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct DayAvailability {
    pub date: Date,
    pub spots: usize,
    pub booked: usize,
}

/// What the inventory screen shows.
pub struct InventoryView<'a> {
    pub channels: &'a BTreeSet<String>,
    pub channel: &'a str,
    pub week: Date,
    pub days: &'a [DayAvailability],
    pub day: Date,
    pub spots: &'a [Doc<Spot>],
    /// Spot key → (deal id, deal reference) holding it.
    pub held: &'a BTreeMap<String, (String, String)>,
}

/// `inventory`: a channel's availability for a week, and one day's spots.
pub fn inventory_screen(v: &InventoryView) -> Screen {
    let at = |week: Date, day: Date| {
        ScreenRef::to("inventory")
            .param("channel", v.channel)
            .param("week", week.to_string())
            .param("day", day.to_string())
    };
    let mut screen = ScreenBuilder::new(tr!("Inventory", "广告库存"));
    if v.channels.is_empty() {
        screen = screen.notice(
            Tone::Info,
            tr!(
                "No inventory yet: load the demo data from the pipeline screen.",
                "暂无库存：请在销售管道页面加载演示数据。"
            ),
        );
    }
    for channel in v.channels {
        let target = ScreenRef::to("inventory")
            .param("channel", channel)
            .param("week", v.week.to_string());
        let tone = if channel == v.channel {
            Tone::Info
        } else {
            Tone::Neutral
        };
        screen = screen.button(ButtonBuilder::screen(target, data(channel)).tone(tone));
    }
    let week = TableBuilder::new("availability")
        .title(tr!(
            "{}: week of {}",
            "{}：{} 当周",
            v.channel,
            v.week.to_string()
        ))
        .column("date", tr!("Date", "日期"))
        .numeric_column("spots", tr!("Spots", "广告位"))
        .numeric_column("booked", tr!("Booked", "已预订"))
        .numeric_column("free", tr!("Free", "可售"))
        .column("status", tr!("Availability", "可售情况"))
        .rows(v.days, |d: &DayAvailability| {
            let free = d.spots.saturating_sub(d.booked);
            let status = match (d.spots, free) {
                (0, _) => cell::badge(Tone::Neutral, tr!("No inventory", "无库存")),
                (_, 0) => cell::badge(Tone::Danger, tr!("Sold out", "已售罄")),
                (n, f) if f * 4 <= n => cell::badge(Tone::Warning, tr!("Limited", "紧张")),
                _ => cell::badge(Tone::Success, tr!("Available", "可售")),
            };
            (
                d.date.to_string(),
                vec![
                    cell::link(data(d.date.to_string()), at(v.week, d.date)),
                    cell::integer(d.spots as i64),
                    cell::integer(d.booked as i64),
                    cell::integer(free as i64),
                    status,
                ],
            )
        });
    screen = screen
        .table(week)
        .button(ButtonBuilder::screen(
            at(v.week.add_days(-7), v.week.add_days(-7)),
            tr!("Previous week", "上一周"),
        ))
        .button(ButtonBuilder::screen(
            at(v.week.add_days(7), v.week.add_days(7)),
            tr!("Next week", "下一周"),
        ));
    let spots = TableBuilder::new("spots")
        .title(tr!("{} on {}", "{} · {}", v.channel, v.day.to_string()))
        .column("spot", tr!("Spot", "广告位"))
        .column("programme", tr!("Programme", "节目"))
        .column("daypart", tr!("Daypart", "时段"))
        .numeric_column("length", tr!("Length (s)", "时长（秒）"))
        .numeric_column("rate", tr!("Rate card", "刊例价"))
        .column("status", tr!("Status", "状态"))
        .column("deal", tr!("Booked by", "预订交易"))
        .rows(v.spots, |s: &Doc<Spot>| {
            let x = &s.data;
            let (status, deal) = match v.held.get(&x.key) {
                Some((id, reference)) => (
                    cell::badge(Tone::Warning, tr!("Booked", "已预订")),
                    deal_link(id, reference),
                ),
                None => (cell::badge(Tone::Success, tr!("Free", "可售")), Cell::Empty),
            };
            (
                x.key.clone(),
                vec![
                    cell::text(&x.key),
                    cell::text(&x.programme),
                    cell::label(daypart_label(&x.daypart)),
                    cell::integer(i64::from(x.length_s)),
                    cell::money(x.rate_minor, &x.currency),
                    status,
                    deal,
                ],
            )
        })
        .empty_text(tr!("No spots on this day.", "当天没有广告位。"));
    nav_buttons(screen.table(spots), "inventory").build()
}

/// `forecast`: expected value (value × probability, won deals at 100 %) by expected close month.
pub fn forecast_screen(state: &State) -> Screen {
    let forecast = &state.pipeline.forecast;
    let months: Vec<&String> = forecast.keys().collect();
    let currencies: BTreeSet<&String> = forecast.values().flat_map(|m| m.keys()).collect();
    let series = currencies.iter().map(|c| {
        let values = months
            .iter()
            .map(|m| forecast[*m].get(*c).map(|v| minor_to_major_f64(*v, c)))
            .collect();
        (tr!("Expected value ({})", "预期价值（{}）", c), values)
    });
    let mut screen = ScreenBuilder::new(tr!("Forecast", "预测")).chart(
        ChartKind::Bar,
        tr!("Expected value by month", "按月预期价值"),
        months.iter().map(|m| m.as_str()),
        series,
    );
    let table = TableBuilder::new("forecast")
        .column("month", tr!("Month", "月份"))
        .numeric_column("expected", tr!("Expected value", "预期价值"))
        .rows(
            forecast
                .iter()
                .flat_map(|(m, by)| by.iter().map(move |(c, v)| (m, c, v))),
            |(m, c, v)| (format!("{m}-{c}"), vec![cell::text(m), cell::money(*v, c)]),
        )
        .empty_text(tr!("No deals yet.", "暂无交易。"));
    screen = screen
        .text(tr!(
            "Each deal counts in the month of its expected close date, at its value times its probability ({} for won deals, 0 for lost ones).",
            "每笔交易按预计成交月份计入，金额乘以概率（赢单为 {}，输单为 0）。",
            percent_text(FULL_BP)
        ))
        .table(table);
    nav_buttons(screen, "forecast").build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Figures;
    use crm_plugin_sdk::Block;

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

    fn deal(stage: Stage) -> Deal {
        Deal {
            reference: "D-0007".into(),
            advertiser: "a1".into(),
            advertiser_name: "Lotus Foods".into(),
            title: "Spring launch".into(),
            stage,
            probability_bp: stage.default_probability_bp(),
            currency: "CNY".into(),
            budget_minor: 10_000_000,
            discount_bp: 1_000,
            close_date: "2026-04-10".into(),
            booked_minor: 5_400_000,
            bookings: 1,
            seed: None,
        }
    }

    fn booking() -> Booking {
        Booking {
            spot: "NEWS-2026-03-02-PRIME-1".into(),
            deal: "d1".into(),
            deal_ref: "D-0007".into(),
            channel: "NEWS".into(),
            date: "2026-03-02".into(),
            daypart: "prime".into(),
            programme: "Evening News".into(),
            length_s: 30,
            rate_minor: 6_000_000,
            discount_bp: 1_000,
            discount_minor: 600_000,
            net_minor: 5_400_000,
            currency: "CNY".into(),
            seed: None,
        }
    }

    fn tables(s: &Screen) -> Vec<&crm_plugin_sdk::Table> {
        s.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Table(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn forms(s: &Screen) -> Vec<&str> {
        s.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Form(f) => Some(f.action.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every label of the screen has a Chinese text, but the SDK's hidden fields (never shown).
    fn assert_bilingual(s: &Screen) {
        let hidden: usize = s
            .blocks
            .iter()
            .map(|b| match b {
                Block::Form(f) => f
                    .fields
                    .iter()
                    .filter(|f| f.kind == crm_plugin_sdk::FieldKind::Hidden)
                    .count(),
                _ => 0,
            })
            .sum();
        let text = format!("{s:?}");
        assert_eq!(
            text.matches("zh-hans: None").count(),
            hidden,
            "untranslated label in {text}"
        );
    }

    #[test]
    fn main_shows_totals_by_stage_and_the_stage_deals() {
        let mut state = State::default();
        let d = deal(Stage::Negotiation);
        state.pipeline.apply(None, Some(&d.figures()));
        let won = Figures::new(Stage::Won, "CNY", 50_000, FULL_BP, d.close());
        state.pipeline.apply(None, Some(&won));
        let deals = [doc("d1", d)];
        let advertisers = [doc(
            "a1",
            Advertiser {
                code: None,
                name: "Lotus Foods".into(),
                industry: String::new(),
                contact: None,
                seed: None,
            },
        )];
        let s = main_screen(&MainView {
            state: &state,
            stage: Stage::Negotiation,
            deals: &deals,
            after: None,
            next: Some("cur"),
            advertisers: &advertisers,
        });
        let t = tables(&s);
        let totals = t[0];
        let negotiation = totals
            .rows
            .iter()
            .find(|r| r.id == "negotiation-CNY")
            .unwrap();
        assert_eq!(negotiation.cells[1], Cell::Integer(1));
        assert_eq!(negotiation.cells[3], cell::money(3_240_000, "CNY"));
        assert!(
            totals.rows.iter().any(|r| r.id == "lead"),
            "empty stages listed"
        );
        assert!(totals.rows.iter().any(|r| r.id == "open-CNY"));
        assert_eq!(t[1].rows[0].cells[3], cell::money(5_400_000, "CNY"));
        assert_eq!(t[1].rows[0].cells[4], cell::text("60%"));
        assert_eq!(forms(&s), ["new-deal", "new-advertiser"]);
        assert!(format!("{s:?}").contains("after"), "a next-page button");
        assert!(format!("{s:?}").contains("seed-demo"));
        assert_bilingual(&s);
    }

    #[test]
    fn deal_screen_offers_moves_and_bookings() {
        let bookings = [doc("b1", booking())];
        let s = deal_screen(&doc("d1", deal(Stage::Proposal)), &Contact::None, &bookings);
        let t = tables(&s);
        assert_eq!(t[0].row_actions[0].action, "cancel-booking");
        assert_eq!(t[0].rows[0].id, "b1");
        assert_eq!(forms(&s), ["move-stage", "book-spot"]);
        let moves = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Form(f) if f.action == "move-stage" => Some(f),
                _ => None,
            })
            .unwrap();
        let choices = match &moves.fields[1].kind {
            crm_plugin_sdk::FieldKind::Select(c) => {
                c.iter().map(|c| c.value.as_str()).collect::<Vec<_>>()
            }
            k => panic!("{k:?}"),
        };
        assert_eq!(choices, ["lead", "negotiation", "lost"]);
        assert_bilingual(&s);

        let lost = deal_screen(
            &doc("d1", deal(Stage::Lost)),
            &Contact::Denied("field_denied".into()),
            &[],
        );
        assert!(forms(&lost).is_empty());
        assert!(
            lost.blocks
                .iter()
                .any(|b| matches!(b, Block::Paragraph(p) if p.tone == Tone::Warning)),
            "a denied read is shown"
        );
    }

    #[test]
    fn inventory_marks_booked_spots_with_their_deal() {
        let spot = Spot {
            key: "NEWS-2026-03-02-PRIME-1".into(),
            channel: "NEWS".into(),
            programme: "Evening News".into(),
            daypart: "prime".into(),
            date: "2026-03-02".into(),
            length_s: 30,
            rate_minor: 6_000_000,
            currency: "CNY".into(),
            seed: None,
        };
        let free = Spot {
            key: "NEWS-2026-03-02-PRIME-2".into(),
            ..spot.clone()
        };
        let spots = [doc("s1", spot), doc("s2", free)];
        let held = BTreeMap::from([(
            "NEWS-2026-03-02-PRIME-1".to_string(),
            ("d1".to_string(), "D-0007".to_string()),
        )]);
        let week = Date::parse("2026-03-02").unwrap();
        let days = [
            DayAvailability {
                date: week,
                spots: 8,
                booked: 8,
            },
            DayAvailability {
                date: week.add_days(1),
                spots: 8,
                booked: 1,
            },
        ];
        let channels = BTreeSet::from(["NEWS".to_string(), "SPORT".to_string()]);
        let s = inventory_screen(&InventoryView {
            channels: &channels,
            channel: "NEWS",
            week,
            days: &days,
            day: week,
            spots: &spots,
            held: &held,
        });
        let t = tables(&s);
        assert!(matches!(&t[0].rows[0].cells[4], Cell::Badge(b) if b.tone == Tone::Danger));
        assert!(matches!(&t[0].rows[1].cells[4], Cell::Badge(b) if b.tone == Tone::Success));
        assert!(matches!(&t[1].rows[0].cells[6], Cell::Link(l) if l.text.en == "D-0007"));
        assert_eq!(t[1].rows[1].cells[6], Cell::Empty);
        assert_eq!(t[1].rows[0].id, "NEWS-2026-03-02-PRIME-1");
    }

    #[test]
    fn forecast_charts_expected_value_by_month() {
        let mut state = State::default();
        let d = deal(Stage::Negotiation);
        state.pipeline.apply(None, Some(&d.figures()));
        let mut later = deal(Stage::Lead);
        later.close_date = "2026-06-01".into();
        later.currency = "EUR".into();
        state.pipeline.apply(None, Some(&later.figures()));
        let s = forecast_screen(&state);
        let chart = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Chart(c) => Some(c),
                _ => None,
            })
            .unwrap();
        assert_eq!(chart.x_labels, ["2026-04", "2026-06"]);
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].values, vec![Some(32_400.0), None]);
        assert_bilingual(&s);
    }

    #[test]
    fn labels_are_bilingual() {
        for s in Stage::ALL {
            assert!(stage_label(s).zh_hans.is_some());
        }
        for (d, _) in crate::seed::DAYPARTS {
            assert!(daypart_label(d).zh_hans.is_some());
        }
    }
}
