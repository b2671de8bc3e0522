//! Backups as an operator takes them: `crm backup create` while a writer keeps writing, `verify`,
//! damaged archives refused, and `restore` into a new folder that holds every write acknowledged
//! before the snapshot, byte for byte, and not the person erased after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::common::{Server, crm};

#[tokio::test]
async fn a_backup_under_writes_restores_every_acknowledged_write_and_no_one_erased_since() {
    let work = tempfile::tempdir().unwrap();
    // The server also takes a backup every 2 s into a directory of its own, keeping 2, each
    // verified by a drill.
    let scheduled = work.path().join("scheduled");
    let s = Server::demo_env(
        20,
        false,
        &[
            ("CRM_BACKUP_DIR", scheduled.to_str().unwrap()),
            ("CRM_BACKUP_EVERY_SECONDS", "2"),
            ("CRM_BACKUP_KEEP", "2"),
        ],
    );
    let sales = s.token("sales").await;
    let compliance = s.token("compliance").await;
    let (st, ready) = s.get("/readyz", None).await;
    assert_eq!(
        (st, ready["status"].as_str()),
        (200, Some("ready")),
        "{ready}"
    );
    let archive = work.path().join("nightly.crmbak");

    // A writer creating customers one after another, noting when each was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, token, stop) = (s.url.clone(), sales.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({"name": format!("Writer {i}"), "region": "EU",
                                  "email": format!("writer{i}@backup.example")});
                let r = http
                    .post(format!("{url}/api/v1/customers"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: Value = r.json().await.unwrap();
                acked.push((v["id"].as_str().unwrap().to_string(), crm::store::now_ms()));
            }
            acked
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let data = s.data();
    let out = archive.clone();
    let (ok, stdout, err) = tokio::task::spawn_blocking(move || {
        crm(
            &data,
            &["backup", "create", "--out", out.to_str().unwrap()],
            &[],
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap();
    let manifest: Value = serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
    let snapshot_at = manifest["snapshot_at"].as_i64().unwrap();
    let before: Vec<&(String, i64)> = acked.iter().filter(|(_, at)| *at < snapshot_at).collect();
    let after = acked.len() - before.len();
    assert!(
        !before.is_empty() && after > 0,
        "writes on both sides of the snapshot"
    );
    assert!(manifest.to_string().find("master").is_none());

    // Someone in the snapshot is erased after it.
    let (victim, _) = before[0].clone();
    assert_eq!(
        s.delete(&format!("/api/v1/customers/{victim}"), Some(&compliance))
            .await,
        204
    );

    let (ok, out, err) = crm(
        &s.data(),
        &["backup", "verify", archive.to_str().unwrap()],
        &[],
    );
    assert!(ok && out.contains("verifies"), "{out}{err}");

    // Damaged archives and a wrong key: refused with a clear message, nothing restored.
    let bytes = std::fs::read(&archive).unwrap();
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let key_file = work.path().join("other.key");
    std::fs::write(&key_file, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    for (name, content, extra, says) in [
        ("flipped", flipped, None, "corrupted"),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            None,
            "truncated",
        ),
        (
            "wrong-key",
            bytes.clone(),
            Some(&key_file),
            "another backup key",
        ),
    ] {
        let path = work.path().join(format!("{name}.crmbak"));
        std::fs::write(&path, content).unwrap();
        let mut args = vec!["backup", "verify", path.to_str().unwrap()];
        if let Some(k) = extra {
            args.extend(["--backup-key-file", k.to_str().unwrap()]);
        }
        let (ok, out, err) = crm(&s.data(), &args, &[]);
        assert!(!ok && err.contains(says), "{name}: {out}{err}");
        let target = work.path().join(format!("restored-{name}"));
        let mut args = vec![
            "backup",
            "restore",
            path.to_str().unwrap(),
            "--no-erasure-ledger",
        ];
        let master = s.data().join("master.key");
        args.extend(["--master-key-file", master.to_str().unwrap()]);
        if let Some(k) = extra {
            args.extend(["--backup-key-file", k.to_str().unwrap()]);
        }
        let (ok, _, err) = crm(&target, &args, &[]);
        assert!(!ok && err.contains(says), "{name}: {err}");
        assert!(!target.exists(), "{name}: nothing is written");
    }

    // The restore: into a new folder, the erasure made since applied again.
    let restored = work.path().join("restored");
    let ledger = s.data().join("erasure-ledger.jsonl");
    let master = s.data().join("master.key");
    let restore = |to: &std::path::Path| {
        crm(
            to,
            &[
                "backup",
                "restore",
                archive.to_str().unwrap(),
                "--erasure-ledger",
                ledger.to_str().unwrap(),
                "--master-key-file",
                master.to_str().unwrap(),
            ],
            &[],
        )
    };
    let (ok, out, err) = restore(&restored);
    assert!(ok, "{err}");
    assert!(
        out.contains("1 erasure(s) made since the snapshot applied again"),
        "{out}"
    );
    assert!(
        !restored.join("master.key").exists(),
        "the key is not written with the data"
    );
    let (ok, _, err) = restore(&restored);
    assert!(!ok && err.contains("not empty"), "{err}");

    let live = s.db().await;
    let copy = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(restored.join("crm.db")),
    )
    .await
    .unwrap();
    let sealed = async |pool: &sqlx::SqlitePool, id: &str| -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        sqlx::query_as("SELECT name, email FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .unwrap()
    };
    for (id, _) in before.iter().skip(1) {
        let original = sealed(&live, id).await.expect("still live");
        assert_eq!(
            sealed(&copy, id).await,
            Some(original),
            "write {id} restored exactly"
        );
    }
    assert_eq!(
        sealed(&copy, &victim).await,
        None,
        "the erased customer stays erased"
    );
    let subject_key: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM subject_keys WHERE subject_id = $1")
            .bind(&victim)
            .fetch_one(&copy)
            .await
            .unwrap();
    assert_eq!(subject_key, 0);
    copy.close().await;

    // The restored folder serves as a deployment: its audit chains verify with the same key.
    let (ok, out, err) = crm(
        &restored,
        &[
            "audit",
            "verify",
            "--master-key-file",
            master.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{out}{err}");

    // The scheduled backups: each verified by a drill, the directory pruned to the newest two,
    // the status for admins and compliance only.
    let mut status = Value::Null;
    for _ in 0..60 {
        let (st, v) = s.get("/api/v1/backups", Some(&compliance)).await;
        assert_eq!(st, 200, "{v}");
        let backups = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "backup")
            .count();
        if backups >= 3 && v["last_drill"]["ok"] == true {
            status = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(status["scheduled"], true, "{status}");
    assert!(
        status["last_drill_age_seconds"].as_i64().unwrap() < 60,
        "{status}"
    );
    assert!(
        status["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ok"] == true),
        "{status}"
    );
    let kept = std::fs::read_dir(&scheduled)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".crmbak"))
        .count();
    assert!((1..=3).contains(&kept), "{kept} archives kept");
    assert_eq!(s.get("/api/v1/backups", Some(&sales)).await.0, 403);
    // The erasure ledger travels with the scheduled archives: the erasure made above is in it.
    let ledger_copy = std::fs::read_to_string(scheduled.join("erasure-ledger.jsonl")).unwrap();
    assert!(ledger_copy.contains(&victim), "{ledger_copy}");

    // A damaged database file is named as such and not served: a page in its middle overwritten.
    let (ok, out, _) = crm(&restored, &["check", "--full"], &[]);
    assert!(ok && out.contains(": ok"), "{out}");
    let db = restored.join("crm.db");
    let mut raw = std::fs::read(&db).unwrap();
    let page = 4096 * (raw.len() / 4096 / 2);
    raw[page..page + 4096].fill(0xA5);
    std::fs::write(&db, raw).unwrap();
    let (ok, out, err) = crm(&restored, &["check", "--full"], &[]);
    assert!(
        !ok && err.contains("fails SQLite's integrity check"),
        "{out}{err}"
    );
    let (ok, _, err) = crm(
        &restored,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--master-key-file",
            master.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !ok && err.contains("fails SQLite's quick check") && err.contains("crm backup restore"),
        "{err}"
    );
}
