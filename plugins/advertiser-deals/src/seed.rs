//! The demo data plan, pure and deterministic: advertisers, three weeks of inventory for three
//! channels, deals across every stage and bookings. `seed-demo` walks it in small batches (see
//! [`Plan::batch`]); everything is derived from the first day of inventory (the anchor), so a
//! resumed run plans exactly the same items.

use crate::domain::{Date, FULL_BP, LinePrice, Stage, line_price};

/// The currency of the demo data.
pub const CURRENCY: &str = "CNY";
/// Days of inventory.
pub const DAYS: i64 = 21;
/// Spot positions in each daypart break.
pub const POSITIONS: u32 = 2;
pub const ADVERTISERS: usize = 36;
pub const DEALS: usize = 48;
/// Writes per `seed-demo` call for one-write items (advertisers, spots, deals).
pub const BATCH: usize = 20;
/// Bookings per call: each costs a conflict query besides its write.
pub const BOOKING_BATCH: usize = 12;

/// The demo channels: (code, programmes by daypart, price factor in %).
pub const CHANNELS: [(&str, [&str; 4], i64); 3] = [
    (
        "NEWS",
        [
            "Morning Briefing",
            "Midday Report",
            "Evening News",
            "Night Desk",
        ],
        100,
    ),
    (
        "SPORT",
        [
            "Sports Wake-up",
            "Match Replay",
            "Live Football",
            "Highlights",
        ],
        130,
    ),
    (
        "DRAMA",
        [
            "Breakfast Serial",
            "Afternoon Classics",
            "Prime Drama",
            "Late Movie",
        ],
        110,
    ),
];

/// Dayparts with the rate-card price of a 30-second spot on a 100 % channel, in CNY minor units.
pub const DAYPARTS: [(&str, i64); 4] = [
    ("morning", 1_200_000),
    ("daytime", 800_000),
    ("prime", 6_000_000),
    ("late", 1_500_000),
];

const PREFIXES: [&str; 12] = [
    "Jade River",
    "Golden Peak",
    "Blue Harbour",
    "Red Lantern",
    "Silver Birch",
    "Evergreen",
    "Northwind",
    "Sunrise",
    "Lotus",
    "Summit",
    "Pearl Bay",
    "Crescent",
];

/// (name suffix, industry)
const SECTORS: [(&str, &str); 6] = [
    ("Motors", "Automotive"),
    ("Foods", "Food & beverage"),
    ("Telecom", "Telecommunications"),
    ("Insurance", "Financial services"),
    ("Beauty", "Cosmetics"),
    ("Travel", "Travel & tourism"),
];

/// The stages of the demo deals, cycled: 12 won, 12 lead, 12 proposal, 8 negotiation, 4 lost.
const STAGE_CYCLE: [Stage; 12] = [
    Stage::Won,
    Stage::Lead,
    Stage::Proposal,
    Stage::Negotiation,
    Stage::Lead,
    Stage::Won,
    Stage::Proposal,
    Stage::Lost,
    Stage::Negotiation,
    Stage::Lead,
    Stage::Won,
    Stage::Proposal,
];

const CAMPAIGNS: [&str; 6] = [
    "Spring launch",
    "Brand awareness",
    "Summer promotion",
    "Holiday season",
    "New product",
    "Sponsorship",
];

