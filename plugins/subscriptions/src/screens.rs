//! The screens, built from data already read (no host calls here, so they are tested natively).

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{ChartKind, Stat};

use crate::domain::{
    Action, CURRENCIES, MAX_PAUSE_DAYS, Plan, State, Subscription, format_day, to_major,
};
use crate::stats::Summary;

/// Rows on a page of the subscribers list.
pub const PER_PAGE: u32 = 10;

fn date(day: i64) -> Cell {
    Cell::Date(format_day(day))
}

fn plan_name(plans: &[Plan], code: &str) -> Label {
    plans
        .iter()
        .find(|p| p.code == code)
        .map_or_else(|| en(code), Plan::name)
}

fn state_badge(state: State) -> Cell {
    cell::badge(state.tone(), state.label())
}

/// The currencies with revenue now or in the figures, in a stable order.
fn currencies(summary: &Summary) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in summary.months.values() {
        for c in m.arr.keys() {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
    }
    out.sort();
    out
}

/// `main`: the dashboard.
pub fn main_screen(summary: &Summary, today: i64) -> Screen {
    let months = summary.last_months(today, 12);
    let now = months.last().cloned().unwrap_or_default();
    let last = months
        .get(months.len().wrapping_sub(2))
        .cloned()
        .unwrap_or_default();
    let currencies = currencies(summary);
    let mut s = ScreenBuilder::new(tr!("Subscriptions", "订阅"));
    if summary.total() == 0 {
        s = s.notice(
            Tone::Info,
            tr!(
                "No subscriptions yet: enrol subscribers on the Subscribers screen, or load the demo data.",
                "还没有订阅：请在“订户”页面登记订户，或加载演示数据。"
            ),
        );
    }
    for c in &currencies {
        s = s.stat_with(Stat {
            title: tr!("MRR ({})", "月经常性收入（{}）", c),
            value: cell::money(now.mrr(c), c.as_str()),
            note: Some(tr!(
                "Active subscriptions, yearly plans counted as 1/12",
                "有效订阅，年付套餐按 1/12 计"
            )),
            tone: Tone::Neutral,
        });
    }
    let churn = last.churn_rate();
    s = s
        .stat(
            tr!("Active", "有效订阅"),
            cell::integer(summary.count(State::Active)),
        )
        .stat(
            tr!("In trial", "试用中"),
            cell::integer(summary.count(State::Trial)),
        )
        .stat(
            tr!("Paused", "已暂停"),
            cell::integer(summary.count(State::Paused)),
        )
        .stat_with(Stat {
            title: tr!("Churn rate last month", "上月流失率"),
            value: churn.map_or(Cell::Empty, |r| cell::decimal((r * 10.0).round() / 10.0)),
            note: Some(tr!(
                "% of active and paused subscribers at the start of {} who cancelled or expired in it",
                "{} 月初有效和暂停的订户中，当月取消或过期的百分比",
                last.key
            )),
            tone: if churn.is_some_and(|r| r >= 5.0) {
                Tone::Warning
            } else {
                Tone::Neutral
            },
        })
        .stat_with(Stat {
            title: tr!("At risk of churn", "有流失风险"),
            value: cell::link(
                en(summary.at_risk.to_string()),
                ScreenRef::to("subscribers").param("risk", "true"),
            ),
            note: Some(tr!(
                "Paused twice, downgraded or a failed renewal",
                "两次暂停、降级或续订失败"
            )),
            tone: if summary.at_risk > 0 {
                Tone::Warning
            } else {
                Tone::Neutral
            },
        });
    let keys: Vec<String> = months.iter().map(|m| m.key.clone()).collect();
    s = s.chart(
        ChartKind::Line,
        tr!("MRR over the last 12 months", "近 12 个月的月经常性收入"),
        keys.clone(),
        currencies.iter().map(|c| {
            (
                tr!("MRR ({})", "月经常性收入（{}）", c),
                months.iter().map(|m| Some(to_major(m.mrr(c), c))).collect(),
            )
        }),
    );
    s = s.chart(
        ChartKind::Bar,
        tr!("Subscribers over the last 12 months", "近 12 个月的订户"),
        keys,
        [
            (
                tr!("Active at month end", "月末有效"),
                months.iter().map(|m| Some(m.active as f64)).collect(),
            ),
            (
                tr!("New", "新增"),
                months.iter().map(|m| Some(m.started as f64)).collect(),
            ),
            (
                tr!("Churned", "流失"),
                months.iter().map(|m| Some(m.churned as f64)).collect(),
            ),
            (
                tr!("Churn rate (%)", "流失率（%）"),
                months.iter().map(|m| m.churn_rate()).collect(),
            ),
        ],
    );
    s = s
        .button(ButtonBuilder::screen(
            ScreenRef::to("subscribers"),
            tr!("Subscribers", "订户"),
        ))
        .button(ButtonBuilder::screen(
            ScreenRef::to("plans"),
            tr!("Plans", "套餐"),
        ));
    if !summary.seed.done {
        s = s.button(
            ButtonBuilder::action("seed-demo", tr!("Load demo data", "加载演示数据")).confirm(tr!(
                "Create demo plans and subscriptions for existing customers?",
                "为现有客户创建演示套餐和订阅？"
            )),
        );
    }
    s.build()
}

