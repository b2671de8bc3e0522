//! Access and portability (GDPR art. 15 and 20, CCPA's right to know, PIPL art. 45): one zip
//! archive of everything the tenant holds about a person, as JSON (`subject.json`, complete, its
//! schema in `schema.json`) and CSV (one file per kind, for a spreadsheet).
//!
//! The archive is built in the background (a large history takes a while) with its progress in
//! the export's row, sealed under the person's subject key (so an erasure shreds it with the
//! rest), downloadable by staff until it expires, and every download is audited. The plugins'
//! documents about the person are opened by the host itself: no plugin is called.

use std::io::Write;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::{authorize, today, view as request_view};
use crate::app::{Actor, App};
use crate::audit;
use crate::customers;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::plugins::{Runtime, subject};
use crate::store::{ExportRow, now_ms};
use crate::vault::FieldRef;

/// The archive's format, named in `subject.json` and its schema.
pub const FORMAT: &str = "crm.subject-export/1";
/// The parts gathered, for progress: record, consents, interactions, plugins' documents, the
/// request, the audit trail.
const PARTS: i64 = 7;
/// A build not finished in this long was cut short (its host stopped): it shows as failed.
const STALE_MS: i64 = 15 * 60_000;
/// The JSON schema of `subject.json`, shipped in every archive.
pub const SCHEMA: &str = include_str!("export_schema.json");

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Building,
    Ready,
    Failed,
    /// Past its download window: the archive is gone.
    Expired,
}

/// An export as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub id: String,
    pub request: String,
    pub state: ExportState,
    /// Parts gathered so far, of `total`.
    pub done: i64,
    pub total: i64,
    /// The archive's size once ready.
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch: no download after this.
    pub expires_at: i64,
    pub downloads: i64,
}

fn view(row: &ExportRow, now: i64) -> ExportView {
    let (state, error) = match row.state.as_str() {
        "ready" if row.expires_at <= now => (ExportState::Expired, None),
        "ready" => (ExportState::Ready, None),
        "building" if now - row.created_at > STALE_MS => (
            ExportState::Failed,
            Some("the build was interrupted; start a new export".to_string()),
        ),
        "building" => (ExportState::Building, None),
        _ => (ExportState::Failed, row.error.clone()),
    };
    ExportView {
        id: row.id.clone(),
        request: row.request_id.clone(),
        state,
        done: row.done,
        total: row.total,
        bytes: row.bytes,
        error,
        created_by: row.created_by.clone(),
        created_at: row.created_at,
        expires_at: row.expires_at,
        downloads: row.downloads,
    }
}

/// Starts building the archive that answers an access or portability request (`privacy.export`)
/// once the person's identity is verified; the build runs in the background.
pub async fn start(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    request_id: &str,
    now: i64,
) -> AppResult<ExportView> {
    let decision = authorize(app, actor, "privacy.export", Some(request_id)).await?;
    let Some(request) = app
        .store
        .privacy_request(&actor.tenant_id, request_id)
        .await?
    else {
        return Err(AppError::not_found("privacy request"));
    };
    if !matches!(request.kind.as_str(), "access" | "portability") {
        return Err(AppError::conflict(
            "only an access or portability request is answered with an export",
        ));
    }
    if !matches!(
        request.state.as_str(),
        "verified" | "in_progress" | "extended"
    ) {
        return Err(AppError::conflict(
            "an export is made for an open request whose requester's identity is verified",
        ));
    }
    if app
        .store
        .customer_facts(&actor.tenant_id, &request.customer_id)
        .await?
        .is_none()
    {
        return Err(AppError::conflict(
            "the customer was erased: there is nothing left to export",
        ));
    }
    let row = ExportRow {
        id: uuid::Uuid::new_v4().to_string(),
        request_id: request.id.clone(),
        customer_id: request.customer_id.clone(),
        state: "building".into(),
        done: 0,
        total: PARTS,
        bytes: None,
        error: None,
        created_by: actor.audit_name(),
        created_at: now,
        expires_at: now + app.settings.export_ttl_hours * 3_600_000,
        downloads: 0,
    };
    app.store.insert_export(&actor.tenant_id, &row).await?;
    let event = actor.audit(
        "privacy.export.start",
        format!("privacy/{request_id}"),
        &decision,
        json!({"export": row.id}),
    );
    app.audit.record(&actor.tenant_id, &event).await?;
    let (app2, rt2, actor2, row2) = (app.clone(), rt.clone(), actor.clone(), row.clone());
    let kind = if request.kind == "portability" {
        subject::Kind::Portability
    } else {
        subject::Kind::Access
    };
    tokio::spawn(async move {
        let outcome = gather(&app2, &rt2, &actor2, &row2, kind).await;
        let result = match &outcome {
            Ok((sealed, bytes)) => {
                app2.store
                    .finish_export(&row2.id, Ok((sealed, *bytes)))
                    .await
            }
            Err(e) => app2.store.finish_export(&row2.id, Err(&e.message)).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, export = %row2.id, "recording an export's end failed");
        }
    });
    Ok(view(&row, now))
}

