//! `advertiser-deals`: advertisers, ad inventory, a deal pipeline and spot bookings for a
//! broadcaster's sales team.
//!
//! - **Screens**: `main` (home, in the menu: pipeline by stage with totals, one stage's deals,
//!   forms for a new deal and a new advertiser), `deal` (param `id`: a deal's document id or its
//!   reference `D-0001`; details, bookings, move stage, book a spot, cancel a booking),
//!   `inventory` (params `channel`, `week`, `day`: availability by channel and date),
//!   `forecast` (expected value by month, as a chart and a table).
//! - **Actions**: `new-advertiser`, `new-deal`, `move-stage`, `book-spot`, `cancel-booking`
//!   (row action, row = booking id), `seed-demo` (all write).
//! - **Collections** (indexed fields): `advertisers` (code, seed), `deals` (ref, stage,
//!   advertiser, seed), `spots` (key, channel, date, seed), `bookings` (spot, deal, channel,
//!   date, seed), `state` (kind).
//! - **Capabilities**: `customers` (advertisers' contacts), `records` (all of the above), `log`.
//!
//! Domain rules (money, basis points and rounding, stage moves, totals, dates) are in [`domain`],
//! the demo plan in [`seed`]; both are pure. A spot is never sold twice: the booking holding a
//! spot is found with one exact-match query on `bookings.spot`, and checked again right after
//! writing (the earliest booking wins; a later one is removed and refused with `conflict`,
//! naming the deal holding the spot).

pub mod domain;
pub mod screens;
pub mod seed;
pub mod store;

use std::collections::BTreeMap;

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{
    ExportPart, Param, RequestKind, SubjectAnswer, SubjectRequest, customers, log,
};

use domain::{Date, Figures, InputError, Stage, line_price};
use screens::{Contact, DayAvailability, InventoryView, MainView};
use store::{
    ADVERTISERS, Advertiser, BOOKINGS, Booking, DEALS, Deal, SPOTS, Spot, State, find_deal,
};

pub struct AdvertiserDeals;

impl Plugin for AdvertiserDeals {
    fn manifest() -> Manifest {
        let mut m = ManifestBuilder::new(
            "advertiser-deals",
            env!("CARGO_PKG_VERSION"),
            tr!("Advertiser deals", "广告客户交易"),
        )
        .description(tr!(
            "Advertisers, ad inventory, the deal pipeline and spot bookings with conflict checks.",
            "广告客户、广告库存、交易管道以及带冲突检查的广告位预订。"
        ))
        .capability(
            Capability::Customers,
            tr!(
                "Links advertisers to their contact customers and shows the contact",
                "将广告客户关联到联系人客户并显示联系人"
            ),
        )
        .capability(
            Capability::Records,
            tr!(
                "Stores advertisers, inventory, deals and bookings",
                "存储广告客户、库存、交易和预订"
            ),
        )
        .capability(
            Capability::Log,
            tr!(
                "Logs bookings and stage moves (ids only)",
                "记录预订和阶段变更（仅含编号）"
            ),
        )
        .screen("main", tr!("Advertiser deals", "广告客户交易"), true)
        .screen("deal", tr!("Deal", "交易"), false)
        .screen("inventory", tr!("Ad inventory", "广告库存"), false)
        .screen("forecast", tr!("Deal forecast", "交易预测"), false)
        .action(
            "new-advertiser",
            tr!("Add advertiser", "添加广告客户"),
            true,
        )
        .action("new-deal", tr!("Create deal", "创建交易"), true)
        .action("move-stage", tr!("Move stage", "变更阶段"), true)
        .action("book-spot", tr!("Book a spot", "预订广告位"), true)
        .action("cancel-booking", tr!("Cancel booking", "取消预订"), true)
        .action("seed-demo", tr!("Load demo data", "加载演示数据"), true);
        for (name, indexed) in store::COLLECTIONS {
            m = m.collection(name, indexed.iter().copied());
        }
        m.build()
    }