/// `plans`: the plans with their live subscriptions, and a form to add one.
pub fn plans_screen(plans: &[Plan], summary: &Summary) -> Screen {
    let table = TableBuilder::new("plans")
        .column("code", tr!("Code", "代码"))
        .column("name", tr!("Name", "名称"))
        .column("channels", tr!("Channels", "频道"))
        .numeric_column("price", tr!("Price", "价格"))
        .column("period", tr!("Billing", "计费周期"))
        .numeric_column("trial", tr!("Trial days", "试用天数"))
        .numeric_column("live", tr!("Live subscriptions", "在订数"))
        .rows(plans, |p: &Plan| {
            (
                p.code.clone(),
                vec![
                    cell::text(p.code.as_str()),
                    cell::label(p.name()),
                    cell::tags(p.channels.iter().cloned()),
                    cell::money(p.price_minor, p.currency.as_str()),
                    cell::label(p.period.label()),
                    cell::integer(i64::from(p.trial_days)),
                    cell::link(
                        en(summary.plans.get(&p.code).copied().unwrap_or(0).to_string()),
                        ScreenRef::to("subscribers").param("plan", p.code.as_str()),
                    ),
                ],
            )
        })
        .empty_text(tr!("No plans yet.", "还没有套餐。"));
    let form = FormBuilder::new("create-plan", "create-plan", tr!("Add plan", "添加套餐"))
        .title(tr!("New plan", "新套餐"))
        .field(
            FieldBuilder::text("code", tr!("Code", "代码"))
                .required()
                .pattern("[a-z0-9-]{2,32}")
                .help(tr!(
                    "Stable identifier, e.g. sports-cn",
                    "固定标识，例如 sports-cn"
                )),
        )
        .field(
            FieldBuilder::text("name_en", tr!("Name (English)", "名称（英文）"))
                .required()
                .max_length(80),
        )
        .field(
            FieldBuilder::text("name_zh", tr!("Name (Chinese)", "名称（中文）"))
                .required()
                .max_length(80),
        )
        .field(
            FieldBuilder::text("channels", tr!("Channels", "频道"))
                .required()
                .help(tr!("Separated by commas", "用逗号分隔")),
        )
        .field(
            FieldBuilder::select(
                "currency",
                tr!("Currency", "币种"),
                CURRENCIES.iter().map(|(c, _)| (*c, en(*c))),
            )
            .required()
            .value("CNY"),
        )
        .field(
            FieldBuilder::text("price", tr!("Price per period", "每周期价格"))
                .required()
                .pattern(r"[0-9]+(\.[0-9]{1,2})?")
                .help(tr!("e.g. 29.90", "例如 29.90")),
        )
        .field(
            FieldBuilder::select(
                "period",
                tr!("Billing period", "计费周期"),
                crate::domain::Period::ALL.map(|p| (p.code(), p.label())),
            )
            .required()
            .value("monthly"),
        )
        .field(
            FieldBuilder::integer("trial_days", tr!("Trial days", "试用天数"))
                .range(0.0, 90.0)
                .value("0"),
        );
    ScreenBuilder::new(tr!("Plans", "套餐"))
        .table(table)
        .form(form)
        .button(ButtonBuilder::screen(
            ScreenRef::to("main"),
            tr!("Dashboard", "概览"),
        ))
        .build()
}

