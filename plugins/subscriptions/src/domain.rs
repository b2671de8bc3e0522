//! The subscription rules: plans, money, billing dates, the lifecycle state machine with its dated
//! history, and the churn-risk signals. Pure (no host calls), so all of it is tested natively.
//!
//! Dates are whole days since the Unix epoch in UTC (`i64`): the host gives the tenant's zone only
//! by name, and billing needs calendar dates, not instants. History entries keep the instant (ms).

use crm_plugin_sdk::{Label, Tone, tr};
use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// A paused subscription expires after this many days unless resumed.
pub const MAX_PAUSE_DAYS: i64 = 90;
/// A renewal is tried this many times before the subscription expires…
pub const MAX_PAYMENT_ATTEMPTS: u32 = 4;
/// …every this many days (dunning: the subscriber keeps watching meanwhile).
pub const RETRY_DAYS: i64 = 3;
/// Currencies a plan may be priced in, with their minor-unit digits (ISO 4217).
pub const CURRENCIES: [(&str, u32); 6] = [
    ("CNY", 2),
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("JPY", 0),
];

// ---------------------------------------------------------------------------------------------
// Calendar

/// The day (since 1970-01-01, UTC) an instant falls on.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// `(year, month, day)` of a day number (proleptic Gregorian; H. Hinnant's algorithm).
pub fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of a calendar date.
pub fn from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `months` calendar months after `day`, on the billing day of month `anchor` (clamped to the
/// month's length, so a subscription started on the 31st renews on Feb 28 and then Mar 31).
pub fn add_months(day: i64, months: u32, anchor: u32) -> i64 {
    let (y, m, _) = civil(day);
    let index = y * 12 + i64::from(m - 1) + i64::from(months);
    let (ny, nm) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    from_civil(ny, nm, anchor.clamp(1, days_in_month(ny, nm)))
}

/// `YYYY-MM-DD`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The month a day is in, `YYYY-MM` (the key of the monthly figures).
pub fn month_key(day: i64) -> String {
    let (y, m, _) = civil(day);
    format!("{y:04}-{m:02}")
}

/// The `n` month keys ending with the month of `day`, oldest first.
pub fn last_month_keys(day: i64, n: u32) -> Vec<String> {
    let (y, m, _) = civil(day);
    (0..n)
        .rev()
        .map(|back| {
            let index = y * 12 + i64::from(m - 1) - i64::from(back);
            format!(
                "{:04}-{:02}",
                index.div_euclid(12),
                index.rem_euclid(12) + 1
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Money

/// Minor-unit digits of a supported currency.
pub fn minor_digits(currency: &str) -> Option<u32> {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == currency)
        .map(|(_, d)| *d)
}

/// Parses a price typed by staff (`29`, `29.9`, `29.90`) into minor units, without floats.
pub fn parse_price(text: &str, currency: &str) -> Result<i64, Label> {
    let digits = minor_digits(currency)
        .ok_or_else(|| tr!("needs a supported currency", "需要受支持的币种"))?;
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !numeric(whole) || !numeric(frac) || text.ends_with('.') {
        return Err(tr!(
            "must be an amount like 29.90",
            "必须是金额，例如 29.90"
        ));
    }
    if frac.len() > digits as usize {
        return Err(tr!(
            "has more decimals than {} allows ({})",
            "小数位数超过 {} 允许的位数（{}）",
            currency,
            digits
        ));
    }
    let scale = 10i64.pow(digits);
    let whole: i64 = whole
        .parse()
        .ok()
        .filter(|w: &i64| *w <= 10_000_000)
        .ok_or_else(|| tr!("is too large", "金额过大"))?;
    let frac_minor = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().unwrap_or(0) * 10i64.pow(digits - frac.len() as u32)
    };
    let minor = whole * scale + frac_minor;
    if minor <= 0 {
        return Err(tr!("must be more than zero", "必须大于零"));
    }
    Ok(minor)
}

/// Formats minor units as a plain amount (`2990` CNY → `29.90`), for form values.
pub fn format_price(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency).unwrap_or(2);
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = digits as usize
    )
}

/// Minor units as major units, for charts only (never for arithmetic on money).
pub fn to_major(minor: i64, currency: &str) -> f64 {
    minor as f64 / 10f64.powi(minor_digits(currency).unwrap_or(2) as i32)
}

// ---------------------------------------------------------------------------------------------
// Plans

/// How often a plan bills.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Monthly,
    Yearly,
}

impl Period {
    pub const ALL: [Period; 2] = [Period::Monthly, Period::Yearly];

