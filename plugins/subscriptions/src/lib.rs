//! `subscriptions`: a broadcaster's subscription plans and subscribers.
//!
//! Plans are channel packages with a price in integer minor units of an ISO 4217 currency, a
//! billing period (monthly or yearly) and a trial length. Customers are enrolled on plans; each
//! subscription goes trial → active ⇄ paused → cancelled / expired, keeps a dated history of its
//! transitions, and is flagged as a churn risk from simple signals shown with their reasons
//! (paused twice, downgraded, renewal failed).
//!
//! - Screens: `main` (dashboard: MRR per currency, active count, churn rate, 12-month charts;
//!   in the menu), `plans`, `subscribers` (filters by state, plan and risk; paged),
//!   `subscription` (details, actions, history; param `id`).
//! - Actions: `filter` (read-only), `create-plan`, `enroll`, `pause`, `resume`, `cancel`,
//!   `change-plan`, `simulate-failure` (sets the flag that makes renewals fail, for demos and
//!   tests), `seed-demo` (demo data in resumable batches of at most 25 writes).
//! - Job: `renewals`, daily at 02:00: converts ended trials, renews due periods, records failed
//!   payments (retried every 3 days, expired after the fourth failure) and expires pauses over
//!   90 days.
//! - Collections: `plans` (indexed `code`, `currency`), `subscriptions` (about their customer;
//!   indexed `state`, `plan`, `at_risk`, `due_day`, `seed_batch`), `summary` (one document of
//!   counts and monthly changes, so the dashboard reads one document; indexed `key`).
//! - Capabilities: `customers`, `records`, `clock`, `log` (ids and counts only).
//!
//! The rules live in pure modules tested natively ([`domain`], [`stats`], [`demo`], [`screens`]);
//! this file and [`store`] are the glue to the host.

pub mod demo;
pub mod domain;
pub mod screens;
pub mod stats;
pub mod store;

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{Schedule, clock, customers, log};

use crate::domain::{Plan, PlanInput, RuleError, Subscription, day_of};
use crate::screens::{Filter, PER_PAGE, SubscriberPage, SubscriberView};
use crate::store::{SUBSCRIPTIONS, update_summary};

/// Demo subscriptions written per `seed-demo` call, plus one summary write: well under the 25
/// writes a call may do, so a batch fits the 100 ms deadline with room to spare (≈40 calls).
const SEED_BATCH: u32 = 8;
/// Subscriptions the renewal job changes per run at most (the rest wait for the next run).
const JOB_MAX_WRITES: u64 = 40;
/// How far back the renewal job catches up on days it missed.
const JOB_CATCH_UP_DAYS: i64 = 31;

pub struct Subscriptions;