/// Gathers the parts through the same use cases staff read them with (each read decided and
/// audited as this actor's), then packs and seals the archive.
async fn gather(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    row: &ExportRow,
    kind: subject::Kind,
) -> AppResult<(Vec<u8>, i64)> {
    let tenant = &actor.tenant_id;
    let id = row.customer_id.as_str();
    let progress = async |done: i64| app.store.export_progress(&row.id, done).await;
    let customer = customers::get(app, actor, id).await?;
    progress(1).await?;
    let consents = customers::consent_history(app, actor, id).await?;
    progress(2).await?;
    let interactions = customers::interactions(app, actor, id).await?;
    progress(3).await?;
    let keys = app.tenant_keys(tenant).await?;
    let Some(sk) = app.subject_key(&keys, id).await? else {
        return Err(AppError::not_found("customer"));
    };
    let mut documents = Vec::new();
    for r in app.store.records_about(tenant, id).await? {
        let text = crate::plugins::caps::records::open_about(tenant, &sk, &r)?;
        documents.push(json!({
            "plugin": r.plugin,
            "collection": r.collection,
            "id": r.id,
            "created_at": iso(r.created_at),
            "updated_at": iso(r.updated_at),
            "data": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        }));
    }
    progress(4).await?;
    // What 0.2.0 plugins keep about the person outside their documents.
    let parts: Vec<subject::Part> = subject::ask(app, rt, tenant, &row.request_id, id, kind)
        .await?
        .into_iter()
        .flat_map(|a| a.parts)
        .collect();
    progress(5).await?;
    let Some(request) = app.store.privacy_request(tenant, &row.request_id).await? else {
        return Err(AppError::not_found("privacy request"));
    };
    let now = now_ms();
    let steps = app.store.privacy_steps(&request.id).await?;
    progress(6).await?;
    let trail: Vec<Value> = app
        .store
        .audit_about(tenant, id)
        .await?
        .into_iter()
        .map(|a| {
            json!({"seq": a.seq, "at": iso(a.at), "actor": a.actor, "action": a.action,
                   "decision": a.decision, "resource": a.resource})
        })
        .collect();
    let subject = json!({
        "format": FORMAT,
        "generated_at": iso(now),
        "tenant": tenant,
        "request": {
            "record": request_view(&request, today(now))?,
            "timeline": steps,
        },
        "customer": customer,
        "consent_history": consents,
        "interactions": interactions,
        "plugin_documents": documents,
        "plugin_parts": parts,
        "audit": trail,
    });
    let zip = tokio::task::spawn_blocking(move || pack(&subject))
        .await
        .map_err(|_| AppError::internal())??;
    let sealed = sk.seal(&archive_at(tenant, &row.id), &zip);
    Ok((sealed, zip.len() as i64))
}

