//! A photo or screenshot of a job offer, sent where Pandu waits for the offer's text, through the real
//! Telegram and WhatsApp channels (stand-in Bot API and Graph API on 127.0.0.1), the shipped dialogs
//! and the real engine on sled. OCR is a stand-in `tesseract`: a shell script written into the test's
//! temp folder that prints a known offer (so CI needs no Tesseract), or one that is missing, or one
//! that sleeps past the time limit. The user must get the offer's verdict with its strong signs, or a
//! clear "please type or paste it", never silence.

#![allow(clippy::unwrap_used)]

#[path = "telegram_support/bot_api.rs"]
mod bot_api;
#[path = "whatsapp_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bot_api::{BotApi, Sent, TOKEN};
use pandu::channels::telegram::Telegram;
use pandu::channels::whatsapp::{WhatsApp, webhook};
use pandu::config::{Config, Secret, Secrets};
use pandu::storage::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::graph_api::GraphApi;
use support::payloads;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

/// What the stand-in Tesseract "reads" in the screenshot: a Cambodia online-scam offer as OCR gives
/// it (line breaks where the picture had them, a stray character or two).
const CAMBODIA_OFFER: &str = "\
LOWONGAN KERJA LUAR NEGERI !!
Dibutuhkan segera Admin / Customer Service
Penempatan: Phnom Penh, KAMBOJA
Gaji 15.000.000 / bulan + bonus
Tanpa pengalaman, tidak perlu ijazah |
Tiket & visa ditanggung, berangkat minggu depan
Biaya administrasi Rp 3.500.000 transfer ke
rek BCA 0000000777 a.n. Fulan
Info & daftar: WA 0812-0000-0777";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// An executable shell script `name` in `dir` with `body`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A stand-in `tesseract` that prints the Cambodia offer, but only for a real, non-empty image file
/// given as its first argument (so a photo that was never downloaded reads nothing).
fn reading_tesseract(dir: &Path) -> PathBuf {
    script(
        dir,
        "tesseract",
        &format!("test -s \"$1\" || exit 3\ncat <<'EOF'\n{CAMBODIA_OFFER}\nEOF"),
    )
}

/// The shipped dialogs, config files and a fresh data folder, with OCR run by `tesseract`.
fn config(tmp: &Path, tesseract: &Path, timeout_secs: u64) -> Config {
    let mut config = Config {
        data_dir: tmp.join("data"),
        ..Config::default()
    };
    config.dialogs.dir = root().join("dialogs");
    config.dialogs.facts_file = root().join("config/facts.yaml");
    config.cases.contacts_file = root().join("config/contacts.yaml");
    config.agencies.sample_file = root().join("config/agencies.sample.csv");
    config.agencies.labels_file = root().join("config/agencies.toml");
    config.ocr.tesseract = tesseract.display().to_string();
    config.ocr.timeout_secs = timeout_secs;
    config
}

/// Files left in a folder (none if it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

// --- Telegram ---------------------------------------------------------------------------------

struct TelegramPandu {
    api: BotApi,
    store: Store,
    telegram: Telegram,
    engine: pandu::engine::Engine,
    writer: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    data: PathBuf,
}

async fn telegram(config: &mut Config) -> TelegramPandu {
    telegram_on(BotApi::start().await, config).await
}

/// Pandu on `config`'s data folder, polling `api`.
async fn telegram_on(api: BotApi, config: &mut Config) -> TelegramPandu {
    config.telegram.api_url = api.url();
    config.telegram.poll_timeout_secs = 1;
    config.telegram.per_chat_interval_ms = 0;
    config.telegram.global_per_sec = 0;
    config.telegram.commands_file = root().join("config/telegram.toml");
    let store = pandu::app::open_store(config).unwrap();
    let running = pandu::app::start_engine(config, &store).unwrap();
    let secrets = Secrets {
        telegram_token: Some(Secret::new(TOKEN)),
        ..Secrets::default()
    };
    let telegram = Telegram::from_config(config, &secrets, running.engine.clone(), None).unwrap();
    let (shutdown, rx) = watch::channel(false);
    let tasks = telegram.start(rx).await;
    TelegramPandu {
        api,
        store,
        telegram,
        engine: running.engine,
        writer: running.writer,
        tasks,
        shutdown,
        data: config.data_dir.clone(),
    }
}

