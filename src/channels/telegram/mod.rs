//! Telegram: users talk to Pandu through a bot, by long polling (default) or a webhook, through
//! teloxide's types and client. Replies leave through a durable outbox worker.
//!
//! - [`poller`]: our own `getUpdates` loop (not teloxide's dispatcher, which acknowledges an update
//!   before its handler ran): one engine commit per batch, holding the next offset, so an update is
//!   confirmed to Telegram only after its effects are durable;
//! - [`webhook`]: the same, one update per request, answered 200 only after the commit;
//! - [`convert`]: update → [`crate::engine::Inbound`] (or a staff command, or nothing);
//! - [`render`]: reply → HTML messages with inline keyboards;
//! - [`sender`]: the outbox worker (per-chat order, pacing, `retry_after`, backoff, permanent failures);
//! - [`files`]: downloading an attachment to the data folder, with a size cap.
//!
//! Invariants: only this module imports teloxide; nothing here logs message text, names, chat ids or
//! the bot token (errors are described by [`describe_error`], which drops URLs and response bodies);
//! nothing is acknowledged to Telegram before the engine's commit returned.

pub mod convert;
pub mod files;
mod poller;
pub mod render;
mod sender;
mod webhook;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, BotCommand, CallbackQueryId, ChatId, MessageId};
use teloxide::{ApiError, Bot, RequestError};

use crate::channels::{Shutdown, StaffCommands};
use crate::config::{Config, Secret, Secrets};
use crate::dialog::{InputKind, Lang, Reply};
use crate::engine::{Engine, EngineError, Outgoing};
use crate::offer::ocr::Ocr;
use crate::storage::{Channel, OutboxKind, UserKey};

pub use convert::{Action, Converted, command_or_text, convert};
pub use files::{FileError, download_file};

/// The meta key holding the next `getUpdates` offset (decimal text), written in the same commit as the
/// updates it confirms.
pub const OFFSET_META: &str = "telegram.offset";

/// Attachments waiting to be downloaded, at most.
const DOWNLOAD_QUEUE: usize = 256;

/// The meta key recording where an attachment (by `file_id`) was saved.
pub fn file_meta_key(file_id: &str) -> String {
    format!("telegram.file.{file_id}")
}

/// The update kinds the bot asks Telegram for.
pub(crate) const ALLOWED_UPDATES: [AllowedUpdate; 2] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("no telegram bot token configured (PANDU_TELEGRAM_TOKEN)")]
    NoToken,
    #[error("telegram.api_url is not a valid URL")]
    ApiUrl,
    #[error("telegram.mode must be \"auto\", \"polling\" or \"webhook\", not {0:?}")]
    Mode(String),
    #[error("webhook mode needs telegram.webhook_url (a public https URL)")]
    WebhookUrl,
    #[error("webhook mode needs a secret in PANDU_TELEGRAM_WEBHOOK_SECRET")]
    WebhookSecret,
    #[error("cannot read telegram commands file {path}: {message}")]
    Commands { path: PathBuf, message: String },
    #[error("cannot build the http client: {0}")]
    Client(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Polling,
    Webhook,
}

/// The bot's settings, from [`crate::config::TelegramConfig`].
pub(crate) struct Settings {
    pub mode: Mode,
    pub webhook_url: Option<reqwest::Url>,
    pub staff_chat_id: i64,
    pub poll_timeout_secs: u32,
    pub poll_limit: u8,
    pub limits: sender::Limits,
    /// Commands per language; `None` is the default list (Bahasa Indonesia).
    pub commands: CommandLists,
}

pub(crate) struct Inner {
    /// For sending (short timeout).
    pub bot: Bot,
    /// For long polling (timeout above the poll timeout).
    pub poll_bot: Bot,
    pub engine: Engine,
    pub staff: Option<Arc<dyn StaffCommands>>,
    pub settings: Settings,
    pub webhook_secret: Option<Secret>,
    pub files_dir: PathBuf,
    pub max_download_bytes: u64,
    /// Attachments a question accepted, and photos whose text a conversation waits for, to fetch in
    /// the background.
    pub downloads: tokio::sync::mpsc::Sender<files::Job>,
    /// The receiving end, taken by [`Telegram::start`].
    pub downloads_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<files::Job>>>,
    /// Reads photos of job offers (`[ocr]`).
    pub ocr: Ocr,
}

