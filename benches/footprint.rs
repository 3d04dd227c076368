//! Footprint and speed of `pandu serve` itself (issue 16): the release binary as its own process, long
//! polling the stand-in Bot API (`tests/telegram_support/bot_api.rs`) on loopback, with the real
//! `dialogs/` and `config/`, and a registry of 500 companies imported with `pandu agencies import`.
//!
//! - Closed loop: every chat sends `/start`, then "cek perusahaan", a company name, "cek perusahaan", a
//!   name, ...; a chat's next message is released only once the bot's answer to the last one reached the
//!   stand-in. Half the names are registered exactly, half are look-alikes (one typo, or words swapped).
//! - Open loop: users who think ≈ 20 s (exponential) between messages, the same script.
//!
//! Measured from the bot's process alone: peak RSS (`VmHWM` in `/proc/<pid>/status`), CPU time
//! (`utime + stime` in `/proc/<pid>/stat`) spent while the loop ran, divided by the replies, and the
//! database's size on disk at the end; from the stand-in: replies/s and the p50/p99 of release → reply.
//! Telegram's pacing (1 message/s per chat, 30/s overall) is off: it measures the bot, not the limits.
//!
//! The short form (the default: 200 chats, 4,000 messages; open loop 200 users for 20 s) takes a few
//! seconds; `PANDU_BENCH_FULL=1` runs the scenario (1,000 chats, 20,000 messages; open loop
//! 1,000 users for 40 s). `PANDU_BENCH_RUNS=n` repeats the closed loop (median reported);
//! `PANDU_BENCH_CACHE_MB` sets `storage.cache_mb`; `PANDU_BENCH=closed|open` runs one part;
//! `PANDU_BENCH_BIN` runs another `pandu` binary (an older build, to compare); `PANDU_BENCH_WRAP` starts
//! `serve` under a command prefix (`"heaptrack -o target/tmp/ht"`, `"perf record -g -o target/tmp/p.data"`:
//! words split at spaces), measuring and stopping the `pandu` process underneath it.
//! Run: `cargo bench --bench footprint` (builds the release binary it starts).

#![allow(clippy::unwrap_used)]

#[path = "../tests/telegram_support/bot_api.rs"]
mod bot_api;
#[path = "../tests/process_support/mod.rs"]
mod process;
#[path = "../tests/rng_support/mod.rs"]
mod rng;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bot_api::{BotApi, TOKEN};
use rng::Rng;

const COMPANIES: usize = 500;
const THINK: Duration = Duration::from_secs(20);

/// The size of a run: the short form unless `PANDU_BENCH_FULL` is set.
#[derive(Clone, Copy)]
struct Scale {
    chats: i64,
    messages: usize,
    open_users: i64,
    open_for: Duration,
}

fn scale() -> Scale {
    if std::env::var_os("PANDU_BENCH_FULL").is_some() {
        Scale {
            chats: 1000,
            messages: 20_000,
            open_users: 1000,
            open_for: Duration::from_secs(40),
        }
    } else {
        Scale {
            chats: 200,
            messages: 4_000,
            open_users: 200,
            open_for: Duration::from_secs(20),
        }
    }
}

