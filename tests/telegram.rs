//! The Telegram channel end to end, against a stand-in Bot API server on 127.0.0.1: a conversation by
//! buttons and by typing, a crash in the middle, redelivery, flood control, an API outage, a user who
//! blocked the bot, updates the bot cannot read, webhook mode, staff commands and attachment downloads.

#![allow(clippy::unwrap_used)]

#[path = "telegram_support/bot_api.rs"]
mod bot_api;
#[path = "engine_support/mod.rs"]
mod engine_support;
#[path = "process_support/mod.rs"]
mod process;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bot_api::{BotApi, Sent, TOKEN};
use pandu::channels::StaffCommands;
use pandu::channels::telegram::{FileError, Telegram};
use pandu::config::{Config, Secret, Secrets};
use pandu::dialog::Actions;
use pandu::engine::Engine;
use pandu::storage::{Channel, DEFAULT_CACHE_BYTES, Delivery, Store, UserKey};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);
const WEBHOOK_SECRET: &str = "s3cret-webhook-token";

/// An action that takes a while: the engine's commit of a message that runs it is slow.
struct Slow;

impl pandu::dialog::Action for Slow {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }

    fn run(&self, _call: &pandu::dialog::ActionCall<'_>) -> pandu::dialog::ActionResult {
        std::thread::sleep(Duration::from_millis(400));
        pandu::dialog::ActionResult::outcome("ok")
    }
}

struct Setup {
    _temp: tempfile::TempDir,
    data: PathBuf,
    dialogs: PathBuf,
    api: BotApi,
}

async fn setup() -> Setup {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "pandu=warn".into()))
        .try_init();
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let dialogs = temp.path().join("dialogs");
    engine_support::write_dialogs(&dialogs, "telegram");
    let api = BotApi::start().await;
    Setup {
        _temp: temp,
        data,
        dialogs,
        api,
    }
}

fn config(s: &Setup) -> Config {
    let mut c = Config {
        data_dir: s.data.clone(),
        ..Config::default()
    };
    c.telegram.api_url = s.api.url();
    c.telegram.poll_timeout_secs = 1;
    c.telegram.per_chat_interval_ms = 0;
    c.telegram.global_per_sec = 0;
    c.telegram.retry_max_secs = 1;
    c.telegram.commands_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/telegram.toml");
    c
}

fn secrets() -> Secrets {
    Secrets {
        telegram_token: Some(Secret::new(TOKEN)),
        telegram_webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        ..Secrets::default()
    }
}

