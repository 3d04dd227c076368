//! WhatsApp webhook ingest with durable acknowledgement, on loopback.
//!
//! Phase 1 (ingest): 20,000 signed notifications (one text message each, 2,000 users) posted over 50
//! concurrent connections to the real router; every `200` means the message was committed and flushed
//! by the engine. Reports requests/s and p50/p99/max latency.
//! Phase 2 (end to end): the outbox sender drains the replies to the stand-in Graph API; reports
//! replies/s. The replies are the dialogs' answers to the phase-1 messages (if the dialogs ever
//! answered nothing, 20,000 replies would be queued through `Engine::send` instead).
//!
//! Run: `cargo bench --bench whatsapp_ingest` (release build; bounded, about a minute).

#![allow(clippy::unwrap_used)]

#[path = "../tests/whatsapp_support/graph_api.rs"]
mod graph_api;
#[path = "../tests/whatsapp_support/dialogs.rs"]
mod test_dialogs;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pandu::channels::whatsapp::{SenderOptions, WhatsApp, webhook};
use pandu::config::{Config, Secret, Secrets};
use pandu::dialog::{Actions, Bot, Reply, Severity};
use pandu::engine::{Engine, EngineConfig, IgnoreEffects, Outgoing};
use pandu::storage::{Channel, DEFAULT_CACHE_BYTES, OutboxKind, Store, UserKey};
use serde_json::json;

const REQUESTS: usize = 20_000;
const CONNECTIONS: usize = 50;
const USERS: usize = 2_000;
const APP_SECRET: &str = "bench-app-secret";

/// The real dialogs of the repository (`dialogs/`, `config/facts.yaml`), as `pandu serve` loads them.
/// While they do not pass the checker (content in the middle of a change), the small dialog folder of
/// the WhatsApp tests stands in, and the output says so: the figures then measure the same path with
/// shorter replies.
fn load_bot(actions: &Actions, dir: &std::path::Path) -> Bot {
    match pandu::app::load_bot(&Config::default(), actions) {
        Ok((bot, _)) => {
            println!("dialogs: the repository's dialogs/");
            bot
        }
        Err(diags) => {
            let errors: Vec<String> = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.to_string())
                .collect();
            println!(
                "dialogs: dialogs/ has {} error(s) (first: {}); using the WhatsApp tests' dialog folder",
                errors.len(),
                errors.first().map_or("", String::as_str)
            );
            test_dialogs::bot(dir)
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let graph = graph_api::GraphApi::start().await;
    let store = Store::open(&dir.path().join("db"), DEFAULT_CACHE_BYTES).unwrap();
    let actions = pandu::app::actions(&Config::default(), &store);
    let bot = load_bot(&actions, dir.path());
    let (engine, _writer) = Engine::start(
        store.clone(),
        Arc::new(RwLock::new(Arc::new(bot))),
        actions,
        Arc::new(IgnoreEffects),
        EngineConfig {
            idle_secs: 12 * 3600,
            max_batch: 256,
        },
    );
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.whatsapp.api_url = graph.url.clone();
    let secrets = Secrets {
        whatsapp_token: Some(Secret::new(graph_api::TOKEN)),
        whatsapp_app_secret: Some(Secret::new(APP_SECRET)),
        whatsapp_verify_token: Some(Secret::new("v")),
        whatsapp_phone_number_id: Some(graph_api::PHONE_NUMBER_ID.into()),
        ..Secrets::default()
    };
    let whatsapp =
        WhatsApp::with_options(&config, &secrets, engine.clone(), SenderOptions::default())
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH);
    let router = whatsapp.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // Bodies and signatures prepared before the clock starts.
    let now = pandu::time::now_secs();
    let bodies: Vec<(Vec<u8>, String)> = (0..REQUESTS)
        .map(|i| {
            let from = format!("62812{:08}", i % USERS);
            let body = json!({
                "object": "whatsapp_business_account",
                "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "15550783881", "phone_number_id": graph_api::PHONE_NUMBER_ID },
                    "contacts": [{ "profile": { "name": "Bench" }, "wa_id": from }],
                    "messages": [{ "from": from, "id": format!("wamid.BENCH{i:08}"),
                                   "timestamp": now.to_string(), "type": "text",
                                   "text": { "body": if i % 3 == 0 { "halo" } else { "syarat kerja ke taiwan" } } }]
                }}]}]
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            let signature = webhook::sign(APP_SECRET.as_bytes(), &bytes);
            (bytes, signature)
        })
        .collect();
    let bodies = Arc::new(bodies);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let bodies = bodies.clone();
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS / CONNECTIONS + 1);
            let mut failures = 0usize;
            for i in (c..REQUESTS).step_by(CONNECTIONS) {
                let (body, signature) = &bodies[i];
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .body(body.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => latencies.push(t.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await.unwrap();
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!("whatsapp ingest: {REQUESTS} requests, {CONNECTIONS} connections, {USERS} users");
    println!(
        "  acknowledged durably: {} ({} failed) in {:.2}s = {:.0} requests/s",
        latencies.len(),
        failures,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3
    );
    let seen = (0..REQUESTS)
        .filter(|i| {
            store
                .seen(Channel::Whatsapp, &format!("wamid.BENCH{i:08}"))
                .unwrap()
        })
        .count();
    println!("  committed messages found in the store: {seen}");

    // Phase 2: end to end to the stand-in Graph API.
    let queued = store.outbox_len(Channel::Whatsapp);
    let expected = if queued > 0 {
        println!("  replies from the dialogs waiting in the outbox: {queued}");
        queued
    } else {
        let outgoing: Vec<Outgoing> = (0..REQUESTS)
            .map(|i| Outgoing {
                user: UserKey::new(Channel::Whatsapp, format!("62812{:08}", i % USERS)),
                reply: Reply {
                    text: format!("Balasan nomor {i}"),
                    choices: Vec::new(),
                },
                kind: OutboxKind::Reply,
            })
            .collect();
        for chunk in outgoing.chunks(500) {
            engine.send(chunk.to_vec()).await.unwrap();
        }
        println!("  no dialog replies; queued {REQUESTS} replies through Engine::send");
        store.outbox_len(Channel::Whatsapp)
    };
    let sent_before = graph.sent().len();
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let sender = whatsapp.spawn_sender(shutdown);
    let deadline = Instant::now() + Duration::from_secs(120);
    while store.outbox_len(Channel::Whatsapp) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let sent = graph.sent().len() - sent_before;
    println!(
        "  end to end: {sent} messages accepted by the stand-in for {expected} outbox entries in {:.2}s = {:.0} replies/s (left in outbox: {})",
        elapsed.as_secs_f64(),
        expected as f64 / elapsed.as_secs_f64(),
        store.outbox_len(Channel::Whatsapp)
    );
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), sender).await;
}
