//! The plugin's records: document types, their collections, and the small `state` document that
//! carries the running pipeline totals and the demo seeding progress.

use std::collections::{BTreeMap, BTreeSet};

use crm_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{Date, Figures, Pipeline, Stage, deal_value};

/// Advertisers: organisations, linked to a customer contact.
pub const ADVERTISERS: Collection<Advertiser> = Collection::new("advertisers");
/// Deals in the pipeline.
pub const DEALS: Collection<Deal> = Collection::new("deals");
/// Ad inventory: one document per sellable spot.
pub const SPOTS: Collection<Spot> = Collection::new("spots");
/// Bookings of spots by deals; at most one per spot.
pub const BOOKINGS: Collection<Booking> = Collection::new("bookings");
/// One document, `kind = "state"`: totals and seeding progress.
pub const STATE: Collection<State> = Collection::new("state");

/// Collections and their indexed fields, for the manifest.
pub const COLLECTIONS: [(&str, &[&str]); 5] = [
    ("advertisers", &["code", "seed"]),
    ("deals", &["ref", "stage", "advertiser", "seed"]),
    ("spots", &["key", "channel", "date", "seed"]),
    // `spot` finds the booking holding a spot with one exact-match query.
    ("bookings", &["spot", "deal", "channel", "date", "seed"]),
    ("state", &["kind"]),
];

/// An advertiser. Stored without a customer: it is an organisation, and erasing its contact
/// person must not erase the company and its deals (the contact link then simply dangles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advertiser {
    /// The demo's code (`ADV-01`), absent for advertisers created by staff.
    #[serde(default)]
    pub code: Option<String>,
    pub name: String,
    #[serde(default)]
    pub industry: String,
    /// The contact person's customer id.
    #[serde(default)]
    pub contact: Option<String>,
    /// The demo batch that wrote it (for resumable seeding).
    #[serde(default)]
    pub seed: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    /// `D-0001`: short and stable, for people and tests.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The advertiser's document id.
    pub advertiser: String,
    /// Copied from the advertiser so lists need no extra reads.
    pub advertiser_name: String,
    pub title: String,
    pub stage: Stage,
    pub probability_bp: u32,
    /// ISO 4217; every amount of the deal is in it.
    pub currency: String,
    pub budget_minor: i64,
    /// The discount on each booked spot's rate-card price.
    pub discount_bp: u32,
    /// Expected (or actual) close date, `YYYY-MM-DD`.
    pub close_date: String,
    /// Net total and count of its bookings, recomputed from them on each booking change.
    pub booked_minor: i64,
    pub bookings: u32,
    #[serde(default)]
    pub seed: Option<u32>,
}

impl Deal {
    pub fn close(&self) -> Date {
        Date::parse(&self.close_date).unwrap_or(Date::from_epoch_ms(0))
    }

    pub fn value(&self) -> i64 {
        deal_value(self.budget_minor, self.booked_minor, self.bookings)
    }

    pub fn expected(&self) -> i64 {
        crate::domain::apply_bp(self.value(), self.probability_bp)
    }

    /// What it contributes to the pipeline totals.
    pub fn figures(&self) -> Figures {
        Figures::new(
            self.stage,
            &self.currency,
            self.value(),
            self.probability_bp,
            self.close(),
        )
    }
}

/// A spot of inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spot {
    /// `SPORT-2026-03-02-PRIME-1`: channel, date, daypart, position.
    pub key: String,
    pub channel: String,
    pub programme: String,
    pub daypart: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub length_s: u32,
    /// Rate-card price.
    pub rate_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub seed: Option<u32>,
}

/// A spot sold to a deal, with its price at booking time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    /// The spot's key.
    pub spot: String,
    /// The deal's document id and reference.
    pub deal: String,
    pub deal_ref: String,
    pub channel: String,
    pub date: String,
    pub daypart: String,
    pub programme: String,
    pub length_s: u32,
    pub rate_minor: i64,
    pub discount_bp: u32,
    pub discount_minor: i64,
    pub net_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub seed: Option<u32>,
}

/// The plugin's small state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub kind: String,
    pub pipeline: Pipeline,
    /// Channel codes with inventory, and the first and last inventory dates.
    pub channels: BTreeSet<String>,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    /// The number of the next deal staff create (demo deals take the numbers below it).
    pub next_deal_no: u32,
    pub seed: SeedProgress,
}

impl Default for State {
    fn default() -> Self {
        State {
            kind: "state".into(),
            pipeline: Pipeline::default(),
            channels: BTreeSet::new(),
            first_date: None,
            last_date: None,
            next_deal_no: crate::seed::DEALS as u32 + 1,
            seed: SeedProgress::default(),
        }
    }
}

impl State {
    /// Notes inventory on `channel` at `date`.
    pub fn note_inventory(&mut self, channel: &str, date: &str) {
        self.channels.insert(channel.into());
        if self.first_date.as_deref().is_none_or(|d| date < d) {
            self.first_date = Some(date.into());
        }
        if self.last_date.as_deref().is_none_or(|d| date > d) {
            self.last_date = Some(date.into());
        }
    }
}

