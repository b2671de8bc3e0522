//! Capability `records`: the plugin's own documents, sealed by the host and private to the plugin
//! and the tenant. A document about a customer is sealed under that customer's subject key, so
//! erasing the customer shreds it; indexed fields are kept only as blind indexes.

use serde_json::Value;

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, Setup, View, admit, invalid, wit_error};
use crate::app::{Actor, App};
use crate::audit;
use crate::error::AppResult;
use crate::plugins::abi::latest::records::{
    self as binding, Document, DocumentPage, DocumentQuery, Host, IndexValue,
};
use crate::plugins::abi::latest::{Error, LimitInfo};
use crate::policy::{Decision, Resource};
use crate::store::{OverQuota, QueryBudget, RecordRow, StorageQuota, now_ms};
use crate::vault::{FieldRef, SealingKey, TenantKeys};

/// SQLite VM instructions all of one call's queries may run (a few seconds' worth at most).
const QUERY_STEPS: u64 = 50_000_000;

/// The plugin's collections, what it and its tenant may still store, and the database work its
/// queries may still do.
pub struct State {
    app: Arc<App>,
    actor: Actor,
    plugin: String,
    /// The manifest's record collections and their indexed fields.
    collections: BTreeMap<String, Vec<String>>,
    queries: QueryBudget,
    quota: StorageQuota,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    Ok(State {
        app: setup.app.clone(),
        actor: setup.actor.clone(),
        plugin: setup.plugin.to_string(),
        collections: setup.collections.clone(),
        queries: QueryBudget::new(setup.ends, QUERY_STEPS),
        quota: StorageQuota {
            plugin_bytes: setup.limits.storage_bytes as i64,
            tenant_bytes: setup.app.settings.tenant_storage_bytes as i64,
        },
    })
}

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    binding::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.records))
}

impl Drop for State {
    fn drop(&mut self) {
        // A query still running for this call (the call was stopped) is interrupted now.
        self.queries
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

type Answer<T> = wasmtime::Result<Result<T, Error>>;

/// Largest document, in bytes of JSON.
const MAX_DOCUMENT: usize = 256 << 10;

/// The text an indexed value is blind-indexed as (typed, so `1` and `"1"` differ).
fn index_text(v: &IndexValue) -> String {
    match v {
        IndexValue::Text(s) => format!("s:{s}"),
        IndexValue::Integer(i) => format!("i:{i}"),
        IndexValue::Boolean(b) => format!("b:{b}"),
    }
}

fn index_of_json(v: &Value) -> Option<IndexValue> {
    match v {
        Value::String(s) => Some(IndexValue::Text(s.clone())),
        Value::Bool(b) => Some(IndexValue::Boolean(*b)),
        Value::Number(n) => n.as_i64().map(IndexValue::Integer),
        _ => None,
    }
}

impl State {
    /// The collection's indexed fields, if the manifest declares it.
    fn collection(&self, name: &str) -> Result<Vec<String>, Error> {
        self.collections.get(name).cloned().ok_or_else(|| {
            invalid(
                "collection",
                format!("`{name}` is not declared in the manifest"),
            )
        })
    }

    /// What the record functions need across awaits (the call state itself is not `Sync`).
    fn cx(&self) -> Cx<'_> {
        Cx {
            app: &self.app,
            actor: &self.actor,
            plugin: &self.plugin,
            queries: &self.queries,
            quota: self.quota,
        }
    }
}

struct Cx<'a> {
    app: &'a std::sync::Arc<crate::app::App>,
    actor: &'a crate::app::Actor,
    plugin: &'a str,
    /// What the call's queries may still spend.
    queries: &'a crate::store::QueryBudget,
    /// What the plugin and its tenant may store.
    quota: StorageQuota,
}

/// A write refused for a quota, as the interface's error.
fn over_quota(over: OverQuota) -> Error {
    Error::LimitExceeded(LimitInfo {
        limit: format!("storage-{}", over.which),
        max: over.quota.max(0) as u64,
    })
}

