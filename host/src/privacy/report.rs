//! The request log's figures, as a compliance officer reports them (CCPA regulations,
//! 11 CCR § 7102, ask businesses of scale to publish much the same): requests received by kind,
//! how many were completed or refused, the median and worst days to answer, and how many are
//! overdue or were answered late.

use std::collections::BTreeMap;

use serde::Serialize;

use super::request::{Kind, State};
use super::{authorize, name_of, today, view};
use crate::app::{Actor, App};
use crate::error::AppResult;

/// How far back the figures look: the request log is kept this long.
pub const LOG_MONTHS: u32 = super::retention::REQUEST_LOG_FLOOR_MONTHS;

/// The figures of one kind of request (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub received: u64,
    pub completed: u64,
    pub refused: u64,
    pub open: u64,
    /// Open and past their due date.
    pub overdue: u64,
    /// Closed after their due date.
    pub closed_late: u64,
    /// Days from receipt to completion or refusal (calendar days, fractional).
    pub median_days: Option<f64>,
    pub worst_days: Option<f64>,
}

/// The request log's figures over the last [`LOG_MONTHS`] months.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestLog {
    /// Milliseconds since the epoch: the start of the period.
    pub since: i64,
    pub by_kind: BTreeMap<String, Figures>,
    pub all: Figures,
}

const DAY_MS: f64 = 86_400_000.0;

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Figures from requests: (kind, state, received, closed-at if closed, due, overdue now).
fn figures<'a>(rows: impl Iterator<Item = &'a Row>) -> Figures {
    let mut f = Figures::default();
    let mut days = Vec::new();
    for r in rows {
        f.received += 1;
        match r.state {
            State::Completed => f.completed += 1,
            State::Refused => f.refused += 1,
            _ => f.open += 1,
        }
        if r.overdue {
            f.overdue += 1;
        }
        if let Some(closed) = r.closed_at {
            let d = (closed - r.received_at) as f64 / DAY_MS;
            days.push((d * 10.0).round() / 10.0);
            if r.closed_late {
                f.closed_late += 1;
            }
        }
    }
    days.sort_by(f64::total_cmp);
    f.median_days = median(&days);
    f.worst_days = days.last().copied();
    f
}

struct Row {
    kind: Kind,
    state: State,
    received_at: i64,
    closed_at: Option<i64>,
    overdue: bool,
    closed_late: bool,
}

/// The figures as of `now` (`privacy.read`; audited).
pub async fn report(app: &App, actor: &Actor, now: i64) -> AppResult<RequestLog> {
    let decision = authorize(app, actor, "privacy.read", None).await?;
    let since = super::retention::months_before(now, LOG_MONTHS);
    let stored = app
        .store
        .privacy_requests_since(&actor.tenant_id, since)
        .await?;
    let rows = stored
        .iter()
        .map(|r| {
            let v = view(r, today(now))?;
            let closed_at = (!v.state.is_open()).then_some(r.updated_at);
            Ok(Row {
                kind: v.kind,
                state: v.state,
                received_at: r.received_at,
                closed_at,
                overdue: v.urgency == Some(super::deadline::Urgency::Overdue),
                closed_late: closed_at.is_some_and(|c| today(c) > v.due),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let mut by_kind = BTreeMap::new();
    for kind in Kind::ALL {
        by_kind.insert(
            name_of(&kind),
            figures(rows.iter().filter(|r| r.kind == kind)),
        );
    }
    let all = figures(rows.iter());
    let detail = serde_json::json!({"received": all.received});
    let event = actor.audit("privacy.read", "privacy/report".into(), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(RequestLog {
        since,
        by_kind,
        all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: Kind, state: State, days: Option<i64>) -> Row {
        Row {
            kind,
            state,
            received_at: 0,
            closed_at: days.map(|d| d * 86_400_000),
            overdue: false,
            closed_late: false,
        }
    }

    #[test]
    fn median_and_worst_count_closed_requests_only() {
        let rows = [
            row(Kind::Access, State::Completed, Some(3)),
            row(Kind::Access, State::Refused, Some(10)),
            row(Kind::Access, State::Completed, Some(5)),
            row(Kind::Access, State::InProgress, None),
        ];
        let f = figures(rows.iter());
        assert_eq!((f.received, f.completed, f.refused, f.open), (4, 2, 1, 1));
        assert_eq!(f.median_days, Some(5.0));
        assert_eq!(f.worst_days, Some(10.0));
        let even = figures(rows[..2].iter());
        assert_eq!(even.median_days, Some(6.5));
        assert_eq!(figures(rows[3..].iter()).median_days, None);
    }
}