impl TelegramPandu {
    /// Waits until a message to `chat` after the first `from` contains `needle`; returns the new ones.
    async fn expect_after(&self, chat: i64, from: usize, needle: &str) -> Vec<String> {
        let ok = self
            .api
            .wait_until(WAIT, |a| {
                a.sent_to(chat)
                    .iter()
                    .skip(from)
                    .any(|m| m.text().contains(needle))
            })
            .await;
        let all: Vec<String> = self.api.sent_to(chat).iter().map(Sent::text).collect();
        assert!(ok, "no {needle:?} after message {from}: {all:#?}");
        all[from..].to_vec()
    }

    async fn say(&self, chat: i64, text: &str, needle: &str) -> Vec<String> {
        let n = self.api.sent_to(chat).len();
        self.api.user_text(chat, text);
        self.expect_after(chat, n, needle).await
    }

    /// The user in `chat` sends a photo (`file_id`, served by the stand-in with these bytes).
    fn photo(&self, chat: i64, file_id: &str, bytes: &[u8]) -> i64 {
        self.api.add_file(
            file_id,
            &format!("photos/{file_id}.jpg"),
            bytes.len() as u64,
            bytes.to_vec(),
        );
        self.api.push_update(
            "message",
            json!({"message_id": 70, "date": pandu::time::now_secs(),
                "chat": {"id": chat, "type": "private", "first_name": "U"},
                "from": {"id": chat, "is_bot": false, "first_name": "U", "language_code": "id"},
                "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 720,
                    "height": 1280, "file_size": bytes.len()}]}),
        )
    }

    fn count(&self, chat: i64, needle: &str) -> usize {
        self.api
            .sent_to(chat)
            .iter()
            .filter(|m| m.text().contains(needle))
            .count()
    }

    /// Kills the work at once, wherever it is (tasks aborted, engine dropped, store closed); returns
    /// the stand-in Bot API, which keeps the chat.
    async fn crash(self) -> BotApi {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        drop(self.telegram);
        drop(self.engine);
        let _ = self.writer.await;
        drop(self.store);
        self.api
    }

    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        for task in self.tasks {
            tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
        }
        drop(self.telegram);
        drop(self.engine);
        let _ = self.writer.await;
        drop(self.store);
    }
}

#[tokio::test]
async fn telegram_a_screenshot_of_a_cambodia_offer_is_read_and_gets_the_strong_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let tesseract = reading_tesseract(tmp.path());
    let mut cfg = config(tmp.path(), &tesseract, 10);
    let p = telegram(&mut cfg).await;
    let chat = 7001;
    p.say(
        chat,
        "min tolong cekin info loker yg aku dapet dr grup",
        "Tempel",
    )
    .await;
    let n = p.api.sent_to(chat).len();
    let update = p.photo(chat, "ss-kamboja", b"\xff\xd8\xff screenshot");
    let got = p.expect_after(chat, n, "tanda kuat").await;
    let all = got.join("\n---\n");
    assert!(all.contains("Gambar diterima"), "{all}");
    for sign in ["penipuan online", "rekening pribadi"] {
        assert!(all.contains(sign), "{sign:?} not in {all}");
    }
    assert!(!all.contains("hanya bisa membaca tulisan"), "{all}");
    // The same photo delivered again is handled once: no second reading, no second verdict.
    p.api.deliver_again(update);
    p.say(chat, "menu", "Selamat datang").await;
    assert_eq!(p.count(chat, "Gambar diterima"), 1);
    assert_eq!(p.count(chat, "tanda kuat"), 1);
    // The picture was fetched only to be read: nothing of it stays in the data folder.
    let folder = p.data.join("telegram_files");
    assert!(files_in(&folder).is_empty(), "{:?}", files_in(&folder));
    p.stop().await;
}