/// The Telegram channel. Cheap to clone.
#[derive(Clone)]
pub struct Telegram {
    inner: Arc<Inner>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandsFile {
    #[serde(default)]
    commands: Vec<CommandSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandSpec {
    command: String,
    description: BTreeMap<Lang, String>,
}

/// The bot's commands per language; `None` is the default list.
type CommandLists = Vec<(Option<Lang>, Vec<BotCommand>)>;

fn load_commands(config: &Config) -> Result<CommandLists, TelegramError> {
    let path = &config.telegram.commands_file;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), "telegram commands file missing; commands not registered");
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(TelegramError::Commands {
                path: path.clone(),
                message: e.to_string(),
            });
        }
    };
    let file: CommandsFile = toml::from_str(&text).map_err(|e| TelegramError::Commands {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let list = |lang: Lang| -> Vec<BotCommand> {
        file.commands
            .iter()
            .filter_map(|spec| {
                let text = spec
                    .description
                    .get(&lang)
                    .or_else(|| spec.description.get(&Lang::Id))?;
                Some(BotCommand::new(spec.command.clone(), text.clone()))
            })
            .collect()
    };
    let mut out = vec![(None, list(Lang::Id))];
    for lang in &config.languages {
        if *lang != Lang::Id {
            out.push((Some(*lang), list(*lang)));
        }
    }
    Ok(out)
}

fn client(timeout: Duration) -> Result<reqwest::Client, TelegramError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| TelegramError::Client(e.without_url().to_string()))
}

impl Telegram {
    /// Builds the channel. `Err` when no token is configured (serve then runs without Telegram and says
    /// why) or the Telegram settings are invalid.
    pub fn from_config(
        config: &Config,
        secrets: &Secrets,
        engine: Engine,
        staff: Option<Arc<dyn StaffCommands>>,
    ) -> Result<Telegram, TelegramError> {
        let token = secrets
            .telegram_token
            .as_ref()
            .ok_or(TelegramError::NoToken)?;
        let tg = &config.telegram;
        let api_url = reqwest::Url::parse(&tg.api_url).map_err(|_| TelegramError::ApiUrl)?;
        let mode = match tg.mode.trim().to_ascii_lowercase().as_str() {
            // The default: a webhook when its URL is configured, long polling otherwise.
            "" | "auto" if tg.webhook_url.trim().is_empty() => Mode::Polling,
            "" | "auto" | "webhook" => Mode::Webhook,
            "polling" => Mode::Polling,
            other => return Err(TelegramError::Mode(other.to_string())),
        };
        let webhook_url = match mode {
            Mode::Polling => None,
            Mode::Webhook => {
                let url =
                    reqwest::Url::parse(&tg.webhook_url).map_err(|_| TelegramError::WebhookUrl)?;
                if secrets.telegram_webhook_secret.is_none() {
                    return Err(TelegramError::WebhookSecret);
                }
                Some(url)
            }
        };
        let poll_timeout_secs = tg.poll_timeout_secs.min(50);
        let bot = Bot::with_client(token.expose(), client(Duration::from_secs(20))?)
            .set_api_url(api_url.clone());
        let poll_bot = Bot::with_client(
            token.expose(),
            client(Duration::from_secs(u64::from(poll_timeout_secs) + 15))?,
        )
        .set_api_url(api_url);
        let settings = Settings {
            mode,
            webhook_url,
            staff_chat_id: tg.staff_chat_id,
            poll_timeout_secs,
            poll_limit: u8::try_from(tg.poll_limit.clamp(1, 100)).unwrap_or(100),
            limits: sender::Limits {
                global_per_sec: tg.global_per_sec,
                per_chat_interval_ms: tg.per_chat_interval_ms,
                max_in_flight: usize::try_from(tg.max_in_flight.max(1)).unwrap_or(1),
                retry_max_ms: tg.retry_max_secs.max(1).saturating_mul(1000),
            },
            commands: load_commands(config)?,
        };
        let (downloads, downloads_rx) = tokio::sync::mpsc::channel(DOWNLOAD_QUEUE);
        Ok(Telegram {
            inner: Arc::new(Inner {
                bot,
                poll_bot,
                engine,
                staff,
                settings,
                webhook_secret: secrets.telegram_webhook_secret.clone(),
                files_dir: config.data_dir.join("telegram_files"),
                max_download_bytes: tg.max_download_bytes,
                downloads,
                downloads_rx: std::sync::Mutex::new(Some(downloads_rx)),
                ocr: Ocr::new(&config.ocr),
            }),
        })
    }

