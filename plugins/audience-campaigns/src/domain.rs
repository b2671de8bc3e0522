//! The rules of audience campaigns as pure functions and plain data: segments, consent and
//! regional rules, message templates, simulated delivery and batch cursors. No host calls here,
//! so all of it is unit-tested natively.

use std::collections::BTreeMap;

use crm_plugin_sdk::customers::{self, ConsentFlag, Customer, PersonalField};
use crm_plugin_sdk::{Label, consent, tr};
use serde::{Deserialize, Serialize};

// --- Regions and segments ------------------------------------------------------------------------

/// A customer's region, which selects the privacy regime (stored as `CN`, `EU`, `US`, `OTHER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Region {
    Cn,
    Eu,
    Us,
    Other,
}

impl Region {
    pub const ALL: [Region; 4] = [Region::Cn, Region::Eu, Region::Us, Region::Other];

    pub fn code(self) -> &'static str {
        match self {
            Region::Cn => "CN",
            Region::Eu => "EU",
            Region::Us => "US",
            Region::Other => "OTHER",
        }
    }

    pub fn parse(code: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> Label {
        match self {
            Region::Cn => tr!("China (PIPL)", "中国（PIPL）"),
            Region::Eu => tr!("EU (GDPR)", "欧盟（GDPR）"),
            Region::Us => tr!("US (CCPA)", "美国（CCPA）"),
            Region::Other => tr!("Other", "其他"),
        }
    }
}

impl From<customers::Region> for Region {
    fn from(r: customers::Region) -> Self {
        match r {
            customers::Region::Cn => Region::Cn,
            customers::Region::Eu => Region::Eu,
            customers::Region::Us => Region::Us,
            customers::Region::Other => Region::Other,
        }
    }
}

impl From<Region> for customers::Region {
    fn from(r: Region) -> Self {
        match r {
            Region::Cn => customers::Region::Cn,
            Region::Eu => customers::Region::Eu,
            Region::Us => customers::Region::Us,
            Region::Other => customers::Region::Other,
        }
    }
}

/// Who a segment selects, over non-personal attributes only. Deliberately small: a customer
/// matches when their region is one of `regions` (empty: any region), they carry every tag of
/// `tags_all` and none of `tags_none`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRule {
    pub regions: Vec<Region>,
    pub tags_all: Vec<String>,
    pub tags_none: Vec<String>,
}

impl SegmentRule {
    pub fn matches(&self, region: Region, tags: &[String]) -> bool {
        (self.regions.is_empty() || self.regions.contains(&region))
            && self.tags_all.iter().all(|t| tags.contains(t))
            && !self.tags_none.iter().any(|t| tags.contains(t))
    }

    /// The part of the rule `customers::search` can apply itself (one region, required tags),
    /// so fewer pages come back; [`SegmentRule::matches`] then checks the rest.
    pub fn search_region(&self) -> Option<Region> {
        match self.regions.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// A one-line description, e.g. `EU · all of: sports · none of: vip`.
    pub fn describe(&self) -> String {
        let mut parts = vec![if self.regions.is_empty() {
            "all regions".to_string()
        } else {
            self.regions
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(", ")
        }];
        if !self.tags_all.is_empty() {
            parts.push(format!("all of: {}", self.tags_all.join(", ")));
        }
        if !self.tags_none.is_empty() {
            parts.push(format!("none of: {}", self.tags_none.join(", ")));
        }
        parts.join(" · ")
    }
}

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub rule: SegmentRule,
}

/// Parses a tag list typed as `sports, news` (commas or spaces): each 1-32 characters of a-z,
/// 0-9 and `-` (the platform's tag syntax), returned sorted and unique.
pub fn parse_tags(input: &str) -> Result<Vec<String>, Label> {
    let mut tags: Vec<String> = Vec::new();
    for t in input
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let ok = t.len() <= 32
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(tr!(
                "tags are 1-32 characters of a-z, 0-9 and -",
                "标签为 1-32 个字符，仅限 a-z、0-9 和 -"
            ));
        }
        tags.push(t.to_string());
    }
    tags.sort();
    tags.dedup();
    if tags.len() > 10 {
        return Err(tr!("at most 10 tags", "最多 10 个标签"));
    }
    Ok(tags)
}