    pub fn months(self) -> u32 {
        match self {
            Period::Monthly => 1,
            Period::Yearly => 12,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn label(self) -> Label {
        match self {
            Period::Monthly => tr!("Monthly", "按月"),
            Period::Yearly => tr!("Yearly", "按年"),
        }
    }
}

/// The annual run-rate of a price, in minor units: exact, so monthly figures sum without drift
/// (MRR is shown as this divided by 12).
pub fn annualised(price_minor: i64, period: Period) -> i64 {
    match period {
        Period::Monthly => price_minor * 12,
        Period::Yearly => price_minor,
    }
}

/// Monthly recurring revenue from an annual run-rate, rounded to the nearest minor unit.
pub fn mrr_of(arr_minor: i64) -> i64 {
    (arr_minor + 6).div_euclid(12)
}

/// A subscription plan: a package of channels at a price per billing period.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Plan {
    /// Stable identifier, `[a-z0-9-]`; subscriptions refer to plans by it.
    pub code: String,
    pub name_en: String,
    pub name_zh: String,
    pub channels: Vec<String>,
    pub price_minor: i64,
    pub currency: String,
    pub period: Period,
    pub trial_days: u32,
}

impl Plan {
    pub fn name(&self) -> Label {
        Label {
            en: self.name_en.clone(),
            zh_hans: Some(self.name_zh.clone()),
        }
    }

    pub fn arr_minor(&self) -> i64 {
        annualised(self.price_minor, self.period)
    }
}

/// A plan as typed into the form, before validation.
#[derive(Debug, Default, Clone)]
pub struct PlanInput<'a> {
    pub code: &'a str,
    pub name_en: &'a str,
    pub name_zh: &'a str,
    pub channels: &'a str,
    pub price: &'a str,
    pub currency: &'a str,
    pub period: &'a str,
    pub trial_days: &'a str,
}

