//! Data-subject rights (GDPR, CCPA, PIPL): requests a person makes about their data, opened and
//! worked on by compliance staff. Each operation is one function that the API, the screens and
//! the CLI share: it checks its input, asks the policy (`privacy.read`, `privacy.manage`), and
//! writes the change, its timeline step and its audit record in one transaction.
//!
//! [`deadline`] says when each regime wants an answer, [`request`] the states a request moves
//! through, [`export`] builds the access/portability archive, [`report`] the request log's
//! figures, [`settings`] a tenant's periods and retention schedule, [`retention`] the run that
//! applies it. Legal holds (here) stop erasure and retention (`customers::erase` checks them in
//! its transaction and notes every erasure in the ledger). Completing a request fulfils it: an
//! erasure asks 0.2.0 plugins first (`plugins::subject`) and then erases, a restriction stops
//! processing, an objection withdraws the marketing purposes; a rectification corrects data
//! through [`rectify`] while it is in progress.

pub mod deadline;
pub mod export;
pub mod report;
pub mod request;
pub mod retention;
pub mod settings;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::plugins::Runtime;
use crate::policy::{Decision, Resource};
use crate::store::{LegalHoldRow, PrivacyRequestRow, PrivacyStepRow};
use deadline::{Deadlines, Regime, Urgency};
use request::{Kind, State, Step};

/// The longest reason or verification note staff may write (ids and methods, not documents).
pub const MAX_NOTE_CHARS: usize = 500;
/// The most requests the queue shows at once.
pub const QUEUE_LIMIT: i64 = 500;

/// What staff open a request with.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The customer: their id, email address or phone number (matched exactly).
    pub customer: String,
    pub kind: Kind,
    /// How the person's identity was (or will be) verified: a method, never a copy of a document.
    #[serde(default)]
    pub verification: String,
}

/// A request as staff see it: where it stands and by when it must be answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    pub customer: String,
    pub kind: Kind,
    pub regime: Regime,
    pub state: State,
    /// Milliseconds since the epoch.
    pub received_at: i64,
    pub acknowledge_by: Option<NaiveDate>,
    /// The date the answer is due: the extended one once extended.
    pub due: NaiveDate,
    /// How the request stands against `due` (none once it is closed).
    pub urgency: Option<Urgency>,
    pub verification: String,
    pub opened_by: String,
}

async fn authorize(
    app: &App,
    actor: &Actor,
    action: &str,
    id: Option<&str>,
) -> AppResult<Decision> {
    let resource = Resource::of("privacy_request", &actor.tenant_id, id.map(str::to_string));
    app.authorize(actor, action, resource, serde_json::json!({}))
        .await
}

/// A note staff write: bounded, one line of text.
fn check_note(field: &str, text: &str, required: bool) -> AppResult<String> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("field `{field}` is required"),
        ));
    }
    if text.chars().count() > MAX_NOTE_CHARS || text.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("field `{field}` must be one line of at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(text.to_string())
}

fn today(now: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(now)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn parse_date(s: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| AppError::integrity())
}

/// A stored name (`in_progress`, `gdpr`, …) as its enum.
fn parse<T: serde::de::DeserializeOwned>(s: &str) -> AppResult<T> {
    from_name(s).ok_or_else(AppError::integrity)
}

/// A value of one of this module's enums from its name as the API spells it (`in_progress`).
fn from_name<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn view(row: &PrivacyRequestRow, today: NaiveDate) -> AppResult<RequestView> {
    let state: State = parse(&row.state)?;
    let due = parse_date(if state == State::Extended {
        &row.extended_to
    } else {
        &row.answer_by
    })?;
    Ok(RequestView {
        id: row.id.clone(),
        customer: row.customer_id.clone(),
        kind: parse(&row.kind)?,
        regime: parse(&row.regime)?,
        state,
        received_at: row.received_at,
        acknowledge_by: row.acknowledge_by.as_deref().map(parse_date).transpose()?,
        due,
        urgency: state.is_open().then(|| deadline::urgency(due, today)),
        verification: row.verification.clone(),
        opened_by: row.opened_by.clone(),
    })
}