fn run_count() -> usize {
    std::env::var("PANDU_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

const SYLLABLES: &[&str] = &[
    "ka", "ri", "ma", "su", "to", "la", "na", "di", "wa", "sa", "ga", "ra", "ta", "ni", "ba", "de",
    "pu", "jo", "an", "in", "gu", "me", "so", "ha",
];
const COMMON: &[&str] = &[
    "sukses",
    "mandiri",
    "utama",
    "jaya",
    "abadi",
    "sentosa",
    "karya",
    "bina",
    "mitra",
    "harapan",
    "sejahtera",
    "samudra",
    "putra",
    "duta",
    "makmur",
    "berkah",
    "nusantara",
    "prima",
];

fn capitalise(w: &str) -> String {
    let mut chars = w.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A listing of [`COMPANIES`] companies (some with branches) as CSV, and their names.
fn registry() -> (String, Vec<String>) {
    let mut rng = Rng(0x5EED_0016);
    let mut csv = String::from(
        "# source: DATA BENCH (fiktif)\n# as_of: 2026-11-01\n\
         nama_perusahaan;nomor_izin;status;jenis_kantor;alamat;kota;provinsi;tanggal_izin;telepon\n",
    );
    let mut names = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while names.len() < COMPANIES {
        let rare: String = (0..2 + rng.below(2))
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        let name = format!(
            "PT {} {} {}",
            capitalise(COMMON[rng.below(COMMON.len())]),
            capitalise(&rare),
            capitalise(COMMON[rng.below(COMMON.len())])
        );
        if !seen.insert(name.to_lowercase()) {
            continue;
        }
        let i = names.len();
        let status = ["aktif", "aktif", "aktif", "dibekukan", "dicabut"][i % 5];
        for b in 0..=(i % 3) {
            let kind = if b == 0 {
                "kantor pusat"
            } else {
                "kantor cabang"
            };
            csv.push_str(&format!(
                "{name};KEP.{}/{};{status};{kind};\"Jl. Raya {i} No. {b}\";Kota Semarang;Jawa Tengah;2020-01-15;0285-{i}{b}\n",
                100 + i,
                2015 + i % 10
            ));
        }
        names.push(name);
    }
    (csv, names)
}

/// A look-alike of a registered name: one typo in its longest word, sometimes two words swapped.
fn look_alike(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').skip(1).map(str::to_lowercase).collect();
    let longest = (0..words.len())
        .max_by_key(|&i| words[i].len())
        .unwrap_or(0);
    let mut chars: Vec<char> = words[longest].chars().collect();
    if chars.len() >= 4 {
        let at = 1 + rng.below(chars.len() - 2);
        if rng.below(2) == 0 {
            chars.swap(at, at + 1);
        } else {
            chars.remove(at);
        }
    }
    words[longest] = chars.into_iter().collect();
    if rng.below(2) == 0 {
        words.swap(0, 1);
    }
    format!("pt {}", words.join(" "))
}

/// What a chat sends at step `i`: `/start`, then "cek perusahaan" and a name in turn (even names
/// registered, odd ones look-alikes, by a per-chat counter).
fn message(i: usize, chat: i64, names: &[String], rng: &mut Rng) -> String {
    match i {
        0 => "/start".into(),
        i if i % 2 == 1 => "cek perusahaan".into(),
        i => {
            let n = (chat as usize * 7 + i) % names.len();
            if (i / 2 + chat as usize).is_multiple_of(2) {
                names[n].clone()
            } else {
                look_alike(&names[n], rng)
            }
        }
    }
}

/// The bot's process; killed on every path (a failing bench leaves no server behind).
struct Served {
    child: Child,
    /// The `pandu` process itself: the child, or the child's descendant under `PANDU_BENCH_WRAP`.
    pid: u32,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.pid != self.child.id() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test: the release build of this tree, or `PANDU_BENCH_BIN` (to compare builds).
fn binary() -> PathBuf {
    std::env::var_os("PANDU_BENCH_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pandu")), PathBuf::from)
}

fn pandu(data: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .current_dir(root())
        .env("PANDU_DATA_DIR", data)
        .env_remove("PANDU_WHATSAPP_TOKEN");
    if let Ok(mb) = std::env::var("PANDU_BENCH_CACHE_MB") {
        command.env("PANDU_STORAGE_CACHE_MB", mb);
    }
    command
}

/// Imports the registry, then starts `pandu serve` polling `api`; returns once it listens.
fn serve(api: &BotApi, csv: &str) -> Served {
    let base = root().join("target/tmp");
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::tempdir_in(&base).unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("p3mi.csv");
    std::fs::write(&file, csv).unwrap();
    let out = pandu(&data)
        .args(["agencies", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut command = match std::env::var("PANDU_BENCH_WRAP") {
        Ok(wrap) if !wrap.trim().is_empty() => {
            let mut words = wrap.split_whitespace();
            let mut wrapped = Command::new(words.next().unwrap());
            wrapped.args(words).arg(binary());
            let plain = pandu(&data);
            wrapped.current_dir(root());
            for (k, v) in plain.get_envs() {
                match v {
                    Some(v) => wrapped.env(k, v),
                    None => wrapped.env_remove(k),
                };
            }
            wrapped
        }
        _ => pandu(&data),
    };
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PANDU_LOG", "info")
        .env("PANDU_TELEGRAM_TOKEN", TOKEN)
        .env("PANDU_TELEGRAM_API_URL", api.url())
        .env("PANDU_TELEGRAM_PER_CHAT_INTERVAL_MS", "0")
        .env("PANDU_TELEGRAM_GLOBAL_PER_SEC", "0")
        .env("PANDU_TELEGRAM_COMMANDS_FILE", dir.path().join("none.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    let mut served = Served { child, pid, dir };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !said && line.contains("listening") {
                said = true;
                let _ = tx.send(());
            }
            if line.contains("ERROR") || line.contains("WARN") {
                eprintln!("pandu: {line}");
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("pandu serve did not start listening");
    served.pid = pandu_pid(pid);
    served
}

/// The `pandu` process at or under `pid` (a wrapper's descendant), by its name.
fn pandu_pid(pid: u32) -> u32 {
    let comm = |p: u32| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        if comm(p).trim() == "pandu" {
            return p;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            frontier.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    pid
}

/// `/proc/<pid>/status` field in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Samples `/proc/<pid>/status` every 5 ms until [`RssSampler::finish`]: the peak of the anonymous
/// (heap, stacks) and of the file-backed (the binary's code and libraries, mapped as run) resident
/// memory. `VmHWM` is the kernel's peak of their sum; this says which part it was made of. Clean
/// file-backed pages are shared with the page cache and dropped first when memory runs short; the
/// anonymous ones are what the process really holds.
struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<(f64, f64)>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut anon, mut file) = (0f64, 0f64);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                anon = anon.max(status_mb(pid, "RssAnon:"));
                file = file.max(status_mb(pid, "RssFile:"));
                std::thread::sleep(Duration::from_millis(5));
            }
            (anon, file)
        });
        RssSampler { stop, handle }
    }

    /// (peak anonymous, peak file-backed) in MB.
    fn finish(self) -> (f64, f64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or((0.0, 0.0))
    }
}

/// CPU time (user + system) of process `pid` so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), counted from 3 (state).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime is field 14, stime 15 (1-based): 11 and 12 after the state field.
    let total = ticks(11) + ticks(12);
    Duration::from_secs_f64(total as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            total += if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            };
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Figures {
    replies: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    peak_mb: f64,
    /// Sampled peaks of the anonymous and the file-backed part ([`RssSampler`]).
    anon_mb: f64,
    file_mb: f64,
    cpu_per_reply: Duration,
    db_mb: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} replies, {:.0} replies/s, p50 {:.2} ms, p99 {:.2} ms; the bot: peak RSS {:.1} MB (anonymous {:.1}, file-backed {:.1}), CPU {:.0} µs per reply; database {:.1} MB",
            self.replies,
            self.per_sec,
            ms(self.p50),
            ms(self.p99),
            self.peak_mb,
            self.anon_mb,
            self.file_mb,
            self.cpu_per_reply.as_secs_f64() * 1e6,
            self.db_mb
        )
    }
}