/// Checks a new plan; every problem comes back with its form field.
pub fn validate_plan(input: &PlanInput) -> Result<Plan, Vec<(&'static str, Label)>> {
    let mut errors = Vec::new();
    let code = input.code.trim();
    let code_ok = (2..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok {
        errors.push((
            "code",
            tr!(
                "must be 2-32 characters of a-z, 0-9 and -",
                "必须为 2-32 个字符，仅限 a-z、0-9 和 -"
            ),
        ));
    }
    for (field, value) in [("name_en", input.name_en), ("name_zh", input.name_zh)] {
        let n = value.trim().chars().count();
        if n == 0 || n > 80 {
            errors.push((field, tr!("must be 1-80 characters", "必须为 1-80 个字符")));
        }
    }
    let channels: Vec<String> = input
        .channels
        .split([',', '，'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    if channels.is_empty() || channels.len() > 50 || channels.iter().any(|c| c.len() > 40) {
        errors.push((
            "channels",
            tr!(
                "list 1-50 channels, separated by commas",
                "请列出 1-50 个频道，用逗号分隔"
            ),
        ));
    }
    let currency = input.currency.trim();
    if minor_digits(currency).is_none() {
        errors.push(("currency", tr!("is not supported", "不受支持")));
    }
    let price = match parse_price(input.price, currency) {
        Ok(p) => p,
        Err(e) => {
            if minor_digits(currency).is_some() {
                errors.push(("price", e));
            }
            0
        }
    };
    let period = Period::parse(input.period.trim());
    if period.is_none() {
        errors.push((
            "period",
            tr!("must be monthly or yearly", "必须为按月或按年"),
        ));
    }
    let trial_days = match input.trial_days.trim() {
        "" => Some(0),
        t => t.parse::<u32>().ok().filter(|d| *d <= 90),
    };
    if trial_days.is_none() {
        errors.push(("trial_days", tr!("must be 0-90 days", "必须为 0-90 天")));
    }
    match (errors.is_empty(), period, trial_days) {
        (true, Some(period), Some(trial_days)) => Ok(Plan {
            code: code.into(),
            name_en: input.name_en.trim().into(),
            name_zh: input.name_zh.trim().into(),
            channels,
            price_minor: price,
            currency: currency.into(),
            period,
            trial_days,
        }),
        _ => Err(errors),
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Where a subscription is in its life: trial → active ⇄ paused → cancelled / expired.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Trial,
    Active,
    Paused,
    Cancelled,
    Expired,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Trial,
        State::Active,
        State::Paused,
        State::Cancelled,
        State::Expired,
    ];

    /// The name stored in documents and indexes.
    pub fn code(self) -> &'static str {
        match self {
            State::Trial => "trial",
            State::Active => "active",
            State::Paused => "paused",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> Label {
        match self {
            State::Trial => tr!("Trial", "试用"),
            State::Active => tr!("Active", "有效"),
            State::Paused => tr!("Paused", "暂停"),
            State::Cancelled => tr!("Cancelled", "已取消"),
            State::Expired => tr!("Expired", "已过期"),
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            State::Trial => Tone::Info,
            State::Active => Tone::Success,
            State::Paused => Tone::Warning,
            State::Cancelled | State::Expired => Tone::Neutral,
        }
    }

    /// Not ended yet.
    pub fn is_live(self) -> bool {
        matches!(self, State::Trial | State::Active | State::Paused)
    }

    /// Counts towards MRR.
    pub fn is_paying(self) -> bool {
        self == State::Active
    }

    /// A committed subscriber (paying or paused): the base churn is measured against.
    pub fn is_subscribed(self) -> bool {
        matches!(self, State::Active | State::Paused)
    }
}

/// Why a subscription expired.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryReason {
    PaymentFailed,
    PausedTooLong,
}

/// What happened to a subscription.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Started,
    /// The trial ended and the first period was paid.
    Converted,
    Renewed,
    RenewalFailed {
        attempt: u32,
    },
    Paused,
    Resumed,
    Cancelled,
    Expired {
        reason: ExpiryReason,
    },
    PlanChanged {
        from: String,
        downgrade: bool,
    },
}

impl Event {
    pub fn label(&self) -> Label {
        match self {
            Event::Started => tr!("Started", "开始"),
            Event::Converted => tr!("Trial converted", "试用转正"),
            Event::Renewed => tr!("Renewed", "已续订"),
            Event::RenewalFailed { attempt } => tr!(
                "Renewal failed (attempt {} of {})",
                "续订失败（第 {} 次，共 {} 次）",
                attempt,
                MAX_PAYMENT_ATTEMPTS
            ),
            Event::Paused => tr!("Paused", "已暂停"),
            Event::Resumed => tr!("Resumed", "已恢复"),
            Event::Cancelled => tr!("Cancelled", "已取消"),
            Event::Expired {
                reason: ExpiryReason::PaymentFailed,
            } => tr!("Expired: payment failed", "已过期：付款失败"),
            Event::Expired {
                reason: ExpiryReason::PausedTooLong,
            } => tr!(
                "Expired: paused for more than {} days",
                "已过期：暂停超过 {} 天",
                MAX_PAUSE_DAYS
            ),
            Event::PlanChanged {
                from,
                downgrade: true,
            } => tr!("Downgraded from {}", "从 {} 降级", from),
            Event::PlanChanged { from, .. } => tr!("Changed plan from {}", "从 {} 更换套餐", from),
        }
    }
}

/// One dated entry of a subscription's history, with what the subscription was after it (the
/// monthly figures are computed from consecutive entries).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    /// When, in ms since the epoch.
    pub at: i64,
    pub event: Event,
    pub from: Option<State>,
    pub to: State,
    /// The plan after the event.
    pub plan: String,
    /// The annual run-rate of the price after the event, in minor units.
    pub arr_minor: i64,
    /// Whether the subscription was flagged as a churn risk after the event.
    #[serde(default)]
    pub at_risk: bool,
}

/// What staff can do to a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Cancel,
    ChangePlan,
}

impl Action {
    /// The states the action is allowed from.
    pub fn allowed_from(self) -> &'static [State] {
        match self {
            Action::Pause => &[State::Active],
            Action::Resume => &[State::Paused],
            Action::Cancel | Action::ChangePlan => &[State::Trial, State::Active, State::Paused],
        }
    }

    pub fn allowed(self, state: State) -> bool {
        self.allowed_from().contains(&state)
    }

    fn verb(self) -> (&'static str, &'static str) {
        match self {
            Action::Pause => ("pause", "暂停"),
            Action::Resume => ("resume", "恢复"),
            Action::Cancel => ("cancel", "取消"),
            Action::ChangePlan => ("change the plan of", "更换套餐于"),
        }
    }
}

/// Why a change was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleError {
    NotAllowed { action: Action, state: State },
    SamePlan,
    CurrencyMismatch { plan: String, subscription: String },
}

