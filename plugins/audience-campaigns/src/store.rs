//! The plugin's collections (capability `records`) and the few lookups the screens and actions
//! share. Names and indexed fields here match the manifest.

use crm_plugin_sdk::prelude::*;

use crate::domain::{Campaign, CampaignRun, Message, RunKind, Segment};
use crate::seed::DemoProgress;

/// Segments; few, listed whole (at most [`SEGMENT_LIMIT`]).
pub const SEGMENTS: Collection<Segment> = Collection::new("segments");
/// Campaigns with their summary counts; indexed on `state` and `segment_id`.
pub const CAMPAIGNS: Collection<Campaign> = Collection::new("campaigns");
/// One progress document per campaign and pass; indexed on `campaign_id` and `kind`.
pub const RUNS: Collection<CampaignRun> = Collection::new("campaign_runs");
/// Per-recipient messages, about their customer; indexed on `campaign_id` and `state`.
pub const OUTBOX: Collection<Message> = Collection::new("outbox");
/// The progress of `seed-demo` (one document).
pub const DEMO: Collection<DemoProgress> = Collection::new("demo_progress");

/// `(collection, indexed fields)` for the manifest.
pub const DECLARED: [(&str, &[&str]); 5] = [
    ("segments", &[]),
    ("campaigns", &["state", "segment_id"]),
    ("campaign_runs", &["campaign_id", "kind"]),
    ("outbox", &["campaign_id", "state"]),
    ("demo_progress", &[]),
];

/// Segments shown in lists and offered in the campaign builder.
pub const SEGMENT_LIMIT: u32 = 100;

/// The run of `kind` for a campaign, if one was started.
pub fn find_run(campaign_id: &str, kind: RunKind) -> Result<Option<Doc<CampaignRun>>, Error> {
    let (docs, _) = RUNS.query(
        Query::new()
            .eq("campaign_id", campaign_id)
            .eq("kind", kind.code())
            .limit(1),
    )?;
    Ok(docs.into_iter().next())
}

/// Every segment (up to [`SEGMENT_LIMIT`]), oldest first.
pub fn all_segments() -> Result<Vec<Doc<Segment>>, Error> {
    Ok(SEGMENTS.query(Query::new().limit(SEGMENT_LIMIT))?.0)
}

/// A campaign by id; an id of another collection or a bad id is simply not found.
pub fn campaign(id: &str) -> Result<Doc<Campaign>, Error> {
    CAMPAIGNS.get(id)
}