struct Pandu {
    telegram: Telegram,
    engine: Engine,
    store: Store,
    writer: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

fn open(s: &Setup) -> Store {
    Store::open(&s.data.join("db"), DEFAULT_CACHE_BYTES).unwrap()
}

/// The engine on `store` over the test dialogs, with the slow action registered.
fn start_engine(
    s: &Setup,
    store: &Store,
    idle_secs: u64,
    max_batch: usize,
) -> (Engine, JoinHandle<()>) {
    let mut actions = Actions::new();
    actions.register("test.slow", Arc::new(Slow));
    engine_support::start_engine(store.clone(), &s.dialogs, actions, idle_secs, max_batch)
}

async fn start(s: &Setup, config: &Config, staff: Option<Arc<dyn StaffCommands>>) -> Pandu {
    let store = open(s);
    let (engine, writer) = start_engine(s, &store, 3600, 256);
    let telegram = Telegram::from_config(config, &secrets(), engine.clone(), staff).unwrap();
    let (shutdown, rx) = watch::channel(false);
    let tasks = telegram.start(rx).await;
    Pandu {
        telegram,
        engine,
        store,
        writer,
        tasks,
        shutdown,
    }
}

/// A fresh setup with the bot started on it (default config, no staff commands).
async fn started() -> (Setup, Pandu) {
    let s = setup().await;
    let p = start(&s, &config(&s), None).await;
    (s, p)
}

/// Kills the process's work at once: tasks aborted wherever they are, engine dropped, store closed.
async fn crash(p: Pandu) {
    for task in &p.tasks {
        task.abort();
    }
    for task in p.tasks {
        let _ = task.await;
    }
    drop(p.telegram);
    drop(p.engine);
    let _ = p.writer.await;
    drop(p.store);
}

/// A graceful stop: the shutdown signal, then every task ends by itself.
async fn stop(p: Pandu) {
    p.shutdown.send(true).unwrap();
    for task in p.tasks {
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }
    drop(p.telegram);
    drop(p.engine);
    let _ = p.writer.await;
}

fn texts(sent: &[Sent]) -> Vec<String> {
    sent.iter().map(Sent::text).collect()
}

/// Waits until a message to `chat` after the first `from` ones contains `needle`; returns the new ones.
async fn expect_after(api: &BotApi, chat: i64, from: usize, needle: &str) -> Vec<Sent> {
    let ok = api
        .wait_until(WAIT, |a| {
            a.sent_to(chat)
                .iter()
                .skip(from)
                .any(|m| m.text().contains(needle))
        })
        .await;
    let all = api.sent_to(chat);
    assert!(ok, "no {needle:?} for chat after {from}: {:?}", texts(&all));
    all[from..].to_vec()
}

/// The user in `chat` types `text`; waits for an answer containing `needle` after the messages the
/// chat had; returns the messages sent since.
async fn say(api: &BotApi, chat: i64, text: &str, needle: &str) -> Vec<Sent> {
    let n = api.sent_to(chat).len();
    api.user_text(chat, text);
    expect_after(api, chat, n, needle).await
}

/// As [`say`], for a press on the button with callback `data`.
async fn press(api: &BotApi, chat: i64, data: &str, needle: &str) -> Vec<Sent> {
    let n = api.sent_to(chat).len();
    api.user_press(chat, data);
    expect_after(api, chat, n, needle).await
}

/// As [`say`], for a `message` update with this body (a photo, a voice note).
async fn send_message(api: &BotApi, chat: i64, body: serde_json::Value, needle: &str) -> Vec<Sent> {
    let n = api.sent_to(chat).len();
    api.push_update("message", body);
    expect_after(api, chat, n, needle).await
}

/// Waits (bounded) until `check` holds for the store; fails naming `what`.
async fn stored(api: &BotApi, p: &Pandu, what: &str, check: impl Fn(&Store) -> bool) {
    let ok = api.wait_until(WAIT, |_| check(&p.store)).await;
    assert!(ok, "timed out waiting for: {what}");
}

/// The polling offset the engine committed, if any.
fn offset(store: &Store) -> Option<i64> {
    let stored = store.meta("telegram.offset").unwrap()?;
    Some(String::from_utf8(stored).unwrap().parse().unwrap())
}

fn count(api: &BotApi, chat: i64, needle: &str) -> usize {
    api.sent_to(chat)
        .iter()
        .filter(|m| m.text().contains(needle))
        .count()
}

#[tokio::test]
async fn a_conversation_by_buttons_and_by_typing() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 101;

    let menu = say(api, chat, "halo", "Pilih <menu> & lanjut:").await;
    let menu = menu.last().unwrap();
    assert_eq!(menu.parse_mode.as_deref(), Some("HTML"));
    assert!(
        menu.html.contains("Pilih &lt;menu&gt; &amp; lanjut:"),
        "{}",
        menu.html
    );
    assert_eq!(
        menu.buttons(),
        vec![
            ("Isi nama".to_string(), "main/start/1".to_string()),
            ("Info".to_string(), "main/start/2".to_string())
        ]
    );

    // By buttons: the press is a choice, and the callback query is answered.
    press(api, chat, "main/start/1", "Nama?").await;
    assert!(
        api.wait_until(WAIT, |a| a.callback_answers().len() == 1)
            .await
    );
    // The pressed menu loses its buttons (editMessageReplyMarkup without a keyboard).
    assert!(api.wait_until(WAIT, |a| a.markup_edits().len() == 1).await);
    let (edited_chat, edited_message, markup) = api.markup_edits().remove(0);
    assert_eq!((edited_chat, edited_message), (chat, menu.message_id));
    let keyboard = markup.as_ref().and_then(|m| m.get("inline_keyboard"));
    assert!(
        keyboard.is_none_or(|k| k.as_array().is_some_and(Vec::is_empty)),
        "{markup:?}"
    );

    // What the user types is shown back escaped, never as markup.
    let reply = say(api, chat, "Siti <b>&", "Halo Siti <b>&.").await;
    assert!(
        reply
            .iter()
            .any(|m| m.html.contains("Halo Siti &lt;b&gt;&amp;."))
    );

