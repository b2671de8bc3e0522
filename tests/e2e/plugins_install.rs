//! Installing plugins: upload refusals (each with its reason, nothing written), signatures and
//! trusted keys, upgrades, limits and the lifecycle, over the API and from the command line.

use serde_json::{Value, json};

use crate::common::{Server, crm};
use crate::plugins::{audit_actors, install, upload, wasm};

#[tokio::test]
async fn uploads_are_refused_with_the_reason_and_nothing_is_written() {
    let s = Server::demo(5);
    let admin = s.token("admin").await;
    let support = s.token("support").await;
    let hello = wasm("hello");

    // Only admins (with two-factor sign-in) install plugins.
    let (st, v) = install(&s, &support, hello.clone(), "customers,log", &[]).await;
    assert_eq!(st, 403, "{v}");

    let before = audit_actors(&s, "plugin.install").await.len();
    let check = |st: u16, v: &Value, status: u16, code: &str, words: &str| {
        assert_eq!(st, status, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(words), "`{msg}` should say `{words}`");
    };

    let (st, v) = install(
        &s,
        &admin,
        b"#!/bin/sh\necho not wasm\n".to_vec(),
        "log",
        &[],
    )
    .await;
    check(st, &v, 422, "not_wasm", "not WebAssembly");

    // The smallest valid core module: a module, not a component.
    let (st, v) = install(&s, &admin, b"\0asm\x01\0\0\0".to_vec(), "log", &[]).await;
    check(st, &v, 422, "not_component", "core WebAssembly module");

    // A component of a `crm:platform` version this host does not know (hello, renamed to 0.9.0).
    let mut renamed = hello.clone();
    replace_all(
        &mut renamed,
        b"crm:platform/guest@0.1.0",
        b"crm:platform/guest@0.9.0",
    );
    let (st, v) = install(&s, &admin, renamed, "customers,log", &[]).await;
    check(
        st,
        &v,
        422,
        "unsupported_version",
        "supports crm:platform@0.1.0",
    );

    // Over the size limit (the header of a component, then padding).
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize((32 << 20) + 1, 0);
    let (st, v) = install(&s, &admin, big, "log", &[]).await;
    check(st, &v, 413, "too_large", "limit is 33554432 bytes (32 MiB)");

    // An import that was not granted: install refused, listing what is missing.
    let (st, v) = install(&s, &admin, wasm("ungranted"), "log", &[]).await;
    check(st, &v, 422, "ungranted_imports", "not granted: consent");
    // (Importing `wasi:filesystem` needs no grant: without `scratch` it has no directory, see
    // `python_plugin::without_the_scratch_grant_a_plugin_importing_the_filesystem_reaches_no_file`.)
    let (st, v) = install(&s, &admin, wasm("hostile"), "log", &[]).await;
    check(st, &v, 422, "ungranted_imports", "not granted: customers");

    // Signatures: a trusted key; a signature by another key is refused, a good one accepted.
    use ed25519_dalek::{Signer, SigningKey};
    let publisher = SigningKey::from_bytes(&[42; 32]);
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let (st, v) = s
        .post_json(
            "/api/v1/plugin-trust/keys",
            Some(&admin),
            &json!({"name": "acme-media", "public_key": hex::encode(publisher.verifying_key().to_bytes())}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let (st, v) = s
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/plugin-trust",
            Some(&admin),
            &json!({"require_signature": true}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let hostile = wasm("hostile");
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[],
    )
    .await;
    check(st, &v, 422, "signature_required", "no signature was given");
    let bad = hex::encode(stranger.sign(&hostile).to_bytes());
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", bad)],
    )
    .await;
    check(st, &v, 422, "bad_signature", "does not verify");
    let good = hex::encode(publisher.sign(&hostile).to_bytes());
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", good.clone())],
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["signed_by"], "acme-media");

    // The same name again, and the same version as an upgrade: refused as duplicates.
    let (st, v) = install(
        &s,
        &admin,
        hostile.clone(),
        "customers,log,scratch,records",
        &[("signature", good.clone())],
    )
    .await;
    check(st, &v, 409, "conflict", "already installed");
    let (st, v) = upload(
        &s,
        "/api/v1/plugins/hostile/upgrade",
        &admin,
        hostile,
        "customers,log,scratch,records",
        &[("signature", good)],
    )
    .await;
    check(
        st,
        &v,
        409,
        "conflict",
        "version 0.1.0 of hostile was already installed",
    );

    // Grants the plugin did not ask for, and limits above the platform's, are refused too.
    let (st, v) = s
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/plugins/hostile/limits",
            Some(&admin),
            &json!({"memory_bytes": 1u64 << 30}),
        )
        .await;
    check(
        st,
        &v,
        422,
        "invalid_limits",
        "memory_bytes must be between 1 and 67108864",
    );

    // Nothing of the refused uploads was written: one install more, two plugins listed.
    assert_eq!(audit_actors(&s, "plugin.install").await.len(), before + 1);
    let (_, list) = s.get("/api/v1/plugins", Some(&admin)).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "advertiser-deals",
            "audience-campaigns",
            "hello",
            "hostile",
            "subscriptions"
        ]
    );

    // Lifecycle: disable (screens answer 409), enable, uninstall with purge.
    let path = "/api/v1/plugins/hostile/screens/main";
    assert_eq!(s.get(path, Some(&support)).await.0, 200);
    assert_eq!(
        s.post_json("/api/v1/plugins/hostile/disable", Some(&admin), &json!({}))
            .await
            .0,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 409);
    assert_eq!(
        s.post_json("/api/v1/plugins/hostile/enable", Some(&admin), &json!({}))
            .await
            .0,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 200);
    assert_eq!(
        s.delete("/api/v1/plugins/hostile?purge=true", Some(&admin))
            .await,
        204
    );
    assert_eq!(s.get(path, Some(&support)).await.0, 404);
    for action in ["plugin.disable", "plugin.enable", "plugin.uninstall"] {
        assert_eq!(audit_actors(&s, action).await.len(), 1, "{action} audited");
    }

    // The CLI lists what HTTP installed.
    let (ok, out, err) = crm(&s.data(), &["plugin", "list", "--tenant", "demo"], &[]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("hello 0.1.0 [enabled] sha256 ")),
        "{out}"
    );
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0);
}