impl RuleError {
    /// A message for staff saying what is wrong and what is allowed.
    pub fn message(&self) -> Label {
        match self {
            RuleError::NotAllowed { action, state } => {
                let (en, zh) = action.verb();
                let from = action.allowed_from();
                let list = |f: fn(&Label) -> &str| {
                    from.iter()
                        .map(|s| f(&s.label()).to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let en_from = list(|l| &l.en);
                let zh_from = list(|l| l.zh_hans.as_deref().unwrap_or(&l.en));
                let state = state.label();
                Label {
                    en: format!(
                        "Cannot {en} a subscription that is {}: only {en_from} subscriptions allow it.",
                        state.en.to_lowercase()
                    ),
                    zh_hans: Some(format!(
                        "无法{zh}处于“{}”状态的订阅：仅“{zh_from}”状态的订阅可以。",
                        state.zh_hans.as_deref().unwrap_or(&state.en)
                    )),
                }
            }
            RuleError::SamePlan => tr!(
                "The subscription is already on this plan.",
                "该订阅已在此套餐上。"
            ),
            RuleError::CurrencyMismatch { plan, subscription } => tr!(
                "The plan is billed in {}, this subscription in {}: choose a plan in {}.",
                "该套餐以 {} 计费，此订阅以 {} 计费：请选择以 {} 计费的套餐。",
                plan,
                subscription,
                subscription
            ),
        }
    }
}

/// Why a subscription is flagged as likely to churn: simple signals, each shown to staff.
#[derive(Clone, Debug, PartialEq)]
pub enum RiskReason {
    PausedRepeatedly { times: u32 },
    Downgraded,
    RenewalFailed { attempts: u32 },
}

impl RiskReason {
    pub fn label(&self) -> Label {
        match self {
            RiskReason::PausedRepeatedly { times } => {
                tr!("Paused {} times", "已暂停 {} 次", times)
            }
            RiskReason::Downgraded => tr!("Downgraded to a cheaper plan", "已降级到更便宜的套餐"),
            RiskReason::RenewalFailed { attempts } => tr!(
                "Last renewal failed ({} attempt(s))",
                "最近一次续订失败（{} 次尝试）",
                attempts
            ),
        }
    }
}

/// A subscriber's subscription to a plan (a document about that customer).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Subscription {
    /// The subscriber's customer id (the document is also stored about this customer).
    pub customer: String,
    /// The plan's code (indexed).
    pub plan: String,
    /// The price locked in when the plan was chosen.
    pub price_minor: i64,
    pub currency: String,
    pub period: Period,
    /// Indexed.
    pub state: State,
    pub started_day: i64,
    /// The last day paid for (the trial's last day while in trial).
    pub period_end_day: i64,
    /// The billing day of month, kept across short months.
    pub anchor: u32,
    pub paused_day: Option<i64>,
    pub ended_day: Option<i64>,
    /// Failed renewal attempts since the last successful one.
    pub failed_attempts: u32,
    /// Simulates a declined payment: every renewal attempt fails while set.
    pub fail_payments: bool,
    /// The day the renewal job next has to look at this subscription (indexed; none once ended).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub due_day: Option<i64>,
    /// Flagged by the churn-risk signals (indexed, for the filter).
    pub at_risk: bool,
    /// For demo data: the `seed-demo` batch that wrote it (indexed: lets a batch cut short be
    /// redone without duplicates).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seed_batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seed_index: Option<u32>,
    pub history: Vec<Entry>,
}

impl Subscription {
    /// Enrols a customer on a plan at `now` (ms), in trial when asked and the plan has one.
    pub fn start(customer: &str, plan: &Plan, now: i64, with_trial: bool) -> Self {
        let today = day_of(now);
        let trial = with_trial && plan.trial_days > 0;
        let (state, period_end_day, anchor) = if trial {
            let end = today + i64::from(plan.trial_days);
            (State::Trial, end, civil(end).2)
        } else {
            let anchor = civil(today).2;
            (
                State::Active,
                add_months(today, plan.period.months(), anchor),
                anchor,
            )
        };
        let mut sub = Subscription {
            customer: customer.into(),
            plan: plan.code.clone(),
            price_minor: plan.price_minor,
            currency: plan.currency.clone(),
            period: plan.period,
            state,
            started_day: today,
            period_end_day,
            anchor,
            paused_day: None,
            ended_day: None,
            failed_attempts: 0,
            fail_payments: false,
            due_day: Some(period_end_day),
            at_risk: false,
            seed_batch: None,
            seed_index: None,
            history: Vec::new(),
        };
        sub.record(now, Event::Started, None);
        sub
    }

    pub fn arr_minor(&self) -> i64 {
        annualised(self.price_minor, self.period)
    }

    /// Appends a history entry for a transition that already happened, and refreshes the flags.
    fn record(&mut self, at: i64, event: Event, from: Option<State>) {
        self.due_day = match self.state {
            State::Trial | State::Active if self.failed_attempts > 0 => {
                Some(day_of(at) + RETRY_DAYS)
            }
            State::Trial | State::Active => Some(self.period_end_day),
            State::Paused => self.paused_day.map(|d| d + MAX_PAUSE_DAYS),
            State::Cancelled | State::Expired => None,
        };
        self.history.push(Entry {
            at,
            event,
            from,
            to: self.state,
            plan: self.plan.clone(),
            arr_minor: self.arr_minor(),
            at_risk: false,
        });
        self.at_risk = !self.churn_risk().is_empty();
        if let Some(last) = self.history.last_mut() {
            last.at_risk = self.at_risk;
        }
    }

