//! A long life in a few minutes: many messages from many users through the real engine (the shipped
//! dialogs, the case effects, sled on disk), replies marked delivered as a sender would, and the
//! retention sweep running beside it with its windows scaled from days down to seconds. Prints the
//! database's size on disk as the messages go by: with retention on it levels off; with
//! `SOAK_RETENTION_SECS=0` (retention off) it grows with every message.
//!
//! Run: `cargo bench --bench soak` (quick: `SOAK_MESSAGES=200000`, the default). Knobs:
//! `SOAK_MESSAGES`, `SOAK_USERS` (20,000), `SOAK_RETENTION_SECS` (dedupe and delivery records kept
//! this long; sessions 3×; 20), `SOAK_CLIENTS` (concurrent senders, 64). Figures go to BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pandu::config::Config;
use pandu::dialog::{Input, InputKind};
use pandu::engine::Inbound;
use pandu::storage::retention::{Retention, SweepPace};
use pandu::storage::{Channel, Delivery, UserKey};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// What people type, informal: menus by number, questions, greetings.
const TEXTS: &[&str] = &[
    "halo",
    "1",
    "2",
    "menu",
    "syarat kerja ke taiwan brp biayanya",
    "0",
    "makasih kak",
    "cek pt",
    "3",
    "info gaji di malaysia",
    "bpjs pmi gmn",
    "ok",
];

/// Bytes the folder takes on disk (allocated blocks, so a sparse file counts what it uses).
fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn config(root: &Path, data: PathBuf) -> Config {
    let mut config = Config {
        data_dir: data,
        ..Config::default()
    };
    config.dialogs.dir = root.join("dialogs");
    config.dialogs.facts_file = root.join("config/facts.yaml");
    config.cases.contacts_file = root.join("config/contacts.yaml");
    config.agencies.sample_file = root.join("config/agencies.sample.csv");
    config.agencies.labels_file = root.join("config/agencies.toml");
    config
}

fn main() {
    let messages = env_or("SOAK_MESSAGES", 200_000);
    let users = env_or("SOAK_USERS", 20_000);
    let keep = env_or("SOAK_RETENTION_SECS", 20) as u64;
    let clients = env_or("SOAK_CLIENTS", 64);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let config = config(root, tmp.path().join("data"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = pandu::app::open_store(&config).unwrap();
        let running = pandu::app::start_engine(&config, &store).unwrap();
        let engine = running.engine.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if keep > 0 {
            pandu::storage::retention::spawn_sweeper(
                store.clone(),
                Retention {
                    delivered_secs: keep,
                    dedupe_secs: keep,
                    session_secs: 3 * keep,
                    unanswered_secs: keep,
                },
                SweepPace {
                    batch: 256,
                    pause: Duration::from_millis(5),
                    every: Duration::from_secs(1),
                },
                stop_rx.clone(),
            );
        }
        // The sender: marks what was queued as delivered, in groups, as the channels do.
        let done = Arc::new(AtomicBool::new(false));
        let drain = {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                loop {
                    let finished = done.load(Ordering::Relaxed);
                    let s = store.clone();
                    let n = tokio::task::spawn_blocking(move || {
                        let queued = s.outbox_pending(Channel::Whatsapp, 2_000).unwrap();
                        let now = pandu::time::now_secs();
                        s.outbox_finish_many(queued.iter().map(|e| {
                            (
                                e,
                                Delivery::Sent {
                                    platform_id: Some(format!("wamid.{}", e.seq)),
                                    at: now,
                                },
                            )
                        }))
                        .unwrap();
                        queued.len()
                    })
                    .await
                    .unwrap();
                    if n == 0 {
                        if finished {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        };
        let sent = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let data = config.data_dir.clone();
        println!(
            "soak: {messages} messages from {users} users, {clients} at once, retention {}",
            if keep > 0 {
                format!("{keep} s (sessions {} s)", 3 * keep)
            } else {
                "off".into()
            }
        );
        println!("{:>9} {:>8} {:>10} {:>12}", "messages", "secs", "msg/s", "disk MB");
        let mut tasks = Vec::new();
        for c in 0..clients {
            let engine = engine.clone();
            let sent = sent.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = c;
                while i < messages {
                    let user = UserKey::new(Channel::Whatsapp, format!("62800{:06}", i % users));
                    let text = TEXTS[(i / users + i) % TEXTS.len()];
                    engine
                        .handle(Inbound {
                            user,
                            message_id: format!("wamid.soak.{i}"),
                            input: Input {
                                kind: InputKind::Text(text.into()),
                                at: 0,
                            },
                            lang_hint: None,
                        })
                        .await
                        .unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                    i += clients;
                }
            }));
        }
        let step = (messages / 20).max(1);
        let mut next = step;
        let mut sizes = Vec::new();
        while next <= messages {
            while sent.load(Ordering::Relaxed) < next {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let secs = started.elapsed().as_secs_f64();
            let mb = disk_bytes(&data) as f64 / 1e6;
            sizes.push(mb);
            println!(
                "{next:>9} {secs:>8.1} {:>10.0} {mb:>12.1}",
                next as f64 / secs
            );
            next += step;
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.store(true, Ordering::Relaxed);
        drain.await.unwrap();
        let half = sizes.len() / 2;
        let late: Vec<f64> = sizes[half..].to_vec();
        let (lo, hi) = late
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        println!(
            "second half of the run: disk between {lo:.1} and {hi:.1} MB; {:.1} KB per message overall",
            sizes.last().copied().unwrap_or(0.0) * 1e3 / messages as f64
        );
        let _ = stop_tx.send(true);
        drop(engine);
        drop(running);
        let _ = store.flush().await;
    });
}