/// How far `seed-demo` got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedProgress {
    /// The first day of demo inventory (a Monday), fixed by the first call.
    pub anchor: Option<String>,
    /// Items of the plan done.
    pub step: usize,
    /// Document ids of the demo advertisers (by code) and deals (by reference).
    pub ids: BTreeMap<String, String>,
    pub done: bool,
}

/// The state document, if there is one yet.
pub fn load_state() -> Result<Option<Doc<State>>, Error> {
    let (docs, _) = STATE.query(Query::new().eq("kind", "state").limit(1))?;
    Ok(docs.into_iter().next())
}

/// Changes the state document with `change`, re-reading and retrying when someone else changed it
/// meanwhile (optimistic concurrency); creates it on first use. Returns the stored document.
pub fn update_state(change: impl Fn(&mut State)) -> Result<Doc<State>, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match load_state()? {
            None => {
                let mut state = State::default();
                change(&mut state);
                STATE.insert(None, &state)
            }
            Some(mut doc) => {
                change(&mut doc.data);
                STATE.replace(&doc)
            }
        };
        match result {
            Err(Error::Conflict(_)) if attempt < 3 => continue,
            other => return other,
        }
    }
}

/// A deal by document id or by reference (`D-0001`).
pub fn find_deal(id_or_ref: &str) -> Result<Doc<Deal>, Error> {
    let id_or_ref = id_or_ref.trim();
    if id_or_ref.starts_with("D-") {
        let (docs, _) = DEALS.query(Query::new().eq("ref", id_or_ref).limit(1))?;
        docs.into_iter().next().ok_or(Error::NotFound)
    } else {
        DEALS.get(id_or_ref)
    }
}

/// Every booking of a deal (paged through, 100 at a time).
pub fn deal_bookings(deal_id: &str) -> Result<Vec<Doc<Booking>>, Error> {
    let mut all = Vec::new();
    let mut query = Query::new().eq("deal", deal_id).limit(100);
    loop {
        let (docs, next) = BOOKINGS.query(query.clone())?;
        all.extend(docs);
        match next {
            Some(cursor) => query = query.after(cursor),
            None => return Ok(all),
        }
    }
}

/// Recomputes a deal's booked total from its bookings and stores it; returns the deal's old and
/// new pipeline figures (equal when nothing changed). Retries if the deal changed meanwhile.
pub fn refresh_deal_totals(deal_id: &str) -> Result<(Figures, Figures), Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut deal = DEALS.get(deal_id)?;
        let old = deal.data.figures();
        let bookings = deal_bookings(deal_id)?;
        let booked_minor = bookings.iter().map(|b| b.data.net_minor).sum();
        let count = bookings.len() as u32;
        if (deal.data.booked_minor, deal.data.bookings) == (booked_minor, count) {
            return Ok((old.clone(), old));
        }
        deal.data.booked_minor = booked_minor;
        deal.data.bookings = count;
        let new = deal.data.figures();
        match DEALS.replace(&deal) {
            Ok(_) => return Ok((old, new)),
            Err(Error::Conflict(_)) if attempt < 3 => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal() -> Deal {
        Deal {
            reference: "D-0001".into(),
            advertiser: "a1".into(),
            advertiser_name: "Lotus Foods".into(),
            title: "Spring".into(),
            stage: Stage::Proposal,
            probability_bp: 3_000,
            currency: "CNY".into(),
            budget_minor: 100_000,
            discount_bp: 0,
            close_date: "2026-04-10".into(),
            booked_minor: 0,
            bookings: 0,
            seed: None,
        }
    }

    #[test]
    fn deal_documents_round_trip_with_a_ref_field() {
        let d = deal();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["ref"], "D-0001");
        assert_eq!(json["stage"], "proposal");
        let back: Deal = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn deal_figures_use_budget_until_spots_are_booked() {
        let mut d = deal();
        assert_eq!(d.figures().value_minor, 100_000);
        assert_eq!(d.expected(), 30_000);
        d.booked_minor = 80_000;
        d.bookings = 2;
        assert_eq!(d.figures().expected_minor, 24_000);
        assert_eq!(d.figures().month, "2026-04");
    }

    #[test]
    fn state_notes_inventory_range() {
        let mut s = State::default();
        s.note_inventory("NEWS", "2026-03-05");
        s.note_inventory("SPORT", "2026-03-02");
        s.note_inventory("NEWS", "2026-03-22");
        assert_eq!(s.channels.len(), 2);
        assert_eq!(s.first_date.as_deref(), Some("2026-03-02"));
        assert_eq!(s.last_date.as_deref(), Some("2026-03-22"));
        assert_eq!(s.next_deal_no, 49);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), s);
    }

    #[test]
    fn collections_index_what_queries_use() {
        let idx = |c: &str| COLLECTIONS.iter().find(|(n, _)| *n == c).unwrap().1;
        assert!(idx("bookings").contains(&"spot"));
        assert!(idx("deals").contains(&"ref"));
        assert!(idx("spots").contains(&"key"));
        assert_eq!(STATE.name(), "state");
        assert_eq!(BOOKINGS.name(), "bookings");
        assert_eq!(SPOTS.name(), "spots");
        assert_eq!(DEALS.name(), "deals");
        assert_eq!(ADVERTISERS.name(), "advertisers");
    }
}
