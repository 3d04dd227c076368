//! The core's speed: the pure step function alone, and the durable path (engine commit + flush) one
//! message at a time and grouped under concurrent load.
//!
//! Run: `cargo bench --bench core`. Figures go to BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pandu::config::Config;
use pandu::dialog::{Input, InputKind, Session, StepEnv, step};
use pandu::engine::{Engine, EngineConfig, Inbound};
use pandu::storage::{Channel, Store, UserKey};

fn setup() -> (
    Config,
    pandu::dialog::Bot,
    pandu::dialog::Actions,
    tempfile::TempDir,
    Store,
) {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let config = Config::load(None, &|_| None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 64 << 20).unwrap();
    let actions = pandu::app::actions(&config, &store);
    let (bot, _) = pandu::app::load_bot(&config, &actions).unwrap();
    (config, bot, actions, dir, store)
}

fn bench_step(c: &mut Criterion) {
    let (_config, bot, actions, _dir, _store) = setup();
    let user = UserKey::new(Channel::Console, "bench");
    let at_menu = Session {
        last_seen: 1_800_000_000 - 5,
        position: Some(bot.start_position()),
        ..Session::default()
    };
    let env = StepEnv {
        now: 1_800_000_000,
        seed: 7,
        idle_secs: 3600,
        user: &user,
    };
    let mut group = c.benchmark_group("step");
    for (name, text) in [
        ("menu_number", "1"),
        (
            "free_text_trigger",
            "gmn syarat kerja ke taiwan, brp biayanya?",
        ),
        ("no_match_fallback", "asdf qwer zxcv"),
        (
            "free_text_examples",
            "ibu sy di hongkong gajinya ga dibayar 3 bln, majikannya jg galak, gmn ini min",
        ),
        (
            "free_text_long",
            "assalamualaikum min, mau tanya sy lulusan smp umur 38 thn, pengen kerja ke taiwan jd perawat lansia, syaratnya apa aja, biayanya brp, trus pt yg resmi di pekalongan apa aja ya, soalnya ada sponsor yg dateng ke rumah minta dp 10jt buat proses",
        ),
    ] {
        let input = Input {
            kind: InputKind::Text(text.into()),
            at: 0,
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                step(
                    &bot,
                    &actions,
                    black_box(at_menu.clone()),
                    black_box(&input),
                    &env,
                )
            })
        });
    }
    group.finish();
    // Loading the dialogs (parse, check, compile the regex sets, build the example index): what a
    // start and a SIGHUP reload cost.
    let (config, _, actions, _dir2, _store2) = setup();
    let mut group = c.benchmark_group("dialogs");
    group.sample_size(10);
    group.bench_function("load_and_check", |b| {
        b.iter(|| pandu::app::load_bot(&config, &actions).map(|(bot, _)| bot.flows.len()))
    });
    group.finish();
}

fn engine(
    store: &Store,
    bot: pandu::dialog::Bot,
    actions: pandu::dialog::Actions,
    config: &Config,
) -> Engine {
    Engine::start(
        store.clone(),
        Arc::new(RwLock::new(Arc::new(bot))),
        actions,
        pandu::app::effects(config),
        EngineConfig {
            idle_secs: 3600,
            max_batch: 256,
        },
    )
    .0
}

fn message(user: u64, n: u64) -> Inbound {
    Inbound {
        user: UserKey::new(Channel::Telegram, user.to_string()),
        message_id: format!("{user}-{n}"),
        input: Input {
            kind: InputKind::Text(if n.is_multiple_of(2) {
                "1".into()
            } else {
                "syarat".into()
            }),
            at: 0,
        },
        lang_hint: None,
    }
}

fn bench_durable(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (config, bot, actions, _dir, store) = setup();
    let engine = rt.block_on(async { engine(&store, bot, actions, &config) });
    let mut group = c.benchmark_group("durable");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    let mut n = 0u64;
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_message_commit_and_flush", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(engine.handle(message(n % 500, n))).unwrap()
        })
    });
    // 1,000 messages from 200 concurrent users: they share flushes (group commit).
    const BATCH: u64 = 1000;
    group.throughput(Throughput::Elements(BATCH));
    let mut round = 0u64;
    group.bench_function("grouped_1000_messages_200_users", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let start = Instant::now();
                rt.block_on(async {
                    let mut tasks = Vec::new();
                    for u in 0..200u64 {
                        let engine = engine.clone();
                        let r = round;
                        tasks.push(tokio::spawn(async move {
                            for k in 0..BATCH / 200 {
                                engine
                                    .handle(message(10_000 + u, r * 1_000_000 + k))
                                    .await
                                    .unwrap();
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_step, bench_durable);
criterion_main!(benches);
