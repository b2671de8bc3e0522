//! The OpenAPI document, generated from the handlers' annotations.
//!
//! Each handler declares what it answers itself; [`Conventions`] then adds, in one place, what
//! the shared extractors answer for every route that uses them (see its rules), gives every error
//! response the one error shape ([`ErrorBody`]) and every 429 and 503 its `Retry-After` header.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{Modify, OpenApi, PartialSchema};

use super::{api, plugins, policies, privacy};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Broadcaster CRM API",
        description = "Customer records, sign-in and audit. Personal fields are encrypted at rest; every request is decided by policy and audited. Every error is answered as `{\"error\": {\"code\", \"message\", \"fields\"?}}` (`ErrorBody`)."
    ),
    paths(
        api::create_session,
        api::delete_session,
        api::sign_out_everywhere,
        api::me,
        api::mfa_start,
        api::mfa_confirm,
        api::create_token,
        api::list_tokens,
        api::revoke_token,
        api::create_customer,
        api::list_customers,
        api::get_customer,
        api::update_customer,
        api::delete_customer,
        api::add_interaction,
        api::list_interactions,
        api::consent_history,
        api::audit_list,
        api::audit_verify,
        policies::check,
        policies::publish,
        policies::publish_bundle,
        policies::list,
        policies::show,
        policies::diff,
        policies::rollback,
        policies::decisions,
        plugins::list,
        plugins::install,
        plugins::upgrade,
        plugins::show,
        plugins::uninstall,
        plugins::enable,
        plugins::disable,
        plugins::limits,
        plugins::log,
        plugins::jobs,
        plugins::run_job,
        plugins::screen,
        plugins::action,
        plugins::trust_key,
        plugins::trust,
        privacy::queue,
        privacy::open,
        privacy::show,
        privacy::step,
        privacy::holds,
        privacy::place_hold,
        privacy::release_hold,
        privacy::start_export,
        privacy::exports,
        privacy::export_status,
        privacy::download_export,
        privacy::purposes,
        privacy::set_purpose,
        privacy::lift_restriction,
        privacy::rectify,
        api::backup_status,
        privacy::report,
        privacy::settings,
        privacy::put_settings,
        privacy::retention_runs,
        privacy::run_retention,
    ),
    components(schemas(ErrorBody, ErrorDetail, crate::error::FieldIssue, crate::policy::Obligations)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The body of every error answer (`AppError`'s rendering, and axum's own refusals under `/api/`,
/// which the server rewrites into it).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid_json`, `invalid_request`, `invalid_query`,
    /// `invalid_customer`, `unauthenticated`, `csrf`, `forbidden`, `not_found`, `conflict`,
    /// `rate_limited`, `internal`, …
    code: String,
    /// What is wrong, for people; it names fields and rules, never submitted values.
    message: String,
    /// The refused input fields, each with its message (a plugin's or a form's `invalid`);
    /// present only when there are some.
    #[schema(nullable = false, min_items = 1)]
    fields: Option<Vec<crate::error::FieldIssue>>,
}

/// Operations anyone may call (every other one needs a session or an API token).
const PUBLIC: [&str; 1] = ["sign_in"];

/// The document's conventions, applied to every operation:
///
/// - every operation but sign-in takes a session (`Authorization: Bearer …`, or the session
///   cookie), and so may answer 401 (`Authenticated`);
/// - every such operation with an unsafe method may answer 403 (`Authenticated`: a cookie session
///   sent no or a wrong `X-CSRF-Token`; most also ask the policy, which may refuse with 403);
/// - a JSON body (`JsonObject`) may be answered 400 (malformed JSON, a duplicate key, not an
///   object, an unknown field, a wrong type), 413 (over 256 KiB) or 415 (not `application/json`);
/// - a path parameter that is not UTF-8 once percent-decoded is answered 400 (axum's `Path`);
/// - anything may answer 500 (a database or integrity failure, logged);
/// - every 4xx/5xx answer carries [`ErrorBody`], every 429 and 503 a `Retry-After` header
///   (seconds) when the server knows how long to wait.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(utoipa::openapi::security::Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::SESSION_COOKIE))),
        );
        for item in doc.paths.paths.values_mut() {
            let ops = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (op, unsafe_method) in ops {
                if let Some(op) = op {
                    conventions(op, unsafe_method);
                }
            }
        }
    }
}

