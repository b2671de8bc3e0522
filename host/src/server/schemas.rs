//! The schemas of the customer bodies (`POST` and `PATCH /api/v1/customers`).
//!
//! `validate::changes` reads a customer body by hand (to tell "absent" from "null" and to name
//! every refused field), so its schema is written out here, rule by rule. Each pattern admits only
//! values the server accepts; where the server's rule cannot be spelled as a pattern (a local part
//! of at most 64 bytes, a birth date up to today) the pattern admits a slightly smaller set.

use std::borrow::Cow;

use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use crate::customers::validate;

/// Characters Rust's `str::trim` removes (Unicode `White_Space`).
const WS: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`: Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// Control characters other than tab, line feed and carriage return.
const CONTROL_BUT_LINES: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F";

/// A text field as `validate::text` accepts it: after trimming, 1 to `max` characters, no
/// control characters (but tabs and line breaks where `lines`).
fn text_pattern(max: usize, lines: bool) -> String {
    let inner = if lines { CONTROL_BUT_LINES } else { CONTROL };
    format!(
        "^[{WS}]*[^{WS}{CONTROL}](?:[^{inner}]{{0,{}}}[^{WS}{CONTROL}])?[{WS}]*$",
        max - 2
    )
}

fn email_pattern() -> String {
    // At most 64 + 1 + 185 characters, within the 254 allowed; ASCII, so bytes are characters.
    let label = "[A-Za-z0-9-]{1,61}";
    format!("^[{WS}]*[!-?A-~]{{1,64}}@{label}(?:\\.{label}){{1,2}}[{WS}]*$")
}

fn phone_pattern() -> String {
    // `+`, then 7 to 15 digits with at most one separator before each: at most 32 characters.
    format!("^[{WS}]*\\+(?:[ ().-]?[0-9]){{7,15}}[().-]?[{WS}]*$")
}

/// Dates from 1900-01-01 to the last day of last year (the server takes up to today), February
/// 29th left out.
fn birth_date_pattern() -> String {
    use chrono::Datelike;
    let last = chrono::Utc::now().year() - 1;
    let mut years = Vec::new();
    let mut decade = 190;
    while decade * 10 + 9 <= last {
        years.push(format!("{decade}[0-9]"));
        decade += 1;
    }
    if decade * 10 <= last {
        years.push(format!("{decade}[0-{}]", last - decade * 10));
    }
    let days = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
    format!("^[{WS}]*(?:{})-{days}[{WS}]*$", years.join("|"))
}

pub(super) fn customer_properties() -> Value {
    let optional = |pattern: String, description: &str| json!({"type": ["string", "null"], "pattern": pattern, "description": description});
    json!({
        "name": {
            "type": "string",
            "pattern": text_pattern(200, false),
            "description": "1 to 200 characters once trimmed, no control characters.",
        },
        "email": optional(email_pattern(), "An email address (a local part of at most 64 bytes, a dotted domain of letters, digits and hyphens; 254 characters in all); null clears it."),
        "phone": optional(phone_pattern(), "An international number: + and the country code, 7 to 15 digits, spaces, dots, hyphens and parentheses allowed; stored as + and its digits; null clears it."),
        "address": optional(text_pattern(500, true), "1 to 500 characters once trimmed; line breaks and tabs allowed, no other control characters; null clears it."),
        "birth_date": optional(birth_date_pattern(), "YYYY-MM-DD, from 1900-01-01 to today; null clears it."),
        "notes": optional(text_pattern(4000, true), "1 to 4,000 characters once trimmed; line breaks and tabs allowed, no other control characters; null clears it."),
        "region": {
            "type": "string",
            "enum": validate::REGIONS,
            "description": "Selects the privacy regime (PIPL, GDPR, CCPA).",
        },
        "tags": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,31}$"},
            "description": "At most 20 tags of 1 to 32 characters of a-z, 0-9 and -, starting with a letter or digit; repeats are kept once.",
        },
        "consents": {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
            "additionalProperties": {"oneOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "required": ["granted"],
                    "additionalProperties": false,
                    "properties": {
                        "granted": {"type": "boolean"},
                        "evidence": {
                            "type": "string",
                            "pattern": text_pattern(validate::MAX_EVIDENCE_CHARS, false),
                            "description": "How the consent was collected (kept in the consent history, sealed under the customer's key).",
                        },
                        "wording": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9._-]{1,40}$",
                            "description": "The version of the consent wording shown to the person.",
                        },
                    },
                },
            ]},
            "description": "Consent purposes (1 to 40 characters of a-z, 0-9 and _, starting with a letter) granted (true) or withdrawn (false), or given as {granted, evidence?, wording?} to record how it was collected; at most 20. Each change is appended to the customer's consent history; a purpose the tenant marks as needing separate consent must be granted on its own.",
        },
    })
}

fn schema_of(v: Value) -> RefOr<Schema> {
    serde_json::from_value(v).expect("the customer body schema is a valid OpenAPI schema")
}

/// The body of `POST /api/v1/customers`: `name` and `region` required, nothing else allowed.
pub struct CustomerCreate;

impl PartialSchema for CustomerCreate {
    fn schema() -> RefOr<Schema> {
        schema_of(json!({
            "type": "object",
            "description": "A new customer. Unknown fields are refused.",
            "required": ["name", "region"],
            "properties": customer_properties(),
            "additionalProperties": false,
        }))
    }
}

impl ToSchema for CustomerCreate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CustomerCreate")
    }
}

/// The body of `PATCH /api/v1/customers/{id}`: at least one field; `null` clears an optional one.
pub struct CustomerUpdate;

impl PartialSchema for CustomerUpdate {
    fn schema() -> RefOr<Schema> {
        schema_of(json!({
            "type": "object",
            "description": "The fields to change (at least one); null clears an optional personal field. Unknown fields are refused.",
            "minProperties": 1,
            "properties": customer_properties(),
            "additionalProperties": false,
        }))
    }
}

impl ToSchema for CustomerUpdate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CustomerUpdate")
    }
}
