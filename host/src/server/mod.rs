//! HTTP: the JSON API under `/api/v1`, the staff web pages, security headers, TLS.

mod api;
mod auth;
mod error;
mod forms;
mod listener;
mod openapi;
mod plugins;
mod policies;
mod privacy;
mod schemas;
mod web;

pub use auth::{Authenticated, SESSION_COOKIE};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::AppError;

/// Largest request body the API accepts.
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    /// The plugin runtime: compiled components and their sandboxes.
    pub plugins: Arc<crate::plugins::Runtime>,
    /// Served over TLS: cookies get `Secure`, responses get HSTS.
    pub tls: bool,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(policies::routes())
        .merge(plugins::routes())
        .merge(privacy::routes())
        .merge(web::routes())
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", axum::routing::get(readyz))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(openapi::document),
        )
        .route(
            "/metrics",
            axum::routing::get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    crate::metrics::render(),
                )
            }),
        )
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        AppError::not_found("route").into_response()
    } else {
        web::not_found_page().into_response()
    }
}

/// Strict headers on every response: no framing, no sniffing, no third-party anything.
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let http1 = req.version() <= axum::http::Version::HTTP_11;
    let mut resp = next.run(req).await;
    let too_large = resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE;
    crate::metrics::http_response(resp.status().as_u16());
    // axum's own refusals (a path, query or body it cannot read, a method a route lacks, a
    // body over the limit) are plain text or empty: under /api/ every answer is the JSON shape.
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_api && !is_json && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp = json_error_of(resp).await;
    }
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    // A body refused for its size is left unread, so the connection cannot carry another
    // request: the client is told so, or its next request races the server's close.
    if http1 && too_large {
        set(h, "connection", "close");
    }
    if state.tls {
        set(
            h,
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        );
    }
    resp
}

/// Readiness: the database answers (and passed SQLite's quick check when it was opened: a
/// damaged one is never served). 503 with `Retry-After` while it does not answer.
async fn readyz(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    let ping = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(s.app.store.pool());
    match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => axum::Json(serde_json::json!({
            "status": "ready",
            "database": "ok",
            "integrity": "SQLite's quick check passed when the database was opened",
        }))
        .into_response(),
        _ => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            axum::Json(serde_json::json!({"status": "unavailable", "database": "not answering"})),
        )
            .into_response(),
    }
}

/// Signs a checkpoint of every audit chain that moved, every ten minutes, and appends them to
/// the configured checkpoint file.
fn checkpoint_audit(app: Arc<App>) {
    tokio::spawn(async move {
        let keys = app.vault.audit_keys();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            match crate::audit::checkpoint_moved(&app.store, &keys).await {
                Err(e) => tracing::warn!(error = %e, "audit checkpoint failed"),
                Ok(made) => {
                    if let Some(path) = &app.settings.audit_checkpoint_file
                        && !made.is_empty()
                    {
                        use std::io::Write;
                        let lines: String = made
                            .iter()
                            .filter_map(|c| serde_json::to_string(c).ok())
                            .map(|l| l + "\n")
                            .collect();
                        let appended = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)
                            .and_then(|mut f| f.write_all(lines.as_bytes()));
                        if let Err(e) = appended {
                            tracing::warn!(error = %e, "cannot append audit checkpoints to the file");
                        }
                    }
                }
            }
        }
    });
}

/// A TLS acceptor for a PEM certificate chain and private key (rustls, ring).
fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("cannot load the TLS certificate: {e}"))?;
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| anyhow::anyhow!("cannot load the TLS key: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("the TLS key file holds no private key"))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("cannot use the TLS certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// The API's error shape for a refusal axum answered in plain text (its message kept).
async fn json_error_of(resp: Response) -> Response {
    use axum::http::StatusCode;
    let status = resp.status();
    let allow = resp.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, default) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request could not be read".to_string()),
        StatusCode::NOT_FOUND => ("not_found", "route not found".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!(
                "this route does not take that method{}",
                allow
                    .as_ref()
                    .and_then(|a| a.to_str().ok())
                    .map(|a| format!(" (it takes {a})"))
                    .unwrap_or_default()
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            format!("the request body exceeds {MAX_BODY} bytes"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request's content type is not one this route takes".to_string(),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ("unprocessable", "the request is not valid".to_string())
        }
        s if s.is_server_error() => ("internal", "internal error; it has been logged".to_string()),
        _ => ("error", "the request was refused".to_string()),
    };
    // axum's texts name what failed ("Failed to deserialize query string: …"); keep them short.
    let message =
        if text.is_empty() || status.is_server_error() || status == StatusCode::PAYLOAD_TOO_LARGE {
            default
        } else {
            text.chars().take(300).collect()
        };
    let mut out = error::with_status(AppError::new(error::kind_of(status), code, message), status);
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

/// How to serve TLS.
pub enum Tls {
    None,
    /// PEM files.
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
    /// A fresh self-signed certificate for localhost (local use only).
    SelfSigned,
}

/// Binds `addr`, calls `on_bound` with the real address (port 0 picks one), and serves until Ctrl-C.
pub async fn serve(
    app: Arc<App>,
    plugins: Arc<crate::plugins::Runtime>,
    addr: SocketAddr,
    tls: Tls,
    extra: Option<Router>,
    on_bound: impl FnOnce(SocketAddr, bool),
) -> anyhow::Result<()> {
    let is_tls = !matches!(tls, Tls::None);
    // Load each tenant's active policy before the first request, then follow changes.
    crate::policy_admin::sync(&app).await?;
    crate::policy_admin::watch(app.clone());
    crate::plugins::worker::spawn(app.clone(), plugins.clone());
    checkpoint_audit(app.clone());
    crate::privacy::retention::spawn_daily(app.clone());
    crate::backup::schedule::spawn(app.clone());
    let mut r = router(AppState {
        app,
        plugins,
        tls: is_tls,
    });
    if let Some(extra) = extra {
        r = r.merge(extra);
    }
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let acceptor = match tls {
        Tls::None => None,
        Tls::Files { cert, key } => {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
            };
            Some(tls_acceptor(&read(&cert)?, &read(&key)?)?)
        }
        Tls::SelfSigned => {
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let ck = rcgen::generate_simple_self_signed(names)?;
            Some(tls_acceptor(
                ck.cert.pem().as_bytes(),
                ck.key_pair.serialize_pem().as_bytes(),
            )?)
        }
    };
    on_bound(bound, is_tls);
    listener::run(tokio::net::TcpListener::from_std(listener)?, acceptor, r).await?;
    Ok(())
}
