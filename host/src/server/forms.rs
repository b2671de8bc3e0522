//! What a submission to a plugin action may carry, checked by the host before the plugin's `act`
//! is called: the rules of the form it came from, the fixed parameters of the button, or nothing
//! but a row id for a table's row action (an [`Offer`]).
//!
//! In the web UI every rendered action carries its offer (`_form`) and a MAC of it under the
//! tenant's index key (`_form_mac`), so the host checks what it rendered without rendering the
//! screen again (which would call the plugin and audit its reads twice), a browser cannot loosen a
//! rule, and a post without them is refused. Over the API the host renders the origin screen and
//! takes the offers from it ([`offers`]). A refused submission is shown again with each field's
//! message next to it and the values kept.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::customers::validate;
use crate::error::{AppError, FieldIssue};
use crate::plugins::abi::latest::Param;
use crate::plugins::abi::latest::types::Label;
use crate::plugins::abi::latest::ui::{Block, ButtonTarget, FieldKind, Form, Rule, Screen};
use crate::vault::TenantKeys;

/// What the host checks of one field.
#[derive(Debug, Serialize, Deserialize)]
pub struct FieldSpec {
    name: String,
    kind: FieldKind,
    required: bool,
    rules: Vec<Rule>,
}

/// What the host rendered for an action, and so what a submission to it may carry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    /// A form: its fields and their rules; no other input.
    Form(Vec<FieldSpec>),
    /// A button: exactly these parameters.
    Button(Vec<(String, String)>),
    /// A table's row action: a row id and no input.
    Row,
}

impl Offer {
    pub fn of_form(form: &Form) -> Self {
        Offer::Form(
            form.fields
                .iter()
                .map(|f| FieldSpec {
                    name: f.name.clone(),
                    kind: f.kind.clone(),
                    required: f.required,
                    rules: f.rules.clone(),
                })
                .collect(),
        )
    }

    pub fn of_button(params: &[Param]) -> Self {
        Offer::Button(
            params
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
        )
    }
}

/// Every way `screen` offers `action`: its forms, buttons and row actions.
pub fn offers(screen: &Screen, action: &str) -> Vec<Offer> {
    let mut out = Vec::new();
    for b in &screen.blocks {
        match b {
            Block::Form(f) if f.action == action => out.push(Offer::of_form(f)),
            Block::Actions(buttons) => out.extend(
                buttons
                    .iter()
                    .filter(|bt| matches!(&bt.target, ButtonTarget::Action(a) if a == action))
                    .map(|bt| Offer::of_button(&bt.params)),
            ),
            Block::Table(t) if t.row_actions.iter().any(|a| a.action == action) => {
                out.push(Offer::Row)
            }
            _ => {}
        }
    }
    out
}

fn mac(keys: &TenantKeys, plugin: &str, action: &str, spec: &str) -> String {
    keys.blind_index("form-rules", &format!("{plugin}\n{action}\n{spec}"))
}

/// The hidden `_form` and `_form_mac` values a rendered action carries.
pub fn seal(keys: &TenantKeys, plugin: &str, action: &str, offer: &Offer) -> (String, String) {
    let json = serde_json::to_string(offer).unwrap_or_default();
    let mac = mac(keys, plugin, action, &json);
    (
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json),
        mac,
    )
}

/// The offer a posted action carried, if its MAC holds.
pub fn open(
    keys: &TenantKeys,
    plugin: &str,
    action: &str,
    sealed: &str,
    given_mac: &str,
) -> Result<Offer, AppError> {
    let altered = || {
        AppError::bad_request(
            "invalid_form",
            "the form was altered or is from another page; reload the page and try again",
        )
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| altered())?;
    let json = String::from_utf8(json).map_err(|_| altered())?;
    let expected = mac(keys, plugin, action, &json);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given_mac.as_bytes(),
    )) {
        return Err(altered());
    }
    serde_json::from_str(&json).map_err(|_| altered())
}

