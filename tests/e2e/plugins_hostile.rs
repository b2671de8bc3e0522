//! A hostile plugin (built from source, an attack per class) is contained while another tenant's
//! staff keep working, and its scratch directory cannot be escaped.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::json;

use crate::common::Server;
use crate::plugins::{install, wasm};

/// Another tenant's staff keep working (reading a customer) while an attack runs.
struct Bystander {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Bystander {
    fn start(s: &Server, token: String, customer: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (http, url) = (s.http.clone(), s.url.clone());
        let (st, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::Relaxed) {
                let r = http
                    .get(format!("{url}/api/v1/customers/{customer}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => o.fetch_add(1, Ordering::Relaxed),
                    _ => f.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        Self {
            stop,
            ok,
            failed,
            task,
        }
    }

    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_plugins_are_contained_while_another_tenant_keeps_working() {
    let s = Server::demo(10);
    let victim_ids = s.some_customer_ids(2).await;
    let bystander_token = s.token("support").await;

    // The attacker is the admin of another tenant, and uploads the hostile plugin there.
    let eve = s.attacker().await;
    let (st, v) = install(
        &s,
        &eve,
        wasm("hostile"),
        "customers,log,scratch,records",
        &[(
            "limits",
            json!({"deadline_ms": 100, "host_calls": 2, "memory_bytes": 4 << 20}).to_string(),
        )],
    )
    .await;
    assert_eq!(st, 201, "{v}");

    // The scratch directory exists after a harmless call; plant a symlink out of it, as if an
    // earlier bug had let one in.
    let (st, v) = s
        .get("/api/v1/plugins/hostile/screens/scratch-ok", Some(&eve))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["blocks"][0]["KeyValues"][1]["value"]["Text"], "hello",
        "{v}"
    );
    let scratch = std::fs::read_dir(s.data().join("plugins/scratch"))
        .unwrap()
        .map(|e| e.unwrap().path().join("hostile"))
        .find(|p| p.exists())
        .expect("the hostile plugin's scratch directory");
    std::os::unix::fs::symlink("/etc", scratch.join("planted")).unwrap();

    // Every call gets a fresh instance: what a call leaves in memory (statics in the data and
    // zeroed segments, a marked heap block) is gone for the next one, although a pool slot is
    // reset by rewriting only the pages the last call dirtied.
    for _ in 0..3 {
        let (st, v) = s
            .get("/api/v1/plugins/hostile/screens/remember", Some(&eve))
            .await;
        assert_eq!(st, 200, "{v}");
        let kv = &v["blocks"][0]["KeyValues"];
        assert_eq!(kv[0]["value"]["Integer"], 7, "{v}");
        assert_eq!(kv[1]["value"]["Integer"], 0, "{v}");
        assert_eq!(kv[2]["value"]["Integer"], 0, "{v}");
    }

    let records_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&s.db().await)
        .await
        .unwrap();

    // (screen, expected status, words the error must contain)
    let attacks: [(&str, u16, &str); 9] = [
        ("loop", 502, "time limit of 100 ms exceeded"),
        ("memory", 502, "memory limit of 4 MiB exceeded"),
        ("recursion", 502, "stack"),
        ("trap", 502, "unreachable"),
        ("panic", 502, "unreachable"),
        ("output", 502, "limit"),
        ("big-output", 502, "exceeds the limit of 1048576 bytes"),
        ("flood", 429, "host-calls limit of 2 "),
        ("log-flood", 502, "stopped"),
    ];
    for (screen, status, words) in attacks {
        let bystander = Bystander::start(&s, bystander_token.clone(), victim_ids[0].clone());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/{screen}"),
                Some(&eve),
            )
            .await;
        let took = started.elapsed();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (ok, failed) = bystander.finish().await;
        assert_eq!(st, status, "{screen}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(words),
            "{screen}: `{msg}` should say `{words}`"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{screen} took {took:?}"
        );
        assert!(
            ok > 0 && failed == 0,
            "{screen}: the other tenant got {ok} answers and {failed} failures"
        );
    }

    // Reading another tenant's customers by id: simply not found.
    for id in &victim_ids {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/other-tenant?id={id}"),
                Some(&eve),
            )
            .await;
        assert_eq!(st, 404, "{v}");
    }

    // Escaping the scratch directory: `..`, absolute paths, symlinks made inside and planted.
    for screen in ["escape-dotdot", "escape-absolute", "escape-symlink"] {
        let (st, v) = s
            .get(
                &format!("/api/v1/plugins/hostile/screens/{screen}"),
                Some(&eve),
            )
            .await;
        assert_eq!(st, 200, "{screen}: {v}");
        let kvs = v["blocks"][0]["KeyValues"].as_array().unwrap();
        assert!(kvs.len() >= 2);
        for kv in kvs {
            let key = kv["key"]["en"].as_str().unwrap();
            let value = kv["value"]["Text"].as_str().unwrap();
            assert!(!value.starts_with("LEAKED"), "{screen}: {key} → {value}");
            if key.starts_with("read ") || key.starts_with("write ") || key.starts_with("list ") {
                assert!(value.starts_with("blocked: "), "{screen}: {key} → {value}");
            }
        }
    }
    assert!(!Path::new("/tmp/hostile-escape").exists());

    // The log flood was capped: at most 16 KiB of lines per call, and the drop is counted.
    let (st, log) = s.get("/api/v1/plugins/hostile/log", Some(&eve)).await;
    assert_eq!(st, 200);
    let lines = log.as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("lines were dropped")),
        "{log}"
    );

    // The host still serves the plugin and everyone else; nothing was half-written.
    assert_eq!(
        s.get("/api/v1/plugins/hostile/screens/main", Some(&eve))
            .await
            .0,
        200
    );
    let records_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(&s.db().await)
        .await
        .unwrap();
    assert_eq!(records_before, records_after);
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_events")
        .fetch_one(&s.db().await)
        .await
        .unwrap();
    assert_eq!(events, 0);
    let (st, v) = s
        .get("/api/v1/audit/verify", Some(&s.token("admin").await))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}
