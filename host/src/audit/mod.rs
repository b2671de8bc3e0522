//! The audit trail: append-only, hash-chained per tenant. Records hold ids, never plaintext.
//!
//! Each record's hash is an HMAC-SHA256, under a key derived from the master key (never stored),
//! of its own fields and the previous record's hash; `audit_heads` keeps the newest (seq, hash) of
//! each chain. Whoever can write the database but lacks the key cannot recompute a chain, so an
//! edited, deleted or reordered record is found. Signed checkpoints (Ed25519, also keyed by the
//! master key) of each chain's head, kept in the database and exported outside it, find what the
//! HMAC alone cannot: a chain cut back to an earlier, genuine head.

use ed25519_dalek::Verifier;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, Tx, now_ms};
use crate::vault::{AuditKeys, Key};

/// How a chain's hashes are made: 1, plain SHA-256 (earlier versions); 2, HMAC-SHA256.
const FORMAT_LEGACY: i64 = 1;
const FORMAT_KEYED: i64 = 2;

/// Hash that the first record of every chain points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How the operator named `name` appears in audit records.
pub fn operator_name(name: &str) -> String {
    format!("operator:{name}")
}

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

impl Event {
    /// What a decision allowed (or denied), by `actor` (an audit name): the record names the
    /// policy version that decided. Build it through `Actor::audit` where there is an actor.
    pub fn decided(
        actor: String,
        action: &str,
        resource: String,
        allow: bool,
        policy_version: &str,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            actor,
            action: action.to_string(),
            resource,
            decision: if allow { "allow" } else { "deny" }.into(),
            policy_version: policy_version.to_string(),
            detail,
        }
    }

    /// What no policy was asked about: a sign-in attempt (before anyone is identified), a job
    /// run or event delivery the host starts on its own schedule.
    pub fn without_policy(
        actor: String,
        action: &str,
        resource: String,
        allow: bool,
        detail: serde_json::Value,
    ) -> Self {
        Self::decided(actor, action, resource, allow, "", detail)
    }

    /// What the operator on the server's machine did (`crm` on the command line, the demo set-up,
    /// an import): no tenant policy is asked for the operator (see `Actor::operator`).
    pub fn operator(name: &str, action: &str, resource: String, detail: serde_json::Value) -> Self {
        Self::without_policy(operator_name(name), action, resource, true, detail)
    }

    /// The same event, refused after the decision allowed it (a missing consent, a limit).
    pub fn refused(self) -> Self {
        Self {
            decision: "deny".into(),
            ..self
        }
    }

    /// The same event, failed after the decision allowed it.
    pub fn failed(self) -> Self {
        Self {
            decision: "error".into(),
            ..self
        }
    }
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
    /// The record's hash: an HMAC under `key`, or (a chain of an earlier version) plain SHA-256.
    fn compute_hash(&self, key: Option<&Key>) -> String {
        match key {
            Some(k) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(k.as_bytes())
                    .expect("HMAC takes a key of any length");
                self.parts(|p| mac.update(p));
                hex::encode(mac.finalize().into_bytes())
            }
            None => {
                let mut h = Sha256::new();
                self.parts(|p| h.update(p));
                hex::encode(h.finalize())
            }
        }
    }

    /// Feeds the hashed fields, each length-prefixed, to `update`.
    fn parts(&self, mut update: impl FnMut(&[u8])) {
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
            update(&(part.len() as u64).to_be_bytes());
            update(part.as_bytes());
        }
    }
}

/// Appends `event` to `tenant`'s chain inside the caller's transaction.
///
/// The head row is written first, so concurrent appenders serialise on its lock instead of racing.
pub async fn append(tx: &mut Tx, tenant: &str, event: &Event) -> sqlx::Result<Record> {
    let Some(key) = tx.audit_chain_key().map(Key::duplicate) else {
        return Err(sqlx::Error::Configuration(
            "the audit chain key is not set (the store was opened without the vault)".into(),
        ));
    };
    let conn: &mut sqlx::SqliteConnection = tx;
    // Claim the next number: the upsert takes the head row's write lock before anything is read.
    let (seq, prev_hash, format): (i64, String, i64) = sqlx::query_as(
        "INSERT INTO audit_heads (tenant_id, seq, hash, format) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq + 1 \
         RETURNING seq, hash, format",
    )
    .bind(tenant)
    .bind(GENESIS)
    .bind(FORMAT_KEYED)
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
    // A chain of an earlier version goes on in its own format until `crm audit upgrade` keys it.
    record.hash = record.compute_hash((format != FORMAT_LEGACY).then_some(&key));
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
    /// Signed checkpoints the chain was checked against.
    pub checkpoints_checked: i64,
    /// The first record kept when older ones were removed by the tenant's retention schedule
    /// (the chain then starts at a record a signed checkpoint vouches for).
    pub pruned_before: Option<i64>,
    pub first_break: Option<Break>,
}