    fn render(request: ScreenRequest) -> Result<Screen, Error> {
        let p = &request.params;
        match request.screen.as_str() {
            "main" => render_main(p),
            "deal" => render_deal(p.value("id").ok_or(Error::NotFound)?),
            "inventory" => render_inventory(p),
            "forecast" => Ok(screens::forecast_screen(&current_state()?)),
            _ => Err(Error::NotFound),
        }
    }

    fn act(request: ActionRequest) -> Result<ActionOutcome, Error> {
        let inputs = &request.inputs;
        match request.action.as_str() {
            "new-advertiser" => new_advertiser(inputs),
            "new-deal" => new_deal(inputs),
            "move-stage" => move_stage(inputs),
            "book-spot" => book_spot(inputs),
            "cancel-booking" => cancel_booking(request.row.as_deref().ok_or(Error::NotFound)?),
            "seed-demo" => seed_demo(),
            _ => Err(Error::NotFound),
        }
    }

    fn on_subject_request(request: SubjectRequest) -> Result<SubjectAnswer, String> {
        subject_request(&request).map_err(|e| format!("advertiser contacts: {e:?}"))
    }
}

/// An advertiser's contact is a customer id kept on the advertiser (a company, not about the
/// person), so the host cannot find it: an archive gets the person's contact roles, and an
/// erasure unlinks them (the company and its deals stay).
fn subject_request(request: &SubjectRequest) -> Result<SubjectAnswer, Error> {
    let mut roles = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = Query::new().limit(100);
        if let Some(a) = after.take() {
            q = q.after(a);
        }
        let (page, next) = ADVERTISERS.query(q)?;
        roles.extend(
            page.into_iter()
                .filter(|a| a.data.contact.as_deref() == Some(request.customer_id.as_str())),
        );
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let n = roles.len();
    let mut answer = SubjectAnswer {
        parts: Vec::new(),
        erased: 0,
        note: String::new(),
    };
    match request.kind {
        RequestKind::Access | RequestKind::Portability => {
            let rows: Vec<serde_json::Value> = roles
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "advertiser": a.data.name,
                        "industry": a.data.industry,
                        "role": "contact person",
                        "since": a.created_at,
                    })
                })
                .collect();
            if !rows.is_empty() {
                answer.parts.push(ExportPart {
                    name: "advertiser-contacts".into(),
                    description: "Advertisers (companies) for which the person is the contact"
                        .into(),
                    rows: serde_json::to_string(&rows).map_err(|_| Error::NotFound)?,
                });
            }
            answer.note = format!("{n} advertiser contact role(s) added to the archive");
        }
        RequestKind::Erasure => {
            for mut a in roles {
                a.data.contact = None;
                ADVERTISERS.replace(&a)?;
            }
            answer.erased = u32::try_from(n).unwrap_or(u32::MAX);
            answer.note = format!("unlinked as the contact of {n} advertiser(s)");
            info(&format!(
                "subject request {}: {n} contact link(s) removed",
                request.request_id
            ));
        }
        _ => {}
    }
    Ok(answer)
}

crm_plugin_sdk::export_plugin!(AdvertiserDeals);

fn current_state() -> Result<State, Error> {
    Ok(store::load_state()?.map(|d| d.data).unwrap_or_default())
}

fn info(message: &str) {
    log::log(log::Level::Info, message);
}

// --- Screens -----------------------------------------------------------------------------------

fn render_main(p: &[Param]) -> Result<Screen, Error> {
    let stage = match p.value("stage") {
        None | Some("") => Stage::Negotiation,
        Some(code) => Stage::parse(code).ok_or(Error::NotFound)?,
    };
    let state = current_state()?;
    let after = p.value("after").filter(|a| !a.is_empty());
    let mut query = Query::new()
        .eq("stage", stage.code())
        .limit(screens::DEALS_PER_PAGE);
    if let Some(a) = after {
        query = query.after(a);
    }
    let (deals, next) = DEALS.query(query)?;
    // The select offers the first 100 advertisers.
    let (advertisers, _) = ADVERTISERS.query(Query::new().limit(100))?;
    Ok(screens::main_screen(&MainView {
        state: &state,
        stage,
        deals: &deals,
        after,
        next: next.as_deref(),
        advertisers: &advertisers,
    }))
}

