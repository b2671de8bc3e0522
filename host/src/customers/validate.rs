//! Validation of customer input. Every message names the field and the rule, never the value.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Regions a customer can belong to (they select the privacy regime: PIPL, GDPR, CCPA).
pub const REGIONS: [&str; 4] = ["CN", "EU", "US", "OTHER"];

pub const WRITABLE_FIELDS: [&str; 9] = [
    "name",
    "email",
    "phone",
    "address",
    "birth_date",
    "notes",
    "region",
    "tags",
    "consents",
];

/// A validated set of changes. `Some(None)` clears an optional personal field.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub birth_date: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    pub region: Option<String>,
    pub tags: Option<Vec<String>>,
    pub consents: Option<BTreeMap<String, bool>>,
    /// What the person was shown and how each consent was collected, per purpose (given in
    /// the object form of a `consents` entry): kept in the consent ledger.
    pub consent_notes: BTreeMap<String, ConsentNote>,
}

/// How one consent was collected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConsentNote {
    /// A form, a call script, a box ticked on a site: sealed under the customer's key.
    pub evidence: Option<String>,
    /// The version of the wording the person was shown.
    pub wording: Option<String>,
}

impl Changes {
    /// The names of the fields this change writes (for the policy's field-level checks).
    pub fn fields(&self) -> Vec<String> {
        let mut f = Vec::new();
        let present = [
            ("name", self.name.is_some()),
            ("email", self.email.is_some()),
            ("phone", self.phone.is_some()),
            ("address", self.address.is_some()),
            ("birth_date", self.birth_date.is_some()),
            ("notes", self.notes.is_some()),
            ("region", self.region.is_some()),
            ("tags", self.tags.is_some()),
            ("consents", self.consents.is_some()),
        ];
        for (name, p) in present {
            if p {
                f.push(name.to_string());
            }
        }
        f
    }

    /// The personal fields written, with their new value (None = cleared).
    pub fn personal(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut out = Vec::new();
        if let Some(n) = &self.name {
            out.push(("name", Some(n.as_str())));
        }
        for (name, v) in [
            ("email", &self.email),
            ("phone", &self.phone),
            ("address", &self.address),
            ("birth_date", &self.birth_date),
            ("notes", &self.notes),
        ] {
            if let Some(v) = v {
                out.push((name, v.as_deref()));
            }
        }
        out
    }
}

fn err(field: &str, rule: &str) -> String {
    format!("field `{field}`: {rule}")
}

fn no_control(field: &str, s: &str, allow_newline: bool) -> Result<(), String> {
    if s.chars()
        .any(|c| c.is_control() && !(allow_newline && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(err(field, "must not contain control characters"));
    }
    Ok(())
}

fn text(field: &str, v: &Value, max: usize, allow_newline: bool) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| err(field, "must be a string"))?
        .trim();
    if s.is_empty() {
        return Err(err(field, "must not be empty (use null to clear it)"));
    }
    if s.chars().count() > max {
        return Err(err(field, &format!("must be at most {max} characters")));
    }
    no_control(field, s, allow_newline)?;
    Ok(s.to_string())
}

fn optional(
    field: &str,
    v: &Value,
    f: impl Fn(&Value) -> Result<String, String>,
) -> Result<Option<String>, String> {
    if v.is_null() {
        Ok(None)
    } else {
        f(v).map(Some).map_err(|e| {
            if e.starts_with("field") {
                e
            } else {
                err(field, &e)
            }
        })
    }
}

pub fn email(v: &Value) -> Result<String, String> {
    let s = text("email", v, 254, false)?;
    let invalid = || err("email", "is not a valid email address");
    let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || s.chars().any(char::is_whitespace)
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(invalid());
    }
    Ok(s)
}

pub fn phone(v: &Value) -> Result<String, String> {
    let s = text("phone", v, 32, false)?;
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        || s.matches('+').count() > 1
        || (s.contains('+') && !s.starts_with('+'))
    {
        return Err(err(
            "phone",
            "must be an international number such as +8613812345678",
        ));
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !s.starts_with('+') || !(7..=15).contains(&digits.len()) {
        return Err(err(
            "phone",
            "must start with + and a country code and have 7 to 15 digits",
        ));
    }
    Ok(format!("+{digits}"))
}

pub fn birth_date(v: &Value) -> Result<String, String> {
    let s = text("birth_date", v, 10, false)?;
    let d = chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| err("birth_date", "must be a date written YYYY-MM-DD"))?;
    let today = chrono::Utc::now().date_naive();
    if d > today || d < chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) {
        return Err(err("birth_date", "must be between 1900-01-01 and today"));
    }
    Ok(d.format("%Y-%m-%d").to_string())
}

