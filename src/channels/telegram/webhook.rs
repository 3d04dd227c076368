//! Webhook mode: `POST /webhooks/telegram` on Pandu's web server, and the `setWebhook` /
//! `deleteWebhook` calls around the process's life.
//!
//! Invariants: a request without the right `X-Telegram-Bot-Api-Secret-Token` (compared in constant time)
//! is refused with 401 and stores nothing; Telegram gets 200 only after the update's effects were
//! committed (an error answers 500, so Telegram delivers it again and the engine's dedupe handles it
//! once); an unparsable update is logged (without content) and answered 200 so it never blocks the queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use subtle::ConstantTimeEq;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::Update;

use super::convert::convert;
use super::{ALLOWED_UPDATES, Inner, commit, describe_error};
use crate::channels::Shutdown;
use crate::time::now_secs;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/webhooks/telegram", post(receive))
        .with_state(inner)
}

fn secret_ok(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(expected) = inner.webhook_secret.as_ref() else {
        return false;
    };
    let Some(given) = headers.get(SECRET_HEADER) else {
        return false;
    };
    bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes()))
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !secret_ok(&inner, &headers) {
        tracing::warn!("telegram webhook call with a wrong or missing secret refused");
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(_) => {
            tracing::warn!(
                bytes = body.len(),
                "unparsable telegram webhook update skipped"
            );
            return StatusCode::OK;
        }
    };
    let converted = convert(&update, inner.settings.staff_chat_id, now_secs());
    match commit(&inner, vec![converted], Vec::new()).await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::error!(error = %e, "telegram webhook update not committed; telegram will retry");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Sets the webhook (retrying with backoff), waits for shutdown, then removes it.
pub(crate) async fn register_until_shutdown(inner: &Inner, mut shutdown: Shutdown) {
    let (Some(url), Some(secret)) = (
        inner.settings.webhook_url.clone(),
        inner.webhook_secret.as_ref(),
    ) else {
        return;
    };
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let request = inner
            .bot
            .set_webhook(url.clone())
            .secret_token(secret.expose().to_string())
            .allowed_updates(ALLOWED_UPDATES);
        match request.await {
            Ok(_) => {
                tracing::info!("telegram webhook set");
                break;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %describe_error(&e), failures, "telegram setWebhook failed");
                let wait = Duration::from_millis((500u64 << failures.min(6)).min(30_000));
                tokio::select! {
                    _ = shutdown.changed() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    match tokio::time::timeout(Duration::from_secs(5), inner.bot.delete_webhook()).await {
        Ok(Ok(_)) => tracing::info!("telegram webhook removed"),
        Ok(Err(e)) => tracing::warn!(error = %describe_error(&e), "telegram deleteWebhook failed"),
        Err(_) => tracing::warn!("telegram deleteWebhook timed out"),
    }
}