fn render_deal(id: &str) -> Result<Screen, Error> {
    let deal = find_deal(id)?;
    let advertiser = ADVERTISERS.get(&deal.data.advertiser);
    let contact = match advertiser.map(|a| a.data.contact) {
        Ok(Some(customer)) => match customers::get(&customer) {
            Ok(c) => Contact::Found(c.name),
            Err(Error::NotFound) => Contact::NotFound,
            Err(Error::Denied(reason)) => Contact::Denied(reason),
            Err(e) => return Err(e),
        },
        Ok(None) | Err(Error::NotFound) => Contact::None,
        Err(e) => return Err(e),
    };
    let bookings = store::deal_bookings(&deal.id)?;
    Ok(screens::deal_screen(&deal, &contact, &bookings))
}

fn date_param(p: &[Param], name: &str) -> Result<Option<Date>, Error> {
    match p.value(name) {
        None | Some("") => Ok(None),
        Some(s) => Date::parse(s).map(Some).ok_or_else(|| {
            invalid_field(
                name,
                tr!("is not a date (YYYY-MM-DD)", "不是日期（YYYY-MM-DD）"),
            )
        }),
    }
}

fn render_inventory(p: &[Param]) -> Result<Screen, Error> {
    let state = current_state()?;
    let channel = match p.value("channel") {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => state.channels.iter().next().cloned().unwrap_or_default(),
    };
    let first = state.first_date.as_deref().and_then(Date::parse);
    let week = date_param(p, "week")?
        .or(first)
        .unwrap_or(Date::from_epoch_ms(0))
        .monday();
    let day = date_param(p, "day")?
        .filter(|d| week.days_until(*d) >= 0 && week.days_until(*d) < 7)
        .or(first.filter(|f| week.days_until(*f) >= 0 && week.days_until(*f) < 7))
        .unwrap_or(week);
    // Two exact-match queries per day: the week costs 14 host calls.
    let mut days = Vec::new();
    let mut day_spots = Vec::new();
    let mut held = BTreeMap::new();
    for n in 0..7 {
        let date = week.add_days(n).to_string();
        let by_day = |q: Query| {
            q.eq("channel", channel.as_str())
                .eq("date", date.as_str())
                .limit(100)
        };
        let (spots, _) = SPOTS.query(by_day(Query::new()))?;
        let (bookings, _) = BOOKINGS.query(by_day(Query::new()))?;
        days.push(DayAvailability {
            date: week.add_days(n),
            spots: spots.len(),
            booked: bookings.len(),
        });
        if week.add_days(n) == day {
            day_spots = spots;
            held = bookings
                .into_iter()
                .map(|b| (b.data.spot, (b.data.deal, b.data.deal_ref)))
                .collect();
        }
    }
    day_spots.sort_by(|a: &Doc<Spot>, b| a.data.key.cmp(&b.data.key));
    Ok(screens::inventory_screen(&InventoryView {
        channels: &state.channels,
        channel: &channel,
        week,
        days: &days,
        day,
        spots: &day_spots,
        held: &held,
    }))
}

// --- Actions -----------------------------------------------------------------------------------

fn input_error(e: InputError) -> Label {
    match e {
        InputError::Format => tr!("is not a number", "不是数字"),
        InputError::TooPrecise => tr!("has too many decimals", "小数位过多"),
        InputError::OutOfRange => tr!("is out of range", "超出范围"),
        InputError::Currency => tr!("is not a supported currency", "不是支持的币种"),
    }
}

/// Collects per-field errors so a form shows all of them at once.
#[derive(Default)]
struct Errors(Vec<(String, Label)>);

impl Errors {
    fn add(&mut self, field: &str, message: Label) {
        self.0.push((field.into(), message));
    }

    /// The value, or records the error and gives `None`.
    fn check<T>(&mut self, field: &str, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                for fe in e.field_errors() {
                    self.add(field, fe.message.clone());
                }
                None
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid(self.0))
        }
    }
}

