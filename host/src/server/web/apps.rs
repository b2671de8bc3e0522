//! Plugin screens in the staff web UI: the host renders a plugin's declarative blocks to HTML
//! (every value escaped by maud; no plugin-supplied markup or script reaches the browser) and
//! turns form posts back into actions.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{error_page, layout, page, t};
use crate::error::{AppError, ErrorKind, FieldIssue};
use crate::plugins::abi::latest::Param;
use crate::plugins::abi::latest::guest::{ActionOutcome, Next};
use crate::plugins::abi::latest::types::Label;
use crate::plugins::abi::latest::ui::{
    Block, ButtonTarget, Cell, ChartKind, FieldKind, Rule, Screen, ScreenRef, Tone,
};
use crate::plugins::{invoke, lifecycle};
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::server::error::HttpStatus;
use crate::server::forms;

/// A label in the member's language (English when no Chinese text is given).
fn tr(lang: &str, l: &Label) -> String {
    match (&l.zh_hans, lang) {
        (Some(zh), "zh") => zh.clone(),
        _ => l.en.clone(),
    }
}

fn tone(t: Tone) -> &'static str {
    match t {
        Tone::Neutral => "neutral",
        Tone::Info => "info",
        Tone::Success => "success",
        Tone::Warning => "warning",
        Tone::Danger => "danger",
    }
}

/// A plugin screen's URL, its path segments percent-encoded (the plugin host checked that the
/// screen is one the plugin declares).
fn screen_url(plugin: &str, r: &ScreenRef) -> String {
    let segment = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut url = format!("/apps/{}/{}", segment(plugin), segment(&r.screen));
    if !r.params.is_empty() {
        url.push('?');
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(r.params.iter().map(|p| (&p.name, &p.value)))
                .finish(),
        );
    }
    url
}

/// The plugins the member may use, with their menu screens.
async fn menu(s: &AppState, who: &Authenticated) -> Vec<(String, String, String)> {
    let Ok(list) = lifecycle::list(&s.app, &who.actor.tenant_id).await else {
        return Vec::new();
    };
    let lang = &who.actor.lang;
    // Only what the policy lets this member open (a display check, so not audited: opening the
    // screen is decided and audited on its own route).
    let mut items = Vec::new();
    for p in list.into_iter().filter(|p| p.state == "enabled") {
        for sc in p.screens.into_iter().filter(|sc| sc.in_menu) {
            let input = crate::policy::Input {
                subject: who.actor.subject(),
                action: "plugin.render".into(),
                resource: crate::policy::Resource {
                    attributes: None,
                    kind: "plugin".into(),
                    tenant: who.actor.tenant_id.clone(),
                    id: Some(format!("{}/{}", p.name, sc.name)),
                    fields: None,
                },
                context: serde_json::json!({}),
            };
            if !s.app.pdp.decide(&input).await.allow {
                continue;
            }
            let title = match (&sc.title_zh_hans, lang.as_str()) {
                (Some(zh), "zh") => zh.clone(),
                _ => sc.title.clone(),
            };
            items.push((p.name.clone(), sc.name, title));
        }
    }
    items
}

fn nav(current: Option<(&str, &str)>, items: &[(String, String, String)]) -> Markup {
    html! {
        nav.apps aria-label="Apps" {
            @for (p, sc, title) in items {
                a href=(format!("/apps/{p}/{sc}"))
                    aria-current=[(current == Some((p.as_str(), sc.as_str()))).then_some("page")] { (title) }
            }
        }
    }
}

/// `/apps`: the installed plugins' screens this member may open.
pub(super) async fn apps(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let lang = who.actor.lang.clone();
    let allowed = s
        .app
        .authorize(
            &who.actor,
            "plugin.render",
            crate::policy::Resource {
                attributes: None,
                kind: "plugin".into(),
                tenant: who.actor.tenant_id.clone(),
                id: None,
                fields: None,
            },
            serde_json::json!({}),
        )
        .await;
    if let Err(e) = allowed {
        return error_page(&lang, Some(&who), &e);
    }
    let items = menu(&s, &who).await;
    let title = t(&lang, "apps");
    page(
        StatusCode::OK,
        layout(
            &lang,
            title,
            Some(&who),
            html! { h1 { (title) } (nav(None, &items)) },
        ),
    )
}

