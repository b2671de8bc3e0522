//! When a data-subject request must be acknowledged and answered, by the customer's region:
//!
//! - EU, GDPR Art. 12(3): within one month of receipt, extendable once by two further months
//!   when the person is told within the first month.
//! - US, CCPA regulations (11 CCR § 7021): acknowledged within 10 business days, answered within
//!   45 calendar days, extendable once by 45 more with notice within the first 45.
//! - CN, PIPL Art. 50 sets no number of days: the tenant configures it (15 business days unless
//!   said otherwise, as the national standard GB/T 35273 recommends), with one extension.
//! - Other regions follow the tenant's choice of regime (GDPR unless said otherwise).
//!
//! A tenant may shorten the statutory periods, never lengthen them. Business days are Monday to
//! Friday; public holidays are not known to the host and are not skipped, so business-day
//! deadlines err early, never late.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// The law a request is answered under.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    Gdpr,
    Ccpa,
    Pipl,
}

/// A tenant's periods (the defaults are the law's, or its standard's for PIPL).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Periods {
    pub gdpr_months: u32,
    pub gdpr_extension_months: u32,
    pub ccpa_acknowledge_business_days: u32,
    pub ccpa_days: u32,
    pub ccpa_extension_days: u32,
    pub pipl_business_days: u32,
    pub pipl_extension_business_days: u32,
    /// The regime for customers of the `OTHER` region.
    pub other_regions: Regime,
}

impl Default for Periods {
    fn default() -> Self {
        Self {
            gdpr_months: 1,
            gdpr_extension_months: 2,
            ccpa_acknowledge_business_days: 10,
            ccpa_days: 45,
            ccpa_extension_days: 45,
            pipl_business_days: 15,
            pipl_extension_business_days: 15,
            other_regions: Regime::Gdpr,
        }
    }
}

impl Periods {
    /// Refuses a period longer than the law allows, or none at all (PIPL's up to 90 days).
    pub fn check(&self) -> Result<(), String> {
        let law = Self::default();
        let within = |name: &str, v: u32, max: u32| {
            if (1..=max).contains(&v) {
                Ok(())
            } else {
                Err(format!("`{name}` must be 1 to {max}"))
            }
        };
        within("gdpr_months", self.gdpr_months, law.gdpr_months)?;
        within(
            "gdpr_extension_months",
            self.gdpr_extension_months,
            law.gdpr_extension_months,
        )?;
        within(
            "ccpa_acknowledge_business_days",
            self.ccpa_acknowledge_business_days,
            law.ccpa_acknowledge_business_days,
        )?;
        within("ccpa_days", self.ccpa_days, law.ccpa_days)?;
        within(
            "ccpa_extension_days",
            self.ccpa_extension_days,
            law.ccpa_extension_days,
        )?;
        within("pipl_business_days", self.pipl_business_days, 90)?;
        within(
            "pipl_extension_business_days",
            self.pipl_extension_business_days,
            90,
        )
    }

    /// The regime for a customer's region (`CN`, `EU`, `US`, `OTHER`).
    pub fn regime_of(&self, region: &str) -> Regime {
        match region {
            "EU" => Regime::Gdpr,
            "US" => Regime::Ccpa,
            "CN" => Regime::Pipl,
            _ => self.other_regions,
        }
    }
}

/// A request's dates: acknowledge by (CCPA only), answer by, and the date an extension would
/// move the answer to (while one may still be taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deadlines {
    pub acknowledge_by: Option<NaiveDate>,
    pub answer_by: NaiveDate,
    pub extended_to: NaiveDate,
}

/// The deadlines of a request received on `received`.
pub fn deadlines(regime: Regime, received: NaiveDate, p: &Periods) -> Deadlines {
    match regime {
        Regime::Gdpr => {
            let answer_by = add_months(received, p.gdpr_months);
            Deadlines {
                acknowledge_by: None,
                answer_by,
                extended_to: add_months(answer_by, p.gdpr_extension_months),
            }
        }
        Regime::Ccpa => {
            let answer_by = add_days(received, p.ccpa_days);
            Deadlines {
                acknowledge_by: Some(add_business_days(
                    received,
                    p.ccpa_acknowledge_business_days,
                )),
                answer_by,
                extended_to: add_days(answer_by, p.ccpa_extension_days),
            }
        }
        Regime::Pipl => {
            let answer_by = add_business_days(received, p.pipl_business_days);
            Deadlines {
                acknowledge_by: None,
                answer_by,
                extended_to: add_business_days(answer_by, p.pipl_extension_business_days),
            }
        }
    }
}