/// Validates a segment form: `name`, `regions` (codes), `tags_all`, `tags_none`.
pub fn validate_segment(
    name: &str,
    regions: &[&str],
    tags_all: &str,
    tags_none: &str,
) -> Result<Segment, Vec<(&'static str, Label)>> {
    let mut errors = Vec::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        errors.push(("name", tr!("1-80 characters", "1-80 个字符")));
    }
    let mut parsed: Vec<Region> = Vec::new();
    for code in regions.iter().filter(|c| !c.is_empty()) {
        match Region::parse(code) {
            Some(r) if !parsed.contains(&r) => parsed.push(r),
            Some(_) => {}
            None => errors.push(("regions", tr!("unknown region", "未知地区"))),
        }
    }
    parsed.sort();
    let all = parse_tags(tags_all).unwrap_or_else(|e| {
        errors.push(("tags_all", e));
        Vec::new()
    });
    let none = parse_tags(tags_none).unwrap_or_else(|e| {
        errors.push(("tags_none", e));
        Vec::new()
    });
    if all.iter().any(|t| none.contains(t)) {
        errors.push((
            "tags_none",
            tr!(
                "a tag cannot be both required and excluded",
                "同一标签不能既必需又排除"
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Segment {
        name: name.to_string(),
        rule: SegmentRule {
            regions: parsed,
            tags_all: all,
            tags_none: none,
        },
    })
}

// --- Consent and regional rules --------------------------------------------------------------

/// The separate consent PIPL asks of CN customers for marketing, on top of the campaign's purpose.
pub const PIPL_PURPOSE: &str = "marketing_cn";

/// The purposes a campaign can be sent for.
pub const PURPOSES: [&str; 4] = [
    "marketing",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
];

/// Where a customer stands on one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    Granted,
    Withdrawn,
    /// Never recorded: treated as not given.
    Unknown,
}

/// A customer's recorded consents: purpose → granted (absent: never recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consents(pub BTreeMap<String, bool>);

impl Consents {
    /// From the flags on a customer (as `customers::search` returns them).
    pub fn from_flags(flags: &[ConsentFlag]) -> Self {
        Consents(
            flags
                .iter()
                .map(|f| (f.purpose.clone(), f.granted))
                .collect(),
        )
    }

    /// From the `consent` capability's answer.
    pub fn from_states(states: &[consent::PurposeState]) -> Self {
        Consents(
            states
                .iter()
                .filter_map(|s| match s.status {
                    consent::Status::Granted => Some((s.purpose.clone(), true)),
                    consent::Status::Withdrawn => Some((s.purpose.clone(), false)),
                    consent::Status::Unknown => None,
                })
                .collect(),
        )
    }

    pub fn status(&self, purpose: &str) -> ConsentStatus {
        match self.0.get(purpose) {
            Some(true) => ConsentStatus::Granted,
            Some(false) => ConsentStatus::Withdrawn,
            None => ConsentStatus::Unknown,
        }
    }
}

/// Why a customer of the segment gets no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    /// No consent recorded for the purpose (GDPR and everywhere: no consent, no message).
    NoConsent,
    /// Consent withdrawn (outside the US).
    Withdrawn,
    /// A US customer opted out (CCPA).
    CcpaOptOut,
    /// A CN customer without the separate `marketing_cn` consent (PIPL).
    PiplSeparateConsent,
    /// Nothing to send to on this channel (no email or phone stored).
    NoContact,
}

impl Exclusion {
    pub const ALL: [Exclusion; 5] = [
        Exclusion::NoConsent,
        Exclusion::Withdrawn,
        Exclusion::CcpaOptOut,
        Exclusion::PiplSeparateConsent,
        Exclusion::NoContact,
    ];

    pub fn label(self) -> Label {
        match self {
            Exclusion::NoConsent => {
                tr!("No consent recorded for the purpose", "未记录该用途的同意")
            }
            Exclusion::Withdrawn => tr!("Consent withdrawn", "已撤回同意"),
            Exclusion::CcpaOptOut => tr!("Opted out (CCPA)", "已选择退出（CCPA）"),
            Exclusion::PiplSeparateConsent => tr!(
                "No separate marketing consent (PIPL)",
                "无单独营销同意（PIPL）"
            ),
            Exclusion::NoContact => tr!("No address for the channel", "无该渠道的联系方式"),
        }
    }
}

/// The consent rules of `region` for `purpose`: `None` when the customer may be messaged.
///
/// Everywhere a message needs consent recorded for the purpose. A withdrawn consent excludes (in
/// the US that is the CCPA opt-out). CN customers also need the separate [`PIPL_PURPOSE`] consent.
pub fn consent_exclusion(region: Region, consents: &Consents, purpose: &str) -> Option<Exclusion> {
    match consents.status(purpose) {
        ConsentStatus::Withdrawn if region == Region::Us => return Some(Exclusion::CcpaOptOut),
        ConsentStatus::Withdrawn => return Some(Exclusion::Withdrawn),
        ConsentStatus::Unknown => return Some(Exclusion::NoConsent),
        ConsentStatus::Granted => {}
    }
    if region == Region::Cn && consents.status(PIPL_PURPOSE) != ConsentStatus::Granted {
        return Some(Exclusion::PiplSeparateConsent);
    }
    None
}