/// The name of one of this module's enum values as the API spells it (`in_progress`, `gdpr`).
pub fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Opens a request for one of the tenant's customers (`privacy.manage`), its deadlines set by
/// the customer's region, received `now`.
pub async fn open(app: &App, actor: &Actor, new: &NewRequest, now: i64) -> AppResult<RequestView> {
    let verification = check_note("verification", &new.verification, false)?;
    let decision = authorize(app, actor, "privacy.manage", None).await?;
    let found = crate::customers::resolve(app, &actor.tenant_id, &new.customer).await?;
    let Some(customer) = found else {
        return Err(AppError::not_found("customer"));
    };
    let Some(customer) = app.store.customer(&actor.tenant_id, &customer).await? else {
        return Err(AppError::not_found("customer"));
    };
    let periods = settings::load(app, &actor.tenant_id).await?.periods;
    let regime = periods.regime_of(&customer.region);
    let Deadlines {
        acknowledge_by,
        answer_by,
        extended_to,
    } = deadline::deadlines(regime, today(now), &periods);
    let row = PrivacyRequestRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: actor.tenant_id.clone(),
        customer_id: customer.id.clone(),
        kind: name_of(&new.kind),
        regime: name_of(&regime),
        state: name_of(&State::Received),
        received_at: now,
        acknowledge_by: acknowledge_by.map(|d| d.to_string()),
        answer_by: answer_by.to_string(),
        extended_to: extended_to.to_string(),
        verification,
        opened_by: actor.audit_name(),
        updated_at: now,
    };
    let mut tx = app.store.begin().await?;
    app.store.insert_privacy_request(&mut tx, &row).await?;
    let step = PrivacyStepRow {
        seq: 0,
        at: now,
        actor: actor.audit_name(),
        step: "open".into(),
        state: row.state.clone(),
        reason: String::new(),
    };
    app.store.add_privacy_step(&mut tx, &row.id, &step).await?;
    let detail =
        serde_json::json!({"customer": row.customer_id, "kind": row.kind, "regime": row.regime});
    let event = actor.audit(
        "privacy.request.open",
        format!("privacy/{}", row.id),
        &decision,
        detail,
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    view(&row, today(now))
}

/// Takes a step on a request (`privacy.manage`): verify, start, extend (with a reason, before the
/// first deadline), complete, refuse (with a reason). A step the request's state does not allow
/// is refused, and of two staff members taking a step at once, one wins.
pub async fn take_step(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    id: &str,
    step: Step,
    reason: &str,
    now: i64,
) -> AppResult<RequestView> {
    let reason = check_note("reason", reason, step.needs_reason())?;
    let decision = authorize(app, actor, "privacy.manage", Some(id)).await?;
    let Some(mut row) = app.store.privacy_request(&actor.tenant_id, id).await? else {
        return Err(AppError::not_found("privacy request"));
    };
    let current = view(&row, today(now))?;
    let next = current.state.after(step).map_err(AppError::conflict)?;
    if step == Step::Extend {
        let d = Deadlines {
            acknowledge_by: current.acknowledge_by,
            answer_by: parse_date(&row.answer_by)?,
            extended_to: parse_date(&row.extended_to)?,
        };
        deadline::extend(&d, today(now)).map_err(AppError::conflict)?;
    }
    let mut plugin_notes = Vec::new();
    if next == State::Completed && current.kind == Kind::Erasure {
        plugin_notes = erase_everywhere(app, rt, actor, &row).await?;
    }
    let mut tx = app.store.begin().await?;
    let (from, to) = (name_of(&current.state), name_of(&next));
    if !app
        .store
        .move_privacy_request(&mut tx, &actor.tenant_id, id, &from, &to, now)
        .await?
    {
        return Err(AppError::conflict(
            "the request changed meanwhile; reload it",
        ));
    }
    let record = PrivacyStepRow {
        seq: 0,
        at: now,
        actor: actor.audit_name(),
        step: name_of(&step),
        state: to.clone(),
        reason,
    };
    app.store.add_privacy_step(&mut tx, id, &record).await?;
    for (plugin, note) in &plugin_notes {
        let told = PrivacyStepRow {
            step: "plugin".into(),
            reason: format!("{plugin}: {note}"),
            ..record.clone()
        };
        app.store.add_privacy_step(&mut tx, id, &told).await?;
    }
    let effect = if next == State::Completed {
        fulfil(app, actor, &mut tx, current.kind, &row.customer_id, now).await?
    } else {
        serde_json::Value::Null
    };
    let action = format!("privacy.request.{}", record.step);
    let detail = serde_json::json!({"from": from, "to": to, "effect": effect});
    let event = actor.audit(&action, format!("privacy/{id}"), &decision, detail);
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    row.state = to;
    row.updated_at = now;
    view(&row, today(now))
}

