//! A real `crm` process on a free port, with its data folder, and helpers to talk to it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_crm");

pub struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub creds: Value,
    tokens: Mutex<HashMap<String, String>>,
    pub http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compiled policy modules, shared by every server the tests start (each would otherwise compile
/// the baseline policy's module afresh in its new data folder).
pub const MODULE_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/module-cache");

/// Compiled plugin components, shared by every server the tests start.
pub const COMPONENT_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache");

/// Runs `crm ARGS` to completion against a data folder and returns (exit ok, stdout, stderr).
pub fn crm(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data")
        .arg(data)
        .env_remove("CRM_MASTER_KEY")
        .env("CRM_MODULE_CACHE", MODULE_CACHE)
        .env("CRM_COMPONENT_CACHE", COMPONENT_CACHE)
        .env("CRM_PLUGIN_DEADLINE_MS", "2000");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run crm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts a process and waits for the line announcing its URL.
pub fn spawn(args: &[&str], data: &Path) -> (Child, String) {
    spawn_with(args, data, &[])
}

/// [`spawn`] with extra environment variables.
pub fn spawn_with(args: &[&str], data: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env_remove("CRM_MASTER_KEY")
        .env("CRM_MODULE_CACHE", MODULE_CACHE)
        .env("CRM_COMPONENT_CACHE", COMPONENT_CACHE)
        // Debug builds on a busy machine: a roomier plugin deadline than production's 100 ms
        // (tests that show the deadline tighten it back per plugin).
        .env("CRM_PLUGIN_DEADLINE_MS", "2000")
        .env("CRM_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crm");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(url) = line.strip_prefix("CRM is running at ") {
                let _ = tx.send(url.trim().to_string());
                sent = true;
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("crm did not start within 120 s");
    (child, url)
}

impl Server {
    /// `crm demo` with `customers` synthetic customers in a fresh data folder (the first-party
    /// plugins installed, without their demo data).
    pub fn demo(customers: u32) -> Self {
        Self::demo_with(customers, false)
    }

    /// `crm demo`, with or without the first-party plugins' demo data.
    pub fn demo_with(customers: u32, plugin_data: bool) -> Self {
        Self::demo_env(customers, plugin_data, &[])
    }

    /// `crm demo` with extra environment variables.
    pub fn demo_env(customers: u32, plugin_data: bool, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = customers.to_string();
        let mut args = vec!["demo", "--customers", &n];
        if !plugin_data {
            args.push("--no-plugin-data");
        }
        let (child, url) = spawn_with(&args, dir.path(), env);
        let creds: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("demo-credentials.json"))
                .expect("credentials file"),
        )
        .expect("credentials json");
        Self {
            child,
            url,
            dir,
            creds,
            tokens: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn user(&self, role: &str) -> Value {
        self.creds["users"]
            .as_array()
            .and_then(|a| a.iter().find(|u| u["role"] == role))
            .cloned()
            .unwrap_or_else(|| panic!("no demo user with role {role}"))
    }

    /// Signs in a demo user by role (with TOTP when enrolled); one session per role, reused.
    pub async fn token(&self, role: &str) -> String {
        if let Some(t) = self.tokens.lock().unwrap().get(role) {
            return t.clone();
        }
        let u = self.user(role);
        let t = self
            .sign_in(
                "demo",
                u["username"].as_str().unwrap(),
                u["password"].as_str().unwrap(),
                u["totp_secret"].as_str(),
            )
            .await;
        self.tokens
            .lock()
            .unwrap()
            .insert(role.to_string(), t.clone());
        t
    }

    /// Signs in and returns the bearer token; retries the next TOTP step if the current one was used.
    pub async fn sign_in(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
        totp_secret: Option<&str>,
    ) -> String {
        for attempt in 0..3 {
            let mut body = json!({"tenant": tenant, "username": username, "password": password});
            if let Some(s) = totp_secret {
                body["totp"] = json!(totp_at(s, attempt));
            }
            let (status, v) = self.post_json("/api/v1/session", None, &body).await;
            if status == 200 {
                return v["token"].as_str().unwrap().to_string();
            }
            assert_eq!(v["error"]["code"], "invalid_totp", "sign-in failed: {v}");
        }
        panic!("could not sign in {username}");
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.url))
            .json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> u16 {
        let mut r = self.http.delete(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request").status().as_u16()
    }

    /// A direct connection to the server's SQLite database (as an attacker or auditor would have).
    pub async fn db(&self) -> sqlx::SqlitePool {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.dir.path().join("crm.db"))
            .busy_timeout(Duration::from_secs(10));
        sqlx::SqlitePool::connect_with(opts).await.expect("open db")
    }

    /// The attacker: the admin (with two-factor sign-in) of another tenant, `eve-tv`, signed in.
    pub async fn attacker(&self) -> String {
        let (ok, _, err) = crm(
            &self.data(),
            &["tenant", "create", "eve-tv", "--name", "Eve TV"],
            &[],
        );
        assert!(ok, "{err}");
        let (ok, out, err) = crm(
            &self.data(),
            &[
                "user",
                "add",
                "--tenant",
                "eve-tv",
                "--username",
                "eve",
                "--role",
                "admin",
                "--mfa",
            ],
            &[("CRM_USER_PASSWORD", "Attacker-Passw0rd-2026")],
        );
        assert!(ok, "{err}");
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("TOTP secret: "))
            .expect("a TOTP secret")
            .trim()
            .to_string();
        self.sign_in("eve-tv", "eve", "Attacker-Passw0rd-2026", Some(&secret))
            .await
    }

    /// Ids of the demo tenant's customers (first page).
    pub async fn some_customer_ids(&self, n: usize) -> Vec<String> {
        let t = self.token("admin").await;
        let (s, v) = self
            .get(&format!("/api/v1/customers?per_page={n}"), Some(&t))
            .await;
        assert_eq!(s, 200, "{v}");
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The TOTP code `steps_ahead` steps from now (the server accepts ±1 step of skew).
pub fn totp_at(secret_b32: &str, steps_ahead: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    let t =
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now + 30 * steps_ahead)
}

impl Server {
    /// A browser-like client (cookie store, no redirects) signed in through the web form as `role`.
    pub async fn web_client(&self, role: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = crate::common::page(&client, &format!("{}/login", self.url)).await;
        assert!(login.contains("<label for=\"totp\">"));
        let csrf = form_token(&login);
        let u = self.user(role);
        let code = u["totp_secret"]
            .as_str()
            .map(|s| totp_at(s, 0))
            .unwrap_or_default();
        let form = [
            ("csrf_token", csrf.as_str()),
            ("tenant", "demo"),
            ("username", u["username"].as_str().unwrap()),
            ("password", u["password"].as_str().unwrap()),
            ("totp", code.as_str()),
        ];
        let r = client
            .post(format!("{}/login", self.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "web sign-in as {role} failed");
        client
    }
}

/// The CSRF token in a page's first form.
pub fn form_token(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// GET `url` with `client` and return the body as text.
pub async fn page(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}