impl Plugin for Subscriptions {
    fn manifest() -> Manifest {
        let mut m = ManifestBuilder::new(
            "subscriptions",
            env!("CARGO_PKG_VERSION"),
            tr!("Subscriptions", "订阅"),
        )
        .description(tr!(
            "Subscription plans, subscribers and their lifecycle, renewals, churn risk and MRR.",
            "订阅套餐、订户及其生命周期、续订、流失风险和月经常性收入。"
        ))
        .capability(
            Capability::Customers,
            tr!(
                "Finds subscribers by email and shows their names",
                "按电子邮件查找订户并显示其姓名"
            ),
        )
        .capability(
            Capability::Records,
            tr!(
                "Stores plans, subscriptions (about their subscriber) and a summary",
                "存储套餐、订阅（关联订户）和汇总"
            ),
        )
        .capability(
            Capability::Clock,
            tr!(
                "Dates transitions and finds renewals due today",
                "为状态变更记录日期并查找今日到期的续订"
            ),
        )
        .capability(
            Capability::Log,
            tr!(
                "Logs what it changed (ids and counts only)",
                "记录所做更改（仅含编号和数量）"
            ),
        )
        .screen("main", tr!("Subscriptions", "订阅"), true)
        .screen("plans", tr!("Plans", "套餐"), false)
        .screen("subscribers", tr!("Subscribers", "订户"), false)
        .screen("subscription", tr!("Subscription", "订阅详情"), false)
        .action("filter", tr!("Filter", "筛选"), false)
        .action("create-plan", tr!("Add plan", "添加套餐"), true)
        .action("enroll", tr!("Enrol subscriber", "登记订户"), true)
        .action("pause", tr!("Pause", "暂停"), true)
        .action("resume", tr!("Resume", "恢复"), true)
        .action("cancel", tr!("Cancel subscription", "取消订阅"), true)
        .action("change-plan", tr!("Change plan", "更换套餐"), true)
        .action(
            "simulate-failure",
            tr!("Simulate failing payments", "模拟付款失败"),
            true,
        )
        .action("seed-demo", tr!("Load demo data", "加载演示数据"), true)
        .job(
            "renewals",
            tr!("Daily renewals", "每日续订"),
            Schedule::DailyAt("02:00".into()),
        );
        for (name, indexed) in store::COLLECTIONS {
            m = m.collection(name, indexed.iter().copied());
        }
        m.build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        let params = &request.params;
        match request.screen.as_str() {
            "main" => {
                let summary = store::summary()?.map(|d| d.data).unwrap_or_default();
                Ok(screens::main_screen(&summary, day_of(clock::now())))
            }
            "plans" => {
                let summary = store::summary()?.map(|d| d.data).unwrap_or_default();
                Ok(screens::plans_screen(&store::plans()?, &summary))
            }
            "subscribers" => {
                let filter = Filter::from_params(params)?;
                let page = params.parse::<u32>("page")?.unwrap_or(1).max(1);
                let summary = store::summary()?.map(|d| d.data).unwrap_or_default();
                let (docs, has_more) = store::page(filter.query(), page, PER_PAGE)?;
                let mut denied = None;
                let mut rows = Vec::with_capacity(docs.len());
                for doc in docs {
                    let name = match customers::get(&doc.data.customer) {
                        Ok(c) => cell::personal(&c.name),
                        // Shown, not hidden: the row says withheld and the screen says why.
                        Err(Error::Denied(reason)) => {
                            denied = Some(reason);
                            Cell::Redacted
                        }
                        Err(Error::NotFound) => Cell::Empty,
                        Err(e) => return Err(e),
                    };
                    rows.push((doc, name));
                }
                let list = SubscriberPage {
                    rows,
                    page,
                    has_more,
                    total: filter.total(&summary),
                    denied,
                };
                Ok(screens::subscribers_screen(
                    &list,
                    &filter,
                    &store::plans()?,
                ))
            }
            "subscription" => {
                let id = params.value("id").ok_or(Error::NotFound)?;
                let doc = SUBSCRIPTIONS.get(id)?;
                let c = customers::get(&doc.data.customer)?;
                let view = SubscriberView {
                    name: cell::personal(&c.name),
                    email: cell::personal(&c.email),
                };
                Ok(screens::subscription_screen(&doc, &view, &store::plans()?))
            }
            _ => Err(Error::NotFound),
        }
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        let inputs = &request.inputs;
        match request.action.as_str() {
            "filter" => {
                let filter = Filter::from_params(inputs)?;
                let mut target = ScreenRef::to("subscribers");
                for (name, value) in filter.params() {
                    target = target.param(name, value);
                }
                Ok(ActionOutcome {
                    notice: None,
                    next: Next::Navigate(target),
                })
            }
            "create-plan" => create_plan(inputs),
            "enroll" => enroll(inputs),
            "pause" | "resume" | "cancel" | "change-plan" | "simulate-failure" => {
                let id = inputs
                    .value("id")
                    .or(request.row.as_deref())
                    .ok_or(Error::NotFound)?;
                change(&request.action, id, inputs)
            }
            "seed-demo" => seed_demo(),
            _ => Err(Error::NotFound),
        }
    }

    fn run_job(request: JobRequest) -> Result<JobReport, Error> {
        match request.job.as_str() {
            "renewals" => renewals(),
            _ => Err(Error::NotFound),
        }
    }
}

crm_plugin_sdk::export_plugin!(Subscriptions);