pub fn region(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| err("region", "must be a string"))?;
    if !REGIONS.contains(&s) {
        return Err(err(
            "region",
            &format!("must be one of {}", REGIONS.join(", ")),
        ));
    }
    Ok(s.to_string())
}

pub fn tags(v: &Value) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| err("tags", "must be an array of strings"))?;
    if arr.len() > 20 {
        return Err(err("tags", "must have at most 20 tags"));
    }
    let mut out = std::collections::BTreeSet::new();
    for t in arr {
        let s = t
            .as_str()
            .ok_or_else(|| err("tags", "must be an array of strings"))?;
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(err("tags", "each tag is 1-32 characters of a-z, 0-9 and -"));
        }
        out.insert(s.to_string());
    }
    Ok(out.into_iter().collect())
}

/// Consents: purpose → granted.
pub fn consents(v: &Value) -> Result<BTreeMap<String, bool>, String> {
    consents_with_notes(v).map(|(m, _)| m)
}

/// Purpose → granted, and purpose → how that consent was collected.
pub type ConsentsAndNotes = (BTreeMap<String, bool>, BTreeMap<String, ConsentNote>);

/// Consents, and how those given in object form were collected.
pub fn consents_with_notes(v: &Value) -> Result<ConsentsAndNotes, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("consents", "must be an object of purpose: true/false"))?;
    if obj.len() > 20 {
        return Err(err("consents", "must have at most 20 purposes"));
    }
    let mut out = BTreeMap::new();
    let mut notes = BTreeMap::new();
    for (k, v) in obj {
        let ok = !k.is_empty()
            && k.len() <= 40
            && k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(err(
                "consents",
                "purposes are 1-40 characters of a-z, 0-9 and _",
            ));
        }
        let (b, note) = consent_entry(k, v)?;
        out.insert(k.clone(), b);
        if let Some(note) = note {
            notes.insert(k.clone(), note);
        }
    }
    Ok((out, notes))
}

/// The longest description of how a consent was collected.
pub const MAX_EVIDENCE_CHARS: usize = 200;

/// A wording version: 1-40 characters of letters, digits, `.`, `_` and `-`.
fn consent_wording(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 40
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
        .ok_or_else(|| {
            err(
                "consents",
                "a wording is 1-40 characters of letters, digits, '.', '_' and '-'",
            )
        })?;
    Ok(s.to_string())
}

/// One `consents` entry: `true`/`false`, or `{"granted": …, "evidence"?: …, "wording"?: …}`.
fn consent_entry(purpose: &str, v: &Value) -> Result<(bool, Option<ConsentNote>), String> {
    if let Some(b) = v.as_bool() {
        return Ok((b, None));
    }
    let shape = || {
        err(
            "consents",
            &format!(
                "purpose `{purpose}` must be true, false or {{\"granted\": true|false, \"evidence\"?: text, \"wording\"?: version}}"
            ),
        )
    };
    let o = v.as_object().ok_or_else(shape)?;
    if o.keys()
        .any(|k| !["granted", "evidence", "wording"].contains(&k.as_str()))
    {
        return Err(shape());
    }
    let granted = o
        .get("granted")
        .and_then(Value::as_bool)
        .ok_or_else(shape)?;
    let note = ConsentNote {
        evidence: o
            .get("evidence")
            .map(|e| text("consents", e, MAX_EVIDENCE_CHARS, false))
            .transpose()?,
        wording: o.get("wording").map(consent_wording).transpose()?,
    };
    Ok((granted, Some(note)))
}

