//! The staff web pages: server-rendered HTML (maud escapes every value), no script at all.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use super::AppState;
use super::auth::{Authenticated, SESSION_COOKIE, cookie_value, set_cookie};
use crate::auth;
use crate::customers::{self, ListQuery, validate};
use crate::error::AppError;

const LOGIN_CSRF_COOKIE: &str = "crm_login_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/customers") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang", post(set_lang))
        .route("/customers", get(customer_list))
        .route("/customers/{id}", get(customer_detail))
        .route("/customers/{id}/interactions", post(interaction_submit))
        .route("/policies", get(policies_page).post(policies_submit))
        .route("/decisions", get(decisions_page))
        .route("/account", get(account_page))
        .route("/account/mfa", post(account_mfa_start))
        .route("/account/mfa/confirm", post(account_mfa_confirm))
        .route(
            "/account/sign-out-everywhere",
            post(account_sign_out_everywhere),
        )
        .route("/static/app.css", get(css))
}

/// Translations of the UI's own strings (English and Simplified Chinese).
fn t(lang: &str, key: &'static str) -> &'static str {
    let zh = lang == "zh";
    match (key, zh) {
        ("app", false) => "Broadcaster CRM",
        ("app", true) => "广电客户管理",
        ("sign_in", false) => "Sign in",
        ("sign_in", true) => "登录",
        ("sign_out", false) => "Sign out",
        ("sign_out", true) => "退出",
        ("tenant", false) => "Organisation",
        ("tenant", true) => "机构",
        ("username", false) => "Username",
        ("username", true) => "用户名",
        ("password", false) => "Password",
        ("password", true) => "密码",
        ("totp", false) => "Authenticator code or recovery code (if enrolled)",
        ("totp", true) => "动态验证码或恢复码（如已启用）",
        ("customers", false) => "Customers",
        ("customers", true) => "客户",
        ("name", false) => "Name",
        ("name", true) => "姓名",
        ("email", false) => "Email",
        ("email", true) => "邮箱",
        ("phone", false) => "Phone",
        ("phone", true) => "电话",
        ("address", false) => "Address",
        ("address", true) => "地址",
        ("birth_date", false) => "Birth date",
        ("birth_date", true) => "出生日期",
        ("notes", false) => "Notes",
        ("notes", true) => "备注",
        ("region", false) => "Region",
        ("region", true) => "地区",
        ("tags", false) => "Tags",
        ("tags", true) => "标签",
        ("consents", false) => "Consents",
        ("consents", true) => "同意记录",
        ("filter", false) => "Filter",
        ("filter", true) => "筛选",
        ("any", false) => "Any",
        ("any", true) => "全部",
        ("tag", false) => "Tag",
        ("tag", true) => "标签",
        ("exact_email", false) => "Exact email",
        ("exact_email", true) => "精确邮箱",
        ("prev", false) => "Previous",
        ("prev", true) => "上一页",
        ("next", false) => "Next",
        ("next", true) => "下一页",
        ("page", false) => "Page",
        ("page", true) => "页",
        ("of", false) => "of",
        ("of", true) => "共",
        ("interactions", false) => "Interactions",
        ("interactions", true) => "互动记录",
        ("add_interaction", false) => "Record an interaction",
        ("add_interaction", true) => "新增互动记录",
        ("kind", false) => "Kind",
        ("kind", true) => "类型",
        ("summary", false) => "Summary",
        ("summary", true) => "摘要",
        ("save", false) => "Save",
        ("save", true) => "保存",
        ("withheld", false) => "withheld by policy",
        ("withheld", true) => "按策略隐藏",
        ("masked", false) => "masked",
        ("masked", true) => "已脱敏",
        ("granted", false) => "granted",
        ("granted", true) => "已同意",
        ("refused", false) => "refused",
        ("refused", true) => "未同意",
        ("back", false) => "Back to customers",
        ("back", true) => "返回客户列表",
        ("language", false) => "中文",
        ("language", true) => "English",
        ("not_found", false) => "Not found",
        ("not_found", true) => "未找到",
        ("signed_in_as", false) => "Signed in as",
        ("signed_in_as", true) => "当前用户",
        ("policies", false) => "Policies",
        ("policies", true) => "策略",
        ("active_version", false) => "Active version",
        ("active_version", true) => "当前版本",
        ("consent_filtered", false) => "The policy shows you only customers who consented to:",
        ("consent_filtered", true) => "根据策略，仅显示已同意以下用途的客户：",
        ("baseline", false) => "Platform baseline",
        ("baseline", true) => "平台基线策略",
        ("published_version", false) => "Published version",
        ("published_version", true) => "已发布版本",
        ("tests_passed", false) => "tests passed.",
        ("tests_passed", true) => "项测试通过。",
        ("baseline_only", false) => "none (platform baseline only)",
        ("baseline_only", true) => "无（仅平台基线策略）",
        ("history", false) => "History",
        ("history", true) => "版本历史",
        ("run_tests", false) => "Run tests",
        ("run_tests", true) => "运行测试",
        ("publish", false) => "Publish",
        ("publish", true) => "发布",
        ("note", false) => "Note",
        ("note", true) => "说明",
        ("editor_help", false) => {
            "Tenant rules are ANDed with the platform baseline: they can only narrow access. Files ending _test.rego hold test_* rules; a set whose tests fail is never published."
        }
        ("editor_help", true) => {
            "租户规则与平台基线策略同时生效（取交集），只能收紧访问。以 _test.rego 结尾的文件包含 test_* 测试规则；测试未通过的策略不会发布。"
        }
        ("account", false) => "Your account",
        ("account", true) => "我的账户",
        ("mfa_on", false) => "Two-factor sign-in is on.",
        ("mfa_on", true) => "已启用双因素登录。",
        ("mfa_off", false) => "Two-factor sign-in is off. Exports and administration need it.",
        ("mfa_off", true) => "未启用双因素登录。导出与管理操作需要启用。",
        ("mfa_setup", false) => "Set up two-factor sign-in",
        ("mfa_setup", true) => "设置双因素登录",
        ("mfa_scan", false) => {
            "Add this secret to your authenticator app, then enter the code it shows."
        }
        ("mfa_scan", true) => "请将此密钥添加到身份验证器应用，然后输入其显示的验证码。",
        ("code", false) => "Code",
        ("code", true) => "验证码",
        ("confirm", false) => "Confirm",
        ("confirm", true) => "确认",
        ("mfa_change", false) => "Set up a new authenticator",
        ("mfa_change", true) => "更换身份验证器",
        ("mfa_reauth", false) => {
            "Enter your password (and, if two-factor sign-in is on, a current code or a recovery code) to continue."
        }
        ("mfa_reauth", true) => {
            "请输入密码（如已启用双因素登录，还需输入当前验证码或恢复码）以继续。"
        }
        ("current_code", false) => "Current code or recovery code",
        ("current_code", true) => "当前验证码或恢复码",
        ("recovery_codes", false) => {
            "Your recovery codes. Each signs you in once, in place of a code, if you lose your phone. Keep them somewhere safe: they are shown only now."
        }
        ("recovery_codes", true) => {
            "您的恢复码。丢失手机时，每个恢复码可代替验证码登录一次。请妥善保存：它们只显示这一次。"
        }
        ("recovery_left", false) => "Unused recovery codes",
        ("recovery_left", true) => "未使用的恢复码",
        ("sign_out_everywhere", false) => "Sign out everywhere",
        ("sign_out_everywhere", true) => "在所有设备上退出",
        ("sign_out_everywhere_help", false) => {
            "Ends every session and revokes every API token of your account, this one included."
        }
        ("sign_out_everywhere_help", true) => {
            "结束您账户的所有会话并吊销所有 API 令牌，包括当前会话。"
        }
        ("none", false) => "None yet",
        ("none", true) => "暂无",
        ("decisions", false) => "Decision log",
        ("decisions", true) => "决策日志",
        ("decisions_help", false) => {
            "Every access decision, newest first: the input is kept only as its SHA-256 digest."
        }
        ("decisions_help", true) => "所有访问决策，最新的在前；请求内容只以 SHA-256 摘要保存。",
        ("time", false) => "Time",
        ("time", true) => "时间",
        ("action", false) => "Action",
        ("action", true) => "操作",
        ("result", false) => "Result",
        ("result", true) => "结果",
        ("allowed", false) => "Allowed",
        ("allowed", true) => "允许",
        ("denied", false) => "Denied",
        ("denied", true) => "拒绝",
        ("reasons", false) => "Reasons",
        ("reasons", true) => "原因",
        ("policy_version", false) => "Policy version",
        ("policy_version", true) => "策略版本",
        ("tenant_version", false) => "Tenant version",
        ("tenant_version", true) => "机构策略版本",
        ("input_digest", false) => "Input digest",
        ("input_digest", true) => "请求摘要",
        ("latency", false) => "µs",
        ("latency", true) => "微秒",
        (_, _) => key,
    }
}

pub(super) fn layout(lang: &str, title: &str, who: Option<&Authenticated>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang == "zh" { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "app")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/customers" { (t(lang, "app")) }
                        @if let Some(w) = who {
                            a href="/customers" { (t(lang, "customers")) }
                            a href="/apps" { (if lang == "zh" { "应用" } else { "Apps" }) }
                            @if w.actor.role == "admin" || w.actor.role == "compliance" {
                                a href="/policies" { (t(lang, "policies")) }
                                a href="/decisions" { (t(lang, "decisions")) }
                            }
                            a.who href="/account" { (t(lang, "signed_in_as")) " " (w.actor.username) " · " (w.actor.role) }
                            form.inline method="post" action="/lang" {
                                input type="hidden" name="csrf_token" value=(w.csrf_token);
                                input type="hidden" name="lang" value=(if lang == "zh" { "en" } else { "zh" });
                                button type="submit" { (t(lang, "language")) }
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf_token" value=(w.csrf_token);
                                button type="submit" { (t(lang, "sign_out")) }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

pub(super) fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

pub fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        layout(
            "en",
            "Not found",
            None,
            html! { h1 { "Not found" } p { a href="/customers" { "Back" } } },
        ),
    )
}

pub(super) fn error_page(lang: &str, who: Option<&Authenticated>, e: &AppError) -> Response {
    page(
        e.status,
        layout(
            lang,
            "Error",
            who,
            html! {
                h1 { (e.status.canonical_reason().unwrap_or("Error")) }
                p.error role="alert" { (e.message) }
                p { a href="/customers" { (t(lang, "back")) } }
            },
        ),
    )
}

/// An urlencoded form body, limited like every body.
pub struct FormData(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::bad_request("bad_body", "the form could not be read"))?;
        Ok(Self(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }
}

fn lang_of(who: Option<&Authenticated>, q: &HashMap<String, String>) -> String {
    match q.get("lang").map(String::as_str) {
        Some("zh") => "zh".into(),
        Some("en") => "en".into(),
        _ => who
            .map(|w| w.actor.lang.clone())
            .unwrap_or_else(|| "en".into()),
    }
}

fn query_map(uri: &axum::http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn login_page(uri: axum::http::Uri, s: State<AppState>) -> Response {
    login_form(&s, &lang_of(None, &query_map(&uri)), None, StatusCode::OK)
}

fn login_form(s: &AppState, lang: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = auth::random_token("");
    let cookie = set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, s.tls);
    let body = html! {
        section.card.narrow {
            h1 { (t(lang, "sign_in")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="lang" value=(lang);
                label for="tenant" { (t(lang, "tenant")) }
                input id="tenant" name="tenant" required autocomplete="organization";
                label for="username" { (t(lang, "username")) }
                input id="username" name="username" required autocomplete="username";
                label for="password" { (t(lang, "password")) }
                input id="password" name="password" type="password" required autocomplete="current-password";
                label for="totp" { (t(lang, "totp")) }
                input id="totp" name="totp" autocomplete="one-time-code" maxlength="12";
                button type="submit" { (t(lang, "sign_in")) }
            }
            p { a href=(if lang == "zh" { "/login?lang=en" } else { "/login?lang=zh" }) { (t(lang, "language")) } }
        }
    };
    let mut resp = page(status, layout(lang, t(lang, "sign_in"), None, body));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_submit(
    State(s): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let cookie_csrf = cookie_value(&parts, LOGIN_CSRF_COOKIE);
    let Ok(FormData(f)) =
        FormData::from_request(Request::from_parts(parts.clone(), body), &s).await
    else {
        return login_form(
            &s,
            "en",
            Some("The form could not be read."),
            StatusCode::BAD_REQUEST,
        );
    };
    let _ = &mut parts;
    let lang = lang_of(None, &f);
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let csrf_ok = cookie_csrf
        .as_deref()
        .is_some_and(|c| !c.is_empty() && f.get("csrf_token").map(String::as_str) == Some(c));
    if !csrf_ok {
        return login_form(
            &s,
            &lang,
            Some("The sign-in form expired (missing CSRF token). Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let (tenant, username, password) = (
        get("tenant"),
        get("username"),
        f.get("password").cloned().unwrap_or_default(),
    );
    if tenant.is_empty()
        || username.is_empty()
        || password.is_empty()
        || tenant.len() > 64
        || username.len() > 64
        || password.len() > 256
    {
        return login_form(
            &s,
            &lang,
            Some("Enter organisation, username and password."),
            StatusCode::BAD_REQUEST,
        );
    }
    let totp = get("totp");
    match crate::sessions::sign_in(
        &s.app,
        peer.ip(),
        &tenant,
        &username,
        &password,
        Some(totp.as_str()).filter(|c| !c.is_empty()),
    )
    .await
    {
        Ok(session) => {
            let cookie = set_cookie(
                SESSION_COOKIE,
                &session.token,
                auth::SESSION_TTL_MS / 1000,
                s.tls,
            );
            let clear = set_cookie(LOGIN_CSRF_COOKIE, "", 0, s.tls);
            let mut resp = Redirect::to("/customers").into_response();
            for c in [cookie, clear] {
                if let Ok(v) = c.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(e) => login_form(&s, &lang, Some(&e.message), e.status),
    }
}

/// A form posted by a signed-in user with the right CSRF token. Signed-out browsers are sent to the
/// sign-in page; a missing or wrong token gets a 403 page. Every state-changing web form uses it.
pub struct SignedForm {
    pub who: Authenticated,
    pub form: HashMap<String, String>,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let Ok(who) = Authenticated::from_request_parts(&mut parts, state).await else {
            return Err(Redirect::to("/login").into_response());
        };
        let FormData(form) = FormData::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| error_page(&who.actor.lang, Some(&who), &e))?;
        if !who.csrf_ok(form.get("csrf_token").map(String::as_str)) {
            let e = AppError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong CSRF token; reload the page and try again",
            );
            return Err(error_page(&who.actor.lang, Some(&who), &e));
        }
        Ok(Self { who, form })
    }
}

async fn logout(State(s): State<AppState>, SignedForm { who, .. }: SignedForm) -> Response {
    if let Err(e) = crate::sessions::sign_out(&s.app, &who).await {
        return error_page(&who.actor.lang, Some(&who), &e);
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0, s.tls).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn set_lang(State(s): State<AppState>, SignedForm { who, form: f }: SignedForm) -> Response {
    let lang = if f.get("lang").map(String::as_str) == Some("zh") {
        "zh"
    } else {
        "en"
    };
    if let Err(e) = s.app.store.set_lang(&who.actor.user_id, lang).await {
        return error_page(lang, Some(&who), &e.into());
    }
    Redirect::to("/customers").into_response()
}

async fn customer_list(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let qm = query_map(&uri);
    let lang = lang_of(Some(&who), &qm);
    let region = qm
        .get("region")
        .filter(|r| validate::REGIONS.contains(&r.as_str()))
        .cloned();
    let tag = qm.get("tag").filter(|t| !t.is_empty()).cloned();
    let email = qm.get("email").filter(|e| !e.is_empty()).cloned();
    let page_no: i64 = qm
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut q = ListQuery {
        region: region.clone(),
        page: page_no,
        per_page: 25,
        ..Default::default()
    };
    if let Some(t) = &tag {
        match validate::tags(&serde_json::json!([t])) {
            Ok(v) => q.tags = v,
            Err(m) => {
                return error_page(
                    &lang,
                    Some(&who),
                    &AppError::bad_request("invalid_query", m),
                );
            }
        }
    }
    if let Some(e) = &email {
        match validate::email(&serde_json::json!(e)) {
            Ok(v) => q.email = Some(v),
            Err(m) => {
                return error_page(
                    &lang,
                    Some(&who),
                    &AppError::bad_request("invalid_query", m),
                );
            }
        }
    }
    let result = match customers::list(&s.app, &who.actor, &q).await {
        Ok(r) => r,
        Err(e) => return error_page(&lang, Some(&who), &e),
    };
    let pages = ((result.total + result.per_page - 1) / result.per_page).max(1);
    let link = |p: i64| {
        let mut qs: Vec<(String, String)> = vec![("page".into(), p.to_string())];
        for (k, v) in [("region", &region), ("tag", &tag), ("email", &email)] {
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
    };
    let body = html! {
        h1 { (t(&lang, "customers")) " " small { "(" (result.total) ")" } }
        @if !result.purposes.is_empty() {
            p.muted role="note" { (t(&lang, "consent_filtered")) " " (result.purposes.join(", ")) }
        }
        form.filters method="get" action="/customers" role="search" {
            label for="region" { (t(&lang, "region")) }
            select id="region" name="region" {
                option value="" { (t(&lang, "any")) }
                @for r in validate::REGIONS {
                    option value=(r) selected[region.as_deref() == Some(r)] { (r) }
                }
            }
            label for="tag" { (t(&lang, "tag")) }
            input id="tag" name="tag" value=(tag.clone().unwrap_or_default());
            label for="email" { (t(&lang, "exact_email")) }
            input id="email" name="email" type="email" value=(email.clone().unwrap_or_default());
            button type="submit" { (t(&lang, "filter")) }
        }
        table {
            thead { tr { th scope="col" { (t(&lang, "name")) } th scope="col" { (t(&lang, "email")) } th scope="col" { (t(&lang, "phone")) } th scope="col" { (t(&lang, "region")) } th scope="col" { (t(&lang, "tags")) } } }
            tbody {
                @for c in &result.items {
                    tr {
                        td { a href=(format!("/customers/{}", c.id)) { (c.name.clone().unwrap_or_else(|| "—".into())) } }
                        td { (field_text(&lang, c.email.as_deref(), c, "email")) }
                        td { (field_text(&lang, c.phone.as_deref(), c, "phone")) }
                        td { (c.region) }
                        td { (c.tags.join(", ")) }
                    }
                }
            }
        }
        nav.pager aria-label="Pagination" {
            @if page_no > 1 { a href=(link(page_no - 1)) { (t(&lang, "prev")) } }
            span { (t(&lang, "page")) " " (page_no) " " (t(&lang, "of")) " " (pages) }
            @if page_no < pages { a href=(link(page_no + 1)) { (t(&lang, "next")) } }
        }
    };
    page(
        StatusCode::OK,
        layout(&lang, t(&lang, "customers"), Some(&who), body),
    )
}

fn field_text(lang: &str, v: Option<&str>, c: &customers::CustomerView, field: &str) -> Markup {
    if c.redacted.iter().any(|f| f == field) {
        return html! { em.muted { (t(lang, "withheld")) } };
    }
    html! {
        (v.unwrap_or("—"))
        @if c.masked.iter().any(|f| f == field) { " " span.badge { (t(lang, "masked")) } }
    }
}

async fn customer_detail(
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
    let body = html! {
        p { a href="/customers" { "← " (t(lang, "back")) } }
        h1 { (c.name.clone().unwrap_or_else(|| "—".into())) }
        dl.kv {
            @for (field, value) in [("email", &c.email), ("phone", &c.phone), ("address", &c.address), ("birth_date", &c.birth_date), ("notes", &c.notes)] {
                dt { (t(lang, match field { "email" => "email", "phone" => "phone", "address" => "address", "birth_date" => "birth_date", _ => "notes" })) }
                dd { (field_text(lang, value.as_deref(), &c, field)) }
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
        h2 { (t(lang, "interactions")) }
        @if interactions.is_empty() { p.muted { (t(lang, "none")) } }
        ul.timeline {
            @for i in &interactions {
                li { strong { (i.kind) } " · " time { (i.created_at) } br; (i.summary.clone().unwrap_or_else(|| t(lang, "withheld").to_string())) }
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

async fn interaction_submit(
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

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}

fn policy_resource(who: &Authenticated) -> crate::policy::Resource {
    crate::policy::Resource {
        kind: "policy".into(),
        tenant: who.actor.tenant_id.clone(),
        id: None,
        fields: None,
    }
}

const POLICY_SKELETON: &str = "package crm.tenant\n\n# Narrow the platform baseline here. The decision must always be defined.\ndefault decision := {\"allow\": true, \"reasons\": [], \"obligations\": {\"mask\": [], \"redact\": []}}\n";
const POLICY_TEST_SKELETON: &str = "package crm.tenant_test\n\ntest_decision_defined if {\n\tdata.crm.tenant.decision with input as {\"action\": \"customer.read\"}\n}\n";

/// What the editor shows after an action.
enum EditorOutcome {
    None,
    Tests(Result<Vec<crate::policy::RegoTestResult>, crate::policy_admin::Refusal>),
    Published(i64),
    Error(String),
}

async fn policies_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let lang = lang_of(Some(&who), &query_map(&uri));
    render_policies(&s, &who, &lang, None, EditorOutcome::None).await
}

async fn render_policies(
    s: &AppState,
    who: &Authenticated,
    lang: &str,
    files: Option<std::collections::BTreeMap<String, String>>,
    outcome: EditorOutcome,
) -> Response {
    use crate::policy_admin::Refusal;
    let resource = policy_resource(who);
    if let Err(e) = s
        .app
        .authorize(
            &who.actor,
            "policy.read",
            resource,
            serde_json::json!({"channel": "web"}),
        )
        .await
    {
        return error_page(lang, Some(who), &e);
    }
    let tenant = &who.actor.tenant_id;
    let (versions, active) = match (
        s.app.store.policy_versions(tenant).await,
        s.app.store.active_policies().await,
    ) {
        (Ok(v), Ok(a)) => (v, a.into_iter().find(|(t, _)| t == tenant).map(|(_, v)| v)),
        (Err(e), _) | (_, Err(e)) => return error_page(lang, Some(who), &e.into()),
    };
    let files = files.unwrap_or_else(|| {
        active
            .and_then(|a| versions.iter().find(|v| v.version == a))
            .and_then(|v| serde_json::from_str(&v.files).ok())
            .unwrap_or_else(|| {
                [
                    ("rules.rego".to_string(), POLICY_SKELETON.to_string()),
                    (
                        "rules_test.rego".to_string(),
                        POLICY_TEST_SKELETON.to_string(),
                    ),
                ]
                .into_iter()
                .collect()
            })
    });
    let body = html! {
        h1 { (t(lang, "policies")) }
        p { (t(lang, "baseline")) ": " code { (s.app.pdp.version()) } " (" (s.app.pdp.baseline_mode()) ")" }
        p { (t(lang, "active_version")) ": " strong { @if let Some(a) = active { "v" (a) } @else { (t(lang, "baseline_only")) } } }
        p.muted { (t(lang, "editor_help")) }
        @match &outcome {
            EditorOutcome::None => {}
            EditorOutcome::Published(v) => { p.ok role="status" { (t(lang, "published_version")) " " (v) } }
            EditorOutcome::Error(m) => { p.error role="alert" { (m) } }
            EditorOutcome::Tests(r) => {
                @match r {
                    Ok(results) => { p.ok role="status" { (results.len()) " " (t(lang, "tests_passed")) } }
                    Err(Refusal::Invalid(errors)) => { div.error role="alert" { @for e in errors { pre { (e) } } } }
                    Err(Refusal::TestsFailed(results)) => {
                        ul role="alert" { @for r in results { li class=(if r.passed { "ok" } else { "error" }) { (if r.passed { "PASS " } else { "FAIL " }) (r.name) } } }
                    }
                }
            }
        }
        form method="post" action="/policies" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            @for (i, (path, source)) in files.iter().enumerate() {
                label for=(format!("file{i}")) { (path) }
                input type="hidden" name=(format!("path{i}")) value=(path);
                textarea.code id=(format!("file{i}")) name=(format!("source{i}")) rows="14" spellcheck="false" { (source) }
            }
            label for="note" { (t(lang, "note")) }
            input id="note" name="note" maxlength="500";
            button type="submit" name="op" value="test" { (t(lang, "run_tests")) }
            " "
            button type="submit" name="op" value="publish" { (t(lang, "publish")) }
        }
        h2 { (t(lang, "history")) }
        table {
            thead { tr { th scope="col" { "Version" } th scope="col" { "Author" } th scope="col" { "Time" } th scope="col" { "Digest" } th scope="col" { (t(lang, "note")) } } }
            tbody {
                @for v in &versions {
                    tr {
                        td { "v" (v.version) @if Some(v.version) == active { " ✓" } }
                        td { (v.author) }
                        td { (chrono::DateTime::from_timestamp_millis(v.created_at).map(|d| d.to_rfc3339()).unwrap_or_default()) }
                        td { code { (v.digest.get(..19).unwrap_or(&v.digest)) } }
                        td { (v.note) }
                    }
                }
            }
        }
    };
    page(
        StatusCode::OK,
        layout(lang, t(lang, "policies"), Some(who), body),
    )
}

/// The decision log screen: the API's filters (`GET /api/v1/decisions`) as a form, newest first.
async fn decisions_page(
    State(s): State<AppState>,
    who: Result<Authenticated, AppError>,
    uri: axum::http::Uri,
) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    let q = query_map(&uri);
    let lang = lang_of(Some(&who), &q);
    if let Err(e) = s
        .app
        .authorize(
            &who.actor,
            "decision.read",
            policy_resource(&who),
            serde_json::json!({"channel": "web"}),
        )
        .await
    {
        return error_page(&lang, Some(&who), &e);
    }
    // The form sends every field; an empty one is no filter.
    let filters = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, v)| k != "lang" && !v.is_empty());
    let (status, rows, error) = match super::policies::decision_query(filters) {
        Err(e) => (e.status, vec![], Some(e.message)),
        Ok(query) => match s.app.store.decisions(&who.actor.tenant_id, &query).await {
            Ok(rows) => (StatusCode::OK, rows, None),
            Err(e) => return error_page(&lang, Some(&who), &e.into()),
        },
    };
    let value = |k: &str| q.get(k).cloned().unwrap_or_default();
    let allow = value("allow");
    let body = html! {
        h1 { (t(&lang, "decisions")) }
        p.muted { (t(&lang, "decisions_help")) }
        form.filters method="get" action="/decisions" {
            label for="action" { (t(&lang, "action")) }
            input id="action" name="action" value=(value("action")) maxlength="100";
            label for="allow" { (t(&lang, "result")) }
            select id="allow" name="allow" {
                option value="" selected[allow.is_empty()] { (t(&lang, "any")) }
                option value="true" selected[allow == "true"] { (t(&lang, "allowed")) }
                option value="false" selected[allow == "false"] { (t(&lang, "denied")) }
            }
            label for="tenant_version" { (t(&lang, "tenant_version")) }
            input id="tenant_version" name="tenant_version" type="number" min="1" value=(value("tenant_version"));
            label for="digest" { (t(&lang, "input_digest")) }
            input id="digest" name="digest" value=(value("digest")) maxlength="64";
            button type="submit" { (t(&lang, "filter")) }
        }
        @if let Some(m) = &error { p.error role="alert" { (m) } }
        @if rows.is_empty() && error.is_none() { p { (t(&lang, "none")) } }
        @else if !rows.is_empty() {
            table.decisions {
                thead { tr {
                    th scope="col" { (t(&lang, "time")) } th scope="col" { (t(&lang, "action")) }
                    th scope="col" { (t(&lang, "result")) } th scope="col" { (t(&lang, "reasons")) }
                    th scope="col" { (t(&lang, "policy_version")) } th scope="col" { (t(&lang, "latency")) }
                    th scope="col" { (t(&lang, "input_digest")) }
                } }
                tbody {
                    @for d in rows.into_iter().map(super::policies::DecisionEntry::from) {
                        tr class=(if d.allow { "allow" } else { "deny" }) {
                            td { (chrono::DateTime::from_timestamp_millis(d.at).map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()).unwrap_or_default()) }
                            td { code { (d.action) } }
                            td { (t(&lang, if d.allow { "allowed" } else { "denied" })) }
                            td { ul { @for r in &d.reasons { li { (r) } } } }
                            td { code { (d.policy_version) } }
                            td { (d.micros) }
                            td { a href=(format!("/decisions?digest={}", d.input_digest)) { code { (d.input_digest.get(..12).unwrap_or(&d.input_digest)) } } }
                        }
                    }
                }
            }
        }
    };
    page(
        status,
        layout(&lang, t(&lang, "decisions"), Some(&who), body),
    )
}

async fn policies_submit(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let lang = who.actor.lang.clone();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..crate::policy_admin::MAX_FILES {
        match (f.get(&format!("path{i}")), f.get(&format!("source{i}"))) {
            (Some(p), Some(src)) => {
                files.insert(p.clone(), src.replace("\r\n", "\n"));
            }
            _ => break,
        }
    }
    let set = crate::policy_admin::PolicySet {
        files: files.clone(),
    };
    let note = f.get("note").map(String::as_str).unwrap_or_default();
    let app = &s.app;
    let outcome = match f.get("op").map(String::as_str) {
        Some("publish") => {
            match crate::policy_admin::publish(app, &who.actor, "web", &set, note).await {
                Ok(Ok(p)) => EditorOutcome::Published(p.version),
                Ok(Err(r)) => EditorOutcome::Tests(Err(r)),
                Err(e) => EditorOutcome::Error(e.message),
            }
        }
        _ => match crate::policy_admin::test_draft(app, &who.actor, "web", &set).await {
            Ok(r) => EditorOutcome::Tests(r),
            Err(e) => EditorOutcome::Error(e.message),
        },
    };
    render_policies(&s, &who, &lang, Some(files), outcome).await
}

async fn account_page(State(s): State<AppState>, who: Result<Authenticated, AppError>) -> Response {
    let Ok(who) = who else {
        return Redirect::to("/login").into_response();
    };
    render_account(&s, &who, AccountNote::None).await
}

/// What the account screen shows besides the member's state.
enum AccountNote {
    None,
    /// A freshly started enrolment: secret and otpauth URL.
    Pending(String, String),
    /// Recovery codes just issued (shown once).
    Codes(Vec<String>),
    Error(String),
}

/// The account screen: two-factor sign-in (enrolment and re-enrolment with the password and the
/// current second factor checked again), recovery codes, and signing out everywhere.
async fn render_account(s: &AppState, who: &Authenticated, note: AccountNote) -> Response {
    let lang = who.actor.lang.clone();
    let lang = lang.as_str();
    let enrolled = match s
        .app
        .store
        .user_by_id(&who.actor.tenant_id, &who.actor.user_id)
        .await
    {
        Ok(Some(u)) => u.totp_secret.is_some(),
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return error_page(lang, Some(who), &e.into()),
    };
    let left = if enrolled {
        crate::sessions::recovery_codes_left(&s.app, &who.actor)
            .await
            .unwrap_or(0)
    } else {
        0
    };
    let reauth = |action: &str, label: &str| {
        html! {
            form method="post" action=(action) {
                input type="hidden" name="csrf_token" value=(who.csrf_token);
                p.muted { (t(lang, "mfa_reauth")) }
                label for="password" { (t(lang, "password")) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                @if enrolled {
                    label for="current" { (t(lang, "current_code")) }
                    input id="current" name="current" autocomplete="one-time-code" required;
                }
                button type="submit" { (label) }
            }
        }
    };
    let body = html! {
        h1 { (t(lang, "account")) }
        p { (who.actor.username) " · " (who.actor.role) }
        @if let AccountNote::Error(e) = &note { p.error role="alert" { (e) } }
        @if let AccountNote::Pending(secret, url) = &note {
            p { (t(lang, "mfa_scan")) }
            p { code { (secret) } }
            p.muted { code { (url) } }
            form method="post" action="/account/mfa/confirm" {
                input type="hidden" name="csrf_token" value=(who.csrf_token);
                label for="code" { (t(lang, "code")) }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required;
                button type="submit" { (t(lang, "confirm")) }
            }
        } @else if enrolled {
            p.ok { (t(lang, "mfa_on")) }
            @if let AccountNote::Codes(codes) = &note {
                p role="status" { (t(lang, "recovery_codes")) }
                ul.codes { @for c in codes { li { code { (c) } } } }
            } @else {
                p { (t(lang, "recovery_left")) ": " (left) }
            }
            (reauth("/account/mfa", t(lang, "mfa_change")))
        } @else {
            p { (t(lang, "mfa_off")) }
            (reauth("/account/mfa", t(lang, "mfa_setup")))
        }
        h2 { (t(lang, "sign_out_everywhere")) }
        form method="post" action="/account/sign-out-everywhere" {
            input type="hidden" name="csrf_token" value=(who.csrf_token);
            p.muted { (t(lang, "sign_out_everywhere_help")) }
            button type="submit" { (t(lang, "sign_out_everywhere")) }
        }
    };
    page(
        StatusCode::OK,
        layout(lang, t(lang, "account"), Some(who), body),
    )
}

async fn account_mfa_start(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let current = f.get("current").map(String::as_str);
    match crate::sessions::mfa_start(&s.app, &who, password, current).await {
        Ok((secret, url)) => render_account(&s, &who, AccountNote::Pending(secret, url)).await,
        Err(e) if e.status.is_client_error() => {
            render_account(&s, &who, AccountNote::Error(e.message)).await
        }
        Err(e) => error_page(&who.actor.lang, Some(&who), &e),
    }
}

async fn account_mfa_confirm(
    State(s): State<AppState>,
    SignedForm { who, form: f }: SignedForm,
) -> Response {
    let code = f.get("code").map(String::as_str).unwrap_or("");
    match crate::sessions::mfa_confirm(&s.app, &who, code).await {
        Ok(codes) => render_account(&s, &who, AccountNote::Codes(codes)).await,
        Err(e) => render_account(&s, &who, AccountNote::Error(e.message)).await,
    }
}

async fn account_sign_out_everywhere(
    State(s): State<AppState>,
    SignedForm { who, .. }: SignedForm,
) -> Response {
    if let Err(e) = crate::sessions::sign_out_everywhere(&s.app, &who).await {
        return error_page(&who.actor.lang, Some(&who), &e);
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0, s.tls).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