/// The filters of the subscribers list (screen parameters `state`, `plan`, `risk`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub state: Option<State>,
    pub plan: Option<String>,
    pub at_risk: bool,
}

impl Filter {
    /// Reads the filters; an unknown state is `invalid` (an unknown plan simply matches nothing).
    pub fn from_params(params: &[crm_plugin_sdk::Param]) -> Result<Self, Error> {
        let state = match params.value("state").map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(State::parse(s).ok_or_else(|| {
                invalid_field("state", tr!("is not a known state", "不是已知状态"))
            })?),
        };
        let plan = params
            .value("plan")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from);
        let at_risk = params.value("risk") == Some("true");
        Ok(Filter {
            state,
            plan,
            at_risk,
        })
    }

    /// The screen parameters for these filters.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(s) = self.state {
            out.push(("state", s.code().to_string()));
        }
        if let Some(p) = &self.plan {
            out.push(("plan", p.clone()));
        }
        if self.at_risk {
            out.push(("risk", "true".to_string()));
        }
        out
    }

    pub fn query(&self) -> Query {
        let mut q = Query::new();
        if let Some(s) = self.state {
            q = q.eq("state", s.code());
        }
        if let Some(p) = &self.plan {
            q = q.eq("plan", p.as_str());
        }
        if self.at_risk {
            q = q.eq("at_risk", true);
        }
        q
    }

    /// The number of matches, when the summary knows it.
    pub fn total(&self, summary: &Summary) -> Option<u64> {
        let n = match (self.state, &self.plan, self.at_risk) {
            (None, None, false) => summary.total(),
            (Some(s), None, false) => summary.count(s),
            (None, None, true) => summary.at_risk,
            _ => return None,
        };
        Some(n.max(0) as u64)
    }
}

/// One page of the subscribers list.
pub struct SubscriberPage {
    /// Each subscription with its subscriber's name as the policy shows it.
    pub rows: Vec<(Doc<Subscription>, Cell)>,
    pub page: u32,
    pub has_more: bool,
    pub total: Option<u64>,
    /// Why some names are withheld, when the policy denied reading them.
    pub denied: Option<String>,
}

fn all_choice() -> (&'static str, Label) {
    ("", tr!("All", "全部"))
}

