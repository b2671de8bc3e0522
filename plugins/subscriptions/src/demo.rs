//! Demo data, made deterministically from a number: the plans, and for subscription `i` a year
//! of realistic history played through the real lifecycle rules (so every demo history is one the
//! plugin could have produced). Pure: tested natively.

use crate::domain::{DAY_MS, Period, Plan, State, Subscription, day_of};

/// Subscriptions `seed-demo` aims for (fewer when the tenant has fewer customers).
pub const TARGET: u32 = 300;

fn plan(
    code: &str,
    (name_en, name_zh): (&str, &str),
    channels: &[&str],
    price_minor: i64,
    currency: &str,
    period: Period,
    trial_days: u32,
) -> Plan {
    Plan {
        code: code.into(),
        name_en: name_en.into(),
        name_zh: name_zh.into(),
        channels: channels.iter().map(|c| c.to_string()).collect(),
        price_minor,
        currency: currency.into(),
        period,
        trial_days,
    }
}

/// The demo plans: three in CNY for subscribers in China, three in EUR for everyone else.
pub fn plans() -> Vec<Plan> {
    use Period::{Monthly, Yearly};
    vec![
        plan(
            "basic-cn",
            ("Basic", "基础套餐"),
            &["Aurora News", "Aurora Drama", "Aurora Kids"],
            2_990,
            "CNY",
            Monthly,
            7,
        ),
        plan(
            "sports-cn",
            ("Sports", "体育套餐"),
            &[
                "Aurora News",
                "Aurora Sports",
                "Aurora Sports+",
                "Football Live",
            ],
            6_800,
            "CNY",
            Monthly,
            14,
        ),
        plan(
            "premium-cn",
            ("Premium (yearly)", "尊享年卡"),
            &[
                "Aurora News",
                "Aurora Drama",
                "Aurora Kids",
                "Aurora Sports",
                "Aurora Movies 4K",
            ],
            79_800,
            "CNY",
            Yearly,
            14,
        ),
        plan(
            "basic-eu",
            ("Basic Europe", "欧洲基础套餐"),
            &["Aurora News", "Aurora Drama"],
            999,
            "EUR",
            Monthly,
            7,
        ),
        plan(
            "sports-eu",
            ("Sports Europe", "欧洲体育套餐"),
            &["Aurora News", "Aurora Sports", "Football Live"],
            1_999,
            "EUR",
            Monthly,
            14,
        ),
        plan(
            "premium-eu",
            ("Premium Europe (yearly)", "欧洲尊享年卡"),
            &[
                "Aurora News",
                "Aurora Drama",
                "Aurora Sports",
                "Aurora Movies 4K",
            ],
            19_900,
            "EUR",
            Yearly,
            30,
        ),
    ]
}

/// A small deterministic generator (SplitMix64): the same number gives the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Something staff did, planned for a demo subscription (skipped if not allowed by then).
#[derive(Debug, Clone, Copy)]
enum Planned {
    Pause,
    Resume,
    Cancel,
    ChangePlan(usize),
    /// The subscriber's card starts being declined (renewals fail from then on).
    CardDeclined,
}

