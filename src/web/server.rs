//! The HTTP server loop of `pandu serve`: axum's router on hyper, with the limits a public server
//! needs. A client gets `server.header_timeout_secs` to send a request's headers (also between requests
//! on a kept-alive connection) and `server.body_timeout_secs` for its body and our answer; at most
//! `server.max_connections` connections are open at once (by default three quarters of the file
//! limit), so idle or slow clients can never use up the files the database and the platforms' webhooks
//! need. When the limit is hit, it is logged and new connections wait in the kernel's queue until one
//! closes.
//!
//! Invariant: every connection ends within the header timeout once it stops sending; the accept loop
//! never spins on an error (a full file table waits a moment).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ServerConfig;

/// The server's limits, from `[server]`.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Limits {
        let max_connections = match server.max_connections {
            0 => default_max_connections(),
            n => n,
        };
        Limits {
            max_connections,
            header_timeout: Duration::from_secs(server.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(server.body_timeout_secs.max(1)),
        }
    }
}

/// Three quarters of the soft open-file limit (`RLIMIT_NOFILE`): the rest is for the database, the
/// platforms' API connections and downloads.
pub fn default_max_connections() -> usize {
    let files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(4096);
    usize::try_from(files / 4 * 3).unwrap_or(usize::MAX).max(16)
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets open requests finish (for at
/// most 10 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_secs = limits.header_timeout.as_secs(),
        body_timeout_secs = limits.body_timeout.as_secs(),
        "http limits"
    );
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut limit_logged: Option<tokio::time::Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Said once a minute at most: a flood must not flood the log too.
                if limit_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    limit_logged = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = stopped(&mut shutdown) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files (EMFILE) or a connection reset before accept: wait, never spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits.clone(),
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("http connections still open after 10 s; closing them");
        connections.abort_all();
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let request = request.map(axum::body::Body::new);
            // Extractors read the whole body before a handler runs, so this bounds the body too.
            match tokio::time::timeout(body_timeout, router.oneshot(request)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!("request not complete within the body timeout; closed");
                    Ok(
                        (StatusCode::REQUEST_TIMEOUT, [(header::CONNECTION, "close")])
                            .into_response(),
                    )
                }
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "http connection ended");
            }
        }
        () = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once the shutdown flag is true (or its sender is gone), holding no borrow of it.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
