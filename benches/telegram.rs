//! The Telegram channel end to end, like real users, against the stand-in Bot API server on loopback
//! (`tests/telegram_support/bot_api.rs`): real teloxide, real HTTP, real sled commits.
//!
//! - Closed loop: 1,000 chats, 20,000 messages; a chat's next message is released only once the bot
//!   answered the previous one. Three runs by long polling, three by webhook (the bench posts each
//!   update to the bot's route, as Telegram does, at most 40 at once like Telegram's default
//!   `max_connections`); the median replies/s is reported, with p50/p99 latency (release → reply received
//!   by the stand-in) and each run's RSS: before, peak, and once the bot stopped (the process holds the bot,
//!   the stand-in and the driver; what stays after the bot stopped is the harness's: the stand-in keeps a log
//!   of every update and reply).
//! - Closed loop with the bot in its own process (`PANDU_BENCH=split`, also part of a full run): the
//!   bench binary re-executes itself with `PANDU_BENCH_ROLE=bot`, so the child's peak RSS is the bot's
//!   alone.
//! - Open loop (long polling): 1,000 users who think about 20 s between messages (exponential think
//!   times), for 40 s.
//!
//! Telegram's pacing (1 message/s per chat, 30/s overall) is switched off here: it measures the bot, not
//! the rate limits. Run: `cargo bench --bench telegram`. Figures go to BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

#[path = "../tests/telegram_support/bot_api.rs"]
mod bot_api;
#[path = "../tests/engine_support/mod.rs"]
mod engine_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_api::{BotApi, TOKEN};
use pandu::channels::telegram::Telegram;
use pandu::config::{Config, Secret, Secrets};
use pandu::dialog::Actions;
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};
use tokio::sync::watch;

const CHATS: i64 = 1000;
const MESSAGES: usize = 20_000;
const RUNS: usize = 3;
fn run_count() -> usize {
    std::env::var("PANDU_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS)
}
const OPEN_LOOP: Duration = Duration::from_secs(40);
const THINK: Duration = Duration::from_secs(20);

/// What a user sends at step `i` and a piece of the answer that shows it was handled.
fn script(i: usize) -> (&'static str, &'static str) {
    match i {
        0 => ("halo", "Pilih"),
        i if i % 2 == 1 => ("2", "Info"),
        _ => ("0", "Pilih"),
    }
}

/// sled's page cache for the bench (`storage.cache_mb`): `PANDU_BENCH_CACHE_MB`, else the default.
fn cache_bytes() -> u64 {
    std::env::var("PANDU_BENCH_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_CACHE_BYTES, |mb| mb * 1024 * 1024)
}

const WEBHOOK_SECRET: &str = "bench-webhook-secret";
/// Telegram's default `max_connections` for a webhook.
const WEBHOOK_CONNECTIONS: usize = 40;

/// How updates reach the bot: it polls the stand-in, or the bench posts them to its webhook route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Polling,
    Webhook,
}

struct Bot {
    _temp: tempfile::TempDir,
    api: BotApi,
    /// Webhook mode: where to post updates, and the server task serving the route.
    webhook: Option<(String, tokio::task::JoinHandle<()>)>,
    http: reqwest::Client,
    /// Webhook mode: Telegram keeps at most `max_connections` deliveries open at once (40 unless
    /// `setWebhook` says otherwise, and the bot does not).
    webhook_slots: Arc<tokio::sync::Semaphore>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
}

/// The bot's own parts: everything but the stand-in and the driver.
struct Parts {
    temp: tempfile::TempDir,
    telegram: Telegram,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
}

async fn start_bot(mode: Mode) -> Bot {
    let api = BotApi::start().await;
    let parts = start_telegram(mode, api.url()).await;
    let telegram = &parts.telegram;
    let webhook = match mode {
        Mode::Polling => None,
        Mode::Webhook => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!(
                "http://{}/webhooks/telegram",
                listener.local_addr().unwrap()
            );
            let router = telegram.router();
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
            Some((url, server))
        }
    };
    Bot {
        _temp: parts.temp,
        api,
        webhook,
        http: reqwest::Client::new(),
        webhook_slots: Arc::new(tokio::sync::Semaphore::new(WEBHOOK_CONNECTIONS)),
        shutdown: parts.shutdown,
        tasks: parts.tasks,
        writer: parts.writer,
    }
}