/// Whether the channel has somewhere to send to. Only a field known to be empty excludes: a masked
/// or withheld field may hold a value the delivery system (not this plugin) resolves.
pub fn contact_exclusion(channel: Channel, customer: &Customer) -> Option<Exclusion> {
    let field = match channel {
        Channel::Email => &customer.email,
        Channel::Sms => &customer.phone,
        Channel::Push => return None,
    };
    matches!(field, PersonalField::Empty).then_some(Exclusion::NoContact)
}

/// Whether a customer who matched the segment gets the campaign's message.
pub fn eligibility(customer: &Customer, channel: Channel, purpose: &str) -> Result<(), Exclusion> {
    let consents = Consents::from_flags(&customer.consents);
    if let Some(e) = consent_exclusion(customer.region.into(), &consents, purpose) {
        return Err(e);
    }
    contact_exclusion(channel, customer).map_or(Ok(()), Err)
}

/// Counts of an audience pass: customers looked at, matched by the segment, eligible, and the
/// excluded per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceCounts {
    pub scanned: u64,
    pub matched: u64,
    pub eligible: u64,
    pub excluded: BTreeMap<Exclusion, u64>,
}

impl AudienceCounts {
    /// Adds one customer: `None` when the segment did not match, else the eligibility.
    pub fn record(&mut self, outcome: Option<Result<(), Exclusion>>) {
        self.scanned += 1;
        match outcome {
            None => {}
            Some(Ok(())) => {
                self.matched += 1;
                self.eligible += 1;
            }
            Some(Err(e)) => {
                self.matched += 1;
                *self.excluded.entry(e).or_default() += 1;
            }
        }
    }

    pub fn excluded_total(&self) -> u64 {
        self.excluded.values().sum()
    }
}

// --- Campaigns -------------------------------------------------------------------------------

/// How a campaign reaches people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label(self) -> Label {
        match self {
            Channel::Email => tr!("Email", "电子邮件"),
            Channel::Sms => tr!("SMS", "短信"),
            Channel::Push => tr!("Push", "推送"),
        }
    }

    /// The longest message body the channel takes, in characters.
    pub fn max_body(self) -> usize {
        match self {
            Channel::Email => 5000,
            Channel::Sms => 320,
            Channel::Push => 200,
        }
    }
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignState {
    /// Editable; can be previewed.
    Draft,
    /// Sending has started: no more edits.
    Sending,
    /// Every message is sent or failed.
    Sent,
}

impl CampaignState {
    pub fn code(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Sending => "sending",
            CampaignState::Sent => "sent",
        }
    }

    pub fn label(self) -> Label {
        match self {
            CampaignState::Draft => tr!("Draft", "草稿"),
            CampaignState::Sending => tr!("Sending", "发送中"),
            CampaignState::Sent => tr!("Sent", "已发送"),
        }
    }
}

/// A campaign as the builder form defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub segment_id: String,
    pub channel: Channel,
    /// The consent purpose the messages are sent for.
    pub purpose: String,
    /// Email only.
    pub subject: String,
    /// With placeholders such as `{{first_name}}`.
    pub template: String,
    /// What a placeholder renders as when the field is masked, withheld or empty.
    pub fallback: String,
    /// Planned send date and time (tenant time), `YYYY-MM-DD` and `HH:MM`.
    pub send_on: String,
    pub send_at: String,
}

/// A stored campaign: its spec, state and small summary counts (kept up to date on each batch,
/// so lists never scan the outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Indexed: lists filter on it.
    pub state: CampaignState,
    /// Indexed: a segment in use cannot be deleted.
    pub segment_id: String,
    pub spec: CampaignSpec,
    /// The last completed preview.
    pub preview: Option<AudienceCounts>,
    /// The audience as sending found it.
    pub sent_audience: Option<AudienceCounts>,
    pub delivery: DeliveryCounts,
}

impl Campaign {
    pub fn new(spec: CampaignSpec) -> Self {
        Campaign {
            state: CampaignState::Draft,
            segment_id: spec.segment_id.clone(),
            spec,
            preview: None,
            sent_audience: None,
            delivery: DeliveryCounts::default(),
        }
    }
}

