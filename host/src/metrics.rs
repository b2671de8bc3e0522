//! Process-wide counters served at `/metrics` in Prometheus text format. Counts only, never data.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static HTTP: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static DECISIONS_ALLOW: AtomicU64 = AtomicU64::new(0);
static DECISIONS_DENY: AtomicU64 = AtomicU64::new(0);
static DECISION_MICROS: AtomicU64 = AtomicU64::new(0);
static AUDIT_RECORDS: AtomicU64 = AtomicU64::new(0);
static AUDIT_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Policy jobs started, and those a limit stopped (CPU, memory, wall-clock).
static POLICY_JOBS: AtomicU64 = AtomicU64::new(0);
static POLICY_JOBS_STOPPED: AtomicU64 = AtomicU64::new(0);

/// Counts a response by status class (1xx … 5xx).
pub fn http_response(status: u16) {
    if let Some(c) = HTTP.get((status / 100).saturating_sub(1) as usize) {
        c.fetch_add(1, Relaxed);
    }
}

pub fn decision(allow: bool, micros: u64) {
    if allow {
        &DECISIONS_ALLOW
    } else {
        &DECISIONS_DENY
    }
    .fetch_add(1, Relaxed);
    DECISION_MICROS.fetch_add(micros, Relaxed);
}

pub fn audit_batch(records: usize) {
    AUDIT_BATCHES.fetch_add(1, Relaxed);
    AUDIT_RECORDS.fetch_add(records as u64, Relaxed);
}

/// Counts a policy job that ran (a child process started), and whether a limit stopped it.
pub fn policy_job(stopped: bool) {
    POLICY_JOBS.fetch_add(1, Relaxed);
    if stopped {
        POLICY_JOBS_STOPPED.fetch_add(1, Relaxed);
    }
}

/// The exposition text.
pub fn render() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP crm_http_responses_total HTTP responses by status class."
    );
    let _ = writeln!(s, "# TYPE crm_http_responses_total counter");
    for (i, c) in HTTP.iter().enumerate() {
        let _ = writeln!(
            s,
            "crm_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            c.load(Relaxed)
        );
    }
    let _ = writeln!(
        s,
        "# HELP crm_policy_decisions_total Policy decisions by result."
    );
    let _ = writeln!(s, "# TYPE crm_policy_decisions_total counter");
    let _ = writeln!(
        s,
        "crm_policy_decisions_total{{result=\"allow\"}} {}",
        DECISIONS_ALLOW.load(Relaxed)
    );
    let _ = writeln!(
        s,
        "crm_policy_decisions_total{{result=\"deny\"}} {}",
        DECISIONS_DENY.load(Relaxed)
    );
    let _ = writeln!(
        s,
        "# HELP crm_policy_decision_seconds_total Time spent deciding."
    );
    let _ = writeln!(s, "# TYPE crm_policy_decision_seconds_total counter");
    let _ = writeln!(
        s,
        "crm_policy_decision_seconds_total {:.6}",
        DECISION_MICROS.load(Relaxed) as f64 / 1e6
    );
    let _ = writeln!(
        s,
        "# HELP crm_audit_records_total Audit records committed by the group-commit writer."
    );
    let _ = writeln!(s, "# TYPE crm_audit_records_total counter");
    let _ = writeln!(s, "crm_audit_records_total {}", AUDIT_RECORDS.load(Relaxed));
    let _ = writeln!(
        s,
        "# HELP crm_audit_batches_total Transactions the audit writer committed."
    );
    let _ = writeln!(s, "# TYPE crm_audit_batches_total counter");
    let _ = writeln!(s, "crm_audit_batches_total {}", AUDIT_BATCHES.load(Relaxed));
    let _ = writeln!(
        s,
        "# HELP crm_policy_jobs_total Policy jobs run (tenant Rego checked, tested or compiled in a child process), by outcome."
    );
    let _ = writeln!(s, "# TYPE crm_policy_jobs_total counter");
    let stopped = POLICY_JOBS_STOPPED.load(Relaxed);
    let _ = writeln!(
        s,
        "crm_policy_jobs_total{{outcome=\"finished\"}} {}",
        POLICY_JOBS.load(Relaxed).saturating_sub(stopped)
    );
    let _ = writeln!(
        s,
        "crm_policy_jobs_total{{outcome=\"stopped_by_limit\"}} {stopped}"
    );
    s
}
