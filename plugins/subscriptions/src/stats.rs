//! The dashboard's figures, kept cheap: one small summary document holds per-state counts and,
//! per month, the *changes* of each figure. Every history entry adds its change to the month it
//! happened in, so entries can be added in any order (the demo loader adds a year of history at
//! once) and a figure at the end of a month is the sum of all changes up to it. Pure: tested
//! natively.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    Entry, Event, State, Subscription, day_of, last_month_keys, month_key, mrr_of,
};

/// The changes of the figures within one month.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Month {
    /// Change in paying (active) subscriptions.
    pub active: i64,
    /// Change in committed (active or paused) subscriptions.
    pub subscribed: i64,
    /// Change in the annual run-rate, per currency, in minor units.
    pub arr: BTreeMap<String, i64>,
    pub started: i64,
    /// Committed subscriptions that were cancelled or expired.
    pub churned: i64,
    pub failed_renewals: i64,
}

/// How far `seed-demo` has got.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SeedProgress {
    /// Demo subscriptions created so far (they are numbered from 0).
    pub next: u32,
    pub target: Option<u32>,
    pub done: bool,
}

/// The plugin's single summary document (indexed by `key`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Summary {
    pub key: String,
    /// Subscriptions per state.
    pub states: BTreeMap<String, i64>,
    /// Live (trial, active, paused) subscriptions per plan code.
    pub plans: BTreeMap<String, i64>,
    /// Live subscriptions flagged as a churn risk.
    pub at_risk: i64,
    /// Changes per month, `YYYY-MM`.
    pub months: BTreeMap<String, Month>,
    pub seed: SeedProgress,
    /// The last day the renewal job finished (days since the epoch).
    pub renewals_done: Option<i64>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            key: Summary::KEY.into(),
            states: BTreeMap::new(),
            plans: BTreeMap::new(),
            at_risk: 0,
            months: BTreeMap::new(),
            seed: SeedProgress::default(),
            renewals_done: None,
        }
    }
}

fn bump(map: &mut BTreeMap<String, i64>, key: &str, by: i64) {
    let v = map.entry(key.to_string()).or_default();
    *v += by;
    if *v == 0 {
        map.remove(key);
    }
}

impl Summary {
    /// The value of the indexed `key` field of the one summary document.
    pub const KEY: &'static str = "summary";

    /// Adds one history entry of a subscription in `currency` (with the entry before it, if any).
    pub fn record(&mut self, currency: &str, before: Option<&Entry>, after: &Entry) {
        let flag = |b: bool| i64::from(b);
        let state = |e: Option<&Entry>, f: fn(State) -> bool| flag(e.is_some_and(|e| f(e.to)));
        if let Some(b) = before {
            bump(&mut self.states, b.to.code(), -1);
            if b.to.is_live() {
                bump(&mut self.plans, &b.plan, -1);
            }
        }
        bump(&mut self.states, after.to.code(), 1);
        if after.to.is_live() {
            bump(&mut self.plans, &after.plan, 1);
        }
        self.at_risk += flag(after.at_risk) - flag(before.is_some_and(|b| b.at_risk));
        let arr = |e: Option<&Entry>| e.filter(|e| e.to.is_paying()).map_or(0, |e| e.arr_minor);
        let month = self.months.entry(month_key(day_of(after.at))).or_default();
        month.active += state(Some(after), State::is_paying) - state(before, State::is_paying);
        month.subscribed +=
            state(Some(after), State::is_subscribed) - state(before, State::is_subscribed);
        bump(&mut month.arr, currency, arr(Some(after)) - arr(before));
        month.started += flag(before.is_none());
        month.churned += flag(before.is_some_and(|b| b.to.is_subscribed()) && !after.to.is_live());
        month.failed_renewals += flag(matches!(after.event, Event::RenewalFailed { .. }));
    }

    /// Adds the entries of `sub`'s history from index `from` on (0 for a new subscription).
    pub fn record_from(&mut self, sub: &Subscription, from: usize) {
        for i in from..sub.history.len() {
            let before = i.checked_sub(1).map(|j| &sub.history[j]);
            self.record(&sub.currency, before, &sub.history[i]);
        }
    }

    pub fn count(&self, state: State) -> i64 {
        self.states.get(state.code()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> i64 {
        self.states.values().sum()
    }

    /// The `n` months ending with the month of `today`, with each figure as at the month's end.
    pub fn last_months(&self, today: i64, n: u32) -> Vec<MonthFigures> {
        let keys = last_month_keys(today, n);
        let mut running = MonthFigures::default();
        let mut months = self.months.iter().peekable();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            // Everything before this month sets the start of it.
            while let Some((_, m)) = months.next_if(|(k, _)| k.as_str() < key.as_str()) {
                running.add(m);
            }
            let subscribed_at_start = running.subscribed;
            let mut figures = MonthFigures {
                key: key.clone(),
                started: 0,
                churned: 0,
                failed_renewals: 0,
                subscribed_at_start,
                ..running.clone()
            };
            if let Some((_, m)) = months.next_if(|(k, _)| **k == key) {
                figures.add(m);
                running.add(m);
            }
            out.push(figures);
        }
        out
    }
}

/// The figures of one month, as at its end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonthFigures {
    pub key: String,
    pub active: i64,
    pub subscribed: i64,
    pub subscribed_at_start: i64,
    pub arr: BTreeMap<String, i64>,
    pub started: i64,
    pub churned: i64,
    pub failed_renewals: i64,
}

