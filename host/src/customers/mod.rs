//! Customer records on the request path: decide → (un)seal → store → audit.
//!
//! Every operation asks the decision point first; reads open only the fields the decision reveals
//! (masked fields open their sealed masked rendering instead, redacted fields open nothing).

pub mod validate;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::{Decision, Resource};
use crate::store::{ConsentAct, CustomerFilter, CustomerRow, InteractionRow, SealedFields, now_ms};
use crate::vault::{FieldRef, SealingKey, TenantKeys, normalise_email, normalise_phone};
pub use validate::Changes;

const TABLE: &str = "customers";

/// A customer as the API shows it. Masked fields carry their masked rendering, redacted ones null.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub birth_date: Option<String>,
    pub notes: Option<String>,
    pub region: String,
    pub tags: Vec<String>,
    pub consents: BTreeMap<String, bool>,
    pub created_at: String,
    pub updated_at: String,
    /// Fields shown in masked form under the policy.
    pub masked: Vec<String>,
    /// Fields withheld entirely under the policy.
    pub redacted: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InteractionView {
    pub id: String,
    pub kind: String,
    pub summary: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// Interaction kinds staff can record.
pub const INTERACTION_KINDS: [&str; 6] = ["call", "email", "visit", "chat", "complaint", "note"];

/// A query over non-personal attributes and exact email/phone.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<CustomerView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// Consent purposes every listed customer has granted (the policy's `purposes` obligation):
    /// customers without them are left out of `items` and `total`.
    pub purposes: Vec<String>,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn at<'a>(tenant: &'a str, id: &'a str, column: &'a str) -> FieldRef<'a> {
    FieldRef {
        tenant,
        table: TABLE,
        record: id,
        field: column,
    }
}

/// Seals the personal fields of `changes` for record `id` (value and masked rendering).
fn seal_personal(keys: &TenantKeys, sk: &SealingKey, id: &str, changes: &Changes) -> SealedFields {
    let mut sealed = SealedFields::new();
    for (field, value) in changes.personal() {
        let masked_col = format!("{field}_masked");
        match value {
            Some(v) => {
                sealed.insert(
                    field.to_string(),
                    Some(sk.seal(&at(&keys.tenant, id, field), v.as_bytes())),
                );
                let m = validate::mask(field, v);
                sealed.insert(
                    masked_col.clone(),
                    Some(sk.seal(&at(&keys.tenant, id, &masked_col), m.as_bytes())),
                );
            }
            None => {
                sealed.insert(field.to_string(), None);
                sealed.insert(masked_col, None);
            }
        }
    }
    sealed
}

fn bidx_email(keys: &TenantKeys, email: &str) -> String {
    keys.blind_index("email", &normalise_email(email))
}

fn bidx_phone(keys: &TenantKeys, phone: &str) -> String {
    keys.blind_index("phone", &normalise_phone(phone))
}

/// The id of the customer a reference names: an email address (contains `@`), a phone number
/// (starts with `+`) or an id, matched exactly (emails and phones through their blind indexes).
/// For callers that already hold a decision to find customers by these values (data-subject
/// requests); restricted customers are found too. None when nobody matches, or a phone matches
/// several customers.
pub async fn resolve(app: &App, tenant: &str, reference: &str) -> AppResult<Option<String>> {
    let reference = reference.trim();
    let keys = app.tenant_keys(tenant).await?;
    let (column, value) = if reference.contains('@') {
        ("email_bidx", bidx_email(&keys, reference))
    } else if reference.starts_with('+') {
        ("phone_bidx", bidx_phone(&keys, reference))
    } else {
        ("id", reference.to_string())
    };
    let mut ids = app.store.customer_ids_by(tenant, column, &value).await?;
    Ok(if ids.len() == 1 { ids.pop() } else { None })
}