fn params_of(uri: &axum::http::Uri) -> Vec<Param> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(name, value)| Param {
            name: name.into_owned(),
            value: value.into_owned(),
        })
        .collect()
}

pub(super) async fn show(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    Path((plugin, screen)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let params = params_of(&uri);
    let origin = ScreenRef {
        screen: screen.clone(),
        params: params.clone(),
    };
    match invoke::render(&s.app, &s.plugins, &who.actor, &plugin, &screen, params).await {
        Ok(sc) => render_page(&s, &who, &plugin, &origin, &sc, None).await,
        Err(e) => error_page(&who.actor.lang, Some(&who), &e),
    }
}

/// A form post: `_action`, `_row`, `csrf_token`, the origin's params as `_p.NAME`, and the inputs.
pub(super) async fn act(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    Path((plugin, screen)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let lang = who.actor.lang.clone();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !who.csrf_ok(get("csrf_token")) {
        let e = AppError::new(
            ErrorKind::Forbidden,
            "csrf",
            "missing or wrong CSRF token; reload the page and try again",
        );
        return error_page(&lang, Some(&who), &e);
    }
    let Some(action) = get("_action").map(str::to_string) else {
        return error_page(
            &lang,
            Some(&who),
            &AppError::bad_request("invalid_form", "the form names no action"),
        );
    };
    let row = get("_row").map(str::to_string);
    let offer = match offer_of(&s, &who, &plugin, &action, get("_form"), get("_form_mac")).await {
        Ok(o) => o,
        Err(e) => return error_page(&lang, Some(&who), &e),
    };
    let (origin, inputs) = submission(&screen, &pairs);
    // What was offered is checked here; the plugin is called only with a submission that fits.
    let issues = forms::check(&offer, row.as_deref(), &inputs);
    let result = if issues.is_empty() {
        invoke::act(
            &s.app,
            &s.plugins,
            &who.actor,
            &plugin,
            &action,
            invoke::Submission {
                origin: origin.clone(),
                row,
                inputs: inputs.clone(),
            },
        )
        .await
    } else {
        Err(unfit(&lang, issues))
    };
    let done = Done {
        s: &s,
        who: &who,
        plugin: &plugin,
        origin: &origin,
    };
    match result {
        Ok(out) => done.acted(out).await,
        Err(e) => done.refused(&action, &inputs, e).await,
    }
}

/// The offer a post carries, opened (its MAC checked): every action the host renders carries
/// what it offers, so a post without it is not one.
async fn offer_of(
    s: &AppState,
    who: &Authenticated,
    plugin: &str,
    action: &str,
    sealed: Option<&str>,
    mac: Option<&str>,
) -> Result<forms::Offer, AppError> {
    match (sealed, mac) {
        (Some(sealed), Some(mac)) => s
            .app
            .tenant_keys(&who.actor.tenant_id)
            .await
            .and_then(|keys| forms::open(&keys, plugin, action, sealed, mac)),
        _ => Err(AppError::bad_request(
            "invalid_form",
            "the submission does not carry the form it came from; reload the page and try again",
        )),
    }
}

/// The screen a post came from (its params sent as `_p.NAME`) and the inputs it submits (every
/// field not starting with `_`, but the CSRF token).
fn submission(screen: &str, pairs: &[(String, String)]) -> (ScreenRef, Vec<Param>) {
    let mut origin = ScreenRef {
        screen: screen.to_string(),
        params: Vec::new(),
    };
    let mut inputs = Vec::new();
    for (name, value) in pairs {
        if let Some(p) = name.strip_prefix("_p.") {
            origin.params.push(Param {
                name: p.to_string(),
                value: value.clone(),
            });
        } else if !name.starts_with('_') && name != "csrf_token" {
            inputs.push(Param {
                name: name.clone(),
                value: value.clone(),
            });
        }
    }
    (origin, inputs)
}

/// The refusal of a submission that does not fit its offer.
fn unfit(lang: &str, issues: Vec<FieldIssue>) -> AppError {
    // A changed button or row action has no field to point at: say what is wrong.
    let message = match issues.as_slice() {
        [one] if one.field == "_form" => one.message.clone(),
        _ => t(lang, "check_the_fields").to_string(),
    };
    let mut e = AppError::new(ErrorKind::Rejected, "invalid", message);
    e.fields = issues;
    e
}

/// Where a post to a plugin screen came from, to answer it.
struct Done<'a> {
    s: &'a AppState,
    who: &'a Authenticated,
    plugin: &'a str,
    origin: &'a ScreenRef,
}

impl Done<'_> {
    /// The action's answer: another screen (by URL or given), or the origin again, with the
    /// plugin's notice on top.
    async fn acted(&self, out: ActionOutcome) -> Response {
        let lang = &self.who.actor.lang;
        let notice = out.notice.map(|n| (tr(lang, &n.text), tone(n.tone)));
        match out.next {
            Next::Navigate(r) => Redirect::to(&screen_url(self.plugin, &r)).into_response(),
            Next::Show(sc) => self.page(&sc, notice).await,
            Next::Refresh => match self.origin_screen().await {
                Ok(sc) => self.page(&sc, notice).await,
                Err(e) => error_page(lang, Some(self.who), &e),
            },
        }
    }

    /// The action was refused: show the screen again with the reason on top, each field's
    /// message next to it, and what was typed kept.
    async fn refused(&self, action: &str, inputs: &[Param], e: AppError) -> Response {
        let lang = &self.who.actor.lang;
        match self.origin_screen().await {
            Ok(mut sc) if e.status().is_client_error() => {
                // Messages shown next to their fields need only a pointer on top.
                let notice = if forms::fill(&mut sc, action, inputs, &e.fields) {
                    t(lang, "check_the_fields").to_string()
                } else {
                    e.message.clone()
                };
                self.page(&sc, Some((notice, "danger"))).await
            }
            _ => error_page(lang, Some(self.who), &e),
        }
    }

    async fn origin_screen(&self) -> Result<Screen, AppError> {
        invoke::render(
            &self.s.app,
            &self.s.plugins,
            &self.who.actor,
            self.plugin,
            &self.origin.screen,
            self.origin.params.clone(),
        )
        .await
    }

    async fn page(&self, sc: &Screen, notice: Option<(String, &'static str)>) -> Response {
        render_page(self.s, self.who, self.plugin, self.origin, sc, notice).await
    }
}

async fn render_page(
    s: &AppState,
    who: &Authenticated,
    plugin: &str,
    origin: &ScreenRef,
    sc: &Screen,
    notice: Option<(String, &'static str)>,
) -> Response {
    let lang = who.actor.lang.clone();
    let items = menu(s, who).await;
    let keys = match s.app.tenant_keys(&who.actor.tenant_id).await {
        Ok(k) => k,
        Err(e) => return error_page(&lang, Some(who), &e),
    };
    let cx = Cx {
        lang: &lang,
        plugin,
        origin,
        csrf: &who.csrf_token,
        keys: &keys,
    };
    let title = tr(&lang, &sc.title);
    let body = html! {
        (nav(Some((plugin, origin.screen.as_str())), &items))
        h1 { (title) }
        @if let Some((text, t)) = &notice {
            p class=(format!("notice {t}")) role="status" { (text) }
        }
        @for b in &sc.blocks { (cx.block(b)) }
    };
    page(StatusCode::OK, layout(&lang, &title, Some(who), body))
}

/// What every block needs to render.
struct Cx<'a> {
    lang: &'a str,
    plugin: &'a str,
    origin: &'a ScreenRef,
    csrf: &'a str,
    /// Signs each form's rules (see [`forms`]).
    keys: &'a crate::vault::TenantKeys,
}

impl Cx<'_> {
    fn l(&self, l: &Label) -> String {
        tr(self.lang, l)
    }

    /// The hidden fields every action form carries, with what it offers, signed.
    fn hidden(&self, action: &str, offer: &forms::Offer) -> Markup {
        let (sealed, mac) = forms::seal(self.keys, self.plugin, action, offer);
        html! {
            input type="hidden" name="csrf_token" value=(self.csrf);
            input type="hidden" name="_action" value=(action);
            input type="hidden" name="_form" value=(sealed);
            input type="hidden" name="_form_mac" value=(mac);
            @for p in &self.origin.params {
                input type="hidden" name=(format!("_p.{}", p.name)) value=(p.value);
            }
        }
    }

    fn post_url(&self) -> String {
        screen_url(
            self.plugin,
            &ScreenRef {
                screen: self.origin.screen.clone(),
                params: Vec::new(),
            },
        )
    }

    fn cell(&self, c: &Cell) -> Markup {
        match c {
            Cell::Empty => html! { span.muted { "—" } },
            Cell::Text(t) => html! { (t) },
            Cell::Label(l) => html! { (self.l(l)) },
            Cell::Integer(i) => html! { (i) },
            Cell::Decimal(d) => html! { (format!("{d:.2}")) },
            Cell::Money(m) => {
                let sign = if m.minor < 0 { "-" } else { "" };
                let abs = m.minor.unsigned_abs();
                html! { (format!("{sign}{}.{:02} {}", abs / 100, abs % 100, m.currency)) }
            }
            Cell::Date(d) => html! { time datetime=(d) { (d) } },
            Cell::Time(ms) => {
                let t = chrono::DateTime::from_timestamp_millis(*ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default();
                html! { (t) }
            }
            Cell::Boolean(b) => html! { (if *b { "✓" } else { "✗" }) },
            Cell::Tags(t) => html! { @for tag in t { span.tag { (tag) } " " } },
            Cell::Badge(b) => {
                html! { span class=(format!("badge {}", tone(b.tone))) { (self.l(&b.text)) } }
            }
            Cell::Link(l) => {
                html! { a href=(screen_url(self.plugin, &l.target)) { (self.l(&l.text)) } }
            }
            Cell::Masked(m) => html! { span.masked title="masked by policy" { (m) } },
            Cell::Redacted => html! { span.redacted title="withheld by policy" { "▇▇▇" } },
        }
    }

    fn block(&self, b: &Block) -> Markup {
        match b {
            Block::Heading(h) => match h.level {
                0 | 1 => html! { h2 { (self.l(&h.text)) } },
                2 => html! { h3 { (self.l(&h.text)) } },
                _ => html! { h4 { (self.l(&h.text)) } },
            },
            Block::Paragraph(p) => {
                html! { p class=(format!("para {}", tone(p.tone))) { (self.l(&p.text)) } }
            }
            Block::KeyValues(kvs) => html! {
                dl.kv { @for kv in kvs { dt { (self.l(&kv.key)) } dd { (self.cell(&kv.value)) } } }
            },
            Block::Stats(stats) => html! {
                div.stats { @for st in stats {
                    div class=(format!("stat {}", tone(st.tone))) {
                        div.stat-title { (self.l(&st.title)) }
                        div.stat-value { (self.cell(&st.value)) }
                        @if let Some(n) = &st.note { div.stat-note { (self.l(n)) } }
                    }
                } }
            },
            Block::Table(t) => self.table(t),
            Block::Form(f) => self.form(f),
            Block::Chart(c) => self.chart(c),
            Block::Actions(buttons) => html! {
                div.actions { @for bt in buttons {
                    @match &bt.target {
                        ButtonTarget::Screen(r) => a.button href=(screen_url(self.plugin, r)) { (self.l(&bt.text)) },
                        ButtonTarget::Action(a) => form.act method="post" action=(self.post_url()) {
                            (self.hidden(a, &forms::Offer::of_button(&bt.params)))
                            @for p in &bt.params { input type="hidden" name=(p.name) value=(p.value); }
                            button type="submit" class=(tone(bt.tone)) title=[bt.confirm.as_ref().map(|c| self.l(c))] { (self.l(&bt.text)) }
                        },
                    }
                } }
            },
        }
    }

    fn table(&self, t: &crate::plugins::abi::latest::ui::Table) -> Markup {
        let page_link = |page: u32, param: &str| {
            let mut r = self.origin.clone();
            r.params.retain(|p| p.name != param);
            r.params.push(Param {
                name: param.to_string(),
                value: page.to_string(),
            });
            screen_url(self.plugin, &r)
        };
        // One form per row action, shared by every row's button (which adds its row's id): a
        // row costs a button, not a copy of the form's hidden fields.
        let form_id = |i: usize| format!("{}-act-{i}", t.id);
        html! {
            @if let Some(title) = &t.title { h3 { (self.l(title)) } }
            @for (i, a) in t.row_actions.iter().enumerate() {
                form.act id=(form_id(i)) method="post" action=(self.post_url()) {
                    (self.hidden(&a.action, &forms::Offer::Row))
                }
            }
            @if t.rows.is_empty() {
                p.muted { (t.empty_text.as_ref().map(|e| self.l(e)).unwrap_or_else(|| "—".into())) }
            } @else {
                table id=(t.id) {
                    thead { tr {
                        @for c in &t.columns { th scope="col" { (self.l(&c.title)) } }
                        @if !t.row_actions.is_empty() { th scope="col" { span.sr-only { "Actions" } } }
                    } }
                    tbody { @for r in &t.rows { tr {
                        @for c in &r.cells { td { (self.cell(c)) } }
                        @if !t.row_actions.is_empty() { td { @for (i, a) in t.row_actions.iter().enumerate() {
                            button type="submit" form=(form_id(i)) name="_row" value=(r.id) class=(tone(a.tone)) title=[a.confirm.as_ref().map(|c| self.l(c))] { (self.l(&a.text)) }
                        } } }
                    } } }
                }
            }
            @if let Some(p) = &t.paging {
                nav.pager aria-label="Pagination" {
                    @if p.page > 1 { a href=(page_link(p.page - 1, &p.param)) rel="prev" { "‹" } }
                    span { (p.page) }
                    @if p.has_more || p.total.is_some_and(|t| u64::from(p.page) * u64::from(p.per_page) < t) {
                        a href=(page_link(p.page + 1, &p.param)) rel="next" { "›" }
                    }
                }
            }
        }
    }

    fn form(&self, f: &crate::plugins::abi::latest::ui::Form) -> Markup {
        html! {
            form.plugin-form id=(f.id) method="post" action=(self.post_url()) {
                @if let Some(t) = &f.title { h3 { (self.l(t)) } }
                @for e in &f.errors { p.error role="alert" { (self.l(e)) } }
                (self.hidden(&f.action, &forms::Offer::of_form(f)))
                @for fl in &f.fields {
                    @let id = format!("{}-{}", f.id, fl.name);
                    @let Attrs { min_len, max_len, min, max, pattern } = attrs(&fl.rules);
                    div.field {
                        @if !matches!(fl.kind, FieldKind::Hidden) {
                            label for=(id) { (self.l(&fl.text)) @if fl.required { " *" } }
                        }
                        @let value = fl.value.clone().unwrap_or_default();
                        @match &fl.kind {
                            FieldKind::Multiline => textarea id=(id) name=(fl.name) required[fl.required] minlength=[min_len] maxlength=[max_len] { (value) },
                            FieldKind::Select(choices) => select id=(id) name=(fl.name) required[fl.required] {
                                @for c in choices { option value=(c.value) selected[c.value == value] { (self.l(&c.text)) } }
                            },
                            FieldKind::MultiSelect(choices) => select id=(id) name=(fl.name) multiple {
                                @for c in choices { option value=(c.value) selected[value.split(',').any(|v| v == c.value)] { (self.l(&c.text)) } }
                            },
                            FieldKind::Checkbox => {
                                input type="hidden" name=(fl.name) value="false";
                                input id=(id) type="checkbox" name=(fl.name) value="true" checked[value == "true"];
                            },
                            FieldKind::Hidden => input type="hidden" name=(fl.name) value=(value);,
                            kind => input id=(id) name=(fl.name) value=(value) required[fl.required]
                                type=(match kind { FieldKind::Email => "email", FieldKind::Phone => "tel", FieldKind::Integer | FieldKind::Decimal => "number", FieldKind::Date => "date", _ => "text" })
                                step=[matches!(kind, FieldKind::Decimal).then_some("any")]
                                minlength=[min_len] maxlength=[max_len] min=[min] max=[max] pattern=[pattern];,
                        }
                        @if let Some(h) = &fl.help { div.help { (self.l(h)) } }
                        @if let Some(e) = &fl.error { div.error role="alert" { (self.l(e)) } }
                    }
                }
                button type="submit" { (self.l(&f.submit)) }
            }
        }
    }

    /// A chart as server-rendered SVG (no script): bars or lines over the x labels, with a table
    /// of the same figures for screen readers.
    fn chart(&self, c: &crate::plugins::abi::latest::ui::Chart) -> Markup {
        let (w, h, pad) = (640.0, 220.0, 30.0);
        let n = c.x_labels.len().max(1) as f64;
        let max = c
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0_f64, |a, b| a.max(*b))
            .max(1e-9);
        let y = |v: f64| h - pad - (v / max) * (h - 2.0 * pad);
        let step = (w - 2.0 * pad) / n;
        let colours = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed"];
        html! {
            figure.chart {
                figcaption { (self.l(&c.title)) }
                svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(self.l(&c.title)) {
                    @for (si, s) in c.series.iter().enumerate() {
                        @let colour = colours[si % colours.len()];
                        @if matches!(c.kind, ChartKind::Line | ChartKind::Area) {
                            @let pts: Vec<String> = s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", pad + step * (i as f64 + 0.5), y(v)))).collect();
                            polyline points=(pts.join(" ")) fill="none" stroke=(colour) stroke-width="2" {}
                        } @else {
                            @let bw = step / (c.series.len() as f64 + 1.0);
                            @for (i, v) in s.values.iter().enumerate() {
                                @if let Some(v) = v {
                                    rect x=(format!("{:.1}", pad + step * i as f64 + bw * (si as f64 + 0.5))) y=(format!("{:.1}", y(*v)))
                                        width=(format!("{bw:.1}")) height=(format!("{:.1}", (h - pad - y(*v)).max(0.0))) fill=(colour) {}
                                }
                            }
                        }
                    }
                    @for (si, s) in c.series.iter().enumerate() {
                        rect x=(format!("{:.1}", pad + 140.0 * si as f64)) y="6" width="10" height="10" fill=(colours[si % colours.len()]) {}
                        text x=(format!("{:.1}", pad + 14.0 + 140.0 * si as f64)) y="15" font-size="11" { (self.l(&s.name)) }
                    }
                    @for (i, x) in c.x_labels.iter().enumerate() {
                        text x=(format!("{:.1}", pad + step * (i as f64 + 0.5))) y=(format!("{:.1}", h - 8.0)) font-size="10" text-anchor="middle" { (x) }
                    }
                }
                table.sr-only {
                    thead { tr { th { } @for x in &c.x_labels { th scope="col" { (x) } } } }
                    tbody { @for s in &c.series { tr { th scope="row" { (self.l(&s.name)) } @for v in &s.values { td { @if let Some(v) = v { (v) } } } } } }
                }
            }
        }
    }
}

/// A field's rules as HTML validation attributes (the browser checks them; the plugin re-checks
/// what it relies on).
#[derive(Default)]
struct Attrs {
    min_len: Option<u32>,
    max_len: Option<u32>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
}

fn attrs(rules: &[Rule]) -> Attrs {
    let mut a = Attrs::default();
    for r in rules {
        match r {
            Rule::MinLength(n) => a.min_len = Some(*n),
            Rule::MaxLength(n) => a.max_len = Some(*n),
            Rule::Min(n) => a.min = Some(*n),
            Rule::Max(n) => a.max = Some(*n),
            Rule::Pattern(p) => a.pattern = Some(p.clone()),
        }
    }
    a
}