fn create_plan(inputs: &[crm_plugin_sdk::Param]) -> Result<ActionOutcome, Error> {
    let v = |name| inputs.value(name).unwrap_or_default();
    let plan = domain::validate_plan(&PlanInput {
        code: v("code"),
        name_en: v("name_en"),
        name_zh: v("name_zh"),
        channels: v("channels"),
        price: v("price"),
        currency: v("currency"),
        period: v("period"),
        trial_days: v("trial_days"),
    })
    .map_err(invalid)?;
    if store::plan(&plan.code)?.is_some() {
        return Err(invalid_field(
            "code",
            tr!("is already used by another plan", "已被其他套餐使用"),
        ));
    }
    store::PLANS.insert(None, &plan)?;
    log::log(log::Level::Info, &format!("created plan {}", plan.code));
    Ok(refresh(
        Tone::Success,
        tr!("Plan {} added.", "已添加套餐 {}。", plan.code),
    ))
}

fn enroll(inputs: &[crm_plugin_sdk::Param]) -> Result<ActionOutcome, Error> {
    let email = inputs.required("email")?;
    let code = inputs.required("plan")?;
    let with_trial = inputs.value("trial") == Some("true");
    let customer = customers::find_by_email(email)?.ok_or_else(|| {
        invalid_field(
            "email",
            tr!(
                "No customer has this email address",
                "没有客户使用此电子邮件地址"
            ),
        )
    })?;
    let plan: Plan = store::plan(code)?
        .ok_or_else(|| invalid_field("plan", tr!("is not a known plan", "不是已知套餐")))?;
    let (existing, _) = SUBSCRIPTIONS.query(
        Query::new()
            .customer(&customer.id)
            .eq("plan", code)
            .limit(100),
    )?;
    if existing.iter().any(|d| d.data.state.is_live()) {
        return Err(invalid_field(
            "plan",
            tr!(
                "This customer already has a live subscription to this plan",
                "该客户已有此套餐的有效订阅"
            ),
        ));
    }
    let sub = Subscription::start(&customer.id, &plan, clock::now(), with_trial);
    let doc = SUBSCRIPTIONS.insert(Some(&customer.id), &sub)?;
    update_summary(|s| s.record_from(&doc.data, 0))?;
    log::log(
        log::Level::Info,
        &format!(
            "enrolled customer {} on plan {} as subscription {}",
            customer.id, plan.code, doc.id
        ),
    );
    Ok(ActionOutcome {
        notice: Some(notice(
            Tone::Success,
            tr!("Subscriber enrolled.", "订户已登记。"),
        )),
        next: Next::Navigate(ScreenRef::to("subscription").param("id", doc.id)),
    })
}

/// A staff change to one subscription. Refused transitions come back as `invalid` with the
/// rule's message (on the form's `plan` field for a plan change, on `state` otherwise).
fn change(
    action: &str,
    id: &str,
    inputs: &[crm_plugin_sdk::Param],
) -> Result<ActionOutcome, Error> {
    let mut doc = SUBSCRIPTIONS.get(id)?;
    let from = doc.data.history.len();
    let now = clock::now();
    let refused = |e: RuleError| {
        let field = if matches!(e, RuleError::NotAllowed { .. }) {
            "state"
        } else {
            "plan"
        };
        invalid_field(field, e.message())
    };
    let sub = &mut doc.data;
    let done = match action {
        "pause" => {
            sub.pause(now).map_err(refused)?;
            tr!("Subscription paused.", "订阅已暂停。")
        }
        "resume" => {
            sub.resume(now).map_err(refused)?;
            tr!("Subscription resumed.", "订阅已恢复。")
        }
        "cancel" => {
            sub.cancel(now).map_err(refused)?;
            tr!("Subscription cancelled.", "订阅已取消。")
        }
        "change-plan" => {
            let code = inputs.required("plan")?;
            let plan = store::plan(code)?
                .ok_or_else(|| invalid_field("plan", tr!("is not a known plan", "不是已知套餐")))?;
            sub.change_plan(&plan, now).map_err(refused)?;
            tr!("Plan changed.", "套餐已更换。")
        }
        _ => {
            if !sub.state.is_live() {
                return Err(invalid_field(
                    "state",
                    tr!(
                        "The subscription has ended: nothing to renew.",
                        "订阅已结束：无需续订。"
                    ),
                ));
            }
            sub.fail_payments = inputs.value("fail") == Some("true");
            if sub.fail_payments {
                tr!(
                    "Renewals of this subscription will now fail.",
                    "此订阅的续订现在将失败。"
                )
            } else {
                tr!(
                    "Renewals of this subscription will succeed again.",
                    "此订阅的续订将恢复成功。"
                )
            }
        }
    };
    store::save(&doc, from)?;
    log::log(log::Level::Info, &format!("{action} on subscription {id}"));
    Ok(refresh(Tone::Success, done))
}