/// The act of consent a change carries: who, how it was collected (sealed), which wording.
fn consent_act(
    keys: &TenantKeys,
    sk: &SealingKey,
    id: &str,
    changes: &Changes,
    by: &str,
) -> ConsentAct {
    let at = FieldRef {
        tenant: &keys.tenant,
        table: "consent_events",
        record: id,
        field: "evidence",
    };
    ConsentAct {
        by: by.to_string(),
        evidence: changes
            .consent_notes
            .iter()
            .filter_map(|(p, n)| Some((p.clone(), sk.seal(&at, n.evidence.as_ref()?.as_bytes()))))
            .collect(),
        wording: changes
            .consent_notes
            .iter()
            .filter_map(|(p, n)| Some((p.clone(), n.wording.clone()?)))
            .collect(),
    }
}

/// A purpose the tenant marks as needing separate consent (PIPL) must be granted on its own:
/// a grant bundled with other purposes does not count, so it is refused (409) and nothing is
/// written.
async fn check_separate_consent(app: &App, tenant: &str, changes: &Changes) -> AppResult<()> {
    let Some(consents) = &changes.consents else {
        return Ok(());
    };
    let granted: Vec<&String> = consents
        .iter()
        .filter(|(_, g)| **g)
        .map(|(p, _)| p)
        .collect();
    if granted.len() < 2 {
        return Ok(());
    }
    let separate: Vec<String> = app
        .store
        .consent_purposes(tenant)
        .await?
        .into_iter()
        .filter(|(p, s, _)| *s && granted.contains(&p))
        .map(|(p, _, _)| p)
        .collect();
    if separate.is_empty() {
        return Ok(());
    }
    Err(AppError::new(
        ErrorKind::Conflict,
        "separate_consent_required",
        format!(
            "{} needs separate consent: grant it on its own, not together with other purposes",
            separate.join(", ")
        ),
    ))
}

fn map_unique(e: sqlx::Error) -> AppError {
    if e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
    {
        AppError::conflict("a customer with this email already exists in this tenant")
    } else {
        e.into()
    }
}

/// Creates a customer inside `tx` (no decision, no audit): shared by the API, the importer and the demo.
pub async fn insert_new(
    app: &App,
    tx: &mut crate::store::Tx,
    keys: &TenantKeys,
    changes: &Changes,
    by: &str,
) -> AppResult<String> {
    check_separate_consent(app, &keys.tenant, changes).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let sk = SealingKey::generate(1);
    let now = now_ms();
    let act = consent_act(keys, &sk, &id, changes, by);
    let row = CustomerRow {
        id: id.clone(),
        tenant_id: keys.tenant.clone(),
        region: changes.region.clone().unwrap_or_else(|| "OTHER".into()),
        sealed: seal_personal(keys, &sk, &id, changes),
        tags: changes.tags.clone().unwrap_or_default(),
        consents: changes.consents.clone().unwrap_or_default(),
        created_at: now,
        updated_at: now,
        subject_key: None,
    };
    let email = changes
        .email
        .clone()
        .flatten()
        .map(|e| bidx_email(keys, &e));
    let phone = changes
        .phone
        .clone()
        .flatten()
        .map(|p| bidx_phone(keys, &p));
    let wrapped = keys.wrap_subject_key(&id, &sk);
    app.store
        .insert_customer(
            tx,
            &row,
            email.as_deref(),
            phone.as_deref(),
            (keys.dek.version, sk.version, &wrapped),
            &act,
        )
        .await
        .map_err(map_unique)?;
    Ok(id)
}

/// Asks the decision point about one action on customers of the actor's tenant.
async fn authorize(
    app: &App,
    actor: &Actor,
    action: &str,
    id: Option<&str>,
    fields: Option<Vec<String>>,
) -> AppResult<Decision> {
    // The policy decides with what it may know about this customer (nothing personal): whether
    // processing is restricted, and which purposes they consented to.
    let attributes = match id {
        Some(id) => app
            .store
            .customer_facts(&actor.tenant_id, id)
            .await?
            .map(|f| serde_json::json!({"restricted": f.restricted, "consents": f.consents})),
        None => None,
    };
    let resource = Resource {
        attributes,
        kind: "customer".into(),
        tenant: actor.tenant_id.clone(),
        id: id.map(str::to_string),
        fields,
    };
    app.authorize(actor, action, resource, serde_json::json!({}))
        .await
}