    fn check(&self, action: Action) -> Result<State, RuleError> {
        if action.allowed(self.state) {
            Ok(self.state)
        } else {
            Err(RuleError::NotAllowed {
                action,
                state: self.state,
            })
        }
    }

    fn end(&mut self, at: i64, state: State, event: Event) {
        let from = self.state;
        self.state = state;
        self.ended_day = Some(day_of(at));
        self.paused_day = None;
        self.record(at, event, Some(from));
    }

    /// Pauses billing; the paid days left are kept for when it resumes.
    pub fn pause(&mut self, at: i64) -> Result<(), RuleError> {
        let from = self.check(Action::Pause)?;
        self.state = State::Paused;
        self.paused_day = Some(day_of(at));
        self.record(at, Event::Paused, Some(from));
        Ok(())
    }

    /// Resumes billing, moving the end of the paid period by the length of the pause.
    pub fn resume(&mut self, at: i64) -> Result<(), RuleError> {
        let from = self.check(Action::Resume)?;
        let paused = self.paused_day.unwrap_or(day_of(at));
        self.period_end_day += (day_of(at) - paused).max(0);
        self.anchor = civil(self.period_end_day).2;
        self.paused_day = None;
        self.state = State::Active;
        self.record(at, Event::Resumed, Some(from));
        Ok(())
    }

    /// Cancels at once.
    pub fn cancel(&mut self, at: i64) -> Result<(), RuleError> {
        self.check(Action::Cancel)?;
        self.end(at, State::Cancelled, Event::Cancelled);
        Ok(())
    }

    /// Moves to another plan in the same currency; the new price applies from the next renewal's
    /// period and counts in MRR at once.
    pub fn change_plan(&mut self, plan: &Plan, at: i64) -> Result<(), RuleError> {
        let from = self.check(Action::ChangePlan)?;
        if plan.code == self.plan {
            return Err(RuleError::SamePlan);
        }
        if plan.currency != self.currency {
            return Err(RuleError::CurrencyMismatch {
                plan: plan.currency.clone(),
                subscription: self.currency.clone(),
            });
        }
        // Cheaper per year without a longer commitment (monthly → yearly is a commitment, not a
        // downgrade, even when the yearly price is lower).
        let downgrade =
            plan.arr_minor() < self.arr_minor() && plan.period.months() <= self.period.months();
        let old = std::mem::replace(&mut self.plan, plan.code.clone());
        self.price_minor = plan.price_minor;
        self.period = plan.period;
        self.record(
            at,
            Event::PlanChanged {
                from: old,
                downgrade,
            },
            Some(from),
        );
        Ok(())
    }

    /// What the daily renewal job does to this subscription at `now`: converts an ended trial,
    /// renews a period that ended, records a failed payment (and expires after the last attempt),
    /// or expires a pause that went on too long. `None` when nothing is due.
    pub fn run_due(&mut self, now: i64) -> Option<&Event> {
        let today = day_of(now);
        if self.due_day.is_none_or(|d| d > today) {
            return None;
        }
        match self.state {
            State::Trial | State::Active if self.fail_payments => {
                self.failed_attempts += 1;
                if self.failed_attempts >= MAX_PAYMENT_ATTEMPTS {
                    let reason = ExpiryReason::PaymentFailed;
                    self.end(now, State::Expired, Event::Expired { reason });
                } else {
                    let attempt = self.failed_attempts;
                    self.record(now, Event::RenewalFailed { attempt }, Some(self.state));
                }
            }
            State::Trial | State::Active => {
                let from = self.state;
                self.failed_attempts = 0;
                self.period_end_day =
                    add_months(self.period_end_day, self.period.months(), self.anchor);
                self.state = State::Active;
                let event = if from == State::Trial {
                    Event::Converted
                } else {
                    Event::Renewed
                };
                self.record(now, event, Some(from));
            }
            State::Paused => {
                let reason = ExpiryReason::PausedTooLong;
                self.end(now, State::Expired, Event::Expired { reason });
            }
            State::Cancelled | State::Expired => {
                self.due_day = None;
                return None;
            }
        }
        self.history.last().map(|e| &e.event)
    }