impl Cx<'_> {
    fn scope(&self, collection: &str) -> String {
        format!("{}/{collection}", self.plugin)
    }

    async fn decide(&self, action: &str, collection: &str) -> AppResult<Decision> {
        self.app
            .authorize(
                self.actor,
                action,
                Resource {
                    attributes: None,
                    kind: "plugin_record".into(),
                    tenant: self.actor.tenant_id.clone(),
                    id: Some(self.scope(collection)),
                    fields: None,
                },
                serde_json::json!({}),
            )
            .await
    }

    /// The key a document is sealed under: its customer's subject key, or the tenant's data key.
    async fn record_key<'k>(
        &self,
        keys: &'k TenantKeys,
        customer: Option<&str>,
    ) -> AppResult<Option<RecordKey<'k>>> {
        match customer {
            Some(c) => Ok(self.app.subject_key(keys, c).await?.map(RecordKey::Subject)),
            None => Ok(Some(RecordKey::Tenant(&keys.dek))),
        }
    }

    fn blind(&self, keys: &TenantKeys, collection: &str, field: &str, v: &IndexValue) -> String {
        keys.blind_index(
            &format!("record:{}:{field}", self.scope(collection)),
            &index_text(v),
        )
    }

    fn index_rows(
        &self,
        keys: &TenantKeys,
        collection: &str,
        indexed: &[String],
        data: &Value,
    ) -> Vec<(String, String)> {
        indexed
            .iter()
            .filter_map(|f| {
                let v = index_of_json(data.get(f)?)?;
                Some((f.clone(), self.blind(keys, collection, f, &v)))
            })
            .collect()
    }

    async fn open(&self, keys: &TenantKeys, row: &RecordRow) -> AppResult<Option<Document>> {
        let Some(key) = self.record_key(keys, row.customer_id.as_deref()).await? else {
            return Ok(None); // the customer was erased: the document is shredded
        };
        let scope = self.scope(&row.collection);
        let text = key
            .get()
            .open_string(&at(&keys.tenant, &row.id, &scope), &row.data)?;
        Ok(Some(Document {
            id: row.id.clone(),
            collection: row.collection.clone(),
            customer: row.customer_id.clone(),
            data: text,
            version: row.version as u64,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    fn audit_event(&self, action: &str, id: &str, d: &Decision, detail: Value) -> audit::Event {
        self.actor.audit(action, format!("record/{id}"), d, detail)
    }
}

/// Opens a plugin's document about a customer with that customer's subject key: the host's own
/// reading, for the person's export (no plugin is called).
pub fn open_about(
    tenant: &str,
    subject_key: &SealingKey,
    row: &crate::store::RecordRow,
) -> AppResult<String> {
    let scope = format!("{}/{}", row.plugin, row.collection);
    Ok(subject_key.open_string(&at(tenant, &row.id, &scope), &row.data)?)
}

/// The key a document is sealed under.
enum RecordKey<'k> {
    Tenant(&'k SealingKey),
    Subject(SealingKey),
}

impl RecordKey<'_> {
    fn get(&self) -> &SealingKey {
        match self {
            Self::Tenant(k) => k,
            Self::Subject(k) => k,
        }
    }
}

fn at<'a>(tenant: &'a str, id: &'a str, scope: &'a str) -> FieldRef<'a> {
    FieldRef {
        tenant,
        table: "plugin_records",
        record: id,
        field: scope,
    }
}

fn parse_document(data: &str) -> Result<Value, Error> {
    if data.len() > MAX_DOCUMENT {
        return Err(Error::LimitExceeded(LimitInfo {
            limit: "record-size".into(),
            max: MAX_DOCUMENT as u64,
        }));
    }
    match serde_json::from_str::<Value>(data) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(invalid("data", "must be a JSON object")),
    }
}

/// An `AppResult` as the interface's answer.
fn answer<T>(r: AppResult<Result<T, Error>>) -> Result<T, Error> {
    r.unwrap_or_else(|e| Err(wit_error(e)))
}