/// The platform's floor for keeping audit records, whatever a tenant's schedule says: China's
/// Cybersecurity Law (Art. 21) asks that network logs be kept at least six months.
pub const FLOOR_MONTHS: u32 = 6;

/// A signed statement that a chain's record `seq` has hash `hash`, made at `at`.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Checkpoint {
    pub tenant_id: String,
    pub seq: i64,
    pub hash: String,
    pub at: i64,
    /// Ed25519 signature (hex) of [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// What is signed.
    fn message(&self) -> Vec<u8> {
        format!(
            "crm-audit-checkpoint/v1\n{}\n{}\n{}\n{}",
            self.tenant_id, self.seq, self.hash, self.at
        )
        .into_bytes()
    }

    /// Whether the signature is this deployment's over this checkpoint.
    fn signed_by(&self, keys: &AuditKeys) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        keys.verifying_key().verify(&self.message(), &sig).is_ok()
    }
}

/// Signs and stores a checkpoint of `tenant`'s head; `None` when the chain is empty.
pub async fn checkpoint(
    store: &Store,
    keys: &AuditKeys,
    tenant: &str,
) -> sqlx::Result<Option<Checkpoint>> {
    let head: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT seq, hash, format FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(store.pool())
            .await?;
    let Some((seq, hash, format)) = head else {
        return Ok(None);
    };
    if format == FORMAT_LEGACY {
        // A checkpoint vouches for keyed chains only.
        return Ok(None);
    }
    let mut c = Checkpoint {
        tenant_id: tenant.to_string(),
        seq,
        hash,
        at: now_ms(),
        signature: String::new(),
    };
    c.signature = hex::encode(keys.sign(&c.message()).to_bytes());
    store
        .update_one(
            sqlx::query(
                "INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, signature) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, seq) DO NOTHING",
            )
            .bind(&c.tenant_id)
            .bind(c.seq)
            .bind(&c.hash)
            .bind(c.at)
            .bind(&c.signature),
        )
        .await?;
    Ok(Some(c))
}