fn conventions(op: &mut Operation, unsafe_method: bool) {
    let public = op
        .operation_id
        .as_deref()
        .is_some_and(|id| PUBLIC.contains(&id));
    let mut add = |status: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().build()));
    };
    if !public {
        add("401");
        if unsafe_method {
            add("403");
        }
    }
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    if json_body {
        add("400");
        add("413");
        add("415");
    }
    let path_params = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
    if path_params {
        add("400");
    }
    add("500");
    if !public {
        op.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session_cookie", Vec::<String>::new()),
        ]);
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = response else { continue };
        if r.description.is_empty() {
            r.description = default_description(status).to_string();
        }
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if r.content.is_empty() {
            r.content.insert(
                "application/json".into(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
        }
        if status == "429" || status == "503" {
            r.headers.entry("Retry-After".into()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(u64::schema())
                    .description(Some("Seconds to wait before trying again."))
                    .build()
            });
        }
    }
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "Done; no body",
        "400" => {
            "The request cannot be read: malformed JSON, a duplicate or unknown key, a value of \
             the wrong type or outside its rules, or a bad query or path"
        }
        "401" => "Not signed in: no session or API token, or it expired or was revoked",
        "403" => {
            "Refused: the policy denies it (its reasons in the message), or a cookie session \
             sent no valid X-CSRF-Token"
        }
        "404" => "Not found",
        "409" => "Conflicts with the current state",
        "413" => "The request body is too large",
        "415" => "The body must be sent as application/json",
        "422" => "Understood but refused",
        "429" => "Too many requests",
        "500" => "Internal error; it has been logged",
        "502" => "The plugin failed (stopped by its sandbox)",
        "503" => "Busy; try again shortly",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::schemas::customer_properties;
    use super::*;
    use crate::customers::validate;

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_operation_has_a_unique_id() {
        let doc = doc();
        let mut seen = std::collections::BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(seen.insert(id.clone()), "operationId {id} is used twice");
        }
    }

    #[test]
    fn every_route_of_the_api_is_documented() {
        let doc = doc();
        let ops: std::collections::BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        for (m, p) in [
            ("delete", "/api/v1/me/sessions"),
            ("get", "/api/v1/tokens"),
            ("delete", "/api/v1/tokens/{id}"),
        ] {
            assert!(ops.contains(&(m.to_string(), p.to_string())), "{m} {p}");
        }
    }

    #[test]
    fn every_error_answer_has_the_error_shape() {
        let doc = doc();
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path}");
            if op["operationId"] != "sign_in" {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
                if status == "429" || status == "503" {
                    assert!(r["headers"]["Retry-After"].is_object(), "{method} {path}");
                }
            }
        }
    }

    /// Strings around each rule's edges, and some that break it.
    fn samples() -> Vec<String> {
        let mut s: Vec<String> = [
            "",
            " ",
            "a",
            " a ",
            "\ta\n",
            "a\u{7}b",
            "a\nb",
            "a\tb",
            "a\u{b}b",
            "\u{85}a",
            "a\u{a0}",
            "\u{1c}a",
            "a\u{3000}b",
            "王芳",
            "x@y.z",
            "a@b.cd",
            " a.b+c@example.com ",
            "a@@b.cd",
            "a b@c.de",
            "a@b..cd",
            "a@.b.cd",
            "a@b.cd.",
            "a@b_c.de",
            "josé@example.com",
            "+8613812345678",
            "+86 138-1234 5678",
            "+1 (555) 010.0000",
            "++8613812345678",
            "8613812345678",
            "+123456",
            "+1234567",
            "+1234567890123456",
            "+123456789012345",
            "+1-2-3-4-5-6-7-8-9-0-1-2-3-4-5",
            "+1--2345678",
            "1990-02-03",
            " 1990-02-03 ",
            "1900-01-01",
            "1899-12-31",
            "1990-02-29",
            "1992-02-29",
            "1990-02-30",
            "1990-13-01",
            "1990-2-3",
            "2999-01-01",
            "19900203",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [199, 200, 201, 499, 500, 501, 3999, 4000, 4001] {
            s.push("x".repeat(n));
            s.push(format!(" {} ", "y".repeat(n)));
            s.push(format!("a{}b", "\n".repeat(n.saturating_sub(2))));
        }
        s.push(format!("{}@example.com", "l".repeat(64)));
        s.push(format!("{}@example.com", "l".repeat(65)));
        s.push(format!("a@{}.com", "d".repeat(61)));
        s
    }

    /// Each customer field's pattern admits only values `validate::changes` accepts, and the
    /// exact ones (text fields, tags, consents' purposes) admit every value it accepts.
    #[test]
    fn customer_patterns_admit_what_the_server_accepts() {
        let props = customer_properties();
        let re =
            |field: &str| regex::Regex::new(props[field]["pattern"].as_str().unwrap()).unwrap();
        let accepts = |field: &str, v: &str| {
            let mut body = serde_json::Map::new();
            body.insert(field.into(), Value::String(v.into()));
            validate::changes(&body, false).is_ok()
        };
        for field in ["name", "email", "phone", "address", "birth_date", "notes"] {
            let re = re(field);
            let exact = matches!(field, "name" | "address" | "notes");
            for v in samples() {
                let (m, a) = (re.is_match(&v), accepts(field, &v));
                assert!(
                    !m || a,
                    "{field}: the pattern admits {v:?}, the server refuses it"
                );
                assert!(!exact || m == a, "{field}: {v:?}: pattern {m}, server {a}");
            }
        }
        let tag = regex::Regex::new(props["tags"]["items"]["pattern"].as_str().unwrap()).unwrap();
        let purpose = regex::Regex::new(
            props["consents"]["propertyNames"]["pattern"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        for v in samples()
            .into_iter()
            .chain(["vip", "a-b", "-a", "Vip", "sports9", "a_b", "x1_"].map(String::from))
        {
            let tags_ok = validate::tags(&json!([v])).is_ok();
            assert_eq!(tag.is_match(&v), tags_ok, "tag {v:?}");
            let purpose_ok = validate::consents(&json!({ v.clone(): true })).is_ok();
            assert_eq!(purpose.is_match(&v), purpose_ok, "purpose {v:?}");
        }
    }

    #[test]
    fn customer_bodies_are_in_the_document() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CustomerCreate"]["additionalProperties"], false);
        assert_eq!(schemas["CustomerUpdate"]["minProperties"], 1);
        assert_eq!(
            doc["paths"]["/api/v1/customers"]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/CustomerCreate"
        );
    }
}
