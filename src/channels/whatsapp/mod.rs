//! The WhatsApp channel, over Meta's WhatsApp Cloud API.
//!
//! - [`webhook`]: `GET/POST /webhooks/whatsapp`: verification, signature check, tolerant parsing,
//!   durable commit through [`Engine::handle_batch`], then `200`.
//! - [`sender`]: the outbox worker: renders replies ([`render`]), sends them in per-user order, retries
//!   what can be retried, and handles the 24-hour window with a template and held messages.
//! - [`media`]: downloads of photos, voice notes and documents into the data folder, for the
//!   attachments a question accepted (the webhook queues them after the commit; the path is recorded
//!   under meta `whatsapp.media.<media id>`, see [`media_path`]).
//! - [`payload`] / [`api`]: the inbound webhook JSON and the Graph API client.
//!
//! Identity: a conversation is keyed on the business-scoped user id (`user_id`, BSUID) when Meta
//! sends one, else on the `wa_id`; a phone number is never assumed to exist. When both are known the
//! phone number is kept (meta `whatsapp.addr.<user>`) so replies go to it, as Meta recommends.
//!
//! Invariants: only this module knows WhatsApp's JSON; nothing is acknowledged to Meta before the
//! engine's commit returned; message text and user ids are never logged in clear (see [`user_tag`]).

pub mod api;
pub mod media;
pub mod payload;
pub mod render;
pub mod sender;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc};

use crate::channels::Shutdown;
use crate::config::{Config, Secret, Secrets, WhatsappConfig};
use crate::engine::Engine;
use crate::offer::ocr::Ocr;
use crate::storage::{Channel, Store, UserKey};

pub use api::{GraphApi, SendError};
pub use media::{Downloaded, MediaError};
pub use sender::SenderOptions;

/// Meta key of a user's last inbound message time (Unix seconds, decimal text).
pub fn last_inbound_key(user_id: &str) -> String {
    format!("whatsapp.last_inbound.{user_id}")
}

/// Meta key of the phone number (`wa_id`) of a user keyed on a business-scoped user id.
pub fn address_key(user_id: &str) -> String {
    format!("whatsapp.addr.{user_id}")
}

/// Meta key of where an accepted attachment (by WhatsApp media id) was saved in the data folder.
pub fn media_key(media_id: &str) -> String {
    format!("whatsapp.media.{media_id}")
}

/// Where the attachment with this media id ([`crate::dialog::Attachment::reference`] of a session or
/// a case) was saved, once its download finished.
pub fn media_path(store: &Store, media_id: &str) -> Option<PathBuf> {
    let bytes = store.meta(&media_key(media_id)).ok()??;
    String::from_utf8(bytes).ok().map(PathBuf::from)
}

/// A short, stable tag for a user id, for logs: never the id itself.
pub fn user_tag(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    media::hex(&digest[..4])
}

