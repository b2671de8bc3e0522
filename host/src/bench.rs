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

    // 1. Seal/open.
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

    let pdp = tokio::task::spawn_blocking(move || policy_bench(opts.concurrency)).await??;

    // 2. HTTP end to end.
    let dir = tempfile::tempdir()?;
    let store = Store::open_sqlite(&dir.path().join("crm.db")).await?;
    let master = MasterKey::load_or_create(&dir.path().join("master.key"))?;
    let plugins = crm::plugins::Runtime::new(dir.path())?;
    let app = Arc::new(App::new(store.clone(), Vault::new(master), pdp, plugins));
    let tenant = crm::tenants::create_tenant(&app, "bench", "Bench Broadcasting").await?;
    let password = "Bench-Password-2026!";
    crm::tenants::add_user(
        &app,
        &tenant,
        "bench.admin",
        "Bench Admin",
        "admin",
        password,
        false,
    )
    .await?;
    let ids = crate::demo::seed_customers(&app, &tenant.id, opts.customers, 7).await?;

    // The baseline: the same customers, unencrypted, in a table read without auth, policy or audit.
    sqlx::query(
        "CREATE TABLE bench_plain (id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, address TEXT, \
         birth_date TEXT, notes TEXT, region TEXT, tags TEXT, consents TEXT, created_at BIGINT, updated_at BIGINT)",
    )
    .execute(store.pool())
    .await?;
    for c in crate::demo::synthetic::generate(7, opts.customers)
        .iter()
        .zip(&ids)
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
    let baseline = Router::new()
        .route("/bench/plain/customers/{id}", get(plain_customer))
        .with_state(store.clone());

    let (tx, rx) = tokio::sync::oneshot::channel();
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        crm::server::serve(
            server_app,
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
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let token: String = {
        let r: serde_json::Value = client
            .post(format!("{base}/api/v1/session"))
            .json(&serde_json::json!({"tenant": "bench", "username": "bench.admin", "password": password}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        r["token"].as_str().unwrap_or_default().to_string()
    };
    let ids = Arc::new(ids);

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
        // Warm up, then measure.
        for secs in [1, opts.seconds] {
            let deadline = Instant::now() + Duration::from_secs(secs);
            let mut tasks = Vec::new();
            for _ in 0..opts.concurrency {
                let (client, ids, base, token) =
                    (client.clone(), ids.clone(), base.clone(), token.clone());
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
            if secs == opts.seconds {
                let elapsed = started.elapsed().as_secs_f64();
                let rps = all.len() as f64 / elapsed;
                let mut l = Latencies(all);
                let (p50, p99) = (l.pct(0.5), l.pct(0.99));
                println!(
                    "{label}: {rps:>8.0} req/s   p50 {:>7.0} µs   p99 {:>7.0} µs",
                    micros(p50),
                    micros(p99)
                );
                results.push(rps);
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
    plugin_bench(&app, &tenant.id, &ids, &opts).await
}

/// The work the bench plugin does, compiled natively: the direct-call baseline.
mod work {
    include!("../../plugins/bench/src/work.rs");
}

/// Section 4: the plugin sandbox.
async fn plugin_bench(
    app: &Arc<App>,
    tenant_id: &str,
    ids: &[String],
    opts: &Options,
) -> anyhow::Result<()> {
    use crm::plugins::abi::latest::types::{ActingUser, Locale};
    use crm::plugins::abi::latest::{Param, guest::ScreenRequest};
    use crm::plugins::{Limits, caps::Capability, lifecycle, runtime::Caller};

    let grants: std::collections::BTreeSet<Capability> =
        [Capability::Clock, Capability::Customers].into();
    let upload = lifecycle::Upload {
        bytes: include_bytes!(env!("CRM_PLUGIN_BENCH_WASM")).to_vec(),
        signature: None,
        grants: grants.clone(),
        limits: None,
    };
    let started = Instant::now();
    let info = lifecycle::install(app, tenant_id, "operator:bench", upload, None)
        .await
        .map_err(|e| anyhow::anyhow!("installing the bench plugin: {}", e.message))?;
    println!(
        "\nplugin install (validate, compile with Cranelift, read manifest, store): {} ms",
        started.elapsed().as_millis()
    );
    let component = include_bytes!(env!("CRM_PLUGIN_BENCH_WASM"));
    let prepared = app.plugins.prepare(&info.sha256, component, &grants)?;
    let user = app
        .store
        .user_by_name(tenant_id, "bench.admin")
        .await?
        .ok_or_else(|| anyhow::anyhow!("bench user missing"))?;
    let actor = crm::app::Actor {
        tenant_id: tenant_id.to_string(),
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        mfa: false,
        lang: "en".into(),
        via_plugin: None,
        service: None,
    };
    let limits = Limits::default();
    let collections = Default::default();
    let caller = Caller {
        app,
        actor: &actor,
        plugin: "bench",
        grants: &grants,
        collections: &collections,
        limits: &limits,
        now: crm::store::now_ms(),
    };
    let request = |screen: &str, params: &[(&str, String)]| ScreenRequest {
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
    };
    let call = async |screen: &str, params: &[(&str, String)]| -> anyhow::Result<Duration> {
        let t = Instant::now();
        app.plugins
            .render(&prepared, &caller, request(screen, params))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(t.elapsed())
    };

    // A trivial export (fib(10)) through a fresh instance, against the same function called directly.
    let n = [("n", "10".to_string())];
    for _ in 0..200 {
        call("noop", &n).await?;
    }
    let mut sandboxed = Vec::with_capacity(5000);
    for _ in 0..5000 {
        sandboxed.push(call("noop", &n).await?);
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
        app.plugins.memory_reset()
    );
    println!(
        "baseline: the same Rust function directly:  p50 {:>8.3} µs   p99 {:>8.3} µs",
        micros(dp50),
        micros(dp99)
    );
    // The same calls on an engine that resets memory the plain way, for comparison.
    let scratch = tempfile::tempdir()?;
    let plain = crm::plugins::Runtime::with_plain_memory_reset(scratch.path())?;
    let plain_prepared = plain.prepare(&info.sha256, component, &grants)?;
    let mut plain_calls = Vec::with_capacity(5000);
    for i in 0..5200 {
        let t = Instant::now();
        plain
            .render(&plain_prepared, &caller, request("noop", &n))
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
    println!(
        "  the sandbox adds {:.1} µs per call at the median (instantiate, call, lift the result)",
        micros(sp50.saturating_sub(dp50))
    );

    // Host-call round trips: the same screen with many calls and with none.
    let median = async |screen: &str, params: &[(&str, String)]| -> anyhow::Result<Duration> {
        let mut l = Vec::new();
        for _ in 0..31 {
            l.push(call(screen, params).await?);
        }
        Ok(Latencies(l).pct(0.5))
    };
    let none = median("clock", &[("calls", "0".into())]).await?;
    let many = median("clock", &[("calls", "900".into())]).await?;
    println!(
        "host call round trip (clock.now):           {:>8.2} µs per call",
        micros(many.saturating_sub(none)) / 900.0
    );
    let id = ids.first().cloned().unwrap_or_default();
    let none = median("customer", &[("calls", "0".into()), ("id", id.clone())]).await?;
    let some = median("customer", &[("calls", "20".into()), ("id", id.clone())]).await?;
    println!(
        "host call round trip (customers.get: policy, decrypt, audit): {:>8.1} µs per call",
        micros(some.saturating_sub(none)) / 20.0
    );

    // Calls per second with concurrent callers (each on its own task, so on every worker thread).
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency {
        let (app, prepared, actor, grants) =
            (app.clone(), prepared.clone(), actor.clone(), grants.clone());
        let req = request("noop", &n);
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
                app.plugins
                    .render(&prepared, &caller, req.clone())
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
    // Both answer alike on every input before anything is timed.
    for i in &inputs {
        let (a, b) = (wasm.decide_here(i), native.decide_here(i));
        anyhow::ensure!(
            a.allow == b.allow && a.reasons == b.reasons && a.obligations == b.obligations,
            "the Wasm and native engines disagree on {}",
            i.action
        );
    }
    let n = 20_000;
    let (mut w, mut r) = (latencies(&wasm, &inputs, n), latencies(&native, &inputs, n));
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
    for threads in [1, 2, concurrency.max(2)] {
        let (tw, tn) = (
            throughput(&wasm, &inputs, threads),
            throughput(&native, &inputs, threads),
        );
        println!(
            "  {threads:>2} concurrent callers: Wasm {tw:>9.0} decisions/s, native {tn:>9.0} decisions/s ({:.2}x)",
            tw / tn
        );
    }
    // Publish = check + test + build (in a policy job, a child process) + load, for the example
    // tenant set (no module cache here).
    let set = crm::policy_admin::PolicySet {
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
    };
    // Each run publishes a different set (a comment differs), so no module cache helps.
    let mut runs = Vec::new();
    for run in 0..3 {
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
        runs.push((
            in_job + loaded,
            tested,
            built - tested,
            in_job,
            loaded,
            t.elapsed(),
        ));
    }
    runs.sort_by_key(|r| r.0);
    let (total, tested, built, in_job, loaded, optimized) = runs[1];
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
    // What a tenant's own set costs on top: the example set (tenants' sets run on the in-module
    // interpreter) ANDed with the baseline, on the same inputs.
    let build = set.build().map_err(|r| anyhow::anyhow!("{r}"))?;
    wasm.set_tenant_policy(
        "t1",
        Some(crm::policy::TenantPolicy {
            version: 1,
            engine: std::sync::Arc::new(build.engine("bench".into())?),
        }),
    );
    let mut t = latencies(&wasm, &inputs, n / 4);
    wasm.set_tenant_policy("t1", None);
    println!(
        "  with the example tenant set ANDed in (interpreter mode): p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(t.pct(0.5)),
        micros(t.pct(0.99))
    );
    println!(
        "  (loading the baseline module at start-up took {:.2} s)\n",
        load.as_secs_f64()
    );
    Ok(wasm)
}