/// Validates the builder form. `get` reads an input by name. Every problem is reported at once,
/// on its field.
pub fn validate_campaign(
    get: impl Fn(&str) -> Option<String>,
) -> Result<CampaignSpec, Vec<(&'static str, Label)>> {
    let mut errors: Vec<(&'static str, Label)> = Vec::new();
    let text = |name: &str| get(name).map(|v| v.trim().to_string()).unwrap_or_default();
    let name = text("name");
    if name.is_empty() || name.chars().count() > 80 {
        errors.push(("name", tr!("1-80 characters", "1-80 个字符")));
    }
    let segment_id = text("segment");
    if segment_id.is_empty() {
        errors.push(("segment", tr!("choose a segment", "请选择细分")));
    }
    let channel = Channel::parse(&text("channel"));
    if channel.is_none() {
        errors.push(("channel", tr!("choose a channel", "请选择渠道")));
    }
    let purpose = text("purpose");
    if !PURPOSES.contains(&purpose.as_str()) {
        errors.push(("purpose", tr!("choose a purpose", "请选择用途")));
    }
    let subject = text("subject");
    if channel == Some(Channel::Email) && subject.is_empty() {
        errors.push((
            "subject",
            tr!("an email needs a subject", "电子邮件需要主题"),
        ));
    }
    if subject.chars().count() > 150 {
        errors.push(("subject", tr!("at most 150 characters", "最多 150 个字符")));
    } else if let Err(e) = check_template(&subject) {
        errors.push(("subject", e));
    }
    let template = get("template").unwrap_or_default().trim().to_string();
    if template.is_empty() {
        errors.push(("template", tr!("is required", "为必填项")));
    } else if let Err(e) = check_template(&template) {
        errors.push(("template", e));
    } else if let Some(max) = channel.map(Channel::max_body)
        && template.chars().count() > max
    {
        errors.push((
            "template",
            tr!(
                "at most {} characters for this channel",
                "此渠道最多 {} 个字符",
                max
            ),
        ));
    }
    let fallback = text("fallback");
    if fallback.is_empty() || fallback.chars().count() > 40 || fallback.contains("{{") {
        errors.push((
            "fallback",
            tr!(
                "1-40 characters, no placeholders",
                "1-40 个字符，不含占位符"
            ),
        ));
    }
    let send_on = text("send_on");
    if !is_date(&send_on) {
        errors.push((
            "send_on",
            tr!("a date, YYYY-MM-DD", "日期，格式 YYYY-MM-DD"),
        ));
    }
    let send_at = text("send_at");
    if !is_time(&send_at) {
        errors.push(("send_at", tr!("a time, HH:MM", "时间，格式 HH:MM")));
    }
    match (errors.is_empty(), channel) {
        (true, Some(channel)) => Ok(CampaignSpec {
            name,
            segment_id,
            channel,
            purpose,
            subject: if channel == Channel::Email {
                subject
            } else {
                String::new()
            },
            template,
            fallback,
            send_on,
            send_at,
        }),
        _ => Err(errors),
    }
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1970..=9999).contains(&y) && (1..=days).contains(&d)
}

/// `HH:MM`, 24-hour.
pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s.get(0..2)
            .and_then(|h| h.parse::<u8>().ok())
            .is_some_and(|h| h < 24)
        && s.get(3..5)
            .and_then(|m| m.parse::<u8>().ok())
            .is_some_and(|m| m < 60)
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

// --- Templates -------------------------------------------------------------------------------

/// The placeholders a template may use. Only the name: contact details never go into a message.
pub const PLACEHOLDERS: [&str; 2] = ["first_name", "name"];

/// Splits a template into literal text and placeholder names.
fn tokens(template: &str) -> Result<Vec<Token<'_>>, Label> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push(Token::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| tr!("a placeholder is not closed with }}", "占位符缺少结尾的 }}"))?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(tr!(
                "unknown placeholder {{{{{}}}}}; use {{{{first_name}}}} or {{{{name}}}}",
                "未知占位符 {{{{{}}}}}；请使用 {{{{first_name}}}} 或 {{{{name}}}}",
                name
            ));
        }
        out.push(Token::Field(name));
        rest = &after[end + 2..];
    }
    out.push(Token::Text(rest));
    Ok(out)
}

enum Token<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Checks a template's placeholders.
pub fn check_template(template: &str) -> Result<(), Label> {
    tokens(template).map(|_| ())
}

/// The first name: the first word of a name written with spaces (`Ada Lovelace` → `Ada`); a name
/// without spaces (`王芳`) is used whole.
pub fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or("")
}

/// Renders a (checked) template for one customer. Only a name the policy showed in clear is used:
/// a masked, withheld or empty name renders as `fallback`, so a message never carries a masked
/// rendering or anything the acting user may not see.
pub fn render(template: &str, name: &PersonalField, fallback: &str) -> String {
    let Ok(tokens) = tokens(template) else {
        return template.to_string();
    };
    let clear = name.clear().map(str::trim).filter(|n| !n.is_empty());
    tokens
        .into_iter()
        .map(|t| match (t, clear) {
            (Token::Text(s), _) => s,
            (Token::Field("first_name"), Some(n)) => first_name(n),
            (Token::Field(_), Some(n)) => n,
            (Token::Field(_), None) => fallback,
        })
        .collect()
}

// --- Outbox and simulated delivery -----------------------------------------------------------

/// A message's delivery state: `queued`, then `sent` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    Sent,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Queued,
        DeliveryState::Sent,
        DeliveryState::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn label(self) -> Label {
        match self {
            DeliveryState::Queued => tr!("Queued", "排队中"),
            DeliveryState::Sent => tr!("Sent", "已发送"),
            DeliveryState::Failed => tr!("Failed", "失败"),
        }
    }
}

