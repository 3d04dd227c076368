//! `pandu serve` as a process with the WhatsApp channel: on when its four secrets are set (webhook at
//! `/webhooks/whatsapp`, replies through the stand-in Graph API on 127.0.0.1), off with the reason in
//! `/healthz` when they are not, and never a phone number or message text in the log.

#![allow(clippy::unwrap_used)]

#[path = "process_support/mod.rs"]
mod process;
#[path = "whatsapp_support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::app::{APP_SECRET, VERIFY_TOKEN, eventually};
use support::graph_api::{self, GraphApi};
use support::payloads;

const USER: &str = "6281200000077";
const SECRET_WORDS: &str = "rahasia keluarga";

struct Serve {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `pandu serve` on a small dialog folder of its own (written next to `data`), so the test
    /// does not depend on the content of `dialogs/`.
    fn start(data: &Path, env: &[(&str, String)]) -> Serve {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let work = data.parent().unwrap();
        support::dialogs::bot(work);
        // The case texts the case actions need, as shipped.
        std::fs::copy(
            root.join("dialogs/_cases.yaml"),
            work.join("dialogs/_cases.yaml"),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pandu"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(root)
            .env("PANDU_DATA_DIR", data)
            .env("PANDU_DIALOGS_DIR", work.join("dialogs"))
            .env("PANDU_LANGUAGES", "id")
            .env("PANDU_LOG", "debug")
            .env_remove("PANDU_TELEGRAM_TOKEN");
        for name in [
            "PANDU_WHATSAPP_TOKEN",
            "PANDU_WHATSAPP_APP_SECRET",
            "PANDU_WHATSAPP_VERIFY_TOKEN",
            "PANDU_WHATSAPP_PHONE_NUMBER_ID",
            "PANDU_WHATSAPP_API_URL",
        ] {
            command.env_remove(name);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let found = log.lock().unwrap().iter().find_map(|line| {
                let rest = line.split("address=").nth(1)?;
                Some(rest.split_whitespace().next()?.to_string())
            });
            if let Some(addr) = found {
                break addr;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("serve exited ({status}): {:?}", log.lock().unwrap());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not start: {:?}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Serve { child, addr, log }
    }

    async fn health(&self) -> Value {
        reqwest::get(format!("http://{}/healthz", self.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn webhook(&self) -> String {
        format!("http://{}/webhooks/whatsapp", self.addr)
    }

    /// Posts `body` to the webhook with the signature Meta would make with `secret`.
    async fn post_signed(&self, http: &reqwest::Client, body: Vec<u8>, secret: &[u8]) -> u16 {
        let signature = pandu::channels::whatsapp::webhook::sign(secret, &body);
        let response = http
            .post(self.webhook())
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    /// Stops the server with SIGTERM and returns its log. Waits off the test's runtime, so the
    /// stand-in Graph API on it keeps answering the requests the server finishes while it stops.
    async fn stop(self) -> Vec<String> {
        let log = tokio::task::spawn_blocking(move || self.stop_blocking())
            .await
            .unwrap();
        assert!(
            !log.iter().any(|l| l.contains("still holds the engine")),
            "every worker let go of the engine on SIGTERM: {log:?}"
        );
        log
    }

    fn stop_blocking(mut self) -> Vec<String> {
        process::signal(self.child.id(), "-TERM");
        let status = process::wait_exit(&mut self.child, "serve did not stop on SIGTERM");
        assert!(status.success(), "{status:?}");
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn serve_without_whatsapp_secrets_starts_with_the_channel_off_and_no_webhook() {
    let work = tempfile::tempdir().unwrap();
    let serve = Serve::start(&work.path().join("data"), &[]);
    let health = serve.health().await;
    assert_eq!(health["status"], "ok");
    let state = health["channels"]["whatsapp"].as_str().unwrap();
    assert!(state.starts_with("off: "), "{state}");
    assert!(state.contains("PANDU_WHATSAPP_TOKEN"), "{state}");
    let response = reqwest::Client::new()
        .post(serve.webhook())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let log = serve.stop().await;
    assert!(
        log.iter()
            .any(|l| l.contains("whatsapp") && l.contains("off: ")),
        "the log says the channel is off: {log:?}"
    );
}

#[tokio::test]
async fn serve_with_whatsapp_secrets_verifies_answers_through_the_graph_api_and_logs_no_personal_data()
 {
    let graph = GraphApi::start().await;
    let work = tempfile::tempdir().unwrap();
    let env = [
        ("PANDU_WHATSAPP_TOKEN", graph_api::TOKEN.to_string()),
        ("PANDU_WHATSAPP_APP_SECRET", APP_SECRET.to_string()),
        ("PANDU_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN.to_string()),
        (
            "PANDU_WHATSAPP_PHONE_NUMBER_ID",
            graph_api::PHONE_NUMBER_ID.to_string(),
        ),
        ("PANDU_WHATSAPP_API_URL", graph.url.clone()),
    ];
    let serve = Serve::start(&work.path().join("data"), &env);
    let health = serve.health().await;
    assert_eq!(health["channels"]["whatsapp"], "on");

    // Meta's verification handshake.
    let http = reqwest::Client::new();
    let challenge = http
        .get(format!(
            "{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
            serve.webhook()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 200);
    assert_eq!(challenge.text().await.unwrap(), "1158201444");

    // A forged notification is refused; a signed one is answered through the Graph API.
    let now = pandu::time::now_secs();
    let body = serde_json::to_vec(&payloads::text(USER, "wamid.S1", now, "halo")).unwrap();
    let forged = serve
        .post_signed(&http, body.clone(), b"not-the-secret")
        .await;
    assert_eq!(forged, 401);
    let signed = serve.post_signed(&http, body, APP_SECRET.as_bytes()).await;
    assert_eq!(signed, 200);
    eventually("the main menu at the stand-in Graph API", || {
        graph.sent().len() == 1
    })
    .await;
    let menu = &graph.sent()[0];
    assert_eq!(menu["to"], USER);
    assert_eq!(menu["type"], "interactive");
    assert_eq!(menu["interactive"]["type"], "button");
    assert_eq!(
        menu["interactive"]["body"]["text"],
        "Halo, saya Pandu. Pilih menu:"
    );

    // Free text with words that must never reach the log.
    let body = serde_json::to_vec(&payloads::text(USER, "wamid.S2", now, SECRET_WORDS)).unwrap();
    let signed = serve.post_signed(&http, body, APP_SECRET.as_bytes()).await;
    assert_eq!(signed, 200);
    eventually("a second answer", || graph.sent().len() >= 2).await;

    let log = serve.stop().await;
    assert!(
        log.iter().any(|l| l.contains("whatsapp sender stopped")),
        "the sender stopped with the server: {log:?}"
    );
    for line in &log {
        assert!(!line.contains(USER), "a phone number in the log: {line}");
        assert!(
            !line.contains(SECRET_WORDS),
            "message text in the log: {line}"
        );
        assert!(
            !line.contains("Sheena"),
            "a profile name in the log: {line}"
        );
        assert!(!line.contains(APP_SECRET) && !line.contains(graph_api::TOKEN));
    }
}
