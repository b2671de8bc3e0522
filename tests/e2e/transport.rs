//! HTTP surface: security headers, TLS, OpenAPI, health, and the web pages.

use crate::common::{Server, spawn};

#[tokio::test]
async fn every_response_carries_strict_security_headers() {
    let s = Server::demo(1);
    for path in ["/healthz", "/login", "/api/v1/customers", "/nowhere"] {
        let r = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        let h = r.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
    let (st, v) = s.get("/healthz", None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    // Metrics: counts only.
    let t = s.token("sales").await;
    assert_eq!(s.get("/api/v1/customers", Some(&t)).await.0, 200);
    let m = crate::common::page(&s.http, &format!("{}/metrics", s.url)).await;
    assert!(m.contains("crm_http_responses_total{class=\"2xx\"}"), "{m}");
    let counter = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing: {m}"))
    };
    assert!(
        counter("crm_policy_decisions_total{result=\"allow\"} ") >= 1,
        "{m}"
    );
    assert!(counter("crm_audit_records_total ") >= 1, "{m}");
    assert!(!m.contains('@'));
    let (st, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/session",
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/customers/{id}/interactions",
        "/api/v1/audit",
        "/api/v1/audit/verify",
    ] {
        assert!(doc["paths"][p].is_object(), "OpenAPI lacks {p}");
    }
}

#[tokio::test]
async fn self_signed_tls_serves_https_with_secure_cookies_and_hsts() {
    let s = Server::demo(1);
    let t = s.token("sales").await;
    assert_eq!(s.get("/api/v1/customers", Some(&t)).await.0, 200);
    let (mut child, url) = spawn(&["serve", "--tls", "self-signed"], &s.data());
    assert!(url.starts_with("https://"), "{url}");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()
            .get("strict-transport-security")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let sales = s.user("sales");
    let r = client
        .post(format!("{url}/api/v1/session"))
        .json(&serde_json::json!({"tenant": "demo", "username": sales["username"], "password": sales["password"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    // Plain HTTP to the TLS port fails rather than leaking anything.
    let plain = url.replace("https://", "http://");
    assert!(
        reqwest::get(format!("{plain}/healthz"))
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn web_sign_in_with_mfa_then_list_and_detail() {
    let s = Server::demo(30);
    let client = s.web_client("admin").await;
    let list = crate::common::page(&client, &format!("{}/customers?region=CN", s.url)).await;
    assert!(
        list.contains("<table>") && list.contains("/customers/"),
        "{list}"
    );
    let href = list
        .split("href=\"/customers/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let detail = crate::common::page(&client, &format!("{}/customers/{href}", s.url)).await;
    assert!(detail.contains("<dl class=\"kv\">"), "{detail}");
    // Switch to Chinese.
    let token = crate::common::form_token(&detail);
    let r = client
        .post(format!("{}/lang", s.url))
        .form(&[("csrf_token", token.as_str()), ("lang", "zh")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let zh = crate::common::page(&client, &format!("{}/customers", s.url)).await;
    assert!(zh.contains("客户"), "{zh}");
    // A signed-out browser is sent to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon
        .get(format!("{}/customers", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("location").unwrap(), "/login");
}

#[tokio::test]
async fn serve_reads_a_toml_config_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("crm.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(crate::common::BIN)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env_remove("CRM_DATA_DIR")
        .env_remove("CRM_LISTEN")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("CRM is running at ")
        .unwrap()
        .to_string();
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(data.join("crm.db").exists() && data.join("master.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let _ = child.kill();
    let _ = child.wait();

    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nport = 9\n").unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `port`"), "{err}");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["serve", "--listen", "nowhere", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not of the form IP:PORT"));
}