/// `subscribers`: filters, the paged list, and the enrolment form.
pub fn subscribers_screen(list: &SubscriberPage, filter: &Filter, plans: &[Plan]) -> Screen {
    let plan_choices = || {
        plans.iter().map(|p| {
            let text = Label {
                en: format!("{} ({})", p.name_en, p.currency),
                zh_hans: Some(format!("{}（{}）", p.name_zh, p.currency)),
            };
            (p.code.as_str(), text)
        })
    };
    let filters = FormBuilder::new("filter", "filter", tr!("Filter", "筛选"))
        .field(
            FieldBuilder::select(
                "state",
                tr!("State", "状态"),
                std::iter::once(all_choice())
                    .chain(State::ALL.iter().map(|s| (s.code(), s.label()))),
            )
            .value(filter.state.map_or("", State::code)),
        )
        .field(
            FieldBuilder::select(
                "plan",
                tr!("Plan", "套餐"),
                std::iter::once(all_choice()).chain(plan_choices()),
            )
            .value(filter.plan.as_deref().unwrap_or("")),
        )
        .field(
            FieldBuilder::checkbox("risk", tr!("Only at risk of churn", "仅显示有流失风险的"))
                .value(if filter.at_risk { "true" } else { "false" }),
        );
    let table = TableBuilder::new("subscriptions")
        .column("subscriber", tr!("Subscriber", "订户"))
        .column("plan", tr!("Plan", "套餐"))
        .column("state", tr!("State", "状态"))
        .numeric_column("price", tr!("Price", "价格"))
        .column("next", tr!("Next date", "下一日期"))
        .column("risk", tr!("Churn risk", "流失风险"))
        .column("open", tr!("Details", "详情"))
        .rows(&list.rows, |(doc, name): &(Doc<Subscription>, Cell)| {
            let s = &doc.data;
            (
                doc.id.clone(),
                vec![
                    name.clone(),
                    cell::label(plan_name(plans, &s.plan)),
                    state_badge(s.state),
                    cell::money(s.price_minor, s.currency.as_str()),
                    s.due_day.map_or(Cell::Empty, date),
                    if s.at_risk {
                        cell::badge(Tone::Warning, tr!("At risk", "有风险"))
                    } else {
                        Cell::Empty
                    },
                    cell::link(
                        tr!("Open", "打开"),
                        ScreenRef::to("subscription").param("id", doc.id.as_str()),
                    ),
                ],
            )
        })
        .paging_with(crm_plugin_sdk::Paging {
            page: list.page,
            per_page: PER_PAGE,
            total: list.total,
            has_more: list.has_more,
            param: "page".into(),
        })
        .empty_text(tr!("No subscriptions match.", "没有匹配的订阅。"));
    let enrol = FormBuilder::new("enroll", "enroll", tr!("Enrol", "登记"))
        .title(tr!("Enrol a subscriber", "登记订户"))
        .field(
            FieldBuilder::email("email", tr!("Customer's email", "客户电子邮件"))
                .required()
                .help(tr!(
                    "The customer must already exist in the CRM",
                    "客户必须已在 CRM 中"
                )),
        )
        .field(FieldBuilder::select("plan", tr!("Plan", "套餐"), plan_choices()).required())
        .field(
            FieldBuilder::checkbox(
                "trial",
                tr!("Start with the plan's trial", "从套餐试用开始"),
            )
            .value("true"),
        );
    let mut s = ScreenBuilder::new(tr!("Subscribers", "订户")).form(filters);
    if let Some(reason) = &list.denied {
        s = s.notice(
            Tone::Warning,
            tr!(
                "Some subscribers' names are withheld: access denied ({})",
                "部分订户姓名未显示：访问被拒绝（{}）",
                reason
            ),
        );
    }
    s.table(table)
        .form(enrol)
        .button(ButtonBuilder::screen(
            ScreenRef::to("main"),
            tr!("Dashboard", "概览"),
        ))
        .build()
}

/// The subscriber as the policy lets the acting user see them.
pub struct SubscriberView {
    pub name: Cell,
    pub email: Cell,
}