/// One batch of demo data. The first call adds the plans; each later call adds up to
/// [`SEED_BATCH`] subscriptions for existing customers and records them in the summary together
/// with the progress, in one write. A batch cut short (the deadline) is redone without
/// duplicates: the subscriptions it already wrote are found by their indexed `seed_batch`.
fn seed_demo() -> Result<ActionOutcome, Error> {
    let summary = store::summary()?.map(|d| d.data).unwrap_or_default();
    if summary.seed.done {
        return Ok(refresh(
            Tone::Success,
            tr!("The demo data is loaded.", "演示数据已加载。"),
        ));
    }
    let plans = store::plans()?;
    let missing: Vec<Plan> = demo::plans()
        .into_iter()
        .filter(|p| !plans.iter().any(|e| e.code == p.code))
        .collect();
    if !missing.is_empty() {
        for p in &missing {
            store::PLANS.insert(None, p)?;
        }
        log::log(
            log::Level::Info,
            &format!("seed-demo: added {} plans", missing.len()),
        );
        return Ok(refresh(
            Tone::Info,
            tr!(
                "Demo plans added; subscriptions follow.",
                "已添加演示套餐；接下来添加订阅。"
            ),
        ));
    }
    // Reading customers and subscriptions decrypts them: read only this batch's.
    let search = |page: u32, per_page: u32| {
        customers::search(&customers::SearchQuery {
            region: None,
            tags: Vec::new(),
            page,
            per_page,
        })
    };
    let target = match summary.seed.target {
        Some(t) => t,
        None => demo::TARGET.min(search(1, 1)?.total.min(u64::from(u32::MAX)) as u32),
    };
    let start = summary.seed.next;
    let end = (start + SEED_BATCH).min(target);
    let batch = i64::from(start / SEED_BATCH);
    let (already, _) = SUBSCRIPTIONS.query(Query::new().eq("seed_batch", batch).limit(100))?;
    let mut docs: Vec<Subscription> = already.into_iter().map(|d| d.data).collect();
    let customers = if start < end {
        search(start / SEED_BATCH + 1, SEED_BATCH)?.items
    } else {
        Vec::new()
    };
    let now = clock::now();
    for (i, customer) in (start..end).zip(&customers) {
        if docs.iter().any(|s| s.seed_index == Some(i)) {
            continue;
        }
        let in_china = customer.region == Region::Cn;
        let mut sub = demo::subscription(i, &customer.id, in_china, &plans, now);
        sub.seed_batch = Some(batch);
        sub.seed_index = Some(i);
        SUBSCRIPTIONS.insert(Some(&customer.id), &sub)?;
        docs.push(sub);
    }
    let done = end >= target;
    let mut applied = false;
    update_summary(|s| {
        // Only once, even if a concurrent call got there first.
        applied = s.seed.next == start && !s.seed.done;
        if applied {
            for sub in &docs {
                s.record_from(sub, 0);
            }
            s.seed = stats::SeedProgress {
                next: end,
                target: Some(target),
                done,
            };
        }
    })?;
    log::log(
        log::Level::Info,
        &format!("seed-demo: subscriptions {start}..{end} of {target} (applied: {applied})"),
    );
    if done {
        Ok(refresh(
            Tone::Success,
            tr!(
                "Demo data loaded: {} subscriptions.",
                "演示数据已加载：{} 个订阅。",
                target
            ),
        ))
    } else {
        Ok(refresh(
            Tone::Info,
            tr!(
                "Demo data: {} of {} subscriptions loaded; continue.",
                "演示数据：已加载 {} / {} 个订阅；请继续。",
                end,
                target
            ),
        ))
    }
}