#[tokio::test]
async fn telegram_a_crash_while_a_photo_is_read_reads_it_after_the_restart_and_answers_once() {
    let tmp = tempfile::tempdir().unwrap();
    // The first Tesseract is still reading when the process dies.
    let stuck_dir = tmp.path().join("stuck");
    std::fs::create_dir_all(&stuck_dir).unwrap();
    let stuck = script(&stuck_dir, "tesseract", "sleep 4");
    let mut cfg = config(tmp.path(), &stuck, 30);
    let p = telegram(&mut cfg).await;
    let chat = 7003;
    p.say(chat, "tolong cek lowongan ini ya min", "Tempel")
        .await;
    let n = p.api.sent_to(chat).len();
    p.photo(chat, "ss-crash", b"\xff\xd8\xff crash");
    p.expect_after(chat, n, "Gambar diterima").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let api = p.crash().await;
    // Restarted with a Tesseract that reads: the photo is read without the user sending it again.
    let mut cfg = config(tmp.path(), &reading_tesseract(tmp.path()), 10);
    let p = telegram_on(api, &mut cfg).await;
    p.expect_after(chat, n, "tanda kuat").await;
    p.say(chat, "menu", "Selamat datang").await;
    assert_eq!(p.count(chat, "tanda kuat"), 1);
    assert_eq!(p.count(chat, "Gambar diterima"), 1);
    p.stop().await;
}

#[tokio::test]
async fn telegram_without_tesseract_a_photo_gets_please_type_and_the_typed_offer_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), &tmp.path().join("no-such-tesseract"), 10);
    let p = telegram(&mut cfg).await;
    let chat = 7002;
    // A forwarded offer: the bot asks whether to check it; the user sends the screenshot instead.
    p.say(
        chat,
        "Lowongan kerja di Malaysia!! gaji 9jt bersih, dibutuhkan operator kilang, biaya medical dan \
         visa 4jt bayar dimuka ke sponsor, hub Pak Fulan 0812 0000 0888",
        "periksa",
    )
    .await;
    let n = p.api.sent_to(chat).len();
    p.photo(chat, "ss-no-ocr", b"\xff\xd8\xff picture");
    let got = p.expect_after(chat, n, "tidak bisa saya baca").await;
    let all = got.join("\n");
    assert!(all.contains("ketik atau tempel"), "{all}");
    assert!(!all.contains("tanda kuat"), "{all}");
    // Typing the text goes on to the check, as asked.
    p.say(
        chat,
        "kerja di kamboja jd admin gaji 15jt, tanpa pengalaman, transfer biaya 5jt ke rek pribadi",
        "tanda kuat",
    )
    .await;
    p.stop().await;
}

// --- WhatsApp ---------------------------------------------------------------------------------

const USER: &str = "6281200000777";

struct WhatsAppPandu {
    graph: GraphApi,
    url: String,
    http: reqwest::Client,
    whatsapp: WhatsApp,
    engine: pandu::engine::Engine,
    store: Store,
    writer: JoinHandle<()>,
    sender: JoinHandle<()>,
    server: JoinHandle<()>,
    shutdown: watch::Sender<bool>,
    data: PathBuf,
}