fn new_advertiser(inputs: &[Param]) -> Result<ActionOutcome, Error> {
    let mut errors = Errors::default();
    let name = errors
        .check("name", inputs.required("name"))
        .map(str::to_string);
    if name.as_ref().is_some_and(|n| n.chars().count() > 120) {
        errors.add(
            "name",
            tr!("is too long (at most 120)", "过长（最多 120 个字符）"),
        );
    }
    let industry = inputs.value("industry").unwrap_or("").trim().to_string();
    if industry.chars().count() > 60 {
        errors.add(
            "industry",
            tr!("is too long (at most 60)", "过长（最多 60 个字符）"),
        );
    }
    let contact = match inputs.value("contact").map(str::trim) {
        None | Some("") => None,
        // A denied read is propagated, never hidden.
        Some(id) => match customers::get(id) {
            Ok(c) => Some(c.id),
            Err(Error::NotFound) | Err(Error::Invalid(_)) => {
                errors.add("contact", tr!("is not a known customer", "不是已知客户"));
                None
            }
            Err(e) => return Err(e),
        },
    };
    errors.finish()?;
    let name = name.unwrap_or_default();
    let doc = ADVERTISERS.insert(
        None,
        &Advertiser {
            code: None,
            name: name.clone(),
            industry,
            contact,
            seed: None,
        },
    )?;
    info(&format!("created advertiser {}", doc.id));
    Ok(refresh(
        Tone::Success,
        tr!("Added {}.", "已添加 {}。", name),
    ))
}

fn new_deal(inputs: &[Param]) -> Result<ActionOutcome, Error> {
    let mut errors = Errors::default();
    let advertiser = match errors.check("advertiser", inputs.required("advertiser")) {
        Some(id) => match ADVERTISERS.get(id) {
            Ok(a) => Some(a),
            Err(Error::NotFound) => {
                errors.add(
                    "advertiser",
                    tr!("is not a known advertiser", "不是已知广告客户"),
                );
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let title = errors
        .check("title", inputs.required("title"))
        .map(str::to_string);
    if title.as_ref().is_some_and(|t| t.chars().count() > 120) {
        errors.add(
            "title",
            tr!("is too long (at most 120)", "过长（最多 120 个字符）"),
        );
    }
    let currency = inputs.value("currency").unwrap_or("").trim().to_string();
    if domain::currency_exponent(&currency).is_none() {
        errors.add("currency", input_error(InputError::Currency));
    }
    let budget = match errors.check("budget", inputs.required("budget")) {
        Some(text) if domain::currency_exponent(&currency).is_some() => {
            match domain::parse_money(text, &currency) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.add("budget", input_error(e));
                    None
                }
            }
        }
        _ => None,
    };
    let discount_bp = match inputs.value("discount").map(str::trim) {
        None | Some("") => 0,
        Some(text) => domain::parse_percent_bp(text).unwrap_or_else(|e| {
            errors.add("discount", input_error(e));
            0
        }),
    };
    let close = errors.check("close_date", date_param(inputs, "close_date"));
    let close = match close {
        Some(Some(d)) => Some(d),
        Some(None) => {
            errors.add("close_date", tr!("is required", "为必填项"));
            None
        }
        None => None,
    };
    errors.finish()?;
    let (Some(advertiser), Some(title), Some(budget), Some(close)) =
        (advertiser, title, budget, close)
    else {
        return Err(Error::NotFound);
    };
    // Take a number for the reference first, then write the deal and its totals.
    let numbered = store::update_state(|s| s.next_deal_no += 1)?;
    let deal = Deal {
        reference: seed::deal_ref(numbered.data.next_deal_no as usize - 1),
        advertiser: advertiser.id,
        advertiser_name: advertiser.data.name,
        title,
        stage: Stage::Lead,
        probability_bp: Stage::Lead.default_probability_bp(),
        currency,
        budget_minor: budget,
        discount_bp,
        close_date: close.to_string(),
        booked_minor: 0,
        bookings: 0,
        seed: None,
    };
    let doc = DEALS.insert(None, &deal)?;
    let figures = deal.figures();
    store::update_state(|s| s.pipeline.apply(None, Some(&figures)))?;
    info(&format!("created deal {} ({})", doc.id, deal.reference));
    Ok(ActionOutcome {
        notice: Some(notice(
            Tone::Success,
            tr!("Created deal {}.", "已创建交易 {}。", deal.reference),
        )),
        next: Next::Navigate(ScreenRef::to("deal").param("id", doc.id)),
    })
}

fn move_stage(inputs: &[Param]) -> Result<ActionOutcome, Error> {
    let mut deal = find_deal(inputs.required("deal")?)?;
    let to = Stage::parse(inputs.required("stage")?)
        .ok_or_else(|| invalid_field("stage", tr!("is not a stage", "不是有效阶段")))?;
    if let Err(e) = domain::check_move(deal.data.stage, to) {
        let message = match e {
            domain::MoveError::Closed => {
                tr!("cannot change: the deal is closed", "无法变更：交易已关闭")
            }
            domain::MoveError::Same => tr!("is the current stage", "已是当前阶段"),
            domain::MoveError::Skips => tr!(
                "skips a stage: move one stage forward at a time (only negotiation can be won)",
                "跳过了阶段：每次只能前进一个阶段（只有谈判阶段可以赢单）"
            ),
        };
        return Err(invalid_field("stage", message));
    }
    let requested = match inputs.value("probability").map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            domain::parse_percent_bp(text)
                .map_err(|e| invalid_field("probability", input_error(e)))?,
        ),
    };
    let old = deal.data.figures();
    let from = deal.data.stage;
    deal.data.stage = to;
    deal.data.probability_bp = domain::probability_after_move(to, requested);
    // Fails with `conflict` if someone changed the deal since it was read: nothing is written.
    let saved = DEALS.replace(&deal)?;
    let new = saved.data.figures();
    store::update_state(|s| s.pipeline.apply(Some(&old), Some(&new)))?;
    info(&format!("deal {} moved from {from} to {to}", saved.id));
    let stage = screens::stage_label(to);
    let reference = &saved.data.reference;
    Ok(refresh(
        Tone::Success,
        Label {
            en: format!("{reference} moved to {}.", stage.en),
            zh_hans: Some(format!(
                "{reference} 已移至{}。",
                stage.zh_hans.as_deref().unwrap_or(&stage.en)
            )),
        },
    ))
}