/// The tenant's keys and the customer's subject key; 404 (audited) when there is no such customer,
/// 403 (audited) when the customer has not granted a purpose the decision requires.
async fn subject(
    app: &App,
    actor: &Actor,
    action: &str,
    id: &str,
    decision: &Decision,
) -> AppResult<(std::sync::Arc<TenantKeys>, SealingKey)> {
    let keys = app.tenant_keys(&actor.tenant_id).await?;
    let Some(sk) = app.subject_key(&keys, id).await? else {
        return Err(not_found(app, actor, action, id, decision).await);
    };
    require_purposes(app, actor, action, id, decision).await?;
    Ok((keys, sk))
}

/// [`purposes_granted`] for a customer whose row is not loaded (its consents are read only when
/// the decision requires a purpose).
async fn require_purposes(
    app: &App,
    actor: &Actor,
    action: &str,
    id: &str,
    decision: &Decision,
) -> AppResult<()> {
    if decision.obligations.purposes.is_empty() {
        return Ok(());
    }
    let consents = app.store.consents(&actor.tenant_id, id).await?;
    purposes_granted(app, actor, action, id, decision, &consents).await
}

/// The `purposes` obligation for one customer: each purpose granted, or an audited 403.
async fn purposes_granted(
    app: &App,
    actor: &Actor,
    action: &str,
    id: &str,
    decision: &Decision,
    consents: &BTreeMap<String, bool>,
) -> AppResult<()> {
    let missing: Vec<&str> = decision
        .obligations
        .purposes
        .iter()
        .filter(|p| consents.get(p.as_str()) != Some(&true))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let reason = format!(
        "purpose_not_consented: the customer has not consented to {}",
        missing.join(", ")
    );
    app.audit
        .record(
            &actor.tenant_id,
            &actor
                .audit(
                    action,
                    format!("customer/{id}"),
                    decision,
                    serde_json::json!({"reasons": [reason]}),
                )
                .refused(),
        )
        .await?;
    Err(AppError::forbidden(&[reason]))
}

/// Opens a row as the decision allows.
fn view(
    keys: &TenantKeys,
    sk: &SealingKey,
    row: &CustomerRow,
    decision: &Decision,
) -> AppResult<CustomerView> {
    let open = |field: &str| -> AppResult<Option<String>> {
        if decision.obligations.redact.iter().any(|f| f == field) {
            return Ok(None);
        }
        let column = if decision.reveals(field) {
            field.to_string()
        } else {
            format!("{field}_masked")
        };
        match row.sealed.get(&column).and_then(|v| v.as_ref()) {
            None => Ok(None),
            Some(ct) => Ok(Some(
                sk.open_string(&at(&keys.tenant, &row.id, &column), ct)?,
            )),
        }
    };
    let mut masked: Vec<String> = decision.obligations.mask.clone();
    masked.retain(|f| !decision.obligations.redact.contains(f));
    Ok(CustomerView {
        id: row.id.clone(),
        name: open("name")?,
        email: open("email")?,
        phone: open("phone")?,
        address: open("address")?,
        birth_date: open("birth_date")?,
        notes: open("notes")?,
        region: row.region.clone(),
        tags: row.tags.clone(),
        consents: row.consents.clone(),
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        masked,
        redacted: decision.obligations.redact.clone(),
    })
}

async fn open_row(
    keys: &TenantKeys,
    row: &CustomerRow,
    decision: &Decision,
) -> AppResult<CustomerView> {
    let (version, wrapped) = row.subject_key.as_ref().ok_or_else(AppError::integrity)?;
    let sk = keys.unwrap_subject_key(&row.id, *version, wrapped)?;
    view(keys, &sk, row, decision)
}

/// Audits a failed integrity check on a read, then passes the error on.
async fn integrity_failure(
    app: &App,
    actor: &Actor,
    action: &str,
    id: &str,
    decision: &Decision,
    e: AppError,
) -> AppError {
    let _ = app
        .audit
        .record(
            &actor.tenant_id,
            &actor
                .audit(
                    action,
                    format!("customer/{id}"),
                    decision,
                    serde_json::json!({"error": e.code}),
                )
                .failed(),
        )
        .await;
    e
}

