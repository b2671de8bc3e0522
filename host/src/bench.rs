//! `crm bench`: throughput figures measured against a baseline in the same run.
//!
//! 1. Field seal/open per second (AES-256-GCM with AAD) against a plain copy of the same bytes.
//! 2. Policy decisions through the full decision point with the baseline policy compiled to Wasm
//!    (opa-wasm in Wasmtime) against regorus evaluating the same Rego natively, on the same
//!    inputs; decisions per second with concurrent callers; time to publish a tenant set.
//! 3. `GET /api/v1/customers/{id}` end to end (auth, policy, decrypt, audit) against the same request
//!    served by a baseline handler that reads an unencrypted table with no auth, policy or audit.
//! 4. Plugins: a trivial export called through a fresh sandboxed instance against calling the same
//!    Rust function directly; a host-call round trip; calls per second with concurrent callers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use rand::Rng;

use crm::app::App;
use crm::policy::Pdp;
use crm::store::Store;
use crm::vault::{FieldRef, MasterKey, SealingKey, Vault};

pub struct Options {
    pub customers: usize,
    pub seconds: u64,
    pub concurrency: usize,
}

struct Latencies(Vec<Duration>);

impl Latencies {
    /// The time of each of `n` calls of `f` (called with the call's number).
    fn of(n: usize, mut f: impl FnMut(usize)) -> Self {
        Self(
            (0..n)
                .map(|k| {
                    let t = Instant::now();
                    f(k);
                    t.elapsed()
                })
                .collect(),
        )
    }

    /// The median of each of `inputs` cycled-through inputs (sample k decided input k % inputs);
    /// call before [`Latencies::pct`] on `self`, which sorts.
    fn per_input(&self, inputs: usize) -> Vec<Duration> {
        (0..inputs)
            .map(|i| Latencies(self.0.iter().skip(i).step_by(inputs).copied().collect()).pct(0.5))
            .collect()
    }