/// Validates a JSON object of customer fields. `creating` requires `name` and `region`.
pub fn changes(body: &Map<String, Value>, creating: bool) -> Result<Changes, String> {
    for k in body.keys() {
        if !WRITABLE_FIELDS.contains(&k.as_str()) {
            return Err(format!(
                "unknown field `{}`; writable fields are: {}",
                k.chars().take(64).collect::<String>(),
                WRITABLE_FIELDS.join(", ")
            ));
        }
    }
    let mut c = Changes::default();
    if let Some(v) = body.get("name") {
        c.name = Some(text("name", v, 200, false)?);
    }
    if let Some(v) = body.get("email") {
        c.email = Some(optional("email", v, email)?);
    }
    if let Some(v) = body.get("phone") {
        c.phone = Some(optional("phone", v, phone)?);
    }
    if let Some(v) = body.get("address") {
        c.address = Some(optional("address", v, |v| text("address", v, 500, true))?);
    }
    if let Some(v) = body.get("birth_date") {
        c.birth_date = Some(optional("birth_date", v, birth_date)?);
    }
    if let Some(v) = body.get("notes") {
        c.notes = Some(optional("notes", v, |v| text("notes", v, 4000, true))?);
    }
    if let Some(v) = body.get("region") {
        c.region = Some(region(v)?);
    }
    if let Some(v) = body.get("tags") {
        c.tags = Some(tags(v)?);
    }
    if let Some(v) = body.get("consents") {
        let (map, notes) = consents_with_notes(v)?;
        c.consents = Some(map);
        c.consent_notes = notes;
    }
    if creating {
        if c.name.is_none() {
            return Err(err("name", "is required"));
        }
        if c.region.is_none() {
            return Err(err("region", "is required"));
        }
    } else if c.fields().is_empty() {
        return Err("the request changes no field".into());
    }
    Ok(c)
}

/// The masked rendering of a personal field: enough to recognise, not enough to use.
pub fn mask(field: &str, value: &str) -> String {
    match field {
        "email" => match value.split_once('@') {
            Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
            None => "***".into(),
        },
        "phone" => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            let keep = digits.len().saturating_sub(4);
            format!(
                "+{}{}",
                "*".repeat(keep),
                digits[keep..].iter().collect::<String>()
            )
        }
        "name" => value
            .split_whitespace()
            .map(|w| {
                let mut cs = w.chars();
                let first = cs.next().unwrap_or('*');
                let rest = cs.count().max(1);
                format!("{first}{}", "*".repeat(rest))
            })
            .collect::<Vec<_>>()
            .join(" "),
        "birth_date" => format!("{}-**-**", value.get(..4).unwrap_or("****")),
        _ => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn accepts_a_full_customer() {
        let c = changes(
            &obj(json!({"name": "王芳", "email": "Wang.Fang@example.cn", "phone": "+86 138-1234 5678",
                "birth_date": "1990-02-03", "region": "CN", "tags": ["vip", "sports", "vip"],
                "consents": {"marketing_email": true}})),
            true,
        )
        .unwrap();
        assert_eq!(c.phone, Some(Some("+8613812345678".into())));
        assert_eq!(c.tags, Some(vec!["sports".into(), "vip".into()]));
    }

    #[test]
    fn refuses_bad_input_naming_the_field() {
        let cases = [
            (
                json!({"name": "x", "region": "CN", "id": "abc"}),
                "unknown field `id`",
            ),
            (json!({"name": "x", "region": "MARS"}), "field `region`"),
            (
                json!({"name": "x", "region": "CN", "email": "not-an-email"}),
                "field `email`",
            ),
            (
                json!({"name": "x", "region": "CN", "email": "a b@example.com"}),
                "field `email`",
            ),
            (
                json!({"name": "x", "region": "CN", "phone": "12345"}),
                "field `phone`",
            ),
            (
                json!({"name": "x", "region": "CN", "birth_date": "1990-02-30"}),
                "field `birth_date`",
            ),
            (
                json!({"name": "x", "region": "CN", "birth_date": "2999-01-01"}),
                "field `birth_date`",
            ),
            (
                json!({"name": "x".repeat(201), "region": "CN"}),
                "field `name`",
            ),
            (
                json!({"name": "x", "region": "CN", "tags": ["Bad Tag"]}),
                "field `tags`",
            ),
            (
                json!({"name": "x", "region": "CN", "consents": {"marketing": "yes"}}),
                "field `consents`",
            ),
            (json!({"region": "CN"}), "field `name`: is required"),
        ];
        for (body, want) in cases {
            let e = changes(&obj(body.clone()), true).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
        assert!(changes(&obj(json!({})), false).is_err());
    }

    #[test]
    fn masks_reveal_little() {
        assert_eq!(mask("phone", "+8613812345678"), "+*********5678");
        assert_eq!(mask("email", "alice@example.com"), "a***@example.com");
        assert_eq!(mask("birth_date", "1990-02-03"), "1990-**-**");
        assert_eq!(mask("name", "José García"), "J*** G*****");
        assert_eq!(mask("notes", "secret"), "***");
    }
}
