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
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::app::{APP_SECRET, VERIFY_TOKEN, eventually};
use support::graph_api::{self, GraphApi};
use support::payloads;

const USER: &str = "6281200000077";
const SECRET_WORDS: &str = "rahasia keluarga";

struct Serve {
    child: process::Running,
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
        let mut child =
            process::Running::spawn(command.stdout(Stdio::null()).stderr(Stdio::piped()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
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
        try_post_signed(http, &self.webhook(), body, secret)
            .await
            .unwrap()
    }

    /// Kills the server at once (SIGKILL): no shutdown, no final flush.
    fn kill(mut self) {
        process::signal(self.child.id(), "-KILL");
        process::wait_exit(&mut self.child, "serve did not die on SIGKILL");
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

/// Posts `body` to `url` signed as Meta would with `secret`; the status, or the error of a server that
/// is not there (any more).
async fn try_post_signed(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    secret: &[u8],
) -> Result<u16, reqwest::Error> {
    let signature = pandu::channels::whatsapp::webhook::sign(secret, &body);
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// The secrets that switch the WhatsApp channel on, pointed at the stand-in Graph API.
fn whatsapp_env(graph: &GraphApi) -> [(&'static str, String); 5] {
    [
        ("PANDU_WHATSAPP_TOKEN", graph_api::TOKEN.to_string()),
        ("PANDU_WHATSAPP_APP_SECRET", APP_SECRET.to_string()),
        ("PANDU_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN.to_string()),
        (
            "PANDU_WHATSAPP_PHONE_NUMBER_ID",
            graph_api::PHONE_NUMBER_ID.to_string(),
        ),
        ("PANDU_WHATSAPP_API_URL", graph.url.clone()),
    ]
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
    let env = whatsapp_env(&graph);
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

/// What a user read in a message the stand-in Graph API received: a text's body or an interactive
/// message's body.
fn read_text(sent: &Value) -> String {
    sent["text"]["body"]
        .as_str()
        .or_else(|| sent["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// SIGKILL in the middle of traffic, the way a power cut or the OOM killer would stop the server:
/// 30 users each write three messages (menu, the "name" question, their name), one after the other as
/// each is acknowledged. The server is killed once about a third are acknowledged, with requests in
/// flight. Meta then redelivers what was not acknowledged (here: the user's loop re-posts it), and
/// the rest follows. Every user must get every answer, in order: nothing acknowledged is lost, and a
/// message that was committed but not acknowledged before the kill is not answered as a new one. At
/// the end Meta redelivers everything once more, and nothing new is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_nothing_that_was_acknowledged() {
    const USERS: usize = 30;
    let graph = GraphApi::start().await;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let env = whatsapp_env(&graph);
    let serve = Serve::start(&data, &env);
    let now = pandu::time::now_secs();
    let user = |u: usize| format!("62812000001{u:02}");
    let bodies = |u: usize| -> Vec<Vec<u8>> {
        ["halo", "2", &format!("Nama{u}")]
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let wamid = format!("wamid.K{u}.{i}");
                serde_json::to_vec(&payloads::text(&user(u), &wamid, now, text)).unwrap()
            })
            .collect()
    };
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Each user's loop: post in order, each only after the one before was acknowledged; stop at the
    // first message that was not (the server died). Returns how many were acknowledged.
    let run = |url: String, from: Vec<usize>, acked: Arc<std::sync::atomic::AtomicUsize>| {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut users = tokio::task::JoinSet::new();
        for (u, &start) in from.iter().enumerate() {
            let (http, url, acked, bodies) = (http.clone(), url.clone(), acked.clone(), bodies(u));
            users.spawn(async move {
                let mut done = start;
                for body in bodies.into_iter().skip(start) {
                    match try_post_signed(&http, &url, body, APP_SECRET.as_bytes()).await {
                        Ok(200) => {
                            done += 1;
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
                (u, done)
            });
        }
        users
    };
    let mut first = run(serve.webhook(), vec![0; USERS], acked.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < USERS {
        assert!(
            std::time::Instant::now() < deadline,
            "no traffic got through"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = tokio::task::spawn_blocking(move || serve.kill());
    let mut done = vec![0; USERS];
    while let Some(result) = first.join_next().await {
        let (u, n) = result.unwrap();
        done[u] = n;
    }
    killed.await.unwrap();
    let before_kill: usize = done.iter().sum();
    eprintln!(
        "acknowledged before the kill: {before_kill} of {}",
        3 * USERS
    );
    assert!(
        before_kill < 3 * USERS,
        "the kill came after all traffic; nothing was tested"
    );

    // Restart on the same data; Meta redelivers from the first unacknowledged message on.
    let serve = Serve::start(&data, &env);
    let mut second = run(serve.webhook(), done.clone(), acked.clone());
    while let Some(result) = second.join_next().await {
        let (u, n) = result.unwrap();
        assert_eq!(
            n, 3,
            "user {u}: every message acknowledged after the restart"
        );
    }
    let answers = |u: usize| -> Vec<String> {
        graph
            .sent()
            .iter()
            .filter(|m| m["to"] == user(u))
            .map(read_text)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(0..USERS).all(|u| {
        answers(u)
            .iter()
            .any(|t| t.starts_with(&format!("Terima kasih, Nama{u}.")))
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "not every user got the last answer: {:?}",
            (0..USERS).map(answers).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expected = [
        "Halo, saya Pandu. Pilih menu:".to_string(),
        "Siapa nama Anda?".to_string(),
    ];
    for (u, acknowledged) in done.iter().enumerate() {
        let got = answers(u);
        // Every answer at least once, in order. (A reply Meta accepted just before the kill, and the
        // server had no time to record, goes out again: sending is at least once.)
        // Compared by their first paragraph: an answer that ends a flow also says the way back.
        let mut firsts = Vec::new();
        for t in &got {
            let first = t.split("\n\n").next().unwrap_or_default().to_string();
            if !firsts.contains(&first) {
                firsts.push(first);
            }
        }
        let want = [
            expected[0].clone(),
            expected[1].clone(),
            format!("Terima kasih, Nama{u}."),
        ];
        assert_eq!(
            firsts, want,
            "user {u} (acknowledged before the kill: {acknowledged}): {got:?}"
        );
    }

    // Meta redelivers everything once more: all of it was committed, so nothing is answered again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = graph.sent().len();
    let redeliver = run(serve.webhook(), vec![0; USERS], acked.clone());
    let results = redeliver.join_all().await;
    assert!(
        results.iter().all(|(_, n)| *n == 3),
        "redeliveries acknowledged"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        graph.sent().len(),
        settled,
        "a redelivered message was answered again"
    );
    serve.stop().await;
}

/// `/metrics` after real traffic: the counters a dashboard watches have moved (messages in and out,
/// commits, a rate-limited send), the outbox gauges are there, and nothing in the output names a
/// user: no phone number, no profile name, no word they wrote. From outside this machine (a proxy's
/// forwarding header) it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_traffic_and_name_nobody() {
    let graph = GraphApi::start().await;
    let work = tempfile::tempdir().unwrap();
    let env = whatsapp_env(&graph);
    let serve = Serve::start(&work.path().join("data"), &env);
    let http = reqwest::Client::new();
    // The first reply meets a rate limit and goes out on the retry.
    graph.fail_next(
        1,
        support::graph_api::Only::Any,
        support::graph_api::Failure::Http(429),
    );
    let now = pandu::time::now_secs();
    let said = [
        ("wamid.M1", "halo pak"),
        ("wamid.M2", "2"),
        ("wamid.M3", "sheena wulandari dr batang"),
    ];
    for (i, (wamid, text)) in said.iter().enumerate() {
        let body = serde_json::to_vec(&payloads::text(USER, wamid, now, text)).unwrap();
        assert_eq!(
            serve.post_signed(&http, body, APP_SECRET.as_bytes()).await,
            200
        );
        eventually("the answer", || graph.sent().len() > i).await;
    }
    // Meta sends one again: a duplicate, counted as such.
    let body = serde_json::to_vec(&payloads::text(USER, "wamid.M2", now, "2")).unwrap();
    assert_eq!(
        serve.post_signed(&http, body, APP_SECRET.as_bytes()).await,
        200
    );

    let url = format!("http://{}/metrics", serve.addr);
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(value("pandu_messages_in_total{channel=\"whatsapp\"}"), 3.0);
    assert_eq!(
        value("pandu_messages_duplicate_total{channel=\"whatsapp\"}"),
        1.0
    );
    assert!(value("pandu_messages_out_total{channel=\"whatsapp\"}") >= 3.0);
    assert!(value("pandu_send_failures_total{channel=\"whatsapp\",class=\"rate_limited\"}") >= 1.0);
    assert!(value("pandu_commit_seconds_count") >= 4.0);
    assert!(value("pandu_commit_group_messages_sum") >= 4.0);
    assert_eq!(value("pandu_outbox_depth{channel=\"whatsapp\"}"), 0.0);
    assert_eq!(
        value("pandu_outbox_oldest_age_seconds{channel=\"whatsapp\"}"),
        0.0
    );
    assert_eq!(value("pandu_store_write_failing"), 0.0);
    assert_eq!(value("pandu_cases{status=\"new\",priority=\"P1\"}"), 0.0);
    assert_eq!(value("pandu_cases_overdue"), 0.0);
    for private in [USER, "Sheena", "sheena", "wulandari", "batang", "wamid"] {
        assert!(!text.contains(private), "{private:?} in /metrics:\n{text}");
    }

    // Through a proxy on this machine, the request is someone else's: refused.
    let proxied = http
        .get(&url)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    serve.stop().await;
}