fn archive_at<'a>(tenant: &'a str, export: &'a str) -> FieldRef<'a> {
    FieldRef {
        tenant,
        table: "privacy_exports",
        record: export,
        field: "archive",
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// An export's progress and state (`privacy.read`).
pub async fn status(app: &App, actor: &Actor, id: &str, now: i64) -> AppResult<ExportView> {
    authorize(app, actor, "privacy.read", Some(id)).await?;
    let Some(row) = app.store.export(&actor.tenant_id, id).await? else {
        return Err(AppError::not_found("export"));
    };
    Ok(view(&row, now))
}

/// A request's exports, newest first (`privacy.read`).
pub async fn of_request(
    app: &App,
    actor: &Actor,
    request_id: &str,
    now: i64,
) -> AppResult<Vec<ExportView>> {
    authorize(app, actor, "privacy.read", Some(request_id)).await?;
    let rows = app
        .store
        .exports_of_request(&actor.tenant_id, request_id)
        .await?;
    Ok(rows.iter().map(|r| view(r, now)).collect())
}

/// The archive, opened for download (`privacy.export`): counted and audited. A download after
/// the archive expired is refused with 410 and nothing is read.
pub async fn download(
    app: &App,
    actor: &Actor,
    id: &str,
    now: i64,
) -> AppResult<(String, Vec<u8>)> {
    let decision = authorize(app, actor, "privacy.export", Some(id)).await?;
    let Some(row) = app.store.export(&actor.tenant_id, id).await? else {
        return Err(AppError::not_found("export"));
    };
    let current = view(&row, now);
    match current.state {
        ExportState::Ready => {}
        ExportState::Building => {
            return Err(AppError::conflict(format!(
                "the archive is still being built ({} of {} parts)",
                current.done, current.total
            )));
        }
        ExportState::Failed => {
            return Err(AppError::conflict(format!(
                "the archive could not be built: {}",
                current.error.unwrap_or_default()
            )));
        }
        ExportState::Expired => return Err(expired()),
    }
    let keys = app.tenant_keys(&actor.tenant_id).await?;
    let Some(sk) = app.subject_key(&keys, &row.customer_id).await? else {
        return Err(expired());
    };
    let mut tx = app.store.begin().await?;
    let Some(sealed) = app
        .store
        .take_export_archive(&mut tx, &actor.tenant_id, id, now)
        .await?
    else {
        return Err(expired());
    };
    let zip = sk
        .open(&archive_at(&actor.tenant_id, id), &sealed)?
        .to_vec();
    let event = actor.audit(
        "privacy.export.download",
        format!("privacy/{}", row.request_id),
        &decision,
        json!({"export": id, "bytes": zip.len()}),
    );
    audit::append(&mut tx, &actor.tenant_id, &event).await?;
    tx.commit().await?;
    Ok((format!("subject-export-{id}.zip"), zip))
}

fn expired() -> AppError {
    AppError::new(
        ErrorKind::Gone,
        "export_expired",
        "the archive has expired (or its customer was erased): start a new export",
    )
}

/// The archive: `subject.json`, `schema.json`, a CSV per kind and a README.
fn pack(subject: &Value) -> AppResult<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("README.txt".into(), README.as_bytes().to_vec()),
        (
            "subject.json".into(),
            serde_json::to_vec_pretty(subject).map_err(|_| AppError::internal())?,
        ),
        ("schema.json".into(), SCHEMA.as_bytes().to_vec()),
    ];
    let customer = &subject["customer"];
    let record_rows: Vec<Vec<String>> = [
        "id",
        "name",
        "email",
        "phone",
        "address",
        "birth_date",
        "notes",
        "region",
        "created_at",
        "updated_at",
    ]
    .iter()
    .map(|f| vec![f.to_string(), cell(&customer[*f])])
    .chain([
        vec!["tags".into(), cell(&customer["tags"])],
        vec!["consents".into(), cell(&customer["consents"])],
    ])
    .collect();
    files.push((
        "customer.csv".into(),
        csv(&["field", "value"], &record_rows)?,
    ));
    let table = |key: &str, columns: &[&str]| -> Vec<Vec<String>> {
        subject[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| columns.iter().map(|c| cell(&i[*c])).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    let kinds: [(&str, &str, &[&str]); 4] = [
        (
            "consent_history.csv",
            "consent_history",
            &[
                "purpose", "granted", "at", "by", "evidence", "wording", "bundled",
            ],
        ),
        (
            "interactions.csv",
            "interactions",
            &["id", "kind", "summary", "created_by", "created_at"],
        ),
        (
            "plugin_documents.csv",
            "plugin_documents",
            &[
                "plugin",
                "collection",
                "id",
                "created_at",
                "updated_at",
                "data",
            ],
        ),
        (
            "audit.csv",
            "audit",
            &["seq", "at", "actor", "action", "decision", "resource"],
        ),
    ];
    for (file, key, columns) in kinds {
        files.push((file.into(), csv(columns, &table(key, columns))?));
    }
    // A plugin's part: its own columns, the union of its rows' keys in first-seen order.
    for part in subject["plugin_parts"].as_array().into_iter().flatten() {
        let rows = part["rows"].as_array().cloned().unwrap_or_default();
        let mut columns: Vec<String> = Vec::new();
        for key in rows
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.keys())
        {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| columns.iter().map(|c| cell(&r[*c])).collect())
            .collect();
        let name = format!(
            "plugin_{}_{}.csv",
            part["plugin"].as_str().unwrap_or(""),
            part["name"].as_str().unwrap_or("")
        );
        files.push((name, csv(&columns, &cells)?));
    }
    let request = &subject["request"]["record"];
    let request_rows: Vec<Vec<String>> = request
        .as_object()
        .map(|o| o.iter().map(|(k, v)| vec![k.clone(), cell(v)]).collect())
        .unwrap_or_default();
    files.push((
        "request.csv".into(),
        csv(&["field", "value"], &request_rows)?,
    ));
    let steps = &subject["request"]["timeline"];
    let step_columns = ["at", "actor", "step", "state", "reason"];
    let step_rows: Vec<Vec<String>> = steps
        .as_array()
        .map(|s| {
            s.iter()
                .map(|i| step_columns.iter().map(|c| cell(&i[*c])).collect())
                .collect()
        })
        .unwrap_or_default();
    files.push((
        "request_timeline.csv".into(),
        csv(&step_columns, &step_rows)?,
    ));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(name, options)
            .map_err(|_| AppError::internal())?;
        zip.write_all(&bytes).map_err(|_| AppError::internal())?;
    }
    let out = zip.finish().map_err(|_| AppError::internal())?;
    Ok(out.into_inner())
}