    fn pct(&mut self, p: f64) -> Duration {
        self.0.sort();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0.get(i).copied().unwrap_or_default()
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median of `rounds` timings of `n` calls of `f`, in operations per second.
fn ops_per_sec(n: usize, rounds: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for i in 0..n {
                f(i);
            }
            n as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    println!(
        "crm bench: {} customers, {} s per HTTP run, {} concurrent clients",
        opts.customers, opts.seconds, opts.concurrency
    );
    println!("(medians of repeated rounds; ratios compare runs made in this same process)\n");
    seal_bench();
    let pdp = tokio::task::spawn_blocking(move || policy_bench(opts.concurrency)).await??;
    let deployment = Deployment::create(pdp, opts.customers).await?;
    http_bench(&deployment, &opts).await?;
    plugin_bench(
        &deployment.app,
        &deployment.plugins,
        &deployment.tenant_id,
        &deployment.ids,
        &opts,
    )
    .await
}

/// Section 1: field seal/open per second against a plain copy of the same bytes.
fn seal_bench() {
    let key = SealingKey::generate(1);
    let value = b"wang.fang.1987@example.cn";
    let at = FieldRef {
        tenant: "bench-tenant",
        table: "customers",
        record: "3f1c0d5e-1111-4c4c-9a9a-000000000001",
        field: "email",
    };
    let sealed = key.seal(&at, value);
    let n = 100_000;
    let seal = ops_per_sec(n, 5, |_| {
        std::hint::black_box(key.seal(&at, std::hint::black_box(value)));
    });
    let open = ops_per_sec(n, 5, |_| {
        std::hint::black_box(key.open(&at, std::hint::black_box(&sealed)).ok());
    });
    let copy = ops_per_sec(n, 5, |_| {
        std::hint::black_box(std::hint::black_box(value).to_vec());
    });
    println!(
        "field seal (AES-256-GCM, fresh nonce, AAD): {:>12.0} /s",
        seal
    );
    println!(
        "field open (AES-256-GCM, AAD check):        {:>12.0} /s",
        open
    );
    println!(
        "baseline: plain copy of the same bytes:     {:>12.0} /s",
        copy
    );
    println!(
        "  seal costs {:.1}x a plain copy, open {:.1}x\n",
        copy / seal,
        copy / open
    );
}

/// The bench admin's password.
const PASSWORD: &str = "Bench-Password-2026!";

/// The service the HTTP and plugin sections run against, in a temporary directory.
struct Deployment {
    app: Arc<App>,
    plugins: Arc<crm::plugins::Runtime>,
    store: Store,
    tenant_id: String,
    ids: Arc<Vec<String>>,
    /// Holds the database, master key and plugin files; declared last so it is removed last.
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// A fresh store with one tenant, its admin, `customers` seeded customers and the same
    /// customers in the unencrypted baseline table.
    async fn create(pdp: Pdp, customers: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = Store::open_sqlite(&dir.path().join("crm.db")).await?;
        let master = MasterKey::load_or_create(&dir.path().join("master.key"))?;
        let plugins = Arc::new(crm::plugins::Runtime::new(dir.path())?);
        let app = Arc::new(App::new(store.clone(), Vault::new(master), pdp));
        let tenant = crm::tenants::create_tenant(&app, "bench", "Bench Broadcasting").await?;
        crm::tenants::add_user(
            &app,
            &tenant,
            "bench.admin",
            "Bench Admin",
            "admin",
            PASSWORD,
            false,
        )
        .await?;
        let ids = crate::demo::seed_customers(&app, &tenant.id, customers, 7).await?;
        create_plain_table(&store, &ids, customers).await?;
        Ok(Self {
            app,
            plugins,
            store,
            tenant_id: tenant.id,
            ids: Arc::new(ids),
            _dir: dir,
        })
    }
}

/// The baseline: the same customers, unencrypted, in a table read without auth, policy or audit.
async fn create_plain_table(store: &Store, ids: &[String], customers: usize) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE bench_plain (id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, address TEXT, \
         birth_date TEXT, notes TEXT, region TEXT, tags TEXT, consents TEXT, created_at BIGINT, updated_at BIGINT)",
    )
    .execute(store.pool())
    .await?;
    for c in crate::demo::synthetic::generate(7, customers)
        .iter()
        .zip(ids)
    {
        let (c, id) = c;
        sqlx::query(
            "INSERT INTO bench_plain VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(&c.address)
        .bind(&c.birth_date)
        .bind(&c.notes)
        .bind(&c.region)
        .bind(serde_json::to_string(&c.tags)?)
        .bind(serde_json::to_string(&c.consents)?)
        .bind(0i64)
        .bind(0i64)
        .execute(store.pool())
        .await?;
    }
    Ok(())
}

async fn plain_customer(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
    );
    let row: Option<Row> = sqlx::query_as("SELECT * FROM bench_plain WHERE id = $1")
        .bind(&id)
        .fetch_optional(store.pool())
        .await
        .ok()
        .flatten();
    match row {
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
        Some(r) => axum::Json(serde_json::json!({
            "id": r.0, "name": r.1, "email": r.2, "phone": r.3, "address": r.4, "birth_date": r.5,
            "notes": r.6, "region": r.7, "tags": serde_json::from_str::<serde_json::Value>(&r.8).ok(),
            "consents": serde_json::from_str::<serde_json::Value>(&r.9).ok(), "created_at": r.10, "updated_at": r.11,
        }))
        .into_response(),
    }
}

/// Section 3: the customer read over HTTP, full path against the plain-table baseline.
async fn http_bench(d: &Deployment, opts: &Options) -> anyhow::Result<()> {
    let baseline = Router::new()
        .route("/bench/plain/customers/{id}", get(plain_customer))
        .with_state(d.store.clone());
    let (server, addr) = start_server(d, baseline).await?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let token = login(&client, &base).await?;

    let mut results = Vec::new();
    for (label, path, auth) in [
        (
            "baseline (plain table, no auth/policy/audit)",
            "/bench/plain/customers/",
            false,
        ),
        (
            "GET /api/v1/customers/{id} (full path)     ",
            "/api/v1/customers/",
            true,
        ),
    ] {
        let target = Target {
            client: &client,
            ids: &d.ids,
            base: &base,
            token: &token,
            path,
            auth,
        };
        // Warm up, then measure.
        for secs in [1, opts.seconds] {
            let (all, elapsed) = http_round(&target, secs, opts.concurrency).await?;
            if secs == opts.seconds {
                results.push(report_http(label, all, elapsed));
            }
        }
    }
    if let [plain, full] = results[..] {
        println!(
            "  full path throughput = {:.2} of the baseline ({:.1}x slower)",
            full / plain,
            plain / full
        );
    }
    server.abort();
    Ok(())
}