/// Demo subscription number `i` for a customer, in CNY when `in_china`, with history up to `now`.
pub fn subscription(
    i: u32,
    customer: &str,
    in_china: bool,
    plans: &[Plan],
    now: i64,
) -> Subscription {
    let mut rng = Rng(u64::from(i).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x00C0_FFEE);
    let currency = if in_china { "CNY" } else { "EUR" };
    let choices: Vec<&Plan> = plans.iter().filter(|p| p.currency == currency).collect();
    // Cheaper plans are more popular: weights 5, 3, 2 in price order.
    let weights = [5u64, 3, 2];
    let mut pick = rng.below(weights.iter().take(choices.len()).sum());
    let mut index = 0;
    while index + 1 < choices.len() && pick >= weights[index.min(2)] {
        pick -= weights[index.min(2)];
        index += 1;
    }
    let chosen = choices[index];

    let today = day_of(now);
    let start_day = today - rng.below(365) as i64;
    // An office hour of the day, never later than `now`.
    let hour = |day: i64, h: u64| (day * DAY_MS + ((h % 14) as i64 + 8) * 3_600_000).min(now);
    let mut sub = Subscription::start(
        customer,
        chosen,
        hour(start_day, rng.next()),
        rng.chance(60),
    );

    let mut planned: Vec<(i64, Planned)> = Vec::new();
    let after = |rng: &mut Rng, from: i64, span: u64| from + 1 + rng.below(span) as i64;
    if rng.chance(8) && sub.state == State::Trial {
        planned.push((after(&mut rng, start_day, 5), Planned::Cancel));
    }
    let mut pause_from = start_day + 20;
    let pauses = match rng.below(100) {
        0..=11 => 1,
        12..=17 => 2,
        _ => 0,
    };
    for _ in 0..pauses {
        let pause = after(&mut rng, pause_from, 60);
        let resume = after(&mut rng, pause, 45);
        planned.push((pause, Planned::Pause));
        if rng.chance(85) {
            planned.push((resume, Planned::Resume));
        }
        pause_from = resume + 10;
    }
    if rng.chance(10) && choices.len() > 1 {
        let other = (index + 1 + rng.below(choices.len() as u64 - 1) as usize) % choices.len();
        planned.push((
            after(&mut rng, start_day + 30, 200),
            Planned::ChangePlan(other),
        ));
    }
    if rng.chance(12) {
        planned.push((after(&mut rng, start_day + 15, 300), Planned::Cancel));
    }
    if rng.chance(8) {
        planned.push((after(&mut rng, start_day, 330), Planned::CardDeclined));
    }
    planned.sort_by_key(|(day, _)| *day);

    // Play the year forward: the renewal job's work on each due day, and staff's actions.
    let mut actions = planned.into_iter().filter(|(d, _)| *d <= today).peekable();
    loop {
        let due = sub.due_day.filter(|d| *d <= today);
        let next_action = actions.peek().map(|(d, _)| *d);
        match (due, next_action) {
            (Some(d), a) if a.is_none_or(|a| d <= a) => {
                sub.run_due((d * DAY_MS + 2 * 3_600_000).min(now));
            }
            (_, Some(d)) => {
                let (_, action) = actions.next().expect("peeked");
                let at = hour(d, rng.next());
                // Plans that no longer fit the state by then are simply not done.
                let _ = match action {
                    Planned::Pause => sub.pause(at),
                    Planned::Resume => sub.resume(at),
                    Planned::Cancel => sub.cancel(at),
                    Planned::ChangePlan(p) => sub.change_plan(choices[p], at),
                    Planned::CardDeclined => {
                        sub.fail_payments = true;
                        Ok(())
                    }
                };
            }
            (_, None) => break,
        }
    }
    sub
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::at;
    use crate::domain::{Event, RiskReason};
    use crate::stats::Summary;

    #[test]
    fn plans_are_in_both_currencies_and_valid() {
        let plans = plans();
        assert!((4..=6).contains(&plans.len()));
        assert!(plans.iter().any(|p| p.currency == "CNY"));
        assert!(plans.iter().any(|p| p.currency == "EUR"));
        for p in &plans {
            let input = crate::domain::PlanInput {
                code: &p.code,
                name_en: &p.name_en,
                name_zh: &p.name_zh,
                channels: &p.channels.join(","),
                price: &crate::domain::format_price(p.price_minor, &p.currency),
                currency: &p.currency,
                period: p.period.code(),
                trial_days: &p.trial_days.to_string(),
            };
            assert_eq!(crate::domain::validate_plan(&input).as_ref(), Ok(p));
        }
    }

    #[test]
    fn subscriptions_are_deterministic_and_up_to_date() {
        let plans = plans();
        let now = at(2026, 3, 15);
        let a = subscription(7, "c7", true, &plans, now);
        assert_eq!(a, subscription(7, "c7", true, &plans, now));
        assert_eq!(a.currency, "CNY");
        for i in 0..300 {
            let s = subscription(i, "c", i % 3 == 0, &plans, now);
            assert!(
                s.due_day.is_none_or(|d| d > day_of(now)),
                "nothing left due: {i}"
            );
            assert!(
                s.history.windows(2).all(|w| w[0].at <= w[1].at),
                "dated in order: {i}"
            );
            assert!(s.history.iter().all(|e| e.at <= now));
            assert_eq!(s.history[0].event, Event::Started);
            assert!(day_of(now) - s.started_day < 365);
        }
    }

    #[test]
    fn three_hundred_subscriptions_spread_over_states_and_signals() {
        let plans = plans();
        let now = at(2026, 3, 15);
        let subs: Vec<_> = (0..TARGET)
            .map(|i| subscription(i, "c", i % 2 == 0, &plans, now))
            .collect();
        let count = |s: State| subs.iter().filter(|x| x.state == s).count();
        for state in State::ALL {
            assert!(count(state) >= 3, "{state:?}: {}", count(state));
        }
        assert!(count(State::Active) > TARGET as usize / 2);
        let reasons: Vec<_> = subs.iter().flat_map(|s| s.churn_risk()).collect();
        assert!(
            reasons
                .iter()
                .any(|r| matches!(r, RiskReason::PausedRepeatedly { .. }))
        );
        assert!(reasons.contains(&RiskReason::Downgraded));
        assert!(
            reasons
                .iter()
                .any(|r| matches!(r, RiskReason::RenewalFailed { .. }))
        );
        for p in &plans {
            assert!(subs.iter().any(|s| s.plan == p.code), "{} unused", p.code);
        }

        let mut sum = Summary::default();
        for s in &subs {
            sum.record_from(s, 0);
        }
        assert_eq!(sum.total(), TARGET as i64);
        assert_eq!(sum.count(State::Active), count(State::Active) as i64);
        assert_eq!(
            sum.at_risk,
            subs.iter().filter(|s| s.at_risk).count() as i64
        );
        let months = sum.last_months(day_of(now), 12);
        assert!(
            months[11].mrr("CNY") > months[1].mrr("CNY"),
            "grew over the year"
        );
        assert!(months.iter().skip(2).any(|m| m.churned > 0));
        assert_eq!(months[11].active, count(State::Active) as i64);
    }
}