const DISCOUNTS_BP: [u32; 5] = [0, 500, 1_000, 1_250, 1_500];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertiserPlan {
    pub code: String,
    pub name: String,
    pub industry: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotPlan {
    pub key: String,
    pub channel: String,
    pub programme: String,
    pub daypart: String,
    pub date: Date,
    pub length_s: u32,
    pub rate_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealPlan {
    pub reference: String,
    pub advertiser: String,
    pub title: String,
    pub stage: Stage,
    pub probability_bp: u32,
    pub budget_minor: i64,
    pub discount_bp: u32,
    pub close: Date,
    /// Net total and count of the deal's planned bookings.
    pub booked_minor: i64,
    pub bookings: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingPlan {
    pub deal: String,
    /// Index into [`Plan::spots`].
    pub spot: usize,
    pub discount_bp: u32,
    pub price: LinePrice,
}

/// One kind of item to seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Advertisers,
    Spots,
    Deals,
    Bookings,
}

/// Everything the demo seeds.
#[derive(Debug, Clone)]
pub struct Plan {
    pub anchor: Date,
    pub advertisers: Vec<AdvertiserPlan>,
    pub spots: Vec<SpotPlan>,
    pub deals: Vec<DealPlan>,
    pub bookings: Vec<BookingPlan>,
}

/// A spot's key, unique and readable: `SPORT-2026-03-02-PRIME-1`.
pub fn spot_key(channel: &str, date: Date, daypart: &str, position: u32) -> String {
    format!("{channel}-{date}-{}-{position}", daypart.to_uppercase())
}

/// A deal's reference: `D-0001`.
pub fn deal_ref(n: usize) -> String {
    format!("D-{n:04}")
}

impl Plan {
    /// The plan for inventory starting on `anchor` (a Monday).
    pub fn new(anchor: Date) -> Plan {
        let advertisers = (0..ADVERTISERS)
            .map(|i| {
                // For one prefix (i, i+12, i+24) the sectors differ, so names are unique.
                let (suffix, industry) = SECTORS[(i + 2 * (i / 12)) % SECTORS.len()];
                AdvertiserPlan {
                    code: format!("ADV-{:02}", i + 1),
                    name: format!("{} {suffix}", PREFIXES[i % PREFIXES.len()]),
                    industry: industry.into(),
                }
            })
            .collect();

        let mut spots = Vec::new();
        for day in 0..DAYS {
            let date = anchor.add_days(day);
            let weekend = date.weekday() >= 5;
            for (channel, programmes, factor) in CHANNELS {
                for (d, (daypart, base)) in DAYPARTS.iter().enumerate() {
                    for position in 1..=POSITIONS {
                        // Odd positions are 30 s, even ones 15 s at 60 % of the price; weekend
                        // sport costs 20 % more.
                        let length_s = if position % 2 == 1 { 30 } else { 15 };
                        let mut rate = base * factor / 100;
                        if length_s == 15 {
                            rate = rate * 60 / 100;
                        }
                        if weekend && channel == "SPORT" {
                            rate = rate * 120 / 100;
                        }
                        spots.push(SpotPlan {
                            key: spot_key(channel, date, daypart, position),
                            channel: channel.into(),
                            programme: programmes[d].into(),
                            daypart: (*daypart).into(),
                            date,
                            length_s,
                            rate_minor: rate,
                        });
                    }
                }
            }
        }

        let mut deals: Vec<DealPlan> = (0..DEALS)
            .map(|i| {
                let stage = STAGE_CYCLE[i % STAGE_CYCLE.len()];
                let probability_bp = if stage.is_closed() {
                    stage.default_probability_bp()
                } else {
                    stage.default_probability_bp() + (i % 3) as u32 * 500
                };
                // Won and lost deals closed in the last weeks; open ones close over four months.
                let close = if stage.is_closed() {
                    anchor.add_days(-((i * 5 % 40) as i64))
                } else {
                    anchor.add_days((i * 11 % 120) as i64 + 7)
                };
                DealPlan {
                    reference: deal_ref(i + 1),
                    advertiser: format!("ADV-{:02}", i % ADVERTISERS + 1),
                    title: format!("{} {}", CAMPAIGNS[i % CAMPAIGNS.len()], 2026 + (i / 40)),
                    stage,
                    probability_bp: probability_bp.min(FULL_BP),
                    budget_minor: (50_000 + (i * 7_919 % 20) as i64 * 25_000) * 100,
                    discount_bp: DISCOUNTS_BP[i % DISCOUNTS_BP.len()],
                    close,
                    booked_minor: 0,
                    bookings: 0,
                }
            })
            .collect();

        let bookings = plan_bookings(&spots, &mut deals);
        Plan {
            anchor,
            advertisers,
            spots,
            deals,
            bookings,
        }
    }

    /// Items in all.
    pub fn len(&self) -> usize {
        self.advertisers.len() + self.spots.len() + self.deals.len() + self.bookings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch starting at `step` (items done so far): its kind and the range of that kind's
    /// items. A batch never mixes kinds; `None` when everything is done.
    pub fn batch(&self, step: usize) -> Option<(Kind, std::ops::Range<usize>)> {
        let kinds = [
            (Kind::Advertisers, self.advertisers.len(), BATCH),
            (Kind::Spots, self.spots.len(), BATCH),
            (Kind::Deals, self.deals.len(), BATCH),
            (Kind::Bookings, self.bookings.len(), BOOKING_BATCH),
        ];
        let mut start = 0;
        for (kind, len, size) in kinds {
            if step < start + len {
                let from = step - start;
                return Some((kind, from..(from + size).min(len)));
            }
            start += len;
        }
        None
    }

    /// The spot the demo's first won deal holds, to try a double booking on.
    pub fn held_spot(&self) -> (&str, &str) {
        let b = &self.bookings[0];
        (&self.spots[b.spot].key, &b.deal)
    }
}

/// Bookings for proposal (1 spot), negotiation (2) and won (4) deals. The first won deal fills
/// SPORT's prime time on the first two days; the others take spots spread over the weeks by a
/// fixed stride, each spot at most once.
fn plan_bookings(spots: &[SpotPlan], deals: &mut [DealPlan]) -> Vec<BookingPlan> {
    let prime: Vec<usize> = (0..spots.len())
        .filter(|&i| {
            spots[i].channel == "SPORT"
                && spots[i].daypart == "prime"
                && spots[i].date < spots[0].date.add_days(2)
        })
        .collect();
    let mut taken = vec![false; spots.len()];
    let mut cursor = 0usize;
    let mut bookings = Vec::new();
    let mut first_won = true;
    for deal in deals.iter_mut() {
        let count = match deal.stage {
            Stage::Proposal => 1,
            Stage::Negotiation => 2,
            Stage::Won => 4,
            Stage::Lead | Stage::Lost => 0,
        };
        let chosen: Vec<usize> = if deal.stage == Stage::Won && first_won {
            first_won = false;
            prime.clone()
        } else {
            let mut chosen = Vec::new();
            while chosen.len() < count {
                // 37 is coprime with the number of spots (504), so the walk visits each once.
                let i = (cursor * 37 + 5) % spots.len();
                cursor += 1;
                if !taken[i] && !prime.contains(&i) {
                    chosen.push(i);
                }
            }
            chosen
        };
        for i in chosen {
            taken[i] = true;
            let price = line_price(spots[i].rate_minor, deal.discount_bp);
            deal.booked_minor += price.net_minor;
            deal.bookings += 1;
            bookings.push(BookingPlan {
                deal: deal.reference.clone(),
                spot: i,
                discount_bp: deal.discount_bp,
                price,
            });
        }
    }
    bookings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn plan() -> Plan {
        Plan::new(Date::parse("2026-03-02").unwrap())
    }

    #[test]
    fn sizes_match_the_spec() {
        let p = plan();
        assert_eq!(p.advertisers.len(), ADVERTISERS);
        assert_eq!(
            p.spots.len(),
            DAYS as usize * CHANNELS.len() * DAYPARTS.len() * POSITIONS as usize
        );
        assert_eq!(p.deals.len(), DEALS);
        for stage in Stage::ALL {
            assert!(
                p.deals.iter().filter(|d| d.stage == stage).count() >= 4,
                "{stage}"
            );
        }
        assert!(p.bookings.len() >= 50, "{}", p.bookings.len());
    }

    #[test]
    fn names_keys_and_refs_are_unique() {
        let p = plan();
        let names: BTreeSet<_> = p.advertisers.iter().map(|a| &a.name).collect();
        assert_eq!(names.len(), ADVERTISERS);
        let keys: BTreeSet<_> = p.spots.iter().map(|s| &s.key).collect();
        assert_eq!(keys.len(), p.spots.len());
        let refs: BTreeSet<_> = p.deals.iter().map(|d| &d.reference).collect();
        assert_eq!(refs.len(), DEALS);
        assert!(
            p.deals
                .iter()
                .all(|d| p.advertisers.iter().any(|a| a.code == d.advertiser))
        );
    }

    #[test]
    fn no_spot_is_sold_twice_and_totals_match() {
        let p = plan();
        let spots: BTreeSet<_> = p.bookings.iter().map(|b| b.spot).collect();
        assert_eq!(spots.len(), p.bookings.len());
        for d in &p.deals {
            let mine: Vec<_> = p
                .bookings
                .iter()
                .filter(|b| b.deal == d.reference)
                .collect();
            assert_eq!(mine.len() as u32, d.bookings);
            assert_eq!(
                mine.iter().map(|b| b.price.net_minor).sum::<i64>(),
                d.booked_minor
            );
            if matches!(d.stage, Stage::Lead | Stage::Lost) {
                assert!(mine.is_empty());
            }
        }
    }

    #[test]
    fn the_held_spot_is_sport_prime_on_the_first_day() {
        let p = plan();
        assert_eq!(p.held_spot(), ("SPORT-2026-03-02-PRIME-1", "D-0001"));
        assert_eq!(p.deals[0].stage, Stage::Won);
        // D-0001 fills SPORT prime time on the first two days.
        assert_eq!(p.deals[0].bookings, 4);
    }

    #[test]
    fn prices_follow_the_rate_card() {
        let p = plan();
        let s = p.spots.iter().find(|s| s.key == "NEWS-2026-03-02-PRIME-1");
        assert_eq!(s.unwrap().rate_minor, 6_000_000);
        let s = p.spots.iter().find(|s| s.key == "NEWS-2026-03-02-PRIME-2");
        assert_eq!(
            (s.unwrap().length_s, s.unwrap().rate_minor),
            (15, 3_600_000)
        );
        // 2026-03-07 is a Saturday: weekend sport +20 %.
        let s = p.spots.iter().find(|s| s.key == "SPORT-2026-03-07-PRIME-1");
        assert_eq!(s.unwrap().rate_minor, 9_360_000);
    }

    #[test]
    fn batches_cover_every_item_once_without_mixing_kinds() {
        let p = plan();
        let mut step = 0;
        let mut calls = 0;
        while let Some((kind, range)) = p.batch(step) {
            assert!(!range.is_empty());
            let max = if kind == Kind::Bookings {
                BOOKING_BATCH
            } else {
                BATCH
            };
            assert!(range.len() <= max);
            step += range.len();
            calls += 1;
        }
        assert_eq!(step, p.len());
        assert!(calls < 200, "{calls} calls");
        assert_eq!(p.batch(0), Some((Kind::Advertisers, 0..BATCH)));
        assert_eq!(
            p.batch(ADVERTISERS),
            Some((Kind::Spots, 0..BATCH)),
            "a new kind starts a new batch"
        );
    }

    #[test]
    fn the_plan_is_deterministic() {
        let a = plan();
        let b = plan();
        assert_eq!(a.deals, b.deals);
        assert_eq!(a.bookings, b.bookings);
    }
}
