//! The one lease-and-retry rule of the runs the worker takes (plugin job runs, event
//! deliveries). A run is claimed with a lease ([`lease`]: its deadline plus a minute), so that of
//! all the hosts on one database exactly one runs it; a run still in progress holds its lease and
//! the next poll skips it. A failed run is tried again after 1, 2, 4 and 8 minutes ([`retry_at`])
//! and given up after the fifth attempt.

/// Tries of one due run before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// Due job runs, and due deliveries, of one tenant taken per poll.
pub const DUE_PER_TENANT: i64 = 8;
pub(crate) const MINUTE: i64 = 60_000;

/// Until when a run claimed at `now`, with `deadline_ms` to finish, holds its lease.
pub fn lease(now: i64, deadline_ms: u64) -> i64 {
    now + deadline_ms.min(i64::MAX as u64 / 2) as i64 + MINUTE
}

/// When to try again after `attempt` failed at `ended`: `None` once it is given up.
pub fn retry_at(attempt: i64, ended: i64) -> Option<i64> {
    (attempt < MAX_ATTEMPTS).then(|| ended + (MINUTE << (attempt - 1).clamp(0, 6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_give_up() {
        let delays: Vec<i64> = (1..=MAX_ATTEMPTS)
            .map(|a| retry_at(a, 0).map_or(-1, |at| at))
            .collect();
        assert_eq!(delays, [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, -1]);
        assert_eq!(lease(1_000, 100), 1_100 + MINUTE);
        assert!(
            lease(0, u64::MAX) > 0,
            "a huge deadline does not wrap the lease"
        );
    }
}
