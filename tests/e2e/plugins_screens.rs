//! Plugin screens in the staff UI: rendered by the host as escaped HTML, their actions posted with
//! CSRF tokens and signed offers, and hidden from (and refused to) a role the policy keeps out.

use serde_json::json;

use crate::common::Server;

#[tokio::test]
async fn plugin_screens_render_as_escaped_html_in_the_staff_ui() {
    let s = Server::demo(12);
    let sales = s.token("sales").await;
    // A customer whose name is markup: the plugin returns it as data, the host shows it as text.
    let (st, v) = s
        .post_json(
            "/api/v1/customers",
            Some(&sales),
            &json!({"name": "<script>alert(1)</script> Evil", "region": "EU"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");

    let web = s.web_client("support").await;
    let apps = crate::common::page(&web, &format!("{}/apps", s.url)).await;
    for (plugin, screen) in [
        ("hello", "main"),
        ("subscriptions", "main"),
        ("advertiser-deals", "main"),
        ("audience-campaigns", "main"),
    ] {
        assert!(
            apps.contains(&format!("href=\"/apps/{plugin}/{screen}\"")),
            "{plugin} missing from the navigation"
        );
    }

    let resp = web
        .get(format!("{}/apps/hello/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    // 13 customers, 10 per page: the markup customer is on one of the two pages.
    let both = html.clone()
        + &crate::common::page(&web, &format!("{}/apps/hello/main?page=2", s.url)).await;
    assert!(
        both.contains("&lt;script&gt;alert(1)&lt;/script&gt; Evil"),
        "the name is shown as text"
    );
    assert!(
        !both.contains("<script"),
        "no script element reaches the page"
    );
    assert!(
        html.contains("<table id=\"customers\"") || html.contains("<table"),
        "{html}"
    );

    // A row action posts back with the CSRF token and shows the plugin's notice.
    let csrf = crate::common::form_token(&html);
    let row = html
        .split("name=\"_row\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a row action")
        .to_string();
    // The row's action carries what it offers (a row, no input), signed: the last of each
    // hidden field before the row's id is its own.
    let row_form = html
        .split(&format!("name=\"_row\" value=\"{row}\""))
        .next()
        .unwrap();
    let signed = |field: &str| {
        row_form
            .rsplit(&format!("name=\"{field}\" value=\""))
            .next()
            .and_then(|v| v.split('"').next())
            .unwrap_or_else(|| panic!("{field} in the page"))
            .to_string()
    };
    let (form, mac) = (signed("_form"), signed("_form_mac"));
    let resp = web
        .post(format!("{}/apps/hello/main", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("_action", "greet"),
            ("_form", form.as_str()),
            ("_form_mac", mac.as_str()),
            ("_row", row.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"notice success\""), "{html}");
    assert!(html.contains("Said hello to"), "{html}");

    // Without the CSRF token the action is refused and nothing is written.
    let resp = web
        .post(format!("{}/apps/hello/main", s.url))
        .form(&[("_action", "greet"), ("_row", row.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Signed out: sent to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anon
        .get(format!("{}/apps/hello/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn a_role_the_policy_keeps_out_does_not_see_the_plugin_and_gets_403() {
    let s = Server::demo(5);
    // The example tenant set keeps advertiser deals to sales and admins.
    let files = json!({
        "files": {
            "rules.rego": include_str!("../../policies/tenant-example/rules.rego"),
            "rules_test.rego": include_str!("../../policies/tenant-example/rules_test.rego"),
        },
        "note": "advertiser deals for sales"
    });
    let compliance = s.token("compliance").await;
    let (st, v) = s
        .post_json("/api/v1/policies", Some(&compliance), &files)
        .await;
    assert_eq!(st, 201, "{v}");

    let support = s.web_client("support").await;
    let apps = crate::common::page(&support, &format!("{}/apps", s.url)).await;
    assert!(
        !apps.contains("/apps/advertiser-deals/"),
        "support must not see advertiser deals"
    );
    assert!(apps.contains("/apps/subscriptions/main"));
    let resp = support
        .get(format!("{}/apps/advertiser-deals/main", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("advertiser deals are for sales and admins")
    );
    let token = s.token("support").await;
    assert_eq!(
        s.get(
            "/api/v1/plugins/advertiser-deals/screens/main",
            Some(&token)
        )
        .await
        .0,
        403
    );

    let sales = s.web_client("sales").await;
    let apps = crate::common::page(&sales, &format!("{}/apps", s.url)).await;
    assert!(
        apps.contains("/apps/advertiser-deals/main"),
        "sales keeps advertiser deals"
    );
}