/// The new answer date when a request is extended on `today`: refused once the first deadline
/// has passed (every regime asks for notice within the first period).
pub fn extend(d: &Deadlines, today: NaiveDate) -> Result<NaiveDate, String> {
    if today > d.answer_by {
        return Err(format!(
            "the deadline {} has passed: an extension must be notified before it",
            d.answer_by
        ));
    }
    Ok(d.extended_to)
}

/// How a request stands against its deadline, for the queue at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    /// Due within [`DUE_SOON_DAYS`] days.
    DueSoon,
    OnTrack,
}

/// How near a deadline counts as soon.
pub const DUE_SOON_DAYS: i64 = 7;

pub fn urgency(due: NaiveDate, today: NaiveDate) -> Urgency {
    match (due - today).num_days() {
        d if d < 0 => Urgency::Overdue,
        d if d <= DUE_SOON_DAYS => Urgency::DueSoon,
        _ => Urgency::OnTrack,
    }
}

/// `n` months later; the last day of the month when that day does not exist (31 Jan → 28/29 Feb).
fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n))
        .unwrap_or(NaiveDate::MAX)
}

fn add_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_days(Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MAX)
}

/// `n` business days after `d` (the day of receipt does not count).
fn add_business_days(d: NaiveDate, n: u32) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day = add_days(day, 1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn gdpr_is_one_month_extendable_by_two_ending_on_the_months_last_day_when_needed() {
        let p = Periods::default();
        let x = deadlines(Regime::Gdpr, d("2026-03-15"), &p);
        assert_eq!((x.acknowledge_by, x.answer_by), (None, d("2026-04-15")));
        assert_eq!(x.extended_to, d("2026-06-15"));
        // 31 January: February has no 31st.
        let x = deadlines(Regime::Gdpr, d("2027-01-31"), &p);
        assert_eq!(x.answer_by, d("2027-02-28"));
        assert_eq!(
            deadlines(Regime::Gdpr, d("2028-01-31"), &p).answer_by,
            d("2028-02-29")
        );
        assert_eq!(extend(&x, d("2027-02-28")), Ok(x.extended_to));
        assert!(extend(&x, d("2027-03-01")).is_err(), "too late to extend");
    }

    #[test]
    fn ccpa_acknowledges_in_ten_business_days_and_answers_in_45_days_extendable_by_45() {
        let p = Periods::default();
        // Friday 4 December 2026: ten business days skip two weekends.
        let x = deadlines(Regime::Ccpa, d("2026-12-04"), &p);
        assert_eq!(x.acknowledge_by, Some(d("2026-12-18")));
        assert_eq!(x.answer_by, d("2027-01-18"));
        assert_eq!(x.extended_to, d("2027-03-04"));
        // Received on a Saturday: the count starts on Monday.
        let x = deadlines(Regime::Ccpa, d("2026-12-05"), &p);
        assert_eq!(x.acknowledge_by, Some(d("2026-12-18")));
    }

    #[test]
    fn pipl_uses_the_tenants_business_days() {
        let mut p = Periods::default();
        let x = deadlines(Regime::Pipl, d("2026-12-04"), &p);
        assert_eq!(x.answer_by, d("2026-12-25"), "15 business days");
        assert_eq!(x.extended_to, d("2027-01-15"));
        p.pipl_business_days = 5;
        assert_eq!(
            deadlines(Regime::Pipl, d("2026-12-04"), &p).answer_by,
            d("2026-12-11")
        );
    }

    #[test]
    fn tenants_may_shorten_the_law_never_lengthen_it() {
        let ok = Periods {
            ccpa_days: 30,
            ..Periods::default()
        };
        assert_eq!(ok.check(), Ok(()));
        for bad in [
            Periods {
                gdpr_months: 2,
                ..Periods::default()
            },
            Periods {
                ccpa_extension_days: 60,
                ..Periods::default()
            },
            Periods {
                ccpa_acknowledge_business_days: 0,
                ..Periods::default()
            },
            Periods {
                pipl_business_days: 91,
                ..Periods::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let p = Periods {
            other_regions: Regime::Ccpa,
            ..Periods::default()
        };
        assert_eq!(
            ["EU", "US", "CN", "OTHER"].map(|r| p.regime_of(r)),
            [Regime::Gdpr, Regime::Ccpa, Regime::Pipl, Regime::Ccpa]
        );
    }

    #[test]
    fn the_queue_tells_overdue_from_soon_due() {
        let today = d("2026-12-05");
        assert_eq!(urgency(d("2026-12-04"), today), Urgency::Overdue);
        assert_eq!(urgency(today, today), Urgency::DueSoon);
        assert_eq!(urgency(d("2026-12-12"), today), Urgency::DueSoon);
        assert_eq!(urgency(d("2026-12-13"), today), Urgency::OnTrack);
    }
}