/// When the user last wrote to us, from the store (Unix seconds).
pub fn last_inbound(store: &Store, user_id: &str) -> Option<u64> {
    let bytes = store.meta(&last_inbound_key(user_id)).ok()??;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

/// The WhatsApp channel: webhook routes and the outbox sender. Cheap to clone.
#[derive(Clone)]
pub struct WhatsApp {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    api: GraphApi,
    app_secret: Secret,
    verify_token: Secret,
    config: WhatsappConfig,
    media_dir: PathBuf,
    options: SenderOptions,
    /// Inbound `wamid`s to mark as read, best effort (dropped when the queue is full).
    reads: mpsc::Sender<String>,
    reads_rx: Mutex<Option<mpsc::Receiver<String>>>,
    /// Media ids of attachments a question accepted, and of photos whose text a conversation waits
    /// for, to download into the data folder.
    downloads: mpsc::Sender<sender::Download>,
    downloads_rx: Mutex<Option<mpsc::Receiver<sender::Download>>>,
    /// Reads photos of job offers (`[ocr]`).
    ocr: Ocr,
    /// Unix ms before which no message is sent (after a throughput limit, 130429, or a failed write).
    paused_until_ms: AtomicU64,
    /// Sender writes that failed (a delivery not recorded, a backoff not saved): nothing more is sent
    /// until they are written (see `sender::run`).
    unwritten: std::sync::Mutex<Vec<sender::Unwritten>>,
}

impl WhatsApp {
    /// The channel, or why it is off: the missing credentials, named by their environment variables
    /// (`PANDU_WHATSAPP_TOKEN, PANDU_WHATSAPP_APP_SECRET not set`).
    pub fn from_config(
        config: &Config,
        secrets: &Secrets,
        engine: Engine,
    ) -> Result<WhatsApp, String> {
        WhatsApp::with_options(config, secrets, engine, SenderOptions::default())
    }

    /// As [`WhatsApp::from_config`], with sender timings (tests and benchmarks use short ones).
    pub fn with_options(
        config: &Config,
        secrets: &Secrets,
        engine: Engine,
        options: SenderOptions,
    ) -> Result<WhatsApp, String> {
        let mut missing = Vec::new();
        if secrets.whatsapp_token.is_none() {
            missing.push("PANDU_WHATSAPP_TOKEN");
        }
        if secrets.whatsapp_app_secret.is_none() {
            missing.push("PANDU_WHATSAPP_APP_SECRET");
        }
        if secrets.whatsapp_verify_token.is_none() {
            missing.push("PANDU_WHATSAPP_VERIFY_TOKEN");
        }
        if secrets.whatsapp_phone_number_id.is_none() {
            missing.push("PANDU_WHATSAPP_PHONE_NUMBER_ID");
        }
        let (Some(token), Some(app_secret), Some(verify_token), Some(phone_number_id)) = (
            secrets.whatsapp_token.clone(),
            secrets.whatsapp_app_secret.clone(),
            secrets.whatsapp_verify_token.clone(),
            secrets.whatsapp_phone_number_id.clone(),
        ) else {
            return Err(format!("{} not set", missing.join(", ")));
        };
        let api = GraphApi::new(
            &config.whatsapp.api_url,
            &config.whatsapp.api_version,
            &phone_number_id,
            token,
        );
        let (reads, reads_rx) = mpsc::channel(4096);
        let (downloads, downloads_rx) = mpsc::channel(1024);
        Ok(WhatsApp {
            inner: Arc::new(Inner {
                engine,
                api,
                app_secret,
                verify_token,
                config: config.whatsapp.clone(),
                media_dir: config.data_dir.join("attachments").join("whatsapp"),
                options,
                reads,
                reads_rx: Mutex::new(Some(reads_rx)),
                downloads,
                downloads_rx: Mutex::new(Some(downloads_rx)),
                ocr: Ocr::new(&config.ocr),
                paused_until_ms: AtomicU64::new(0),
                unwritten: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Mounts `GET` (verification) and `POST` (notifications) on `/webhooks/whatsapp`.
    pub fn router(&self) -> axum::Router {
        webhook::router(self.clone())
    }

    /// Starts the outbox worker, the best-effort read-receipt worker and the download worker for
    /// accepted attachments; all end on shutdown.
    pub fn spawn_sender(&self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        sender::spawn(self.clone(), shutdown)
    }

    /// Downloads a media id (from an [`crate::dialog::Attachment::reference`]) into
    /// `<data_dir>/attachments/whatsapp/`, capped at `whatsapp.max_download_bytes`.
    pub async fn download_media(&self, media_id: &str) -> Result<Downloaded, MediaError> {
        media::download(
            &self.inner.api,
            media_id,
            self.inner.config.max_download_bytes,
            &self.inner.media_dir,
        )
        .await
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn store(&self) -> &Store {
        self.inner.engine.store()
    }

    pub(crate) fn user(id: &str) -> UserKey {
        UserKey::new(Channel::Whatsapp, id)
    }
}