fn issue(field: &str, en: String, zh: String) -> FieldIssue {
    FieldIssue {
        field: field.to_string(),
        message: en,
        message_zh_hans: Some(zh),
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// Most characters of a field's pattern, and most bytes its compiled program and its lazy DFA
/// may take: the host compiles and runs patterns for the plugin, so their cost is bounded
/// (`\w{500}\w{500}` is refused as it compiles, not after seconds).
pub const MAX_PATTERN_CHARS: usize = crate::plugins::screens::bounds::PATTERN_CHARS;
const MAX_PATTERN_PROGRAM: usize = 256 << 10;
/// Patterns one submission may make the host check.
pub const MAX_PATTERNS: usize = 20;

/// A field's pattern compiled (anchored to the whole input), if it is within the bounds; each
/// pattern is compiled once per process (the cache is bounded too).
fn pattern(p: &str) -> Option<std::sync::Arc<regex::Regex>> {
    type Cache = std::collections::HashMap<String, Option<std::sync::Arc<regex::Regex>>>;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    if p.chars().count() > MAX_PATTERN_CHARS {
        return None;
    }
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(Default::default);
    if let Some(re) = cache.get(p) {
        return re.clone();
    }
    if cache.len() >= 512 {
        cache.clear();
    }
    let re = regex::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(MAX_PATTERN_PROGRAM)
        .dfa_size_limit(MAX_PATTERN_PROGRAM)
        .build()
        .ok()
        .map(std::sync::Arc::new);
    cache.insert(p.to_string(), re.clone());
    re
}

/// Checks a submission against what was offered: one issue per offending field (a form's
/// rules, an input the form does not have), or one for the whole submission (a button's
/// parameters changed, a row action without its row or with inputs).
pub fn check(offer: &Offer, row: Option<&str>, inputs: &[Param]) -> Vec<FieldIssue> {
    let whole = |en: &str, zh: &str| vec![issue("_form", en.into(), zh.into())];
    match offer {
        Offer::Form(spec) => {
            let patterns = spec
                .iter()
                .flat_map(|f| &f.rules)
                .filter(|r| matches!(r, Rule::Pattern(_)))
                .count();
            if patterns > MAX_PATTERNS {
                return whole(
                    "the form declares more patterns than the host checks in one submission",
                    "表单声明的格式规则过多",
                );
            }
            let mut issues = check_fields(spec, inputs);
            let mut unknown: Vec<&str> = inputs
                .iter()
                .map(|p| p.name.as_str())
                .filter(|n| !spec.iter().any(|f| f.name == *n))
                .collect();
            unknown.dedup();
            for n in unknown.into_iter().take(10) {
                issues.push(issue(
                    n,
                    "is not a field of this form".into(),
                    "不是此表单的字段".into(),
                ));
            }
            issues
        }
        Offer::Button(params) => {
            let mut want: Vec<(&str, &str)> = params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut got: Vec<(&str, &str)> = inputs
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str()))
                .collect();
            want.sort_unstable();
            got.sort_unstable();
            if want == got {
                Vec::new()
            } else {
                whole("the button's parameters were changed", "按钮的参数被改动了")
            }
        }
        Offer::Row if row.is_none() || !inputs.is_empty() => whole(
            "a row action takes the row it is on and no input",
            "行操作只接受所在行，不接受输入",
        ),
        Offer::Row => Vec::new(),
    }
}

/// Checks submitted inputs against a form's fields: one issue per offending field.
fn check_fields(spec: &[FieldSpec], inputs: &[Param]) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    for f in spec {
        let values: Vec<&str> = inputs
            .iter()
            .filter(|p| p.name == f.name)
            .map(|p| p.value.as_str())
            .collect();
        if let Some(i) = check_field(f, &values) {
            issues.push(i);
        }
    }
    issues
}

