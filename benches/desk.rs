//! Staff desk benchmark: the desk's real router on 127.0.0.1 over a real sled store holding 100,000
//! cases (one of them with 500 timeline events), signed in as an admin, measured over HTTP with
//! reqwest. Prints p50/p99/max of the inbox's first page (default filter: open cases, overdue first),
//! a filtered inbox page, the case page with 500 events and the overview, and the one-off cost of
//! reading every case into the inbox's row cache (after a start, or after a case changed).
//!
//! Targets (issue 11): inbox p99 < 100 ms, case page with 500 events < 50 ms, overview < 200 ms.
//! Run: `cargo bench --bench desk` (seeding 100,000 cases takes a while; `PANDU_BENCH_CASES=20000`
//! for a quicker look).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pandu::cases::{CaseRecord, Event, EventKind, Priority, Status};
use pandu::config::Config;
use pandu::dialog::Lang;
use pandu::storage::{Channel, Store, UserKey};
use pandu::web::desk::{self, DeskState, seed};

const CATEGORIES: [&str; 6] = [
    "gaji",
    "kekerasan",
    "dokumen",
    "kontrak",
    "sakit",
    "meninggal",
];
const COUNTRIES: [&str; 6] = [
    "malaysia",
    "taiwan",
    "hongkong",
    "arab_saudi",
    "korea",
    "jepang",
];
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

fn code(n: usize) -> String {
    let mut s = String::from("PKL-");
    let mut x = n;
    for _ in 0..6 {
        s.push(char::from(ALPHABET[x % ALPHABET.len()]));
        x /= ALPHABET.len();
    }
    s
}

fn seed_cases(store: &Store, n: usize, long: &str) {
    let now = pandu::time::now_secs();
    for i in 0..n {
        let opened = now - (i as u64 * 97) % (120 * 86_400);
        let priority = [Priority::P1, Priority::P2, Priority::P3, Priority::P4][i % 4];
        let c = if i == 0 {
            long.to_string()
        } else {
            code(i + 1)
        };
        let record = CaseRecord {
            code: c.clone(),
            reporter: UserKey::new(Channel::Whatsapp, format!("62812{i:07}")),
            lang: Lang::Id,
            opened_at: opened,
            category: CATEGORIES[i % CATEGORIES.len()].into(),
            country: COUNTRIES[(i / 7) % COUNTRIES.len()].into(),
            priority,
            share_consent: i % 3 != 0,
            fields: BTreeMap::from([
                ("nama_pmi".to_string(), format!("Pekerja {i}")),
                ("cerita".to_string(), "gaji blm dibayar 3 bulan".to_string()),
            ]),
            attachments: Vec::new(),
        };
        let mut events = vec![
            Event {
                at: opened,
                actor: "system".into(),
                kind: EventKind::Opened {
                    priority,
                    reason: "kategori".into(),
                },
            },
            Event {
                at: opened + 60,
                actor: "reporter".into(),
                kind: EventKind::ReporterMessage {
                    text: Some("tolong dibantu pak".into()),
                    attachments: Vec::new(),
                },
            },
        ];
        if i % 3 == 1 {
            events.push(Event {
                at: opened + 3600,
                actor: "web:rina".into(),
                kind: EventKind::StaffReply {
                    text: "kami proses ya bu".into(),
                },
            });
        }
        if i % 5 == 2 {
            events.push(Event {
                at: opened + 7200,
                actor: "web:rina".into(),
                kind: EventKind::StatusChanged {
                    from: Status::New,
                    to: Status::Closed,
                    referred_to: None,
                    note: None,
                },
            });
        }
        if i == 0 {
            for k in 0..497u64 {
                events.push(Event {
                    at: opened + 100 + k,
                    actor: if k % 2 == 0 { "reporter" } else { "web:rina" }.into(),
                    kind: if k % 2 == 0 {
                        EventKind::ReporterMessage {
                            text: Some(format!("pesan ke-{k} dari keluarga")),
                            attachments: Vec::new(),
                        }
                    } else {
                        EventKind::StaffReply {
                            text: format!("balasan ke-{k}"),
                        }
                    },
                });
            }
        }
        seed::put_case(store, &record, &events).unwrap();
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Client {
    async fn time(&self, path: &str, n: usize) -> Vec<Duration> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = self
                .http
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            let body = r.bytes().await.unwrap();
            assert!(!body.is_empty());
            out.push(t.elapsed());
        }
        out.sort();
        out
    }
}

fn show(name: &str, times: &[Duration]) {
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<40} n={:<4} p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms",
        times.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    let n: usize = std::env::var("PANDU_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut config = Config {
            data_dir: tmp.path().join("data"),
            ..Config::default()
        };
        config.dialogs.dir = root.join("dialogs");
        config.dialogs.facts_file = root.join("config/facts.yaml");
        config.cases.contacts_file = root.join("config/contacts.yaml");
        config.agencies.sample_file = root.join("config/agencies.sample.csv");
        config.agencies.labels_file = root.join("config/agencies.toml");
        let store = Store::open(&config.data_dir.join("db"), 256 << 20).unwrap();
        let long = "PKL-MMMMMM";
        let t = Instant::now();
        seed_cases(&store, n, long);
        store.flush().await.unwrap();
        println!("seeded {n} cases in {:.1} s", t.elapsed().as_secs_f64());
        let running = pandu::app::start_engine(&config, &store).unwrap();
        let state = DeskState::new(running.engine.clone(), &config)
            .await
            .unwrap();
        let (_, password) = state
            .accounts()
            .add("admin", "admin", "bench")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = desk::router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // Sign in the way a browser does.
        let r = http
            .get(format!("{base}/staff/login"))
            .send()
            .await
            .unwrap();
        let login_cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let page = r.text().await.unwrap();
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = page[at..at + 64].to_string();
        let r = http
            .post(format!("{base}/staff/login"))
            .header("cookie", &login_cookie)
            .form(&[
                ("name", "admin"),
                ("password", password.as_str()),
                ("csrf", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with(desk::COOKIE))
            .unwrap();
        let client = Client { http, base, cookie };

        let cold = client.time("/staff", 1).await;
        show("inbox, first request (reads every case)", &cold);
        show(
            "inbox page 1 (open, overdue first)",
            &client.time("/staff", 200).await,
        );
        show(
            "inbox filtered (P1, malaysia, page 3)",
            &client
                .time("/staff?priority=P1&country=malaysia&page=3", 200)
                .await,
        );
        show(
            "case page, 500 timeline events",
            &client.time(&format!("/staff/case/{long}"), 200).await,
        );
        show("overview", &client.time("/staff/overview", 50).await);
        // A staff action elsewhere makes the next inbox read every case again.
        state.accounts().audit("bench", "touch", "").unwrap();
        pandu::cases::Desk::new(running.engine.clone(), &config)
            .unwrap()
            .note("bench", long, "catatan")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        show(
            "inbox after a change (re-read)",
            &client.time("/staff", 1).await,
        );
    });
}
