//! `GET /metrics`: the service's counters in the Prometheus text format (see [`crate::metrics`]).
//!
//! Loopback only, no token: answered to a peer on this machine that did not come through a proxy, 403
//! to anyone else (see ARCHITECTURE.md, "Metrics"). The labels carry no personal data; the case gauges
//! come from the desk's row cache (re-read only when a case changed), on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::cases::{Priority, Status};
use crate::config::Config;
use crate::engine::Engine;
use crate::web::desk::inbox::RowCache;

#[derive(Clone)]
struct MetricsState {
    engine: Engine,
    config: Arc<Config>,
    rows: Arc<RowCache>,
}

async fn metrics(
    State(state): State<MetricsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !crate::admin::from_this_machine(peer, &headers) {
        tracing::warn!("metrics request from outside this machine refused");
        return StatusCode::FORBIDDEN.into_response();
    }
    let store = state.engine.store().clone();
    let counted = tokio::task::spawn_blocking(move || {
        let rows = state.rows.rows(&store, &state.config)?;
        let now = crate::time::now_secs();
        let mut counts = std::collections::BTreeMap::new();
        let mut overdue = 0;
        for row in rows.iter() {
            *counts
                .entry((row.status.as_str(), row.priority.as_str()))
                .or_insert(0usize) += 1;
            overdue += usize::from(row.overdue(now));
        }
        // Every combination shows, zero too, so a graph does not break when a count reaches 0.
        for status in Status::ALL {
            for priority in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
                counts
                    .entry((status.as_str(), priority.as_str()))
                    .or_insert(0);
            }
        }
        let metrics = store.metrics_now();
        metrics.set_cases(counts, overdue);
        Ok::<String, crate::cases::CaseError>(metrics.encode())
    })
    .await;
    match counted {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "metrics: cannot read the cases");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /metrics`. Serve with `into_make_service_with_connect_info`.
pub fn router(engine: Engine, config: Config) -> Router {
    let rows = Arc::new(RowCache::new(engine.store()));
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(MetricsState {
            engine,
            config: Arc::new(config),
            rows,
        })
}
