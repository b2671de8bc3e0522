//! Data-subject requests reaching plugins (`crm:platform@0.2.0`'s `subject` export). The host
//! finds, exports and erases plugins' records about a customer itself; a 0.2.0 plugin is also
//! asked, as its service identity, about what it keeps elsewhere: it adds parts to an archive,
//! or removes derived data before an erasure. 0.1.0 plugins are not asked (they cannot be).

use std::sync::Arc;

use serde::Serialize;

use super::abi::SUBJECT_VERSION;
use super::abi::v0_2_0::subject::{RequestKind, SubjectAnswer, SubjectRequest};
use super::invoke::with_caller;
use super::lifecycle::Installed;
use super::runtime::Runtime;
use crate::app::{Actor, App};
use crate::error::{AppError, AppResult};
use crate::store::now_ms;

pub use super::abi::v0_2_0::subject::RequestKind as Kind;

/// Parts one plugin may add to an archive.
pub const MAX_PARTS: usize = 20;
/// The longest note a plugin may put on a request's timeline.
pub const MAX_NOTE_CHARS: usize = 200;

/// One part a plugin added to an archive: its rows, checked to be a JSON array of flat objects.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub plugin: String,
    pub name: String,
    pub description: String,
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// What one plugin answered.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub plugin: String,
    pub parts: Vec<Part>,
    pub erased: u32,
    pub note: String,
}

fn refused(plugin: &str, why: impl std::fmt::Display) -> AppError {
    AppError::new(
        crate::error::ErrorKind::PluginFailed,
        "plugin_answer",
        format!("the plugin {plugin} answered the data-subject request wrongly: {why}"),
    )
}

fn name_ok(n: &str) -> bool {
    (1..=40).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A plugin's answer, checked: part names, rows that are flat objects, a one-line note.
fn checked(plugin: &str, a: SubjectAnswer) -> AppResult<Answer> {
    if a.parts.len() > MAX_PARTS {
        return Err(refused(plugin, format!("more than {MAX_PARTS} parts")));
    }
    let mut parts = Vec::new();
    for p in a.parts {
        if !name_ok(&p.name) {
            return Err(refused(plugin, "a part's name is not [a-z][a-z0-9-]{0,39}"));
        }
        let rows: Vec<serde_json::Value> = serde_json::from_str(&p.rows)
            .map_err(|_| refused(plugin, format!("part {} is not a JSON array", p.name)))?;
        let rows = rows
            .into_iter()
            .map(|r| match r {
                serde_json::Value::Object(o)
                    if o.values().all(|v| !v.is_object() && !v.is_array()) =>
                {
                    Ok(o)
                }
                _ => Err(refused(
                    plugin,
                    format!("part {} holds a row that is not a flat object", p.name),
                )),
            })
            .collect::<AppResult<Vec<_>>>()?;
        parts.push(Part {
            plugin: plugin.to_string(),
            name: p.name,
            description: p.description.chars().take(500).collect(),
            rows,
        });
    }
    if a.note.chars().count() > MAX_NOTE_CHARS || a.note.chars().any(char::is_control) {
        return Err(refused(
            plugin,
            format!("the note is not one line of at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(Answer {
        plugin: plugin.to_string(),
        parts,
        erased: a.erased,
        note: a.note,
    })
}

/// Asks every enabled 0.2.0 plugin of the tenant about `request` (`kind` for `customer`), in
/// name order; the first that fails stops the rest, and the error names it.
pub async fn ask(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    tenant: &str,
    request_id: &str,
    customer: &str,
    kind: RequestKind,
) -> AppResult<Vec<Answer>> {
    let mut answers = Vec::new();
    for row in app.store.plugins(tenant).await? {
        if row.wit_version != SUBJECT_VERSION || row.state != "enabled" {
            continue;
        }
        let p = Installed::decode(row)?;
        let actor = Actor::service(tenant, &p.row.name, format!("subject:{}", kind_name(kind)));
        let request = SubjectRequest {
            request_id: request_id.to_string(),
            customer_id: customer.to_string(),
            kind,
        };
        let answer = with_caller(app, rt, &actor, &p, now_ms(), async |prepared, caller| {
            rt.on_subject_request(prepared, caller, request).await
        })
        .await?;
        answers.push(checked(&p.row.name, answer)?);
    }
    Ok(answers)
}

fn kind_name(k: RequestKind) -> &'static str {
    match k {
        RequestKind::Access => "access",
        RequestKind::Portability => "portability",
        RequestKind::Rectification => "rectification",
        RequestKind::Erasure => "erasure",
        RequestKind::Restriction => "restriction",
        RequestKind::Objection => "objection",
    }
}