/// A chat waits for one reply per message: the first message the bot sends it after the release.
/// (Every step of the script answers with one message; a second would show up as a reply to the next
/// step and be counted in `stray`.)
async fn closed_loop(csv: &str, names: &[String], scale: Scale) -> Figures {
    let api = BotApi::start().await;
    let served = serve(&api, csv);
    let pid = served.pid;
    let rss = RssSampler::start(pid);
    let mut sent = api.subscribe();
    let per_chat = scale.messages / scale.chats as usize;
    let mut rng = Rng(0xC0FF_EE16);
    let cpu_before = cpu(pid);
    let begin = Instant::now();
    let mut chats: HashMap<i64, (usize, Instant)> = HashMap::new();
    for chat in 1..=scale.chats {
        api.user_text(chat, &message(0, chat, names, &mut rng));
        chats.insert(chat, (0, Instant::now()));
    }
    let mut latencies = Vec::with_capacity(scale.messages);
    let mut done = 0;
    while done < scale.chats {
        let Ok(Some(reply)) = tokio::time::timeout(Duration::from_secs(30), sent.recv()).await
        else {
            panic!(
                "no reply for 30 s: {} of {} answered",
                latencies.len(),
                scale.messages
            );
        };
        let Some((step, released)) = chats.get_mut(&reply.chat_id) else {
            continue;
        };
        latencies.push(reply.at.saturating_duration_since(*released));
        *step += 1;
        if *step == per_chat {
            done += 1;
            continue;
        }
        *released = Instant::now();
        let text = message(*step, reply.chat_id, names, &mut rng);
        api.user_text(reply.chat_id, &text);
    }
    let elapsed = begin.elapsed();
    let cpu_used = cpu(pid).saturating_sub(cpu_before);
    let peak_mb = status_mb(pid, "VmHWM:");
    let (anon_mb, file_mb) = rss.finish();
    // Let the last records land, then stop the bot the way a service manager does.
    tokio::time::sleep(Duration::from_millis(500)).await;
    process::signal(pid, "-TERM");
    let mut served = served;
    process::wait_exit(&mut served.child, "pandu serve did not stop on SIGTERM");
    let db_mb = dir_size(&served.dir.path().join("data")) as f64 / 1e6;
    let stray = api.sent().len().saturating_sub(latencies.len());
    if stray > 0 {
        println!("  ({stray} replies beyond one per message)");
    }
    latencies.sort();
    Figures {
        replies: latencies.len(),
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        peak_mb,
        anon_mb,
        file_mb,
        cpu_per_reply: cpu_used / latencies.len().max(1) as u32,
        db_mb,
    }
}