/// Audits an allowed request whose customer does not exist (in this tenant), then answers 404.
async fn not_found(
    app: &App,
    actor: &Actor,
    action: &str,
    id: &str,
    decision: &Decision,
) -> AppError {
    let _ = app
        .audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                action,
                format!("customer/{id}"),
                decision,
                serde_json::json!({"result": "not_found"}),
            ),
        )
        .await;
    AppError::not_found("customer")
}

pub async fn create(app: &App, actor: &Actor, changes: &Changes) -> AppResult<CustomerView> {
    let decision = authorize(app, actor, "customer.create", None, Some(changes.fields())).await?;
    let keys = app.tenant_keys(&actor.tenant_id).await?;
    let mut tx = app.store.begin().await?;
    let id = insert_new(app, &mut tx, &keys, changes, &actor.audit_name()).await?;
    audit::append(
        &mut tx,
        &actor.tenant_id,
        &actor.audit(
            "customer.create",
            format!("customer/{id}"),
            &decision,
            serde_json::json!({"fields": changes.fields()}),
        ),
    )
    .await?;
    crate::events::publish(
        &app.store,
        &mut tx,
        &actor.tenant_id,
        &["crm.customer.created"],
        Some(id.as_str()),
        serde_json::json!({"customer": id}),
    )
    .await?;
    tx.commit().await?;
    get(app, actor, &id).await
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> AppResult<CustomerView> {
    let decision = authorize(app, actor, "customer.read", Some(id), None).await?;
    let Some(row) = app.store.customer(&actor.tenant_id, id).await? else {
        return Err(not_found(app, actor, "customer.read", id, &decision).await);
    };
    purposes_granted(app, actor, "customer.read", id, &decision, &row.consents).await?;
    let keys = app.tenant_keys(&actor.tenant_id).await?;
    let v = match open_row(&keys, &row, &decision).await {
        Ok(v) => v,
        Err(e) => {
            return Err(integrity_failure(app, actor, "customer.read", id, &decision, e).await);
        }
    };
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                "customer.read",
                format!("customer/{id}"),
                &decision,
                serde_json::json!({"masked": v.masked, "redacted": v.redacted}),
            ),
        )
        .await?;
    Ok(v)
}

/// Most tags one list may filter by (each is one more condition in the query).
pub const MAX_TAG_FILTERS: usize = 20;

/// Lists customers; with `email` or `phone`, finds them by that exact value (`customer.lookup`,
/// decided per field: finding by a value is as good as reading it) within the per-member lookup
/// limit.
pub async fn list(app: &App, actor: &Actor, q: &ListQuery) -> AppResult<Page> {
    let lookup: Vec<String> = [("email", &q.email), ("phone", &q.phone)]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(f, _)| f.to_string())
        .collect();
    let action = if lookup.is_empty() {
        "customer.list"
    } else {
        "customer.lookup"
    };
    if q.tags.len() > MAX_TAG_FILTERS {
        return Err(AppError::bad_request(
            "invalid_query",
            format!("at most {MAX_TAG_FILTERS} tags may be filtered by"),
        ));
    }
    let fields = (!lookup.is_empty()).then(|| lookup.clone());
    let decision = authorize(app, actor, action, None, fields).await?;
    if !lookup.is_empty() {
        take_lookup(app, actor, &decision, &lookup).await?;
    }
    let keys = app.tenant_keys(&actor.tenant_id).await?;
    let per_page = q.per_page.clamp(1, 200);
    let page = q.page.max(1);
    let filter = CustomerFilter {
        region: q.region.clone(),
        tags: q.tags.clone(),
        email_bidx: q.email.as_deref().map(|e| bidx_email(&keys, e)),
        phone_bidx: q.phone.as_deref().map(|p| bidx_phone(&keys, p)),
        purposes: decision.obligations.purposes.clone(),
        limit: per_page,
        offset: (page - 1).saturating_mul(per_page),
    };
    let (rows, total) = app.store.customers(&actor.tenant_id, &filter).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        match open_row(&keys, row, &decision).await {
            Ok(v) => items.push(v),
            Err(e) => {
                return Err(integrity_failure(app, actor, action, &row.id, &decision, e).await);
            }
        }
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut detail = serde_json::json!({"ids": ids, "masked": decision.obligations.mask,
        "redacted": decision.obligations.redact});
    if !lookup.is_empty() {
        // The fields looked up by, never the values.
        detail["fields"] = serde_json::json!(lookup);
    }
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(action, "customers".into(), &decision, detail),
        )
        .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total,
        purposes: decision.obligations.purposes.clone(),
    })
}