    /// The churn-risk signals that hold now (none once the subscription has ended).
    pub fn churn_risk(&self) -> Vec<RiskReason> {
        if !self.state.is_live() {
            return Vec::new();
        }
        let mut reasons = Vec::new();
        let pauses = self
            .history
            .iter()
            .filter(|e| e.event == Event::Paused)
            .count() as u32;
        if pauses >= 2 {
            reasons.push(RiskReason::PausedRepeatedly { times: pauses });
        }
        let downgraded = self.history.iter().any(|e| {
            matches!(
                e.event,
                Event::PlanChanged {
                    downgrade: true,
                    ..
                }
            )
        });
        if downgraded {
            reasons.push(RiskReason::Downgraded);
        }
        if self.failed_attempts > 0 {
            reasons.push(RiskReason::RenewalFailed {
                attempts: self.failed_attempts,
            });
        }
        reasons
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn at(y: i64, m: u32, d: u32) -> i64 {
        from_civil(y, m, d) * DAY_MS + 10 * 3_600_000
    }

    pub(crate) fn plan(code: &str, price: i64, currency: &str, period: Period, trial: u32) -> Plan {
        Plan {
            code: code.into(),
            name_en: code.into(),
            name_zh: code.into(),
            channels: vec!["news".into()],
            price_minor: price,
            currency: currency.into(),
            period,
            trial_days: trial,
        }
    }

    #[test]
    fn calendar_round_trips() {
        assert_eq!(from_civil(1970, 1, 1), 0);
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(format_day(from_civil(2024, 2, 29)), "2024-02-29");
        assert_eq!(civil(-1), (1969, 12, 31));
        for day in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(day);
            assert_eq!(from_civil(y, m, d), day);
            assert!(d <= days_in_month(y, m));
        }
        assert_eq!(day_of(-1), -1);
        assert_eq!(month_key(from_civil(2026, 3, 15)), "2026-03");
    }

    #[test]
    fn months_keep_the_billing_day() {
        let jan31 = from_civil(2025, 1, 31);
        let feb = add_months(jan31, 1, 31);
        assert_eq!(format_day(feb), "2025-02-28");
        assert_eq!(format_day(add_months(feb, 1, 31)), "2025-03-31");
        assert_eq!(format_day(add_months(jan31, 13, 31)), "2026-02-28");
        assert_eq!(
            format_day(add_months(from_civil(2023, 2, 28), 12, 29)),
            "2024-02-29"
        );
        assert_eq!(
            format_day(add_months(from_civil(2025, 12, 5), 1, 5)),
            "2026-01-05"
        );
    }

    #[test]
    fn last_twelve_month_keys_cross_the_year() {
        let keys = last_month_keys(from_civil(2026, 2, 10), 12);
        assert_eq!(keys.len(), 12);
        assert_eq!(keys[0], "2025-03");
        assert_eq!(keys[10], "2026-01");
        assert_eq!(keys[11], "2026-02");
    }

    #[test]
    fn prices_parse_into_minor_units() {
        assert_eq!(parse_price("29.90", "CNY"), Ok(2990));
        assert_eq!(parse_price("29.9", "EUR"), Ok(2990));
        assert_eq!(parse_price(" 30 ", "EUR"), Ok(3000));
        assert_eq!(parse_price("0.01", "USD"), Ok(1));
        assert_eq!(parse_price("1200", "JPY"), Ok(1200));
        assert!(parse_price("12.5", "JPY").is_err());
        for bad in [
            "",
            "abc",
            "-5",
            "1.234",
            "1.",
            ".5",
            "0",
            "0.00",
            "1e3",
            "99999999999",
        ] {
            assert!(parse_price(bad, "CNY").is_err(), "{bad:?} accepted");
        }
        assert!(parse_price("10", "XYZ").is_err());
        assert_eq!(format_price(2990, "CNY"), "29.90");
        assert_eq!(format_price(5, "EUR"), "0.05");
        assert_eq!(format_price(1200, "JPY"), "1200");
        assert_eq!(to_major(2990, "CNY"), 29.9);
    }

    #[test]
    fn run_rates_are_exact_and_mrr_rounds() {
        assert_eq!(annualised(2990, Period::Monthly), 35_880);
        assert_eq!(annualised(79_800, Period::Yearly), 79_800);
        assert_eq!(mrr_of(35_880), 2990);
        assert_eq!(mrr_of(79_800), 6650);
        assert_eq!(mrr_of(100), 8); // 8.33 → 8
        assert_eq!(mrr_of(102), 9); // 8.5 → 9
    }

    fn input() -> PlanInput<'static> {
        PlanInput {
            code: "sports-cn",
            name_en: "Sports",
            name_zh: "体育",
            channels: "CCTV-5, CCTV-5+，Sports HD",
            price: "68",
            currency: "CNY",
            period: "monthly",
            trial_days: "14",
        }
    }