/// `subscription`: the details, churn-risk reasons, the actions its state allows, and history.
pub fn subscription_screen(
    doc: &Doc<Subscription>,
    subscriber: &SubscriberView,
    plans: &[Plan],
) -> Screen {
    let sub = &doc.data;
    let id = doc.id.as_str();
    let mut details = vec![
        (tr!("Subscriber", "订户"), subscriber.name.clone()),
        (tr!("Email", "电子邮件"), subscriber.email.clone()),
        (
            tr!("Plan", "套餐"),
            cell::label(plan_name(plans, &sub.plan)),
        ),
        (
            tr!("Price", "价格"),
            cell::money(sub.price_minor, sub.currency.as_str()),
        ),
        (tr!("Billing", "计费周期"), cell::label(sub.period.label())),
        (tr!("State", "状态"), state_badge(sub.state)),
        (tr!("Started", "开始日期"), date(sub.started_day)),
    ];
    match sub.state {
        State::Trial => details.push((tr!("Trial ends", "试用结束"), date(sub.period_end_day))),
        State::Active | State::Paused => {
            details.push((tr!("Paid through", "已付至"), date(sub.period_end_day)))
        }
        State::Cancelled | State::Expired => {}
    }
    if let Some(day) = sub.paused_day {
        details.push((tr!("Paused since", "暂停开始"), date(day)));
        details.push((
            tr!("Expires unless resumed by", "若未恢复将于此日过期"),
            date(day + MAX_PAUSE_DAYS),
        ));
    }
    if let Some(day) = sub.due_day.filter(|_| sub.state != State::Paused) {
        details.push((tr!("Next renewal attempt", "下次续订尝试"), date(day)));
    }
    if let Some(day) = sub.ended_day {
        details.push((tr!("Ended", "结束日期"), date(day)));
    }
    details.push((
        tr!("Simulated payment failure", "模拟付款失败"),
        Cell::Boolean(sub.fail_payments),
    ));
    let mut s = ScreenBuilder::new(tr!("Subscription", "订阅")).key_values(details);

    let reasons = sub.churn_risk();
    if !reasons.is_empty() {
        let (en_list, zh_list): (Vec<String>, Vec<String>) = reasons
            .iter()
            .map(|r| {
                let l = r.label();
                let zh = l.zh_hans.clone().unwrap_or_else(|| l.en.clone());
                (l.en, zh)
            })
            .unzip();
        s = s.notice(
            Tone::Warning,
            Label {
                en: format!("Churn risk: {}.", en_list.join("; ")),
                zh_hans: Some(format!("流失风险：{}。", zh_list.join("；"))),
            },
        );
    }

    let act = |action: &str, text: Label| ButtonBuilder::action(action, text).param("id", id);
    if Action::Pause.allowed(sub.state) {
        s = s.button(act("pause", tr!("Pause", "暂停")));
    }
    if Action::Resume.allowed(sub.state) {
        s = s.button(act("resume", tr!("Resume", "恢复")).tone(Tone::Success));
    }
    if Action::Cancel.allowed(sub.state) {
        s = s.button(
            act("cancel", tr!("Cancel subscription", "取消订阅"))
                .tone(Tone::Danger)
                .confirm(tr!(
                    "Cancel this subscription now? This cannot be undone.",
                    "立即取消此订阅？此操作无法撤销。"
                )),
        );
    }
    if sub.state.is_live() {
        let (text, value) = if sub.fail_payments {
            (tr!("Let payments succeed", "恢复付款成功"), "false")
        } else {
            (tr!("Simulate failing payments", "模拟付款失败"), "true")
        };
        s = s.button(act("simulate-failure", text).param("fail", value));
    }
    s = s.button(ButtonBuilder::screen(
        ScreenRef::to("subscribers"),
        tr!("All subscribers", "全部订户"),
    ));

    let others: Vec<&Plan> = plans
        .iter()
        .filter(|p| p.currency == sub.currency && p.code != sub.plan)
        .collect();
    if Action::ChangePlan.allowed(sub.state) && !others.is_empty() {
        s = s.form(
            FormBuilder::new("change-plan", "change-plan", tr!("Change plan", "更换套餐"))
                .title(tr!("Change plan", "更换套餐"))
                .field(FieldBuilder::hidden("id", id))
                .field(
                    FieldBuilder::select(
                        "plan",
                        tr!("New plan", "新套餐"),
                        others.iter().map(|p| (p.code.as_str(), p.name())),
                    )
                    .required()
                    .help(tr!(
                        "Same currency; the new price counts from now and bills at the next renewal",
                        "相同币种；新价格即时计入，并在下次续订时收取"
                    )),
                ),
        );
    }

    let history = TableBuilder::new("history")
        .title(tr!("History", "历史"))
        .column("at", tr!("When", "时间"))
        .column("event", tr!("Event", "事件"))
        .column("from", tr!("From", "原状态"))
        .column("to", tr!("To", "新状态"))
        .column("plan", tr!("Plan", "套餐"))
        .numeric_column("mrr", tr!("MRR after", "之后的月收入"))
        .rows(sub.history.iter().enumerate().rev(), |(i, e)| {
            (
                i.to_string(),
                vec![
                    cell::time(e.at),
                    cell::label(e.event.label()),
                    e.from.map_or(Cell::Empty, state_badge),
                    state_badge(e.to),
                    cell::label(plan_name(plans, &e.plan)),
                    if e.to.is_paying() {
                        cell::money(crate::domain::mrr_of(e.arr_minor), sub.currency.as_str())
                    } else {
                        cell::money(0, sub.currency.as_str())
                    },
                ],
            )
        });
    s.table(history).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::{at, plan};
    use crate::domain::{Period, day_of};
    use crm_plugin_sdk::errors::param;
    use crm_plugin_sdk::{Block, ButtonTarget};

    fn doc(id: &str, sub: Subscription) -> Doc<Subscription> {
        Doc {
            id: id.into(),
            customer: Some(sub.customer.clone()),
            data: sub,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn buttons(s: &Screen) -> Vec<String> {
        s.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Actions(row) => Some(row),
                _ => None,
            })
            .flatten()
            .filter_map(|b| match &b.target {
                ButtonTarget::Action(a) => Some(a.clone()),
                ButtonTarget::Screen(_) => None,
            })
            .collect()
    }

    fn table<'a>(s: &'a Screen, id: &str) -> &'a crm_plugin_sdk::Table {
        s.blocks
            .iter()
            .find_map(|b| match b {
                Block::Table(t) if t.id == id => Some(t),
                _ => None,
            })
            .expect("table")
    }

    #[test]
    fn the_dashboard_shows_mrr_counts_churn_and_twelve_months() {
        let plans = crate::demo::plans();
        let now = at(2026, 3, 15);
        let mut summary = Summary::default();
        for i in 0..120 {
            let s = crate::demo::subscription(i, "c", i % 2 == 0, &plans, now);
            summary.record_from(&s, 0);
        }
        let screen = main_screen(&summary, day_of(now));
        let stats: Vec<&crm_plugin_sdk::Stat> = screen
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Stats(row) => Some(row),
                _ => None,
            })
            .flatten()
            .collect();
        let titles: Vec<&str> = stats.iter().map(|s| s.title.en.as_str()).collect();
        assert_eq!(
            titles,
            [
                "MRR (CNY)",
                "MRR (EUR)",
                "Active",
                "In trial",
                "Paused",
                "Churn rate last month",
                "At risk of churn"
            ]
        );
        assert!(matches!(&stats[0].value, Cell::Money(m) if m.currency == "CNY" && m.minor > 0));
        assert_eq!(stats[2].value, cell::integer(summary.count(State::Active)));
        let charts: Vec<_> = screen
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Chart(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[0].x_labels.len(), 12);
        assert_eq!(charts[0].x_labels[11], "2026-03");
        assert_eq!(charts[0].series.len(), 2);
        assert!(
            charts
                .iter()
                .all(|c| c.series.iter().all(|s| s.values.len() == 12))
        );
        assert_eq!(buttons(&screen), ["seed-demo"]);

        let empty = main_screen(&Summary::default(), day_of(now));
        assert!(matches!(&empty.blocks[0], Block::Paragraph(p) if p.tone == Tone::Info));
    }

    #[test]
    fn the_detail_offers_only_what_the_state_allows_and_explains_the_risk() {
        let plans = vec![
            plan("basic", 2990, "CNY", Period::Monthly, 0),
            plan("sports", 6800, "CNY", Period::Monthly, 0),
            plan("euro", 999, "EUR", Period::Monthly, 0),
        ];
        let mut sub = Subscription::start("c1", &plans[1], at(2025, 1, 1), false);
        sub.change_plan(&plans[0], at(2025, 1, 5)).unwrap();
        sub.pause(at(2025, 1, 6)).unwrap();
        let view = SubscriberView {
            name: Cell::Masked("A** L*****".into()),
            email: Cell::Redacted,
        };
        let s = subscription_screen(&doc("s1", sub.clone()), &view, &plans);
        assert_eq!(buttons(&s), ["resume", "cancel", "simulate-failure"]);
        assert!(s.blocks.iter().any(|b| matches!(b,
            Block::Paragraph(p) if p.tone == Tone::Warning && p.text.en.contains("Downgraded"))));
        assert!(matches!(&s.blocks[0], Block::KeyValues(kv) if kv[0].value == view.name));
        let form = s
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Form(f) => Some(f),
                _ => None,
            })
            .expect("change-plan form");
        assert!(
            matches!(&form.fields[1].kind, crm_plugin_sdk::FieldKind::Select(c)
                if c.len() == 1 && c[0].value == "sports"),
            "other plans in the same currency only"
        );
        let history = table(&s, "history");
        assert_eq!(history.rows.len(), 3);
        assert_eq!(
            history.rows[0].cells[1],
            cell::label(tr!("Paused", "已暂停"))
        );

        sub.cancel(at(2025, 1, 7)).unwrap();
        let ended = subscription_screen(&doc("s1", sub), &view, &plans);
        assert!(buttons(&ended).is_empty());
        assert!(!ended.blocks.iter().any(|b| matches!(b, Block::Form(_))));
    }

    #[test]
    fn the_list_pages_and_filters() {
        let filter = Filter::from_params(&[
            param("state", "active"),
            param("plan", "basic"),
            param("risk", "true"),
        ])
        .unwrap();
        assert_eq!(filter.state, Some(State::Active));
        assert_eq!(filter.query().0.conditions.len(), 3);
        assert_eq!(filter.params().len(), 3);
        assert_eq!(filter.total(&Summary::default()), None);
        let err = Filter::from_params(&[param("state", "zombie")]).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "state");
        let all = Filter::from_params(&[param("state", "")]).unwrap();
        assert_eq!(all, Filter::default());
        assert_eq!(all.total(&Summary::default()), Some(0));

        let plans = vec![plan("basic", 2990, "CNY", Period::Monthly, 7)];
        let mut sub = Subscription::start("c1", &plans[0], at(2025, 1, 1), true);
        sub.fail_payments = true;
        sub.run_due(at(2025, 1, 8));
        let list = SubscriberPage {
            rows: vec![(doc("s1", sub), Cell::Redacted)],
            page: 2,
            has_more: true,
            total: None,
            denied: Some("role marketing may not read customers".into()),
        };
        let s = subscribers_screen(&list, &filter, &plans);
        let t = table(&s, "subscriptions");
        assert_eq!(t.rows[0].cells[0], Cell::Redacted);
        assert!(matches!(&t.rows[0].cells[5], Cell::Badge(b) if b.tone == Tone::Warning));
        let paging = t.paging.as_ref().unwrap();
        assert!(paging.has_more && paging.page == 2 && paging.total.is_none());
        assert!(s.blocks.iter().any(|b| matches!(b,
            Block::Paragraph(p) if p.text.en.contains("access denied"))));
    }

    #[test]
    fn the_plans_screen_lists_plans_and_offers_the_form() {
        let plans = crate::demo::plans();
        let s = plans_screen(&plans, &Summary::default());
        let t = table(&s, "plans");
        assert_eq!(t.rows.len(), plans.len());
        assert_eq!(t.rows[0].cells[3], cell::money(2990, "CNY"));
        assert!(s.blocks.iter().any(|b| matches!(b,
            Block::Form(f) if f.action == "create-plan" && f.fields.len() == 8)));
    }
}
