//! The domain rules, pure (no host calls) so they are tested natively: money in integer minor
//! units, percentages in basis points, the deal pipeline, the pipeline and forecast summary,
//! calendar dates and double-booking resolution.
//!
//! **Rounding rule.** Every percentage is an integer number of basis points (1 bp = 0.01 %, so
//! 10,000 bp = 100 %). Applying one to an amount rounds the exact result *half away from zero* to
//! the nearest minor unit ([`apply_bp`]). Discounts are computed and rounded per booking line; a
//! deal's total is the sum of its rounded lines, so lines always add up to the total shown.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// 100 % in basis points.
pub const FULL_BP: u32 = 10_000;

/// The currencies the plugin accepts, with their number of minor-unit digits (ISO 4217).
const CURRENCIES: [(&str, u32); 7] = [
    ("CNY", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("USD", 2),
    ("JPY", 0),
    ("KRW", 0),
];

/// The currency codes offered in forms.
pub fn currencies() -> impl Iterator<Item = &'static str> {
    CURRENCIES.iter().map(|(c, _)| *c)
}

/// Digits after the decimal point of `currency` (2 for CNY: 1 yuan = 100 fen); `None` if unsupported.
pub fn currency_exponent(currency: &str) -> Option<u32> {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == currency)
        .map(|(_, e)| *e)
}

/// Why an input was refused (the glue turns it into a bilingual field error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// Not a number in the expected format.
    Format,
    /// More decimals than the currency (or basis points) allow.
    TooPrecise,
    /// Outside the allowed range.
    OutOfRange,
    /// The currency is not supported.
    Currency,
}

/// Amounts above this (in minor units) are refused: far beyond any deal, far below `i64::MAX`.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Parses a non-negative decimal amount (`12500`, `12500.5`, `12,500.50`) into minor units of
/// `currency`, exactly: no floating point on the way.
pub fn parse_money(text: &str, currency: &str) -> Result<i64, InputError> {
    let exp = currency_exponent(currency).ok_or(InputError::Currency)?;
    let text: String = text.trim().chars().filter(|c| *c != ',').collect();
    let (int, frac) = parse_decimal(&text)?;
    if frac.len() > exp as usize {
        return Err(InputError::TooPrecise);
    }
    let frac_value = format!("{frac:0<width$}", width = exp as usize);
    let int_value: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| InputError::OutOfRange)?
    };
    let frac_value: i64 = if frac_value.is_empty() {
        0
    } else {
        frac_value.parse().map_err(|_| InputError::Format)?
    };
    let minor = int_value
        .checked_mul(10i64.pow(exp))
        .and_then(|v| v.checked_add(frac_value))
        .ok_or(InputError::OutOfRange)?;
    if minor > MAX_MINOR {
        return Err(InputError::OutOfRange);
    }
    Ok(minor)
}

/// Parses a percentage with at most two decimals (`12.5` → 1,250 bp), 0 to 100 %.
pub fn parse_percent_bp(text: &str) -> Result<u32, InputError> {
    let text = text.trim().trim_end_matches('%').trim();
    let (int, frac) = parse_decimal(text)?;
    if frac.len() > 2 {
        return Err(InputError::TooPrecise);
    }
    if int.len() > 3 {
        return Err(InputError::OutOfRange);
    }
    let int: u32 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| InputError::Format)?
    };
    let frac: u32 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| InputError::Format)?;
    let bp = int * 100 + frac;
    if bp > FULL_BP {
        return Err(InputError::OutOfRange);
    }
    Ok(bp)
}

/// Splits `123.45` into (`123`, `45`); digits only, at least one digit overall.
fn parse_decimal(text: &str) -> Result<(&str, &str), InputError> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(InputError::Format);
    }
    Ok((int, frac))
}

/// `amount × bp / 10,000`, rounded half away from zero to the minor unit (the plugin's one
/// rounding rule). Computed in 128 bits, so it never overflows for amounts up to [`MAX_MINOR`].
pub fn apply_bp(amount: i64, bp: u32) -> i64 {
    let exact = i128::from(amount) * i128::from(bp);
    let full = i128::from(FULL_BP);
    let half = full / 2;
    let rounded = if exact >= 0 {
        (exact + half) / full
    } else {
        (exact - half) / full
    };
    rounded as i64
}

/// A booking line's prices: rate card, discount and net, all in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinePrice {
    pub rate_minor: i64,
    pub discount_minor: i64,
    pub net_minor: i64,
}