/// One CSV cell: text as it is, anything else as JSON; a cell a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading `'`.
fn cell(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

fn csv(header: &[&str], rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|_| AppError::internal())?;
    for r in rows {
        w.write_record(r).map_err(|_| AppError::internal())?;
    }
    w.into_inner().map_err(|_| AppError::internal())
}

const README: &str = "\
Everything held about you
=========================

This archive answers a data-subject request (access or portability). It holds:

  subject.json           everything below in one machine-readable file (format crm.subject-export/1;
                         its JSON schema is schema.json)
  customer.csv           your customer record, one field per row
  consent_history.csv    every consent you gave or withdrew: when, recorded by whom, how it was
                         collected, the wording version you were shown
  interactions.csv       calls, emails, visits and notes about you
  plugin_documents.csv   what each of the tenant's applications (subscriptions, advertiser deals,
                         campaigns, ...) keeps about you; `data` is JSON
  audit.csv              who accessed or changed your data, when, and whether it was allowed
  request.csv            this request, and request_timeline.csv its steps

In the CSV files a value that a spreadsheet would read as a formula starts with an apostrophe
('); subject.json has every value exactly as stored.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_values_kept() {
        assert_eq!(cell(&json!("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(&json!("+4930123")), "'+4930123");
        assert_eq!(cell(&json!("Ada")), "Ada");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&json!({"a": 1})), "{\"a\":1}");
    }

    #[test]
    fn the_schema_names_every_part_of_the_archive() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for part in [
            "format",
            "generated_at",
            "tenant",
            "request",
            "customer",
            "consent_history",
            "interactions",
            "plugin_documents",
            "plugin_parts",
            "audit",
        ] {
            assert!(required.contains(&part), "{part}");
            assert!(schema["properties"][part].is_object(), "{part}");
        }
        assert_eq!(schema["properties"]["format"]["const"], FORMAT);
    }
}
