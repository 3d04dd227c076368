//! `/webhooks/whatsapp`: Meta's verification handshake (`GET`) and notifications (`POST`).
//!
//! A notification is answered `200` only after its messages are durably committed by the engine
//! (dedupe record, session, replies, and the 24-hour-window bookkeeping, in one commit). Sending
//! happens later in the outbox worker, so the answer is fast. Meta retries unanswered notifications for
//! days and out of order; the engine's dedupe on `wamid` makes a redelivery harmless.
//!
//! Invariants: a request without a valid `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the
//! app secret, compared in constant time) is refused with `401` before anything is read or stored; a
//! signed body that is not JSON gets `400` and stores nothing; unknown fields and message types never
//! fail a request; message text and user ids are never logged.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::payload::{self, InboundMessage};
use super::{WhatsApp, address_key, last_inbound, last_inbound_key, sender, user_tag};
use crate::dialog::InputKind;
use crate::engine::Inbound;
use crate::storage::Channel;

pub const PATH: &str = "/webhooks/whatsapp";

pub fn router(whatsapp: WhatsApp) -> Router {
    Router::new()
        .route(PATH, get(verify).post(receive))
        .with_state(whatsapp)
}

/// `GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...` answers the challenge.
async fn verify(
    State(whatsapp): State<WhatsApp>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mode = params.get("hub.mode").map(String::as_str);
    let token = params.get("hub.verify_token").map(String::as_bytes);
    let challenge = params.get("hub.challenge");
    let expected = whatsapp.inner.verify_token.expose().as_bytes();
    match (mode, token, challenge) {
        (Some("subscribe"), Some(token), Some(challenge)) if bool::from(token.ct_eq(expected)) => {
            tracing::info!("whatsapp webhook verified by Meta");
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!("whatsapp webhook verification refused");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` against the raw body.
pub fn signature_valid(app_secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(header) = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// The header value Meta would send for `body` (for tests and benchmarks).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", super::media::hex(&mac.finalize().into_bytes()))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn receive(State(whatsapp): State<WhatsApp>, headers: HeaderMap, body: Bytes) -> Response {
    if !signature_valid(
        whatsapp.inner.app_secret.expose().as_bytes(),
        &headers,
        &body,
    ) {
        tracing::warn!("whatsapp webhook with a missing or wrong signature refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            tracing::warn!("whatsapp webhook body is not JSON");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let parsed = payload::parse(value);
    if parsed.skipped > 0 {
        tracing::warn!(
            skipped = parsed.skipped,
            "whatsapp webhook items could not be read and were skipped"
        );
    }
    for error in &parsed.errors {
        tracing::warn!(code = error.code, title = %error.title, "whatsapp webhook reports an error");
    }
    if !parsed.messages.is_empty() {
        match commit(&whatsapp, &parsed.messages).await {
            Ok(fresh) => {
                for message in fresh {
                    // Best effort: a full queue drops the read receipt, never the message.
                    let _ = whatsapp.inner.reads.try_send(message.wamid.clone());
                    queue_download(&whatsapp, message);
                }
                // Held messages may now be deliverable: the user wrote again.
                whatsapp
                    .inner
                    .engine
                    .outbox_signal(Channel::Whatsapp)
                    .notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, "whatsapp messages not committed; Meta will retry");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    for status in &parsed.statuses {
        sender::record_status(&whatsapp, status);
    }
    StatusCode::OK.into_response()
}

/// Queues the download of a photo, voice note, document or video that the current question accepted
/// (the committed session holds it), or of a photo whose text the conversation waits for (read, then
/// handed in as `ocr:<media id>`); anything else was answered "please type" and is not fetched.
fn queue_download(whatsapp: &WhatsApp, message: &InboundMessage) {
    let InputKind::Attachment(attachment) = &message.input.kind else {
        return;
    };
    let user = WhatsApp::user(&message.user_id);
    let read = crate::channels::photo_text::awaited(whatsapp.store(), &user, &attachment.reference);
    let accepted = read
        || whatsapp
            .store()
            .session(&user)
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.attachments
                    .iter()
                    .any(|a| a.reference == attachment.reference)
            });
    if !accepted {
        return;
    }
    let job = sender::Download {
        media_id: attachment.reference.clone(),
        read_for: read.then_some(user),
    };
    if let Err(e) = whatsapp.inner.downloads.try_send(job) {
        let job = match e {
            tokio::sync::mpsc::error::TrySendError::Full(job)
            | tokio::sync::mpsc::error::TrySendError::Closed(job) => job,
        };
        tracing::warn!(
            user = %user_tag(&message.user_id),
            "whatsapp download queue full; the attachment stays a media id only"
        );
        // A photo whose text is awaited still gets an answer: "please type it".
        if let Some(user) = job.read_for {
            crate::channels::photo_text::hand_in_unread(
                &whatsapp.inner.engine,
                &whatsapp.inner.ocr,
                user,
                job.media_id,
            );
        }
    }
}

/// Commits the messages of one notification in one group; returns the messages handled for the first
/// time (to mark as read, and to fetch accepted attachments).
async fn commit<'m>(
    whatsapp: &WhatsApp,
    messages: &'m [InboundMessage],
) -> Result<Vec<&'m InboundMessage>, crate::engine::EngineError> {
    let store = whatsapp.store();
    let now = crate::time::now_secs();
    // The 24-hour window: the newest message time per user, never moving backwards (Meta redelivers
    // old messages out of order).
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    let mut addresses: BTreeMap<&str, &str> = BTreeMap::new();
    for message in messages {
        // A message time in the future (clock skew) counts as now.
        let at = match message.input.at {
            0 => now,
            at => at.min(now),
        };
        let slot = newest.entry(message.user_id.as_str()).or_insert(0);
        *slot = (*slot).max(at);
        if let Some(wa_id) = &message.wa_id
            && wa_id != &message.user_id
        {
            addresses.insert(message.user_id.as_str(), wa_id.as_str());
        }
    }
    let mut meta = Vec::new();
    for (user, at) in newest {
        let stored = last_inbound(store, user).unwrap_or(0);
        if at > stored {
            meta.push((last_inbound_key(user), at.to_string().into_bytes()));
        }
    }
    for (user, wa_id) in addresses {
        let key = address_key(user);
        let known = store.meta(&key).ok().flatten();
        if known.as_deref() != Some(wa_id.as_bytes()) {
            meta.push((key, wa_id.as_bytes().to_vec()));
        }
    }
    let inbounds: Vec<Inbound> = messages
        .iter()
        .map(|m| Inbound {
            user: WhatsApp::user(&m.user_id),
            message_id: m.wamid.clone(),
            input: m.input.clone(),
            lang_hint: None,
        })
        .collect();
    let acks = whatsapp.inner.engine.handle_batch(inbounds, meta).await?;
    let mut fresh = Vec::new();
    for (message, ack) in messages.iter().zip(acks) {
        tracing::debug!(
            user = %user_tag(&message.user_id),
            duplicate = ack.duplicate,
            replies = ack.replies.len(),
            "whatsapp message committed"
        );
        if !ack.duplicate {
            fresh.push(message);
        }
    }
    Ok(fresh)
}