async fn start_telegram(mode: Mode, api_url: String) -> Parts {
    let temp = tempfile::tempdir().unwrap();
    let dialogs = temp.path().join("dialogs");
    // A menu, an answer, and back: every message the users send has exactly one recognisable answer.
    engine_support::write_dialogs(&dialogs, "telegram_bench");
    let mut config = Config {
        data_dir: temp.path().join("data"),
        ..Config::default()
    };
    config.telegram.api_url = api_url;
    config.telegram.poll_timeout_secs = 10;
    config.telegram.per_chat_interval_ms = 0;
    config.telegram.global_per_sec = 0;
    config.telegram.max_in_flight = 256;
    if mode == Mode::Webhook {
        config.telegram.webhook_url = "https://pandu.example.id/webhooks/telegram".into();
    }
    config.telegram.commands_file = temp.path().join("no-commands.toml");
    let store = Store::open(&config.data_dir.join("db"), cache_bytes()).unwrap();
    let (engine, writer) = engine_support::start_engine(store, &dialogs, Actions::new(), 3600, 256);
    let secrets = Secrets {
        telegram_token: Some(Secret::new(TOKEN)),
        telegram_webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        ..Secrets::default()
    };
    let telegram = Telegram::from_config(&config, &secrets, engine, None).unwrap();
    let (shutdown, rx) = watch::channel(false);
    let tasks = telegram.start(rx).await;
    Parts {
        temp,
        telegram,
        shutdown,
        tasks,
        writer,
    }
}

/// The runtime the bot runs on in every part of the bench: two worker threads.
fn two_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `PANDU_BENCH_ROLE=bot`: this process is only the bot (long polling against the stand-in at
/// `PANDU_BENCH_API_URL`), so its peak RSS is the bot's alone. Says `ready` on stdout; stops when stdin
/// closes.
fn bot_role() {
    let runtime = two_worker_runtime();
    runtime.block_on(async {
        let url = std::env::var("PANDU_BENCH_API_URL").unwrap();
        let parts = start_telegram(Mode::Polling, url).await;
        println!("ready");
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
        let Parts {
            temp,
            telegram,
            shutdown,
            tasks,
            writer,
        } = parts;
        drop(telegram);
        let _ = shutdown.send(true);
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
        drop(temp);
    });
}

/// The closed loop with the bot in a child process: the bot's own peak RSS (`VmHWM` of the child).
async fn closed_loop_split() -> (f64, Duration, Duration, f64) {
    use std::io::BufRead;
    let api = BotApi::start().await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("PANDU_BENCH_ROLE", "bot")
        .env("PANDU_BENCH_API_URL", api.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    })
    .await
    .unwrap();
    let sender = api.clone();
    let (rate, p50, p99) = drive(&api, Mode::Polling, move |chat, text| {
        sender.user_text(chat, text);
    })
    .await;
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0);
    drop(child.stdin.take());
    let _ = child.wait();
    (rate, p50, p99, peak)
}

