//! Sign-in refusals: wrong password, wrong TOTP, expired or revoked sessions, missing CSRF.

use serde_json::json;

use crate::common::{Server, totp_at};

#[tokio::test]
async fn wrong_password_and_wrong_totp_are_refused() {
    let s = Server::demo(2);
    let admin = s.user("admin");
    let (u, p, secret) = (
        admin["username"].as_str().unwrap(),
        admin["password"].as_str().unwrap(),
        admin["totp_secret"].as_str().unwrap(),
    );

    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": "Wrong-Password-1"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": "nobody", "password": p}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("mfa_required"))
    );
    let good = totp_at(secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p, "totp": wrong}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
    // The right code works once; replaying it is refused.
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p, "totp": good}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["user"]["mfa"].as_bool().unwrap());
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p, "totp": good}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
}

#[tokio::test]
async fn repeated_failures_throttle_even_the_right_password() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let (u, p) = (
        sales["username"].as_str().unwrap(),
        sales["password"].as_str().unwrap(),
    );
    for _ in 0..4 {
        let (st, _) = s
            .post_json(
                "/api/v1/session",
                None,
                &json!({"tenant": "demo", "username": u, "password": "Wrong-Password-1"}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let resp = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .json(&json!({"tenant": "demo", "username": u, "password": p}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "throttled");
    // After the delay the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, _) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p}),
        )
        .await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn revoked_and_expired_sessions_are_refused() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let t = s
        .sign_in(
            "demo",
            sales["username"].as_str().unwrap(),
            sales["password"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(s.get("/api/v1/me", Some(&t)).await.0, 200);
    assert_eq!(s.delete("/api/v1/session", Some(&t)).await, 204);
    let (st, v) = s.get("/api/v1/me", Some(&t)).await;
    assert_eq!(st, 401);
    assert!(v["error"]["message"].as_str().unwrap().contains("revoked"));

    let t2 = s
        .sign_in(
            "demo",
            sales["username"].as_str().unwrap(),
            sales["password"].as_str().unwrap(),
            None,
        )
        .await;
    let db = s.db().await;
    let hash = crm::auth::token_hash(&t2);
    sqlx::query("UPDATE sessions SET expires_at = 1 WHERE token_hash = ?")
        .bind(&hash)
        .execute(&db)
        .await
        .unwrap();
    let (st, v) = s.get("/api/v1/me", Some(&t2)).await;
    assert_eq!(st, 401);
    assert!(v["error"]["message"].as_str().unwrap().contains("expired"));
    // Only a hash of the token is stored.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = ?")
        .bind(&t2)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_for_changes() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let resp = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .json(&json!({"tenant": "demo", "username": sales["username"], "password": sales["password"]}))
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Max-Age="),
        "{cookie}"
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    let csrf = v["csrf_token"].as_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let body = json!({"name": "Csrf Test", "region": "EU"});

    let r = s
        .http
        .post(format!("{}/api/v1/customers", s.url))
        .header("cookie", &session)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "csrf"
    );
    let r = s
        .http
        .post(format!("{}/api/v1/customers", s.url))
        .header("cookie", &session)
        .header("x-csrf-token", "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = s
        .http
        .post(format!("{}/api/v1/customers", s.url))
        .header("cookie", &session)
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // Reads need no CSRF token.
    let r = s
        .http
        .get(format!("{}/api/v1/me", s.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The web sign-in form refuses a post without its CSRF token.
    let r = s
        .http
        .post(format!("{}/login", s.url))
        .form(&[
            ("tenant", "demo"),
            ("username", sales["username"].as_str().unwrap()),
            ("password", sales["password"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn a_user_enrols_two_factor_sign_in() {
    let s = Server::demo(1);
    let sales = s.user("sales");
    let (u, p) = (
        sales["username"].as_str().unwrap(),
        sales["password"].as_str().unwrap(),
    );
    let t = s.sign_in("demo", u, p, None).await;
    let (st, v) = s
        .post_json(
            "/api/v1/me/mfa/confirm",
            Some(&t),
            &json!({"code": "123456"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("no_enrolment"))
    );
    // Enrolment checks the password again.
    let (st, v) = s
        .post_json(
            "/api/v1/me/mfa",
            Some(&t),
            &json!({"password": "Not-The-Password-1"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("reauthentication_failed"))
    );
    let (st, start) = s
        .post_json("/api/v1/me/mfa", Some(&t), &json!({"password": p}))
        .await;
    assert_eq!(st, 200, "{start}");
    let secret = start["secret"].as_str().unwrap().to_string();
    assert!(
        start["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let good = totp_at(&secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let (st, _) = s
        .post_json("/api/v1/me/mfa/confirm", Some(&t), &json!({"code": wrong}))
        .await;
    assert_eq!(st, 400);
    // Not enrolled until confirmed: the password alone still works.
    assert_eq!(
        s.post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p})
        )
        .await
        .0,
        200
    );
    let (st, v) = s
        .post_json("/api/v1/me/mfa/confirm", Some(&t), &json!({"code": good}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["recovery_codes"].as_array().unwrap().len(), 10, "{v}");
    let (st, v) = s
        .post_json(
            "/api/v1/session",
            None,
            &json!({"tenant": "demo", "username": u, "password": p}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("mfa_required"))
    );
    let t2 = s.sign_in("demo", u, p, Some(&secret)).await;
    let (_, me) = s.get("/api/v1/me", Some(&t2)).await;
    assert_eq!(me["mfa"], true);
    // The secret is stored sealed, never in clear.
    let db = s.db().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT totp_secret FROM users WHERE username = ?")
        .bind(u)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[tokio::test]
async fn an_address_spraying_usernames_is_throttled() {
    let s = Server::demo(1);
    for i in 0..30 {
        let (st, _) = s
            .post_json("/api/v1/session", None, &json!({"tenant": "demo", "username": format!("guess{i}"), "password": "Spray-Password-1"}))
            .await;
        assert_eq!(st, 401);
    }
    let sales = s.user("sales");
    let (st, v) = s
        .post_json("/api/v1/session", None, &json!({"tenant": "demo", "username": sales["username"], "password": sales["password"]}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (429, Some("throttled")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("from this address")
    );
}

#[tokio::test]
async fn two_factor_enrolment_in_the_web_screen() {
    let s = Server::demo(1);
    let client = s.web_client("sales").await;
    let page = crate::common::page(&client, &format!("{}/account", s.url)).await;
    assert!(page.contains("Two-factor sign-in is off"), "{page}");
    let csrf = crate::common::form_token(&page);
    let r = client
        .post(format!("{}/account/mfa", s.url))
        .form(&[("csrf_token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let password = s.user("sales")["password"].as_str().unwrap().to_string();
    let page = client
        .post(format!("{}/account/mfa", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = page
        .split("<p><code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 32, "{page}");
    let page = client
        .post(format!("{}/account/mfa/confirm", s.url))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", totp_at(&secret, 0).as_str()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Two-factor sign-in is on"), "{page}");
    // The recovery codes are shown once, then only counted.
    assert_eq!(page.matches("<li><code>").count(), 10, "{page}");
    let page = crate::common::page(&client, &format!("{}/account", s.url)).await;
    assert!(page.contains("Unused recovery codes: 10"), "{page}");
}
