//! Audience passes in batches: each call does one step of a campaign's preview or send and keeps
//! its cursor in the campaign's run document, so no call goes near the per-call limits
//! (100 ms, 1,000 host calls) however large the segment.

use crm_plugin_sdk::prelude::*;
use crm_plugin_sdk::{consent, customers, log};

use crate::domain::{
    self, Campaign, CampaignRun, CampaignState, Consents, Message, Phase, RunKind, Segment,
};
use crate::store::{self, CAMPAIGNS, OUTBOX, RUNS, SEGMENTS};

/// Preview: customers per search page, and pages per call (no writes but the run document).
const PREVIEW_PER_PAGE: u32 = 50;
const PREVIEW_PAGES_PER_CALL: u32 = 2;
/// Send: customers per call, so at most this many outbox inserts per call.
const SEND_PER_PAGE: u32 = 20;
/// Delivery: queued messages per call (a consent check and a replace each).
const DELIVER_BATCH: u32 = 12;

/// What a step did: whether the pass is finished, and a notice for staff.
pub struct Step {
    pub done: bool,
    pub notice: Label,
}

impl Step {
    fn more(notice: Label) -> Self {
        Step {
            done: false,
            notice,
        }
    }

    fn done(notice: Label) -> Self {
        Step { done: true, notice }
    }

    /// As an action outcome: `Info` while more remains, `Success` when finished.
    pub fn outcome(self) -> ActionOutcome {
        refresh(
            if self.done { Tone::Success } else { Tone::Info },
            self.notice,
        )
    }
}

/// One step of counting a campaign's audience. Starts a fresh count unless one is under way.
pub fn preview_step(campaign_id: &str) -> Result<Step, Error> {
    let mut campaign = store::campaign(campaign_id)?;
    if campaign.data.state != CampaignState::Draft {
        return Ok(Step::done(tr!(
            "Only a draft is previewed: this campaign's audience was counted when it was sent.",
            "只有草稿可以预览：此活动的受众已在发送时统计。"
        )));
    }
    let segment = SEGMENTS.get(&campaign.data.segment_id)?;
    let mut run = match store::find_run(campaign_id, RunKind::Preview)? {
        Some(mut doc) if doc.data.phase == Phase::Done => {
            doc.data = CampaignRun::start(campaign_id, RunKind::Preview, PREVIEW_PER_PAGE);
            doc
        }
        Some(doc) => doc,
        None => RUNS.insert(
            None,
            &CampaignRun::start(campaign_id, RunKind::Preview, PREVIEW_PER_PAGE),
        )?,
    };
    for _ in 0..PREVIEW_PAGES_PER_CALL {
        let page = search(&segment.data, &run.data)?;
        let spec = &campaign.data.spec;
        let mut ids = Vec::with_capacity(page.items.len());
        for c in &page.items {
            if run.data.cursor.is_fresh(&c.id) {
                run.data.counts.record(outcome(&segment.data, c, spec));
            }
            ids.push(c.id.clone());
        }
        run.data.cursor.advance(ids, page.total);
        if run.data.cursor.done {
            break;
        }
    }
    if run.data.cursor.done {
        run.data.phase = Phase::Done;
    }
    let run = RUNS.replace(&run)?;
    let counts = &run.data.counts;
    if !run.data.cursor.done {
        return Ok(Step::more(tr!(
            "Counted {} of {} customers; continue to count the rest.",
            "已统计 {} / {} 位客户；请继续统计其余客户。",
            run.data.cursor.progress(),
            run.data.cursor.total
        )));
    }
    campaign.data.preview = Some(counts.clone());
    CAMPAIGNS.replace(&campaign)?;
    Ok(Step::done(tr!(
        "Audience counted: {} eligible, {} excluded.",
        "受众统计完成：{} 位符合条件，{} 位被排除。",
        counts.eligible,
        counts.excluded_total()
    )))
}

/// One step of sending a campaign: first queue messages page by page, then deliver the queue.
pub fn send_step(campaign_id: &str) -> Result<Step, Error> {
    let mut campaign = store::campaign(campaign_id)?;
    match campaign.data.state {
        CampaignState::Sent => {
            return Ok(Step::done(tr!(
                "This campaign was already sent.",
                "此活动已发送。"
            )));
        }
        CampaignState::Draft => {
            // No more edits from here on; the state change comes first so a failed step leaves
            // the campaign visibly in progress.
            campaign.data.state = CampaignState::Sending;
            campaign = CAMPAIGNS.replace(&campaign)?;
        }
        CampaignState::Sending => {}
    }
    let run = match store::find_run(campaign_id, RunKind::Send)? {
        Some(run) => run,
        None => RUNS.insert(
            None,
            &CampaignRun::start(campaign_id, RunKind::Send, SEND_PER_PAGE),
        )?,
    };
    match run.data.phase {
        Phase::Audience => queue_page(campaign, run),
        Phase::Deliver | Phase::Done => deliver_batch(campaign, run),
    }
}