/// The refusal of a double booking, naming the deal that holds the spot.
fn already_booked(spot: &str, holder: &Booking) -> Error {
    Error::Conflict(format!(
        "spot {spot} is already booked by deal {}",
        holder.deal_ref
    ))
}

fn book_spot(inputs: &[Param]) -> Result<ActionOutcome, Error> {
    let deal = find_deal(inputs.required("deal")?)?;
    let key = inputs.required("spot")?.to_uppercase();
    if deal.data.stage == Stage::Lost {
        return Err(invalid_field(
            "spot",
            tr!("cannot be booked for a lost deal", "输单的交易不能预订"),
        ));
    }
    let (spots, _) = SPOTS.query(Query::new().eq("key", key.as_str()).limit(1))?;
    let spot = spots.into_iter().next().ok_or_else(|| {
        invalid_field(
            "spot",
            tr!("is not a spot in the inventory", "不是库存中的广告位"),
        )
    })?;
    if spot.data.currency != deal.data.currency {
        return Err(invalid_field(
            "spot",
            tr!(
                "is priced in {}, the deal in {}",
                "以 {} 定价，而交易使用 {}",
                spot.data.currency,
                deal.data.currency
            ),
        ));
    }
    let held = Query::new().eq("spot", key.as_str());
    if let Some(b) = BOOKINGS.query(held.clone().limit(1))?.0.first() {
        return Err(already_booked(&key, &b.data));
    }
    let s = &spot.data;
    let price = line_price(s.rate_minor, deal.data.discount_bp);
    let mine = BOOKINGS.insert(
        None,
        &Booking {
            spot: key.clone(),
            deal: deal.id.clone(),
            deal_ref: deal.data.reference.clone(),
            channel: s.channel.clone(),
            date: s.date.clone(),
            daypart: s.daypart.clone(),
            programme: s.programme.clone(),
            length_s: s.length_s,
            rate_minor: price.rate_minor,
            discount_bp: deal.data.discount_bp,
            discount_minor: price.discount_minor,
            net_minor: price.net_minor,
            currency: s.currency.clone(),
            seed: None,
        },
    )?;
    // Re-check: someone may have booked the same spot between the check and the write.
    let (all, _) = BOOKINGS.query(held.limit(100))?;
    let ranked: Vec<(i64, &str)> = all.iter().map(|b| (b.created_at, b.id.as_str())).collect();
    if let Some(winner) = domain::holder(&ranked).filter(|w| *w != mine.id) {
        let winner = all.iter().find(|b| b.id == winner).map(|b| b.data.clone());
        BOOKINGS.delete(&mine.id)?;
        return Err(already_booked(&key, &winner.unwrap_or(mine.data)));
    }
    let (old, new) = store::refresh_deal_totals(&deal.id)?;
    store::update_state(|st| st.pipeline.apply(Some(&old), Some(&new)))?;
    info(&format!(
        "booked spot {key} for deal {} (booking {})",
        deal.id, mine.id
    ));
    Ok(refresh(
        Tone::Success,
        tr!(
            "Booked {} for {} {}.",
            "已预订 {}，净价 {} {}。",
            key,
            domain::format_minor(price.net_minor, &s.currency),
            s.currency
        ),
    ))
}

