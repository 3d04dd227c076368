//! A stand-in Telegram Bot API server for tests and the benchmark: axum on 127.0.0.1:0, stateful,
//! speaking the real JSON under `/bot<TOKEN>/<method>` and `/file/bot<TOKEN>/<path>`.
//!
//! Scripted users push updates into its queue (`user_text`, `user_press`, `push_update`); the bot under
//! test fetches them with `getUpdates` (offset confirms, limit, long-poll timeout) and answers with
//! `sendMessage`, which is recorded. Failures can be injected: `429` with `retry_after`, `5xx` for N
//! calls, `403` for a blocked chat, sends held until released, and the whole server "down" (every
//! connection reset) for a while.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// A token of the real shape (`<bot id>:<35 characters>`).
pub const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1";
pub const BOT_ID: i64 = 123_456_789;

/// One `sendMessage` call that Telegram accepted.
#[derive(Clone, Debug)]
pub struct Sent {
    pub chat_id: i64,
    pub message_id: i64,
    /// As sent (HTML).
    pub html: String,
    pub parse_mode: Option<String>,
    pub reply_markup: Option<Value>,
    pub at: Instant,
}

impl Sent {
    /// The text a user sees (HTML entities decoded).
    pub fn text(&self) -> String {
        self.html
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    }