async fn whatsapp(config: &mut Config) -> WhatsAppPandu {
    let graph = GraphApi::start().await;
    config.whatsapp.api_url = graph.url.clone();
    let store = pandu::app::open_store(config).unwrap();
    let running = pandu::app::start_engine(config, &store).unwrap();
    let whatsapp = WhatsApp::with_options(
        config,
        &support::app::secrets(),
        running.engine.clone(),
        support::app::fast_options(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH);
    let router = whatsapp.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (shutdown, rx) = watch::channel(false);
    let sender = whatsapp.spawn_sender(rx);
    WhatsAppPandu {
        graph,
        url,
        http: reqwest::Client::new(),
        whatsapp,
        engine: running.engine,
        store,
        writer: running.writer,
        sender,
        server,
        shutdown,
        data: config.data_dir.clone(),
    }
}

/// What a sent WhatsApp message shows: its text, or the body of its buttons or list.
fn shown(message: &Value) -> String {
    message["text"]["body"]
        .as_str()
        .or_else(|| message["interactive"]["body"]["text"].as_str())
        .unwrap_or("")
        .to_string()
}

impl WhatsAppPandu {
    async fn post(&self, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = webhook::sign(support::app::APP_SECRET.as_bytes(), &bytes);
        let status = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(bytes)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "the webhook refused {body}");
    }

    /// Waits until a send after the first `from` shows `needle`; returns the new ones.
    async fn expect_after(&self, from: usize, needle: &str) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all: Vec<String> = self.graph.sent().iter().map(shown).collect();
            if all.iter().skip(from).any(|m| m.contains(needle)) {
                return all[from..].to_vec();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} after send {from}: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn say(&self, wamid: &str, text: &str, needle: &str) -> Vec<String> {
        let n = self.graph.sent().len();
        let now = pandu::time::now_secs();
        self.post(&payloads::text(USER, wamid, now, text)).await;
        self.expect_after(n, needle).await
    }

    async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(WAIT, self.sender)
            .await
            .unwrap()
            .unwrap();
        self.server.abort();
        let _ = self.server.await;
        drop((self.engine, self.whatsapp, self.http));
        tokio::time::timeout(WAIT, self.writer)
            .await
            .unwrap()
            .unwrap();
        self.store.flush().await.unwrap();
    }
}

#[tokio::test]
async fn whatsapp_a_photo_sent_instead_of_yes_check_is_read_and_gets_the_strong_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let tesseract = reading_tesseract(tmp.path());
    let mut cfg = config(tmp.path(), &tesseract, 10);
    let p = whatsapp(&mut cfg).await;
    p.say(
        "wamid.O1",
        "info loker nih dr sodara: dibutuhkan pekerja kebun di Malaysia gaji 8jt, potong gaji 6 bulan \
         buat biaya, brangkat cepat hub wa 0813 0000 0999",
        "periksa",
    )
    .await;
    p.graph
        .add_media("889900112233", b"\xff\xd8\xff photo".to_vec(), "image/jpeg");
    let n = p.graph.sent().len();
    let now = pandu::time::now_secs();
    p.post(&payloads::image(USER, "wamid.O2", now, "889900112233"))
        .await;
    let got = p.expect_after(n, "tanda kuat").await.join("\n---\n");
    assert!(got.contains("Gambar diterima"), "{got}");
    assert!(got.contains("penipuan online"), "{got}");
    // Read once, and not kept: the picture belongs to no report.
    let folder = p.data.join("attachments").join("whatsapp");
    assert!(files_in(&folder).is_empty(), "{:?}", files_in(&folder));
    p.stop().await;
}

#[tokio::test]
async fn whatsapp_a_reading_that_takes_too_long_is_stopped_and_the_user_is_asked_to_type() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = script(tmp.path(), "tesseract", "sleep 30\necho 'Kerja di Kamboja'");
    let mut cfg = config(tmp.path(), &slow, 1);
    let p = whatsapp(&mut cfg).await;
    p.say(
        "wamid.S1",
        "mau ngecek lowongan kerja yg dikirim tetangga",
        "Tempel",
    )
    .await;
    p.graph
        .add_media("5544332211", b"\x89PNG slow".to_vec(), "image/png");
    let n = p.graph.sent().len();
    let started = std::time::Instant::now();
    let now = pandu::time::now_secs();
    p.post(&payloads::image(USER, "wamid.S2", now, "5544332211"))
        .await;
    let got = p.expect_after(n, "tidak bisa saya baca").await.join("\n");
    assert!(got.contains("ketik atau tempel"), "{got}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the reading was not stopped at its limit"
    );
    // The question still waits: the typed offer is checked.
    p.say(
        "wamid.S3",
        "kerja online di kamboja gaji 15jt tanpa pengalaman, biaya 5jt tf ke rek a.n. Fulan, wa 0812 0000 0555",
        "tanda kuat",
    )
    .await;
    p.stop().await;
}
