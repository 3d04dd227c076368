//! A stand-in for Meta's Graph API (WhatsApp Cloud API) on 127.0.0.1:0, speaking its JSON.
//!
//! It records every request body, answers like Meta does, and can be told to fail: with a 5xx or a
//! Graph error code, for the next N message sends (optionally only for non-template messages), or
//! entirely while "down". It also serves media (`GET /{version}/{media-id}` then the file URL).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";

/// How a scripted failure answers.
#[derive(Clone, Debug)]
pub enum Failure {
    /// An HTTP status with no Graph error body (a proxy, an outage).
    Http(u16),
    /// A Graph error: HTTP status and error code.
    Code(u16, i64),
}

/// Which sends a scripted failure applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    Any,
    /// Free-form messages only; templates succeed.
    NotTemplate,
}

#[derive(Default)]
struct State_ {
    /// Message sends accepted, in order (bodies as sent).
    sent: Vec<Value>,
    /// Every message POST, accepted or not.
    attempts: Vec<Value>,
    /// `status: read` requests.
    reads: Vec<Value>,
    script: VecDeque<(Only, Failure)>,
    down: Option<Failure>,
    media: HashMap<String, (Vec<u8>, String)>,
    media_requests: usize,
    bad_auth: usize,
    next_id: u64,
}

#[derive(Clone)]
pub struct GraphApi {
    state: Arc<Mutex<State_>>,
    pub url: String,
}

impl GraphApi {
    pub async fn start() -> GraphApi {
        let state = Arc::new(Mutex::new(State_::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api = GraphApi {
            state: state.clone(),
            url: url.clone(),
        };
        let app = Router::new()
            .route("/media-files/{id}", get(media_file))
            .route("/{version}/{phone}/messages", post(messages))
            .route("/{version}/{media_id}", get(media_info))
            .with_state(api.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        api
    }

    /// The next `n` message sends matching `only` fail with `failure`.
    pub fn fail_next(&self, n: usize, only: Only, failure: Failure) {
        let mut state = self.state.lock().unwrap();
        for _ in 0..n {
            state.script.push_back((only, failure.clone()));
        }
    }

    /// Every message send fails with `failure` until `up()`.
    pub fn down(&self, failure: Failure) {
        self.state.lock().unwrap().down = Some(failure);
    }

    pub fn up(&self) {
        self.state.lock().unwrap().down = None;
    }

    /// Accepted message bodies, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.state.lock().unwrap().sent.clone()
    }

    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts.len()
    }

    pub fn reads(&self) -> Vec<Value> {
        self.state.lock().unwrap().reads.clone()
    }

    pub fn bad_auth(&self) -> usize {
        self.state.lock().unwrap().bad_auth
    }

    pub fn add_media(&self, id: &str, bytes: Vec<u8>, mime: &str) {
        self.state
            .lock()
            .unwrap()
            .media
            .insert(id.to_string(), (bytes, mime.to_string()));
    }

    pub fn media_requests(&self) -> usize {
        self.state.lock().unwrap().media_requests
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

fn graph_error(status: u16, code: i64) -> Response {
    let (message, details) = match code {
        131047 => (
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ),
        130429 => (
            "(#130429) Rate limit hit",
            "Cloud API message throughput has been reached.",
        ),
        131056 => (
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ),
        _ => ("(#100) Invalid parameter", "Invalid parameter"),
    };
    let body = json!({
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": details },
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        }
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response()
}

fn failure_response(failure: &Failure) -> Response {
    match failure {
        Failure::Http(status) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "<html>upstream unavailable</html>",
        )
            .into_response(),
        Failure::Code(status, code) => graph_error(*status, *code),
    }
}

async fn messages(
    State(api): State<GraphApi>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = api.state.lock().unwrap();
    if !authorized(&headers) || phone != PHONE_NUMBER_ID {
        state.bad_auth += 1;
        return graph_error(401, 190);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(400, 100);
    };
    if body.get("status").and_then(Value::as_str) == Some("read") {
        state.reads.push(body);
        return axum::Json(json!({ "success": true })).into_response();
    }
    state.attempts.push(body.clone());
    if let Some(failure) = state.down.clone() {
        return failure_response(&failure);
    }
    let is_template = body.get("type").and_then(Value::as_str) == Some("template");
    let scripted = state
        .script
        .iter()
        .position(|(only, _)| *only == Only::Any || !is_template);
    if let Some(i) = scripted
        && let Some((_, failure)) = state.script.remove(i)
    {
        return failure_response(&failure);
    }
    state.next_id += 1;
    let id = format!("wamid.TEST{:06}", state.next_id);
    let input = body
        .get("to")
        .or_else(|| body.get("recipient"))
        .cloned()
        .unwrap_or(Value::Null);
    state.sent.push(body);
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [ { "input": input, "wa_id": input } ],
        "messages": [ { "id": id } ]
    }))
    .into_response()
}

async fn media_info(
    State(api): State<GraphApi>,
    Path((_version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = api.state.lock().unwrap();
    state.media_requests += 1;
    if !authorized(&headers) {
        state.bad_auth += 1;
        return graph_error(401, 190);
    }
    let Some((bytes, mime)) = state.media.get(&media_id) else {
        return graph_error(400, 100);
    };
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-files/{media_id}", api.url),
        "mime_type": mime,
        "sha256": sha,
        "file_size": bytes.len(),
        "id": media_id
    }))
    .into_response()
}

async fn media_file(
    State(api): State<GraphApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = api.state.lock().unwrap();
    if !authorized(&headers) {
        state.bad_auth += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match state.media.get(&id) {
        Some((bytes, _)) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