fn cancel_booking(id: &str) -> Result<ActionOutcome, Error> {
    let booking = BOOKINGS.get(id)?;
    BOOKINGS.delete(id)?;
    let (old, new) = store::refresh_deal_totals(&booking.data.deal)?;
    store::update_state(|st| st.pipeline.apply(Some(&old), Some(&new)))?;
    info(&format!(
        "cancelled booking {id} of deal {} (spot {})",
        booking.data.deal, booking.data.spot
    ));
    Ok(refresh(
        Tone::Success,
        tr!("Released spot {}.", "已释放广告位 {}。", booking.data.spot),
    ))
}

// --- Demo data ---------------------------------------------------------------------------------

/// Loads the demo plan one batch per call (at most 20 writes, or 12 bookings with their conflict
/// checks). Each document carries the batch's start (`seed`), so a batch that failed half-way is
/// resumed without duplicates: its documents are looked up with one query and only the missing
/// ones written. The progress and the batch's totals are then saved together in the state
/// document, in one write.
fn seed_demo() -> Result<ActionOutcome, Error> {
    let state = store::load_state()?;
    let progress = state
        .as_ref()
        .map(|d| d.data.seed.clone())
        .unwrap_or_default();
    if progress.done {
        return Ok(refresh(
            Tone::Success,
            tr!("The demo data is loaded.", "演示数据已加载。"),
        ));
    }
    let anchor = match progress.anchor.as_deref().and_then(Date::parse) {
        Some(a) => a,
        // No clock capability: the host's write time of the state document says what today is.
        None => Date::from_epoch_ms(store::update_state(|_| {})?.updated_at).monday(),
    };
    let plan = seed::Plan::new(anchor);
    let step = progress.step;
    let Some((kind, range)) = plan.batch(step) else {
        store::update_state(|s| s.seed.done = true)?;
        return Ok(done_outcome(&plan));
    };
    let tag = step as u32;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut deltas: Vec<(Option<Figures>, Option<Figures>)> = Vec::new();
    let mut inventory: Vec<(String, String)> = Vec::new();
    let ids_so_far = &progress.ids;
    let id_of = |key: &str, ids: &BTreeMap<String, String>| -> Result<String, Error> {
        ids.get(key)
            .or_else(|| ids_so_far.get(key))
            .cloned()
            .ok_or(Error::Unavailable(format!("demo item {key} is missing")))
    };
    match kind {
        seed::Kind::Advertisers => {
            let (done, _) =
                ADVERTISERS.query(Query::new().eq("seed", i64::from(tag)).limit(100))?;
            let contacts = customers::search(&customers::SearchQuery {
                region: None,
                tags: Vec::new(),
                page: 1,
                per_page: 100,
            })?
            .items;
            for i in range.clone() {
                let a = &plan.advertisers[i];
                let existing = done
                    .iter()
                    .find(|d| d.data.code.as_deref() == Some(&a.code));
                let id = match existing {
                    Some(d) => d.id.clone(),
                    None => {
                        let contact =
                            (!contacts.is_empty()).then(|| contacts[i % contacts.len()].id.clone());
                        ADVERTISERS
                            .insert(
                                None,
                                &Advertiser {
                                    code: Some(a.code.clone()),
                                    name: a.name.clone(),
                                    industry: a.industry.clone(),
                                    contact,
                                    seed: Some(tag),
                                },
                            )?
                            .id
                    }
                };
                ids.insert(a.code.clone(), id);
            }
        }
        seed::Kind::Spots => {
            let (done, _) = SPOTS.query(Query::new().eq("seed", i64::from(tag)).limit(100))?;
            for i in range.clone() {
                let s = &plan.spots[i];
                if !done.iter().any(|d| d.data.key == s.key) {
                    SPOTS.insert(
                        None,
                        &Spot {
                            key: s.key.clone(),
                            channel: s.channel.clone(),
                            programme: s.programme.clone(),
                            daypart: s.daypart.clone(),
                            date: s.date.to_string(),
                            length_s: s.length_s,
                            rate_minor: s.rate_minor,
                            currency: seed::CURRENCY.into(),
                            seed: Some(tag),
                        },
                    )?;
                }
                inventory.push((s.channel.clone(), s.date.to_string()));
            }
        }
        seed::Kind::Deals => {
            let (done, _) = DEALS.query(Query::new().eq("seed", i64::from(tag)).limit(100))?;
            for i in range.clone() {
                let d = &plan.deals[i];
                let advertiser = plan
                    .advertisers
                    .iter()
                    .find(|a| a.code == d.advertiser)
                    .map(|a| a.name.clone())
                    .unwrap_or_default();
                let deal = Deal {
                    reference: d.reference.clone(),
                    advertiser: id_of(&d.advertiser, &ids)?,
                    advertiser_name: advertiser,
                    title: d.title.clone(),
                    stage: d.stage,
                    probability_bp: d.probability_bp,
                    currency: seed::CURRENCY.into(),
                    budget_minor: d.budget_minor,
                    discount_bp: d.discount_bp,
                    close_date: d.close.to_string(),
                    booked_minor: d.booked_minor,
                    bookings: d.bookings,
                    seed: Some(tag),
                };
                let id = match done.iter().find(|x| x.data.reference == d.reference) {
                    Some(x) => x.id.clone(),
                    None => DEALS.insert(None, &deal)?.id,
                };
                // Totals are saved with the progress, so found documents count too.
                deltas.push((None, Some(deal.figures())));
                ids.insert(d.reference.clone(), id);
            }
        }
        seed::Kind::Bookings => {
            let (done, _) = BOOKINGS.query(Query::new().eq("seed", i64::from(tag)).limit(100))?;
            let mut skipped = Vec::new();
            for i in range.clone() {
                let b = &plan.bookings[i];
                let s = &plan.spots[b.spot];
                if done.iter().any(|d| d.data.spot == s.key) {
                    continue;
                }
                let deal_id = id_of(&b.deal, &ids)?;
                // Staff may have booked the spot since the inventory was loaded: it stays theirs.
                let (held, _) = BOOKINGS.query(Query::new().eq("spot", s.key.as_str()).limit(1))?;
                if !held.is_empty() {
                    skipped.push(deal_id);
                    continue;
                }
                BOOKINGS.insert(
                    None,
                    &Booking {
                        spot: s.key.clone(),
                        deal: deal_id,
                        deal_ref: b.deal.clone(),
                        channel: s.channel.clone(),
                        date: s.date.to_string(),
                        daypart: s.daypart.clone(),
                        programme: s.programme.clone(),
                        length_s: s.length_s,
                        rate_minor: b.price.rate_minor,
                        discount_bp: b.discount_bp,
                        discount_minor: b.price.discount_minor,
                        net_minor: b.price.net_minor,
                        currency: seed::CURRENCY.into(),
                        seed: Some(tag),
                    },
                )?;
            }
            // A deal missing a planned booking gets its totals from what it really has.
            skipped.dedup();
            for deal_id in skipped {
                let (old, new) = store::refresh_deal_totals(&deal_id)?;
                deltas.push((Some(old), Some(new)));
            }
        }
    }
    let next_step = step + range.len();
    let finished = plan.batch(next_step).is_none();
    store::update_state(|s| {
        if s.seed.step != step {
            return; // another call saved this batch already
        }
        s.seed.step = next_step;
        s.seed.anchor = Some(anchor.to_string());
        s.seed.ids.extend(ids.clone());
        s.seed.done = finished;
        for (old, new) in &deltas {
            s.pipeline.apply(old.as_ref(), new.as_ref());
        }
        for (channel, date) in &inventory {
            s.note_inventory(channel, date);
        }
    })?;
    info(&format!(
        "seed-demo: {kind:?} {}..{} done",
        range.start, range.end
    ));
    if finished {
        return Ok(done_outcome(&plan));
    }
    Ok(refresh(
        Tone::Info,
        tr!(
            "Loading demo data: {} of {} items.",
            "正在加载演示数据：{} / {} 项。",
            next_step,
            plan.len()
        ),
    ))
}

