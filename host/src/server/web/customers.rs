//! The customer screens: the list with its filters, a customer's details and interactions, and
//! recording an interaction.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{SignedForm, error_page, lang_of, layout, page, query_map, t};
use crate::customers::{self, CustomerView, ListQuery, Page, validate};
use crate::error::AppError;
use crate::server::AppState;
use crate::server::auth::Authenticated;

/// The list's filters as the query string gives them (a region only if it is one we know).
struct Filters {
    region: Option<String>,
    tag: Option<String>,
    email: Option<String>,
    page: i64,
}

impl Filters {
    fn of(qm: &HashMap<String, String>) -> Self {
        Self {
            region: qm
                .get("region")
                .filter(|r| validate::REGIONS.contains(&r.as_str()))
                .cloned(),
            tag: qm.get("tag").filter(|t| !t.is_empty()).cloned(),
            email: qm.get("email").filter(|e| !e.is_empty()).cloned(),
            page: qm
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .max(1),
        }
    }

    /// The query for one page of 25, or the reason a tag or an email is not valid.
    fn query(&self) -> Result<ListQuery, AppError> {
        let invalid = |m| AppError::bad_request("invalid_query", m);
        let mut q = ListQuery {
            region: self.region.clone(),
            page: self.page,
            per_page: 25,
            ..Default::default()
        };
        if let Some(t) = &self.tag {
            q.tags = validate::tags(&serde_json::json!([t])).map_err(invalid)?;
        }
        if let Some(e) = &self.email {
            q.email = Some(validate::email(&serde_json::json!(e)).map_err(invalid)?);
        }
        Ok(q)
    }

    /// The list's URL for page `p` with the same filters.
    fn link(&self, p: i64) -> String {
        let mut qs: Vec<(String, String)> = vec![("page".into(), p.to_string())];
        for (k, v) in [
            ("region", &self.region),
            ("tag", &self.tag),
            ("email", &self.email),
        ] {
            if let Some(v) = v {
                qs.push((k.into(), v.clone()));
            }
        }
        format!(
            "/customers?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(qs)
                .finish()
        )
    }
}

pub(super) async fn customer_list(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let qm = query_map(&uri);
    let lang = lang_of(Some(&who), &qm);
    let filters = Filters::of(&qm);
    let result = match filters.query() {
        Ok(q) => customers::list(&s.app, &who.actor, &q).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(result) => page(
            StatusCode::OK,
            layout(
                &lang,
                t(&lang, "customers"),
                Some(&who),
                list_body(&lang, &filters, &result),
            ),
        ),
        Err(e) => error_page(&lang, Some(&who), &e),
    }
}

fn list_body(lang: &str, filters: &Filters, result: &Page) -> Markup {
    let pages = ((result.total + result.per_page - 1) / result.per_page).max(1);
    let page_no = filters.page;
    html! {
        h1 { (t(lang, "customers")) " " small { "(" (result.total) ")" } }
        @if !result.purposes.is_empty() {
            p.muted role="note" { (t(lang, "consent_filtered")) " " (result.purposes.join(", ")) }
        }
        (filter_form(lang, filters))
        table {
            thead { tr { th scope="col" { (t(lang, "name")) } th scope="col" { (t(lang, "email")) } th scope="col" { (t(lang, "phone")) } th scope="col" { (t(lang, "region")) } th scope="col" { (t(lang, "tags")) } } }
            tbody {
                @for c in &result.items {
                    tr {
                        td { a href=(format!("/customers/{}", c.id)) { (c.name.clone().unwrap_or_else(|| "—".into())) } }
                        td { (field_text(lang, c.email.as_deref(), c, "email")) }
                        td { (field_text(lang, c.phone.as_deref(), c, "phone")) }
                        td { (c.region) }
                        td { (c.tags.join(", ")) }
                    }
                }
            }
        }
        nav.pager aria-label="Pagination" {
            @if page_no > 1 { a href=(filters.link(page_no - 1)) { (t(lang, "prev")) } }
            span { (t(lang, "page")) " " (page_no) " " (t(lang, "of")) " " (pages) }
            @if page_no < pages { a href=(filters.link(page_no + 1)) { (t(lang, "next")) } }
        }
    }
}

fn filter_form(lang: &str, filters: &Filters) -> Markup {
    html! {
        form.filters method="get" action="/customers" role="search" {
            label for="region" { (t(lang, "region")) }
            select id="region" name="region" {
                option value="" { (t(lang, "any")) }
                @for r in validate::REGIONS {
                    option value=(r) selected[filters.region.as_deref() == Some(r)] { (r) }
                }
            }
            label for="tag" { (t(lang, "tag")) }
            input id="tag" name="tag" value=(filters.tag.clone().unwrap_or_default());
            label for="email" { (t(lang, "exact_email")) }
            input id="email" name="email" type="email" value=(filters.email.clone().unwrap_or_default());
            button type="submit" { (t(lang, "filter")) }
        }
    }
}

/// A personal field as the policy lets this member see it: withheld, masked (with a badge) or clear.
fn field_text(lang: &str, v: Option<&str>, c: &CustomerView, field: &str) -> Markup {
    if c.redacted.iter().any(|f| f == field) {
        return html! { em.muted { (t(lang, "withheld")) } };
    }
    html! {
        (v.unwrap_or("—"))
        @if c.masked.iter().any(|f| f == field) { " " span.badge { (t(lang, "masked")) } }
    }
}

