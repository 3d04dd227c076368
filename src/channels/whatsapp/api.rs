//! A small client for the parts of the Graph API Pandu uses: sending messages, marking messages read,
//! and looking up media. Plain reqwest + serde; the bearer token travels only in the header.
//!
//! Every failure is classified once, here, into what the outbox must do with it: try again later
//! ([`SendError::Transient`]), switch to the 24-hour-window path ([`SendError::Window`]), or give up
//! ([`SendError::Permanent`]).
//!
//! Invariant: never logs or returns the token, a message body or a recipient id.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::Secret;

/// Error codes of the Cloud API that mean "not now, later" rather than "never".
/// 130429 throughput, 131056 pair rate, 131048 spam rate, 80007 / 4 / 613 rate limits, 131000 /
/// 131016 / 133004 / 1 / 2 service trouble, 131042 / 131031 / 131045 / 133010 / 190 / 10 / 3 / 0 /
/// 368 account or token trouble an operator can fix without losing the queue.
const TRANSIENT_CODES: &[i64] = &[
    0, 1, 2, 3, 4, 10, 190, 368, 613, 80007, 130429, 131000, 131016, 131031, 131042, 131045,
    131048, 131056, 133004, 133010,
];

/// Throughput limit of the business number: every send should pause, not just this one.
pub const CODE_THROUGHPUT: i64 = 130429;

/// Re-engagement required: more than 24 hours since the user's last message.
pub const CODE_REENGAGEMENT: i64 = 131047;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (network, 5xx, rate limits, a token being renewed).
    #[error("temporary failure: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
        /// The Graph API error code, 0 when there was none (network, a bare 5xx).
        code: i64,
    },
    /// Outside the 24-hour customer service window (131047): only a template may be sent.
    #[error("outside the 24-hour window")]
    Window,
    /// Will never succeed (invalid recipient, unsupported content, ...).
    #[error("permanent failure: {reason}")]
    Permanent { reason: String },
}

/// The Graph API error body: `{"error": {"message", "type", "code", "error_data": {"details"}}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    error: GraphError,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GraphError {
    message: String,
    code: i64,
    error_subcode: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendResponse {
    messages: Vec<SentMessage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SentMessage {
    id: String,
}

/// What `GET /{media-id}` says about an uploaded file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    /// Bytes; Meta sends it as a number or a string.
    pub file_size: Option<Value>,
}

impl MediaInfo {
    pub fn size(&self) -> Option<u64> {
        self.file_size.as_ref().and_then(super::payload::unix_secs)
    }
}

/// The Graph API for one business phone number. Cheap to clone.
#[derive(Clone)]
pub struct GraphApi {
    http: reqwest::Client,
    /// `{api_url}/{version}`, without a trailing slash.
    base: String,
    phone_number_id: String,
    token: Secret,
}

impl GraphApi {
    pub fn new(api_url: &str, version: &str, phone_number_id: &str, token: Secret) -> GraphApi {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_default();
        GraphApi {
            http,
            base: format!(
                "{}/{}",
                api_url.trim_end_matches('/'),
                version.trim_matches('/')
            ),
            phone_number_id: phone_number_id.to_string(),
            token,
        }
    }

    fn messages_url(&self) -> String {
        format!("{}/{}/messages", self.base, self.phone_number_id)
    }

    /// Sends one message object (already in its envelope); returns its `wamid`.
    pub async fn send(&self, body: &Value) -> Result<Option<String>, SendError> {
        let bytes = self.post(body).await?;
        let response: SendResponse = serde_json::from_slice(&bytes).unwrap_or_default();
        Ok(response
            .messages
            .into_iter()
            .next()
            .map(|m| m.id)
            .filter(|id| !id.is_empty()))
    }

    /// Marks an inbound message as read.
    pub async fn mark_read(&self, wamid: &str) -> Result<(), SendError> {
        self.post(&super::render::mark_read(wamid))
            .await
            .map(|_| ())
    }

    async fn post(&self, body: &Value) -> Result<axum::body::Bytes, SendError> {
        let response = self
            .http
            .post(self.messages_url())
            .bearer_auth(self.token.expose())
            .json(body)
            .send()
            .await
            .map_err(network)?;
        read(response).await
    }

    /// Looks up a media id (`GET /{version}/{media-id}`).
    pub async fn media_info(&self, media_id: &str) -> Result<MediaInfo, SendError> {
        let response = self
            .http
            .get(format!("{}/{}", self.base, media_id))
            .query(&[("phone_number_id", self.phone_number_id.as_str())])
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(network)?;
        let bytes = read(response).await?;
        serde_json::from_slice(&bytes).map_err(|e| SendError::Permanent {
            reason: format!("unreadable media info: {e}"),
        })
    }

    /// Starts downloading a media URL (it needs the same bearer token).
    pub async fn fetch(&self, url: &str) -> Result<reqwest::Response, SendError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(network)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            Err(classify(status, &body, None))
        }
    }
}

fn network(e: reqwest::Error) -> SendError {
    SendError::Transient {
        // Without the URL: it holds nothing secret, but keep log lines short and uniform.
        reason: format!("network: {}", e.without_url()),
        retry_after: None,
        code: 0,
    }
}

async fn read(response: reqwest::Response) -> Result<axum::body::Bytes, SendError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.map_err(network)?;
    if status.is_success() {
        return Ok(body);
    }
    Err(classify(status, &body, retry_after))
}

/// Decides what a failed response means for the outbox.
fn classify(status: reqwest::StatusCode, body: &[u8], retry_after: Option<Duration>) -> SendError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let error = parsed
        .map(|b| b.error)
        .filter(|e| e.code != 0 || !e.message.is_empty());
    let Some(error) = error else {
        // No Graph error body: a proxy or the network in between. Never give up on that.
        return SendError::Transient {
            reason: format!("http {status}"),
            retry_after,
            code: 0,
        };
    };
    let reason = match error.error_subcode {
        Some(sub) => format!(
            "http {status}, code {} ({sub}): {}",
            error.code, error.message
        ),
        None => format!("http {status}, code {}: {}", error.code, error.message),
    };
    if error.code == CODE_REENGAGEMENT {
        return SendError::Window;
    }
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || TRANSIENT_CODES.contains(&error.code)
    {
        return SendError::Transient {
            reason,
            retry_after,
            code: error.code,
        };
    }
    SendError::Permanent { reason }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::StatusCode;

    fn body(code: i64) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"error": {"message": "m", "type": "OAuthException",
            "code": code, "error_data": {"messaging_product": "whatsapp", "details": "d"},
            "fbtrace_id": "x"}}),
        )
        .unwrap()
    }

    #[test]
    fn rate_limits_are_retried_and_bad_recipients_are_not() {
        for code in [130429, 131056, 131000] {
            assert!(matches!(
                classify(StatusCode::BAD_REQUEST, &body(code), None),
                SendError::Transient { .. }
            ));
        }
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, &body(131047), None),
            SendError::Window
        ));
        for code in [100, 131026, 131051, 132001] {
            assert!(matches!(
                classify(StatusCode::BAD_REQUEST, &body(code), None),
                SendError::Permanent { .. }
            ));
        }
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, b"<html>", None),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, &body(100), None),
            SendError::Transient { .. }
        ));
    }
}
