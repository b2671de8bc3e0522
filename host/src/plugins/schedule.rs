//! When plugins' jobs are due: a manifest's schedules checked and stored at install (UTC:
//! tenants have no time zone yet, and `clock.time-zone` says `UTC`), and each next due time.

use super::abi::latest::guest::{PluginManifest, Schedule};
use super::retry::MINUTE;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{DeclaredJob, Tx, now_ms};

const DAY: i64 = 24 * 60 * MINUTE;

/// A schedule, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// Every N minutes, on the multiples of N minutes since midnight UTC of 1970-01-01.
    Every(i64),
    /// Every day at this minute of the day (UTC).
    Daily(i64),
    Manual,
}

impl When {
    pub(super) fn of(s: &Schedule) -> Result<Self, String> {
        match s {
            Schedule::EveryMinutes(n) if (5..=7 * 24 * 60).contains(n) => {
                Ok(Self::Every(i64::from(*n)))
            }
            Schedule::EveryMinutes(n) => Err(format!(
                "every-minutes must be between 5 and 10080 (got {n})"
            )),
            Schedule::DailyAt(t) => parse_hh_mm(t).map(Self::Daily).ok_or_else(|| {
                format!(
                    "daily-at `{}` is not a time of day such as 02:00",
                    t.chars().take(20).collect::<String>()
                )
            }),
            Schedule::Manual => Ok(Self::Manual),
        }
    }

    /// As stored in `plugin_jobs.schedule`.
    pub(super) fn text(self) -> String {
        match self {
            Self::Every(n) => format!("every-minutes {n}"),
            Self::Daily(m) => format!("daily-at {:02}:{:02}", m / 60, m % 60),
            Self::Manual => "manual".into(),
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        match text.split_once(' ') {
            Some(("every-minutes", n)) => n.parse().ok().filter(|n| *n >= 5).map(Self::Every),
            Some(("daily-at", t)) => parse_hh_mm(t).map(Self::Daily),
            None if text == "manual" => Some(Self::Manual),
            _ => None,
        }
    }

    /// The first due time strictly after `after` (milliseconds since the epoch).
    pub(super) fn next_after(self, after: i64) -> Option<i64> {
        match self {
            Self::Every(n) => {
                let period = n * MINUTE;
                Some((after.div_euclid(period) + 1) * period)
            }
            Self::Daily(minute) => {
                let today = after.div_euclid(DAY) * DAY + minute * MINUTE;
                Some(if today > after { today } else { today + DAY })
            }
            Self::Manual => None,
        }
    }
}

fn parse_hh_mm(t: &str) -> Option<i64> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// Checks a declared schedule (at install: a bad one refuses the plugin).
pub fn check_schedule(s: &Schedule) -> Result<(), String> {
    When::of(s).map(|_| ())
}

/// Brings the plugin's job rows in step with its manifest, inside the install's transaction.
pub async fn register(
    app: &App,
    tx: &mut Tx,
    tenant_id: &str,
    manifest: &PluginManifest,
) -> AppResult<()> {
    let now = now_ms();
    let mut jobs = Vec::new();
    for j in &manifest.jobs {
        let when = When::of(&j.schedule).map_err(|m| {
            AppError::bad_request("invalid_manifest", format!("job {}: {m}", j.name))
        })?;
        jobs.push(DeclaredJob {
            job: j.name.clone(),
            schedule: when.text(),
            first_due: when.next_after(now),
        });
    }
    app.store
        .sync_jobs(tx, tenant_id, &manifest.name, &jobs)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    #[test]
    fn schedules_are_checked_and_stored_as_text() {
        assert_eq!(
            When::of(&Schedule::DailyAt("02:00".into())),
            Ok(When::Daily(120))
        );
        assert_eq!(When::Daily(120).text(), "daily-at 02:00");
        assert_eq!(When::parse("daily-at 02:00"), Some(When::Daily(120)));
        assert_eq!(When::parse("every-minutes 15"), Some(When::Every(15)));
        assert_eq!(When::parse("manual"), Some(When::Manual));
        for bad in ["2:00", "24:00", "12:60", "ab:cd", "", "02:00:00"] {
            assert!(
                check_schedule(&Schedule::DailyAt(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(check_schedule(&Schedule::EveryMinutes(4)).is_err());
        assert!(check_schedule(&Schedule::EveryMinutes(5)).is_ok());
        assert!(When::parse("every-minutes 1").is_none());
    }

    #[test]
    fn next_due_times() {
        let daily = When::Daily(120);
        // Before 02:00: today; at or after: tomorrow.
        assert_eq!(daily.next_after(T0), Some(T0 + 2 * 3_600_000));
        assert_eq!(
            daily.next_after(T0 + 2 * 3_600_000),
            Some(T0 + DAY + 2 * 3_600_000)
        );
        assert_eq!(
            daily.next_after(T0 + 23 * 3_600_000),
            Some(T0 + DAY + 2 * 3_600_000)
        );
        let every = When::Every(15);
        assert_eq!(every.next_after(T0), Some(T0 + 15 * MINUTE));
        assert_eq!(every.next_after(T0 + 14 * MINUTE), Some(T0 + 15 * MINUTE));
        assert_eq!(every.next_after(T0 + 15 * MINUTE), Some(T0 + 30 * MINUTE));
        assert_eq!(When::Manual.next_after(T0), None);
    }
}