/// Why a queued message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The simulated gateway refused it.
    Bounced,
    /// Consent changed between queueing and sending: not sent.
    ConsentChanged,
}

impl Failure {
    pub fn label(self) -> Label {
        match self {
            Failure::Bounced => tr!("Bounced", "退回"),
            Failure::ConsentChanged => tr!("Consent changed before sending", "发送前同意已变更"),
        }
    }
}

/// One message in the outbox (about the customer it is for, so erasing them shreds it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Indexed.
    pub campaign_id: String,
    /// Indexed.
    pub state: DeliveryState,
    pub failure: Option<Failure>,
    pub channel: Channel,
    pub region: Region,
    pub subject: String,
    pub body: String,
}

/// Delivery summary of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    pub failures: BTreeMap<Failure, u64>,
}

impl DeliveryCounts {
    pub fn count(&self, state: DeliveryState) -> u64 {
        match state {
            DeliveryState::Queued => self.queued,
            DeliveryState::Sent => self.sent,
            DeliveryState::Failed => self.failed,
        }
    }

    /// A queued message left the queue with `outcome`.
    pub fn delivered(&mut self, outcome: Result<(), Failure>) {
        self.queued = self.queued.saturating_sub(1);
        match outcome {
            Ok(()) => self.sent += 1,
            Err(f) => {
                self.failed += 1;
                *self.failures.entry(f).or_default() += 1;
            }
        }
    }
}

/// 64-bit FNV-1a: a stable hash (the standard library's is randomly seeded).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Percent of messages the simulated gateway bounces.
pub const BOUNCE_PERCENT: u64 = 4;

/// Delivers one queued message, simulated: consent is checked again at send time (it may have
/// changed since queueing), then the gateway bounces a fixed, deterministic share of messages
/// (decided by a hash of campaign and customer, so a rerun gives the same result).
pub fn deliver(
    campaign_id: &str,
    customer_id: &str,
    region: Region,
    consents: &Consents,
    purpose: &str,
) -> Result<(), Failure> {
    if consent_exclusion(region, consents, purpose).is_some() {
        return Err(Failure::ConsentChanged);
    }
    if fnv1a(&[campaign_id, customer_id]) % 100 < BOUNCE_PERCENT {
        return Err(Failure::Bounced);
    }
    Ok(())
}

// --- Batching --------------------------------------------------------------------------------

/// Where a pass over `customers::search` pages stands. Pages are numbered and newest first, so a
/// customer created during the pass shifts the rest by one: the ids of the previous page are kept
/// to skip anyone seen twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub next_page: u32,
    pub per_page: u32,
    /// Matching customers when the last page was read.
    pub total: u64,
    pub prev_ids: Vec<String>,
    pub done: bool,
}

impl Cursor {
    pub fn start(per_page: u32) -> Self {
        Cursor {
            next_page: 1,
            per_page,
            total: 0,
            prev_ids: Vec::new(),
            done: false,
        }
    }

    /// Whether `id` is new to this pass (not on the previous page).
    pub fn is_fresh(&self, id: &str) -> bool {
        !self.prev_ids.iter().any(|p| p == id)
    }

    /// Moves past a page that held `ids` out of `total` matching customers.
    pub fn advance(&mut self, ids: Vec<String>, total: u64) {
        self.total = total;
        self.done = ids.is_empty() || u64::from(self.next_page) * u64::from(self.per_page) >= total;
        self.next_page += 1;
        self.prev_ids = ids;
    }

    /// Customers looked at so far, roughly (for progress notices).
    pub fn progress(&self) -> u64 {
        (u64::from(self.next_page - 1) * u64::from(self.per_page)).min(self.total)
    }
}

/// A pass of a campaign: counting its audience (preview) or sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Preview,
    Send,
}

impl RunKind {
    pub fn code(self) -> &'static str {
        match self {
            RunKind::Preview => "preview",
            RunKind::Send => "send",
        }
    }
}

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Going through the segment's customers.
    Audience,
    /// (Send only) taking queued messages through delivery.
    Deliver,
    Done,
}

/// The progress document of one pass (one per campaign and kind), updated by every batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRun {
    /// Indexed.
    pub campaign_id: String,
    /// Indexed.
    pub kind: RunKind,
    pub phase: Phase,
    pub cursor: Cursor,
    pub counts: AudienceCounts,
}

