//! The staff desk in a real browser: headless Chromium driven over WebDriver against the real
//! `pandu serve` binary, with Telegram on the stand-in Bot API. An officer signs in, opens the overdue
//! P1 case from the top of the inbox, shows the personal data, replies and refers the case to BP3MI;
//! the family receives the reply on Telegram. A viewer sees masked data, is offered no action, and a
//! forged form is refused. The run writes screenshots to `docs/` (the README shows them).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`); without
//! them the test fails and says so.

#![allow(clippy::unwrap_used)]

#[path = "telegram_support/bot_api.rs"]
mod bot_api;
#[path = "process_support/mod.rs"]
mod process;
#[path = "webdriver_support/mod.rs"]
mod webdriver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bot_api::{BotApi, TOKEN};
use pandu::cases::{CaseRecord, Event, EventKind, Priority};
use pandu::config::DeskConfig;
use pandu::dialog::Lang;
use pandu::storage::{Channel, Store, UserKey};
use pandu::web::desk::accounts::Accounts;
use pandu::web::desk::seed;

const FAMILY_CHAT: i64 = 5_550_001;
const P1: &str = "PKL-7KQ2MX";
const WORKER: &str = "Siti Aminah";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn event(at: u64, actor: &str, kind: EventKind) -> Event {
    Event {
        at,
        actor: actor.into(),
        kind,
    }
}

/// A data folder with a few reports (made-up people) and two desk accounts; returns the passwords.
async fn prepare(data: &Path) -> (String, String) {
    let store = Store::open(&data.join("db"), 8 << 20).unwrap();
    let now = pandu::time::now_secs();
    let case =
        |code: &str, chat: i64, hours_ago: u64, category: &str, country: &str, p: Priority| {
            let opened = now - hours_ago * 3600;
            let record = CaseRecord {
                code: code.into(),
                reporter: UserKey::new(Channel::Telegram, chat.to_string()),
                lang: Lang::Id,
                opened_at: opened,
                category: category.into(),
                country: country.into(),
                priority: p,
                share_consent: true,
                fields: BTreeMap::from([
                    ("nama_pmi".to_string(), WORKER.to_string()),
                    ("negara".to_string(), country.to_string()),
                    (
                        "cerita".to_string(),
                        "paspor ditahan majikan, gaji 3 bln blm dibayar".to_string(),
                    ),
                ]),
                attachments: Vec::new(),
            };
            let events = vec![
                event(
                    opened,
                    "system",
                    EventKind::Opened {
                        priority: p,
                        reason: "kategori".into(),
                    },
                ),
                event(
                    opened + 120,
                    "reporter",
                    EventKind::ReporterMessage {
                        text: Some("tolong pak adik sy ga bs pulang hp nya diambil".into()),
                        attachments: Vec::new(),
                    },
                ),
            ];
            (record, events)
        };
    for (record, events) in [
        case(P1, FAMILY_CHAT, 7, "kekerasan", "malaysia", Priority::P1),
        case("PKL-3HNW4P", 5_550_002, 30, "gaji", "taiwan", Priority::P2),
        case(
            "PKL-9TFXCR",
            5_550_003,
            2,
            "dokumen",
            "hongkong",
            Priority::P3,
        ),
        case(
            "PKL-M4KD7Z",
            5_550_004,
            200,
            "kontrak",
            "arab_saudi",
            Priority::P3,
        ),
    ] {
        seed::put_case(&store, &record, &events).unwrap();
    }
    let accounts = Accounts::open(&store, &DeskConfig::default())
        .await
        .unwrap();
    let (_, officer) = accounts.add("rina", "officer", "test").await.unwrap();
    let (_, viewer) = accounts.add("dodi", "viewer", "test").await.unwrap();
    store.flush().await.unwrap();
    drop(accounts);
    drop(store);
    (officer, viewer)
}

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

/// `pandu serve` on a free port; returns the child and the desk URL it printed. The caller stops and
/// waits for the child; this waits only when it gives up on it.
#[allow(clippy::zombie_processes)]
async fn serve(data: &Path, api: &BotApi) -> (process::Running, String) {
    let mut child = process::Running::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_pandu"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(root())
            .env("PANDU_DATA_DIR", data)
            .env("PANDU_LOG", "warn")
            .env("PANDU_TELEGRAM_TOKEN", TOKEN)
            .env("PANDU_TELEGRAM_API_URL", api.url())
            .env("PANDU_TELEGRAM_POLL_TIMEOUT_SECS", "1")
            .env("PANDU_TELEGRAM_MODE", "polling")
            .env_remove("PANDU_WHATSAPP_TOKEN")
            .env_remove("PANDU_DIALOGS_DIR")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    );
    let rx = lines_of(child.stderr.take().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(at) = line.find("http://")
        {
            let url = line[at..].trim().to_string();
            if url.ends_with("/staff") {
                // Keep reading stderr so the child never blocks on a full pipe.
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return (child, url);
            }
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pandu serve did not print the desk URL");
        }
    }
}

