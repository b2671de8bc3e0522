//! Retention: how long a tenant keeps each kind of data, and the run that applies it. A dry run
//! counts what would go; applying erases inactive customers through the erasure path (legal
//! holds, ledger, audit) and deletes aged rows of the other kinds, all but what a legal hold
//! keeps. A tenant-wide hold stops a run altogether. Every run is recorded and audited with its
//! counts, and the host applies a schedule by itself once a day when the tenant asks it to.
//!
//! The platform keeps some records longer than any schedule may say: the request log 24 months
//! (CCPA regulations, 11 CCR § 7101), decision logs and audit records six months (China's
//! Cybersecurity Law, Art. 21, on network logs).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Days, Months};
use serde::{Deserialize, Serialize};

use super::authorize;
pub use super::settings::{
    DECISION_LOG_FLOOR_MONTHS, MAX_MONTHS, REQUEST_LOG_FLOOR_MONTHS, Schedule,
};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::store::{Aged, Reach, RetentionRunRow, now_ms};

/// Customers erased by one run at most; the rest go on the next.
pub const ERASURES_PER_RUN: usize = 10_000;
/// The runs a listing shows.
pub const RUNS_SHOWN: i64 = 50;

/// What a run found (a dry run) or did (applied).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunReport {
    pub id: String,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub applied: bool,
    pub run_by: String,
    /// A tenant-wide legal hold stops the whole run: its reason and owner.
    pub stopped_by_hold: Option<String>,
    /// Per kind (`interactions`, `plugin_documents:deals/contacts`, …): rows that go (or went)
    /// and rows a legal hold or a request still open keeps. A dry run also counts, under their
    /// own kinds, the rows of the customers it would erase; an apply erases those first.
    pub categories: BTreeMap<String, Reach>,
    /// What the run left for later, and why.
    pub notes: Vec<String>,
}

/// `now` (ms) less `months` calendar months.
pub fn months_before(now: i64, months: u32) -> i64 {
    DateTime::from_timestamp_millis(now)
        .and_then(|t| t.checked_sub_months(Months::new(months)))
        .map_or(i64::MIN, |t| t.timestamp_millis())
}

fn days_before(now: i64, days: u32) -> i64 {
    DateTime::from_timestamp_millis(now)
        .and_then(|t| t.checked_sub_days(Days::new(days.into())))
        .map_or(i64::MIN, |t| t.timestamp_millis())
}

/// Runs the tenant's schedule as of `now`: a dry run (`privacy.read`) or applied
/// (`privacy.manage`; each erasure is also decided on its own as `customer.delete`).
pub async fn run(app: &App, actor: &Actor, apply: bool, now: i64) -> AppResult<RunReport> {
    let action = if apply {
        "privacy.manage"
    } else {
        "privacy.read"
    };
    let decision = authorize(app, actor, action, None).await?;
    let schedule = super::settings::load(app, &actor.tenant_id)
        .await?
        .retention;
    let mut report = RunReport {
        id: uuid::Uuid::new_v4().to_string(),
        at: now,
        applied: apply,
        run_by: actor.audit_name(),
        stopped_by_hold: None,
        categories: BTreeMap::new(),
        notes: Vec::new(),
    };
    let tenant_hold = app
        .store
        .legal_holds(&actor.tenant_id)
        .await?
        .into_iter()
        .find(|h| h.customer_id.is_none() && h.released_at.is_none());
    if let Some(h) = tenant_hold {
        report.stopped_by_hold = Some(format!("{} (owner {})", h.reason, h.owner));
    } else {
        erase_inactive(app, actor, &schedule, apply, now, &mut report).await?;
    }
    let mut tx = app.store.begin().await?;
    if report.stopped_by_hold.is_none() {
        for (name, aged, cutoff) in aged_rules(&schedule, now) {
            let reach = app.store.aged_reach(&actor.tenant_id, aged, cutoff).await?;
            let reach = if apply {
                let went = app
                    .store
                    .delete_aged(&mut tx, &actor.tenant_id, aged, cutoff)
                    .await?;
                Reach { go: went, ..reach }
            } else {
                reach
            };
            report.categories.insert(name, reach);
        }
        prune_audit(app, actor, &mut tx, &schedule, apply, now, &mut report).await?;
    }
    let row = RetentionRunRow {
        id: report.id.clone(),
        tenant_id: actor.tenant_id.clone(),
        at: now,
        applied: apply,
        run_by: report.run_by.clone(),
        report: serde_json::to_string(&report).map_err(|_| AppError::integrity())?,
    };
    app.store.insert_retention_run(&mut tx, &row).await?;
    let detail = serde_json::json!({
        "applied": apply,
        "stopped_by_hold": report.stopped_by_hold,
        "categories": report.categories,
    });
    let name = if apply {
        "privacy.retention.apply"
    } else {
        "privacy.retention.dry_run"
    };
    let event = actor.audit(name, format!("retention/{}", report.id), &decision, detail);
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    if apply {
        // Freed pages are overwritten (secure_delete); the WAL goes too.
        app.store.checkpoint().await?;
    }
    Ok(report)
}