/// The price of one spot at the deal's discount (`discount_bp` capped at 100 %).
pub fn line_price(rate_minor: i64, discount_bp: u32) -> LinePrice {
    let discount_minor = apply_bp(rate_minor, discount_bp.min(FULL_BP));
    LinePrice {
        rate_minor,
        discount_minor,
        net_minor: rate_minor - discount_minor,
    }
}

/// Formats minor units for people: `1234567` CNY → `12,345.67`. Display only.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let exp = currency_exponent(currency).unwrap_or(2);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let unit = 10u64.pow(exp);
    let int = (abs / unit).to_string();
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if exp == 0 {
        format!("{sign}{grouped}")
    } else {
        format!(
            "{sign}{grouped}.{:0width$}",
            abs % unit,
            width = exp as usize
        )
    }
}

/// A basis-point figure as a percentage for people: 1,250 → `12.5%`, 1 → `0.01%`.
pub fn percent_text(bp: u32) -> String {
    let (int, frac) = (bp / 100, bp % 100);
    match frac {
        0 => format!("{int}%"),
        f if f % 10 == 0 => format!("{int}.{}%", f / 10),
        f => format!("{int}.{f:02}%"),
    }
}

/// Minor units as a float of major units, for charts only (never for money arithmetic).
pub fn minor_to_major_f64(minor: i64, currency: &str) -> f64 {
    minor as f64 / 10f64.powi(currency_exponent(currency).unwrap_or(2) as i32)
}

// --- The pipeline ------------------------------------------------------------------------------