impl Host for View<'_, State> {
    async fn insert(
        &mut self,
        collection: String,
        customer: Option<String>,
        data: String,
    ) -> Answer<Document> {
        let s = admit!(self, Capability::Records);
        let (indexed, json) = match s
            .collection(&collection)
            .and_then(|i| Ok((i, parse_document(&data)?)))
        {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let cx = s.cx();
        let r: AppResult<Result<Document, Error>> = async {
            let d = cx.decide("record.write", &collection).await?;
            let keys = cx.app.tenant_keys(&cx.actor.tenant_id).await?;
            let Some(key) = cx.record_key(&keys, customer.as_deref()).await? else {
                return Ok(Err(Error::NotFound));
            };
            let id = uuid::Uuid::new_v4().to_string();
            let now = now_ms();
            let row = RecordRow {
                id: id.clone(),
                plugin: cx.plugin.to_string(),
                collection: collection.clone(),
                customer_id: customer.clone(),
                data: key.get().seal(
                    &at(&keys.tenant, &id, &cx.scope(&collection)),
                    data.as_bytes(),
                ),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            let index = cx.index_rows(&keys, &collection, &indexed, &json);
            let mut tx = cx.app.store.begin().await?;
            if let Err(over) = cx
                .app
                .store
                .insert_record(&mut tx, &keys.tenant, &row, &index, &cx.quota)
                .await?
            {
                return Ok(Err(over_quota(over)));
            }
            audit::append(
                &mut tx,
                &keys.tenant,
                &cx.audit_event(
                    "record.insert",
                    &id,
                    &d,
                    serde_json::json!({"collection": collection, "customer": customer}),
                ),
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(Document {
                id,
                collection,
                customer,
                data,
                version: 1,
                created_at: now,
                updated_at: now,
            }))
        }
        .await;
        Ok(answer(r))
    }

    async fn get(&mut self, collection: String, id: String) -> Answer<Document> {
        let s = admit!(self, Capability::Records);
        if let Err(e) = s.collection(&collection) {
            return Ok(Err(e));
        }
        let cx = s.cx();
        let r: AppResult<Result<Document, Error>> = async {
            let d = cx.decide("record.read", &collection).await?;
            let keys = cx.app.tenant_keys(&cx.actor.tenant_id).await?;
            let Some(row) = cx
                .app
                .store
                .record(cx.queries, &keys.tenant, cx.plugin, &collection, &id)
                .await?
            else {
                return Ok(Err(Error::NotFound));
            };
            let Some(doc) = cx.open(&keys, &row).await? else {
                return Ok(Err(Error::NotFound));
            };
            cx.app
                .audit
                .record(
                    &keys.tenant,
                    &cx.audit_event(
                        "record.read",
                        &id,
                        &d,
                        serde_json::json!({"collection": collection}),
                    ),
                )
                .await?;
            Ok(Ok(doc))
        }
        .await;
        Ok(answer(r))
    }

    /// Long because its steps are one document's: the version check, the sealing, then the
    /// quota-checked write and its audit record in one transaction.
    async fn replace(
        &mut self,
        collection: String,
        id: String,
        data: String,
        expected_version: Option<u64>,
    ) -> Answer<Document> {
        let s = admit!(self, Capability::Records);
        let (indexed, json) = match s
            .collection(&collection)
            .and_then(|i| Ok((i, parse_document(&data)?)))
        {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let cx = s.cx();
        let r: AppResult<Result<Document, Error>> = async {
            let d = cx.decide("record.write", &collection).await?;
            let keys = cx.app.tenant_keys(&cx.actor.tenant_id).await?;
            let Some(row) = cx
                .app
                .store
                .record(cx.queries, &keys.tenant, cx.plugin, &collection, &id)
                .await?
            else {
                return Ok(Err(Error::NotFound));
            };
            if let Some(v) = expected_version
                && v != row.version as u64
            {
                return Ok(Err(Error::Conflict(format!(
                    "the document is at version {}, not {v}",
                    row.version
                ))));
            }
            let Some(key) = cx.record_key(&keys, row.customer_id.as_deref()).await? else {
                return Ok(Err(Error::NotFound));
            };
            let now = now_ms();
            let sealed = key.get().seal(
                &at(&keys.tenant, &id, &cx.scope(&collection)),
                data.as_bytes(),
            );
            let index = cx.index_rows(&keys, &collection, &indexed, &json);
            let mut tx = cx.app.store.begin().await?;
            let replaced = cx
                .app
                .store
                .replace_record(
                    &mut tx,
                    &keys.tenant,
                    &id,
                    row.version,
                    &sealed,
                    now,
                    &index,
                    &cx.quota,
                )
                .await?;
            let replaced = match replaced {
                Ok(r) => r,
                Err(over) => return Ok(Err(over_quota(over))),
            };
            if !replaced {
                return Ok(Err(Error::Conflict(
                    "the document changed meanwhile".into(),
                )));
            }
            audit::append(
                &mut tx,
                &keys.tenant,
                &cx.audit_event(
                    "record.replace",
                    &id,
                    &d,
                    serde_json::json!({"collection": collection}),
                ),
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(Document {
                id,
                collection,
                customer: row.customer_id,
                data,
                version: row.version as u64 + 1,
                created_at: row.created_at,
                updated_at: now,
            }))
        }
        .await;
        Ok(answer(r))
    }

    async fn delete(&mut self, collection: String, id: String) -> Answer<()> {
        let s = admit!(self, Capability::Records);
        if let Err(e) = s.collection(&collection) {
            return Ok(Err(e));
        }
        let cx = s.cx();
        let r: AppResult<Result<(), Error>> = async {
            let d = cx.decide("record.write", &collection).await?;
            let tenant = cx.actor.tenant_id.clone();
            let mut tx = cx.app.store.begin().await?;
            if !cx
                .app
                .store
                .delete_record(&mut tx, &tenant, cx.plugin, &collection, &id)
                .await?
            {
                return Ok(Err(Error::NotFound));
            }
            audit::append(
                &mut tx,
                &tenant,
                &cx.audit_event(
                    "record.delete",
                    &id,
                    &d,
                    serde_json::json!({"collection": collection}),
                ),
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(()))
        }
        .await;
        Ok(answer(r))
    }

    async fn query(&mut self, collection: String, query: DocumentQuery) -> Answer<DocumentPage> {
        let s = admit!(self, Capability::Records);
        let indexed = match s.collection(&collection) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        let after = match check_query(&indexed, &collection, &query) {
            Ok(after) => after,
            Err(e) => return Ok(Err(e)),
        };
        let cx = s.cx();
        let r: AppResult<Result<DocumentPage, Error>> = async {
            let d = cx.decide("record.read", &collection).await?;
            let keys = cx.app.tenant_keys(&cx.actor.tenant_id).await?;
            let conditions: Vec<(String, String)> = query
                .conditions
                .iter()
                .map(|c| {
                    (
                        c.field.clone(),
                        cx.blind(&keys, &collection, &c.field, &c.value),
                    )
                })
                .collect();
            let rows = cx
                .app
                .store
                .query_records(
                    cx.queries,
                    &keys.tenant,
                    cx.plugin,
                    &collection,
                    query.customer.as_deref(),
                    &conditions,
                    after.as_ref(),
                    i64::from(query.limit) + 1,
                )
                .await?;
            let more = rows.len() > query.limit as usize;
            let mut items = Vec::new();
            for row in rows.iter().take(query.limit as usize) {
                if let Some(doc) = cx.open(&keys, row).await? {
                    items.push(doc);
                }
            }
            let next = if more {
                rows.get(query.limit as usize - 1)
                    .map(|r| format!("{}.{}", r.created_at, r.id))
            } else {
                None
            };
            let ids: Vec<&str> = items.iter().map(|d| d.id.as_str()).collect();
            cx.app
                .audit
                .record(
                    &keys.tenant,
                    &cx.audit_event(
                        "record.query",
                        &cx.scope(&collection),
                        &d,
                        serde_json::json!({"ids": ids}),
                    ),
                )
                .await?;
            Ok(Ok(DocumentPage { items, next }))
        }
        .await;
        Ok(answer(r))
    }
}

/// A query's shape, checked before anything runs: the page size, at most one condition per
/// field and only on indexed fields (each is a join the database runs), a cursor of this query.
/// Returns where the page starts.
fn check_query(
    indexed: &[String],
    collection: &str,
    query: &DocumentQuery,
) -> Result<Option<(i64, String)>, Error> {
    if !(1..=100).contains(&query.limit) {
        return Err(invalid("limit", "must be between 1 and 100"));
    }
    let mut fields = std::collections::BTreeSet::new();
    if let Some(c) = query
        .conditions
        .iter()
        .find(|c| !fields.insert(c.field.as_str()))
    {
        return Err(invalid(
            "field",
            format!("`{}` is given more than one condition", c.field),
        ));
    }
    if let Some(c) = query
        .conditions
        .iter()
        .find(|c| !indexed.contains(&c.field))
    {
        return Err(invalid(
            "field",
            format!("`{}` is not an indexed field of {collection}", c.field),
        ));
    }
    match query.cursor.as_deref().map(parse_cursor) {
        None => Ok(None),
        Some(Some(c)) => Ok(Some(c)),
        Some(None) => Err(invalid("cursor", "is not a cursor of this query")),
    }
}

fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('.')?;
    uuid::Uuid::parse_str(id).ok()?;
    Some((at.parse().ok()?, id.to_string()))
}
