//! `seed-demo`: demo segments and campaigns, one of them sent through the real send pipeline.
//! Resumable in small steps: a progress document records what exists, each call does one step
//! (a few inserts, or one batch of a preview or send), and returns `Info` until all is done.

use crm_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{Campaign, CampaignSpec, Channel, Region, Segment, SegmentRule};
use crate::run;
use crate::store::{CAMPAIGNS, DEMO, SEGMENTS};

/// What `seed-demo` has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoProgress {
    pub segments: Vec<String>,
    pub campaigns: Vec<String>,
    /// Demo campaign 0 has been sent.
    pub sent: bool,
    /// How many of the draft demo campaigns have a finished preview.
    pub previewed: usize,
}

/// Inserts per call (each insert is followed by a progress update: twice this many writes).
const INSERTS_PER_CALL: usize = 5;

fn tags(ts: &[&str]) -> Vec<String> {
    ts.iter().map(|t| t.to_string()).collect()
}

/// The demo segments.
pub fn demo_segments() -> Vec<Segment> {
    vec![
        Segment {
            name: "EU sports fans".into(),
            rule: SegmentRule {
                regions: vec![Region::Eu],
                tags_all: tags(&["sports"]),
                tags_none: Vec::new(),
            },
        },
        Segment {
            name: "China premium viewers".into(),
            rule: SegmentRule {
                regions: vec![Region::Cn],
                tags_all: tags(&["premium"]),
                tags_none: Vec::new(),
            },
        },
        Segment {
            name: "US families".into(),
            rule: SegmentRule {
                regions: vec![Region::Us],
                tags_all: tags(&["family"]),
                tags_none: Vec::new(),
            },
        },
        Segment {
            name: "Churn risk, not VIP".into(),
            rule: SegmentRule {
                regions: Vec::new(),
                tags_all: tags(&["churn-risk"]),
                tags_none: tags(&["vip"]),
            },
        },
    ]
}

/// The demo campaigns, for the segments' ids in [`demo_segments`] order. The first is sent.
pub fn demo_campaigns(segment_ids: &[String]) -> Vec<CampaignSpec> {
    let spec = |seg: usize,
                name: &str,
                channel: Channel,
                subject: &str,
                template: &str,
                fallback: &str,
                send_on: &str| CampaignSpec {
        name: name.into(),
        segment_id: segment_ids[seg].clone(),
        channel,
        purpose: format!("marketing_{}", channel.code()),
        subject: subject.into(),
        template: template.into(),
        fallback: fallback.into(),
        send_on: send_on.into(),
        send_at: "18:00".into(),
    };
    vec![
        spec(
            0,
            "Champions League kick-off",
            Channel::Email,
            "{{first_name}}, the new season starts tonight",
            "Hi {{first_name}}, every Champions League match is live on Sports HD from tonight. \
             Kick-off 21:00 — see you there!",
            "there",
            "2026-03-02",
        ),
        spec(
            1,
            "Spring Festival premium offer",
            Channel::Sms,
            "",
            "{{first_name}}，您好！春节特惠：高级会员续订 8 折，4K 频道免费体验一个月。",
            "尊敬的客户",
            "2026-12-20",
        ),
        spec(
            2,
            "Family movie weekend",
            Channel::Push,
            "",
            "Movie night, {{first_name}}? Three family blockbusters free this weekend.",
            "friend",
            "2026-11-14",
        ),
        spec(
            3,
            "We miss you",
            Channel::Email,
            "{{first_name}}, 3 months of news for the price of 2",
            "Hello {{first_name}}, come back to the full news package: 3 months for the price \
             of 2, cancel any time.",
            "there",
            "2026-10-01",
        ),
    ]
}

/// One step of seeding.
pub fn step() -> Result<ActionOutcome, Error> {
    let mut progress = match DEMO.query(Query::new().limit(1))?.0.into_iter().next() {
        Some(doc) => doc,
        None => DEMO.insert(None, &DemoProgress::default())?,
    };
    let segments = demo_segments();
    if progress.data.segments.len() < segments.len() {
        for seg in segments
            .iter()
            .skip(progress.data.segments.len())
            .take(INSERTS_PER_CALL)
        {
            let doc = SEGMENTS.insert(None, seg)?;
            progress.data.segments.push(doc.id);
            progress = DEMO.replace(&progress)?;
        }
        return Ok(more(tr!("Demo segments created.", "已创建示例细分。")));
    }
    let campaigns = demo_campaigns(&progress.data.segments);
    if progress.data.campaigns.len() < campaigns.len() {
        for spec in campaigns
            .into_iter()
            .skip(progress.data.campaigns.len())
            .take(INSERTS_PER_CALL)
        {
            let doc = CAMPAIGNS.insert(None, &Campaign::new(spec))?;
            progress.data.campaigns.push(doc.id);
            progress = DEMO.replace(&progress)?;
        }
        return Ok(more(tr!("Demo campaigns created.", "已创建示例活动。")));
    }
    if !progress.data.sent {
        let step = run::send_step(&progress.data.campaigns[0])?;
        if step.done {
            progress.data.sent = true;
            DEMO.replace(&progress)?;
        }
        return Ok(more(step.notice));
    }
    // Previews of the drafts: their exclusion reasons (PIPL, CCPA, no consent) show at once.
    if let Some(id) = progress.data.campaigns.get(1 + progress.data.previewed) {
        let step = run::preview_step(id)?;
        if step.done {
            progress.data.previewed += 1;
            DEMO.replace(&progress)?;
        }
        return Ok(more(step.notice));
    }
    Ok(refresh(
        Tone::Success,
        tr!(
            "Demo data is ready: {} segments, {} campaigns (one sent).",
            "示例数据已就绪：{} 个细分，{} 个活动（一个已发送）。",
            progress.data.segments.len(),
            progress.data.campaigns.len()
        ),
    ))
}

fn more(text: Label) -> ActionOutcome {
    refresh(Tone::Info, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{check_template, validate_campaign};

    #[test]
    fn demo_data_passes_the_form_rules() {
        let segments = demo_segments();
        for s in &segments {
            let regions: Vec<&str> = s.rule.regions.iter().map(|r| r.code()).collect();
            let checked = crate::domain::validate_segment(
                &s.name,
                &regions,
                &s.rule.tags_all.join(","),
                &s.rule.tags_none.join(","),
            )
            .unwrap();
            assert_eq!(&checked, s);
        }
        let ids: Vec<String> = (0..segments.len()).map(|i| format!("seg-{i}")).collect();
        let campaigns = demo_campaigns(&ids);
        assert_eq!(campaigns.len(), 4);
        for c in campaigns {
            check_template(&c.template).unwrap();
            let form = |k: &str| {
                Some(match k {
                    "name" => c.name.clone(),
                    "segment" => c.segment_id.clone(),
                    "channel" => c.channel.code().into(),
                    "purpose" => c.purpose.clone(),
                    "subject" => c.subject.clone(),
                    "template" => c.template.clone(),
                    "fallback" => c.fallback.clone(),
                    "send_on" => c.send_on.clone(),
                    "send_at" => c.send_at.clone(),
                    _ => return None,
                })
            };
            assert_eq!(validate_campaign(form).unwrap(), c);
        }
    }
}
