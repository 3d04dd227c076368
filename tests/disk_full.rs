//! A full disk, simulated by the store's write-fault switch (deterministic, no special file system):
//! the WhatsApp sender must not turn into a resend loop, the engine must recover by itself once writes
//! work again (sled refuses every write after an IO error until the database is reopened), and
//! `/healthz` must say so meanwhile.
#![allow(clippy::unwrap_used)]

#[path = "whatsapp_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pandu::storage::{Channel, WriteFault};
use reqwest::StatusCode;
use serde_json::Value;
use support::app::{App, eventually};
use support::graph_api::GraphApi;
use support::payloads;

const USER: &str = "6281200000031";

fn now() -> u64 {
    pandu::time::now_secs()
}

/// `/healthz` of `app`'s engine, served on a port of its own (abort the task before stopping the app:
/// it holds an engine handle).
async fn health_url(app: &App) -> (String, tokio::task::JoinHandle<()>) {
    let router = pandu::web::router(pandu::web::HealthState {
        engine: app.engine.clone(),
        channels: Arc::new(BTreeMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, server)
}

async fn health(url: &str) -> (StatusCode, Value) {
    let response = tokio::time::timeout(Duration::from_secs(2), reqwest::get(url))
        .await
        .expect("/healthz answers within 2 s")
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_cannot_be_recorded_is_not_sent_again_and_again() {
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphApi::start().await;
    let mut app =
        App::start_without_sender(dir.path(), &graph, support::dialogs::bot(dir.path())).await;
    let status = app
        .post(&payloads::text(
            USER,
            "wamid.df1",
            now(),
            "halo kak mau nanya2 dong",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let queued = app.store.outbox_len(Channel::Whatsapp);
    assert!(queued > 0, "the greeting waits in the outbox");

    // The disk fills up: the sender can send, but cannot record that it did.
    app.store.set_write_fault(WriteFault::Failing);
    app.start_sender();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = graph.attempts();
    assert_eq!(
        attempts, 1,
        "one send, then nothing until the record is written (not a resend loop)"
    );
    assert_eq!(app.store.outbox_len(Channel::Whatsapp), queued);

    // Space again: the record is written first, then the rest goes out, each message once.
    app.store.set_write_fault(WriteFault::Off);
    eventually("the outbox drains", || {
        app.store.outbox_len(Channel::Whatsapp) == 0
    })
    .await;
    assert_eq!(graph.sent().len(), queued, "every reply sent exactly once");
    assert_eq!(graph.attempts(), queued);
    let deliveries = app.store.deliveries(Channel::Whatsapp).unwrap();
    assert_eq!(deliveries.len(), queued);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_disk_has_room_again_webhooks_work_without_a_restart_and_health_tells_the_truth()
{
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphApi::start().await;
    let app = App::start(dir.path(), &graph, support::dialogs::bot(dir.path())).await;
    let (url, health_server) = health_url(&app).await;
    let (code, body) = health(&url).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["store"], "ok");

    // A real IO error makes sled refuse every later write of the same database instance.
    app.store.set_write_fault(WriteFault::UntilReopen);
    let status = app
        .post(&payloads::text(
            USER,
            "wamid.df2",
            now(),
            "tolongg kakak sy di malaysia",
        ))
        .await;
    assert_ne!(
        status,
        StatusCode::OK,
        "nothing acknowledged that is not on disk"
    );
    let (code, body) = health(&url).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["store"], "degraded: cannot write");

    // Space is freed. No restart: the engine retries, reopens the database and carries on.
    app.store.set_write_fault(WriteFault::Off);
    let healthy = async {
        loop {
            if health(&url).await.0 == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), healthy)
        .await
        .expect("health is ok again within 15 s of the disk having room");
    // Meta sends the message again; this time it is committed and answered.
    let status = app
        .post(&payloads::text(
            USER,
            "wamid.df2",
            now(),
            "tolongg kakak sy di malaysia",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("the answer goes out", || !graph.sent().is_empty()).await;
    assert!(app.store.reopens() >= 1);
    health_server.abort();
    let _ = health_server.await;
    app.stop().await;
}