impl CampaignRun {
    pub fn start(campaign_id: &str, kind: RunKind, per_page: u32) -> Self {
        CampaignRun {
            campaign_id: campaign_id.to_string(),
            kind,
            phase: Phase::Audience,
            cursor: Cursor::start(per_page),
            counts: AudienceCounts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(pairs: &[(&str, bool)]) -> Vec<ConsentFlag> {
        pairs
            .iter()
            .map(|(p, g)| ConsentFlag {
                purpose: (*p).into(),
                granted: *g,
            })
            .collect()
    }

    fn customer(region: customers::Region, consents: &[(&str, bool)]) -> Customer {
        Customer {
            id: "c-1".into(),
            name: PersonalField::Clear("Ada Lovelace".into()),
            email: PersonalField::Masked("a***@example.com".into()),
            phone: PersonalField::Empty,
            address: PersonalField::Redacted,
            birth_date: PersonalField::Redacted,
            notes: PersonalField::Empty,
            region,
            tags: vec!["sports".into()],
            consents: flags(consents),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn consents(pairs: &[(&str, bool)]) -> Consents {
        Consents::from_flags(&flags(pairs))
    }

    #[test]
    fn segment_rules_match_region_and_tags() {
        let tags = |ts: &[&str]| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let rule = SegmentRule {
            regions: vec![Region::Eu, Region::Us],
            tags_all: tags(&["sports"]),
            tags_none: tags(&["vip"]),
        };
        assert!(rule.matches(Region::Eu, &tags(&["news", "sports"])));
        assert!(!rule.matches(Region::Cn, &tags(&["sports"])));
        assert!(!rule.matches(Region::Us, &tags(&["news"])));
        assert!(!rule.matches(Region::Us, &tags(&["sports", "vip"])));
        assert_eq!(rule.search_region(), None);
        assert_eq!(rule.describe(), "EU, US · all of: sports · none of: vip");
        let any = SegmentRule::default();
        assert!(any.matches(Region::Other, &[]));
        assert_eq!(any.describe(), "all regions");
        let one = SegmentRule {
            regions: vec![Region::Cn],
            ..SegmentRule::default()
        };
        assert_eq!(one.search_region(), Some(Region::Cn));
    }

    #[test]
    fn tags_parse_sorted_unique_and_checked() {
        assert_eq!(
            parse_tags(" sports, news  sports,").unwrap(),
            vec!["news", "sports"]
        );
        assert_eq!(parse_tags("").unwrap(), Vec::<String>::new());
        assert!(parse_tags("Sports").is_err());
        assert!(parse_tags("a_b").is_err());
        assert!(parse_tags(&"x".repeat(33)).is_err());
        let many = (0..11)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_tags(&many).is_err());
    }

    #[test]
    fn segment_validation_reports_each_field() {
        let s = validate_segment("EU sports", &["EU", "EU", ""], "sports", "vip").unwrap();
        assert_eq!(s.rule.regions, vec![Region::Eu]);
        let errs = validate_segment(" ", &["MARS"], "Bad!", "").unwrap_err();
        let fields: Vec<_> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["name", "regions", "tags_all"]);
        let errs = validate_segment("x", &[], "vip", "vip").unwrap_err();
        assert_eq!(errs[0].0, "tags_none");
    }

    #[test]
    fn gdpr_no_consent_no_message() {
        let purpose = "marketing_email";
        assert_eq!(
            consent_exclusion(Region::Eu, &consents(&[]), purpose),
            Some(Exclusion::NoConsent)
        );
        assert_eq!(
            consent_exclusion(Region::Eu, &consents(&[("marketing_sms", true)]), purpose),
            Some(Exclusion::NoConsent)
        );
        assert_eq!(
            consent_exclusion(Region::Eu, &consents(&[(purpose, false)]), purpose),
            Some(Exclusion::Withdrawn)
        );
        assert_eq!(
            consent_exclusion(Region::Eu, &consents(&[(purpose, true)]), purpose),
            None
        );
    }

    #[test]
    fn ccpa_opt_out_excludes() {
        let p = "marketing";
        assert_eq!(
            consent_exclusion(Region::Us, &consents(&[(p, false)]), p),
            Some(Exclusion::CcpaOptOut)
        );
        assert_eq!(
            consent_exclusion(Region::Us, &consents(&[]), p),
            Some(Exclusion::NoConsent)
        );
        assert_eq!(
            consent_exclusion(Region::Us, &consents(&[(p, true)]), p),
            None
        );
        // A US customer needs no PIPL consent.
        assert_eq!(
            consent_exclusion(
                Region::Us,
                &consents(&[(p, true), (PIPL_PURPOSE, false)]),
                p
            ),
            None
        );
    }

    #[test]
    fn pipl_needs_separate_consent() {
        let p = "marketing";
        assert_eq!(
            consent_exclusion(Region::Cn, &consents(&[(p, true)]), p),
            Some(Exclusion::PiplSeparateConsent)
        );
        assert_eq!(
            consent_exclusion(
                Region::Cn,
                &consents(&[(p, true), (PIPL_PURPOSE, false)]),
                p
            ),
            Some(Exclusion::PiplSeparateConsent)
        );
        assert_eq!(
            consent_exclusion(Region::Cn, &consents(&[(p, true), (PIPL_PURPOSE, true)]), p),
            None
        );
        // The separate consent alone is not enough.
        assert_eq!(
            consent_exclusion(Region::Cn, &consents(&[(PIPL_PURPOSE, true)]), p),
            Some(Exclusion::NoConsent)
        );
        assert_eq!(
            consent_exclusion(
                Region::Cn,
                &consents(&[(p, false), (PIPL_PURPOSE, true)]),
                p
            ),
            Some(Exclusion::Withdrawn)
        );
        assert_eq!(
            consent_exclusion(Region::Other, &consents(&[(p, true)]), p),
            None
        );
    }

    #[test]
    fn consents_from_the_consent_capability() {
        let states = vec![
            consent::PurposeState {
                purpose: "marketing".into(),
                status: consent::Status::Granted,
                changed_at: None,
            },
            consent::PurposeState {
                purpose: "marketing_cn".into(),
                status: consent::Status::Unknown,
                changed_at: None,
            },
            consent::PurposeState {
                purpose: "profiling".into(),
                status: consent::Status::Withdrawn,
                changed_at: Some(1),
            },
        ];
        let c = Consents::from_states(&states);
        assert_eq!(c.status("marketing"), ConsentStatus::Granted);
        assert_eq!(c.status("marketing_cn"), ConsentStatus::Unknown);
        assert_eq!(c.status("profiling"), ConsentStatus::Withdrawn);
    }

    #[test]
    fn eligibility_checks_consent_then_contact() {
        let eu = customer(
            customers::Region::Eu,
            &[("marketing_sms", true), ("marketing_email", true)],
        );
        assert_eq!(eligibility(&eu, Channel::Email, "marketing_email"), Ok(()));
        // A masked email still has a value; an empty phone has none.
        assert_eq!(
            eligibility(&eu, Channel::Sms, "marketing_sms"),
            Err(Exclusion::NoContact)
        );
        assert_eq!(eligibility(&eu, Channel::Push, "marketing_sms"), Ok(()));
        assert_eq!(
            eligibility(&eu, Channel::Push, "marketing_push"),
            Err(Exclusion::NoConsent)
        );
        let mut redacted = eu.clone();
        redacted.phone = PersonalField::Redacted;
        assert_eq!(
            eligibility(&redacted, Channel::Sms, "marketing_sms"),
            Ok(())
        );
    }

    #[test]
    fn audience_counts_per_reason() {
        let mut c = AudienceCounts::default();
        c.record(None);
        c.record(Some(Ok(())));
        c.record(Some(Err(Exclusion::NoConsent)));
        c.record(Some(Err(Exclusion::NoConsent)));
        c.record(Some(Err(Exclusion::PiplSeparateConsent)));
        assert_eq!((c.scanned, c.matched, c.eligible), (5, 4, 1));
        assert_eq!(c.excluded[&Exclusion::NoConsent], 2);
        assert_eq!(c.excluded_total(), 3);
        // Stored as JSON with readable reason keys.
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"no_consent\":2"), "{json}");
        assert_eq!(serde_json::from_str::<AudienceCounts>(&json).unwrap(), c);
    }