/// Exponential think time with mean [`THINK`].
fn think(rng: &mut Rng) -> Duration {
    let u = (rng.below(1 << 30) as f64 + 1.0) / (1u64 << 30) as f64;
    THINK.mul_f64(-u.ln())
}

async fn open_loop(csv: &str, names: &[String], scale: Scale) -> Figures {
    let api = BotApi::start().await;
    let served = serve(&api, csv);
    let pid = served.pid;
    let rss = RssSampler::start(pid);
    let mut sent = api.subscribe();
    let mut rng = Rng(0x0DE7_1016);
    let cpu_before = cpu(pid);
    let begin = Instant::now();
    let mut next: Vec<(Instant, i64)> = (1..=scale.open_users)
        .map(|chat| (begin + think(&mut rng), chat))
        .collect();
    let mut waiting: HashMap<i64, Instant> = HashMap::new();
    let mut steps: HashMap<i64, usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    while begin.elapsed() < scale.open_for || !waiting.is_empty() {
        assert!(
            begin.elapsed() < scale.open_for + Duration::from_secs(30),
            "open loop: {} replies missing",
            waiting.len()
        );
        tokio::select! {
            reply = sent.recv() => {
                let Some(reply) = reply else { break };
                if let Some(released) = waiting.remove(&reply.chat_id) {
                    latencies.push(reply.at.saturating_duration_since(released));
                    *steps.entry(reply.chat_id).or_default() += 1;
                    next.push((Instant::now() + think(&mut rng), reply.chat_id));
                }
            }
            _ = tick.tick() => {
                if begin.elapsed() >= scale.open_for {
                    continue;
                }
                let now = Instant::now();
                let mut later = Vec::with_capacity(next.len());
                for (at, chat) in std::mem::take(&mut next) {
                    if at <= now {
                        let step = steps.get(&chat).copied().unwrap_or(0);
                        api.user_text(chat, &message(step, chat, names, &mut rng));
                        waiting.insert(chat, now);
                    } else {
                        later.push((at, chat));
                    }
                }
                next = later;
            }
        }
    }
    let elapsed = begin.elapsed();
    let cpu_used = cpu(pid).saturating_sub(cpu_before);
    let peak_mb = status_mb(pid, "VmHWM:");
    let (anon_mb, file_mb) = rss.finish();
    process::signal(pid, "-TERM");
    let mut served = served;
    process::wait_exit(&mut served.child, "pandu serve did not stop on SIGTERM");
    let db_mb = dir_size(&served.dir.path().join("data")) as f64 / 1e6;
    latencies.sort();
    Figures {
        replies: latencies.len(),
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        peak_mb,
        anon_mb,
        file_mb,
        cpu_per_reply: cpu_used / latencies.len().max(1) as u32,
        db_mb,
    }
}