/// Counts of what one renewal run did.
#[derive(Default)]
struct RunCounts {
    converted: u64,
    renewed: u64,
    failed: u64,
    expired: u64,
}

/// The daily job: walks the days from the one after the last finished day to today (at most a
/// month back), and for each day handles the subscriptions due on it. A day counts as finished
/// once none is left; a run stops after [`JOB_MAX_WRITES`] changes and the next run continues.
fn renewals() -> Result<JobReport, Error> {
    use domain::Event;
    let now = clock::now();
    let today = day_of(now);
    let summary = store::summary()?.map(|d| d.data).unwrap_or_default();
    let first = summary
        .renewals_done
        .map_or(today, |d| d + 1)
        .max(today - JOB_CATCH_UP_DAYS);
    let mut counts = RunCounts::default();
    let mut changed: Vec<(Subscription, usize)> = Vec::new();
    let mut finished = summary.renewals_done;
    let mut result = Ok(());
    'days: for day in first..=today {
        loop {
            let page = SUBSCRIPTIONS.query(Query::new().eq("due_day", day).limit(50));
            let (docs, _) = match page {
                Ok(p) => p,
                Err(e) => {
                    result = Err(e);
                    break 'days;
                }
            };
            if docs.is_empty() {
                break;
            }
            let mut progressed = false;
            for mut doc in docs {
                if changed.len() as u64 >= JOB_MAX_WRITES {
                    break 'days;
                }
                let from = doc.data.history.len();
                let Some(event) = doc.data.run_due(now).cloned() else {
                    continue;
                };
                match SUBSCRIPTIONS.replace(&doc) {
                    Ok(saved) => changed.push((saved.data, from)),
                    // Changed by staff meanwhile: it is looked at again next run.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => {
                        result = Err(e);
                        break 'days;
                    }
                }
                progressed = true;
                match event {
                    Event::Converted => counts.converted += 1,
                    Event::Renewed => counts.renewed += 1,
                    Event::RenewalFailed { .. } => counts.failed += 1,
                    Event::Expired { .. } => counts.expired += 1,
                    _ => {}
                }
            }
            if !progressed {
                // Nothing left that can move today (e.g. only conflicts): try again next run.
                break 'days;
            }
        }
        if day < today {
            finished = Some(day);
        }
    }
    // Record what was done even if the run stopped on an error, so the figures stay right.
    update_summary(|s| {
        for (sub, from) in &changed {
            s.record_from(sub, *from);
        }
        if finished > s.renewals_done {
            s.renewals_done = finished;
        }
    })?;
    result?;
    let message = format!(
        "converted {}, renewed {}, failed {}, expired {}",
        counts.converted, counts.renewed, counts.failed, counts.expired
    );
    log::log(log::Level::Info, &format!("renewals: {message}"));
    Ok(JobReport {
        processed: changed.len() as u64,
        message: Some(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_everything_the_plugin_uses() {
        let m = Subscriptions::manifest();
        assert_eq!(m.name, "subscriptions");
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["customers", "records", "clock", "log"]);
        let screens: Vec<_> = m.screens.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(screens, ["main", "plans", "subscribers", "subscription"]);
        assert!(m.screens[0].in_menu);
        assert!(m.actions.iter().any(|a| a.name == "seed-demo" && a.writes));
        assert!(m.actions.iter().any(|a| a.name == "filter" && !a.writes));
        assert_eq!(m.jobs[0].schedule, Schedule::DailyAt("02:00".into()));
        let subs = m
            .collections
            .iter()
            .find(|c| c.name == "subscriptions")
            .unwrap();
        assert!(subs.indexed.iter().any(|f| f == "due_day"));
        for label in m
            .screens
            .iter()
            .map(|s| &s.title)
            .chain(m.actions.iter().map(|a| &a.title))
            .chain(m.capabilities.iter().map(|c| &c.reason))
        {
            assert!(label.zh_hans.is_some(), "{} has no Chinese", label.en);
        }
        for name in m
            .actions
            .iter()
            .map(|a| &a.name)
            .chain(m.screens.iter().map(|s| &s.name))
        {
            assert!(name.len() <= 40 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
    }
}