/// Serves the API plus the `baseline` routes on a free local port; the server task and its address.
async fn start_server(
    d: &Deployment,
    baseline: Router,
) -> anyhow::Result<(
    tokio::task::JoinHandle<anyhow::Result<()>>,
    std::net::SocketAddr,
)> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (server_app, server_plugins) = (d.app.clone(), d.plugins.clone());
    let server = tokio::spawn(async move {
        crm::server::serve(
            server_app,
            server_plugins,
            "127.0.0.1:0".parse().expect("literal address"),
            crm::server::Tls::None,
            Some(baseline),
            move |addr, _| {
                let _ = tx.send(addr);
            },
        )
        .await
    });
    let addr = rx.await?;
    Ok((server, addr))
}

/// Signs the bench admin in through the API; the session token.
async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let r: serde_json::Value = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"tenant": "bench", "username": "bench.admin", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r["token"].as_str().unwrap_or_default().to_string())
}

/// What the HTTP clients request: `{base}{path}{id}` for random customer ids, with or without auth.
struct Target<'a> {
    client: &'a reqwest::Client,
    ids: &'a Arc<Vec<String>>,
    base: &'a str,
    token: &'a str,
    path: &'static str,
    auth: bool,
}

/// One run of `concurrency` clients requesting `target` for `secs` seconds: every request's
/// latency, and the time from starting the clients to the last one finishing.
async fn http_round(
    target: &Target<'_>,
    secs: u64,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let (path, auth) = (target.path, target.auth);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, ids, base, token) = (
            target.client.clone(),
            target.ids.clone(),
            target.base.to_string(),
            target.token.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let id = &ids[rand::thread_rng().gen_range(0..ids.len())];
                let mut req = client.get(format!("{base}{path}{id}"));
                if auth {
                    req = req.bearer_auth(&token);
                }
                let t = Instant::now();
                let resp = req.send().await?;
                let ok = resp.status().is_success();
                let _ = resp.bytes().await?;
                if !ok {
                    anyhow::bail!("benchmark request failed");
                }
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all, started.elapsed()))
}

/// Prints a measured HTTP run's throughput and latency percentiles; the requests per second.
fn report_http(label: &str, all: Vec<Duration>, elapsed: Duration) -> f64 {
    let elapsed = elapsed.as_secs_f64();
    let rps = all.len() as f64 / elapsed;
    let mut l = Latencies(all);
    let (p50, p99) = (l.pct(0.5), l.pct(0.99));
    println!(
        "{label}: {rps:>8.0} req/s   p50 {:>7.0} µs   p99 {:>7.0} µs",
        micros(p50),
        micros(p99)
    );
    rps
}

/// The work the bench plugin does, compiled natively: the direct-call baseline.
mod work {
    include!("../../plugins/bench/src/work.rs");
}

/// The bench plugin's component.
const BENCH_WASM: &[u8] = include_bytes!(env!("CRM_PLUGIN_BENCH_WASM"));

