//! Configuration: `config/pandu.toml`, then `PANDU_*` environment overrides, then command-line flags.
//!
//! Every key of the file can be overridden by an environment variable named after its path:
//! `[telegram] api_url` is `PANDU_TELEGRAM_API_URL`, top-level `data_dir` is `PANDU_DATA_DIR`.
//! Secrets (tokens, app secrets) are read only from the environment and wrapped in [`Secret`], which never
//! prints its value.
//!
//! Invariant: this module never logs or prints a secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dialog::Lang;

/// A value that must never appear in logs, errors or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value itself, for the one place that sends it (a header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where sled and downloaded attachments live.
    pub data_dir: PathBuf,
    /// Languages the dialogs must provide (Bahasa Indonesia is always on).
    pub languages: Vec<Lang>,
    pub dialogs: DialogsConfig,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub retention: RetentionConfig,
    pub telegram: TelegramConfig,
    pub whatsapp: WhatsappConfig,
    pub cases: CasesConfig,
    pub agencies: AgenciesConfig,
    pub desk: DeskConfig,
    pub ocr: OcrConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialogsConfig {
    /// Folder of dialog files.
    pub dir: PathBuf,
    /// The values dialogs refer to as `{fact.key}`.
    pub facts_file: PathBuf,
    /// A fact verified longer ago than this is flagged by the checker.
    pub fact_max_age_days: u32,
    /// A conversation silent for longer than this restarts politely (offering to resume).
    pub session_idle_minutes: u32,
    /// The match caches of all dialog patterns together, in MB (0: no limit): past it they are
    /// started afresh (`dialog::pattern`, "budget").
    pub match_cache_mb: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// Group commit: at most this many inbound messages share one flush.
    pub max_batch: usize,
    /// Most HTTP connections open at once (0: three quarters of the process's file limit,
    /// `RLIMIT_NOFILE`, so the database and the platforms' connections always have files left).
    pub max_connections: usize,
    /// A client must send a request's headers within this many seconds of connecting (or of its
    /// previous request on the same connection), else the connection is closed.
    pub header_timeout_secs: u64,
    /// A request's body must arrive within this many seconds.
    pub body_timeout_secs: u64,
    /// Threads for the HTTP server, the senders and the pollers (0: one per core). The engine has a
    /// thread of its own besides. One is plenty for what the platforms allow a bot to send and keeps
    /// memory down (each thread adds its allocator caches; issue 16).
    pub workers: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub cache_mb: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    pub api_url: String,
    /// `auto` (default: `webhook` when `webhook_url` is set, else `polling`), `polling` or `webhook`.
    pub mode: String,
    /// Public HTTPS URL of this server's `/webhooks/telegram`, for webhook mode.
    pub webhook_url: String,
    /// The staff group chat that hears about new cases (0: none).
    pub staff_chat_id: i64,
    /// Telegram user ids allowed to run staff commands.
    pub staff_user_ids: Vec<i64>,
    /// Largest attachment downloaded to the data folder, in bytes.
    pub max_download_bytes: u64,
    /// The bot commands' descriptions for `setMyCommands` (user-facing text, per language).
    pub commands_file: PathBuf,
    /// Long-polling wait per `getUpdates`, in seconds.
    pub poll_timeout_secs: u32,
    /// Most updates per `getUpdates` (1 to 100).
    pub poll_limit: u32,
    /// Messages per second to all chats together (Telegram allows about 30).
    pub global_per_sec: u32,
    /// Smallest gap between two messages to one chat, in milliseconds (Telegram: about one per second).
    pub per_chat_interval_ms: u64,
    /// Most `sendMessage` calls in flight at once.
    pub max_in_flight: u32,
    /// Longest backoff between two attempts of one message after a network or server error, in seconds.
    pub retry_max_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsappConfig {
    pub api_url: String,
    pub api_version: String,
    /// Approved template used outside the 24-hour window to tell a user there is news on their case.
    pub update_template: String,
    pub update_template_lang: String,
    pub max_download_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CasesConfig {
    /// Ticket codes look like `PKL-7KQ2MX`.
    pub code_prefix: String,
    /// Response target per priority, in hours.
    pub response_hours: BTreeMap<String, u32>,
    pub contacts_file: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgenciesConfig {
    /// Demo registry used only while no real snapshot was imported.
    pub sample_file: PathBuf,
    /// The words around an agency check (status names, hints, notes).
    pub labels_file: PathBuf,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("data"),
            languages: vec![Lang::Id, Lang::En],
            dialogs: DialogsConfig::default(),
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            retention: RetentionConfig::default(),
            telegram: TelegramConfig::default(),
            whatsapp: WhatsappConfig::default(),
            cases: CasesConfig::default(),
            agencies: AgenciesConfig::default(),
            desk: DeskConfig::default(),
            ocr: OcrConfig::default(),
        }
    }
}

impl Default for DialogsConfig {
    fn default() -> DialogsConfig {
        DialogsConfig {
            dir: PathBuf::from("dialogs"),
            facts_file: PathBuf::from("config/facts.yaml"),
            fact_max_age_days: 365,
            session_idle_minutes: 12 * 60,
            match_cache_mb: crate::dialog::pattern::DEFAULT_CACHE_BUDGET_MB as u32,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            max_batch: 256,
            max_connections: 0,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            workers: 1,
        }
    }
}

/// How long records are kept (see `storage::retention`). 0 keeps them forever.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Records of sent or given-up replies (their texts), after their delivery.
    pub delivered_days: u64,
    /// Dedupe records of inbound message ids: longer than the platforms' redelivery (WhatsApp: 7 days).
    pub dedupe_days: u64,
    /// Conversations (and unfinished report intakes) silent for this long.
    pub session_days: u64,
    /// Messages Pandu did not understand (masked, for the desk's "not understood" page).
    pub unanswered_days: u64,
    /// Pause between two sweeps of the whole database.
    pub sweep_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            delivered_days: 30,
            dedupe_days: 14,
            session_days: 30,
            unanswered_days: 30,
            sweep_minutes: 10,
        }
    }
}

