//! The plugin's records: plans, subscriptions (each about its subscriber) and the one summary
//! document. Host errors (a `denied` above all) are returned as they are, never swallowed.

use crm_plugin_sdk::prelude::*;

use crate::domain::{Plan, Subscription};
use crate::stats::Summary;

pub const PLANS: Collection<Plan> = Collection::new("plans");
pub const SUBSCRIPTIONS: Collection<Subscription> = Collection::new("subscriptions");
pub const SUMMARY: Collection<Summary> = Collection::new("summary");

/// The indexed fields of each collection, for the manifest.
pub const COLLECTIONS: [(&str, &[&str]); 3] = [
    ("plans", &["code", "currency"]),
    (
        "subscriptions",
        &["state", "plan", "at_risk", "due_day", "seed_batch"],
    ),
    ("summary", &["key"]),
];

/// Every plan (a handful: one page), ordered by currency then price.
pub fn plans() -> Result<Vec<Plan>, Error> {
    let (docs, _) = PLANS.query(Query::new().limit(100))?;
    let mut plans: Vec<Plan> = docs.into_iter().map(|d| d.data).collect();
    plans.sort_by(|a, b| {
        (&a.currency, a.arr_minor(), &a.code).cmp(&(&b.currency, b.arr_minor(), &b.code))
    });
    Ok(plans)
}

pub fn plan(code: &str) -> Result<Option<Plan>, Error> {
    let (docs, _) = PLANS.query(Query::new().eq("code", code).limit(1))?;
    Ok(docs.into_iter().next().map(|d| d.data))
}

/// The summary document, if it exists yet (rendering never creates it).
pub fn summary() -> Result<Option<Doc<Summary>>, Error> {
    let (docs, _) = SUMMARY.query(Query::new().eq("key", Summary::KEY).limit(1))?;
    Ok(docs.into_iter().next())
}

/// Applies `change` to the summary and stores it, creating the document the first time. A
/// concurrent writer makes the replace fail with `conflict`: read again and re-apply (the
/// changes are additions, so applying them to the newer document is right).
pub fn update_summary(mut change: impl FnMut(&mut Summary)) -> Result<Summary, Error> {
    for _ in 0..3 {
        let result = match summary()? {
            Some(mut doc) => {
                change(&mut doc.data);
                SUMMARY.replace(&doc)
            }
            None => {
                let mut fresh = Summary::default();
                change(&mut fresh);
                SUMMARY.insert(None, &fresh)
            }
        };
        match result {
            Ok(doc) => return Ok(doc.data),
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(
        "the summary kept changing; try again".into(),
    ))
}

/// Stores a changed subscription and adds its new history entries (from index `from`) to the
/// summary. `conflict` if someone changed the subscription since it was read.
pub fn save(doc: &Doc<Subscription>, from: usize) -> Result<Doc<Subscription>, Error> {
    let saved = SUBSCRIPTIONS.replace(doc)?;
    update_summary(|s| s.record_from(&saved.data, from))?;
    Ok(saved)
}

/// Page `page` (1-based) of the subscriptions matching `query`, `per_page` to a page, and
/// whether more follow. Records page by cursor, so earlier pages are read and skipped; each read
/// decrypts what it returns, so pages are read at the size shown, never more.
pub fn page(
    query: Query,
    page: u32,
    per_page: u32,
) -> Result<(Vec<Doc<Subscription>>, bool), Error> {
    let mut query = query.limit(per_page);
    for _ in 1..page.max(1) {
        match SUBSCRIPTIONS.query(query.clone())?.1 {
            Some(cursor) => query = query.after(cursor),
            None => return Ok((Vec::new(), false)),
        }
    }
    let (rows, next) = SUBSCRIPTIONS.query(query)?;
    Ok((rows, next.is_some()))
}
