//! The work a plugin makes the host do is bounded, and tenants share the plugin pool fairly: the
//! hostile plugin's attacks on the host's side (queries, storage, what it hands over, rendering,
//! validation, links, names, manifests, jobs), each while a member of another tenant keeps
//! reading, with that member's read latency reported per attack.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;
use crate::plugins::{install, wasm};

/// Reads of one customer by another tenant's member, every 20 ms until `stop`: the latencies
/// (sorted) and how many failed.
async fn reads_during<T>(
    s: &Server,
    token: &str,
    customer: &str,
    attack: impl std::future::Future<Output = T>,
) -> (T, Vec<Duration>, usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reads = async {
        let (mut lat, mut failed) = (Vec::new(), 0);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) || lat.len() < 5 {
            let t = Instant::now();
            let ok = client
                .get(format!("{}/api/v1/customers/{customer}", s.url))
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                lat.push(t.elapsed());
            } else {
                failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lat.sort();
        (lat, failed)
    };
    let attack = async {
        let out = attack.await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    };
    let (out, (lat, failed)) = tokio::join!(attack, reads);
    (out, lat, failed)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Renders `screen` of the hostile plugin `n` times at once.
async fn render_n(s: &Server, token: &str, screen: &str, n: usize) -> Vec<(u16, Value)> {
    let path = format!("/api/v1/plugins/hostile/screens/{screen}");
    futures_util::future::join_all((0..n).map(|_| s.get(&path, Some(token)))).await
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn kv(v: &Value, i: usize) -> String {
    v["blocks"][0]["KeyValues"][i]["value"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_work_a_plugin_causes_in_the_host_is_bounded_and_tenants_share_fairly() {
    let s = Server::demo(20);
    let victim = s.some_customer_ids(1).await.remove(0);
    let support = s.token("support").await;
    let eve = s.attacker().await;

    // Names and manifests: the platform's name, and a manifest that declares far too much.
    let (st, v) = install(&s, &eve, wasm("impostor"), "events", &[]).await;
    assert_eq!(st, 422, "{v}");
    assert!(message(&v).contains("belongs to the platform"), "{v}");
    let (st, v) = install(&s, &eve, wasm("bloated"), "", &[]).await;
    assert_eq!(st, 422, "{v}");
    assert!(message(&v).contains("at most"), "{v}");

    let (st, v) = install(
        &s,
        &eve,
        wasm("hostile"),
        "customers,log,scratch,records",
        &[(
            "limits",
            json!({"deadline_ms": 100, "job_deadline_ms": 2000, "storage_bytes": 4 << 20})
                .to_string(),
        )],
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let rss_before = rss_kb(s.pid());
    let mut report = Vec::new();
    let (_, quiet, _) = reads_during(
        &s,
        &support,
        &victim,
        tokio::time::sleep(Duration::from_secs(1)),
    )
    .await;
    report.push(format!(
        "{:<40} other tenant's reads: p50 {:>8.2?}  p99 {:>8.2?}  ({} reads)",
        "(no attack)",
        pct(&quiet, 0.5),
        pct(&quiet, 0.99),
        quiet.len()
    ));
    let mut record = |what: &str, lat: &[Duration], failed: usize| {
        assert_eq!(failed, 0, "{what}: the other tenant's reads failed");
        report.push(format!(
            "{what:<40} other tenant's reads: p50 {:>8.2?}  p99 {:>8.2?}  ({} reads)",
            pct(lat, 0.5),
            pct(lat, 0.99),
            lat.len()
        ));
    };

    // A records query with hundreds of conditions: refused before it reaches the database;
    // the widest allowed query runs, bounded. Eight at once.
    let (out, lat, failed) =
        reads_during(&s, &support, &victim, render_n(&s, &eve, "query-storm", 8)).await;
    for (st, v) in &out {
        assert_eq!(*st, 200, "{v}");
        assert!(kv(v, 0).contains("refused"), "{v}");
        assert!(kv(v, 1).contains("ran"), "{v}");
    }
    record("query-storm ×8 (300-condition queries)", &lat, failed);

    // Storage: 256 KiB documents until the plugin's quota (4 MiB here) refuses one.
    let (out, lat, failed) =
        reads_during(&s, &support, &victim, render_n(&s, &eve, "stash", 1)).await;
    let (st, v) = &out[0];
    assert_eq!(*st, 200, "{v}");
    assert!(kv(v, 1).contains("storage-plugin"), "{v}");
    let stored: i64 = v["blocks"][0]["KeyValues"][0]["value"]["Integer"]
        .as_i64()
        .unwrap();
    assert!((1..20).contains(&stored), "{v}");
    record("stash (256 KiB documents to the quota)", &lat, failed);
    let (_, list) = s.get("/api/v1/plugins", Some(&eve)).await;
    let usage = &list.as_array().unwrap()[0]["storage"];
    assert!(
        usage["bytes"].as_i64().unwrap() <= 4 << 20 && usage["quota_bytes"] == 4 << 20,
        "{usage}"
    );

    // Six strings over one buffer: refused as the host reads them, before it copies any.
    let (out, lat, failed) = reads_during(
        &s,
        &support,
        &victim,
        render_n(&s, &eve, "shared-buffer", 4),
    )
    .await;
    for (st, v) in &out {
        assert_eq!(*st, 502, "{v}");
        assert!(
            message(v).contains("exceeds the limit of 1048576 bytes"),
            "{v}"
        );
    }
    record("shared-buffer ×4 (12 MiB over one 2 MiB)", &lat, failed);

    // Rendering: 2,000 rows × 20 row actions is refused before it is rendered, in the API and
    // in the web UI.
    let (out, lat, failed) =
        reads_during(&s, &support, &victim, render_n(&s, &eve, "wide-table", 4)).await;
    for (st, v) in &out {
        assert_eq!(*st, 502, "{v}");
        assert!(message(v).contains("rows in a table"), "{v}");
    }
    record("wide-table ×4 (2,000 rows × 20 actions)", &lat, failed);

    // Links out of the plugin's own screens are refused.
    let (out, _, _) = reads_during(&s, &support, &victim, render_n(&s, &eve, "bad-link", 1)).await;
    assert_eq!(out[0].0, 502, "{}", out[0].1);
    assert!(
        message(&out[0].1).contains("does not declare"),
        "{}",
        out[0].1
    );

    // Validation the host runs for the plugin: a form of expensive patterns.
    let (st, v) = s
        .get("/api/v1/plugins/hostile/screens/regex-bomb", Some(&eve))
        .await;
    assert_eq!(st, 200, "{v}");
    let inputs: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("f{i}"), json!("a"))).collect();
    let body = json!({"inputs": inputs, "origin": {"screen": "regex-bomb"}});
    let submit = || {
        s.post_json(
            "/api/v1/plugins/hostile/actions/regex-bomb",
            Some(&eve),
            &body,
        )
    };
    let started = Instant::now();
    let (out, lat, failed) = reads_during(
        &s,
        &support,
        &victim,
        futures_util::future::join_all((0..4).map(|_| submit())),
    )
    .await;
    let took = started.elapsed();
    for (st, v) in &out {
        assert_eq!(*st, 422, "{v}");
        assert!(message(v).contains("more patterns"), "{v}");
    }
    record("regex-bomb ×4 (50 \\w{500}\\w{500} fields)", &lat, failed);
    eprintln!("4 regex-bomb submissions refused in {took:?}");

    // Scheduling: the plugin's four jobs run at once, each until its budget is spent, while
    // the other tenant's reads and its plugin's event delivery go on.
    let admin = s.token("admin").await;
    let (st, v) = install(&s, &admin, wasm("relay"), "events,records,log", &[]).await;
    assert_eq!(st, 201, "{v}");
    let empty = json!({});
    let paths: Vec<String> = hostile::GRIND
        .iter()
        .map(|job| format!("/api/v1/plugins/hostile/jobs/{job}/run"))
        .collect();
    let jobs = futures_util::future::join_all(
        paths
            .iter()
            .map(|path| s.post_json(path, Some(&eve), &empty)),
    );
    let delivery = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let (st, v) = s
            .post_json(
                "/api/v1/plugins/relay/actions/emit",
                Some(&admin),
                &json!({"inputs": {"n": "1"}, "origin": {"screen": "main"}}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        loop {
            let (_, v) = s
                .get("/api/v1/plugins/relay/screens/main", Some(&admin))
                .await;
            if v.to_string().contains("relay.ping") {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never delivered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ((runs, delivered), lat, failed) = reads_during(&s, &support, &victim, async {
        tokio::join!(jobs, delivery)
    })
    .await;
    for (st, v) in &runs {
        assert_eq!(*st, 200, "{v}");
        assert_eq!(v["status"], "failed", "{v}");
        assert!(v["message"].as_str().unwrap().contains("limit"), "{v}");
    }
    record("4 grind jobs at once (2 s budgets)", &lat, failed);
    eprintln!(
        "another tenant's event was delivered {delivered:?} after it was emitted, during the jobs"
    );

    let rss = rss_kb(s.pid());
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "server RSS {} MiB before the attacks, {} MiB after",
        rss_before / 1024,
        rss / 1024
    );
    assert!(rss < 1024 * 1024, "server RSS {rss} kB");
    // The server answers as before.
    assert_eq!(s.get("/healthz", None).await.0, 200);
}

/// The hostile plugin's job names (kept in step with `plugins/hostile`).
mod hostile {
    pub const GRIND: [&str; 4] = ["grind-a", "grind-b", "grind-c", "grind-d"];
}