/// Where a retention schedule may cut `tenant`'s chain at `cutoff`: the newest record older than
/// the cutoff that a signed checkpoint vouches for, and how many records come before it.
pub async fn prunable(
    store: &Store,
    tenant: &str,
    cutoff: i64,
) -> sqlx::Result<Option<(i64, u64)>> {
    let anchor: Option<i64> = sqlx::query_scalar(
        "SELECT c.seq FROM audit_checkpoints c JOIN audit_log l \
         ON l.tenant_id = c.tenant_id AND l.seq = c.seq AND l.hash = c.hash \
         WHERE c.tenant_id = $1 AND l.at < $2 ORDER BY c.seq DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(cutoff)
    .fetch_optional(store.pool())
    .await?;
    let Some(anchor) = anchor else {
        return Ok(None);
    };
    let before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND seq < $2")
            .bind(tenant)
            .bind(anchor)
            .fetch_one(store.pool())
            .await?;
    Ok(Some((anchor, before.max(0) as u64)))
}

/// Removes `tenant`'s records before `anchor` (see [`prunable`]); the number removed.
pub async fn prune(tx: &mut Tx, tenant: &str, anchor: i64) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq < $2")
        .bind(tenant)
        .bind(anchor)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

/// Walks `tenant`'s chain from the start and reports the first broken link: a record altered,
/// missing or out of order (its HMAC), records removed from the end (the head row), a chain not
/// yet keyed, and any signed checkpoint (stored, or given from outside the database) that the
/// chain does not match.
pub async fn verify(
    store: &Store,
    keys: &AuditKeys,
    tenant: &str,
    outside: &[Checkpoint],
) -> sqlx::Result<Report> {
    verify_at(store, keys, tenant, outside, now_ms()).await
}

/// [`verify`] as of `now`: a chain whose oldest records were removed verifies only when the
/// first record kept is older than [`FLOOR_MONTHS`] at `now` and a signed checkpoint vouches for it.
pub async fn verify_at(
    store: &Store,
    keys: &AuditKeys,
    tenant: &str,
    outside: &[Checkpoint],
    now: i64,
) -> sqlx::Result<Report> {
    let head: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT seq, hash, format FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(store.pool())
            .await?;
    let stored: Vec<Checkpoint> = sqlx::query_as(
        "SELECT tenant_id, seq, hash, at, signature FROM audit_checkpoints WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(store.pool())
    .await?;
    let checkpoints: Vec<&Checkpoint> = stored
        .iter()
        .chain(outside.iter().filter(|c| c.tenant_id == tenant))
        .collect();
    let report = |checked, pruned_before, first_break: Option<Break>| Report {
        tenant_id: tenant.to_string(),
        ok: first_break.is_none(),
        records_checked: checked,
        checkpoints_checked: checkpoints.len() as i64,
        pruned_before,
        first_break,
    };
    if let Some(b) = break_before_records(keys, head.as_ref(), &checkpoints) {
        return Ok(report(0, None, Some(b)));
    }
    let floor = floor_cutoff(now);
    let walk = walk_chain(store, keys.chain(), tenant, &checkpoints, floor).await?;
    let first_break = match walk.first_break {
        Some(b) => Some(b),
        None => break_at_end(head, walk.last, &walk.prev_hash, &checkpoints),
    };
    Ok(report(
        walk.records_checked,
        walk.pruned_before,
        first_break,
    ))
}

/// A forged checkpoint or an unkeyed chain makes walking the records pointless, so these are
/// reported before any record is read.
fn break_before_records(
    keys: &AuditKeys,
    head: Option<&(i64, String, i64)>,
    checkpoints: &[&Checkpoint],
) -> Option<Break> {
    if let Some(c) = checkpoints.iter().find(|c| !c.signed_by(keys)) {
        return Some(Break {
            seq: c.seq,
            problem: format!(
                "the checkpoint of record {} is not signed by this deployment's audit key \
                 (forged or altered)",
                c.seq
            ),
        });
    }
    if head.is_some_and(|h| h.2 == FORMAT_LEGACY) {
        return Some(Break {
            seq: 1,
            problem: "the chain is in the unkeyed format of earlier versions (plain SHA-256), \
                      which anyone who can write the database can recompute: run \
                      `crm audit upgrade` once to verify and key it"
                .into(),
        });
    }
    None
}

/// How far [`walk_chain`] got, which the end-of-chain checks need.
struct Walk {
    records_checked: i64,
    /// The last record that linked correctly (0 if none).
    last: i64,
    /// That record's hash ([`GENESIS`] if none).
    prev_hash: String,
    /// The first record, when older ones were removed by retention.
    pruned_before: Option<i64>,
    first_break: Option<Break>,
}

/// Records older than this (ms) may have been removed by a retention schedule at `now`.
pub fn floor_cutoff(now: i64) -> i64 {
    chrono::DateTime::from_timestamp_millis(now)
        .and_then(|t| t.checked_sub_months(chrono::Months::new(FLOOR_MONTHS)))
        .map_or(i64::MIN, |t| t.timestamp_millis())
}

/// Whether `r`, the first record found, may start the chain although records before it are
/// gone: a retention schedule removes only records older than the floor, and only up to a
/// record a signed checkpoint vouches for (so what is left cannot have been cut anywhere else).
fn retention_anchor(r: &Record, checkpoints: &[&Checkpoint], floor: i64) -> bool {
    r.seq > 1
        && r.at < floor
        && checkpoints
            .iter()
            .any(|c| c.seq == r.seq && c.hash == r.hash)
}

/// Streams the records rather than loading them, since a chain can be long; stops at the first
/// record that does not continue the chain.
async fn walk_chain(
    store: &Store,
    key: &Key,
    tenant: &str,
    checkpoints: &[&Checkpoint],
    floor: i64,
) -> sqlx::Result<Walk> {
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
    let mut pruned_before = None;
    while let Some(r) = rows.try_next().await? {
        if checked == 0 && retention_anchor(&r, checkpoints, floor) {
            expected_seq = r.seq;
            prev_hash = r.prev_hash.clone();
            pruned_before = Some(r.seq);
        }
        checked += 1;
        if let Some(b) = record_break(&r, expected_seq, &prev_hash, key, checkpoints) {
            first_break = Some(b);
            break;
        }
        expected_seq += 1;
        prev_hash = r.hash;
    }
    Ok(Walk {
        records_checked: checked,
        last: expected_seq - 1,
        prev_hash,
        pruned_before,
        first_break,
    })
}

/// Why record `r` does not continue the chain after `prev_hash`, if it does not; the checks run
/// from the most basic (a gap) to the most specific (a checkpoint), and the first failing one is
/// the one reported.
fn record_break(
    r: &Record,
    expected_seq: i64,
    prev_hash: &str,
    key: &Key,
    checkpoints: &[&Checkpoint],
) -> Option<Break> {
    let (seq, problem) = if r.seq != expected_seq {
        (
            expected_seq,
            format!(
                "record {expected_seq} is missing (the next record found is {})",
                r.seq
            ),
        )
    } else if r.prev_hash != prev_hash {
        (
            r.seq,
            format!(
                "record {} does not link to record {} (deleted, reordered or rewritten)",
                r.seq,
                r.seq - 1
            ),
        )
    } else if r.compute_hash(Some(key)) != r.hash {
        (
            r.seq,
            format!(
                "record {} was altered: its contents do not match its keyed hash",
                r.seq
            ),
        )
    } else if let Some(c) = checkpoints
        .iter()
        .find(|c| c.seq == r.seq && c.hash != r.hash)
    {
        (
            r.seq,
            format!(
                "record {} is not the one the signed checkpoint of {} vouches for",
                r.seq,
                iso(c.at)
            ),
        )
    } else {
        return None;
    };
    Some(Break { seq, problem })
}

/// Every record may link and yet some be missing from the end: the head row and the signed
/// checkpoints remember how far the chain went.
fn break_at_end(
    head: Option<(i64, String, i64)>,
    last: i64,
    prev_hash: &str,
    checkpoints: &[&Checkpoint],
) -> Option<Break> {
    let (head_seq, head_hash) = head
        .map(|(s, h, _)| (s, h))
        .unwrap_or((0, GENESIS.to_string()));
    if head_seq != last || head_hash != prev_hash {
        Some(Break {
            seq: last + 1,
            problem: format!(
                "the chain ends at record {last} but its head records {head_seq}: records were removed from the end"
            ),
        })
    } else {
        checkpoints
            .iter()
            .filter(|c| c.seq > last)
            .max_by_key(|c| c.seq)
            .map(|c| Break {
                seq: last + 1,
                problem: format!(
                    "the chain ends at record {last}, but a signed checkpoint of {} vouches for \
                     record {}: records were removed from the end",
                    iso(c.at),
                    c.seq
                ),
            })
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Re-keys a chain written by an earlier version (plain SHA-256): verified first in its old
/// format, then every hash recomputed as an HMAC in one transaction, and checkpointed. A chain
/// that does not verify is left as it is and its break returned.
pub async fn upgrade(store: &Store, keys: &AuditKeys, tenant: &str) -> sqlx::Result<Option<Break>> {
    use futures_util::TryStreamExt;
    let mut tx = store.begin().await?;
    let format: Option<i64> =
        sqlx::query_scalar("SELECT format FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
    if format != Some(FORMAT_LEGACY) {
        return Ok(None);
    }
    let records: Vec<Record> = sqlx::query_as::<_, Record>(
        "SELECT tenant_id, seq, at, actor, action, resource, decision, policy_version, detail, prev_hash, hash \
         FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant)
    .fetch(&mut *tx)
    .try_collect()
    .await?;
    let head: (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        if r.seq != i as i64 + 1 || r.prev_hash != prev || r.compute_hash(None) != r.hash {
            return Ok(Some(Break {
                seq: i as i64 + 1,
                problem: format!(
                    "record {} of the unkeyed chain does not verify; it was not re-keyed",
                    i + 1
                ),
            }));
        }
        prev = r.hash.clone();
    }
    if head != (records.len() as i64, prev) {
        return Ok(Some(Break {
            seq: records.len() as i64 + 1,
            problem: "the unkeyed chain's head does not match its last record; it was not re-keyed"
                .into(),
        }));
    }
    let mut prev = GENESIS.to_string();
    for r in records {
        let mut r = Record {
            prev_hash: prev,
            ..r
        };
        r.hash = r.compute_hash(Some(keys.chain()));
        sqlx::query(
            "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE tenant_id = $3 AND seq = $4",
        )
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .bind(tenant)
        .bind(r.seq)
        .execute(&mut *tx)
        .await?;
        prev = r.hash;
    }
    sqlx::query("UPDATE audit_heads SET hash = $1, format = $2 WHERE tenant_id = $3")
        .bind(&prev)
        .bind(FORMAT_KEYED)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    checkpoint(store, keys, tenant).await?;
    Ok(None)
}

/// Every chain's id (each tenant's, and `''`, the platform's own).
pub async fn chains(store: &Store) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT tenant_id FROM audit_heads ORDER BY tenant_id")
        .fetch_all(store.pool())
        .await
}

/// Checkpoints every chain whose head moved since its last checkpoint (the server does this
/// periodically); returns the new checkpoints.
pub async fn checkpoint_moved(store: &Store, keys: &AuditKeys) -> sqlx::Result<Vec<Checkpoint>> {
    let moved: Vec<String> = sqlx::query_scalar(
        "SELECT h.tenant_id FROM audit_heads h WHERE h.format = $1 AND NOT EXISTS \
         (SELECT 1 FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id AND c.seq = h.seq)",
    )
    .bind(FORMAT_KEYED)
    .fetch_all(store.pool())
    .await?;
    let mut made = Vec::new();
    for t in moved {
        made.extend(checkpoint(store, keys, &t).await?);
    }
    Ok(made)
}
