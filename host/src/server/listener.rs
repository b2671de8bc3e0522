//! Accepting connections: plain TCP or TLS (rustls), HTTP/1.1 and HTTP/2, with the limits a
//! server on the open internet needs against slow or greedy clients.
//!
//! - A client must send its request headers within [`HEADER_TIMEOUT`] and its body at a modest
//!   rate ([`SlowBody`]); a connection that trickles is closed instead of held.
//! - One address may hold at most `max_per_address` connections at once, and the server
//!   [`MAX_CONNECTIONS`] in all; more are closed as they arrive.
//! - Ctrl-C stops accepting and lets requests in flight finish (for up to 10 s).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower::ServiceExt;

/// How long a client has to send a request's headers (and, on an idle keep-alive connection,
/// the next request's).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the server holds at once, from everyone.
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections one address may hold at once, unless `CRM_MAX_CONNECTIONS_PER_ADDRESS` says
/// otherwise (raise it behind a proxy, where every client shares the proxy's address).
pub const MAX_PER_ADDRESS: usize = 128;

/// Open connections per address, and a slot released when its connection ends.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct Slot(Connections, IpAddr);

impl Connections {
    fn take(&self, ip: IpAddr, per_address: usize) -> Option<Slot> {
        let mut m = self.0.lock().ok()?;
        let total: usize = m.values().sum();
        let mine = m.entry(ip).or_insert(0);
        if *mine >= per_address || total >= MAX_CONNECTIONS {
            return None;
        }
        *mine += 1;
        Some(Slot(self.clone(), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.0.lock()
            && let Some(n) = m.get_mut(&self.1)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Serves `router` on `listener` (TLS when `tls` is given) until Ctrl-C.
pub async fn run(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
) -> anyhow::Result<()> {
    let per_address = std::env::var("CRM_MAX_CONNECTIONS_PER_ADDRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(MAX_PER_ADDRESS);
    let router = router.layer(axum::middleware::map_request(slow_body_deadline));
    let connections = Connections::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(slot) = connections.take(peer.ip(), per_address) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut req: Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            builder.http2().timer(TokioTimer::new());
            let served = match tls {
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after 10 s; stopping anyway");
    }
    Ok(())
}

/// A request body must start within [`BODY_GRACE`] and keep arriving at [`BODY_MIN_RATE`]
/// bytes per second or more after that; a body that falls behind fails (and its request with it).
const BODY_GRACE: Duration = Duration::from_secs(10);
const BODY_MIN_RATE: f64 = 16.0 * 1024.0;

async fn slow_body_deadline(req: Request<Body>) -> Request<Body> {
    req.map(|body| {
        Body::new(SlowBody {
            inner: body,
            started: Instant::now(),
            received: 0,
            sleep: Box::pin(tokio::time::sleep(BODY_GRACE)),
        })
    })
}

/// A request body with a deadline that moves later as bytes arrive (see [`BODY_MIN_RATE`]).
struct SlowBody {
    inner: Body,
    started: Instant,
    received: u64,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

/// The error a body that arrived too slowly ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct TooSlow;

impl http_body::Body for SlowBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let deadline = this.started
            + BODY_GRACE
            + Duration::from_secs_f64(this.received as f64 / BODY_MIN_RATE);
        this.sleep
            .as_mut()
            .reset(tokio::time::Instant::from_std(deadline));
        if this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(TooSlow))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
