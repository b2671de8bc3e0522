//! What compliance staff read about what happened: the tenant's audit trail, a page at a time,
//! and the check of its chain. Each read is authorised first (`audit.read`, `audit.verify`) and
//! is itself audited, the same for the API and any screen or command that offers it.

use crate::app::{Actor, App};
use crate::audit::{self, Record, Report};
use crate::error::{AppError, AppResult};
use crate::policy::Resource;

/// The most records one page holds.
pub const MAX_PAGE: i64 = 500;

fn trail(actor: &Actor) -> Resource {
    Resource::of("audit", &actor.tenant_id, None)
}

/// The tenant's audit records, newest first: at most `limit` (1 to [`MAX_PAGE`]), those before
/// sequence number `before` when given.
pub async fn audit_page(
    app: &App,
    actor: &Actor,
    limit: i64,
    before: Option<i64>,
) -> AppResult<Vec<Record>> {
    if !(1..=MAX_PAGE).contains(&limit) || before.is_some_and(|b| b < 1) {
        return Err(AppError::bad_request(
            "invalid_query",
            "use `limit` (1 to 500) and `before` (a positive sequence number)",
        ));
    }
    let decision = app
        .authorize(actor, "audit.read", trail(actor), serde_json::json!({}))
        .await?;
    let records = audit::list(&app.store, &actor.tenant_id, limit, before).await?;
    let detail = serde_json::json!({"count": records.len()});
    let event = actor.audit("audit.read", "audit".into(), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(records)
}

/// Checks the tenant's audit chain from its first record; the report names the first broken link.
pub async fn verify(app: &App, actor: &Actor) -> AppResult<Report> {
    let decision = app
        .authorize(actor, "audit.verify", trail(actor), serde_json::json!({}))
        .await?;
    let keys = app.vault.audit_keys();
    let report = audit::verify(&app.store, &keys, &actor.tenant_id, &[]).await?;
    let detail = serde_json::json!({"ok": report.ok});
    let event = actor.audit("audit.verify", "audit".into(), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::testing::Harness;

    #[tokio::test]
    async fn compliance_reads_and_verifies_the_trail_others_are_refused_and_every_read_is_audited()
    {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let sales = h.member("sales", false).await;

        let page = audit_page(&h.app, &compliance, 10, None).await.unwrap();
        assert!(page.iter().any(|r| r.action == "tenant.create"), "{page:?}");
        let report = verify(&h.app, &compliance).await.unwrap();
        assert!(report.ok && report.records_checked >= 3, "{report:?}");

        let refused = audit_page(&h.app, &sales, 10, None).await.unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Forbidden);
        assert_eq!(
            verify(&h.app, &sales).await.unwrap_err().kind,
            ErrorKind::Forbidden
        );
        // A bad page is refused before anyone is asked.
        for (limit, before) in [(0, None), (501, None), (10, Some(0))] {
            let e = audit_page(&h.app, &compliance, limit, before)
                .await
                .unwrap_err();
            assert_eq!(e.code, "invalid_query");
        }

        let reads: Vec<_> = h
            .audited()
            .await
            .into_iter()
            .filter(|r| r.1.starts_with("audit."))
            .collect();
        // Each read is audited once, the refused ones as denials, all naming the policy version.
        let (c, s) = (
            format!("user:{}", compliance.user_id),
            format!("user:{}", sales.user_id),
        );
        let got: Vec<(&str, &str, &str)> = reads
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (c.as_str(), "audit.read", "allow"),
                (c.as_str(), "audit.verify", "allow"),
                (s.as_str(), "audit.read", "deny"),
                (s.as_str(), "audit.verify", "deny"),
            ]
        );
        assert!(reads.iter().all(|r| !r.3.is_empty()), "{reads:?}");
    }
}