/// A deal's stage: lead → proposal → negotiation → won / lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Lead,
    Proposal,
    Negotiation,
    Won,
    Lost,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Lead,
        Stage::Proposal,
        Stage::Negotiation,
        Stage::Won,
        Stage::Lost,
    ];

    /// The code stored in documents and screen parameters.
    pub fn code(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Proposal => "proposal",
            Stage::Negotiation => "negotiation",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }

    pub fn parse(code: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Won and lost deals are closed: they leave the pipeline and cannot move again.
    pub fn is_closed(self) -> bool {
        matches!(self, Stage::Won | Stage::Lost)
    }

    /// The probability a deal gets when it enters the stage (sales may adjust open ones).
    pub fn default_probability_bp(self) -> u32 {
        match self {
            Stage::Lead => 1_000,
            Stage::Proposal => 3_000,
            Stage::Negotiation => 6_000,
            Stage::Won => FULL_BP,
            Stage::Lost => 0,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Stage::Lead => 0,
            Stage::Proposal => 1,
            Stage::Negotiation => 2,
            Stage::Won | Stage::Lost => 3,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a stage move is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveError {
    /// The deal is won or lost already.
    Closed,
    /// It is already in that stage.
    Same,
    /// Skipping stages forward (e.g. lead → won) is not allowed.
    Skips,
}

/// Whether a deal may move from `from` to `to`. Open deals move one stage forward, back to any
/// earlier open stage, or to lost; only a deal in negotiation can be won; closed deals stay closed
/// (so won revenue never silently changes).
pub fn check_move(from: Stage, to: Stage) -> Result<(), MoveError> {
    if from.is_closed() {
        return Err(MoveError::Closed);
    }
    if from == to {
        return Err(MoveError::Same);
    }
    if to == Stage::Lost || to.rank() <= from.rank() || to.rank() == from.rank() + 1 {
        Ok(())
    } else {
        Err(MoveError::Skips)
    }
}

/// The probability after a move: closed stages force 100 % / 0 %; open ones take the requested
/// value, or the stage's default.
pub fn probability_after_move(to: Stage, requested_bp: Option<u32>) -> u32 {
    match to {
        Stage::Won | Stage::Lost => to.default_probability_bp(),
        _ => requested_bp
            .unwrap_or(to.default_probability_bp())
            .min(FULL_BP),
    }
}

/// A deal's value: what its booked spots are worth once it has any, otherwise the advertiser's
/// budget (the best estimate for a deal with nothing booked yet).
pub fn deal_value(budget_minor: i64, booked_minor: i64, bookings: u32) -> i64 {
    if bookings > 0 {
        booked_minor
    } else {
        budget_minor
    }
}

/// What a deal contributes to the pipeline and forecast totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub stage: Stage,
    pub currency: String,
    pub value_minor: i64,
    pub expected_minor: i64,
    /// `YYYY-MM` of the expected close date.
    pub month: String,
}

impl Figures {
    pub fn new(
        stage: Stage,
        currency: &str,
        value_minor: i64,
        probability_bp: u32,
        close: Date,
    ) -> Self {
        Figures {
            stage,
            currency: currency.into(),
            value_minor,
            expected_minor: apply_bp(value_minor, probability_bp),
            month: close.month(),
        }
    }
}

/// Deal count and totals of one stage, per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTotals {
    pub count: i64,
    pub value: BTreeMap<String, i64>,
    pub expected: BTreeMap<String, i64>,
}

/// The running pipeline and forecast totals, kept in one small document and updated with each
/// change to a deal (instead of scanning every deal on each render).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    /// By stage code.
    pub stages: BTreeMap<String, StageTotals>,
    /// Expected value by close month (`YYYY-MM`) and currency.
    pub forecast: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Pipeline {
    /// Replaces a deal's old contribution (`None` for a new deal) with its new one (`None` for a
    /// deleted deal).
    pub fn apply(&mut self, old: Option<&Figures>, new: Option<&Figures>) {
        if let Some(f) = old {
            self.add(f, -1);
        }
        if let Some(f) = new {
            self.add(f, 1);
        }
    }

    fn add(&mut self, f: &Figures, sign: i64) {
        let totals = self.stages.entry(f.stage.code().into()).or_default();
        totals.count += sign;
        bump(&mut totals.value, &f.currency, sign * f.value_minor);
        bump(&mut totals.expected, &f.currency, sign * f.expected_minor);
        if totals.count == 0 && totals.value.is_empty() && totals.expected.is_empty() {
            self.stages.remove(f.stage.code());
        }
        let month = self.forecast.entry(f.month.clone()).or_default();
        bump(month, &f.currency, sign * f.expected_minor);
        if month.is_empty() {
            self.forecast.remove(&f.month);
        }
    }

    /// The totals of a stage (zero if none).
    pub fn stage(&self, stage: Stage) -> StageTotals {
        self.stages.get(stage.code()).cloned().unwrap_or_default()
    }

    /// Totals over the open stages (lead, proposal, negotiation).
    pub fn open_totals(&self) -> StageTotals {
        let mut sum = StageTotals::default();
        for stage in Stage::ALL.into_iter().filter(|s| !s.is_closed()) {
            let t = self.stage(stage);
            sum.count += t.count;
            for (c, v) in &t.value {
                bump(&mut sum.value, c, *v);
            }
            for (c, v) in &t.expected {
                bump(&mut sum.expected, c, *v);
            }
        }
        sum
    }
}

/// Adds `delta` to `map[currency]`, dropping entries that reach zero.
fn bump(map: &mut BTreeMap<String, i64>, currency: &str, delta: i64) {
    let v = map.entry(currency.into()).or_default();
    *v += delta;
    if *v == 0 {
        map.remove(currency);
    }
}

// --- Double bookings ---------------------------------------------------------------------------

/// Of several bookings found for one spot, the one that holds it: the earliest written (by the
/// host's creation time, then id so every caller picks the same). Used to re-check after a write,
/// when two staff booked the same spot at the same moment.
pub fn holder<'a>(bookings: &'a [(i64, &'a str)]) -> Option<&'a str> {
    bookings.iter().min().map(|(_, id)| *id)
}

// --- Dates -------------------------------------------------------------------------------------

/// A calendar date (proleptic Gregorian), stored as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

impl Date {
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Option<Date> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(1..=9999).contains(&y) {
            return None;
        }
        Some(Date {
            days: days_from_civil(y, m, d),
        })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        Date::from_ymd(num(0..4)?, num(5..7)? as u32, num(8..10)? as u32)
    }

    /// The UTC date of an instant in milliseconds since the epoch.
    pub fn from_epoch_ms(ms: i64) -> Date {
        Date {
            days: ms.div_euclid(86_400_000),
        }
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.days)
    }

    pub fn add_days(self, n: i64) -> Date {
        Date {
            days: self.days + n,
        }
    }

    /// Days from `self` to `other`.
    pub fn days_until(self, other: Date) -> i64 {
        other.days - self.days
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.days + 3).rem_euclid(7) as u32
    }

    /// The Monday of this date's week.
    pub fn monday(self) -> Date {
        self.add_days(-i64::from(self.weekday()))
    }

    /// `YYYY-MM`.
    pub fn month(self) -> String {
        let (y, m, _) = self.ymd();
        format!("{y:04}-{m:02}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_exactly_into_minor_units() {
        assert_eq!(parse_money("12500", "CNY"), Ok(1_250_000));
        assert_eq!(parse_money("12,500.5", "CNY"), Ok(1_250_050));
        assert_eq!(parse_money(" 0.07 ", "USD"), Ok(7));
        assert_eq!(parse_money(".5", "EUR"), Ok(50));
        assert_eq!(parse_money("1500", "JPY"), Ok(1500));
        // 0.1 + 0.2 style inputs stay exact: no float on the way.
        assert_eq!(parse_money("0.30", "CNY"), Ok(30));
        assert_eq!(parse_money("1.5", "JPY"), Err(InputError::TooPrecise));
        assert_eq!(parse_money("1.005", "CNY"), Err(InputError::TooPrecise));
        assert_eq!(parse_money("-5", "CNY"), Err(InputError::Format));
        assert_eq!(parse_money("1e3", "CNY"), Err(InputError::Format));
        assert_eq!(parse_money("", "CNY"), Err(InputError::Format));
        assert_eq!(parse_money(".", "CNY"), Err(InputError::Format));
        assert_eq!(parse_money("5", "XYZ"), Err(InputError::Currency));
        assert_eq!(
            parse_money("99999999999999999999", "CNY"),
            Err(InputError::OutOfRange)
        );
        assert_eq!(
            parse_money("92233720368547758", "CNY"),
            Err(InputError::OutOfRange)
        );
    }

    #[test]
    fn percentages_parse_into_basis_points() {
        assert_eq!(parse_percent_bp("12.5"), Ok(1_250));
        assert_eq!(parse_percent_bp("12.5%"), Ok(1_250));
        assert_eq!(parse_percent_bp("0"), Ok(0));
        assert_eq!(parse_percent_bp("100"), Ok(FULL_BP));
        assert_eq!(parse_percent_bp("0.01"), Ok(1));
        assert_eq!(parse_percent_bp("100.01"), Err(InputError::OutOfRange));
        assert_eq!(parse_percent_bp("1000"), Err(InputError::OutOfRange));
        assert_eq!(parse_percent_bp("1.234"), Err(InputError::TooPrecise));
        assert_eq!(parse_percent_bp("ten"), Err(InputError::Format));
    }

    #[test]
    fn basis_points_round_half_away_from_zero() {
        assert_eq!(apply_bp(10_000, 1_250), 1_250);
        // 999 × 12.5 % = 124.875 → 125
        assert_eq!(apply_bp(999, 1_250), 125);
        // 1 × 50 % = 0.5 → 1 (half rounds up)
        assert_eq!(apply_bp(1, 5_000), 1);
        // 1 × 49.99 % = 0.4999 → 0
        assert_eq!(apply_bp(1, 4_999), 0);
        assert_eq!(apply_bp(-1, 5_000), -1);
        assert_eq!(apply_bp(-3, 5_000), -2);
        assert_eq!(apply_bp(MAX_MINOR, FULL_BP), MAX_MINOR);
        assert_eq!(apply_bp(12_345, 0), 0);
    }

    #[test]
    fn line_prices_add_up() {
        let p = line_price(499_999, 1_500);
        // 499,999 × 15 % = 74,999.85 → 75,000
        assert_eq!(p.discount_minor, 75_000);
        assert_eq!(p.net_minor, 424_999);
        assert_eq!(p.rate_minor, p.discount_minor + p.net_minor);
        let capped = line_price(100, 20_000);
        assert_eq!(capped.net_minor, 0);
        // Lines are rounded one by one (166.5 → 167 off 333); the total is their sum, which
        // may differ from discounting the sum (1,000 → 500) by the rounding of each line.
        let total: i64 = [333, 333, 334]
            .iter()
            .map(|r| line_price(*r, 5_000).net_minor)
            .sum();
        assert_eq!(total, 166 + 166 + 167);
    }

    #[test]
    fn minor_units_format_for_people() {
        assert_eq!(format_minor(1_234_567, "CNY"), "12,345.67");
        assert_eq!(format_minor(5, "CNY"), "0.05");
        assert_eq!(format_minor(-100_000, "USD"), "-1,000.00");
        assert_eq!(format_minor(1_500_000, "JPY"), "1,500,000");
        assert_eq!(minor_to_major_f64(150, "CNY"), 1.5);
        assert_eq!(percent_text(1_250), "12.5%");
        assert_eq!(percent_text(1_000), "10%");
        assert_eq!(percent_text(1), "0.01%");
        assert_eq!(percent_text(FULL_BP), "100%");
    }

    #[test]
    fn stages_move_along_the_pipeline() {
        use Stage::*;
        assert_eq!(check_move(Lead, Proposal), Ok(()));
        assert_eq!(check_move(Proposal, Negotiation), Ok(()));
        assert_eq!(check_move(Negotiation, Won), Ok(()));
        assert_eq!(check_move(Negotiation, Lead), Ok(()));
        assert_eq!(check_move(Lead, Lost), Ok(()));
        assert_eq!(check_move(Proposal, Lost), Ok(()));
        assert_eq!(check_move(Lead, Won), Err(MoveError::Skips));
        assert_eq!(check_move(Lead, Negotiation), Err(MoveError::Skips));
        assert_eq!(check_move(Proposal, Won), Err(MoveError::Skips));
        assert_eq!(check_move(Lead, Lead), Err(MoveError::Same));
        assert_eq!(check_move(Won, Lost), Err(MoveError::Closed));
        assert_eq!(check_move(Lost, Lead), Err(MoveError::Closed));
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.code()), Some(s));
        }
        assert_eq!(Stage::parse("closed"), None);
    }

    #[test]
    fn probability_follows_the_stage() {
        assert_eq!(probability_after_move(Stage::Won, Some(5_000)), FULL_BP);
        assert_eq!(probability_after_move(Stage::Lost, Some(5_000)), 0);
        assert_eq!(probability_after_move(Stage::Proposal, None), 3_000);
        assert_eq!(probability_after_move(Stage::Proposal, Some(4_500)), 4_500);
        assert_eq!(deal_value(1_000, 0, 0), 1_000);
        assert_eq!(deal_value(1_000, 700, 2), 700);
    }

    #[test]
    fn pipeline_totals_follow_each_change() {
        let close = Date::parse("2026-03-15").unwrap();
        let lead = Figures::new(Stage::Lead, "CNY", 100_000, 1_000, close);
        assert_eq!(lead.expected_minor, 10_000);
        assert_eq!(lead.month, "2026-03");
        let mut p = Pipeline::default();
        p.apply(None, Some(&lead));
        let other = Figures::new(Stage::Lead, "EUR", 5_000, 1_000, close.add_days(30));
        p.apply(None, Some(&other));
        assert_eq!(p.stage(Stage::Lead).count, 2);
        assert_eq!(p.stage(Stage::Lead).value["CNY"], 100_000);
        assert_eq!(p.forecast["2026-04"]["EUR"], 500);

        let won = Figures::new(Stage::Won, "CNY", 90_000, FULL_BP, close);
        p.apply(Some(&lead), Some(&won));
        assert_eq!(p.stage(Stage::Lead).count, 1);
        assert!(!p.stage(Stage::Lead).value.contains_key("CNY"));
        assert_eq!(p.stage(Stage::Won).expected["CNY"], 90_000);
        assert_eq!(p.forecast["2026-03"]["CNY"], 90_000);
        assert_eq!(p.open_totals().count, 1);

        p.apply(Some(&won), None);
        p.apply(Some(&other), None);
        assert_eq!(
            p,
            Pipeline::default(),
            "back to empty, no zero entries left"
        );
    }

    #[test]
    fn the_earliest_booking_holds_the_spot() {
        assert_eq!(holder(&[(5, "b"), (3, "c"), (3, "a")]), Some("a"));
        assert_eq!(holder(&[]), None);
    }

    #[test]
    fn dates_parse_and_count() {
        let d = Date::parse("2024-02-28").unwrap();
        assert_eq!(d.add_days(1).to_string(), "2024-02-29");
        assert_eq!(d.add_days(2).to_string(), "2024-03-01");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2026-13-01"), None);
        assert_eq!(Date::parse("2026-1-01"), None);
        assert_eq!(Date::parse("2026-0a-01"), None);
        assert_eq!(Date::parse("1970-01-01").unwrap().weekday(), 3);
        let wed = Date::parse("2026-03-04").unwrap();
        assert_eq!(wed.monday().to_string(), "2026-03-02");
        assert_eq!(wed.monday().monday(), wed.monday());
        assert_eq!(wed.month(), "2026-03");
        assert_eq!(
            Date::from_epoch_ms(1_772_582_400_000).to_string(),
            "2026-03-04"
        );
        assert_eq!(Date::from_epoch_ms(-1).to_string(), "1969-12-31");
        assert_eq!(wed.days_until(wed.add_days(-10)), -10);
        for n in -800..800 {
            let x = wed.add_days(n * 37);
            assert_eq!(Date::parse(&x.to_string()), Some(x));
        }
    }
}