/// Takes one of the member's lookups of this window, or refuses (429, audited).
async fn take_lookup(
    app: &App,
    actor: &Actor,
    decision: &Decision,
    fields: &[String],
) -> AppResult<()> {
    // A plugin acting for a member shares the member's lookups; a job has its plugin's own.
    let who = if actor.user_id.is_empty() {
        actor.audit_name()
    } else {
        actor.user_id.clone()
    };
    let Err(retry) = app
        .lookups
        .take(&format!("{}/{who}", actor.tenant_id), now_ms())
    else {
        return Ok(());
    };
    let reason = format!(
        "rate_limited: at most {} lookups by email or phone per 10 minutes",
        app.lookups.max()
    );
    app.audit
        .record(
            &actor.tenant_id,
            &actor
                .audit(
                    "customer.lookup",
                    "customers".into(),
                    decision,
                    serde_json::json!({"fields": fields, "reasons": [&reason]}),
                )
                .refused(),
        )
        .await?;
    let mut e = AppError::new(ErrorKind::Throttled, "rate_limited", reason);
    e.retry_after = Some(retry);
    Err(e)
}

/// Changes a customer's fields as the decision allows (`customer.update`): decide, reseal each
/// changed field under the customer's key, write, audit and publish the change, in one
/// transaction; its steps are one change's, hence the length.
pub async fn update(
    app: &App,
    actor: &Actor,
    id: &str,
    changes: &Changes,
) -> AppResult<CustomerView> {
    write(app, actor, id, changes, "customer.update", None).await
}

/// Rectifies a customer's data at their request (`customer.rectify`, decided apart from
/// everyday updates so compliance staff may correct what they may not otherwise edit): the
/// normal update path, its audit record linked to the data-subject request.
pub async fn rectify(
    app: &App,
    actor: &Actor,
    id: &str,
    changes: &Changes,
    request: &str,
) -> AppResult<CustomerView> {
    write(app, actor, id, changes, "customer.rectify", Some(request)).await
}

/// The one update path: `action` is what the policy decides and the audit trail records.
async fn write(
    app: &App,
    actor: &Actor,
    id: &str,
    changes: &Changes,
    action: &'static str,
    request: Option<&str>,
) -> AppResult<CustomerView> {
    let decision = authorize(app, actor, action, Some(id), Some(changes.fields())).await?;
    let (keys, sk) = subject(app, actor, action, id, &decision).await?;
    check_separate_consent(app, &actor.tenant_id, changes).await?;
    let sealed = seal_personal(&keys, &sk, id, changes);
    let email = changes
        .email
        .as_ref()
        .map(|e| e.as_deref().map(|e| bidx_email(&keys, e)));
    let phone = changes
        .phone
        .as_ref()
        .map(|p| p.as_deref().map(|p| bidx_phone(&keys, p)));
    let mut detail = serde_json::json!({"fields": changes.fields()});
    if let Some(request) = request {
        detail["request"] = serde_json::json!(request);
    }
    let now = now_ms();
    let mut tx = app.store.begin().await?;
    let found = app
        .store
        .update_customer(
            &mut tx,
            &actor.tenant_id,
            id,
            changes.region.as_deref(),
            &sealed,
            email.as_ref().map(|e| e.as_deref()),
            phone.as_ref().map(|p| p.as_deref()),
            now,
        )
        .await
        .map_err(map_unique)?;
    if !found {
        drop(tx);
        return Err(not_found(app, actor, action, id, &decision).await);
    }
    if let Some(tags) = &changes.tags {
        app.store
            .replace_tags(&mut tx, &actor.tenant_id, id, tags)
            .await?;
    }
    if let Some(consents) = &changes.consents {
        let act = consent_act(&keys, &sk, id, changes, &actor.audit_name());
        app.store
            .upsert_consents(&mut tx, &actor.tenant_id, id, consents, now, &act)
            .await?;
    }
    audit::append(
        &mut tx,
        &actor.tenant_id,
        &actor.audit(action, format!("customer/{id}"), &decision, detail),
    )
    .await?;
    let topics: &[&str] = if changes.consents.is_some() {
        &["crm.customer.updated", "crm.consent.changed"]
    } else {
        &["crm.customer.updated"]
    };
    crate::events::publish(
        &app.store,
        &mut tx,
        &actor.tenant_id,
        topics,
        Some(id),
        serde_json::json!({"customer": id, "fields": changes.fields()}),
    )
    .await?;
    tx.commit().await?;
    get(app, actor, id).await
}

