//! Bad input gets a 4xx JSON error naming the problem and leaves nothing half-written.

use serde_json::{Value, json};

use crate::common::{Server, crm};

async fn count(s: &Server) -> i64 {
    let db = s.db().await;
    sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&db)
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_json_bodies_get_clear_errors_and_write_nothing() {
    let s = Server::demo(2);
    let t = s.token("admin").await;
    let before = count(&s).await;
    let raw = |body: &'static str, ctype: &'static str| {
        let req = s
            .http
            .post(format!("{}/api/v1/customers", s.url))
            .bearer_auth(&t)
            .header("content-type", ctype)
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap())
        }
    };
    let (st, v) = raw("{\"name\": \"x\",", "application/json").await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "invalid_json");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("line 1"),
        "{v}"
    );
    let (st, v) = raw("[1,2]", "application/json").await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (st, v) = raw("name=x", "application/x-www-form-urlencoded").await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "x", "region": "EU", "ssn": "123"}),
            "unknown field `ssn`",
        ),
        (
            json!({"name": "x", "region": "EU", "email": "not-an-email"}),
            "field `email`",
        ),
        (
            json!({"name": "x".repeat(5000), "region": "EU"}),
            "field `name`: must be at most 200",
        ),
        (
            json!({"name": "x", "region": "EU", "notes": "n".repeat(4001)}),
            "field `notes`",
        ),
        (
            json!({"name": "x", "region": "EU", "phone": "call me"}),
            "field `phone`",
        ),
        (
            json!({"name": "x", "region": "EU", "birth_date": "31/12/1990"}),
            "field `birth_date`",
        ),
        (json!({"name": "x", "region": "ATLANTIS"}), "field `region`"),
        (
            json!({"name": 42, "region": "EU"}),
            "field `name`: must be a string",
        ),
        (
            json!({"email": "a@example.com"}),
            "field `name`: is required",
        ),
    ];
    for (body, want) in cases {
        let (st, v) = s.post_json("/api/v1/customers", Some(&t), &body).await;
        assert_eq!(st, 400, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(want), "expected `{want}` in `{msg}`");
    }
    // Oversize body.
    let big = json!({"name": "x", "region": "EU", "notes": "n".repeat(400_000)});
    let (st, v) = s.post_json("/api/v1/customers", Some(&t), &big).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // The unread body leaves the connection unusable, and the answer says so: a client that
    // reused it would race the server's close with its next request.
    let r = s
        .http
        .post(format!("{}/api/v1/customers", s.url))
        .bearer_auth(&t)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    // Unknown query parameters and routes.
    let (st, v) = s.get("/api/v1/customers?colour=red", Some(&t)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (st, v) = s.get("/api/v1/customers?per_page=100000", Some(&t)).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.get("/api/v1/nothing-here", Some(&t)).await;
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("not_found")));
    // A duplicate email is a conflict, not a second row.
    let ok = json!({"name": "Dup", "region": "EU", "email": "dup@example.org"});
    assert_eq!(s.post_json("/api/v1/customers", Some(&t), &ok).await.0, 201);
    let (st, v) = s.post_json("/api/v1/customers", Some(&t), &ok).await;
    assert_eq!((st, v["error"]["code"].as_str()), (409, Some("conflict")));
    // A PATCH with one bad field changes nothing.
    let id = s.some_customer_ids(1).await.remove(0);
    let (_, orig) = s.get(&format!("/api/v1/customers/{id}"), Some(&t)).await;
    let (st, _) = s
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(&t),
            &json!({"notes": "changed", "email": "broken"}),
        )
        .await;
    assert_eq!(st, 400);
    let (_, now) = s.get(&format!("/api/v1/customers/{id}"), Some(&t)).await;
    assert_eq!(orig["notes"], now["notes"]);
    assert_eq!(count(&s).await, before + 1);
}

#[tokio::test]
async fn csv_import_reports_bad_rows_and_imports_nothing_unless_told() {
    let s = Server::demo(0);
    let csv = s.data().join("customers.csv");
    std::fs::write(
        &csv,
        "name,email,phone,region,tags,consents\n\
         Ada Lovelace,ada@example.org,+442079460001,EU,news;vip,marketing_email=yes\n\
         Bad Email,not-an-email,,EU,,\n\
         王小明,xiaoming@example.cn,+8613900000001,CN,sports,marketing_email=no;marketing_sms=no\n\
         No Region,nr@example.org,,,,\n\
         Dup Ada,ada@example.org,,EU,,\n",
    )
    .unwrap();
    let before = count(&s).await;
    let (ok, _, err) = crm(
        &s.data(),
        &[
            "import",
            "customers",
            csv.to_str().unwrap(),
            "--tenant",
            "demo",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("line 3:") && err.contains("field `email`"),
        "{err}"
    );
    assert!(
        err.contains("line 5:") && err.contains("field `region`"),
        "{err}"
    );
    assert!(
        err.contains("line 6:") && err.contains("repeats line 2"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(count(&s).await, before, "a failed import wrote rows");

    let (ok, out, err) = crm(
        &s.data(),
        &[
            "import",
            "customers",
            csv.to_str().unwrap(),
            "--tenant",
            "demo",
            "--skip-invalid",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(out.contains("imported 2 customers"), "{out}");
    assert_eq!(count(&s).await, before + 2);

    // A file with an unknown column is refused before any row is read.
    std::fs::write(&csv, "name,region,shoe_size\nA,EU,42\n").unwrap();
    let (ok, _, err) = crm(
        &s.data(),
        &[
            "import",
            "customers",
            csv.to_str().unwrap(),
            "--tenant",
            "demo",
        ],
        &[],
    );
    assert!(!ok && err.contains("unknown column `shoe_size`"), "{err}");
    // Unknown tenant, missing file: clear errors.
    let (ok, _, err) = crm(
        &s.data(),
        &[
            "import",
            "customers",
            "/nonexistent.csv",
            "--tenant",
            "demo",
        ],
        &[],
    );
    assert!(!ok && err.contains("cannot open"), "{err}");
    let (ok, _, err) = crm(
        &s.data(),
        &[
            "import",
            "customers",
            csv.to_str().unwrap(),
            "--tenant",
            "nope",
        ],
        &[],
    );
    assert!(!ok && err.contains("no tenant named `nope`"), "{err}");
}