/// The disk's own floor under the open loop's latency: a reply there is sent only after its record is
/// flushed, so no reply can be faster than one `fdatasync` of the disk the data lives on. Appends 2 KB
/// and syncs, 400 times, 20 ms apart (about the open loop's rate), in the same folder as the bot's data.
fn disk_floor() -> (Duration, Duration) {
    use std::io::Write;
    let base = root().join("target/tmp");
    std::fs::create_dir_all(&base).unwrap();
    let mut file = tempfile::tempfile_in(&base).unwrap();
    let mut lat = Vec::with_capacity(400);
    for _ in 0..400 {
        file.write_all(&[b'x'; 2048]).unwrap();
        let t = Instant::now();
        file.sync_data().unwrap();
        lat.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    lat.sort();
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}

/// `PANDU_BENCH_PROBE=1`: one chat through the script, printing each reply (to check that every step
/// answers with exactly one message).
async fn probe(csv: &str, names: &[String]) {
    let api = BotApi::start().await;
    let _served = serve(&api, csv);
    let mut rng = Rng(1);
    for i in 0..7 {
        let text = message(i, 1, names, &mut rng);
        api.user_text(1, &text);
        tokio::time::sleep(Duration::from_millis(700)).await;
        for m in api
            .sent_to(1)
            .iter()
            .skip(api.sent_to(1).len().saturating_sub(3))
        {
            println!("> {text}\n< {}\n", m.text());
        }
        println!("  ({} messages so far)", api.sent_to(1).len());
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries without `--bench`: stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("footprint bench: run with `cargo bench --bench footprint`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (csv, names) = registry();
    let scale = scale();
    let only = std::env::var("PANDU_BENCH").unwrap_or_default();
    runtime.block_on(async {
        if std::env::var_os("PANDU_BENCH_PROBE").is_some() {
            probe(&csv, &names).await;
            return;
        }
        if only.is_empty() || only == "closed" {
            let mut runs = Vec::new();
            for run in 1..=run_count() {
                let figures = closed_loop(&csv, &names, scale).await;
                println!(
                    "closed loop run {run}: {} chats, {} messages: {figures}",
                    scale.chats, scale.messages
                );
                runs.push(figures);
            }
            let median = |f: fn(&Figures) -> f64| {
                let mut v: Vec<f64> = runs.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            println!(
                "closed loop median of {}: {:.0} replies/s, p50 {:.2} ms, p99 {:.2} ms, peak RSS {:.1} MB (anonymous {:.1}, file-backed {:.1}), CPU {:.0} µs per reply, database {:.1} MB",
                runs.len(),
                median(|f| f.per_sec),
                median(|f| ms(f.p50)),
                median(|f| ms(f.p99)),
                median(|f| f.peak_mb),
                median(|f| f.anon_mb),
                median(|f| f.file_mb),
                median(|f| f.cpu_per_reply.as_secs_f64() * 1e6),
                median(|f| f.db_mb),
            );
        }
        if only.is_empty() || only == "open" {
            let (p50, p99) = tokio::task::spawn_blocking(disk_floor).await.unwrap();
            println!(
                "disk floor (fdatasync of 2 KB, 400 times, 20 ms apart): p50 {:.2} ms, p99 {:.2} ms",
                ms(p50),
                ms(p99)
            );
            let figures = open_loop(&csv, &names, scale).await;
            println!(
                "open loop: {} users, think ≈ {} s, {} s: {figures}",
                scale.open_users,
                THINK.as_secs(),
                scale.open_for.as_secs()
            );
        }
    });
}