async fn stop_bot(bot: Bot) {
    // The webhook server holds the engine (through the router): it ends first.
    if let Some((_, server)) = bot.webhook {
        server.abort();
        let _ = server.await;
    }
    let _ = bot.shutdown.send(true);
    for task in bot.tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    let _ = bot.writer.await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM` peak, `VmRSS` now), in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Restarts the peak (`VmHWM`) at the current RSS (Linux `clear_refs`), so each run reports its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Memory of one run: RSS before the bot started, the peak while it ran, and RSS once the bot stopped
/// (the stand-in keeps its log of every update and reply, the driver its latencies: the harness's part).
struct Memory {
    before: f64,
    peak: f64,
    after: f64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MB before, peak {:.1} MB (+{:.1}), {:.1} MB once the bot stopped",
            self.before,
            self.peak,
            self.peak - self.before,
            self.after
        )
    }
}

struct Outcome {
    memory: Memory,
    replies_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

impl Bot {
    /// A user's message: queued at the stand-in for polling, or posted to the webhook (which answers
    /// once it is committed; the post runs on its own task like Telegram's own delivery).
    fn user_text(&self, chat: i64, text: &str) {
        let id = self.api.user_text(chat, text);
        if let Some((url, _)) = &self.webhook {
            let request = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
                .body(self.api.update_json(id));
            let slots = self.webhook_slots.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                let status = request.send().await.map(|r| r.status());
                assert!(matches!(status, Ok(s) if s.is_success()), "{status:?}");
            });
        }
    }
}

async fn closed_loop(mode: Mode) -> Outcome {
    reset_peak();
    let before = status_mb("VmRSS:");
    let bot = start_bot(mode).await;
    let api = bot.api.clone();
    let (replies_per_sec, p50, p99) =
        drive(&api, mode, |chat, text| bot.user_text(chat, text)).await;
    let peak = peak_rss_mb();
    stop_bot(bot).await;
    Outcome {
        memory: Memory {
            before,
            peak,
            after: status_mb("VmRSS:"),
        },
        replies_per_sec,
        p50,
        p99,
    }
}

/// Releases every chat's messages one at a time, each after the reply to the previous one reached the
/// stand-in; returns replies/s and the p50/p99 of release → reply.
async fn drive(api: &BotApi, mode: Mode, send: impl Fn(i64, &str)) -> (f64, Duration, Duration) {
    let mut sent = api.subscribe();
    let per_chat = MESSAGES / CHATS as usize;
    // chat → (step, released at)
    let mut chats: HashMap<i64, (usize, Instant)> = HashMap::new();
    let begin = Instant::now();
    for chat in 1..=CHATS {
        send(chat, script(0).0);
        chats.insert(chat, (0, Instant::now()));
    }
    let mut latencies = Vec::with_capacity(MESSAGES);
    let mut replies = 0usize;
    let mut done = 0i64;
    while done < CHATS {
        let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(30), sent.recv()).await
        else {
            panic!(
                "no reply for 30 s: {} of {MESSAGES} answered",
                latencies.len()
            );
        };
        replies += 1;
        let Some((step, released)) = chats.get_mut(&message.chat_id) else {
            continue;
        };
        if !message.html.contains(script(*step).1) {
            continue;
        }
        latencies.push(message.at.saturating_duration_since(*released));
        *step += 1;
        if *step == per_chat {
            done += 1;
            continue;
        }
        *released = Instant::now();
        send(message.chat_id, script(*step).0);
    }
    let elapsed = begin.elapsed();
    if mode == Mode::Polling {
        let polls = api.get_updates_calls();
        println!(
            "  {polls} getUpdates calls: {:.1} updates per batch on average",
            MESSAGES as f64 / f64::from(polls.max(1))
        );
    }
    latencies.sort();
    (
        replies as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    )
}

/// Exponential think time with mean `THINK`, from a small xorshift generator (no extra crate).
fn think(state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let u = ((*state >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    THINK.mul_f64(-u.ln())
}

async fn open_loop() -> (usize, Duration, Duration) {
    reset_peak();
    let bot = start_bot(Mode::Polling).await;
    let api = bot.api.clone();
    let mut sent = api.subscribe();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    // Next release time per chat, and what each chat waits for.
    let begin = Instant::now();
    let mut next: Vec<(Instant, i64)> = (1..=CHATS)
        .map(|chat| (begin + think(&mut rng), chat))
        .collect();
    let mut waiting: HashMap<i64, (usize, Instant)> = HashMap::new();
    let mut steps: HashMap<i64, usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    while begin.elapsed() < OPEN_LOOP || !waiting.is_empty() {
        if begin.elapsed() > OPEN_LOOP + Duration::from_secs(30) {
            panic!("open loop: {} replies missing", waiting.len());
        }
        tokio::select! {
            message = sent.recv() => {
                let Some(message) = message else { break };
                if let Some((step, released)) = waiting.get(&message.chat_id).copied()
                    && message.html.contains(script(step).1)
                {
                    latencies.push(message.at.saturating_duration_since(released));
                    waiting.remove(&message.chat_id);
                    steps.insert(message.chat_id, step + 1);
                    next.push((Instant::now() + think(&mut rng), message.chat_id));
                }
            }
            _ = tick.tick() => {
                if begin.elapsed() >= OPEN_LOOP {
                    continue;
                }
                let now = Instant::now();
                let mut later = Vec::with_capacity(next.len());
                for (at, chat) in next.drain(..) {
                    if at <= now {
                        let step = steps.get(&chat).copied().unwrap_or(0);
                        api.user_text(chat, script(step).0);
                        waiting.insert(chat, (step, now));
                    } else {
                        later.push((at, chat));
                    }
                }
                next = later;
            }
        }
    }
    stop_bot(bot).await;
    latencies.sort();
    (
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    )
}

fn main() {
    if std::env::var("PANDU_BENCH_ROLE").as_deref() == Ok("bot") {
        bot_role();
        return;
    }
    // `cargo test --benches` runs bench binaries with no arguments but `--bench` absent: stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("telegram bench: run with `cargo bench --bench telegram`");
        return;
    }
    let runtime = two_worker_runtime();
    runtime.block_on(async {
        // Memory per run: the peak restarts before each run; "before" grows from run to run because
        // the stand-ins of earlier runs stay alive with their logs, so the increase is the run's own.
        // `PANDU_BENCH=polling|webhook|open` runs one part only (for profiling); default: all.
        let only = std::env::var("PANDU_BENCH").unwrap_or_default();
        for mode in [Mode::Polling, Mode::Webhook] {
            if !only.is_empty() && !only.eq_ignore_ascii_case(&format!("{mode:?}")) {
                continue;
            }
            let mut runs = Vec::new();
            for run in 1..=run_count() {
                let outcome = closed_loop(mode).await;
                println!(
                    "closed loop {mode:?} run {run}: {CHATS} chats, {MESSAGES} messages: {:.0} replies/s, p50 {:.2} ms, p99 {:.2} ms; {}",
                    outcome.replies_per_sec,
                    outcome.p50.as_secs_f64() * 1e3,
                    outcome.p99.as_secs_f64() * 1e3,
                    outcome.memory
                );
                runs.push(outcome);
            }
            runs.sort_by(|a, b| a.replies_per_sec.total_cmp(&b.replies_per_sec));
            let median = &runs[runs.len() / 2];
            println!(
                "closed loop {mode:?} median: {:.0} replies/s, p50 {:.2} ms, p99 {:.2} ms",
                median.replies_per_sec,
                median.p50.as_secs_f64() * 1e3,
                median.p99.as_secs_f64() * 1e3,
            );
        }
        if only.is_empty() || only == "split" {
            let (rate, p50, p99, peak) = closed_loop_split().await;
            println!(
                "closed loop Polling, bot in its own process: {CHATS} chats, {MESSAGES} messages: {rate:.0} replies/s, p50 {:.2} ms, p99 {:.2} ms; the bot's peak RSS {peak:.1} MB",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
            );
        }
        if !only.is_empty() && only != "open" {
            return;
        }
        let (n, p50, p99) = open_loop().await;
        println!(
            "open loop: {CHATS} users, think ~{} s, {} s: {n} replies, p50 {:.2} ms, p99 {:.2} ms; peak RSS during it {:.1} MB",
            THINK.as_secs(),
            OPEN_LOOP.as_secs(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            peak_rss_mb()
        );
    });
}
