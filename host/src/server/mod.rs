//! HTTP: the JSON API under `/api/v1`, the staff web pages, security headers, TLS.

mod api;
mod auth;
mod forms;
mod openapi;
mod plugins;
mod policies;
mod screens;
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
    /// Served over TLS: cookies get `Secure`, responses get HSTS.
    pub tls: bool,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(policies::routes())
        .merge(plugins::routes())
        .merge(web::routes())
        .merge(screens::routes())
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
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
    let mut resp = next.run(req).await;
    crate::metrics::http_response(resp.status().as_u16());
    // axum's own 413 (a body over the limit) is plain text: answer in the API's error shape.
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && is_api && !is_json {
        resp = AppError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {MAX_BODY} bytes"),
        )
        .into_response();
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
    if state.tls {
        set(
            h,
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        );
    }
    resp
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
    addr: SocketAddr,
    tls: Tls,
    extra: Option<Router>,
    on_bound: impl FnOnce(SocketAddr, bool),
) -> anyhow::Result<()> {
    let is_tls = !matches!(tls, Tls::None);
    // Load each tenant's active policy before the first request, then follow changes.
    crate::policy_admin::sync(&app).await?;
    crate::policy_admin::watch(app.clone());
    crate::plugins::jobs::spawn(app.clone());
    checkpoint_audit(app.clone());
    let mut r = router(AppState { app, tls: is_tls });
    if let Some(extra) = extra {
        r = r.merge(extra);
    }
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let service = r.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Tls::None => {
            on_bound(bound, false);
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        tls => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = match tls {
                Tls::Files { cert, key } => {
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot load TLS certificate/key: {e}"))?
                }
                _ => {
                    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
                    let ck = rcgen::generate_simple_self_signed(names)?;
                    axum_server::tls_rustls::RustlsConfig::from_pem(
                        ck.cert.pem().into_bytes(),
                        ck.key_pair.serialize_pem().into_bytes(),
                    )
                    .await?
                }
            };
            on_bound(bound, true);
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(service)
                .await?;
        }
    }
    Ok(())
}