impl RetentionConfig {
    /// The policy in seconds; a 0 (keep forever) becomes "never".
    pub fn policy(&self) -> crate::storage::retention::Retention {
        let days = |d: u64| if d == 0 { u64::MAX / 86_400 } else { d };
        crate::storage::retention::Retention::from_days(
            days(self.delivered_days),
            days(self.dedupe_days),
            days(self.session_days),
        )
        .with_unanswered_days(days(self.unanswered_days))
    }
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            cache_mb: crate::storage::DEFAULT_CACHE_MB,
        }
    }
}

impl Default for TelegramConfig {
    fn default() -> TelegramConfig {
        TelegramConfig {
            api_url: "https://api.telegram.org".into(),
            mode: "auto".into(),
            webhook_url: String::new(),
            staff_chat_id: 0,
            staff_user_ids: Vec::new(),
            max_download_bytes: 20 * 1024 * 1024,
            commands_file: PathBuf::from("config/telegram.toml"),
            poll_timeout_secs: 25,
            poll_limit: 100,
            global_per_sec: 30,
            per_chat_interval_ms: 1000,
            max_in_flight: 32,
            retry_max_secs: 300,
        }
    }
}

impl Default for WhatsappConfig {
    fn default() -> WhatsappConfig {
        WhatsappConfig {
            api_url: "https://graph.facebook.com".into(),
            api_version: "v21.0".into(),
            update_template: "case_update".into(),
            update_template_lang: "id".into(),
            max_download_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for CasesConfig {
    fn default() -> CasesConfig {
        CasesConfig {
            code_prefix: "PKL".into(),
            response_hours: [("P1", 4), ("P2", 24), ("P3", 72), ("P4", 120)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            contacts_file: PathBuf::from("config/contacts.yaml"),
        }
    }
}

/// The staff desk on the web (`/staff`, see `web::desk`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskConfig {
    /// Serve the desk at all.
    pub enabled: bool,
    /// Send the session cookie over plain HTTP to a non-loopback address (an office LAN without TLS).
    /// What this gives up: anyone on that network who can read its traffic (shared Wi-Fi, a
    /// compromised switch) can read the cases on screen and take over a signed-in session. Prefer a
    /// TLS reverse proxy; on loopback (`127.0.0.1`) the desk works without TLS anyway.
    pub allow_plain_http: bool,
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u32,
    /// A session ends this many hours after sign-in, whatever happens.
    pub absolute_hours: u32,
    /// Wrong passwords for one name before it is locked.
    pub max_failures: u32,
    /// How long a name stays locked, and the window the failures are counted in.
    pub lockout_minutes: u32,
    /// Sign-in attempts one address may make per minute.
    pub attempts_per_minute: u32,
    /// Cases per inbox page.
    pub page_size: usize,
    /// How long personal data stays shown after an officer chose to show it.
    pub reveal_minutes: u32,
    /// Intake fields that are personal data: masked until an officer shows them.
    pub personal_fields: Vec<String>,
}

impl Default for DeskConfig {
    fn default() -> DeskConfig {
        DeskConfig {
            enabled: true,
            allow_plain_http: false,
            idle_minutes: 30,
            absolute_hours: 12,
            max_failures: 5,
            lockout_minutes: 15,
            attempts_per_minute: 20,
            page_size: 50,
            reveal_minutes: 15,
            personal_fields: [
                "nama_pelapor",
                "nama_pmi",
                "kota",
                "majikan",
                "agensi",
                "cerita",
                "lokasi",
                "keinginan",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        }
    }
}

/// Reading the text of a photographed or screenshotted job offer with Tesseract (see `offer::ocr`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrConfig {
    /// The `tesseract` program: a name looked up on PATH or a full path; empty turns OCR off.
    pub tesseract: String,
    /// Tesseract's language data (`ind`: Debian package tesseract-ocr-ind).
    pub lang: String,
    /// A run that takes longer is killed.
    pub timeout_secs: u64,
    /// A larger image is not read.
    pub max_image_bytes: u64,
}

impl Default for OcrConfig {
    fn default() -> OcrConfig {
        OcrConfig {
            tesseract: "tesseract".into(),
            lang: "ind".into(),
            timeout_secs: 10,
            max_image_bytes: 5 * 1024 * 1024,
        }
    }
}

impl Default for AgenciesConfig {
    fn default() -> AgenciesConfig {
        AgenciesConfig {
            sample_file: PathBuf::from("config/agencies.sample.csv"),
            labels_file: PathBuf::from(crate::registry::labels::DEFAULT_PATH),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value:?} is not a valid {expected}")]
    Env {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Secrets, from the environment only.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    pub telegram_token: Option<Secret>,
    pub telegram_webhook_secret: Option<Secret>,
    pub whatsapp_token: Option<Secret>,
    pub whatsapp_app_secret: Option<Secret>,
    pub whatsapp_verify_token: Option<Secret>,
    pub whatsapp_phone_number_id: Option<String>,
}

impl Secrets {
    pub fn from_env() -> Secrets {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Secrets {
            telegram_token: get("PANDU_TELEGRAM_TOKEN").map(Secret),
            telegram_webhook_secret: get("PANDU_TELEGRAM_WEBHOOK_SECRET").map(Secret),
            whatsapp_token: get("PANDU_WHATSAPP_TOKEN").map(Secret),
            whatsapp_app_secret: get("PANDU_WHATSAPP_APP_SECRET").map(Secret),
            whatsapp_verify_token: get("PANDU_WHATSAPP_VERIFY_TOKEN").map(Secret),
            whatsapp_phone_number_id: get("PANDU_WHATSAPP_PHONE_NUMBER_ID"),
        }
    }
}

impl Config {
    /// Loads the file (if it exists; a missing default file means defaults) and applies `PANDU_*`
    /// overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut value = toml::Value::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let default_path = PathBuf::from("config/pandu.toml");
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_path, false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                merge(&mut value, file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
        apply_env(&mut value, "PANDU", env)?;
        let mut config: Config =
            value
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        if !config.languages.contains(&Lang::Id) {
            config.languages.insert(0, Lang::Id);
        }
        if config.server.max_batch == 0 {
            return Err(ConfigError::Invalid(
                "server.max_batch must be at least 1".into(),
            ));
        }
        Ok(config)
    }

    /// Loads with the real process environment.
    pub fn load_from_env(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load(path, &|name| std::env::var(name).ok())
    }

    pub fn session_idle_secs(&self) -> u64 {
        u64::from(self.dialogs.session_idle_minutes) * 60
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

/// Overrides every leaf `a.b_c` with `PANDU_A_B_C` when set, parsed as the leaf's type.
fn apply_env(
    value: &mut toml::Value,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let toml::Value::Table(table) = value else {
        return Ok(());
    };
    for (k, v) in table.iter_mut() {
        let name = format!("{prefix}_{}", k.to_ascii_uppercase());
        if let toml::Value::Table(_) = v {
            apply_env(v, &name, env)?;
            continue;
        }
        let Some(raw) = env(&name) else { continue };
        let bad = |expected| ConfigError::Env {
            name: name.clone(),
            value: raw.clone(),
            expected,
        };
        *v = match v {
            toml::Value::String(_) => toml::Value::String(raw.clone()),
            toml::Value::Integer(_) => {
                toml::Value::Integer(raw.trim().parse().map_err(|_| bad("whole number"))?)
            }
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(raw.trim().parse().map_err(|_| bad("true or false"))?)
            }
            toml::Value::Array(_) => {
                // A comma-separated list: `PANDU_LANGUAGES=id,en`; numbers stay numbers.
                let items = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.parse::<i64>() {
                        Ok(n) => toml::Value::Integer(n),
                        Err(_) => toml::Value::String(s.to_string()),
                    })
                    .collect();
                toml::Value::Array(items)
            }
            _ => toml::Value::String(raw.clone()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/pandu\"\n[telegram]\nstaff_chat_id = -100\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "PANDU_TELEGRAM_API_URL" => Some("http://127.0.0.1:9".to_string()),
            "PANDU_SERVER_LISTEN" => Some("0.0.0.0:80".to_string()),
            "PANDU_TELEGRAM_STAFF_USER_IDS" => Some("1, 2".to_string()),
            _ => None,
        };
        let config = Config::load(Some(&path), &env).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/pandu"));
        assert_eq!(config.telegram.staff_chat_id, -100);
        assert_eq!(config.telegram.api_url, "http://127.0.0.1:9");
        assert_eq!(config.server.listen, "0.0.0.0:80");
        assert_eq!(config.telegram.staff_user_ids, vec![1, 2]);
        assert_eq!(config.whatsapp.api_version, "v21.0");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let env = |name: &str| (name == "PANDU_DIALOGS_FACT_MAX_AGE_DAYS").then(|| "a year".into());
        let err = Config::load(None, &env).unwrap_err().to_string();
        assert!(err.contains("PANDU_DIALOGS_FACT_MAX_AGE_DAYS"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "[server]\nlisten_adress = \"x\"\n").unwrap();
        let err = Config::load(Some(&path), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_adress"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