    /// The callback data of the inline keyboard's buttons, in order.
    pub fn buttons(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(rows) = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array)
        {
            for row in rows {
                for b in row.as_array().into_iter().flatten() {
                    out.push((
                        b["text"].as_str().unwrap_or("").to_string(),
                        b["callback_data"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        out
    }
}

/// Every `sendMessage` attempt, whatever its outcome.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub chat_id: i64,
    pub at: Instant,
    pub status: u16,
}

#[derive(Default)]
struct ApiState {
    next_update_id: i64,
    /// Updates not yet confirmed: (update_id, raw JSON text).
    pending: VecDeque<(i64, String)>,
    /// Delivered once regardless of the offset (a redelivery).
    forced: VecDeque<String>,
    all_updates: HashMap<i64, String>,
    confirmed_offset: i64,
    next_message_id: i64,
    sent: Vec<Sent>,
    attempts: Vec<Attempt>,
    callback_answers: Vec<String>,
    /// Updates confirmed (by a `getUpdates` offset) before the bot had committed them.
    confirmed_uncommitted: Vec<i64>,
    /// `editMessageReplyMarkup` calls: (chat, message, new markup).
    markup_edits: Vec<(i64, i64, Option<Value>)>,
    commands: Vec<Value>,
    webhook: Option<(String, Option<String>)>,
    webhook_deleted: u32,
    get_me_calls: u32,
    get_updates_calls: u32,
    files: HashMap<String, (String, u64, Vec<u8>)>,
    fail_429: u32,
    retry_after: u32,
    fail_5xx: u32,
    blocked: HashSet<i64>,
    hold_sends: bool,
    /// Held sends are dropped unrecorded when released (they never reached Telegram).
    discard_held: bool,
}

struct Shared {
    state: Mutex<ApiState>,
    updates: Notify,
    released: Notify,
    down: Arc<AtomicBool>,
    sent_tx: Mutex<Option<mpsc::UnboundedSender<Sent>>>,
    /// Asked, for every update a new offset confirms, whether the bot had already committed it.
    committed: Mutex<Option<CommitCheck>>,
}

type CommitCheck = Box<dyn Fn(i64) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct BotApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn ok(result: Value) -> Response {
    let body = json!({"ok": true, "result": result});
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn err(status: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (code, axum::Json(body)).into_response()
}

fn user_json(id: i64, lang: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Pengguna", "language_code": lang})
}

fn private_chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": "Pengguna"})
}

impl BotApi {
    pub async fn start() -> BotApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            state: Mutex::new(ApiState {
                next_update_id: 1000,
                next_message_id: 1,
                ..ApiState::default()
            }),
            updates: Notify::new(),
            released: Notify::new(),
            down: down.clone(),
            sent_tx: Mutex::new(None),
            committed: Mutex::new(None),
        });
        let app = Router::new()
            .route("/{*rest}", any(route))
            .with_state(shared.clone());
        let flaky = FlakyListener {
            inner: listener,
            down,
        };
        tokio::spawn(async move {
            let _ = axum::serve(flaky, app).await;
        });
        BotApi { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.shared.state.lock().unwrap()
    }

    /// Every accepted `sendMessage` is also sent here (for closed-loop drivers).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Sent> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.sent_tx.lock().unwrap() = Some(tx);
        rx
    }

    /// Queues an update; `kind_and_body` is e.g. `("message", {...})`. Returns its id.
    pub fn push_update(&self, kind: &str, body: Value) -> i64 {
        let id = {
            let mut s = self.state();
            let id = s.next_update_id;
            s.next_update_id += 1;
            // update_id first, as Telegram writes it.
            let text = format!("{{\"update_id\":{id},\"{kind}\":{body}}}");
            s.all_updates.insert(id, text.clone());
            s.pending.push_back((id, text));
            id
        };
        self.shared.updates.notify_waiters();
        id
    }

    /// Queues a raw element of the `result` array as is (for updates no client can parse). The next
    /// update id is used up, so later updates keep increasing.
    pub fn push_raw(&self, make: impl FnOnce(i64) -> String) -> i64 {
        let id = {
            let mut s = self.state();
            let id = s.next_update_id;
            s.next_update_id += 1;
            let text = make(id);
            s.pending.push_back((id, text));
            id
        };
        self.shared.updates.notify_waiters();
        id
    }

    pub fn user_text(&self, chat: i64, text: &str) -> i64 {
        let message_id = {
            let mut s = self.state();
            s.next_message_id += 1;
            s.next_message_id
        };
        self.push_update(
            "message",
            json!({"message_id": message_id, "date": now_secs(), "chat": private_chat(chat),
                "from": user_json(chat, "id"), "text": text}),
        )
    }

    /// A press on a button of the last message the bot sent to `chat` (message id 1 if none).
    pub fn user_press(&self, chat: i64, data: &str) -> i64 {
        let id = format!("cb{}", now_secs() ^ chat);
        let message_id = {
            let s = self.state();
            let last = s.sent.iter().rev().find(|m| m.chat_id == chat);
            last.map_or(1, |m| m.message_id)
        };
        self.push_update(
            "callback_query",
            json!({"id": id, "chat_instance": "ci", "data": data, "from": user_json(chat, "id"),
                "message": {"message_id": message_id, "date": now_secs(), "chat": private_chat(chat), "text": "menu"}}),
        )
    }

    /// Delivers an already delivered update once more, whatever the offset.
    pub fn deliver_again(&self, update_id: i64) {
        {
            let mut s = self.state();
            let text = s.all_updates.get(&update_id).cloned().unwrap();
            s.forced.push_back(text);
        }
        self.shared.updates.notify_waiters();
    }

    pub fn update_json(&self, update_id: i64) -> String {
        self.state().all_updates.get(&update_id).cloned().unwrap()
    }

    pub fn add_file(&self, file_id: &str, path: &str, announced_size: u64, content: Vec<u8>) {
        self.state()
            .files
            .insert(file_id.into(), (path.into(), announced_size, content));
    }

    pub fn fail_next_sends_with_429(&self, n: u32, retry_after: u32) {
        let mut s = self.state();
        s.fail_429 = n;
        s.retry_after = retry_after;
    }

    pub fn fail_next_sends_with_5xx(&self, n: u32) {
        self.state().fail_5xx = n;
    }

    pub fn block(&self, chat: i64) {
        self.state().blocked.insert(chat);
    }

    /// Releases held sends as if they had never arrived: nothing recorded, an error answered.
    pub fn discard_held_sends(&self) {
        {
            let mut s = self.state();
            s.discard_held = true;
            s.hold_sends = false;
        }
        self.shared.released.notify_waiters();
    }

    pub fn hold_sends(&self, hold: bool) {
        {
            let mut s = self.state();
            s.hold_sends = hold;
            s.discard_held = false;
        }
        if !hold {
            self.shared.released.notify_waiters();
        }
    }

    /// While down, every connection (new or open) is reset.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.state().sent.clone()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.state()
            .sent
            .iter()
            .filter(|s| s.chat_id == chat)
            .cloned()
            .collect()
    }

    pub fn attempts_to(&self, chat: i64) -> Vec<Attempt> {
        self.state()
            .attempts
            .iter()
            .filter(|a| a.chat_id == chat)
            .cloned()
            .collect()
    }

    pub fn callback_answers(&self) -> Vec<String> {
        self.state().callback_answers.clone()
    }

    /// From now on, every update a new offset confirms is checked with `committed(update_id)`; the ones
    /// confirmed before the bot committed them are listed by [`BotApi::confirmed_uncommitted`].
    pub fn check_confirmations(&self, committed: impl Fn(i64) -> bool + Send + Sync + 'static) {
        *self.shared.committed.lock().unwrap() = Some(Box::new(committed));
    }

    pub fn confirmed_uncommitted(&self) -> Vec<i64> {
        self.state().confirmed_uncommitted.clone()
    }

    pub fn markup_edits(&self) -> Vec<(i64, i64, Option<Value>)> {
        self.state().markup_edits.clone()
    }