    #[test]
    fn templates_render_only_clear_names() {
        let t = "Hi {{first_name}}, {{ name }} — kick-off at 20:00!";
        check_template(t).unwrap();
        assert_eq!(
            render(t, &PersonalField::Clear("Ada Lovelace".into()), "there"),
            "Hi Ada, Ada Lovelace — kick-off at 20:00!"
        );
        assert_eq!(
            render(
                "您好，{{first_name}}",
                &PersonalField::Clear("王芳".into()),
                "客户"
            ),
            "您好，王芳"
        );
        for hidden in [
            PersonalField::Masked("A** L*******".into()),
            PersonalField::Redacted,
            PersonalField::Empty,
            PersonalField::Clear("  ".into()),
        ] {
            let out = render(t, &hidden, "there");
            assert_eq!(out, "Hi there, there — kick-off at 20:00!");
            assert!(!out.contains('*'));
        }
    }

    #[test]
    fn templates_refuse_unknown_or_open_placeholders() {
        assert!(check_template("plain text, no placeholders").is_ok());
        let e = check_template("Hi {{email}}").unwrap_err();
        assert!(e.en.contains("{{email}}"), "{}", e.en);
        assert!(check_template("Hi {{first_name").is_err());
        assert!(check_template("{{phone}}").is_err());
        assert_eq!(first_name("  "), "");
    }

