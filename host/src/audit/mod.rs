//! The audit trail: append-only, hash-chained per tenant. Records hold ids, never plaintext.
//!
//! Each record's hash covers its own fields and the previous record's hash; `audit_heads` keeps the
//! newest (seq, hash) of each chain, so an edited, deleted, reordered or truncated record is found.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;

use crate::store::{Store, now_ms};

/// Hash that the first record of every chain points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it is numbered and chained.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub policy_version: String,
    /// Ids and reasons only.
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Record {
    pub tenant_id: String,
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub policy_version: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.tenant_id.as_str(),
            &self.seq.to_string(),
            &self.at.to_string(),
            &self.actor,
            &self.action,
            &self.resource,
            &self.decision,
            &self.policy_version,
            &self.detail,
            &self.prev_hash,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Appends `event` to `tenant`'s chain on `conn` (inside the caller's transaction, if any).
///
/// The head row is written first, so concurrent appenders serialise on its lock instead of racing.
pub async fn append(
    conn: &mut SqliteConnection,
    tenant: &str,
    event: &Event,
) -> sqlx::Result<Record> {
    // Claim the next number: the upsert takes the head row's write lock before anything is read.
    let (seq, prev_hash): (i64, String) = sqlx::query_as(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash",
    )
    .bind(tenant)
    .bind(GENESIS)
    .fetch_one(&mut *conn)
    .await?;
    let mut record = Record {
        tenant_id: tenant.to_string(),
        seq,
        at: now_ms(),
        actor: event.actor.clone(),
        action: event.action.clone(),
        resource: event.resource.clone(),
        decision: event.decision.clone(),
        policy_version: event.policy_version.clone(),
        detail: event.detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    record.hash = record.compute_hash();
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, seq, at, actor, action, resource, decision, policy_version, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&record.tenant_id)
    .bind(record.seq)
    .bind(record.at)
    .bind(&record.actor)
    .bind(&record.action)
    .bind(&record.resource)
    .bind(&record.decision)
    .bind(&record.policy_version)
    .bind(&record.detail)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_heads SET hash = $1 WHERE tenant_id = $2")
        .bind(&record.hash)
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    Ok(record)
}

/// Records events on their own (outside a data transaction), with group commit: events that arrive
/// together share one transaction. `record` returns only once its event is committed.
#[derive(Clone)]
pub struct Recorder {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

enum Job {
    /// An audit event; the sender learns when it is committed.
    Event {
        tenant: String,
        event: Event,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// A decision-log row (best effort: nobody waits for it).
    Decision(String, crate::store::DecisionRow),
}

/// Most events one transaction takes.
const BATCH: usize = 256;

impl Recorder {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn spawn(store: Store) -> Self {
        let (jobs, mut rx) = tokio::sync::mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let result = async {
                    let mut tx = store.begin().await?;
                    let mut decisions = Vec::new();
                    for j in &mut batch {
                        match j {
                            Job::Event { tenant, event, .. } => {
                                append(&mut tx, tenant, event).await?;
                            }
                            Job::Decision(tenant, row) => {
                                decisions.push((std::mem::take(tenant), row.clone()))
                            }
                        }
                    }
                    store.insert_decisions(&mut tx, &decisions).await?;
                    tx.commit().await
                }
                .await
                .map_err(|e| e.to_string());
                match &result {
                    Err(e) => tracing::error!(error = %e, "audit batch failed"),
                    Ok(()) => crate::metrics::audit_batch(
                        batch
                            .iter()
                            .filter(|j| matches!(j, Job::Event { .. }))
                            .count(),
                    ),
                }
                for j in batch {
                    if let Job::Event { done, .. } = j {
                        let _ = done.send(result.clone());
                    }
                }
            }
        });
        Self { jobs }
    }

    /// Appends `event` to `tenant`'s chain and waits until it is committed.
    pub async fn record(&self, tenant: &str, event: &Event) -> anyhow::Result<()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let job = Job::Event {
            tenant: tenant.to_string(),
            event: event.clone(),
            done,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("audit write failed: {e}"))
    }

    /// Queues a decision-log row without waiting (it rides along with the next audit batch).
    pub fn log_decision(&self, tenant: &str, row: crate::store::DecisionRow) {
        if self
            .jobs
            .try_send(Job::Decision(tenant.to_string(), row))
            .is_err()
        {
            tracing::warn!(
                "decision log queue full; a decision-log row was dropped (the audit trail still has it)"
            );
        }
    }
}

/// The newest records of a chain, newest first.
pub async fn list(
    store: &Store,
    tenant: &str,
    limit: i64,
    before_seq: Option<i64>,
) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as(
        "SELECT tenant_id, seq, at, actor, action, resource, decision, policy_version, detail, prev_hash, hash \
         FROM audit_log WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
    )
    .bind(tenant)
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(store.pool())
    .await
}

/// The first place where a chain is broken.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Break {
    /// The sequence number at which the chain stops being trustworthy.
    pub seq: i64,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub tenant_id: String,
    pub ok: bool,
    pub records_checked: i64,
    pub first_break: Option<Break>,
}

/// Walks `tenant`'s chain from the start and reports the first broken link.
pub async fn verify(store: &Store, tenant: &str) -> sqlx::Result<Report> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query_as::<_, Record>(
        "SELECT tenant_id, seq, at, actor, action, resource, decision, policy_version, detail, prev_hash, hash \
         FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant)
    .fetch(store.pool());
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_string();
    let mut checked = 0;
    let mut first_break = None;
    while let Some(r) = rows.try_next().await? {
        checked += 1;
        let problem = if r.seq != expected_seq {
            Some((
                expected_seq,
                format!(
                    "record {expected_seq} is missing (the next record found is {})",
                    r.seq
                ),
            ))
        } else if r.prev_hash != prev_hash {
            Some((
                r.seq,
                format!(
                    "record {} does not link to record {} (deleted, reordered or rewritten)",
                    r.seq,
                    r.seq - 1
                ),
            ))
        } else if r.compute_hash() != r.hash {
            Some((
                r.seq,
                format!(
                    "record {} was altered: its contents do not match its hash",
                    r.seq
                ),
            ))
        } else {
            None
        };
        if let Some((seq, problem)) = problem {
            first_break = Some(Break { seq, problem });
            break;
        }
        expected_seq += 1;
        prev_hash = r.hash;
    }
    drop(rows);
    if first_break.is_none() {
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(store.pool())
                .await?;
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_string()));
        let last = expected_seq - 1;
        if head_seq != last || head_hash != prev_hash {
            first_break = Some(Break {
                seq: last + 1,
                problem: format!(
                    "the chain ends at record {last} but its head records {head_seq}: records were removed from the end"
                ),
            });
        }
    }
    Ok(Report {
        tenant_id: tenant.to_string(),
        ok: first_break.is_none(),
        records_checked: checked,
        first_break,
    })
}
