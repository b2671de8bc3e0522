//! Capability `customers`: the tenant's customers as the acting staff member may see them, through
//! the same request path (decide → open only what the decision reveals → audit) as the staff API.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use wasmtime::component::Linker;

use super::CallState;
use super::{Capability, Factor, Setup, View, admit, invalid, wit_error};
use crate::app::{Actor, App};
use crate::customers::{self as svc, CustomerView, ListQuery};
use crate::plugins::abi::latest::Error;
use crate::plugins::abi::latest::customers::{
    self as binding, ConsentFlag, Customer, CustomerChanges, CustomerPage, FieldChange, Host,
    InteractionKind, NewInteraction, PersonalField, Region, SearchQuery,
};

/// The customer request path, as the acting member through the plugin.
pub struct State {
    pub(super) app: Arc<App>,
    pub(super) actor: Actor,
}

pub fn configure(setup: &Setup<'_>) -> anyhow::Result<State> {
    Ok(State {
        app: setup.app.clone(),
        actor: setup.actor.clone(),
    })
}

pub fn link(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    binding::add_to_linker::<_, Factor<State>>(l, |s| s.view(|f| &mut f.customers))
}

type Answer<T> = wasmtime::Result<Result<T, Error>>;

impl Host for View<'_, State> {
    async fn get(&mut self, id: String) -> Answer<Customer> {
        let s = admit!(self, Capability::Customers);
        Ok(svc::get(&s.app, &s.actor, &id)
            .await
            .map(|v| customer(&v))
            .map_err(wit_error))
    }

    async fn find_by_email(&mut self, email: String) -> Answer<Option<Customer>> {
        let s = admit!(self, Capability::Customers);
        let q = ListQuery {
            email: Some(email),
            page: 1,
            per_page: 1,
            ..ListQuery::default()
        };
        Ok(svc::list(&s.app, &s.actor, &q)
            .await
            .map(|p| p.items.first().map(customer))
            .map_err(wit_error))
    }

    async fn find_by_phone(&mut self, phone: String) -> Answer<Vec<Customer>> {
        let s = admit!(self, Capability::Customers);
        let q = ListQuery {
            phone: Some(phone),
            page: 1,
            per_page: 100,
            ..ListQuery::default()
        };
        Ok(svc::list(&s.app, &s.actor, &q)
            .await
            .map(|p| p.items.iter().map(customer).collect())
            .map_err(wit_error))
    }

    async fn search(&mut self, query: SearchQuery) -> Answer<CustomerPage> {
        let s = admit!(self, Capability::Customers);
        if !(1..=100).contains(&query.per_page) {
            return Ok(Err(invalid("per-page", "must be between 1 and 100")));
        }
        if query.page == 0 {
            return Ok(Err(invalid("page", "must be at least 1")));
        }
        let q = ListQuery {
            region: query.region.map(|r| region_code(r).to_string()),
            tags: query.tags,
            page: query.page.into(),
            per_page: query.per_page.into(),
            ..ListQuery::default()
        };
        Ok(svc::list(&s.app, &s.actor, &q)
            .await
            .map(|p| CustomerPage {
                items: p.items.iter().map(customer).collect(),
                page: query.page,
                per_page: query.per_page,
                total: p.total.max(0) as u64,
            })
            .map_err(wit_error))
    }

    async fn update(&mut self, id: String, changes: CustomerChanges) -> Answer<Customer> {
        let s = admit!(self, Capability::Customers);
        let changes = match svc::validate::changes(&changes_json(changes), false) {
            Ok(c) => c,
            Err(msg) => return Ok(Err(invalid("", msg))),
        };
        Ok(svc::update(&s.app, &s.actor, &id, &changes)
            .await
            .map(|v| customer(&v))
            .map_err(wit_error))
    }

    async fn add_interaction(&mut self, id: String, interaction: NewInteraction) -> Answer<String> {
        let s = admit!(self, Capability::Customers);
        let summary = interaction.summary.unwrap_or_default();
        if summary.chars().count() > 2000 {
            return Ok(Err(invalid("summary", "is longer than 2,000 characters")));
        }
        let kind = match interaction.kind {
            InteractionKind::Call => "call",
            InteractionKind::Email => "email",
            InteractionKind::Visit => "visit",
            InteractionKind::Chat => "chat",
            InteractionKind::Complaint => "complaint",
            InteractionKind::Note => "note",
        };
        Ok(svc::add_interaction(&s.app, &s.actor, &id, kind, &summary)
            .await
            .map(|i| i.id)
            .map_err(wit_error))
    }
}

/// The changes as the staff API's JSON body, so they are validated exactly as staff input is.
fn changes_json(c: CustomerChanges) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(n) = c.name {
        m.insert("name".into(), json!(n));
    }
    for (field, change) in [
        ("email", c.email),
        ("phone", c.phone),
        ("address", c.address),
        ("birth_date", c.birth_date),
        ("notes", c.notes),
    ] {
        match change {
            Some(FieldChange::Set(v)) => m.insert(field.into(), json!(v)),
            Some(FieldChange::Clear) => m.insert(field.into(), Value::Null),
            None => None,
        };
    }
    if let Some(r) = c.region {
        m.insert("region".into(), json!(region_code(r)));
    }
    if let Some(t) = c.tags {
        m.insert("tags".into(), json!(t));
    }
    m
}

pub(crate) fn region_code(r: Region) -> &'static str {
    match r {
        Region::Cn => "CN",
        Region::Eu => "EU",
        Region::Us => "US",
        Region::Other => "OTHER",
    }
}

fn region_of(code: &str) -> Region {
    match code {
        "CN" => Region::Cn,
        "EU" => Region::Eu,
        "US" => Region::Us,
        _ => Region::Other,
    }
}

fn millis(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// A customer as the policy let this read see it: each personal field says which case it is.
pub(crate) fn customer(v: &CustomerView) -> Customer {
    let field = |name: &str, value: &Option<String>| {
        if v.redacted.iter().any(|f| f == name) {
            PersonalField::Redacted
        } else {
            match value {
                None => PersonalField::Empty,
                Some(s) if v.masked.iter().any(|f| f == name) => PersonalField::Masked(s.clone()),
                Some(s) => PersonalField::Clear(s.clone()),
            }
        }
    };
    Customer {
        id: v.id.clone(),
        name: field("name", &v.name),
        email: field("email", &v.email),
        phone: field("phone", &v.phone),
        address: field("address", &v.address),
        birth_date: field("birth_date", &v.birth_date),
        notes: field("notes", &v.notes),
        region: region_of(&v.region),
        tags: v.tags.clone(),
        consents: v
            .consents
            .iter()
            .map(|(purpose, granted)| ConsentFlag {
                purpose: purpose.clone(),
                granted: *granted,
            })
            .collect(),
        created_at: millis(&v.created_at),
        updated_at: millis(&v.updated_at),
    }
}