/// Erases a customer: the row goes and its subject key is destroyed (crypto-shredding), and the
/// erasure is noted in the ledger (ids and time). Refused while a legal hold applies, naming it.
pub async fn erase(app: &App, actor: &Actor, id: &str) -> AppResult<()> {
    let decision = authorize(app, actor, "customer.delete", Some(id), None).await?;
    require_purposes(app, actor, "customer.delete", id, &decision).await?;
    let mut tx = app.store.begin().await?;
    if let Some(hold) = app
        .store
        .active_legal_hold(&mut tx, &actor.tenant_id, id)
        .await?
    {
        drop(tx);
        let detail = serde_json::json!({"legal_hold": hold.id});
        let event = actor.audit(
            "customer.delete",
            format!("customer/{id}"),
            &decision,
            detail,
        );
        app.audit.record(&actor.tenant_id, &event.refused()).await?;
        return Err(AppError::new(
            ErrorKind::Conflict,
            "legal_hold",
            format!(
                "a legal hold applies ({}; owner {}): nothing about this customer may be erased until it is released",
                hold.reason, hold.owner
            ),
        ));
    }
    if !app
        .store
        .delete_customer(&mut tx, &actor.tenant_id, id)
        .await?
    {
        drop(tx);
        return Err(not_found(app, actor, "customer.delete", id, &decision).await);
    }
    audit::append(
        &mut tx,
        &actor.tenant_id,
        &actor.audit(
            "customer.delete",
            format!("customer/{id}"),
            &decision,
            serde_json::json!({"erased": true}),
        ),
    )
    .await?;
    let erased_at = now_ms();
    app.store
        .record_erasure(&mut tx, &actor.tenant_id, id, erased_at)
        .await?;
    // Not "about" the customer (that would drop it as erased): the id is in the payload, so
    // subscribers can forget what they kept outside the customer's records.
    crate::events::publish(
        &app.store,
        &mut tx,
        &actor.tenant_id,
        &["crm.customer.erased"],
        None,
        serde_json::json!({"customer": id}),
    )
    .await?;
    tx.commit().await?;
    // The copy outside the database, for a restore of an older backup (ids and time only).
    if let Some(path) = &app.settings.erasure_ledger_file {
        let entry = crate::ledger::Entry {
            tenant: actor.tenant_id.clone(),
            customer: id.to_string(),
            at: erased_at,
        };
        if let Err(e) = crate::ledger::append(path, &entry) {
            tracing::error!(error = %e, "cannot append to the erasure ledger file");
        }
    }
    if let Err(e) = app.store.checkpoint().await {
        tracing::warn!(error = %e, "checkpoint after an erasure failed");
    }
    Ok(())
}