/// The delete-only kinds of a schedule with their cutoffs.
fn aged_rules(s: &Schedule, now: i64) -> Vec<(String, Aged<'_>, i64)> {
    let mut rules = Vec::new();
    if let Some(m) = s.interactions_months {
        rules.push((
            "interactions".into(),
            Aged::Interactions,
            months_before(now, m),
        ));
    }
    for (key, m) in &s.plugin_documents_months {
        if let Some((plugin, collection)) = key.split_once('/') {
            rules.push((
                format!("plugin_documents:{key}"),
                Aged::PluginDocuments { plugin, collection },
                months_before(now, *m),
            ));
        }
    }
    if let Some(m) = s.decision_log_months {
        let cutoff = months_before(now, m.max(DECISION_LOG_FLOOR_MONTHS));
        rules.push(("decision_log".into(), Aged::DecisionLog, cutoff));
    }
    if let Some(d) = s.export_archives_days {
        rules.push((
            "export_archives".into(),
            Aged::ExportArchives,
            days_before(now, d),
        ));
    }
    if let Some(m) = s.request_log_months {
        let cutoff = months_before(now, m.max(REQUEST_LOG_FLOOR_MONTHS));
        rules.push(("request_log".into(), Aged::ClosedRequests, cutoff));
    }
    rules
}

