//! The staff web UI in a real headless browser (Chromium driven by playwright-core from npm):
//! sign-in with two-factor, each plugin's main screen, one real action in each, the Chinese UI,
//! and compliance's privacy screens (a request worked to its archive, an erasure, holds, retention).
//! Screenshots are kept in `target/tmp/screenshots/` (look at them).

use std::path::Path;
use std::process::Command;

use crate::common::Server;

/// Installs playwright-core (`npm ci`) when `tests/browser/node_modules` is missing.
fn browser_driver() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "could not run `npm ci` in {} ({e}); is npm installed?",
                    dir.display()
                )
            });
        assert!(
            out.status.success(),
            "`npm ci` in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

#[tokio::test]
async fn staff_use_the_plugins_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: install Debian's `chromium` (.ci/run does) or set CHROMIUM"
    );
    let dir = browser_driver();
    let s = Server::demo_with(150, true);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("web.mjs")
            .arg(&s.url)
            .arg(s.data().join("demo-credentials.json"))
            .arg(&shots)
            .current_dir(&dir)
            .env("CHROMIUM", &chromium)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser run failed:\n{log}");
    for step in [
        "signed in with password and TOTP",
        "subscriptions: a live subscription paused",
        "advertiser deals: double booking",
        "audience campaigns: customers without consent excluded",
        "decision log: filtered to allowed plugin.render decisions",
        "the UI switched to Simplified Chinese",
        "the decision log is in Chinese",
        "compliance: signed in with password and TOTP",
        "privacy: an unknown customer is refused with a sentence",
        "privacy: the archive downloaded",
        "privacy: the download is counted",
        "privacy: the erasure request completed after confirmation",
        "privacy: the erased customer is gone",
        "retention: an audit period below six months is refused by the form",
        "retention: a malformed schedule is refused at its field, the input kept",
        "retention: the schedule saved",
        "retention: the dry run is stopped by the hold",
        "customer: the consent history is shown",
        "privacy: the queue in Chinese",
        "privacy: a request in Chinese",
    ] {
        assert!(
            log.contains(&format!("ok: {step}")),
            "missing step `{step}`:\n{log}"
        );
    }
}