    pub fn commands(&self) -> Vec<Value> {
        self.state().commands.clone()
    }

    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.state().webhook.clone()
    }

    pub fn webhook_deleted(&self) -> u32 {
        self.state().webhook_deleted
    }

    /// How many times `getUpdates` answered (a long poll that waited counts once).
    pub fn get_updates_calls(&self) -> u32 {
        self.state().get_updates_calls
    }

    pub fn get_me_calls(&self) -> u32 {
        self.state().get_me_calls
    }

    /// The highest offset the bot has confirmed with `getUpdates`.
    pub fn confirmed_offset(&self) -> i64 {
        self.state().confirmed_offset
    }

    pub fn pending_updates(&self) -> usize {
        self.state().pending.len()
    }

    /// Waits until `chat` received at least `n` messages (bounded); returns them.
    pub async fn wait_for(&self, chat: i64, n: usize, within: Duration) -> Vec<Sent> {
        let deadline = Instant::now() + within;
        loop {
            let sent = self.sent_to(chat);
            if sent.len() >= n || Instant::now() >= deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `cond` holds (bounded); returns whether it did.
    pub async fn wait_until(&self, within: Duration, cond: impl Fn(&BotApi) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn route(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(file) = rest.strip_prefix("file/") {
        let Some(path) = file.strip_prefix(&format!("bot{TOKEN}/")) else {
            return err(401, "Unauthorized", None);
        };
        let content = {
            let s = shared.state.lock().unwrap();
            s.files
                .values()
                .find(|(p, _, _)| p == path)
                .map(|(_, _, c)| c.clone())
        };
        return match content {
            Some(c) => (StatusCode::OK, c).into_response(),
            None => err(404, "Not Found", None),
        };
    }
    let Some((token, method)) = rest.split_once('/') else {
        return err(404, "Not Found", None);
    };
    if token != format!("bot{TOKEN}") {
        return err(401, "Unauthorized", None);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params: Value = if body.is_empty() {
        json!({})
    } else if let Some(boundary) = content_type.split("boundary=").nth(1) {
        multipart_fields(&body, boundary.trim_matches('"'))
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return err(400, "Bad Request: invalid JSON", None),
        }
    };
    match method.to_ascii_lowercase().as_str() {
        "getme" => {
            shared.state.lock().unwrap().get_me_calls += 1;
            ok(json!({
                "id": BOT_ID, "is_bot": true, "first_name": "Pandu", "username": "pandu_test_bot",
                "can_join_groups": false, "can_read_all_group_messages": false,
                "supports_inline_queries": false, "can_connect_to_business": false,
                "has_main_web_app": false
            }))
        }
        "getupdates" => get_updates(&shared, &params).await,
        "sendmessage" => send_message(&shared, &params).await,
        "answercallbackquery" => {
            let id = params["callback_query_id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            shared.state.lock().unwrap().callback_answers.push(id);
            ok(json!(true))
        }
        "editmessagereplymarkup" => {
            let chat_id = params["chat_id"].as_i64().unwrap_or(0);
            let message_id = params["message_id"].as_i64().unwrap_or(0);
            let markup = params.get("reply_markup").cloned();
            shared
                .state
                .lock()
                .unwrap()
                .markup_edits
                .push((chat_id, message_id, markup));
            ok(json!({
                "message_id": message_id, "date": now_secs(), "chat": private_chat(chat_id),
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "Pandu", "username": "pandu_test_bot"},
                "text": "menu"
            }))
        }
        "editmessagetext" => ok(json!({
            "message_id": params["message_id"].as_i64().unwrap_or(1), "date": now_secs(),
            "chat": private_chat(params["chat_id"].as_i64().unwrap_or(0)),
            "text": params["text"].as_str().unwrap_or("")
        })),
        "setmycommands" => {
            shared.state.lock().unwrap().commands.push(params);
            ok(json!(true))
        }
        "setwebhook" => {
            let url = params["url"].as_str().unwrap_or("").to_string();
            let secret = params["secret_token"].as_str().map(str::to_string);
            shared.state.lock().unwrap().webhook = Some((url, secret));
            ok(json!(true))
        }
        "deletewebhook" => {
            let mut s = shared.state.lock().unwrap();
            s.webhook = None;
            s.webhook_deleted += 1;
            ok(json!(true))
        }
        "getfile" => {
            let id = params["file_id"].as_str().unwrap_or("");
            let found = shared.state.lock().unwrap().files.get(id).cloned();
            match found {
                Some((path, size, _)) => ok(json!({
                    "file_id": id, "file_unique_id": format!("u{id}"), "file_size": size,
                    "file_path": path
                })),
                None => err(400, "Bad Request: invalid file_id", None),
            }
        }
        _ => err(404, "Not Found: method not found", None),
    }
}

/// The text fields of a `multipart/form-data` body (what teloxide sends for methods that may carry a
/// file, such as `setWebhook`). Values that are JSON (arrays, numbers) are parsed as JSON.
fn multipart_fields(body: &[u8], boundary: &str) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value = value.trim_end_matches("\r\n");
        let parsed = match serde_json::from_str::<Value>(value) {
            Ok(v) if !v.is_string() => v,
            _ => Value::String(value.to_string()),
        };
        fields.insert(name.to_string(), parsed);
    }
    Value::Object(fields)
}

async fn get_updates(shared: &Arc<Shared>, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = params["timeout"].as_u64().unwrap_or(0).min(50);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.updates.notified();
        {
            let mut s = shared.state.lock().unwrap();
            s.get_updates_calls += 1;
            if offset > s.confirmed_offset {
                if let Some(check) = shared.committed.lock().unwrap().as_ref() {
                    let confirmed: Vec<i64> = (s.confirmed_offset..offset)
                        .filter(|id| s.all_updates.contains_key(id))
                        .collect();
                    for id in confirmed {
                        if !check(id) {
                            s.confirmed_uncommitted.push(id);
                        }
                    }
                }
                s.confirmed_offset = offset;
            }
            while s.pending.front().is_some_and(|(id, _)| *id < offset) {
                s.pending.pop_front();
            }
            let mut items: Vec<String> = s.forced.drain(..).collect();
            items.extend(s.pending.iter().take(limit).map(|(_, t)| t.clone()));
            if !items.is_empty() {
                let body = format!("{{\"ok\":true,\"result\":[{}]}}", items.join(","));
                return (StatusCode::OK, [("content-type", "application/json")], body)
                    .into_response();
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

async fn send_message(shared: &Arc<Shared>, params: &Value) -> Response {
    let chat_id = params["chat_id"].as_i64().unwrap_or(0);
    let mut was_held = false;
    loop {
        let released = shared.released.notified();
        if !shared.state.lock().unwrap().hold_sends {
            break;
        }
        was_held = true;
        released.await;
    }
    if was_held && shared.state.lock().unwrap().discard_held {
        return err(502, "Bad Gateway", None);
    }
    if shared.down.load(Ordering::SeqCst) {
        return err(502, "Bad Gateway", None);
    }
    let mut s = shared.state.lock().unwrap();
    let at = Instant::now();
    let status = if s.blocked.contains(&chat_id) {
        403
    } else if s.fail_429 > 0 {
        s.fail_429 -= 1;
        429
    } else if s.fail_5xx > 0 {
        s.fail_5xx -= 1;
        502
    } else if params["text"].as_str().is_none_or(str::is_empty) {
        400
    } else {
        200
    };
    s.attempts.push(Attempt {
        chat_id,
        at,
        status,
    });
    match status {
        403 => return err(403, "Forbidden: bot was blocked by the user", None),
        429 => {
            let r = s.retry_after;
            return err(
                429,
                &format!("Too Many Requests: retry after {r}"),
                Some(json!({"retry_after": r})),
            );
        }
        502 => return err(502, "Bad Gateway", None),
        400 => return err(400, "Bad Request: message text is empty", None),
        _ => {}
    }
    s.next_message_id += 1;
    let message_id = s.next_message_id;
    let html = params["text"].as_str().unwrap_or("").to_string();
    let sent = Sent {
        chat_id,
        message_id,
        html: html.clone(),
        parse_mode: params["parse_mode"].as_str().map(str::to_string),
        reply_markup: params.get("reply_markup").cloned(),
        at,
    };
    s.sent.push(sent.clone());
    drop(s);
    if let Some(tx) = shared.sent_tx.lock().unwrap().as_ref() {
        let _ = tx.send(sent);
    }
    ok(json!({
        "message_id": message_id, "date": now_secs(), "chat": private_chat(chat_id),
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Pandu", "username": "pandu_test_bot"},
        "text": html
    }))
}

/// Accepts connections like a `TcpListener`, but while `down` every connection is reset.
struct FlakyListener {
    inner: TcpListener,
    down: Arc<AtomicBool>,
}

impl axum::serve::Listener for FlakyListener {
    type Io = FlakyStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.down.load(Ordering::SeqCst) {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    return (
                        FlakyStream {
                            inner: stream,
                            down: self.down.clone(),
                        },
                        addr,
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

struct FlakyStream {
    inner: TcpStream,
    down: Arc<AtomicBool>,
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "stand-in is down")
}

impl AsyncRead for FlakyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.down.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FlakyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.down.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