/// Section 4: the plugin sandbox.
async fn plugin_bench(
    app: &Arc<App>,
    rt: &Arc<crm::plugins::Runtime>,
    tenant_id: &str,
    ids: &[String],
    opts: &Options,
) -> anyhow::Result<()> {
    use crm::plugins::{Limits, caps::Capability, runtime::Caller};

    let grants: std::collections::BTreeSet<Capability> =
        [Capability::Clock, Capability::Customers].into();
    let info = install_bench_plugin(app, rt, tenant_id, &grants).await?;
    let prepared = rt.prepare(&info.sha256, BENCH_WASM, &grants)?;
    let actor = bench_actor(app, tenant_id).await?;
    let limits = Limits::default();
    let collections = Default::default();
    let sandbox = Sandbox {
        rt,
        prepared: &prepared,
        caller: Caller {
            app,
            actor: &actor,
            plugin: "bench",
            grants: &grants,
            collections: &collections,
            limits: &limits,
            now: crm::store::now_ms(),
        },
    };
    let (sp50, dp50) = trivial_export(&sandbox).await?;
    plain_memory_reset(&sandbox, &info.sha256).await?;
    println!(
        "  the sandbox adds {:.1} µs per call at the median (instantiate, call, lift the result)",
        micros(sp50.saturating_sub(dp50))
    );
    host_call_round_trips(&sandbox, ids).await?;
    concurrent_calls(&sandbox, opts).await
}

/// Installs the bench plugin as the operator, printing how long the install took.
async fn install_bench_plugin(
    app: &Arc<App>,
    rt: &Arc<crm::plugins::Runtime>,
    tenant_id: &str,
    grants: &std::collections::BTreeSet<crm::plugins::caps::Capability>,
) -> anyhow::Result<crm::plugins::lifecycle::PluginInfo> {
    use crm::plugins::lifecycle;

    let upload = lifecycle::Upload {
        bytes: BENCH_WASM.to_vec(),
        signature: None,
        grants: grants.clone(),
        limits: None,
    };
    let started = Instant::now();
    let operator = crm::app::Actor::operator(tenant_id, "bench");
    let permit = lifecycle::permit(app, &operator, None)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let info = lifecycle::install(app, rt, &permit, upload, None)
        .await
        .map_err(|e| anyhow::anyhow!("installing the bench plugin: {}", e.message))?;
    println!(
        "\nplugin install (validate, compile with Cranelift, read manifest, store): {} ms",
        started.elapsed().as_millis()
    );
    Ok(info)
}

/// The bench admin as an API caller: who the plugin's calls run as.
async fn bench_actor(app: &Arc<App>, tenant_id: &str) -> anyhow::Result<crm::app::Actor> {
    let user = app
        .store
        .user_by_name(tenant_id, "bench.admin")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench user missing"))?;
    Ok(crm::app::Actor {
        tenant_id: tenant_id.to_string(),
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        mfa: false,
        lang: "en".into(),
        via_plugin: None,
        service: None,
        channel: crm::app::Channel::Api,
        operator: None,
    })
}

/// The installed bench plugin and the caller its calls run as.
struct Sandbox<'a> {
    rt: &'a Arc<crm::plugins::Runtime>,
    prepared: &'a Arc<crm::plugins::runtime::Prepared>,
    caller: crm::plugins::runtime::Caller<'a>,
}

impl Sandbox<'_> {
    /// The render request for `screen` with `params`, as the caller's user.
    fn request(
        &self,
        screen: &str,
        params: &[(&str, String)],
    ) -> crm::plugins::abi::latest::guest::ScreenRequest {
        screen_request(self.caller.actor, screen, params)
    }

    /// The time of one render of `screen` through a fresh instance.
    async fn call(&self, screen: &str, params: &[(&str, String)]) -> anyhow::Result<Duration> {
        let t = Instant::now();
        self.rt
            .render(self.prepared, &self.caller, self.request(screen, params))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(t.elapsed())
    }

    /// The median time of 31 renders of `screen`.
    async fn median(&self, screen: &str, params: &[(&str, String)]) -> anyhow::Result<Duration> {
        let mut l = Vec::new();
        for _ in 0..31 {
            l.push(self.call(screen, params).await?);
        }
        Ok(Latencies(l).pct(0.5))
    }
}