/// The issue with a field's submitted values, if any: the kinds that take many values first,
/// then one value's kind, then the field's rules, in that order.
fn check_field(f: &FieldSpec, values: &[&str]) -> Option<FieldIssue> {
    if let Some(outcome) = check_many(f, values) {
        return outcome;
    }
    let name = f.name.as_str();
    let fail = |en: String, zh: String| Some(issue(name, en, zh));
    if values.len() > 1 {
        return fail("was given more than once".into(), "提交了多次".into());
    }
    let v = values.first().copied().unwrap_or("");
    if v.trim().is_empty() {
        return if f.required {
            fail("is required".into(), "必填".into())
        } else {
            None
        };
    }
    check_kind(f, v).or_else(|| check_rules(f, v))
}

/// A checkbox or a multi-select (the kinds submitted as several values): its outcome, or `None`
/// for the other kinds.
fn check_many(f: &FieldSpec, values: &[&str]) -> Option<Option<FieldIssue>> {
    let name = f.name.as_str();
    let fail = |en: String, zh: String| Some(issue(name, en, zh));
    match &f.kind {
        FieldKind::Checkbox => Some(values.iter().any(|v| *v != "true" && *v != "false").then(
            || {
                issue(
                    name,
                    "must be checked or not".into(),
                    "只能勾选或不勾选".into(),
                )
            },
        )),
        FieldKind::MultiSelect(choices) => {
            if f.required && values.iter().all(|v| v.is_empty()) {
                return Some(fail("is required".into(), "必填".into()));
            }
            Some(
                values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .any(|v| !choices.iter().any(|c| c.value == *v))
                    .then(|| {
                        issue(
                            name,
                            "is not one of the choices".into(),
                            "不是可选项之一".into(),
                        )
                    }),
            )
        }
        _ => None,
    }
}

/// Whether one value is of the field's kind (a number, an email address, a date, a choice …).
fn check_kind(f: &FieldSpec, v: &str) -> Option<FieldIssue> {
    let name = f.name.as_str();
    let fail = |en: String, zh: String| Some(issue(name, en, zh));
    let as_number = || v.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    match &f.kind {
        FieldKind::Integer if v.trim().parse::<i64>().is_err() => {
            fail("must be a whole number".into(), "必须是整数".into())
        }
        FieldKind::Decimal if as_number().is_none() => {
            fail("must be a number".into(), "必须是数字".into())
        }
        FieldKind::Email if validate::email(&Value::String(v.into())).is_err() => fail(
            "must be an email address".into(),
            "必须是电子邮件地址".into(),
        ),
        FieldKind::Phone if validate::phone(&Value::String(v.into())).is_err() => {
            fail("must be a phone number".into(), "必须是电话号码".into())
        }
        FieldKind::Date if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() => fail(
            "must be a date such as 2026-12-31".into(),
            "必须是日期，例如 2026-12-31".into(),
        ),
        FieldKind::Select(choices) if !choices.iter().any(|c| c.value == v) => {
            fail("is not one of the choices".into(), "不是可选项之一".into())
        }
        _ => None,
    }
}

/// The field's own rules (lengths, bounds, pattern) on one value.
fn check_rules(f: &FieldSpec, v: &str) -> Option<FieldIssue> {
    let name = f.name.as_str();
    let fail = |en: String, zh: String| Some(issue(name, en, zh));
    let as_number = || v.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let chars = v.chars().count() as u64;
    for r in &f.rules {
        match r {
            Rule::MinLength(n) if chars < u64::from(*n) => {
                return fail(
                    format!("must be at least {n} characters"),
                    format!("至少需要 {n} 个字符"),
                );
            }
            Rule::MaxLength(n) if chars > u64::from(*n) => {
                return fail(
                    format!("must be at most {n} characters"),
                    format!("最多 {n} 个字符"),
                );
            }
            Rule::Min(m) => match as_number() {
                Some(x) if x >= *m => {}
                _ => {
                    return fail(
                        format!("must be a number of at least {}", number(*m)),
                        format!("必须是不小于 {} 的数字", number(*m)),
                    );
                }
            },
            Rule::Max(m) => match as_number() {
                Some(x) if x <= *m => {}
                _ => {
                    return fail(
                        format!("must be a number of at most {}", number(*m)),
                        format!("必须是不大于 {} 的数字", number(*m)),
                    );
                }
            },
            // A pattern that does not compile within its bounds cannot be met: the plugin's form
            // is broken.
            Rule::Pattern(p) if !pattern(p).is_some_and(|re| re.is_match(v)) => {
                return fail("is not in the expected format".into(), "格式不正确".into());
            }
            _ => {}
        }
    }
    None
}