    // By typing: the menu keyword, then the number of a choice.
    say(api, chat, "0", "Pilih").await;
    say(api, chat, "2", "Info & fakta.").await;

    // /start restarts at the main menu.
    say(api, chat, "/start", "Pilih").await;

    // Nothing answered twice, the offset confirms everything, the commands were registered.
    assert_eq!(count(api, chat, "Nama?"), 1);
    assert_eq!(count(api, chat, "Info & fakta."), 1);
    let offset = offset(&p.store).unwrap();
    assert!(
        api.wait_until(WAIT, |a| a.confirmed_offset() == offset)
            .await
    );
    assert!(api.wait_until(WAIT, |a| a.commands().len() >= 2).await);
    let commands = api.commands();
    let default = commands
        .iter()
        .find(|c| c.get("language_code").is_none())
        .unwrap();
    let names: Vec<&str> = default["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["start", "menu", "bahasa", "status"]);
    assert!(commands.iter().any(|c| c["language_code"] == "en"));
    assert!(api.get_me_calls() >= 1);
    // Every delivery is on record (just after Telegram accepted it) with Telegram's message id.
    let sent = api.sent_to(chat).len();
    stored(api, &p, "every delivery recorded", |store| {
        store.deliveries(Channel::Telegram).unwrap().len() >= sent
    })
    .await;
    let records = p.store.deliveries(Channel::Telegram).unwrap();
    assert_eq!(records.len(), api.sent_to(chat).len());
    assert!(records.iter().all(|r| matches!(
        &r.delivery,
        Delivery::Sent {
            platform_id: Some(_),
            ..
        }
    )));
    stop(p).await;
}

#[tokio::test]
async fn a_crash_in_the_middle_loses_nothing_and_answers_nothing_twice() {
    let s = setup().await;
    let cfg = config(&s);
    let p = start(&s, &cfg, None).await;
    let api = &s.api;
    let chats: Vec<i64> = (201..=210).collect();
    for &chat in &chats {
        api.user_text(chat, "halo");
    }
    for &chat in &chats {
        expect_after(api, chat, 0, "Pilih").await;
    }
    // Replies can no longer leave: the presses are committed, their answers wait in the outbox.
    api.hold_sends(true);
    let mut last = 0;
    for &chat in &chats {
        last = api.user_press(chat, "main/start/1");
    }
    stored(api, &p, "the presses committed", |store| {
        offset(store) == Some(last + 1)
    })
    .await;
    crash(p).await;
    // The sends that were in flight never reached Telegram.
    api.discard_held_sends();
    // Users keep typing while the bot is gone.
    for &chat in &chats {
        api.user_text(chat, &format!("Nama{chat}"));
    }
    api.hold_sends(false);
    let p = start(&s, &cfg, None).await;
    for &chat in &chats {
        let all = expect_after(api, chat, 0, &format!("Halo Nama{chat}.")).await;
        let t = texts(&all);
        assert_eq!(count(api, chat, "Pilih"), 1, "{t:?}");
        assert_eq!(count(api, chat, "Nama?"), 1, "{t:?}");
        assert_eq!(count(api, chat, &format!("Halo Nama{chat}.")), 1, "{t:?}");
        let ask = t.iter().position(|x| x.contains("Nama?")).unwrap();
        let hello = t.iter().position(|x| x.contains("Halo")).unwrap();
        assert!(ask < hello, "{t:?}");
    }
    // Each delivery is recorded just after Telegram accepted it: the outbox empties.
    stored(api, &p, "the outbox drained", |store| {
        store
            .outbox_pending(Channel::Telegram, 10)
            .unwrap()
            .is_empty()
    })
    .await;
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_confirmed_to_telegram_only_after_its_commit() {
    let s = setup().await;
    let api = &s.api;
    let p = start(&s, &config(&s), None).await;
    let store = p.store.clone();
    api.check_confirmations(move |id| store.seen(Channel::Telegram, &id.to_string()).unwrap());
    // A slow commit (the action takes 400 ms), while other users keep writing: the poller must not
    // ask for more (which confirms) before it returned.
    let slow = api.user_text(1100, "lambat");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut last = slow;
    for round in 0..3 {
        for chat in 1101..=1250 {
            last = api.user_text(chat, if round == 0 { "halo" } else { "2" });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    expect_after(api, 1100, 0, "Selesai.").await;
    assert!(
        api.wait_until(Duration::from_secs(20), |a| a.confirmed_offset() > last)
            .await
    );
    assert_eq!(api.confirmed_uncommitted(), Vec::<i64>::new());
    for chat in [1101, 1250] {
        expect_after(api, chat, 0, "Info & fakta.").await;
    }
    stop(p).await;
}

#[tokio::test]
async fn the_same_update_delivered_twice_is_answered_once() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 301;
    let first = api.user_text(chat, "halo");
    expect_after(api, chat, 0, "Pilih").await;
    api.deliver_again(first);
    api.user_text(chat, "2");
    expect_after(api, chat, 1, "Info & fakta.").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(api, chat, "Pilih"),
        1,
        "{:?}",
        texts(&api.sent_to(chat))
    );
    stop(p).await;
}

#[tokio::test]
async fn flood_control_retry_after_is_honoured() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 401;
    api.fail_next_sends_with_429(1, 1);
    say(api, chat, "halo", "Pilih").await;
    let attempts = api.attempts_to(chat);
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let gap = attempts[1].at - attempts[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert_eq!(api.sent_to(chat).len(), 1);
    stop(p).await;
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 451;
    api.fail_next_sends_with_5xx(1);
    api.user_text(chat, "halo");
    // teloxide waits 10 s after a 5xx before returning it; then our backoff retries.
    let ok = api
        .wait_until(Duration::from_secs(20), |a| !a.sent_to(chat).is_empty())
        .await;
    assert!(ok);
    let statuses: Vec<u16> = api.attempts_to(chat).iter().map(|a| a.status).collect();
    assert_eq!(statuses, [502, 200]);
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_sending_until_the_delivery_is_recorded_and_nothing_goes_twice() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 481;
    // The answer is committed while the disk has room; Telegram takes its time to accept it.
    api.hold_sends(true);
    api.user_text(chat, "halo min");
    stored(api, &p, "the answer is queued", |store| {
        store.outbox_len(Channel::Telegram) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Now the disk is full: Telegram accepts the message, but the sender cannot record it.
    p.store.set_write_fault(pandu::storage::WriteFault::Failing);
    api.hold_sends(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let attempts = api.attempts_to(chat).len();
    assert_eq!(
        attempts, 1,
        "sent once, then nothing until the record is written"
    );
    // Room again: the record is written, and the message is not sent a second time.
    p.store.set_write_fault(pandu::storage::WriteFault::Off);
    stored(api, &p, "the delivery is recorded", |store| {
        store.outbox_len(Channel::Telegram) == 0
    })
    .await;
    let sent = texts(&api.sent_to(chat));
    assert_eq!(
        api.attempts_to(chat).len(),
        sent.len(),
        "each message once: {sent:?}"
    );
    stop(p).await;
}

#[tokio::test]
async fn the_api_down_for_a_while_then_back_delivers_everything_in_order() {
    let (s, p) = started().await;
    let api = &s.api;
    let (a, b) = (501, 502);
    say(api, a, "halo", "Pilih").await;
    api.hold_sends(true);
    api.user_press(a, "main/start/1");
    let last = api.user_text(b, "halo");
    assert!(
        api.wait_until(WAIT, |x| x.confirmed_offset() == last + 1
            || offset(&p.store) == Some(last + 1))
            .await
    );
    // Down: every connection is reset, the held sends fail, polling fails.
    api.set_down(true);
    api.discard_held_sends();
    api.user_text(a, "Budi");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(api.sent_to(a).len(), 1);
    api.set_down(false);
    let all = expect_after(api, a, 1, "Halo Budi.").await;
    let t = texts(&all);
    assert!(t[0].contains("Nama?"), "{t:?}");
    assert_eq!(count(api, a, "Nama?"), 1);
    assert_eq!(count(api, a, "Halo Budi."), 1);
    expect_after(api, b, 0, "Pilih").await;
    assert_eq!(count(api, b, "Pilih"), 1);
    stop(p).await;
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_is_recorded_and_not_retried() {
    let (s, p) = started().await;
    let api = &s.api;
    let (blocked, other) = (601, 602);
    api.block(blocked);
    api.user_text(blocked, "halo");
    say(api, other, "halo", "Pilih").await;
    stored(
        api,
        &p,
        "the blocked chat's delivery recorded as failed",
        |store| {
            store
                .deliveries(Channel::Telegram)
                .unwrap()
                .iter()
                .any(|r| r.entry.user.id == "601" && matches!(r.delivery, Delivery::Failed { .. }))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(api.attempts_to(blocked).len(), 1);
    assert!(api.sent_to(blocked).is_empty());
    let record = p
        .store
        .deliveries(Channel::Telegram)
        .unwrap()
        .into_iter()
        .find(|r| r.entry.user.id == "601")
        .unwrap();
    match record.delivery {
        Delivery::Failed { reason, .. } => assert!(reason.contains("blocked"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(
        p.store
            .outbox_for(&UserKey::new(Channel::Telegram, "601"))
            .unwrap()
            .is_empty()
    );
    stop(p).await;
}

#[tokio::test]
async fn updates_the_bot_cannot_use_are_skipped_and_never_stall_the_loop() {
    let s = setup().await;
    let api = &s.api;
    // All queued before the bot starts, so they come in one batch.
    api.push_update(
        "poll_answer",
        json!({"poll_id": "p1", "option_ids": [0], "user": {"id": 702, "is_bot": false, "first_name": "A"}}),
    );
    api.push_update("message", json!({"chat": "not a chat", "text": 5}));
    api.push_update("some_future_kind", json!({"x": 1}));
    // An update_id teloxide cannot read makes it refuse the whole batch.
    api.push_raw(|id| {
        format!(
            "{{\"update_id\":\"{id}\",\"message\":{{\"message_id\":1,\"date\":1,\"chat\":{{\"id\":703,\"type\":\"private\"}},\"text\":\"hai\"}}}}"
        )
    });
    let last = api.user_text(701, "halo");
    let p = start(&s, &config(&s), None).await;
    expect_after(api, 701, 0, "Pilih").await;
    assert!(api.wait_until(WAIT, |a| a.confirmed_offset() > last).await);
    assert_eq!(api.pending_updates(), 0);
    for chat in [702, 703] {
        assert!(api.sent_to(chat).is_empty());
        let user = UserKey::new(Channel::Telegram, chat.to_string());
        assert!(p.store.session(&user).unwrap().is_none());
    }
    // And the loop goes on.
    api.user_text(701, "2");
    expect_after(api, 701, 1, "Info & fakta.").await;
    stop(p).await;
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_answers_after_the_commit() {
    let s = setup().await;
    let mut cfg = config(&s);
    cfg.telegram.mode = "webhook".into();
    cfg.telegram.webhook_url = "https://pandu.example.id/webhooks/telegram".into();
    let p = start(&s, &cfg, None).await;
    let api = &s.api;
    assert!(api.wait_until(WAIT, |a| a.webhook().is_some()).await);
    assert_eq!(
        api.webhook().unwrap(),
        (
            cfg.telegram.webhook_url.clone(),
            Some(WEBHOOK_SECRET.to_string())
        )
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/telegram",
        listener.local_addr().unwrap()
    );
    let router = p.telegram.router();
    // The server holds the engine (through the router): it must end before the engine can.
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let chat = 801;
    let id = api.user_text(chat, "halo");
    let body = api.update_json(id);
    let http = reqwest::Client::new();
    let post = |secret: Option<&str>| {
        let mut r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(secret) = secret {
            r = r.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        r.send()
    };
    for secret in [None, Some("wrong"), Some("s3cret-webhook-toke")] {
        let status = post(secret).await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    }
    let user = UserKey::new(Channel::Telegram, chat.to_string());
    assert!(p.store.session(&user).unwrap().is_none());
    assert!(!p.store.seen(Channel::Telegram, &id.to_string()).unwrap());
    // The right secret: 200 only once committed (the session exists when the answer arrives).
    let status = post(Some(WEBHOOK_SECRET)).await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(p.store.seen(Channel::Telegram, &id.to_string()).unwrap());
    assert!(p.store.session(&user).unwrap().is_some());
    expect_after(api, chat, 0, "Pilih").await;
    // Telegram retries a webhook call: answered 200, handled once.
    let status = post(Some(WEBHOOK_SECRET)).await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.sent_to(chat).len(), 1);
    // An unparsable update is acknowledged and skipped.
    let status = http
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .body("{\"not\": \"an update\"}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    server.abort();
    let _ = server.await;
    stop(p).await;
    assert_eq!(api.webhook_deleted(), 1);
    assert!(api.webhook().is_none());
}

struct Staff;

impl StaffCommands for Staff {
    fn handle<'a>(
        &'a self,
        from: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        Box::pin(async move { (from == "77").then(|| format!("ok <{from}>: {text}")) })
    }
}

#[tokio::test]
async fn staff_chat_messages_go_to_staff_commands_not_dialogs() {
    let s = setup().await;
    let mut cfg = config(&s);
    cfg.telegram.staff_chat_id = -1001;
    let p = start(&s, &cfg, Some(Arc::new(Staff))).await;
    let api = &s.api;
    let group = json!({"id": -1001, "type": "supergroup", "title": "Staf"});
    for (from, text) in [(78, "/kasus PKL-2"), (77, "/kasus PKL-1")] {
        api.push_update(
            "message",
            json!({"message_id": 5, "date": 1, "chat": group,
                "from": {"id": from, "is_bot": false, "first_name": "P"}, "text": text}),
        );
    }
    let answers = expect_after(api, -1001, 0, "ok <77>: /kasus PKL-1").await;
    assert!(answers[0].html.contains("ok &lt;77&gt;"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        api.sent_to(-1001).len(),
        1,
        "the refused sender got no answer"
    );
    let user = UserKey::new(Channel::Telegram, "-1001");
    assert!(p.store.session(&user).unwrap().is_none());
    stop(p).await;
}

#[tokio::test]
async fn attachments_download_into_the_data_folder_within_the_cap() {
    let s = setup().await;
    let mut cfg = config(&s);
    cfg.telegram.max_download_bytes = 1000;
    let p = start(&s, &cfg, None).await;
    let api = &s.api;
    api.add_file("f-ok", "documents/file_1.pdf", 5, b"hello".to_vec());
    api.add_file("f-big", "documents/file_2.pdf", 5000, vec![1; 5000]);
    api.add_file("f-liar", "documents/file_3.pdf", 10, vec![2; 5000]);
    let path = p.telegram.download("f-ok").await.unwrap();
    assert!(path.starts_with(&s.data));
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    let big = p.telegram.download("f-big").await.unwrap_err();
    assert!(
        matches!(big, FileError::TooLarge { size: 5000, .. }),
        "{big}"
    );
    let liar = p.telegram.download("f-liar").await.unwrap_err();
    assert!(matches!(liar, FileError::TooLarge { .. }), "{liar}");
    let missing = p.telegram.download("f-none").await.unwrap_err();
    assert!(matches!(missing, FileError::GetFile(_)), "{missing}");
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(!format!("{missing} {liar} {big}").contains(TOKEN));
    stop(p).await;
}

#[tokio::test]
async fn an_attachment_a_question_accepts_is_downloaded_others_are_not() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 951;
    api.add_file("p-menu", "photos/file_1.jpg", 4, b"menu".to_vec());
    api.add_file("p-bukti", "photos/file_2.jpg", 5, b"bukti".to_vec());
    let photo = |file_id: &str| {
        json!({"message_id": 60, "date": 1,
            "chat": {"id": chat, "type": "private", "first_name": "U"},
            "from": {"id": chat, "is_bot": false, "first_name": "U", "language_code": "id"},
            "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 9, "height": 9, "file_size": 5}]})
    };
    // At the menu a photo is not accepted: answered, not fetched.
    say(api, chat, "halo", "Pilih").await;
    send_message(api, chat, photo("p-menu"), "Ketik saja.").await;
    // The evidence question accepts it: saved, then fetched into the data folder and recorded.
    say(api, chat, "bukti", "Kirim foto bukti.").await;
    send_message(api, chat, photo("p-bukti"), "Simpan.").await;
    stored(api, &p, "the file recorded", |store| {
        store.meta("telegram.file.p-bukti").unwrap().is_some()
    })
    .await;
    let path = p.store.meta("telegram.file.p-bukti").unwrap().unwrap();
    let path = PathBuf::from(String::from_utf8(path).unwrap());
    assert!(path.starts_with(&s.data), "{path:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"bukti");
    assert!(p.store.meta("telegram.file.p-menu").unwrap().is_none());
    let saved = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(saved, 1);
    stop(p).await;
}

#[tokio::test]
async fn no_token_means_no_telegram_and_says_why() {
    let s = setup().await;
    let (engine, _writer) = start_engine(&s, &open(&s), 60, 8);
    let err = Telegram::from_config(&config(&s), &Secrets::default(), engine.clone(), None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("PANDU_TELEGRAM_TOKEN"), "{err}");
    let mut cfg = config(&s);
    cfg.telegram.mode = "webhook".into();
    let err = Telegram::from_config(&cfg, &secrets(), engine, None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("webhook_url"), "{err}");
}

#[tokio::test]
async fn voice_notes_and_photos_get_a_clear_answer_where_text_is_expected() {
    let (s, p) = started().await;
    let api = &s.api;
    let chat = 901;
    say(api, chat, "halo", "Pilih").await;
    let user = json!({"id": chat, "is_bot": false, "first_name": "U", "language_code": "id"});
    let private = json!({"id": chat, "type": "private", "first_name": "U"});
    let media = [
        json!({"voice": {"file_id": "v1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}}),
        json!({"photo": [{"file_id": "p1", "file_unique_id": "p", "width": 90, "height": 90, "file_size": 900}]}),
    ];
    for (i, extra) in media.into_iter().enumerate() {
        let mut body = json!({"message_id": 50 + i, "date": 1, "chat": private, "from": user});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = send_message(api, chat, body, "Ketik saja.").await;
        assert_eq!(answer.len(), 1, "{:?}", texts(&answer));
    }
    // Still at the menu: a typed number goes on from there.
    say(api, chat, "2", "Info & fakta.").await;
    stop(p).await;
}

/// Lines of a child's stderr, read on a thread.
fn lines_of(stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn line_with(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        match rx.try_recv() {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no log line with {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pandu_serve_with_a_token_runs_telegram_and_refuses_staff_commands_from_others() {
    let s = setup().await;
    let api = &s.api;
    let staff_chat = -100_200;
    let (child, rx) = spawn_serve(
        &s,
        &[
            ("PANDU_TELEGRAM_STAFF_CHAT_ID", staff_chat.to_string()),
            ("PANDU_TELEGRAM_STAFF_USER_IDS", "77".to_string()),
        ],
    );
    let line = line_with(&rx, "listening").await;
    let addr = line.split("address=").nth(1).unwrap();
    let addr = addr.split_whitespace().next().unwrap().to_string();
    let health: serde_json::Value = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["channels"]["telegram"], "on", "{health}");

    // A user is answered through the real dialogs.
    let chat = 1001;
    api.user_text(chat, "/start");
    assert!(!api.wait_for(chat, 1, WAIT).await.is_empty());

    // In the staff chat: someone not in staff_user_ids is refused (no answer), staff are answered.
    let group = json!({"id": staff_chat, "type": "supergroup", "title": "Staf"});
    let mut last = 0;
    for from in [78, 77] {
        last = api.push_update(
            "message",
            json!({"message_id": 9, "date": 1, "chat": group,
                "from": {"id": from, "is_bot": false, "first_name": "P"}, "text": "/help"}),
        );
    }
    let answers = api.wait_for(staff_chat, 1, WAIT).await;
    assert!(answers[0].text().contains("/show"), "{:?}", texts(&answers));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        api.sent_to(staff_chat).len(),
        1,
        "the non-staff sender got an answer"
    );

    stop_serve(child, "-TERM").await;
    // Every update handled is confirmed on disk (the next start asks Telegram from there on).
    assert_eq!(offset(&open(&s)), Some(last + 1));
}

/// Stops a `pandu serve` child with `signal` (`-TERM`: it must exit cleanly; `-KILL`: it just dies),
/// waiting off the test's runtime so the stand-in Bot API keeps answering meanwhile.
async fn stop_serve(mut child: process::Running, signal: &'static str) {
    let status = tokio::task::spawn_blocking(move || {
        process::signal(child.id(), signal);
        process::wait_exit(&mut child, "pandu serve did not stop")
    })
    .await
    .unwrap();
    if signal == "-TERM" {
        assert!(status.success(), "{status}");
    }
}

/// `pandu serve` polling the stand-in Bot API, with `env` on top (the dialogs folder, the staff
/// chat, ...); without `PANDU_DIALOGS_DIR` it runs the shipped dialogs. Returns the child and its log
/// lines.
fn spawn_serve(
    s: &Setup,
    env: &[(&str, String)],
) -> (process::Running, std::sync::mpsc::Receiver<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pandu"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(root)
        .env("PANDU_DATA_DIR", &s.data)
        .env("PANDU_LOG", "info")
        .env("PANDU_TELEGRAM_TOKEN", TOKEN)
        .env("PANDU_TELEGRAM_API_URL", s.api.url())
        .env("PANDU_TELEGRAM_POLL_TIMEOUT_SECS", "1");
    for name in [
        "PANDU_DIALOGS_DIR",
        "PANDU_TELEGRAM_MODE",
        "PANDU_TELEGRAM_WEBHOOK_URL",
        "PANDU_TELEGRAM_STAFF_CHAT_ID",
        "PANDU_TELEGRAM_STAFF_USER_IDS",
        "PANDU_WHATSAPP_TOKEN",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = process::Running::spawn(
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    );
    let rx = lines_of(child.stderr.take().unwrap());
    (child, rx)
}

/// SIGKILL of `pandu serve` while Telegram updates pour in, the way a power cut would stop it. 30
/// chats each send three messages (hello, "1" for the name question, their name), all queued at
/// Telegram at once; the server is killed once about a third of the answers went out. Telegram keeps
/// every update the bot has not confirmed with `getUpdates` and hands it over again after the restart.
/// Every chat must get every answer in order: nothing confirmed to Telegram was lost, and an update
/// committed just before the kill but handed over again is not handled a second time (a second "1"
/// would become the name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_nothing_telegram_was_told_was_handled() {
    const CHATS: i64 = 30;
    let s = setup().await;
    let api = &s.api;
    let dialogs = s.data.parent().unwrap().join("serve-dialogs");
    engine_support::write_dialogs(&dialogs, "telegram");
    std::fs::remove_file(dialogs.join("lambat.yaml")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("dialogs/_cases.yaml"),
        dialogs.join("_cases.yaml"),
    )
    .unwrap();
    let serve_env = [
        ("PANDU_DIALOGS_DIR", dialogs.display().to_string()),
        ("PANDU_LANGUAGES", "id".to_string()),
    ];
    let chats: Vec<i64> = (3001..3001 + CHATS).collect();
    for &chat in &chats {
        api.user_text(chat, "halo");
        api.user_text(chat, "1");
        api.user_text(chat, &format!("Nama{chat}"));
    }
    let (child, rx) = spawn_serve(&s, &serve_env);
    line_with(&rx, "listening").await;
    assert!(
        api.wait_until(Duration::from_secs(30), |api| api.sent().len()
            >= CHATS as usize)
            .await,
        "no answers before the kill"
    );
    stop_serve(child, "-KILL").await;
    let before = api.sent().len();
    assert!(
        before < 3 * CHATS as usize,
        "the kill came after all the answers; nothing was tested"
    );

    let (child, rx) = spawn_serve(&s, &serve_env);
    line_with(&rx, "listening").await;
    let all_answered = api
        .wait_until(Duration::from_secs(30), |api| {
            chats.iter().all(|&chat| {
                texts(&api.sent_to(chat))
                    .iter()
                    .any(|t| t.starts_with(&format!("Halo Nama{chat}.")))
            })
        })
        .await;
    for &chat in &chats {
        let got = texts(&api.sent_to(chat));
        assert!(
            all_answered,
            "chat {chat} (answers before the kill: {before}): {got:?}"
        );
        // Each answer at least once, in order (a reply Telegram accepted just before the kill and the
        // server had no time to record goes out again: sending is at least once).
        let mut firsts: Vec<String> = Vec::new();
        for t in &got {
            if !firsts.contains(t) {
                firsts.push(t.clone());
            }
        }
        assert_eq!(firsts.len(), 3, "chat {chat}: {got:?}");
        assert!(firsts[0].starts_with("Pilih"), "chat {chat}: {got:?}");
        assert_eq!(firsts[1], "Nama?", "chat {chat}: {got:?}");
        assert!(
            firsts[2].starts_with(&format!("Halo Nama{chat}.")),
            "chat {chat}: {got:?}"
        );
    }
    // Everything handled is confirmed to Telegram: nothing is waiting to be handed over again.
    assert!(
        api.wait_until(WAIT, |api| api.pending_updates() == 0).await,
        "updates left unconfirmed"
    );
    stop_serve(child, "-TERM").await;
}
