//! The host's plugin worker: once a second it takes what is due (plugins' scheduled job runs,
//! then events queued for their subscribers), at most [`DUE_PER_TENANT`] of each per tenant, and
//! runs each on its own task, so a slow one holds up nothing else.
//!
//! Both kinds are claimed, leased and retried by the one rule in `retry`.

use std::sync::Arc;
use std::time::Duration;

use super::retry::DUE_PER_TENANT;
use super::runtime::Runtime;
use super::{delivery, jobs};
use crate::app::App;
use crate::error::AppResult;
use crate::store::now_ms;

/// How often the worker looks for due work.
const POLL: Duration = Duration::from_secs(1);

/// Starts this host's worker.
pub fn spawn(app: Arc<App>, rt: Arc<Runtime>) {
    tokio::spawn(async move {
        if let Err(e) = jobs::backfill(&app).await {
            tracing::warn!(error = %e.message, "could not register older plugins' jobs");
        }
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = now_ms();
            match app.store.due_jobs(now, DUE_PER_TENANT).await {
                Ok(due) => {
                    for row in due {
                        let what = format!("the job {} of plugin {}", row.job, row.plugin);
                        let (app, rt) = (app.clone(), rt.clone());
                        run_each(
                            what,
                            async move { jobs::run_due(&app, &rt, row, now).await },
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read due plugin jobs"),
            }
            match app.store.due_deliveries(now, DUE_PER_TENANT).await {
                Ok(due) => {
                    for row in due {
                        let what = format!("event {} to plugin {}", row.event_id, row.plugin);
                        let (app, rt) = (app.clone(), rt.clone());
                        run_each(
                            what,
                            async move { delivery::deliver(&app, &rt, row, now).await },
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read due event deliveries"),
            }
        }
    });
}

/// Runs one claimed-if-free piece of work on its own task; a failure is logged (ids only).
fn run_each(what: String, work: impl Future<Output = AppResult<()>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(e) = work.await {
            tracing::warn!(%what, error = %e.message, "plugin work could not run");
        }
    });
}