    pub fn mode(&self) -> Mode {
        self.inner.settings.mode
    }

    /// `POST /webhooks/telegram` in webhook mode; an empty router otherwise.
    pub fn router(&self) -> axum::Router {
        match self.inner.settings.mode {
            Mode::Webhook => webhook::router(self.inner.clone()),
            Mode::Polling => axum::Router::new(),
        }
    }

    /// Starts the channel's tasks: the outbox sender, and the poller (polling mode) or the webhook
    /// registration (webhook mode, removed again at shutdown); registers the bot's commands. Every task
    /// ends when `shutdown` turns true.
    pub async fn start(&self, shutdown: Shutdown) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(sender::run(
            self.inner.bot.clone(),
            self.inner.engine.clone(),
            self.inner.settings.limits.clone(),
            shutdown.clone(),
        )));
        let inner = self.inner.clone();
        let setup_shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            setup(&inner).await;
            if inner.settings.mode == Mode::Webhook {
                webhook::register_until_shutdown(&inner, setup_shutdown).await;
            }
        }));
        let downloads = self
            .inner
            .downloads_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take());
        if let Some(rx) = downloads {
            tasks.push(tokio::spawn(files::download_worker(
                self.inner.clone(),
                rx,
                shutdown.clone(),
            )));
        }
        if self.inner.settings.mode == Mode::Polling {
            tasks.push(tokio::spawn(poller::run(self.inner.clone(), shutdown)));
        }
        tasks
    }

    /// Downloads an attachment (by its Telegram `file_id`) into the data folder, refusing files over
    /// `telegram.max_download_bytes`. Returns the saved path.
    pub async fn download(&self, file_id: &str) -> Result<PathBuf, FileError> {
        files::download_file(
            &self.inner.bot,
            file_id,
            &self.inner.files_dir,
            self.inner.max_download_bytes,
        )
        .await
    }
}

/// `getMe` (checks the token, logs the bot's public username) and `setMyCommands`. Failures are logged;
/// the bot works without them.
async fn setup(inner: &Inner) {
    match inner.bot.get_me().await {
        Ok(me) => {
            tracing::info!(bot = %me.username(), mode = ?inner.settings.mode, "telegram bot ready")
        }
        Err(e) => tracing::error!(error = %describe_error(&e), "telegram getMe failed"),
    }
    for (lang, commands) in &inner.settings.commands {
        if commands.is_empty() {
            continue;
        }
        let mut request = inner.bot.set_my_commands(commands.clone());
        if let Some(lang) = lang {
            request.language_code = Some(lang.code().to_string());
        }
        if let Err(e) = request.await {
            tracing::warn!(error = %describe_error(&e), "telegram setMyCommands failed");
        }
    }
}

/// Commits converted updates as one group (with `meta`, e.g. the next offset), then answers their
/// callback queries and runs their staff commands. Returns only after the commit; an error means
/// nothing was committed and nothing may be acknowledged.
pub(crate) async fn commit(
    inner: &Inner,
    converted: Vec<Converted>,
    meta: Vec<(String, Vec<u8>)>,
) -> Result<(), EngineError> {
    let mut inbounds = Vec::with_capacity(converted.len());
    let mut callbacks: Vec<(CallbackQueryId, Option<(ChatId, MessageId)>)> = Vec::new();
    let mut staff = Vec::new();
    for c in converted {
        if let Some(id) = c.callback {
            callbacks.push((id, c.pressed));
        }
        match c.action {
            Action::Dialog(inbound) => inbounds.push(inbound),
            Action::Staff { from, text } => staff.push((from, text)),
            Action::Skip(reason) => {
                tracing::debug!(update_id = c.update_id, reason, "telegram update skipped")
            }
        }
    }
    if !inbounds.is_empty() || !meta.is_empty() {
        let attachments: Vec<(UserKey, String)> = inbounds
            .iter()
            .filter_map(|inbound| match &inbound.input.kind {
                InputKind::Attachment(a) => Some((inbound.user.clone(), a.reference.clone())),
                _ => None,
            })
            .collect();
        inner.engine.handle_batch(inbounds, meta).await?;
        for (user, file_id) in attachments {
            queue_download(inner, &user, file_id);
        }
    }
    for (id, pressed) in callbacks {
        let bot = inner.bot.clone();
        tokio::spawn(async move {
            if let Err(e) = bot.answer_callback_query(id).await {
                tracing::debug!(error = %describe_error(&e), "answerCallbackQuery failed");
            }
            // Best effort: the press itself is committed and answered either way.
            if let Some((chat, message)) = pressed
                && let Err(e) = bot.edit_message_reply_markup(chat, message).await
            {
                tracing::debug!(error = %describe_error(&e), "editMessageReplyMarkup failed");
            }
        });
    }
    // Staff commands run after the commit that confirmed them: at most once, never twice.
    for (from, text) in staff {
        run_staff(inner, &from, &text).await;
    }
    Ok(())
}