/// Puts a refused submission back into the screen shown again: in each form for `action`, the
/// submitted values, each field's message, and messages about no field at the top of the form.
/// Returns whether every issue found a place in a form (none if the action has no form).
pub fn fill(screen: &mut Screen, action: &str, inputs: &[Param], issues: &[FieldIssue]) -> bool {
    let mut placed = false;
    for block in &mut screen.blocks {
        let Block::Form(form) = block else { continue };
        if form.action != action {
            continue;
        }
        placed = !issues.is_empty();
        for field in &mut form.fields {
            let given: Vec<&str> = inputs
                .iter()
                .filter(|p| p.name == field.name)
                .map(|p| p.value.as_str())
                .collect();
            if !given.is_empty() {
                field.value = Some(match field.kind {
                    FieldKind::MultiSelect(_) => given.join(","),
                    _ => given.last().copied().unwrap_or_default().to_string(),
                });
            }
            field.error = issues
                .iter()
                .find(|i| i.field == field.name)
                .map(|i| Label {
                    en: i.message.clone(),
                    zh_hans: i.message_zh_hans.clone(),
                });
        }
        for i in issues {
            if !form.fields.iter().any(|f| f.name == i.field) {
                form.errors.push(Label {
                    en: i.message.clone(),
                    zh_hans: i.message_zh_hans.clone(),
                });
            }
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::abi::latest::ui::Choice;

    fn spec(kind: FieldKind, required: bool, rules: Vec<Rule>) -> Vec<FieldSpec> {
        vec![FieldSpec {
            name: "f".into(),
            kind,
            required,
            rules,
        }]
    }

    fn check1(s: &[FieldSpec], v: &str) -> Option<String> {
        check_fields(
            s,
            &[Param {
                name: "f".into(),
                value: v.into(),
            }],
        )
        .pop()
        .map(|i| i.message)
    }

    #[test]
    fn kinds_and_rules_are_checked() {
        let int = spec(
            FieldKind::Integer,
            true,
            vec![Rule::Min(1.0), Rule::Max(365.0)],
        );
        assert_eq!(check1(&int, "").as_deref(), Some("is required"));
        assert_eq!(check1(&int, "x").as_deref(), Some("must be a whole number"));
        assert_eq!(
            check1(&int, "0").as_deref(),
            Some("must be a number of at least 1")
        );
        assert_eq!(
            check1(&int, "400").as_deref(),
            Some("must be a number of at most 365")
        );
        assert_eq!(check1(&int, "30"), None);
        let code = spec(
            FieldKind::Text,
            false,
            vec![Rule::MaxLength(8), Rule::Pattern("[A-Z0-9-]+".into())],
        );
        assert_eq!(check1(&code, ""), None);
        assert_eq!(check1(&code, "SPORT-1"), None);
        assert_eq!(
            check1(&code, "sport").as_deref(),
            Some("is not in the expected format")
        );
        assert_eq!(
            check1(&code, "SPORTS-PLUS").as_deref(),
            Some("must be at most 8 characters")
        );
        let email = spec(FieldKind::Email, true, vec![]);
        assert_eq!(
            check1(&email, "not-an-email").as_deref(),
            Some("must be an email address")
        );
        assert_eq!(check1(&email, "a@example.com"), None);
        let date = spec(FieldKind::Date, true, vec![]);
        assert!(check1(&date, "2026-02-30").is_some());
        assert_eq!(check1(&date, "2026-02-28"), None);
        let choices = vec![Choice {
            value: "monthly".into(),
            text: Label {
                en: "Monthly".into(),
                zh_hans: None,
            },
        }];
        let sel = spec(FieldKind::Select(choices.clone()), true, vec![]);
        assert_eq!(
            check1(&sel, "weekly").as_deref(),
            Some("is not one of the choices")
        );
        assert_eq!(check1(&sel, "monthly"), None);
        let multi = spec(FieldKind::MultiSelect(choices), false, vec![]);
        assert_eq!(check1(&multi, "monthly"), None);
        assert!(check1(&multi, "daily").is_some());
        let cb = spec(FieldKind::Checkbox, false, vec![]);
        assert_eq!(check1(&cb, "true"), None);
        assert!(check1(&cb, "yes").is_some());
    }

    #[test]
    fn a_loosened_or_foreign_form_is_refused() {
        let keys = TenantKeys::new(
            "t1".into(),
            crate::vault::SealingKey::generate(1),
            crate::vault::Key::random(),
        );
        let form = Form {
            id: "plan".into(),
            action: "create-plan".into(),
            title: None,
            fields: vec![],
            submit: Label {
                en: "Add".into(),
                zh_hans: None,
            },
            errors: vec![],
        };
        let (sealed, mac) = seal(&keys, "subscriptions", &form.action, &Offer::of_form(&form));
        assert!(open(&keys, "subscriptions", "create-plan", &sealed, &mac).is_ok());
        // Another action, another plugin, or a changed specification: refused.
        assert!(open(&keys, "subscriptions", "enroll", &sealed, &mac).is_err());
        assert!(open(&keys, "deals", "create-plan", &sealed, &mac).is_err());
        let loosened = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[]x");
        assert!(open(&keys, "subscriptions", "create-plan", &loosened, &mac).is_err());
    }

    #[test]
    fn a_submission_must_match_its_offer() {
        let p = |n: &str, v: &str| Param {
            name: n.into(),
            value: v.into(),
        };
        let form = Offer::Form(spec(FieldKind::Text, true, vec![Rule::MaxLength(3)]));
        assert!(check(&form, None, &[p("f", "abc")]).is_empty());
        assert_eq!(check(&form, None, &[]).len(), 1, "required");
        let extra = check(&form, None, &[p("f", "abc"), p("admin", "true")]);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].field, "admin");
        let button = Offer::Button(vec![("plan".into(), "gold".into())]);
        assert!(check(&button, None, &[p("plan", "gold")]).is_empty());
        assert!(!check(&button, None, &[p("plan", "free")]).is_empty());
        assert!(!check(&button, None, &[p("plan", "gold"), p("x", "1")]).is_empty());
        assert!(check(&Offer::Row, Some("r1"), &[]).is_empty());
        assert!(!check(&Offer::Row, None, &[]).is_empty());
        assert!(!check(&Offer::Row, Some("r1"), &[p("f", "x")]).is_empty());
    }

    #[test]
    fn patterns_are_bounded_before_they_cost() {
        let started = std::time::Instant::now();
        // The review's pattern: refused as it compiles (its program is far over the bound).
        assert!(pattern(r"\w{500}\w{500}").is_none());
        assert!(pattern(&"a".repeat(MAX_PATTERN_CHARS + 1)).is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(pattern("[a-z0-9-]{2,32}").is_some_and(|re| re.is_match("sports-cn")));
        let many = Offer::Form(
            (0..=MAX_PATTERNS)
                .map(|i| FieldSpec {
                    name: format!("f{i}"),
                    kind: FieldKind::Text,
                    required: false,
                    rules: vec![Rule::Pattern("[a-z]+".into())],
                })
                .collect(),
        );
        assert_eq!(check(&many, None, &[])[0].field, "_form");
    }
}
