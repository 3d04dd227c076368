//! Starts the real WhatsApp channel (router on 127.0.0.1:0, engine, sled store in a temp folder,
//! outbox sender) against the stand-in Graph API.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pandu::channels::whatsapp::{SenderOptions, WhatsApp, webhook};
use pandu::config::{Config, Secret, Secrets};
use pandu::dialog::{Actions, Bot};
use pandu::engine::{Engine, EngineConfig, IgnoreEffects};
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::graph_api::{self, GraphApi};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";

pub fn secrets() -> Secrets {
    Secrets {
        whatsapp_token: Some(Secret::new(graph_api::TOKEN)),
        whatsapp_app_secret: Some(Secret::new(APP_SECRET)),
        whatsapp_verify_token: Some(Secret::new(VERIFY_TOKEN)),
        whatsapp_phone_number_id: Some(graph_api::PHONE_NUMBER_ID.to_string()),
        ..Secrets::default()
    }
}

pub fn config(dir: &Path, graph: &GraphApi) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.whatsapp.api_url = graph.url.clone();
    config.whatsapp.update_template = "case_update".into();
    config.whatsapp.update_template_lang = "id".into();
    config
}

/// Fast timings so retries happen within a test.
pub fn fast_options() -> SenderOptions {
    SenderOptions {
        poll: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..SenderOptions::default()
    }
}

pub struct App {
    pub url: String,
    pub engine: Engine,
    pub store: Store,
    pub whatsapp: WhatsApp,
    http: reqwest::Client,
    shutdown: watch::Sender<bool>,
    sender: Option<JoinHandle<()>>,
    server: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl App {
    /// The app with its sender running.
    pub async fn start(dir: &Path, graph: &GraphApi, bot: Bot) -> App {
        let mut app = App::start_without_sender(dir, graph, bot).await;
        app.start_sender();
        app
    }

    pub async fn start_without_sender(dir: &Path, graph: &GraphApi, bot: Bot) -> App {
        let store = Store::open(&dir.join("db"), DEFAULT_CACHE_BYTES).unwrap();
        let (engine, writer) = Engine::start(
            store.clone(),
            Arc::new(RwLock::new(Arc::new(bot))),
            Actions::new(),
            Arc::new(IgnoreEffects),
            EngineConfig {
                idle_secs: 12 * 3600,
                max_batch: 256,
            },
        );
        let whatsapp = WhatsApp::with_options(
            &config(dir, graph),
            &secrets(),
            engine.clone(),
            fast_options(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH);
        let router = whatsapp.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let (shutdown, _) = watch::channel(false);
        App {
            url,
            engine,
            store,
            whatsapp,
            // No pooled connections: stopping the server then really drops its state.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            shutdown,
            sender: None,
            server,
            writer,
        }
    }

    pub fn start_sender(&mut self) {
        if self.sender.is_none() {
            self.sender = Some(self.whatsapp.spawn_sender(self.shutdown.subscribe()));
        }
    }

    /// Posts a correctly signed notification.
    pub async fn post(&self, body: &Value) -> StatusCode {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = webhook::sign(APP_SECRET.as_bytes(), &bytes);
        self.post_raw(bytes, Some(&signature)).await
    }

    pub async fn post_raw(&self, body: Vec<u8>, signature: Option<&str>) -> StatusCode {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        request.send().await.unwrap().status()
    }

    pub async fn get(&self, query: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}?{query}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Stops everything and waits until the database is closed.
    pub async fn stop(self) {
        let App {
            engine,
            store,
            whatsapp,
            http,
            shutdown,
            sender,
            server,
            writer,
            ..
        } = self;
        let _ = shutdown.send(true);
        if let Some(sender) = sender {
            tokio::time::timeout(Duration::from_secs(10), sender)
                .await
                .unwrap()
                .unwrap();
        }
        server.abort();
        let _ = server.await;
        drop((engine, whatsapp, http));
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .unwrap()
            .unwrap();
        store.flush().await.unwrap();
        drop(store);
    }
}

/// Waits (bounded) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}
