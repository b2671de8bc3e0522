//! Typed collections of the plugin's own records (capability `records`).
//!
//! A collection holds JSON documents of one Rust type; declare it in the manifest with the
//! top-level fields to index ([`crate::ManifestBuilder::collection`]).
//!
//! ```no_run
//! use crm_plugin_sdk::{Collection, Query};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Reminder { status: String, note: String }
//!
//! const REMINDERS: Collection<Reminder> = Collection::new("reminders");
//!
//! # fn f(customer_id: String) -> Result<(), crm_plugin_sdk::Error> {
//! let doc = REMINDERS.insert(Some(&customer_id), &Reminder { status: "open".into(), note: "call back".into() })?;
//! let open = REMINDERS.query(Query::new().eq("status", "open").customer(&customer_id))?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::crm::platform0_1_0::records::{
    self as api, Condition, Document, DocumentQuery, IndexValue,
};
use crate::{Error, en, errors::invalid_field};

/// A collection whose documents are `T`s.
pub struct Collection<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Collection<T> {}

impl<T> std::fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Collection").field(&self.name).finish()
    }
}

/// A stored document with its data decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc<T> {
    pub id: String,
    /// The customer the document is about (its data is sealed under that customer's key).
    pub customer: Option<String>,
    pub data: T,
    pub version: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl<T: DeserializeOwned> Doc<T> {
    /// Decodes a raw document; a document that does not decode as `T` is `invalid` (field `data`).
    pub fn from_document(doc: Document) -> Result<Self, Error> {
        let data = serde_json::from_str(&doc.data).map_err(|e| {
            invalid_field(
                "data",
                en(format!(
                    "document {} of `{}` does not decode: {e}",
                    doc.id, doc.collection
                )),
            )
        })?;
        Ok(Doc {
            id: doc.id,
            customer: doc.customer,
            data,
            version: doc.version,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        })
    }
}

/// Encodes a document's data as the JSON text the host stores.
pub fn encode<T: Serialize>(data: &T) -> Result<String, Error> {
    serde_json::to_string(data)
        .map_err(|e| invalid_field("data", en(format!("does not encode as JSON: {e}"))))
}

impl<T: Serialize + DeserializeOwned> Collection<T> {
    /// A collection by the name declared in the manifest.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _type: PhantomData,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Stores a new document, about `customer` if given.
    pub fn insert(&self, customer: Option<&str>, data: &T) -> Result<Doc<T>, Error> {
        let json = encode(data)?;
        Doc::from_document(api::insert(self.name, customer, &json)?)
    }

    pub fn get(&self, id: &str) -> Result<Doc<T>, Error> {
        Doc::from_document(api::get(self.name, id)?)
    }

    /// Replaces a document's data; fails with `conflict` if someone changed it since `doc` was read.
    pub fn replace(&self, doc: &Doc<T>) -> Result<Doc<T>, Error> {
        let json = encode(&doc.data)?;
        Doc::from_document(api::replace(self.name, &doc.id, &json, Some(doc.version))?)
    }

    pub fn delete(&self, id: &str) -> Result<(), Error> {
        api::delete(self.name, id)
    }

    /// One page of documents matching `query`, and the cursor of the next page.
    pub fn query(&self, query: Query) -> Result<(Vec<Doc<T>>, Option<String>), Error> {
        let page = api::query(self.name, &query.0)?;
        let docs = page
            .items
            .into_iter()
            .map(Doc::from_document)
            .collect::<Result<_, _>>()?;
        Ok((docs, page.next))
    }
}

/// A query on a collection's indexed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Query(pub DocumentQuery);

impl Default for Query {
    fn default() -> Self {
        Self::new()
    }
}

impl Query {
    /// Every document, 50 per page.
    pub fn new() -> Self {
        Query(DocumentQuery {
            conditions: Vec::new(),
            customer: None,
            cursor: None,
            limit: 50,
        })
    }

    /// The indexed `field` equals `value`.
    pub fn eq(mut self, field: impl Into<String>, value: impl Into<IndexValue>) -> Self {
        self.0.conditions.push(Condition {
            field: field.into(),
            value: value.into(),
        });
        self
    }

    /// Only documents about this customer.
    pub fn customer(mut self, id: impl Into<String>) -> Self {
        self.0.customer = Some(id.into());
        self
    }

    /// Continue after a previous page.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.0.cursor = Some(cursor.into());
        self
    }

    /// Documents per page (the host accepts 1-100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.0.limit = limit.clamp(1, 100);
        self
    }
}

impl From<&str> for IndexValue {
    fn from(s: &str) -> Self {
        IndexValue::Text(s.into())
    }
}

impl From<String> for IndexValue {
    fn from(s: String) -> Self {
        IndexValue::Text(s)
    }
}

impl From<i64> for IndexValue {
    fn from(n: i64) -> Self {
        IndexValue::Integer(n)
    }
}

impl From<bool> for IndexValue {
    fn from(b: bool) -> Self {
        IndexValue::Boolean(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Note {
        status: String,
        n: u32,
    }

    #[test]
    fn documents_decode_into_their_type() {
        let raw = Document {
            id: "d1".into(),
            collection: "notes".into(),
            customer: Some("c1".into()),
            data: encode(&Note {
                status: "open".into(),
                n: 2,
            })
            .unwrap(),
            version: 3,
            created_at: 1,
            updated_at: 2,
        };
        let doc: Doc<Note> = Doc::from_document(raw.clone()).unwrap();
        assert_eq!(
            doc.data,
            Note {
                status: "open".into(),
                n: 2
            }
        );
        assert_eq!((doc.version, doc.customer.as_deref()), (3, Some("c1")));
        let bad = Document {
            data: "{\"status\":1}".into(),
            ..raw
        };
        let err = Doc::<Note>::from_document(bad).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "data");
    }

    #[test]
    fn queries_build() {
        const NOTES: Collection<Note> = Collection::new("notes");
        assert_eq!(NOTES.name(), "notes");
        let q = Query::new()
            .eq("status", "open")
            .eq("n", 2i64)
            .eq("done", false)
            .customer("c1")
            .after("cur")
            .limit(500);
        assert_eq!(q.0.conditions.len(), 3);
        assert_eq!(q.0.conditions[1].value, IndexValue::Integer(2));
        assert_eq!(q.0.customer.as_deref(), Some("c1"));
        assert_eq!(q.0.cursor.as_deref(), Some("cur"));
        assert_eq!(q.0.limit, 100);
    }
}
