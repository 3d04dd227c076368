//! The HTTP server of `pandu serve`: `/healthz`, and the routes each channel mounts (webhooks).
//!
//! Invariant: no route answers a platform's webhook before the engine's commit returned; the health
//! check never reveals personal data (counts and states only), never touches the database and never
//! blocks: it reads counters the store keeps as it writes, so it answers in constant time even with a
//! full disk or a long outbox.

pub mod desk;
pub mod metrics;
pub mod server;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::engine::Engine;
use crate::storage::Channel;

/// What `/healthz` reports about each channel: "polling", "webhook", or "off: <why>".
pub type ChannelStates = Arc<BTreeMap<String, String>>;

#[derive(Clone)]
pub struct HealthState {
    pub engine: Engine,
    pub channels: ChannelStates,
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    store: String,
    flows: usize,
    channels: &'a BTreeMap<String, String>,
    outbox: BTreeMap<&'static str, usize>,
    write_failures: u64,
}

async fn health(State(state): State<HealthState>) -> impl IntoResponse {
    let store = state.engine.store();
    let ok = !store.write_failing();
    let store_state = if ok {
        "ok".to_string()
    } else {
        "degraded: cannot write".to_string()
    };
    let outbox = [Channel::Telegram, Channel::Whatsapp]
        .into_iter()
        .map(|c| (c.as_str(), store.outbox_len(c)))
        .collect();
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        store: store_state,
        flows: state.engine.bot().flows.len(),
        channels: &state.channels,
        outbox,
        write_failures: store.write_failures(),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(serde_json::to_value(&body).unwrap_or_default()))
}

/// The base router: health. Channels merge their own routes into it.
pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .with_state(state)
}