    #[test]
    fn plans_validate_every_field() {
        let p = validate_plan(&input()).unwrap();
        assert_eq!(p.channels, ["CCTV-5", "CCTV-5+", "Sports HD"]);
        assert_eq!((p.price_minor, p.trial_days), (6800, 14));
        assert_eq!(p.name().zh_hans.as_deref(), Some("体育"));
        let bad = PlanInput {
            code: "Sports!",
            name_en: " ",
            name_zh: "体育",
            channels: ", ,",
            price: "68.123",
            currency: "CNY",
            period: "weekly",
            trial_days: "365",
        };
        let fields: Vec<_> = validate_plan(&bad)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "code",
                "name_en",
                "channels",
                "price",
                "period",
                "trial_days"
            ]
        );
        let no_currency = PlanInput {
            currency: "BTC",
            ..input()
        };
        let errs = validate_plan(&no_currency).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "currency");
        let no_trial = PlanInput {
            trial_days: "",
            ..input()
        };
        assert_eq!(validate_plan(&no_trial).unwrap().trial_days, 0);
    }

    #[test]
    fn a_trial_converts_and_renews_monthly() {
        let p = plan("basic", 2990, "CNY", Period::Monthly, 7);
        let mut s = Subscription::start("c1", &p, at(2025, 1, 31), true);
        assert_eq!(s.state, State::Trial);
        assert_eq!(format_day(s.period_end_day), "2025-02-07");
        assert_eq!(s.due_day, Some(s.period_end_day));
        assert_eq!(s.run_due(at(2025, 2, 6)), None);
        assert_eq!(s.run_due(at(2025, 2, 7)), Some(&Event::Converted));
        assert_eq!(s.state, State::Active);
        assert_eq!(format_day(s.period_end_day), "2025-03-07");
        assert_eq!(s.run_due(at(2025, 3, 8)), Some(&Event::Renewed));
        assert_eq!(format_day(s.period_end_day), "2025-04-07");
        let kinds: Vec<_> = s.history.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(
            kinds,
            [
                (None, State::Trial),
                (Some(State::Trial), State::Active),
                (Some(State::Active), State::Active)
            ]
        );
        assert!(s.history.iter().all(|e| e.arr_minor == 35_880));
    }

    #[test]
    fn without_a_trial_it_starts_active_and_yearly_renews_a_year_later() {
        let p = plan("premium", 79_800, "CNY", Period::Yearly, 14);
        let mut s = Subscription::start("c1", &p, at(2024, 2, 29), false);
        assert_eq!(s.state, State::Active);
        assert_eq!(format_day(s.period_end_day), "2025-02-28");
        s.run_due(at(2025, 2, 28));
        assert_eq!(format_day(s.period_end_day), "2026-02-28");
        let no_trial_plan = plan("x", 100, "EUR", Period::Monthly, 0);
        let s = Subscription::start("c2", &no_trial_plan, at(2025, 1, 1), true);
        assert_eq!(s.state, State::Active);
    }

    #[test]
    fn failed_payments_are_retried_then_expire() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &p, at(2025, 5, 1), false);
        s.fail_payments = true;
        assert_eq!(
            s.run_due(at(2025, 6, 1)),
            Some(&Event::RenewalFailed { attempt: 1 })
        );
        assert_eq!(s.state, State::Active);
        assert!(s.at_risk);
        assert_eq!(s.churn_risk(), [RiskReason::RenewalFailed { attempts: 1 }]);
        assert_eq!(s.due_day, Some(from_civil(2025, 6, 4)));
        assert_eq!(s.run_due(at(2025, 6, 3)), None, "not before the retry day");
        s.run_due(at(2025, 6, 4));
        s.run_due(at(2025, 6, 7));
        assert_eq!(s.failed_attempts, 3);
        let e = s.run_due(at(2025, 6, 10)).cloned();
        assert_eq!(
            e,
            Some(Event::Expired {
                reason: ExpiryReason::PaymentFailed
            })
        );
        assert_eq!(s.state, State::Expired);
        assert_eq!(s.due_day, None);
        assert!(!s.at_risk, "ended subscriptions are not a risk any more");
        assert_eq!(s.run_due(at(2025, 9, 1)), None);
    }

    #[test]
    fn a_renewal_that_succeeds_clears_the_failure() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &p, at(2025, 5, 1), false);
        s.fail_payments = true;
        s.run_due(at(2025, 6, 1));
        s.fail_payments = false;
        assert_eq!(s.run_due(at(2025, 6, 4)), Some(&Event::Renewed));
        assert_eq!((s.failed_attempts, s.at_risk), (0, false));
        assert_eq!(format_day(s.period_end_day), "2025-07-01");
    }

    #[test]
    fn pause_and_resume_keep_the_paid_days() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &p, at(2025, 5, 1), false);
        s.pause(at(2025, 5, 11)).unwrap();
        assert_eq!(s.state, State::Paused);
        assert_eq!(s.due_day, Some(from_civil(2025, 5, 11) + MAX_PAUSE_DAYS));
        assert_eq!(s.run_due(at(2025, 6, 1)), None, "no billing while paused");
        s.resume(at(2025, 5, 21)).unwrap();
        assert_eq!(format_day(s.period_end_day), "2025-06-11");
        assert_eq!(s.due_day, Some(s.period_end_day));
        assert!(!s.at_risk);
        s.pause(at(2025, 5, 22)).unwrap();
        assert_eq!(s.churn_risk(), [RiskReason::PausedRepeatedly { times: 2 }]);
        assert!(s.at_risk && s.history.last().unwrap().at_risk);
    }

    #[test]
    fn a_long_pause_expires() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &p, at(2025, 1, 1), false);
        s.pause(at(2025, 1, 10)).unwrap();
        assert_eq!(s.run_due(at(2025, 4, 9)), None);
        assert_eq!(
            s.run_due(at(2025, 4, 10)),
            Some(&Event::Expired {
                reason: ExpiryReason::PausedTooLong
            })
        );
        assert_eq!(s.ended_day, Some(from_civil(2025, 4, 10)));
    }

    #[test]
    fn invalid_transitions_are_refused_with_a_clear_message() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 7);
        let mut s = Subscription::start("c1", &p, at(2025, 1, 1), true);
        let err = s.pause(at(2025, 1, 2)).unwrap_err();
        assert_eq!(
            err,
            RuleError::NotAllowed {
                action: Action::Pause,
                state: State::Trial
            }
        );
        assert_eq!(
            err.message().en,
            "Cannot pause a subscription that is trial: only active subscriptions allow it."
        );
        assert!(err.message().zh_hans.unwrap().contains("试用"));
        assert!(s.resume(at(2025, 1, 2)).is_err());
        s.cancel(at(2025, 1, 3)).unwrap();
        assert_eq!(s.state, State::Cancelled);
        let before = s.clone();
        assert!(s.cancel(at(2025, 1, 4)).is_err());
        assert!(s.resume(at(2025, 1, 4)).is_err());
        let other = plan("other", 1999, "EUR", Period::Monthly, 0);
        assert!(matches!(
            s.change_plan(&other, at(2025, 1, 4)),
            Err(RuleError::NotAllowed { .. })
        ));
        assert_eq!(s, before, "a refused change changes nothing");
        for action in [
            Action::Pause,
            Action::Resume,
            Action::Cancel,
            Action::ChangePlan,
        ] {
            assert!(!action.allowed(State::Expired));
        }
    }

    #[test]
    fn plan_changes_flag_downgrades_and_keep_the_currency() {
        let premium = plan("premium", 6800, "CNY", Period::Monthly, 0);
        let basic = plan("basic", 2990, "CNY", Period::Monthly, 0);
        let yearly = plan("yearly", 79_800, "CNY", Period::Yearly, 0);
        let euro = plan("euro", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &premium, at(2025, 1, 1), false);
        assert_eq!(
            s.change_plan(&premium, at(2025, 1, 2)),
            Err(RuleError::SamePlan)
        );
        let err = s.change_plan(&euro, at(2025, 1, 2)).unwrap_err();
        assert!(err.message().en.contains("billed in EUR"));
        s.change_plan(&yearly, at(2025, 1, 2)).unwrap();
        assert!(!s.at_risk, "798 a year < 68 × 12, but a longer commitment");
        assert_eq!(s.period, Period::Yearly);
        s.change_plan(&basic, at(2025, 1, 3)).unwrap();
        let last = s.history.last().unwrap();
        assert_eq!(
            last.event,
            Event::PlanChanged {
                from: "yearly".into(),
                downgrade: true
            }
        );
        assert_eq!((last.plan.as_str(), last.arr_minor), ("basic", 35_880));
        assert_eq!(s.churn_risk(), [RiskReason::Downgraded]);
        assert!(
            s.history
                .last()
                .unwrap()
                .event
                .label()
                .en
                .contains("Downgraded")
        );
    }

    #[test]
    fn documents_round_trip_through_json() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 7);
        let mut s = Subscription::start("c1", &p, at(2025, 1, 1), true);
        s.cancel(at(2025, 1, 2)).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"state\":\"cancelled\""));
        assert!(!json.contains("due_day"), "ended: not indexed as due");
        assert!(json.contains("\"kind\":\"cancelled\""));
        let back: Subscription = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