pub(super) async fn customer_detail(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let lang = lang_of(Some(&who), &query_map(&uri));
    render_detail(&s, &who, &lang, &id, None).await
}

async fn render_detail(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    id: &str,
    form_error: Option<&str>,
) -> Response {
    if uuid::Uuid::parse_str(id).is_err() {
        return error_page(lang, Some(who), &AppError::not_found("customer"));
    }
    let c = match customers::get(&s.app, &who.actor, id).await {
        Ok(c) => c,
        Err(e) => return error_page(lang, Some(who), &e),
    };
    let interactions = customers::interactions(&s.app, &who.actor, id)
        .await
        .unwrap_or_default();
    let consent_history = customers::consent_history(&s.app, &who.actor, id)
        .await
        .unwrap_or_default();
    let body = html! {
        p { a href="/customers" { "← " (t(lang, "back")) } }
        h1 { (c.name.clone().unwrap_or_else(|| "—".into())) }
        (details(lang, &c))
        h2 { (t(lang, "interactions")) }
        @if interactions.is_empty() { p.muted { (t(lang, "none")) } }
        ul.timeline {
            @for i in &interactions {
                li { strong { (i.kind) } " · " time { (i.created_at) } br; (i.summary.clone().unwrap_or_else(|| t(lang, "withheld").to_string())) }
            }
        }
        h2 { (t(lang, "consent_history")) }
        @if consent_history.is_empty() { p.muted { (t(lang, "none")) } }
        @else {
            table.consents {
                thead { tr {
                    th scope="col" { (t(lang, "time")) } th scope="col" { (t(lang, "purpose")) }
                    th scope="col" { (t(lang, "result")) } th scope="col" { (t(lang, "recorded_by")) }
                    th scope="col" { (t(lang, "evidence")) } th scope="col" { (t(lang, "wording")) }
                } }
                tbody {
                    @for e in &consent_history {
                        tr {
                            td { (e.at.get(..16).unwrap_or(&e.at).replace('T', " ")) " UTC" }
                            td { (e.purpose) @if e.bundled { " " span.badge { (t(lang, "bundled")) } } }
                            td { (if e.granted { t(lang, "granted") } else { t(lang, "withdrawn") }) }
                            td { (e.by) }
                            td { (e.evidence.clone().unwrap_or_else(|| "—".into())) }
                            td { (e.wording.clone().unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
        }
        h2 { (t(lang, "add_interaction")) }
        @if let Some(e) = form_error { p.error role="alert" { (e) } }
        form method="post" action=(format!("/customers/{}/interactions", c.id)) {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            label for="kind" { (t(lang, "kind")) }
            select id="kind" name="kind" { @for k in customers::INTERACTION_KINDS { option value=(k) { (k) } } }
            label for="summary" { (t(lang, "summary")) }
            textarea id="summary" name="summary" required maxlength="2000" rows="3" {}
            button type="submit" { (t(lang, "save")) }
        }
    };
    page(
        StatusCode::OK,
        layout(
            lang,
            c.name.as_deref().unwrap_or("Customer"),
            Some(who),
            body,
        ),
    )
}

/// A customer's fields, region, tags and consents.
fn details(lang: &str, c: &CustomerView) -> Markup {
    let fields = [
        ("email", t(lang, "email"), &c.email),
        ("phone", t(lang, "phone"), &c.phone),
        ("address", t(lang, "address"), &c.address),
        ("birth_date", t(lang, "birth_date"), &c.birth_date),
        ("notes", t(lang, "notes"), &c.notes),
    ];
    html! {
        dl.kv {
            @for (field, label, value) in fields {
                dt { (label) }
                dd { (field_text(lang, value.as_deref(), c, field)) }
            }
            dt { (t(lang, "region")) } dd { (c.region) }
            dt { (t(lang, "tags")) } dd { (c.tags.join(", ")) }
            dt { (t(lang, "consents")) }
            dd {
                ul.plain {
                    @for (purpose, granted) in &c.consents {
                        li { (purpose) ": " (if *granted { t(lang, "granted") } else { t(lang, "refused") }) }
                    }
                }
            }
        }
    }
}

pub(super) async fn interaction_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    if uuid::Uuid::parse_str(&id).is_err() {
        return error_page(&lang, Some(&who), &AppError::not_found("customer"));
    }
    let kind = f.get("kind").cloned().unwrap_or_default();
    let summary = f
        .get("summary")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    if !customers::INTERACTION_KINDS.contains(&kind.as_str())
        || summary.is_empty()
        || summary.chars().count() > 2000
    {
        return render_detail(
            &s,
            &who,
            &lang,
            &id,
            Some("Choose a kind and write a summary of 1 to 2000 characters."),
        )
        .await;
    }
    match customers::add_interaction(&s.app, &who.actor, &id, &kind, &summary).await {
        Ok(_) => Redirect::to(&format!("/customers/{id}")).into_response(),
        Err(e) => error_page(&lang, Some(&who), &e),
    }
}