/// Queues the download of an attachment the current question accepted (the committed session holds
/// it), or of a photo whose text the conversation waits for (read, then handed in as `ocr:<file_id>`);
/// anything else was answered "please type or choose" and is not fetched.
fn queue_download(inner: &Inner, user: &UserKey, file_id: String) {
    let store = inner.engine.store();
    let read = crate::channels::photo_text::awaited(store, user, &file_id);
    let accepted = read
        || store
            .session(user)
            .ok()
            .flatten()
            .is_some_and(|s| s.attachments.iter().any(|a| a.reference == file_id));
    if !accepted {
        return;
    }
    let job = files::Job {
        file_id,
        read_for: read.then(|| user.clone()),
    };
    if let Err(e) = inner.downloads.try_send(job) {
        let job = match e {
            tokio::sync::mpsc::error::TrySendError::Full(job)
            | tokio::sync::mpsc::error::TrySendError::Closed(job) => job,
        };
        tracing::warn!("telegram download queue full; the attachment stays a file_id only");
        // A photo whose text is awaited still gets an answer: "please type it".
        if let Some(user) = job.read_for {
            crate::channels::photo_text::hand_in_unread(
                &inner.engine,
                &inner.ocr,
                user,
                job.file_id,
            );
        }
    }
}

async fn run_staff(inner: &Inner, from: &str, text: &str) {
    let Some(hook) = inner.staff.as_ref() else {
        tracing::info!("message in the staff chat ignored: no staff commands configured");
        return;
    };
    let Some(answer) = hook.handle(from, text).await else {
        tracing::warn!("staff command refused: sender is not staff");
        return;
    };
    let outgoing = Outgoing {
        user: UserKey::new(Channel::Telegram, inner.settings.staff_chat_id.to_string()),
        reply: Reply {
            text: answer,
            choices: Vec::new(),
        },
        kind: OutboxKind::Reply,
    };
    if let Err(e) = inner.engine.send(vec![outgoing]).await {
        tracing::error!(error = %e, "cannot queue the staff command's answer");
    }
}

/// A description of a request error that is safe to log and store: no URL (it holds the token), no
/// response body (it may hold message text).
pub fn describe_error(error: &RequestError) -> String {
    match error {
        RequestError::Api(e) => format!("telegram: {e}"),
        RequestError::MigrateToChatId(_) => "group migrated to a supergroup".into(),
        RequestError::RetryAfter(s) => format!("flood control: retry after {}s", s.seconds()),
        RequestError::Network(e) => {
            let what = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "connection failed"
            };
            match e.status() {
                Some(status) => format!("network: {what} (http {status})"),
                None => format!("network: {what}"),
            }
        }
        RequestError::InvalidJson { .. } => "unreadable response from telegram".into(),
        RequestError::Io(_) => "i/o error".into(),
    }
}

/// Whether a failed request may succeed later (`true`), or is refused for good (blocked, chat gone, a
/// request Telegram will never accept).
pub(crate) fn is_transient(error: &RequestError) -> bool {
    match error {
        RequestError::RetryAfter(_)
        | RequestError::Network(_)
        | RequestError::InvalidJson { .. }
        | RequestError::Io(_) => true,
        RequestError::MigrateToChatId(_) => false,
        // A wrong token is a configuration error: keep the messages until it is fixed.
        RequestError::Api(ApiError::InvalidToken) => true,
        RequestError::Api(ApiError::Unknown(description)) => {
            let d = description.to_ascii_lowercase();
            !(d.starts_with("bad request") || d.starts_with("forbidden"))
        }
        RequestError::Api(_) => false,
    }
}