/// The render request for `screen` with `params`, as `actor`'s user in English.
fn screen_request(
    actor: &crm::app::Actor,
    screen: &str,
    params: &[(&str, String)],
) -> crm::plugins::abi::latest::guest::ScreenRequest {
    use crm::plugins::abi::latest::Param;
    use crm::plugins::abi::latest::types::{ActingUser, Locale};

    crm::plugins::abi::latest::guest::ScreenRequest {
        screen: screen.into(),
        params: params
            .iter()
            .map(|(n, v)| Param {
                name: n.to_string(),
                value: v.clone(),
            })
            .collect(),
        locale: Locale::En,
        user: ActingUser {
            id: actor.user_id.clone(),
            roles: vec![actor.role.clone()],
        },
    }
}

/// The parameters of the trivial export: fib(10).
fn fib_10() -> [(&'static str, String); 1] {
    [("n", "10".to_string())]
}

/// A trivial export (fib(10)) through a fresh instance, against the same function called directly;
/// returns the two medians.
async fn trivial_export(sb: &Sandbox<'_>) -> anyhow::Result<(Duration, Duration)> {
    let n = fib_10();
    for _ in 0..200 {
        sb.call("noop", &n).await?;
    }
    let mut sandboxed = Vec::with_capacity(5000);
    for _ in 0..5000 {
        sandboxed.push(sb.call("noop", &n).await?);
    }
    let mut direct = Vec::with_capacity(5000);
    for _ in 0..5000 {
        let t = Instant::now();
        std::hint::black_box(work::fib(std::hint::black_box(10)));
        direct.push(t.elapsed());
    }
    let (mut sandboxed, mut direct) = (Latencies(sandboxed), Latencies(direct));
    let (sp50, sp99, dp50, dp99) = (
        sandboxed.pct(0.5),
        sandboxed.pct(0.99),
        direct.pct(0.5),
        direct.pct(0.99),
    );
    println!(
        "trivial export, fresh instance per call:    p50 {:>8.1} µs   p99 {:>8.1} µs   (memory reset: {})",
        micros(sp50),
        micros(sp99),
        sb.rt.memory_reset()
    );
    println!(
        "baseline: the same Rust function directly:  p50 {:>8.3} µs   p99 {:>8.3} µs",
        micros(dp50),
        micros(dp99)
    );
    Ok((sp50, dp50))
}

/// The same trivial-export calls on an engine that resets memory the plain way, for comparison.
async fn plain_memory_reset(sb: &Sandbox<'_>, sha256: &str) -> anyhow::Result<()> {
    let n = fib_10();
    let scratch = tempfile::tempdir()?;
    let plain = crm::plugins::Runtime::with_plain_memory_reset(scratch.path())?;
    let plain_prepared = plain.prepare(sha256, BENCH_WASM, sb.caller.grants)?;
    let mut plain_calls = Vec::with_capacity(5000);
    for i in 0..5200 {
        let t = Instant::now();
        plain
            .render(&plain_prepared, &sb.caller, sb.request("noop", &n))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if i >= 200 {
            plain_calls.push(t.elapsed());
        }
    }
    let mut plain_calls = Latencies(plain_calls);
    println!(
        "  the same with memory reset by madvise:    p50 {:>8.1} µs   p99 {:>8.1} µs",
        micros(plain_calls.pct(0.5)),
        micros(plain_calls.pct(0.99))
    );
    Ok(())
}

/// Host-call round trips: the same screen with many calls and with none.
async fn host_call_round_trips(sb: &Sandbox<'_>, ids: &[String]) -> anyhow::Result<()> {
    let none = sb.median("clock", &[("calls", "0".into())]).await?;
    let many = sb.median("clock", &[("calls", "900".into())]).await?;
    println!(
        "host call round trip (clock.now):           {:>8.2} µs per call",
        micros(many.saturating_sub(none)) / 900.0
    );
    let id = ids.first().cloned().unwrap_or_default();
    let none = sb
        .median("customer", &[("calls", "0".into()), ("id", id.clone())])
        .await?;
    let some = sb
        .median("customer", &[("calls", "20".into()), ("id", id.clone())])
        .await?;
    println!(
        "host call round trip (customers.get: policy, decrypt, audit): {:>8.1} µs per call",
        micros(some.saturating_sub(none)) / 20.0
    );
    Ok(())
}

/// Calls per second with concurrent callers (each on its own task, so on every worker thread).
async fn concurrent_calls(sb: &Sandbox<'_>, opts: &Options) -> anyhow::Result<()> {
    use crm::plugins::{Limits, runtime::Caller};

    let n = fib_10();
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency {
        let (app, rt, prepared, actor, grants) = (
            sb.caller.app.clone(),
            sb.rt.clone(),
            sb.prepared.clone(),
            sb.caller.actor.clone(),
            sb.caller.grants.clone(),
        );
        let req = sb.request("noop", &n);
        tasks.push(tokio::spawn(async move {
            let (limits, collections) = (Limits::default(), Default::default());
            let caller = Caller {
                app: &app,
                actor: &actor,
                plugin: "bench",
                grants: &grants,
                collections: &collections,
                limits: &limits,
                now: crm::store::now_ms(),
            };
            let mut count = 0u64;
            while Instant::now() < deadline {
                rt.render(&prepared, &caller, req.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                count += 1;
            }
            Ok::<_, anyhow::Error>(count)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    println!(
        "trivial export, {} concurrent callers:       {:>8.0} calls/s",
        opts.concurrency,
        total as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A spread of decision inputs: every role, action kind, tenant match and MFA state.
fn decision_inputs() -> Vec<crm::policy::Input> {
    let mut out = Vec::new();
    for role in ["admin", "compliance", "sales", "support", "marketing"] {
        for action in [
            "customer.read",
            "customer.update",
            "customer.export",
            "audit.read",
        ] {
            for (tenant, mfa) in [("t1", false), ("t1", true), ("t2", true)] {
                out.push(crm::policy::Input {
                    subject: crm::policy::Subject {
                        kind: "user".into(),
                        tenant: "t1".into(),
                        user: "u1".into(),
                        roles: vec![role.into()],
                        mfa,
                        plugin: None,
                    },
                    action: action.into(),
                    resource: crm::policy::Resource {
                        attributes: None,
                        kind: "customer".into(),
                        tenant: tenant.into(),
                        id: Some("c1".into()),
                        fields: (action == "customer.update")
                            .then(|| vec!["email".into(), "notes".into()]),
                    },
                    context: serde_json::json!({"channel": "api"}),
                });
            }
        }
    }
    out
}

/// Decision latency of one decision point over `inputs`, cycling through them.
fn latencies(pdp: &Pdp, inputs: &[crm::policy::Input], n: usize) -> Latencies {
    for i in inputs {
        std::hint::black_box(pdp.decide_here(i));
    }
    Latencies::of(n, |k| {
        std::hint::black_box(pdp.decide_here(&inputs[k % inputs.len()]));
    })
}

/// The p50 and p99 of `n` timings of a plain Rust loop about `length` long: what interrupts and
/// the hypervisor add to any work of that length on this machine, to read a p99 against.
fn machine_tail(length: Duration, n: usize) -> (Duration, Duration) {
    fn spin(k: u64) -> u64 {
        (0..k).fold(1u64, |x, i| {
            x.wrapping_mul(6364136223846793005).wrapping_add(i)
        })
    }
    let calibration = 1_000_000;
    let t = Instant::now();
    std::hint::black_box(spin(std::hint::black_box(calibration)));
    let k = (length.as_secs_f64() / t.elapsed().as_secs_f64() * calibration as f64).max(1.0) as u64;
    let mut l = Latencies::of(n, |_| {
        std::hint::black_box(spin(std::hint::black_box(k)));
    });
    (l.pct(0.5), l.pct(0.99))
}

/// Decisions per second with `threads` callers sharing one decision point.
fn throughput(pdp: &Pdp, inputs: &[crm::policy::Input], threads: usize) -> f64 {
    let window = Duration::from_secs(2);
    let total: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let started = Instant::now();
                    let mut n = 0;
                    while started.elapsed() < window {
                        std::hint::black_box(pdp.decide_here(&inputs[(n + t) % inputs.len()]));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    total as f64 / window.as_secs_f64()
}

/// Section 2; returns the Wasm decision point for the HTTP section.
fn policy_bench(concurrency: usize) -> anyhow::Result<Pdp> {
    let inputs = decision_inputs();
    let t = Instant::now();
    let wasm = Pdp::platform()?;
    let load = t.elapsed();
    let native = Pdp::platform_native()?;
    ensure_engines_agree(&wasm, &native, &inputs)?;
    let n = 20_000;
    decision_latency(&wasm, &native, &inputs, n);
    decision_throughput(&wasm, &native, &inputs, concurrency);
    let set = example_set();
    publish_bench(&set)?;
    tenant_set_latency(&wasm, &set, &inputs, n / 4)?;
    println!(
        "  (loading the baseline module at start-up took {:.2} s)\n",
        load.as_secs_f64()
    );
    Ok(wasm)
}

/// Both engines answer alike on every input before anything is timed.
fn ensure_engines_agree(
    wasm: &Pdp,
    native: &Pdp,
    inputs: &[crm::policy::Input],
) -> anyhow::Result<()> {
    for i in inputs {
        let (a, b) = (wasm.decide_here(i), native.decide_here(i));
        anyhow::ensure!(
            a.allow == b.allow && a.reasons == b.reasons && a.obligations == b.obligations,
            "the Wasm and native engines disagree on {}",
            i.action
        );
    }
    Ok(())
}

/// Decision latency of the compiled Wasm against regorus native over `n` decisions each, read
/// against the machine's own tail, with the dearest inputs named.
fn decision_latency(wasm: &Pdp, native: &Pdp, inputs: &[crm::policy::Input], n: usize) {
    let (mut w, mut r) = (latencies(wasm, inputs, n), latencies(native, inputs, n));
    // Sample k decided input k % len: the p99 is set by the dearest inputs, so name them.
    let (wm, rm) = (w.per_input(inputs.len()), r.per_input(inputs.len()));
    let mut dearest: Vec<usize> = (0..inputs.len()).collect();
    dearest.sort_by_key(|&i| std::cmp::Reverse(wm[i]));
    let (w50, w99, r50, r99) = (w.pct(0.5), w.pct(0.99), r.pct(0.5), r.pct(0.99));
    println!(
        "policy decision, full decision point, baseline policy, {} distinct inputs, {n} decisions each:",
        inputs.len()
    );
    println!(
        "  compiled Wasm (RVM mode, opa-wasm):  p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(w50),
        micros(w99)
    );
    println!(
        "  baseline: regorus native:            p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(r50),
        micros(r99)
    );
    println!(
        "  Wasm / native: p50 {:.2}x, p99 {:.2}x (below 1 = the compiled module is faster)",
        micros(w50) / micros(r50),
        micros(w99) / micros(r99)
    );
    let (m50, m99) = machine_tail(w50, n);
    println!(
        "  the machine's own tail: a plain Rust loop as long as the median decision: p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(m50),
        micros(m99)
    );
    println!("  dearest inputs (median of each):");
    for &i in dearest.iter().take(3) {
        let input = &inputs[i];
        println!(
            "    {} by {} (tenant {}, MFA {}): Wasm {:.1} µs, native {:.1} µs",
            input.action,
            input.subject.roles.join("+"),
            input.resource.tenant,
            if input.subject.mfa { "yes" } else { "no" },
            micros(wm[i]),
            micros(rm[i])
        );
    }
}

/// Decisions per second of both engines with 1, 2 and `concurrency` callers.
fn decision_throughput(
    wasm: &Pdp,
    native: &Pdp,
    inputs: &[crm::policy::Input],
    concurrency: usize,
) {
    for threads in [1, 2, concurrency.max(2)] {
        let (tw, tn) = (
            throughput(wasm, inputs, threads),
            throughput(native, inputs, threads),
        );
        println!(
            "  {threads:>2} concurrent callers: Wasm {tw:>9.0} decisions/s, native {tn:>9.0} decisions/s ({:.2}x)",
            tw / tn
        );
    }
}

/// The example tenant policy set, as published.
fn example_set() -> crm::policy_admin::PolicySet {
    crm::policy_admin::PolicySet {
        files: [
            (
                "rules.rego".to_string(),
                include_str!("../../policies/tenant-example/rules.rego").to_string(),
            ),
            (
                "rules_test.rego".to_string(),
                include_str!("../../policies/tenant-example/rules_test.rego").to_string(),
            ),
        ]
        .into(),
    }
}

/// The timings of one publish of a tenant set.
#[derive(Clone, Copy)]
struct Publish {
    /// Policy job plus load: what a publish takes.
    total: Duration,
    /// Check and test, in process.
    tested: Duration,
    /// Build, in process.
    built: Duration,
    /// Check, test and build in a policy job (a child process).
    in_job: Duration,
    /// Loading the built module on Winch.
    loaded: Duration,
    /// Building the module's Cranelift engine.
    optimized: Duration,
}

/// Time to publish the example tenant set: the median of 3 publishes.
fn publish_bench(set: &crm::policy_admin::PolicySet) -> anyhow::Result<()> {
    // Publish = check + test + build (in a policy job, a child process) + load, for the example
    // tenant set (no module cache here).
    let mut runs = Vec::new();
    for run in 0..3 {
        runs.push(publish_once(set, run)?);
    }
    runs.sort_by_key(|r| r.total);
    let Publish {
        total,
        tested,
        built,
        in_job,
        loaded,
        optimized,
    } = runs[1];
    println!(
        "  publish: {:.2} s median of 3 = policy job {:.0} ms (check + test + build; in-process \
         they take {:.0} + {:.0} ms) + load on Winch {:.0} ms;\n  \
         then the Cranelift build swapped in from the background: {:.2} s",
        total.as_secs_f64(),
        in_job.as_secs_f64() * 1e3,
        tested.as_secs_f64() * 1e3,
        built.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3,
        optimized.as_secs_f64()
    );
    Ok(())
}

/// One publish of `set` with a comment naming `run` added, so that no module cache helps.
fn publish_once(set: &crm::policy_admin::PolicySet, run: usize) -> anyhow::Result<Publish> {
    let mut set = set.clone();
    if let Some(rules) = set.files.get_mut("rules.rego") {
        rules.push_str(&format!("\n# bench run {run}\n"));
    }
    let t = Instant::now();
    set.test().map_err(|r| anyhow::anyhow!("{r}"))?;
    let tested = t.elapsed();
    set.build().map_err(|r| anyhow::anyhow!("{r}"))?;
    let built = t.elapsed();
    let t = Instant::now();
    let (_, build) = tokio::runtime::Handle::current()
        .block_on(crm::policy_admin::Jobs::for_this_host().run(
            "bench",
            crm::policy_admin::Job::Build,
            &set,
        ))?
        .into_build()
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let in_job = t.elapsed();
    let t = Instant::now();
    build.quick_engine("bench".into())?;
    let loaded = t.elapsed();
    let t = Instant::now();
    build.engine("bench".into())?;
    Ok(Publish {
        total: in_job + loaded,
        tested,
        built: built - tested,
        in_job,
        loaded,
        optimized: t.elapsed(),
    })
}

/// What a tenant's own set costs on top: the example set (tenants' sets run on the in-module
/// interpreter) ANDed with the baseline, on the same inputs.
fn tenant_set_latency(
    wasm: &Pdp,
    set: &crm::policy_admin::PolicySet,
    inputs: &[crm::policy::Input],
    n: usize,
) -> anyhow::Result<()> {
    let build = set.build().map_err(|r| anyhow::anyhow!("{r}"))?;
    wasm.set_tenant_policy(
        "t1",
        Some(crm::policy::TenantPolicy {
            version: 1,
            engine: std::sync::Arc::new(build.engine("bench".into())?),
        }),
    );
    let mut t = latencies(wasm, inputs, n);
    wasm.set_tenant_policy("t1", None);
    println!(
        "  with the example tenant set ANDed in (interpreter mode): p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(t.pct(0.5)),
        micros(t.pct(0.99))
    );
    Ok(())
}