/// Queues one page of the segment's eligible customers. The run document is advanced first (a
/// second caller on the same page then fails with `conflict` instead of queueing twice).
fn queue_page(mut campaign: Doc<Campaign>, mut run: Doc<CampaignRun>) -> Result<Step, Error> {
    let segment = SEGMENTS.get(&campaign.data.segment_id)?;
    let page = search(&segment.data, &run.data)?;
    let spec = campaign.data.spec.clone();
    let mut recipients = Vec::new();
    let mut ids = Vec::with_capacity(page.items.len());
    for c in &page.items {
        if run.data.cursor.is_fresh(&c.id) {
            let outcome = outcome(&segment.data, c, &spec);
            if outcome == Some(Ok(())) {
                recipients.push(c);
            }
            run.data.counts.record(outcome);
        }
        ids.push(c.id.clone());
    }
    let before = run.clone();
    run.data.cursor.advance(ids, page.total);
    if run.data.cursor.done {
        run.data.phase = Phase::Deliver;
    }
    let run = RUNS.replace(&run)?;
    let mut queued = 0u64;
    let result = recipients.iter().try_for_each(|c| {
        let message = Message {
            campaign_id: campaign.id.clone(),
            state: domain::DeliveryState::Queued,
            failure: None,
            channel: spec.channel,
            region: c.region.into(),
            subject: domain::render(&spec.subject, &c.name, &spec.fallback),
            body: domain::render(&spec.template, &c.name, &spec.fallback),
        };
        OUTBOX.insert(Some(&c.id), &message)?;
        queued += 1;
        Ok::<_, Error>(())
    });
    if let Err(e) = result {
        if queued == 0 {
            // Nothing written: put the cursor back so the page is tried again.
            let _ = RUNS.replace(&Doc {
                version: run.version,
                ..before
            });
        } else {
            campaign.data.delivery.queued += queued;
            let _ = CAMPAIGNS.replace(&campaign);
        }
        return Err(e);
    }
    campaign.data.delivery.queued += queued;
    CAMPAIGNS.replace(&campaign)?;
    log::log(
        log::Level::Info,
        &format!(
            "campaign {}: queued {queued} messages from page {}",
            campaign.id,
            run.data.cursor.next_page - 1
        ),
    );
    Ok(Step::more(tr!(
        "Queued {} messages; {} of {} customers checked. Continue to send.",
        "已排队 {} 条消息；已检查 {} / {} 位客户。请继续发送。",
        queued,
        run.data.cursor.progress(),
        run.data.cursor.total
    )))
}

/// Takes a batch of queued messages through (simulated) delivery, checking each customer's
/// consent again through the `consent` capability first. Marks the campaign sent when the queue
/// is empty.
fn deliver_batch(mut campaign: Doc<Campaign>, mut run: Doc<CampaignRun>) -> Result<Step, Error> {
    let (queued, _) = OUTBOX.query(
        Query::new()
            .eq("campaign_id", campaign.id.as_str())
            .eq("state", domain::DeliveryState::Queued.code())
            .limit(DELIVER_BATCH),
    )?;
    if queued.is_empty() {
        run.data.phase = Phase::Done;
        RUNS.replace(&run)?;
        campaign.data.state = CampaignState::Sent;
        campaign.data.sent_audience = Some(run.data.counts.clone());
        campaign.data.delivery.queued = 0;
        let campaign = CAMPAIGNS.replace(&campaign)?;
        let d = &campaign.data.delivery;
        log::log(
            log::Level::Info,
            &format!(
                "campaign {}: sent {}, failed {}",
                campaign.id, d.sent, d.failed
            ),
        );
        return Ok(Step::done(tr!(
            "Campaign sent: {} delivered, {} failed.",
            "活动已发送：{} 条送达，{} 条失败。",
            d.sent,
            d.failed
        )));
    }
    let purpose = campaign.data.spec.purpose.clone();
    let mut moved = 0;
    for mut msg in queued {
        let outcome = match msg.customer.as_deref() {
            Some(customer) => match consent::purposes(customer) {
                Ok(states) => domain::deliver(
                    &campaign.id,
                    customer,
                    msg.data.region,
                    &Consents::from_states(&states),
                    &purpose,
                ),
                // Erased meanwhile: its message goes with it.
                Err(Error::NotFound) => continue,
                Err(e) => return Err(e),
            },
            None => Err(domain::Failure::ConsentChanged),
        };
        msg.data.state = match outcome {
            Ok(()) => domain::DeliveryState::Sent,
            Err(_) => domain::DeliveryState::Failed,
        };
        msg.data.failure = outcome.err();
        match OUTBOX.replace(&msg) {
            Ok(_) => {}
            // Another call delivered it first.
            Err(Error::Conflict(_)) => continue,
            Err(e) => {
                if moved > 0 {
                    let _ = CAMPAIGNS.replace(&campaign);
                }
                return Err(e);
            }
        }
        campaign.data.delivery.delivered(outcome);
        moved += 1;
    }
    let campaign = CAMPAIGNS.replace(&campaign)?;
    let d = &campaign.data.delivery;
    Ok(Step::more(tr!(
        "Delivered a batch: {} sent, {} failed, {} still queued. Continue to send.",
        "已投递一批：{} 条已发送，{} 条失败，{} 条仍在排队。请继续发送。",
        d.sent,
        d.failed,
        d.queued
    )))
}

/// The next page of the segment's customers for a run. The search applies what it can (one
/// region, required tags); [`outcome`] checks the rest.
fn search(segment: &Segment, run: &CampaignRun) -> Result<customers::CustomerPage, Error> {
    customers::search(&customers::SearchQuery {
        region: segment.rule.search_region().map(Into::into),
        tags: segment.rule.tags_all.clone(),
        page: run.cursor.next_page,
        per_page: run.cursor.per_page,
    })
}

/// `None` when the customer is not in the segment, else whether they get the message.
fn outcome(
    segment: &Segment,
    c: &Customer,
    spec: &domain::CampaignSpec,
) -> Option<Result<(), domain::Exclusion>> {
    segment
        .rule
        .matches(c.region.into(), &c.tags)
        .then(|| domain::eligibility(c, spec.channel, &spec.purpose))
}