impl MonthFigures {
    fn add(&mut self, m: &Month) {
        self.active += m.active;
        self.subscribed += m.subscribed;
        for (currency, v) in &m.arr {
            *self.arr.entry(currency.clone()).or_default() += v;
        }
        self.started += m.started;
        self.churned += m.churned;
        self.failed_renewals += m.failed_renewals;
    }

    /// Monthly recurring revenue in `currency`, minor units.
    pub fn mrr(&self, currency: &str) -> i64 {
        mrr_of(self.arr.get(currency).copied().unwrap_or(0))
    }

    /// Committed subscriptions lost in the month, as a percentage of those at its start.
    pub fn churn_rate(&self) -> Option<f64> {
        (self.subscribed_at_start > 0)
            .then(|| self.churned as f64 * 100.0 / self.subscribed_at_start as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::{at, plan};
    use crate::domain::{Period, from_civil};

    #[test]
    fn figures_follow_the_lifecycle() {
        let basic = plan("basic", 2990, "CNY", Period::Monthly, 7);
        let cheap = plan("cheap", 1990, "CNY", Period::Monthly, 0);
        let euro = plan("euro", 12_000, "EUR", Period::Yearly, 0);
        let mut sum = Summary::default();

        let mut a = Subscription::start("c1", &basic, at(2025, 1, 10), true);
        a.run_due(at(2025, 1, 17)); // converted in January
        a.run_due(at(2025, 2, 17)); // renewed in February
        a.pause(at(2025, 3, 1)).unwrap();
        a.resume(at(2025, 3, 5)).unwrap();
        a.change_plan(&cheap, at(2025, 4, 2)).unwrap();
        a.cancel(at(2025, 5, 20)).unwrap();
        let mut b = Subscription::start("c2", &euro, at(2025, 2, 1), false);
        b.fail_payments = true;
        // Added in two goes, out of order: the sums do not care.
        let split = 2;
        sum.record_from(&b, 0);
        let a_head = Subscription {
            history: a.history[..split].to_vec(),
            ..a.clone()
        };
        sum.record_from(&a_head, 0);
        sum.record_from(&a, split);
        b.run_due(at(2026, 2, 1));

        let months = sum.last_months(from_civil(2025, 6, 30), 6);
        let keys: Vec<_> = months.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"
            ]
        );
        let jan = &months[0];
        assert_eq!((jan.started, jan.active, jan.subscribed), (1, 1, 1));
        assert_eq!(jan.mrr("CNY"), 2990);
        let feb = &months[1];
        assert_eq!(
            (feb.started, feb.active, feb.subscribed_at_start),
            (1, 2, 1)
        );
        assert_eq!((feb.mrr("CNY"), feb.mrr("EUR")), (2990, 1000));
        assert_eq!(
            months[2].mrr("CNY"),
            2990,
            "paused and resumed within March"
        );
        assert_eq!(months[3].mrr("CNY"), 1990, "downgraded in April");
        let may = &months[4];
        assert_eq!(
            (may.churned, may.subscribed_at_start, may.active),
            (1, 2, 1)
        );
        assert_eq!(may.churn_rate(), Some(50.0));
        assert_eq!(may.mrr("CNY"), 0);
        assert_eq!(months[5].churned, 0);
        assert_eq!(months[5].mrr("EUR"), 1000);

        assert_eq!(sum.count(State::Cancelled), 1);
        assert_eq!(sum.count(State::Active), 1);
        assert_eq!(sum.total(), 2);
        assert_eq!(sum.plans.get("euro"), Some(&1));
        assert_eq!(
            sum.plans.get("basic"),
            None,
            "no live subscription left on it"
        );
        assert_eq!(sum.at_risk, 0);
    }

    #[test]
    fn risk_and_failures_are_counted_and_uncounted() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let mut s = Subscription::start("c1", &p, at(2025, 1, 1), false);
        let mut sum = Summary::default();
        sum.record_from(&s, 0);
        s.fail_payments = true;
        let n = s.history.len();
        s.run_due(at(2025, 2, 1));
        sum.record_from(&s, n);
        assert_eq!(sum.at_risk, 1);
        let n = s.history.len();
        s.run_due(at(2025, 2, 4));
        s.run_due(at(2025, 2, 7));
        s.run_due(at(2025, 2, 10));
        sum.record_from(&s, n);
        assert_eq!(sum.at_risk, 0);
        assert_eq!(sum.count(State::Expired), 1);
        let feb = &sum.last_months(from_civil(2025, 2, 28), 1)[0];
        assert_eq!((feb.failed_renewals, feb.churned, feb.active), (3, 1, 0));
        assert_eq!(feb.churn_rate(), Some(100.0));
    }

    #[test]
    fn empty_months_carry_the_figures_forward() {
        let p = plan("basic", 999, "EUR", Period::Monthly, 0);
        let s = Subscription::start("c1", &p, at(2023, 6, 1), false);
        let mut sum = Summary::default();
        sum.record_from(&s, 0);
        let months = sum.last_months(from_civil(2025, 3, 1), 12);
        assert!(months.iter().all(|m| m.mrr("EUR") == 999 && m.active == 1));
        assert!(months.iter().all(|m| m.churn_rate() == Some(0.0)));
        assert_eq!(Summary::default().last_months(0, 2)[1].churn_rate(), None);
        let json = serde_json::to_string(&sum).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), sum);
    }
}