    fn form(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const GOOD: [(&str, &str); 9] = [
        ("name", "Kick-off"),
        ("segment", "seg-1"),
        ("channel", "email"),
        ("purpose", "marketing_email"),
        ("subject", "Hello {{first_name}}"),
        ("template", "Hi {{first_name}}"),
        ("fallback", "there"),
        ("send_on", "2026-02-28"),
        ("send_at", "19:30"),
    ];

    #[test]
    fn campaign_form_validates() {
        let spec = validate_campaign(form(&GOOD)).unwrap();
        assert_eq!(spec.channel, Channel::Email);
        assert_eq!(Campaign::new(spec.clone()).segment_id, "seg-1");
        // SMS drops the subject and is limited in length.
        let mut sms = GOOD;
        sms[2] = ("channel", "sms");
        assert_eq!(validate_campaign(form(&sms)).unwrap().subject, "");
        let long = "x".repeat(321);
        sms[5] = ("template", &long);
        let errs = validate_campaign(form(&sms)).unwrap_err();
        assert_eq!(errs[0].0, "template");
    }

    #[test]
    fn campaign_form_reports_every_bad_field() {
        let bad = [
            ("name", ""),
            ("channel", "fax"),
            ("purpose", "profiling"),
            ("template", "Hi {{email}}"),
            ("fallback", ""),
            ("send_on", "2026-02-30"),
            ("send_at", "24:00"),
        ];
        let errs = validate_campaign(form(&bad)).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "name", "segment", "channel", "purpose", "template", "fallback", "send_on",
                "send_at"
            ]
        );
        assert!(errs.iter().all(|(_, l)| l.zh_hans.is_some()));
        let mut no_subject = GOOD;
        no_subject[4] = ("subject", "");
        assert_eq!(
            validate_campaign(form(&no_subject)).unwrap_err()[0].0,
            "subject"
        );
    }

    #[test]
    fn dates_and_times() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2025-02-29"));
        assert!(!is_date("2026-13-01"));
        assert!(!is_date("2026-1-01"));
        assert!(!is_date("2026-01-+1"));
        assert!(is_time("00:00") && is_time("23:59"));
        assert!(!is_time("7:30") && !is_time("12:60") && !is_time("+1:30"));
    }

    #[test]
    fn delivery_is_deterministic_and_rechecks_consent() {
        let ok = consents(&[("marketing", true)]);
        let outcomes: Vec<_> = (0..1000)
            .map(|i| deliver("camp-1", &format!("cust-{i}"), Region::Eu, &ok, "marketing"))
            .collect();
        let again: Vec<_> = (0..1000)
            .map(|i| deliver("camp-1", &format!("cust-{i}"), Region::Eu, &ok, "marketing"))
            .collect();
        assert_eq!(outcomes, again);
        let bounced = outcomes.iter().filter(|o| o.is_err()).count();
        assert!((15..=70).contains(&bounced), "{bounced} bounced");
        let withdrawn = consents(&[("marketing", false)]);
        assert_eq!(
            deliver("camp-1", "cust-1", Region::Eu, &withdrawn, "marketing"),
            Err(Failure::ConsentChanged)
        );
        assert_eq!(
            deliver("camp-1", "cust-1", Region::Cn, &ok, "marketing"),
            Err(Failure::ConsentChanged)
        );
    }

    #[test]
    fn delivery_counts_move_out_of_the_queue() {
        let mut d = DeliveryCounts {
            queued: 3,
            ..DeliveryCounts::default()
        };
        d.delivered(Ok(()));
        d.delivered(Err(Failure::Bounced));
        assert_eq!(DeliveryState::ALL.map(|s| d.count(s)), [1, 1, 1]);
        assert_eq!(d.failures[&Failure::Bounced], 1);
    }

    #[test]
    fn cursor_pages_and_skips_repeats() {
        let mut c = Cursor::start(2);
        c.advance(vec!["a".into(), "b".into()], 5);
        assert!(!c.done);
        assert_eq!((c.next_page, c.progress()), (2, 2));
        // A customer created meanwhile pushed `b` onto page 2.
        assert!(!c.is_fresh("b"));
        assert!(c.is_fresh("c"));
        c.advance(vec!["b".into(), "c".into()], 6);
        c.advance(vec!["d".into(), "e".into()], 6);
        assert!(c.done);
        assert_eq!(c.progress(), 6);
        let mut empty = Cursor::start(25);
        empty.advance(Vec::new(), 0);
        assert!(empty.done);
    }

    #[test]
    fn stored_shapes_round_trip() {
        let run = CampaignRun::start("camp-1", RunKind::Send, 25);
        let json = serde_json::to_string(&run).unwrap();
        assert!(json.contains("\"kind\":\"send\"") && json.contains("\"phase\":\"audience\""));
        assert_eq!(serde_json::from_str::<CampaignRun>(&json).unwrap(), run);
        let seg = Segment {
            name: "CN".into(),
            rule: SegmentRule {
                regions: vec![Region::Cn, Region::Other],
                ..SegmentRule::default()
            },
        };
        let json = serde_json::to_string(&seg).unwrap();
        assert!(json.contains("[\"CN\",\"OTHER\"]"), "{json}");
        assert_eq!(
            Region::from(customers::Region::from(Region::Us)),
            Region::Us
        );
    }
}