async fn sign_in(b: &webdriver::Browser, desk: &str, name: &str, password: &str) {
    b.open(&format!("{desk}/login")).await;
    b.type_into("input[name=name]", name).await;
    b.type_into("input[name=password]", password).await;
    b.click_and_wait("button[type=submit]").await;
}

fn save(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(root().join("docs").join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_answers_and_refers_the_overdue_p1_case_and_a_viewer_cannot() {
    let driver = webdriver::Driver::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (officer, viewer) = prepare(&data).await;
    let api = BotApi::start().await;
    let (mut child, desk) = serve(&data, &api).await;

    let b = driver.browser(1280, 900).await;
    b.open(&desk).await;
    assert!(
        b.url().await.ends_with("/staff/login"),
        "the desk opened without signing in"
    );
    sign_in(&b, &desk, "rina", &officer).await;
    let inbox = b.source().await;
    assert!(inbox.contains("Kotak masuk"), "{inbox}");
    save("desk-inbox.png", &b.screenshot().await);

    // The overdue P1 case is the first row; open it.
    let first = b.find("table.cases tbody tr:first-child a").await;
    let _ = first;
    b.click_and_wait("table.cases tbody tr:first-child a").await;
    assert!(
        b.url().await.ends_with(P1),
        "the first row is not the overdue P1 case"
    );
    let page = b.source().await;
    assert!(page.contains("LEWAT TARGET"));
    assert!(
        !page.contains(WORKER),
        "personal data shown before the officer chose to"
    );

    b.click_and_wait("#reveal").await;
    let page = b.source().await;
    assert!(page.contains(WORKER));
    assert!(
        page.contains("dilihat (web)"),
        "the view is not in the timeline"
    );

    let answer = "Bu, kami sdh hubungi BP3MI. Mohon tunggu kabar dari kami ya.";
    b.type_into("#reply-text", answer).await;
    b.click_and_wait("#send-reply").await;
    let page = b.source().await;
    assert!(page.contains("akan terkirim lewat"), "{page}");

    b.click("#status-select option[value=referred]").await;
    b.click("#referral-select option[value=bp3mi]").await;
    b.click_and_wait("#change-status").await;
    let page = b.source().await;
    assert!(page.contains("BP3MI"), "{page}");
    save("desk-case.png", &b.screenshot().await);

    b.open(&format!("{desk}/overview")).await;
    assert!(b.count("svg.chart").await >= 5);
    save("desk-overview.png", &b.screenshot().await);

    // The family hears it on Telegram: the reply, then the referral.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let texts: Vec<String> = api.sent_to(FAMILY_CHAT).iter().map(|s| s.text()).collect();
        if texts.iter().any(|t| t.contains(answer)) && texts.iter().any(|t| t.contains("BP3MI")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the family did not receive the reply: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.click_and_wait("form.who button").await;
    assert!(b.url().await.ends_with("/staff/login"));
    b.quit().await;

    // A viewer: masked data, no actions offered, a forged form refused.
    let v = driver.browser(1280, 900).await;
    sign_in(&v, &desk, "dodi", &viewer).await;
    v.open(&format!("{desk}/case/{P1}")).await;
    let page = v.source().await;
    assert!(!page.contains(WORKER));
    assert_eq!(v.count("#reveal").await, 0);
    assert_eq!(v.count("#reply-text").await, 0);
    assert_eq!(v.count("#change-status").await, 0);
    let sent_before = api.sent_to(FAMILY_CHAT).len();
    for action in ["reply", "reveal", "status", "assign"] {
        v.open(&format!("{desk}/case/{P1}")).await;
        v.script(&format!(
            "const f = document.createElement('form'); f.method = 'post'; \
             f.action = '/staff/case/{P1}/{action}'; \
             for (const [k, val] of [['csrf', document.querySelector('input[name=csrf]').value], \
               ['text', 'halo'], ['status', 'closed'], ['to', 'dodi']]) {{ \
               const i = document.createElement('input'); i.name = k; i.value = val; f.appendChild(i); }} \
             document.body.appendChild(f); f.submit();"
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let page = v.source().await;
        assert!(page.contains("Tidak diizinkan"), "{action}: {page}");
    }
    v.quit().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        api.sent_to(FAMILY_CHAT).len(),
        sent_before,
        "a viewer's form reached the family"
    );

    process::signal(child.id(), "-TERM");
    process::wait_exit(&mut child, "pandu serve did not stop on SIGTERM");
}
