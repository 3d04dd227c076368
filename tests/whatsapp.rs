//! The WhatsApp channel end to end: Meta's webhook payloads posted with real signatures to the real
//! router, the engine committing to sled on disk, and the outbox sender talking to a stand-in Graph
//! API on 127.0.0.1.
#![allow(clippy::unwrap_used)]

#[path = "whatsapp_support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use pandu::channels::whatsapp::{self, MediaError, payload};
use pandu::dialog::{Attachment, AttachmentKind, Choice, InputKind, Reply};
use pandu::engine::Outgoing;
use pandu::storage::{Channel, Delivery, DeliveryRecord, OutboxKind, UserKey, WriteBatch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::app::{App, eventually};
use support::graph_api::{Failure, GraphApi, Only};
use support::payloads;
use tempfile::TempDir;

const USER: &str = "6281200000001";
const OTHER: &str = "6281200000002";

fn now() -> u64 {
    pandu::time::now_secs()
}

/// A fresh data folder, the stand-in Graph API and the app (with its sender) on them.
async fn start() -> (TempDir, GraphApi, App) {
    start_with(|_| {}).await
}

/// As [`start`], with the stand-in prepared (media added, taken down) before the app starts.
async fn start_with(prepare: impl FnOnce(&GraphApi)) -> (TempDir, GraphApi, App) {
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphApi::start().await;
    prepare(&graph);
    let app = app_on(dir.path(), &graph).await;
    (dir, graph, app)
}

/// The app (with its sender) on an existing data folder, with the small test dialogs.
async fn app_on(dir: &Path, graph: &GraphApi) -> App {
    App::start(dir, graph, support::dialogs::bot(dir)).await
}

fn user(id: &str) -> UserKey {
    UserKey::new(Channel::Whatsapp, id)
}

fn reply(text: &str, choices: &[(&str, &str)]) -> Reply {
    Reply {
        text: text.into(),
        choices: choices
            .iter()
            .map(|(id, label)| Choice {
                id: (*id).into(),
                label: (*label).into(),
            })
            .collect(),
    }
}

async fn queue(app: &App, to: &str, reply: Reply, kind: OutboxKind) {
    app.engine
        .send(vec![Outgoing {
            user: user(to),
            reply,
            kind,
        }])
        .await
        .unwrap();
}

/// Marks the user as having written at `at` (as the webhook does).
fn wrote_at(app: &App, id: &str, at: u64) {
    let mut batch = WriteBatch::default();
    batch.put_meta(&whatsapp::last_inbound_key(id), at.to_string().into_bytes());
    app.store.apply(batch).unwrap();
}

fn text_body(message: &Value) -> &str {
    message["text"]["body"].as_str().unwrap_or("")
}

/// Posts a text from `USER`, written now, as a signed notification; Meta must get its 200.
async fn say(app: &App, wamid: &str, text: &str) {
    post_ok(app, &payloads::text(USER, wamid, now(), text)).await;
}

/// Posts a signed notification and checks it was taken (200).
async fn post_ok(app: &App, body: &Value) {
    assert_eq!(
        app.post(body).await,
        StatusCode::OK,
        "the webhook refused {body}"
    );
}

/// Queues a plain text (no choices) as a reply to `to`.
async fn queue_text(app: &App, to: &str, text: &str) {
    queue(app, to, reply(text, &[]), OutboxKind::Reply).await;
}

/// Queues a plain text as news about `case` for `to`.
async fn queue_update(app: &App, to: &str, text: &str, case: &str) {
    let kind = OutboxKind::Update { case: case.into() };
    queue(app, to, reply(text, &[]), kind).await;
}

/// Waits until the stand-in has accepted exactly `n` sends; returns them.
async fn sends(graph: &GraphApi, what: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{what} ({n} sends)"), || graph.sent().len() == n).await;
    graph.sent()
}

/// Waits for `n` sends, then gives the sender time to send more and checks it did not (nothing
/// doubled, nothing extra); returns them.
async fn settled(graph: &GraphApi, what: &str, n: usize) -> Vec<Value> {
    sends(graph, what, n).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = graph.sent();
    assert_eq!(
        sent.len(),
        n,
        "{what}: none doubled, nothing extra: {sent:?}"
    );
    sent
}

/// The text bodies of these sends, in order.
fn bodies(sent: &[Value]) -> Vec<String> {
    sent.iter().map(|m| text_body(m).to_string()).collect()
}

/// Waits until `n` WhatsApp deliveries are recorded; returns them.
async fn deliveries(app: &App, what: &str, n: usize) -> Vec<DeliveryRecord> {
    let count = || app.store.deliveries(Channel::Whatsapp).unwrap().len();
    eventually(&format!("{what} ({n} deliveries)"), || count() == n).await;
    app.store.deliveries(Channel::Whatsapp).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Webhook: verification and signatures

#[tokio::test]
async fn verification_answers_the_challenge_only_with_the_right_token() {
    let (_dir, _graph, app) = start().await;
    let (status, body) = app
        .get("hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444")
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1158201444"));
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ] {
        assert_eq!(app.get(query).await.0, StatusCode::FORBIDDEN, "{query}");
    }
    app.stop().await;
}

#[tokio::test]
async fn forged_or_missing_signatures_are_refused_and_nothing_is_stored() {
    let (_dir, graph, app) = start().await;
    let body = serde_json::to_vec(&payloads::text(USER, "wamid.F1", now(), "halo")).unwrap();
    let forged = whatsapp::webhook::sign(b"not-the-app-secret", &body);
    assert_eq!(
        app.post_raw(body.clone(), Some(&forged)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_raw(body.clone(), None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_raw(body.clone(), Some("sha256=zz")).await,
        StatusCode::UNAUTHORIZED
    );
    // A valid signature over a different body.
    let other = whatsapp::webhook::sign(support::app::APP_SECRET.as_bytes(), b"{}");
    assert_eq!(
        app.post_raw(body, Some(&other)).await,
        StatusCode::UNAUTHORIZED
    );
    // Signed but not JSON.
    let junk = b"this is not json".to_vec();
    let signature = whatsapp::webhook::sign(support::app::APP_SECRET.as_bytes(), &junk);
    assert_eq!(
        app.post_raw(junk, Some(&signature)).await,
        StatusCode::BAD_REQUEST
    );

    assert!(!app.store.seen(Channel::Whatsapp, "wamid.F1").unwrap());
    assert!(app.store.session(&user(USER)).unwrap().is_none());
    assert!(whatsapp::last_inbound(&app.store, USER).is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(graph.reads().is_empty(), "nothing was marked read");
    assert!(graph.sent().is_empty(), "nothing was answered");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Webhook: payloads

#[test]
fn documented_payloads_translate_to_inputs() {
    let ts = 1_749_416_383;
    let kind = |body: Value| {
        let parsed = payload::parse(body);
        assert_eq!(parsed.skipped, 0);
        assert_eq!(parsed.messages.len(), 1);
        let m = parsed.messages.into_iter().next().unwrap();
        assert_eq!(m.user_id, USER);
        assert_eq!(m.input.at, ts);
        m.input.kind
    };
    assert_eq!(
        kind(payloads::text(USER, "wamid.A", ts, "syarat ke taiwan apa")),
        InputKind::Text("syarat ke taiwan apa".into())
    );
    assert_eq!(
        kind(payloads::button_reply(
            USER,
            "wamid.B",
            ts,
            "main/start/1",
            "Info kerja"
        )),
        InputKind::Choice("main/start/1".into())
    );
    assert_eq!(
        kind(payloads::list_reply(
            USER,
            "wamid.C",
            ts,
            "main/start/7",
            "Lapor masalah"
        )),
        InputKind::Choice("main/start/7".into())
    );
    assert_eq!(
        kind(payloads::image(USER, "wamid.D", ts, "1003383421387256")),
        InputKind::Attachment(Attachment {
            kind: AttachmentKind::Photo,
            reference: "1003383421387256".into(),
            mime: Some("image/jpeg".into()),
            stored_path: None,
        })
    );
    assert!(matches!(
        kind(payloads::voice(USER, "wamid.E", ts, "2222")),
        InputKind::Attachment(Attachment {
            kind: AttachmentKind::Voice,
            ..
        })
    ));
    assert_eq!(
        kind(payloads::location(USER, "wamid.F", ts)),
        InputKind::Location {
            latitude: -6.8886,
            longitude: 109.6753
        }
    );
    assert_eq!(
        kind(payloads::unsupported(USER, "wamid.G", ts)),
        InputKind::Unsupported
    );
    assert_eq!(
        kind(payloads::sticker(USER, "wamid.H", ts)),
        InputKind::Unsupported
    );
}

#[test]
fn a_business_scoped_user_id_keys_the_conversation_and_a_phone_is_not_required() {
    let contact = json!({
        "profile": { "name": "Sari", "username": "@sari" },
        "user_id": "ID.1234567890123456"
    });
    let message = json!({
        "from_user_id": "ID.1234567890123456", "id": "wamid.U1", "timestamp": "1749416383",
        "type": "text", "text": { "body": "halo" }
    });
    let body = payloads::notification(payloads::value_with(vec![contact], vec![message]));
    let parsed = payload::parse(body);
    assert_eq!(parsed.messages.len(), 1);
    assert_eq!(parsed.messages[0].user_id, "ID.1234567890123456");
    assert_eq!(parsed.messages[0].wa_id, None);
}

#[tokio::test]
async fn a_message_is_committed_before_200_and_marked_read() {
    let (_dir, graph, app) = start().await;
    let ts = now() - 5;
    let status = app
        .post(&payloads::text(
            USER,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB",
            ts,
            "halo",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Durable at the moment of the 200.
    assert!(
        app.store
            .seen(Channel::Whatsapp, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB")
            .unwrap()
    );
    assert!(app.store.session(&user(USER)).unwrap().is_some());
    assert_eq!(whatsapp::last_inbound(&app.store, USER), Some(ts));
    eventually("the message is marked read", || graph.reads().len() == 1).await;
    assert_eq!(
        graph.reads()[0],
        json!({"messaging_product": "whatsapp", "status": "read",
               "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_batch_with_statuses_unknown_types_and_unknown_fields_is_taken_whole() {
    let (_dir, _graph, app) = start().await;
    let ts = now() - 60;
    let mut value = payloads::messages_value(
        &[USER, OTHER],
        vec![
            payloads::text_message(USER, "wamid.B1", ts, "halo"),
            payloads::text_message(OTHER, "wamid.B2", ts + 1, "permisi"),
            json!({"from": USER, "id": "wamid.B3", "timestamp": (ts + 2).to_string(),
                   "type": "hologram", "hologram": {"depth": 3}}),
            json!({"from": OTHER, "id": "wamid.B4", "timestamp": (ts + 3).to_string(), "type": "reaction",
                   "reaction": {"message_id": "wamid.X", "emoji": "\u{1F44D}"}}),
            json!({"no_id_here": true}),
        ],
    );
    value["statuses"] = json!([{"id": "wamid.unknown", "status": "sent", "timestamp": "1"}]);
    value["a_field_from_the_future"] = json!({"x": [1, 2]});
    let mut body = payloads::notification(value);
    body["entry"][0]["changes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}));
    post_ok(&app, &body).await;
    for wamid in ["wamid.B1", "wamid.B2", "wamid.B3", "wamid.B4"] {
        assert!(app.store.seen(Channel::Whatsapp, wamid).unwrap(), "{wamid}");
    }
    assert_eq!(whatsapp::last_inbound(&app.store, USER), Some(ts + 2));
    assert_eq!(whatsapp::last_inbound(&app.store, OTHER), Some(ts + 3));
    app.stop().await;
}

#[tokio::test]
async fn the_same_wamid_twice_is_handled_once_and_the_window_never_moves_back() {
    let (_dir, graph, app) = start().await;
    let ts = now() - 10;
    let body = payloads::text(USER, "wamid.D1", ts, "halo");
    post_ok(&app, &body).await;
    post_ok(&app, &body).await;
    let sent = settled(&graph, "the answer", 1).await;
    assert_eq!(sent, vec![menu_buttons(USER)], "one answer, not two");
    // An older message delivered late does not shorten the window.
    post_ok(
        &app,
        &payloads::text(USER, "wamid.D0", ts - 3600, "pesan lama"),
    )
    .await;
    assert_eq!(whatsapp::last_inbound(&app.store, USER), Some(ts));
    eventually("read receipts", || graph.reads().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reads: Vec<String> = graph
        .reads()
        .iter()
        .map(|r| r["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reads,
        vec!["wamid.D1", "wamid.D0"],
        "the duplicate is not handled again"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Sender

#[tokio::test]
async fn replies_are_rendered_as_buttons_lists_and_text_with_the_exact_json() {
    let (_dir, graph, app) = start().await;
    wrote_at(&app, USER, now());
    queue(
        &app,
        USER,
        reply(
            "Mau lihat apa lagi?",
            &[
                ("syarat/tanya/1", "Daftar dokumen"),
                ("syarat/tanya/2", "Tahapan resmi"),
            ],
        ),
        OutboxKind::Reply,
    )
    .await;
    let many: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("main/start/{i}"), format!("Pilihan nomor {i}")))
        .collect();
    let many_ref: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    queue(
        &app,
        USER,
        reply("Pilih topik:", &many_ref),
        OutboxKind::Reply,
    )
    .await;
    queue_text(&app, USER, "Terima kasih.").await;
    let sent = sends(&graph, "three messages", 3).await;
    assert_eq!(
        sent[0],
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": USER,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": { "text": "Mau lihat apa lagi?" },
                "action": { "buttons": [
                    { "type": "reply", "reply": { "id": "syarat/tanya/1", "title": "Daftar dokumen" } },
                    { "type": "reply", "reply": { "id": "syarat/tanya/2", "title": "Tahapan resmi" } }
                ] }
            }
        })
    );
    assert_eq!(sent[1]["interactive"]["type"], "list");
    assert_eq!(
        sent[1]["interactive"]["action"]["sections"][0]["rows"][4],
        json!({ "id": "main/start/5", "title": "Pilihan nomor 5" })
    );
    assert_eq!(
        sent[2],
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": USER,
            "type": "text",
            "text": { "preview_url": false, "body": "Terima kasih." }
        })
    );
    let deliveries = deliveries(&app, "three deliveries", 3).await;
    assert!(matches!(
        &deliveries[0].delivery,
        Delivery::Sent { platform_id: Some(id), .. } if id == "wamid.TEST000001"
    ));
    // Meta's statuses are recorded against the delivery.
    for status in ["sent", "delivered"] {
        post_ok(
            &app,
            &payloads::status("wamid.TEST000001", USER, status, now()),
        )
        .await;
    }
    post_ok(
        &app,
        &payloads::status("wamid.TEST000001", USER, "read", now()),
    )
    .await;
    let record = app
        .store
        .delivery_by_platform_id(Channel::Whatsapp, "wamid.TEST000001")
        .unwrap()
        .unwrap();
    assert_eq!(record.receipts, vec!["sent", "delivered", "read"]);
    // A failure Meta reports later is recorded with its code, and nothing is sent again for it.
    let Delivery::Sent {
        platform_id: Some(second),
        ..
    } = &deliveries[1].delivery
    else {
        panic!("{:?}", deliveries[1].delivery);
    };
    let failed = payloads::failed_status(second, USER, 131026, "Message undeliverable", now());
    post_ok(&app, &failed).await;
    let record = app
        .store
        .delivery_by_platform_id(Channel::Whatsapp, second)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.receipts,
        vec!["failed: 131026 Message undeliverable"]
    );
    // ... and noted for the cases watcher, which tells staff when it was news about a case.
    let late = app.store.late_failures(10).unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(
        (late[0].0, late[0].1),
        (Channel::Whatsapp, record.entry.seq)
    );
    assert!(late[0].2.contains("131026"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(graph.sent().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_long_text_is_split_at_paragraphs_and_the_buttons_follow() {
    let (_dir, graph, app) = start().await;
    wrote_at(&app, USER, now());
    let paragraph = "Dokumen yang perlu disiapkan sebelum mendaftar. ".repeat(30);
    let paragraph = paragraph.trim();
    let text =
        format!("{paragraph}\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n\nMau lihat apa lagi?");
    queue(
        &app,
        USER,
        reply(
            &text,
            &[("syarat/tanya/1", "Lanjut"), ("main/start", "Menu utama")],
        ),
        OutboxKind::Reply,
    )
    .await;
    let sent = sends(&graph, "all parts", 3).await;
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(sent[1]["type"], "text");
    assert!(text_body(&sent[0]).chars().count() <= 4096);
    assert_eq!(
        format!("{}\n\n{}", text_body(&sent[0]), text_body(&sent[1])),
        [paragraph; 4].join("\n\n"),
        "nothing lost, cut at a paragraph"
    );
    assert_eq!(
        sent[2]["interactive"]["body"]["text"],
        "Mau lihat apa lagi?"
    );
    app.stop().await;
}

#[tokio::test]
async fn while_the_graph_api_is_down_replies_wait_and_then_arrive_in_order_once() {
    let (_dir, graph, app) = start_with(|graph| graph.down(Failure::Http(503))).await;
    wrote_at(&app, USER, now());
    wrote_at(&app, OTHER, now());
    for i in 1..=4 {
        queue_text(&app, USER, &format!("u{i}")).await;
        queue_text(&app, OTHER, &format!("o{i}")).await;
    }
    eventually("several failed attempts", || graph.attempts() >= 6).await;
    assert!(graph.sent().is_empty());
    assert_eq!(app.store.outbox_len(Channel::Whatsapp), 8);
    // A transport failure (Graph API answers 500 with its error body) is retried the same way.
    graph.down(Failure::Code(500, 131000));
    tokio::time::sleep(Duration::from_millis(200)).await;
    graph.up();
    let sent = settled(&graph, "all eight", 8).await;
    let for_user = |to: &str| -> Vec<String> {
        let theirs: Vec<Value> = sent.iter().filter(|m| m["to"] == to).cloned().collect();
        bodies(&theirs)
    };
    assert_eq!(for_user(USER), vec!["u1", "u2", "u3", "u4"]);
    assert_eq!(for_user(OTHER), vec!["o1", "o2", "o3", "o4"]);
    assert_eq!(app.store.outbox_len(Channel::Whatsapp), 0);
    app.stop().await;
}

#[tokio::test]
async fn entries_left_in_the_outbox_go_out_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphApi::start().await;
    graph.down(Failure::Http(503));
    {
        // The first process takes a message and queues news, cannot send (Meta is down), and stops.
        let app = app_on(dir.path(), &graph).await;
        say(&app, "wamid.RS1", "halo").await;
        for i in 1..=2 {
            queue_text(&app, USER, &format!("pesan {i}")).await;
        }
        eventually("failed attempts", || graph.attempts() >= 2).await;
        assert_eq!(app.store.outbox_len(Channel::Whatsapp), 3);
        app.stop().await;
    }
    assert!(graph.sent().is_empty());
    graph.up();
    // A new process on the same data folder: the store is reopened, a new sender drains the queue.
    let app = app_on(dir.path(), &graph).await;
    let sent = settled(&graph, "the queued messages", 3).await;
    assert_eq!(sent[0], menu_buttons(USER));
    assert_eq!(text_body(&sent[1]), "pesan 1");
    assert_eq!(text_body(&sent[2]), "pesan 2");
    // Meta redelivers the message after the restart: it is not answered again.
    say(&app, "wamid.RS1", "halo").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(graph.sent().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn an_update_outside_the_window_sends_the_template_and_holds_the_text_until_the_user_writes()
{
    let (_dir, graph, app) = start().await;
    // The user last wrote two days ago.
    wrote_at(&app, USER, now() - 2 * 86_400);
    let update = "Kasus PKL-7KQ2MX: petugas sudah menghubungi KBRI Taipei.";
    queue_update(&app, USER, update, "PKL-7KQ2MX").await;
    queue_update(&app, USER, "Kasus PKL-7KQ2MX: kabar kedua.", "PKL-7KQ2MX").await;
    let sent = sends(&graph, "the template", 1).await;
    assert_eq!(
        sent[0],
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": USER,
            "type": "template",
            "template": {
                "name": "case_update",
                "language": { "code": "id" },
                "components": [
                    { "type": "body", "parameters": [ { "type": "text", "text": "PKL-7KQ2MX" } ] }
                ]
            }
        })
    );
    eventually("both held", || {
        let pending = app.store.outbox_for(&user(USER)).unwrap();
        pending.len() == 2 && pending.iter().all(|e| e.held)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(graph.sent().len(), 1, "one template, no free-form text");
    // The user answers the template: the held texts follow, in order.
    say(&app, "wamid.W1", "apa kabarnya?").await;
    let sent = sends(&graph, "the held texts and the answer", 4).await;
    assert_eq!(text_body(&sent[1]), update);
    assert_eq!(text_body(&sent[2]), "Kasus PKL-7KQ2MX: kabar kedua.");
    // The answer to what the user just wrote comes after the older news.
    assert_eq!(sent[3], menu_buttons(USER));
    eventually("nothing pending", || {
        app.store.outbox_len(Channel::Whatsapp) == 0
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn error_131047_switches_to_the_template_and_the_text_follows_when_the_user_writes() {
    let (_dir, graph, app) = start().await;
    // We believe the window open, Meta says otherwise.
    wrote_at(&app, USER, now() - 3600);
    graph.fail_next(1, Only::NotTemplate, Failure::Code(400, 131047));
    queue_update(
        &app,
        USER,
        "Kasus PKL-AB12CD: berkas sudah diterima.",
        "PKL-AB12CD",
    )
    .await;
    let sent = sends(&graph, "the template", 1).await;
    assert_eq!(sent[0]["type"], "template");
    assert_eq!(
        sent[0]["template"]["components"][0]["parameters"][0]["text"],
        "PKL-AB12CD"
    );
    eventually("held", || {
        app.store
            .outbox_for(&user(USER))
            .unwrap()
            .first()
            .is_some_and(|e| e.held)
    })
    .await;
    say(&app, "wamid.R1", "ya").await;
    let sent = sends(&graph, "the text and the answer", 3).await;
    assert_eq!(sent[2], menu_buttons(USER));
    assert_eq!(
        text_body(&sent[1]),
        "Kasus PKL-AB12CD: berkas sudah diterima."
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failed_status_131047_puts_the_message_back_on_the_window_path() {
    let (_dir, graph, app) = start().await;
    wrote_at(&app, USER, now() - 3600);
    queue_update(&app, USER, "Kasus PKL-ZZ99ZZ: ada kabar.", "PKL-ZZ99ZZ").await;
    sends(&graph, "sent", 1).await;
    deliveries(&app, "delivered", 1).await;
    // Meta accepted it, then reports it could not be delivered: the window had closed. Meta may
    // send the same status twice; the message is requeued once.
    let failed = payloads::failed_status(
        "wamid.TEST000001",
        USER,
        131047,
        "Re-engagement message",
        now(),
    );
    post_ok(&app, &failed).await;
    post_ok(&app, &failed).await;
    let sent = sends(&graph, "the template", 2).await;
    assert_eq!(sent[1]["type"], "template");
    say(&app, "wamid.S1", "halo").await;
    let sent = settled(&graph, "the text again and the answer", 4).await;
    assert_eq!(text_body(&sent[2]), "Kasus PKL-ZZ99ZZ: ada kabar.");
    assert_eq!(sent[3], menu_buttons(USER));
    let templates = sent.iter().filter(|m| m["type"] == "template").count();
    assert_eq!(templates, 1, "the repeated failed status requeued once");
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_back_off_then_succeed() {
    let (_dir, graph, app) = start().await;
    wrote_at(&app, USER, now());
    graph.fail_next(2, Only::Any, Failure::Code(400, 130429));
    graph.fail_next(1, Only::Any, Failure::Code(400, 131056));
    queue_text(&app, USER, "satu").await;
    queue_text(&app, USER, "dua").await;
    let sent = sends(&graph, "both sent", 2).await;
    assert_eq!(graph.attempts(), 5, "three refusals, then two successes");
    assert_eq!(bodies(&sent), vec!["satu", "dua"]);
    let recorded = deliveries(&app, "recorded", 2).await;
    assert_eq!(recorded[0].entry.attempts, 3);
    app.stop().await;
}

#[tokio::test]
async fn a_permanent_error_is_recorded_once_and_the_next_message_still_goes() {
    let (_dir, graph, app) = start().await;
    wrote_at(&app, USER, now());
    graph.fail_next(1, Only::Any, Failure::Code(400, 131026));
    queue_text(&app, USER, "tidak sampai").await;
    queue_text(&app, USER, "sampai").await;
    sends(&graph, "the second", 1).await;
    let deliveries = deliveries(&app, "two records", 2).await;
    assert!(
        matches!(&deliveries[0].delivery, Delivery::Failed { reason, .. } if reason.contains("131026"))
    );
    assert!(matches!(&deliveries[1].delivery, Delivery::Sent { .. }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(graph.attempts(), 2, "never retried");
    app.stop().await;
}

#[tokio::test]
async fn a_user_known_only_by_business_scoped_id_is_answered_at_that_id() {
    let (_dir, graph, app) = start().await;
    let bsuid = "ID.1234567890123456";
    let contact = json!({ "profile": { "name": "Sari" }, "user_id": bsuid });
    let message = json!({
        "from_user_id": bsuid, "id": "wamid.BS1", "timestamp": now().to_string(),
        "type": "text", "text": { "body": "halo" }
    });
    let body = payloads::notification(payloads::value_with(vec![contact], vec![message]));
    post_ok(&app, &body).await;
    assert!(app.store.session(&user(bsuid)).unwrap().is_some());
    let sent = sends(&graph, "the answer", 1).await;
    assert_eq!(sent[0]["recipient"], bsuid);
    assert!(sent[0].get("to").is_none());
    assert_eq!(sent[0]["interactive"]["body"]["text"], MENU);
    // With both ids, the key is the business-scoped id and replies go to the phone number.
    let contact = json!({ "profile": { "name": "Budi" }, "wa_id": OTHER, "user_id": "ID.999" });
    let message = payloads::text_message(OTHER, "wamid.BS2", now(), "halo");
    let body = payloads::notification(payloads::value_with(vec![contact], vec![message]));
    post_ok(&app, &body).await;
    assert!(app.store.session(&user("ID.999")).unwrap().is_some());
    assert!(app.store.session(&user(OTHER)).unwrap().is_none());
    let sent = sends(&graph, "the answer", 2).await;
    assert_eq!(sent[1], menu_buttons(OTHER));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Media

#[tokio::test]
async fn media_is_downloaded_into_the_data_folder_within_the_size_cap() {
    let (dir, graph, app) = start().await;
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    graph.add_media("1003383421387256", photo.clone(), "image/jpeg");
    let saved = app
        .whatsapp
        .download_media("1003383421387256")
        .await
        .unwrap();
    assert_eq!(std::fs::read(&saved.path).unwrap(), photo);
    assert!(saved.path.starts_with(dir.path()));
    assert_eq!(saved.path.extension().unwrap(), "jpg");

    // Over the cap (16 MiB by default): refused before downloading, nothing written.
    graph.add_media("777", vec![0u8; 17 * 1024 * 1024], "video/mp4");
    let err = app.whatsapp.download_media("777").await.unwrap_err();
    assert!(matches!(err, MediaError::TooLarge { .. }), "{err}");
    assert!(!saved.path.with_file_name("777.mp4").exists());
    // An id that could climb out of the folder is refused without a request.
    let before = graph.media_requests();
    assert!(matches!(
        app.whatsapp.download_media("../../etc/passwd").await,
        Err(MediaError::BadId(_))
    ));
    assert_eq!(graph.media_requests(), before);
    assert_eq!(graph.bad_auth(), 0);
    app.stop().await;
}

#[tokio::test]
async fn credentials_missing_turn_the_channel_off_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphApi::start().await;
    let app =
        App::start_without_sender(dir.path(), &graph, support::dialogs::bot(dir.path())).await;
    let mut secrets = support::app::secrets();
    secrets.whatsapp_app_secret = None;
    secrets.whatsapp_phone_number_id = None;
    let config = support::app::config(dir.path(), &graph);
    let why = match whatsapp::WhatsApp::from_config(&config, &secrets, app.engine.clone()) {
        Ok(_) => panic!("must be off"),
        Err(why) => why,
    };
    assert!(why.contains("PANDU_WHATSAPP_APP_SECRET"), "{why}");
    assert!(why.contains("PANDU_WHATSAPP_PHONE_NUMBER_ID"), "{why}");
    assert!(!why.contains("test-token"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// With the real runtime and a small dialog folder

const MENU: &str = "Halo, saya Pandu. Pilih menu:";

fn menu_buttons(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": { "text": MENU },
            "action": { "buttons": [
                { "type": "reply", "reply": { "id": "main/start/1", "title": "Info kerja" } },
                { "type": "reply", "reply": { "id": "main/start/2", "title": "Tanya nama" } },
                { "type": "reply", "reply": { "id": "main/start/3", "title": "Topik lain" } }
            ] }
        }
    })
}

#[tokio::test]
async fn a_conversation_runs_over_buttons_lists_and_typed_numbers() {
    let (_dir, graph, app) = start().await;
    say(&app, "wamid.C1", "halo").await;
    let sent = sends(&graph, "the menu", 1).await;
    assert_eq!(sent[0], menu_buttons(USER));
    // The number typed instead of tapping the third button.
    say(&app, "wamid.C2", "3").await;
    let sent = sends(&graph, "the list", 2).await;
    assert_eq!(
        sent[1],
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": USER,
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": { "text": "Pilih topik:" },
                "action": {
                    "button": "Pilih menu",
                    "sections": [ { "rows": [
                        { "id": "main/topik/1", "title": "Satu" },
                        { "id": "main/topik/2", "title": "Dua" },
                        { "id": "main/topik/3", "title": "Tiga" },
                        { "id": "main/topik/4", "title": "Empat" },
                        { "id": "main/topik/5", "title": "Lima" }
                    ] } ]
                }
            }
        })
    );
    post_ok(
        &app,
        &payloads::list_reply(USER, "wamid.C3", now(), "main/topik/2", "Dua"),
    )
    .await;
    eventually("the answer", || graph.sent().len() >= 3).await;
    assert!(text_body(&graph.sent()[2]).starts_with("Info kerja ke luar negeri."));
    app.stop().await;
}

#[tokio::test]
async fn a_photo_where_text_is_expected_gets_a_clear_answer_and_the_question_again() {
    let (_dir, graph, app) = start().await;
    say(&app, "wamid.P1", "halo").await;
    post_ok(
        &app,
        &payloads::button_reply(USER, "wamid.P2", now(), "main/start/2", "Tanya nama"),
    )
    .await;
    let sent = sends(&graph, "the question", 2).await;
    assert_eq!(text_body(&sent[1]), "Siapa nama Anda?");
    post_ok(
        &app,
        &payloads::image(USER, "wamid.P3", now(), "1003383421387256"),
    )
    .await;
    let sent = sends(&graph, "the answer to the photo", 3).await;
    assert_eq!(
        text_body(&sent[2]),
        "Maaf, di sini saya hanya bisa membaca tulisan.\n\nSiapa nama Anda?"
    );
    // A voice note and a sticker get the same clear answer; the question still stands.
    post_ok(&app, &payloads::voice(USER, "wamid.P4", now(), "2222")).await;
    post_ok(&app, &payloads::sticker(USER, "wamid.P5", now())).await;
    say(&app, "wamid.P6", "Sari").await;
    let sent = sends(&graph, "the thanks", 6).await;
    assert!(text_body(&sent[3]).starts_with("Maaf, di sini saya hanya bisa membaca"));
    assert!(text_body(&sent[4]).starts_with("Maaf, di sini saya hanya bisa membaca"));
    assert_eq!(
        text_body(&sent[5]),
        "Terima kasih, Sari.\n\nKetik 0 untuk menu utama."
    );
    app.stop().await;
}

#[tokio::test]
async fn a_photo_and_a_voice_note_where_a_question_accepts_them_are_saved_in_the_data_folder() {
    let photo: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    let voice: Vec<u8> = (0..9_000u32).map(|i| (i % 13) as u8).collect();
    let (dir, graph, app) = start_with(|graph| {
        graph.add_media("1003383421387256", photo.clone(), "image/jpeg");
        graph.add_media("2222", voice.clone(), "audio/ogg");
    })
    .await;
    say(&app, "wamid.M1", "kirim bukti").await;
    let sent = sends(&graph, "the question", 1).await;
    assert!(text_body(&sent[0]).starts_with("Kirim foto atau pesan suara"));
    let image = payloads::image(USER, "wamid.M2", now(), "1003383421387256");
    post_ok(&app, &image).await;
    // Meta redelivers the photo: one download, one answer.
    post_ok(&app, &image).await;
    post_ok(&app, &payloads::voice(USER, "wamid.M3", now(), "2222")).await;
    eventually("both files saved", || {
        whatsapp::media_path(&app.store, "1003383421387256").is_some()
            && whatsapp::media_path(&app.store, "2222").is_some()
    })
    .await;
    let sent = sends(&graph, "two receipts", 3).await;
    assert_eq!(text_body(&sent[1]), "File sudah kami terima.");
    assert_eq!(text_body(&sent[2]), "File sudah kami terima.");
    let saved = whatsapp::media_path(&app.store, "1003383421387256").unwrap();
    assert!(saved.starts_with(dir.path()), "{}", saved.display());
    assert_eq!(std::fs::read(&saved).unwrap(), photo);
    let saved = whatsapp::media_path(&app.store, "2222").unwrap();
    assert_eq!(saved.extension().unwrap(), "ogg");
    assert_eq!(std::fs::read(&saved).unwrap(), voice);
    // The session refers to both, in order, by media id.
    let session = app.store.session(&user(USER)).unwrap().unwrap();
    let references: Vec<&str> = session
        .attachments
        .iter()
        .map(|a| a.reference.as_str())
        .collect();
    assert_eq!(references, ["1003383421387256", "2222"]);
    assert_eq!(
        graph.media_requests(),
        2,
        "the redelivered photo is not fetched again"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_photo_where_no_question_accepts_it_is_not_downloaded() {
    let (_dir, graph, app) =
        start_with(|graph| graph.add_media("1003383421387256", vec![1, 2, 3], "image/jpeg")).await;
    say(&app, "wamid.N1", "halo").await;
    post_ok(
        &app,
        &payloads::image(USER, "wamid.N2", now(), "1003383421387256"),
    )
    .await;
    let sent = sends(&graph, "two answers", 2).await;
    // The clear answer, with the menu again as buttons.
    let answer = &sent[1];
    let body = answer["interactive"]["body"]["text"].as_str().unwrap();
    assert!(
        body.starts_with("Maaf, di sini saya hanya bisa membaca"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(graph.media_requests(), 0);
    assert!(whatsapp::media_path(&app.store, "1003383421387256").is_none());
    app.stop().await;
}

#[tokio::test]
async fn messages_sent_while_the_graph_api_is_down_are_answered_in_order_after_it_recovers() {
    let (_dir, graph, app) = start_with(|graph| graph.down(Failure::Http(502))).await;
    say(&app, "wamid.O1", "halo").await;
    post_ok(
        &app,
        &payloads::button_reply(USER, "wamid.O2", now(), "main/start/2", "Tanya nama"),
    )
    .await;
    say(&app, "wamid.O3", "Sari").await;
    // Meta redelivers one of them while we are down: still handled once.
    say(&app, "wamid.O1", "halo").await;
    eventually("retries", || graph.attempts() >= 3).await;
    graph.up();
    let sent = settled(&graph, "three answers", 3).await;
    assert_eq!(sent[0], menu_buttons(USER));
    assert_eq!(text_body(&sent[1]), "Siapa nama Anda?");
    assert_eq!(
        text_body(&sent[2]),
        "Terima kasih, Sari.\n\nKetik 0 untuk menu utama."
    );
    app.stop().await;
}