pub async fn add_interaction(
    app: &App,
    actor: &Actor,
    id: &str,
    kind: &str,
    summary: &str,
) -> AppResult<InteractionView> {
    let decision = authorize(app, actor, "interaction.create", Some(id), None).await?;
    let (_, sk) = subject(app, actor, "interaction.create", id, &decision).await?;
    let iid = uuid::Uuid::new_v4().to_string();
    let sealed = sk.seal(
        &FieldRef {
            tenant: &actor.tenant_id,
            table: "interactions",
            record: &iid,
            field: "summary",
        },
        summary.as_bytes(),
    );
    let row = InteractionRow {
        id: iid.clone(),
        customer_id: id.to_string(),
        kind: kind.to_string(),
        summary: sealed,
        created_by: actor.user_id.clone(),
        created_at: now_ms(),
    };
    let mut tx = app.store.begin().await?;
    app.store
        .insert_interaction(&mut tx, &actor.tenant_id, &row)
        .await?;
    audit::append(
        &mut tx,
        &actor.tenant_id,
        &actor.audit(
            "interaction.create",
            format!("customer/{id}"),
            &decision,
            serde_json::json!({"interaction": iid}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(InteractionView {
        id: iid,
        kind: row.kind,
        summary: Some(summary.to_string()),
        created_by: row.created_by,
        created_at: iso(row.created_at),
    })
}

/// One entry of a customer's consent history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentEventView {
    pub purpose: String,
    pub granted: bool,
    /// RFC 3339.
    pub at: String,
    /// Who recorded it: `user:…`, `plugin:…`, `operator:…`.
    pub by: String,
    /// How it was collected; free text, so it follows the policy for `notes` (null when withheld
    /// or not given).
    pub evidence: Option<String>,
    /// The version of the wording shown to the person.
    pub wording: Option<String>,
    /// Granted together with other purposes in one act (which a purpose needing separate consent
    /// never is).
    pub bundled: bool,
}

/// A customer's consent history, oldest first (`customer.read`; the ledger is append-only).
pub async fn consent_history(
    app: &App,
    actor: &Actor,
    id: &str,
) -> AppResult<Vec<ConsentEventView>> {
    let decision = authorize(app, actor, "customer.read", Some(id), None).await?;
    let (keys, sk) = subject(app, actor, "consent.read", id, &decision).await?;
    let reveal = decision.reveals("notes");
    let rows = app.store.consent_history(&actor.tenant_id, id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let evidence = match (&r.evidence, reveal) {
            (Some(e), true) => Some(sk.open_string(
                &FieldRef {
                    tenant: &keys.tenant,
                    table: "consent_events",
                    record: id,
                    field: "evidence",
                },
                e,
            )?),
            _ => None,
        };
        out.push(ConsentEventView {
            purpose: r.purpose,
            granted: r.granted != 0,
            at: iso(r.at),
            by: r.actor,
            evidence,
            wording: r.wording,
            bundled: r.bundled != 0,
        });
    }
    let detail = serde_json::json!({"count": out.len()});
    let event = actor.audit("consent.read", format!("customer/{id}"), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(out)
}

/// A customer's interactions; summaries are free text, so they follow the policy for `notes`.
pub async fn interactions(app: &App, actor: &Actor, id: &str) -> AppResult<Vec<InteractionView>> {
    let decision = authorize(app, actor, "customer.read", Some(id), None).await?;
    let (_, sk) = subject(app, actor, "interaction.read", id, &decision).await?;
    let reveal = decision.reveals("notes");
    let rows = app.store.interactions(&actor.tenant_id, id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let summary = if reveal {
            Some(sk.open_string(
                &FieldRef {
                    tenant: &actor.tenant_id,
                    table: "interactions",
                    record: &r.id,
                    field: "summary",
                },
                &r.summary,
            )?)
        } else {
            None
        };
        out.push(InteractionView {
            id: r.id,
            kind: r.kind,
            summary,
            created_by: r.created_by,
            created_at: iso(r.created_at),
        });
    }
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                "interaction.read",
                format!("customer/{id}"),
                &decision,
                serde_json::json!({"count": out.len()}),
            ),
        )
        .await?;
    Ok(out)
}