/// Inactive customers: counted, and when applied erased one by one through the erasure path.
async fn erase_inactive(
    app: &App,
    actor: &Actor,
    s: &Schedule,
    apply: bool,
    now: i64,
    report: &mut RunReport,
) -> AppResult<()> {
    let Some(m) = s.inactive_customers_months else {
        return Ok(());
    };
    let found = app
        .store
        .inactive_customers(&actor.tenant_id, months_before(now, m))
        .await?;
    let held = found.iter().filter(|(_, kept)| *kept).count();
    let free: Vec<&String> = found
        .iter()
        .filter(|(_, kept)| !kept)
        .map(|(id, _)| id)
        .collect();
    let mut reach = Reach {
        go: free.len() as u64,
        held: held as u64,
    };
    if apply {
        let mut erased = 0u64;
        for id in free.iter().take(ERASURES_PER_RUN) {
            match crate::customers::erase(app, actor, id).await {
                Ok(()) => erased += 1,
                // A hold placed or an erasure made meanwhile: kept, or already gone.
                Err(e) if e.code == "legal_hold" => reach.held += 1,
                Err(e) if e.kind == crate::error::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if free.len() > ERASURES_PER_RUN {
            report.notes.push(format!(
                "{} more inactive customers are erased by the next run",
                free.len() - ERASURES_PER_RUN
            ));
        }
        reach.go = erased;
    }
    report.categories.insert("inactive_customers".into(), reach);
    Ok(())
}

/// Audit records older than the schedule (never within the floor), up to the newest record a
/// signed checkpoint vouches for, and only from a chain that verifies.
async fn prune_audit(
    app: &App,
    actor: &Actor,
    tx: &mut crate::store::Tx,
    s: &Schedule,
    apply: bool,
    now: i64,
    report: &mut RunReport,
) -> AppResult<()> {
    let Some(m) = s.audit_months else {
        return Ok(());
    };
    let cutoff = months_before(now, m.max(audit::FLOOR_MONTHS));
    let Some((anchor, before)) = audit::prunable(&app.store, &actor.tenant_id, cutoff).await?
    else {
        report
            .categories
            .insert("audit_records".into(), Reach::default());
        return Ok(());
    };
    let mut reach = Reach {
        go: before,
        held: 0,
    };
    if apply {
        let keys = app.vault.audit_keys();
        let check = audit::verify_at(&app.store, &keys, &actor.tenant_id, &[], now).await?;
        if check.ok {
            reach.go = audit::prune(tx, &actor.tenant_id, anchor).await?;
        } else {
            reach.go = 0;
            report.notes.push(
                "the audit chain does not verify, so no audit record was removed: run `crm audit verify`"
                    .into(),
            );
        }
    }
    report.categories.insert("audit_records".into(), reach);
    Ok(())
}

/// The tenant's runs, newest first (`privacy.read`).
pub async fn runs(app: &App, actor: &Actor) -> AppResult<Vec<RunReport>> {
    authorize(app, actor, "privacy.read", None).await?;
    app.store
        .retention_runs(&actor.tenant_id, RUNS_SHOWN)
        .await?
        .iter()
        .map(|r| serde_json::from_str(&r.report).map_err(|_| AppError::integrity()))
        .collect()
}

/// How often the host looks for schedules due to be applied.
const DAILY_CHECK: std::time::Duration = std::time::Duration::from_secs(3600);
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Applies, once a day, the schedule of every tenant that asked for it (as the operator
/// `retention`: the schedule was set by the tenant's compliance staff under the policy).
pub fn spawn_daily(app: Arc<App>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(DAILY_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = apply_due(&app, now_ms()).await {
                tracing::warn!(error = %e.message, "retention run failed");
            }
        }
    });
}

/// Applies the schedules due at `now` (none applied in the last day); the tenants run.
pub async fn apply_due(app: &App, now: i64) -> AppResult<Vec<String>> {
    let mut ran = Vec::new();
    for tenant in app.store.tenants_with_privacy_settings().await? {
        let settings = super::settings::load(app, &tenant).await?;
        if !settings.retention.apply_daily {
            continue;
        }
        let last = app.store.last_applied_retention(&tenant).await?;
        if last.is_some_and(|at| now - at < DAY_MS) {
            continue;
        }
        let operator = Actor::operator(&tenant, "retention");
        run(app, &operator, true, now).await?;
        ran.push(tenant);
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::settings::{self, Settings};
    use crate::testing::Harness;

    const DAY: i64 = 86_400_000;

    #[test]
    fn schedules_below_the_floors_or_malformed_are_refused() {
        let ok = Schedule {
            audit_months: Some(6),
            request_log_months: Some(24),
            decision_log_months: Some(6),
            plugin_documents_months: [("deals/contacts".to_string(), 1)].into(),
            ..Default::default()
        };
        assert_eq!(ok.check(), Ok(()));
        for (bad, says) in [
            (
                Schedule {
                    audit_months: Some(5),
                    ..Default::default()
                },
                "`audit_months` must be 6 to 1200",
            ),
            (
                Schedule {
                    request_log_months: Some(23),
                    ..Default::default()
                },
                "CCPA",
            ),
            (
                Schedule {
                    interactions_months: Some(0),
                    ..Default::default()
                },
                "`interactions_months` must be 1",
            ),
            (
                Schedule {
                    plugin_documents_months: [("deals".to_string(), 3)].into(),
                    ..Default::default()
                },
                "plugin/collection",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    async fn sql(h: &Harness, q: &str) {
        sqlx::query(q).execute(h.app.store.pool()).await.unwrap();
    }

    async fn set(h: &Harness, who: &Actor, retention: Schedule) {
        let s = Settings {
            retention,
            ..Default::default()
        };
        settings::put(&h.app, who, &s, "test", now_ms())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_dry_run_counts_and_an_apply_removes_aged_data_but_not_what_a_hold_keeps() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let support = h.member("support", false).await;
        let (old, held, fresh) = (
            h.customer("EU").await,
            h.customer("US").await,
            h.customer("CN").await,
        );
        for c in [&old, &held, &fresh] {
            crate::customers::add_interaction(&h.app, &support, c, "call", "asked about a bill")
                .await
                .unwrap();
            sql(
                &h,
                &format!(
                    "INSERT INTO plugin_records (id, tenant_id, plugin, collection, customer_id, \
                     data, version, created_at, updated_at) VALUES ('{}', '{}', 'deals', \
                     'contacts', '{c}', x'00', 1, 0, 0)",
                    uuid::Uuid::new_v4(),
                    h.tenant.id
                ),
            )
            .await;
        }
        // Back-date everything about `old` and `held` by 400 days.
        let then = now_ms() - 400 * DAY;
        for c in [&old, &held] {
            sql(
                &h,
                &format!("UPDATE customers SET updated_at = {then} WHERE id = '{c}'"),
            )
            .await;
            sql(
                &h,
                &format!("UPDATE interactions SET created_at = {then} WHERE customer_id = '{c}'"),
            )
            .await;
            sql(
                &h,
                &format!("UPDATE plugin_records SET updated_at = {then} WHERE customer_id = '{c}'"),
            )
            .await;
        }
        sql(
            &h,
            &format!(
                "UPDATE plugin_records SET updated_at = {} WHERE customer_id = '{fresh}'",
                now_ms()
            ),
        )
        .await;
        let hold = crate::privacy::NewHold {
            customer: Some(held.clone()),
            reason: "case 2026-114".into(),
            owner: "legal".into(),
        };
        crate::privacy::place_hold(&h.app, &compliance, &hold, now_ms())
            .await
            .unwrap();
        set(
            &h,
            &compliance,
            Schedule {
                inactive_customers_months: Some(12),
                interactions_months: Some(12),
                plugin_documents_months: [("deals/contacts".to_string(), 12)].into(),
                ..Default::default()
            },
        )
        .await;

        let dry = run(&h.app, &compliance, false, now_ms()).await.unwrap();
        let reach = |r: &RunReport, k: &str| r.categories[k];
        let one_each = Reach { go: 1, held: 1 };
        assert_eq!(reach(&dry, "inactive_customers"), one_each);
        assert_eq!(reach(&dry, "interactions"), one_each);
        assert_eq!(reach(&dry, "plugin_documents:deals/contacts"), one_each);
        assert!(
            h.app
                .store
                .customer(&h.tenant.id, &old)
                .await
                .unwrap()
                .is_some()
        );

        // Support may not run it at all, not even dry.
        assert!(run(&h.app, &support, false, now_ms()).await.is_err());

        let applied = run(&h.app, &compliance, true, now_ms()).await.unwrap();
        assert_eq!(reach(&applied, "inactive_customers"), one_each);
        let store = &h.app.store;
        assert!(store.customer(&h.tenant.id, &old).await.unwrap().is_none());
        assert!(store.customer(&h.tenant.id, &held).await.unwrap().is_some());
        assert!(
            store
                .customer(&h.tenant.id, &fresh)
                .await
                .unwrap()
                .is_some()
        );
        let erased = store.erasures(&h.tenant.id).await.unwrap();
        assert_eq!(erased.iter().map(|(c, _)| c).collect::<Vec<_>>(), [&old]);
        let count = |q: String| async move {
            sqlx::query_scalar::<_, i64>(&q)
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        // The held customer keeps their interaction and document, the fresh one theirs.
        assert_eq!(count("SELECT COUNT(*) FROM interactions".into()).await, 2);
        assert_eq!(count("SELECT COUNT(*) FROM plugin_records".into()).await, 2);

        // A second apply finds nothing more; both runs are listed and audited.
        let again = run(&h.app, &compliance, true, now_ms()).await.unwrap();
        assert_eq!(
            reach(&again, "inactive_customers"),
            Reach { go: 0, held: 1 }
        );
        let runs = runs(&h.app, &compliance).await.unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs[0].applied && !runs[2].applied);
        let actions: Vec<String> = h.audited().await.into_iter().map(|a| a.1).collect();
        assert!(actions.contains(&"privacy.retention.dry_run".to_string()));
        assert!(actions.contains(&"privacy.retention.apply".to_string()));

        // A hold on the whole tenant stops the run altogether.
        let all = crate::privacy::NewHold {
            customer: None,
            ..hold
        };
        crate::privacy::place_hold(&h.app, &compliance, &all, now_ms())
            .await
            .unwrap();
        let stopped = run(&h.app, &compliance, true, now_ms()).await.unwrap();
        assert!(stopped.stopped_by_hold.unwrap().contains("case 2026-114"));
        assert!(stopped.categories.is_empty());
    }

    #[tokio::test]
    async fn audit_records_go_only_past_the_floor_up_to_a_signed_checkpoint_and_the_chain_still_verifies()
     {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        for _ in 0..3 {
            h.customer("EU").await;
        }
        let keys = h.app.vault.audit_keys();
        crate::audit::checkpoint(&h.app.store, &keys, &h.tenant.id)
            .await
            .unwrap()
            .unwrap();
        set(
            &h,
            &compliance,
            Schedule {
                audit_months: Some(6),
                ..Default::default()
            },
        )
        .await;
        // Today nothing is old enough.
        let today = run(&h.app, &compliance, true, now_ms()).await.unwrap();
        assert_eq!(today.categories["audit_records"], Reach::default());

        // A year on, the records before the checkpoint may go, and the chain verifies from it.
        let later = now_ms() + 365 * DAY;
        let r = run(&h.app, &compliance, true, later).await.unwrap();
        let went = r.categories["audit_records"].go;
        assert!(went > 3, "{r:?}");
        let report = crate::audit::verify_at(&h.app.store, &keys, &h.tenant.id, &[], later)
            .await
            .unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.pruned_before, Some(went as i64 + 1));
        // The same cut seen today, within the floor, is a break: a prefix removed by anyone
        // but a retention run past the floor does not verify.
        let now = crate::audit::verify(&h.app.store, &keys, &h.tenant.id, &[])
            .await
            .unwrap();
        assert!(!now.ok);
        assert!(
            now.first_break
                .unwrap()
                .problem
                .contains("record 1 is missing")
        );
    }
}