/// Corrects the customer's data for a rectification request in progress (`privacy.manage`,
/// then `customer.rectify` on the normal update path): the change is noted on the request's
/// timeline (the fields, never their values) and its audit record names the request.
pub async fn rectify(
    app: &App,
    actor: &Actor,
    id: &str,
    changes: &crate::customers::Changes,
    now: i64,
) -> AppResult<crate::customers::CustomerView> {
    authorize(app, actor, "privacy.manage", Some(id)).await?;
    let Some(row) = app.store.privacy_request(&actor.tenant_id, id).await? else {
        return Err(AppError::not_found("privacy request"));
    };
    let current = view(&row, today(now))?;
    if current.kind != Kind::Rectification {
        return Err(AppError::conflict(format!(
            "this is a{} {} request: only a rectification request corrects data",
            if name_of(&current.kind).starts_with(['a', 'e', 'o']) {
                "n"
            } else {
                ""
            },
            name_of(&current.kind)
        )));
    }
    if !matches!(current.state, State::InProgress | State::Extended) {
        return Err(AppError::conflict(format!(
            "the request is {}: start it before correcting data",
            name_of(&current.state).replace('_', " ")
        )));
    }
    if changes.fields().is_empty() {
        return Err(AppError::bad_request(
            "invalid_request",
            "name at least one field to correct",
        ));
    }
    let updated = crate::customers::rectify(app, actor, &row.customer_id, changes, id).await?;
    let mut tx = app.store.begin().await?;
    let step = PrivacyStepRow {
        seq: 0,
        at: now,
        actor: actor.audit_name(),
        step: "rectify".into(),
        state: row.state.clone(),
        reason: format!("corrected: {}", changes.fields().join(", ")),
    };
    app.store.add_privacy_step(&mut tx, id, &step).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Completes an erasure: first every 0.2.0 plugin removes what it keeps about the person
/// outside its documents (one that fails stops the erasure, with nothing erased), then the
/// customer is erased through the path staff use everywhere (legal holds, ledger, audit). A
/// customer erased before the request completes is as good as erased now. The plugins' notes,
/// for the timeline.
async fn erase_everywhere(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    row: &PrivacyRequestRow,
) -> AppResult<Vec<(String, String)>> {
    let exists = app
        .store
        .customer_facts(&actor.tenant_id, &row.customer_id)
        .await?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    // A hold is checked before plugins unlink anything (and again inside the erasure).
    let mut tx = app.store.begin().await?;
    let hold = app
        .store
        .active_legal_hold(&mut tx, &actor.tenant_id, &row.customer_id)
        .await?;
    drop(tx);
    if hold.is_none() {
        let answers = crate::plugins::subject::ask(
            app,
            rt,
            &actor.tenant_id,
            &row.id,
            &row.customer_id,
            crate::plugins::subject::Kind::Erasure,
        )
        .await?;
        crate::customers::erase(app, actor, &row.customer_id).await?;
        return Ok(answers
            .into_iter()
            .map(|a| {
                let note = if a.note.is_empty() {
                    format!("removed {} item(s)", a.erased)
                } else {
                    a.note
                };
                (a.plugin, note)
            })
            .collect());
    }
    // Refused with the hold's reason, as every erasure is.
    crate::customers::erase(app, actor, &row.customer_id).await?;
    Ok(Vec::new())
}

/// Purposes an objection withdraws: every purpose named `marketing…` (direct marketing, and for
/// CCPA the "do not sell or share" opt-out, which tenants name `marketing_share` or similar).
pub const OBJECTION_PREFIX: &str = "marketing";

/// What completing a request does to the customer's data, in the request's transaction:
/// a restriction stops processing, an objection withdraws the marketing purposes (each noted in
/// the consent ledger). Erasure is done before (through `customers::erase`); access and
/// portability are answered by an export; rectification by the normal update path.
async fn fulfil(
    app: &App,
    actor: &Actor,
    tx: &mut crate::store::Tx,
    kind: Kind,
    customer: &str,
    now: i64,
) -> AppResult<serde_json::Value> {
    match kind {
        Kind::Restriction => {
            app.store
                .set_restricted(tx, &actor.tenant_id, customer, true)
                .await?;
            Ok(serde_json::json!({"restricted": true}))
        }
        Kind::Objection => {
            let facts = app.store.customer_facts(&actor.tenant_id, customer).await?;
            let withdrawn: std::collections::BTreeMap<String, bool> = facts
                .map(|f| f.consents)
                .unwrap_or_default()
                .into_iter()
                .filter(|(p, granted)| *granted && p.starts_with(OBJECTION_PREFIX))
                .map(|(p, _)| (p, false))
                .collect();
            if !withdrawn.is_empty() {
                let act = crate::store::ConsentAct {
                    by: actor.audit_name(),
                    ..Default::default()
                };
                app.store
                    .upsert_consents(tx, &actor.tenant_id, customer, &withdrawn, now, &act)
                    .await?;
            }
            Ok(serde_json::json!({"withdrawn": withdrawn.keys().collect::<Vec<_>>()}))
        }
        Kind::Erasure => Ok(serde_json::json!({"erased": true})),
        Kind::Access | Kind::Portability | Kind::Rectification => Ok(serde_json::Value::Null),
    }
}

/// Lifts a customer's restriction of processing (`privacy.manage`): 404 when the customer is
/// not restricted.
pub async fn lift_restriction(app: &App, actor: &Actor, customer: &str) -> AppResult<()> {
    let decision = authorize(app, actor, "privacy.manage", None).await?;
    let facts = app.store.customer_facts(&actor.tenant_id, customer).await?;
    if !facts.is_some_and(|f| f.restricted) {
        return Err(AppError::not_found("restricted customer"));
    }
    let mut tx = app.store.begin().await?;
    app.store
        .set_restricted(&mut tx, &actor.tenant_id, customer, false)
        .await?;
    let event = actor.audit(
        "privacy.restriction.lift",
        format!("customer/{customer}"),
        &decision,
        serde_json::json!({}),
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// How the tenant treats one consent purpose.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeSetting {
    /// Needs separate consent (PIPL: sensitive personal information, cross-border transfer,
    /// public disclosure): a grant bundled with other purposes is refused.
    pub separate: bool,
    /// What the purpose covers, for staff.
    #[serde(default)]
    pub note: String,
}

/// A consent purpose the tenant has configured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurposeView {
    pub purpose: String,
    pub separate: bool,
    pub note: String,
}

/// The purposes the tenant has configured (`privacy.read`).
pub async fn purposes(app: &App, actor: &Actor) -> AppResult<Vec<PurposeView>> {
    let decision = authorize(app, actor, "privacy.read", None).await?;
    let rows = app.store.consent_purposes(&actor.tenant_id).await?;
    let event = actor.audit(
        "privacy.read",
        "purposes".into(),
        &decision,
        serde_json::json!({"count": rows.len()}),
    );
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(rows
        .into_iter()
        .map(|(purpose, separate, note)| PurposeView {
            purpose,
            separate,
            note,
        })
        .collect())
}

/// Sets how the tenant treats a consent purpose (`privacy.manage`).
pub async fn set_purpose(
    app: &App,
    actor: &Actor,
    purpose: &str,
    setting: &PurposeSetting,
) -> AppResult<PurposeView> {
    let mut one = serde_json::Map::new();
    one.insert(purpose.to_string(), serde_json::Value::Bool(true));
    crate::customers::validate::consents(&serde_json::Value::Object(one))
        .map_err(|m| AppError::bad_request("invalid_purpose", m))?;
    let note = check_note("note", &setting.note, false)?;
    let decision = authorize(app, actor, "privacy.manage", None).await?;
    let mut tx = app.store.begin().await?;
    app.store
        .set_consent_purpose(&mut tx, &actor.tenant_id, purpose, setting.separate, &note)
        .await?;
    let event = actor.audit(
        "privacy.purpose.set",
        format!("purpose/{purpose}"),
        &decision,
        serde_json::json!({"separate": setting.separate}),
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok(PurposeView {
        purpose: purpose.to_string(),
        separate: setting.separate,
        note,
    })
}

/// The tenant's requests (`privacy.read`): open ones first, soonest due first.
pub async fn queue(app: &App, actor: &Actor, now: i64) -> AppResult<Vec<RequestView>> {
    let decision = authorize(app, actor, "privacy.read", None).await?;
    let rows = app
        .store
        .privacy_requests(&actor.tenant_id, QUEUE_LIMIT)
        .await?;
    let views = rows
        .iter()
        .map(|r| view(r, today(now)))
        .collect::<AppResult<Vec<_>>>()?;
    let detail = serde_json::json!({"count": views.len()});
    let event = actor.audit("privacy.read", "privacy".into(), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(views)
}

/// One request with its timeline (`privacy.read`).
pub async fn show(
    app: &App,
    actor: &Actor,
    id: &str,
    now: i64,
) -> AppResult<(RequestView, Vec<PrivacyStepRow>)> {
    let decision = authorize(app, actor, "privacy.read", Some(id)).await?;
    let Some(row) = app.store.privacy_request(&actor.tenant_id, id).await? else {
        return Err(AppError::not_found("privacy request"));
    };
    let steps = app.store.privacy_steps(id).await?;
    let event = actor.audit(
        "privacy.read",
        format!("privacy/{id}"),
        &decision,
        serde_json::json!({}),
    );
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok((view(&row, today(now))?, steps))
}

/// A legal hold to place: on one customer, or (no customer) on the whole tenant.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    /// The customer's id; none holds every customer of the tenant.
    #[serde(default)]
    pub customer: Option<String>,
    /// The matter (a case, an investigation): staff's words, not the person's data.
    pub reason: String,
    /// Who answers for the hold (a name or a team).
    pub owner: String,
}

/// Places a legal hold (`privacy.manage`): until it is released, nothing about the customer
/// (or any customer of the tenant) is erased.
pub async fn place_hold(
    app: &App,
    actor: &Actor,
    new: &NewHold,
    now: i64,
) -> AppResult<LegalHoldRow> {
    let reason = check_note("reason", &new.reason, true)?;
    let owner = check_note("owner", &new.owner, true)?;
    let decision = authorize(app, actor, "privacy.manage", None).await?;
    if let Some(c) = &new.customer
        && app.store.customer(&actor.tenant_id, c).await?.is_none()
    {
        return Err(AppError::not_found("customer"));
    }
    let hold = LegalHoldRow {
        id: uuid::Uuid::new_v4().to_string(),
        customer_id: new.customer.clone(),
        reason,
        owner,
        placed_by: actor.audit_name(),
        placed_at: now,
        released_by: None,
        released_at: None,
    };
    let mut tx = app.store.begin().await?;
    app.store
        .place_legal_hold(&mut tx, &actor.tenant_id, &hold)
        .await?;
    let detail = serde_json::json!({"customer": hold.customer_id});
    let event = actor.audit(
        "privacy.hold.place",
        format!("hold/{}", hold.id),
        &decision,
        detail,
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok(hold)
}

/// Releases an active hold (`privacy.manage`); 404 when there is no active hold by that id.
pub async fn release_hold(app: &App, actor: &Actor, id: &str, now: i64) -> AppResult<()> {
    let decision = authorize(app, actor, "privacy.manage", Some(id)).await?;
    let mut tx = app.store.begin().await?;
    let by = actor.audit_name();
    if !app
        .store
        .release_legal_hold(&mut tx, &actor.tenant_id, id, &by, now)
        .await?
    {
        return Err(AppError::not_found("active legal hold"));
    }
    let event = actor.audit(
        "privacy.hold.release",
        format!("hold/{id}"),
        &decision,
        serde_json::json!({}),
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's legal holds, active ones first (`privacy.read`).
pub async fn holds(app: &App, actor: &Actor) -> AppResult<Vec<LegalHoldRow>> {
    let decision = authorize(app, actor, "privacy.read", None).await?;
    let holds = app.store.legal_holds(&actor.tenant_id).await?;
    let detail = serde_json::json!({"count": holds.len()});
    let event = actor.audit("privacy.read", "holds".into(), &decision, detail);
    app.audit.record(&actor.tenant_id, &event).await?;
    Ok(holds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::testing::Harness;

    /// 2026-12-04, a Friday, at noon UTC.
    const NOW: i64 = 1_796_385_600_000;
    const DAY: i64 = 86_400_000;

    fn new(customer: &str, kind: Kind) -> NewRequest {
        NewRequest {
            customer: customer.into(),
            kind,
            verification: "code sent to the email on file".into(),
        }
    }

    #[tokio::test]
    async fn compliance_opens_and_works_a_request_through_its_states_with_its_regimes_deadlines() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let (eu, us) = (h.customer("EU").await, h.customer("US").await);

        let r = open(&h.app, &compliance, &new(&eu, Kind::Access), NOW)
            .await
            .unwrap();
        assert_eq!((r.regime, r.state), (Regime::Gdpr, State::Received));
        assert_eq!(r.due.to_string(), "2027-01-04");
        assert_eq!(r.urgency, Some(Urgency::OnTrack));
        let c = open(&h.app, &compliance, &new(&us, Kind::Erasure), NOW)
            .await
            .unwrap();
        assert_eq!(
            c.acknowledge_by.map(|d| d.to_string()).as_deref(),
            Some("2026-12-18")
        );

        // Work before verification, and an extension without a reason, are refused.
        let e = take_step(&h.app, &h.rt, &compliance, &r.id, Step::Start, "", NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        let e = take_step(&h.app, &h.rt, &compliance, &r.id, Step::Extend, " ", NOW)
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_request");
        for step in [Step::Verify, Step::Start] {
            take_step(&h.app, &h.rt, &compliance, &r.id, step, "", NOW)
                .await
                .unwrap();
        }
        let x = take_step(
            &h.app,
            &h.rt,
            &compliance,
            &r.id,
            Step::Extend,
            "archive is large",
            NOW + DAY,
        )
        .await
        .unwrap();
        assert_eq!(
            (x.state, x.due.to_string()),
            (State::Extended, "2027-03-04".into())
        );
        let done = take_step(
            &h.app,
            &h.rt,
            &compliance,
            &r.id,
            Step::Complete,
            "",
            NOW + 2 * DAY,
        )
        .await
        .unwrap();
        assert_eq!((done.state, done.urgency), (State::Completed, None));
        let e = take_step(&h.app, &h.rt, &compliance, &r.id, Step::Refuse, "late", NOW)
            .await
            .unwrap_err();
        assert!(e.message.contains("already completed"), "{}", e.message);

        // Too late to extend: the first deadline has passed.
        take_step(&h.app, &h.rt, &compliance, &c.id, Step::Verify, "", NOW)
            .await
            .unwrap();
        let e = take_step(
            &h.app,
            &h.rt,
            &compliance,
            &c.id,
            Step::Extend,
            "busy",
            NOW + 46 * DAY,
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("has passed"), "{}", e.message);

        let (shown, steps) = show(&h.app, &compliance, &r.id, NOW).await.unwrap();
        assert_eq!(shown.state, State::Completed);
        let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, ["open", "verify", "start", "extend", "complete"]);
        assert_eq!(steps[3].reason, "archive is large");
        let q = queue(&h.app, &compliance, NOW + 50 * DAY).await.unwrap();
        assert_eq!(q[0].id, c.id, "open requests first");
        assert_eq!(q[0].urgency, Some(Urgency::Overdue));
    }

    #[tokio::test]
    async fn others_are_refused_and_nothing_is_half_done() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let customer = h.customer("CN").await;
        let r = open(&h.app, &compliance, &new(&customer, Kind::Restriction), NOW)
            .await
            .unwrap();
        assert_eq!(r.regime, Regime::Pipl);

        for role in ["sales", "support", "marketing"] {
            let actor = h.member(role, true).await;
            let e = open(&h.app, &actor, &new(&customer, Kind::Access), NOW)
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Forbidden, "{role} opens");
            let e = take_step(&h.app, &h.rt, &actor, &r.id, Step::Verify, "", NOW)
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Forbidden, "{role} steps");
        }
        let admin = h.member("admin", false).await;
        assert_eq!(
            queue(&h.app, &admin, NOW).await.unwrap().len(),
            1,
            "admins may read"
        );
        take_step(&h.app, &h.rt, &admin, &r.id, Step::Verify, "", NOW)
            .await
            .unwrap();

        let e = open(
            &h.app,
            &compliance,
            &new("no-such-customer", Kind::Access),
            NOW,
        )
        .await;
        assert_eq!(e.unwrap_err().kind, ErrorKind::NotFound);
        let e = take_step(
            &h.app,
            &h.rt,
            &compliance,
            "no-such-request",
            Step::Verify,
            "",
            NOW,
        )
        .await;
        assert_eq!(e.unwrap_err().kind, ErrorKind::NotFound);
        let mut bad = new(&customer, Kind::Access);
        bad.verification = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            open(&h.app, &compliance, &bad, NOW).await.unwrap_err().code,
            "invalid_request"
        );

        // Another tenant's compliance officer sees nothing of this one's requests.
        let mut outsider = compliance.clone();
        outsider.tenant_id = h.other_tenant().await;
        assert!(queue(&h.app, &outsider, NOW).await.unwrap().is_empty());
        let e = show(&h.app, &outsider, &r.id, NOW).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = open(&h.app, &outsider, &new(&customer, Kind::Access), NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);

        let (_, steps) = show(&h.app, &compliance, &r.id, NOW).await.unwrap();
        assert_eq!(
            steps.len(),
            2,
            "open and the admin's verify; refused steps leave only their audit records"
        );
        let audited = h.audited().await;
        assert!(
            audited
                .iter()
                .any(|a| a.1 == "privacy.manage" && a.2 == "deny")
        );
        assert!(
            audited
                .iter()
                .any(|a| a.1 == "privacy.request.open" && a.2 == "allow")
        );
    }

    /// Two staff members verifying one request at once: one step is taken, the other refused.
    #[tokio::test]
    async fn the_same_step_sent_at_once_is_taken_once() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let customer = h.customer("EU").await;
        let r = open(&h.app, &compliance, &new(&customer, Kind::Erasure), NOW)
            .await
            .unwrap();
        let tries =
            (0..10).map(|_| take_step(&h.app, &h.rt, &compliance, &r.id, Step::Verify, "", NOW));
        let results = futures_util::future::join_all(tries).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        let (_, steps) = show(&h.app, &compliance, &r.id, NOW).await.unwrap();
        assert_eq!(steps.len(), 2);
    }

    /// A hold stops erasure, names itself, and once released the erasure goes through and is
    /// noted in the ledger.
    #[tokio::test]
    async fn a_legal_hold_stops_erasure_until_it_is_released() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let (held, free) = (h.customer("EU").await, h.customer("EU").await);
        let bad = NewHold {
            customer: Some(held.clone()),
            reason: " ".into(),
            owner: "legal".into(),
        };
        assert_eq!(
            place_hold(&h.app, &compliance, &bad, NOW)
                .await
                .unwrap_err()
                .code,
            "invalid_request"
        );
        let sales = h.member("sales", false).await;
        let new = NewHold {
            reason: "case 2026-114".into(),
            ..bad
        };
        assert_eq!(
            place_hold(&h.app, &sales, &new, NOW)
                .await
                .unwrap_err()
                .kind,
            ErrorKind::Forbidden
        );
        let hold = place_hold(&h.app, &compliance, &new, NOW).await.unwrap();

        let e = crate::customers::erase(&h.app, &compliance, &held)
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.code), (ErrorKind::Conflict, "legal_hold"));
        assert!(e.message.contains("case 2026-114"), "{}", e.message);
        assert!(
            h.app
                .store
                .customer(&h.tenant.id, &held)
                .await
                .unwrap()
                .is_some()
        );
        crate::customers::erase(&h.app, &compliance, &free)
            .await
            .unwrap();

        assert_eq!(holds(&h.app, &compliance).await.unwrap().len(), 1);
        release_hold(&h.app, &compliance, &hold.id, NOW)
            .await
            .unwrap();
        let e = release_hold(&h.app, &compliance, &hold.id, NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "released once");
        crate::customers::erase(&h.app, &compliance, &held)
            .await
            .unwrap();
        let ledger: Vec<String> = h
            .app
            .store
            .erasures(&h.tenant.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(ledger.len(), 2);
        assert!(ledger.contains(&held) && ledger.contains(&free));

        // A tenant-wide hold holds every customer.
        let another = h.customer("US").await;
        let all = NewHold {
            customer: None,
            reason: "regulator inquiry".into(),
            owner: "dpo".into(),
        };
        place_hold(&h.app, &compliance, &all, NOW).await.unwrap();
        let e = crate::customers::erase(&h.app, &compliance, &another)
            .await
            .unwrap_err();
        assert!(e.message.contains("regulator inquiry"), "{}", e.message);
    }

    /// Works a request of `kind` for `customer` from received to completed.
    async fn complete(h: &Harness, actor: &Actor, customer: &str, kind: Kind) -> RequestView {
        let r = open(&h.app, actor, &new(customer, kind), NOW)
            .await
            .unwrap();
        for step in [Step::Verify, Step::Start, Step::Complete] {
            take_step(&h.app, &h.rt, actor, &r.id, step, "", NOW)
                .await
                .unwrap();
        }
        r
    }

    #[tokio::test]
    async fn a_restriction_stops_processing_but_compliance_still_reads_and_it_can_be_lifted() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let sales = h.member("sales", false).await;
        let c = h.customer("EU").await;
        let listed = |page: crate::customers::Page| page.items.iter().any(|i| i.id == c);
        let q = crate::customers::ListQuery {
            per_page: 100,
            ..Default::default()
        };
        assert!(listed(
            crate::customers::list(&h.app, &sales, &q).await.unwrap()
        ));

        complete(&h, &compliance, &c, Kind::Restriction).await;
        let e = crate::customers::get(&h.app, &sales, &c).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("restricted"), "{}", e.message);
        let changes = crate::customers::validate::changes(
            serde_json::json!({"notes": "called"}).as_object().unwrap(),
            false,
        )
        .unwrap();
        assert!(
            crate::customers::update(&h.app, &sales, &c, &changes)
                .await
                .is_err()
        );
        assert!(!listed(
            crate::customers::list(&h.app, &sales, &q).await.unwrap()
        ));
        let seen = crate::customers::get(&h.app, &compliance, &c)
            .await
            .unwrap();
        assert_eq!(seen.name.as_deref(), Some("Ada Example"));

        let e = lift_restriction(&h.app, &sales, &c).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden, "sales may not lift it");
        lift_restriction(&h.app, &compliance, &c).await.unwrap();
        let e = lift_restriction(&h.app, &compliance, &c).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "lifted once");
        crate::customers::get(&h.app, &sales, &c).await.unwrap();
        assert!(listed(
            crate::customers::list(&h.app, &sales, &q).await.unwrap()
        ));
    }

    #[tokio::test]
    async fn the_consent_ledger_keeps_every_act_with_its_evidence_and_separate_consent_holds() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let marketing = h.member("marketing", false).await;
        let sales = h.member("sales", false).await;
        let c = h
            .customer_with(serde_json::json!({
                "name": "Li Wei", "region": "CN", "email": "li.wei@example.com",
                "consents": {
                    "marketing_email": {"granted": true, "evidence": "web form, newsletter box ticked", "wording": "2026-11"},
                    "analytics": {"granted": true, "evidence": "web form, newsletter box ticked", "wording": "2026-11"},
                },
            }))
            .await;
        let body = |v: serde_json::Value| {
            crate::customers::validate::changes(v.as_object().unwrap(), false).unwrap()
        };

        // PIPL: a purpose needing separate consent is refused when bundled, and nothing changes.
        let setting = PurposeSetting {
            separate: true,
            note: "cross-border transfer".into(),
        };
        assert!(
            set_purpose(&h.app, &sales, "transfer_abroad", &setting)
                .await
                .is_err()
        );
        set_purpose(&h.app, &compliance, "transfer_abroad", &setting)
            .await
            .unwrap();
        let bundled = body(serde_json::json!({"consents": {"transfer_abroad": true, "sms": true}}));
        let e = crate::customers::update(&h.app, &sales, &c, &bundled)
            .await
            .unwrap_err();
        assert_eq!(e.code, "separate_consent_required", "{}", e.message);
        let alone = body(serde_json::json!({
            "consents": {"transfer_abroad": {"granted": true, "evidence": "signed paper form 17"}}}));
        crate::customers::update(&h.app, &sales, &c, &alone)
            .await
            .unwrap();
        let withdraw = body(serde_json::json!({"consents": {"marketing_email": false}}));
        crate::customers::update(&h.app, &sales, &c, &withdraw)
            .await
            .unwrap();

        let history = crate::customers::consent_history(&h.app, &compliance, &c)
            .await
            .unwrap();
        let seen: Vec<(&str, bool, bool)> = history
            .iter()
            .map(|e| (e.purpose.as_str(), e.granted, e.bundled))
            .collect();
        assert_eq!(
            seen,
            [
                ("analytics", true, true),
                ("marketing_email", true, true),
                ("transfer_abroad", true, false),
                ("marketing_email", false, false),
            ]
        );
        assert_eq!(
            history[0].evidence.as_deref(),
            Some("web form, newsletter box ticked")
        );
        assert_eq!(history[0].wording.as_deref(), Some("2026-11"));
        assert!(history[0].by.starts_with("user:"), "{}", history[0].by);
        assert_eq!(history[2].evidence.as_deref(), Some("signed paper form 17"));
        // Marketing sees no free text (the policy withholds notes from it).
        let theirs = crate::customers::consent_history(&h.app, &marketing, &c)
            .await
            .unwrap();
        assert!(theirs.iter().all(|e| e.evidence.is_none()));

        // Append-only: the database itself refuses to rewrite history.
        let rewrite = sqlx::query("UPDATE consent_events SET granted = 1")
            .execute(h.app.store.pool())
            .await;
        assert!(rewrite.is_err(), "the ledger was rewritten");

        // An objection withdraws every marketing purpose, noted in the ledger; the rest stay.
        let c2 = h
            .customer_with(serde_json::json!({
                "name": "Ann Lee", "region": "US",
                "consents": {"marketing_email": true, "marketing_share": true, "analytics": true},
            }))
            .await;
        complete(&h, &compliance, &c2, Kind::Objection).await;
        let now = crate::customers::get(&h.app, &compliance, &c2)
            .await
            .unwrap();
        assert_eq!(
            now.consents.into_iter().collect::<Vec<_>>(),
            [
                ("analytics".to_string(), true),
                ("marketing_email".to_string(), false),
                ("marketing_share".to_string(), false),
            ]
        );
        let history = crate::customers::consent_history(&h.app, &compliance, &c2)
            .await
            .unwrap();
        let withdrawals: Vec<&str> = history
            .iter()
            .filter(|e| !e.granted && e.by == compliance.audit_name())
            .map(|e| e.purpose.as_str())
            .collect();
        assert_eq!(history.len(), 5);
        assert_eq!(withdrawals, ["marketing_email", "marketing_share"]);

        // A request can be opened by the person's email, never by someone else's.
        let r = open(
            &h.app,
            &compliance,
            &new("LI.WEI@example.com", Kind::Access),
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(r.customer, c);
        let e = open(
            &h.app,
            &compliance,
            &new("nobody@example.com", Kind::Access),
            NOW,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn completing_an_erasure_request_erases_the_customer_and_their_consent_history() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let c = h
            .customer_with(serde_json::json!({
                "name": "Ada", "region": "EU", "consents": {"analytics": true}}))
            .await;
        complete(&h, &compliance, &c, Kind::Erasure).await;
        let e = crate::customers::get(&h.app, &compliance, &c)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM consent_events WHERE customer_id = $1")
                .bind(&c)
                .fetch_one(h.app.store.pool())
                .await
                .unwrap();
        assert_eq!(left, 0);
        assert_eq!(h.app.store.erasures(&h.tenant.id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn rectification_corrects_through_the_update_path_and_is_linked_to_the_request() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let c = h
            .customer_with(serde_json::json!({"name": "Ada Exmaple", "region": "EU"}))
            .await;
        let changes = |body: serde_json::Value| {
            crate::customers::validate::changes(body.as_object().unwrap(), false).unwrap()
        };
        let fix = changes(serde_json::json!({"name": "Ada Example"}));
        let r = open(&h.app, &compliance, &new(&c, Kind::Rectification), NOW)
            .await
            .unwrap();
        // Not before the request is started.
        let e = rectify(&h.app, &compliance, &r.id, &fix, NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        for step in [Step::Verify, Step::Start] {
            take_step(&h.app, &h.rt, &compliance, &r.id, step, "", NOW)
                .await
                .unwrap();
        }
        // Tags are the business's, not the person's data: compliance may not change them here.
        let tags = changes(serde_json::json!({"tags": ["vip"]}));
        let e = rectify(&h.app, &compliance, &r.id, &tags, NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        let done = rectify(&h.app, &compliance, &r.id, &fix, NOW)
            .await
            .unwrap();
        assert_eq!(done.name.as_deref(), Some("Ada Example"));
        let (_, steps) = show(&h.app, &compliance, &r.id, NOW).await.unwrap();
        let last = steps.last().unwrap();
        assert_eq!(
            (last.step.as_str(), last.reason.as_str()),
            ("rectify", "corrected: name")
        );
        let audited = h.audited().await;
        assert!(
            audited
                .iter()
                .any(|a| a.1 == "customer.rectify" && a.2 == "allow")
        );
        // Another kind of request corrects nothing.
        let access = open(&h.app, &compliance, &new(&c, Kind::Access), NOW)
            .await
            .unwrap();
        let e = rectify(&h.app, &compliance, &access.id, &fix, NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(e.message.contains("an access request"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_request_log_reports_by_kind_with_response_times_and_overdue() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let c = h.customer("EU").await;
        // One access answered in 3 days, one erasure still open and overdue 40 days later.
        let a = open(&h.app, &compliance, &new(&c, Kind::Access), NOW)
            .await
            .unwrap();
        for step in [Step::Verify, Step::Start, Step::Complete] {
            take_step(&h.app, &h.rt, &compliance, &a.id, step, "", NOW + 3 * DAY)
                .await
                .unwrap();
        }
        open(&h.app, &compliance, &new(&c, Kind::Objection), NOW)
            .await
            .unwrap();
        let r = report::report(&h.app, &compliance, NOW + 40 * DAY)
            .await
            .unwrap();
        let access = &r.by_kind["access"];
        assert_eq!((access.received, access.completed, access.open), (1, 1, 0));
        assert_eq!(access.median_days, Some(3.0));
        assert_eq!(access.worst_days, Some(3.0));
        let objection = &r.by_kind["objection"];
        assert_eq!((objection.open, objection.overdue), (1, 1));
        assert_eq!((r.all.received, r.all.overdue), (2, 1));
        let sales = h.member("sales", false).await;
        let e = report::report(&h.app, &sales, NOW).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
    }

    #[tokio::test]
    async fn a_tenants_own_periods_set_the_deadlines_and_longer_than_the_law_is_refused() {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let cn = h.customer("CN").await;
        let mut s = settings::Settings::default();
        s.periods.pipl_business_days = 10;
        settings::put(&h.app, &compliance, &s, "our PIPL period", NOW)
            .await
            .unwrap();
        let r = open(&h.app, &compliance, &new(&cn, Kind::Access), NOW)
            .await
            .unwrap();
        // Friday 2026-12-04 + 10 business days = Friday 2026-12-18.
        assert_eq!(r.due.to_string(), "2026-12-18");
        s.periods.gdpr_months = 2;
        let e = settings::put(&h.app, &compliance, &s, "", NOW)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(
            settings::get(&h.app, &compliance)
                .await
                .unwrap()
                .periods
                .gdpr_months,
            1
        );
    }
}