fn done_outcome(plan: &seed::Plan) -> ActionOutcome {
    let (spot, deal) = plan.held_spot();
    refresh(
        Tone::Success,
        tr!(
            "Demo data loaded: {} advertisers, {} spots, {} deals, {} bookings. Spot {} is booked by deal {}.",
            "演示数据已加载：{} 个广告客户、{} 个广告位、{} 笔交易、{} 个预订。广告位 {} 已由交易 {} 预订。",
            plan.advertisers.len(),
            plan.spots.len(),
            plan.deals.len(),
            plan.bookings.len(),
            spot,
            deal
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_screens_actions_collections_and_capabilities() {
        let m = AdvertiserDeals::manifest();
        assert_eq!(m.name, "advertiser-deals");
        let caps: Vec<_> = m.capabilities.iter().map(|c| c.capability.name()).collect();
        assert_eq!(caps, ["customers", "records", "log"]);
        let screens: Vec<_> = m
            .screens
            .iter()
            .map(|s| (s.name.as_str(), s.in_menu))
            .collect();
        assert_eq!(
            screens,
            [
                ("main", true),
                ("deal", false),
                ("inventory", false),
                ("forecast", false)
            ]
        );
        let actions: Vec<_> = m.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            actions,
            [
                "new-advertiser",
                "new-deal",
                "move-stage",
                "book-spot",
                "cancel-booking",
                "seed-demo"
            ]
        );
        assert!(m.actions.iter().all(|a| a.writes));
        let bookings = m.collections.iter().find(|c| c.name == "bookings").unwrap();
        assert!(bookings.indexed.contains(&"spot".to_string()));
        assert_eq!(m.collections.len(), 5);
        let labels = format!("{m:?}");
        assert!(
            !labels.contains("zh-hans: None"),
            "every label is bilingual"
        );
    }

    #[test]
    fn double_booking_refusal_names_the_holder() {
        let b = Booking {
            spot: "SPORT-2026-03-02-PRIME-1".into(),
            deal: "d1".into(),
            deal_ref: "D-0001".into(),
            channel: "SPORT".into(),
            date: "2026-03-02".into(),
            daypart: "prime".into(),
            programme: "Live Football".into(),
            length_s: 30,
            rate_minor: 1,
            discount_bp: 0,
            discount_minor: 0,
            net_minor: 1,
            currency: "CNY".into(),
            seed: None,
        };
        assert_eq!(
            already_booked("SPORT-2026-03-02-PRIME-1", &b),
            Error::Conflict(
                "spot SPORT-2026-03-02-PRIME-1 is already booked by deal D-0001".into()
            )
        );
    }

    #[test]
    fn input_errors_are_bilingual() {
        for e in [
            InputError::Format,
            InputError::TooPrecise,
            InputError::OutOfRange,
            InputError::Currency,
        ] {
            assert!(input_error(e).zh_hans.is_some());
        }
        let mut errors = Errors::default();
        errors.add("budget", input_error(InputError::Format));
        errors.add("title", tr!("is required", "为必填项"));
        let e = errors.finish().unwrap_err();
        assert_eq!(e.field_errors().len(), 2);
        assert_eq!(e.field_errors()[0].field, "budget");
        assert!(Errors::default().finish().is_ok());
    }
}
