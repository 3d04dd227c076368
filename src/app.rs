//! Assembles the parts for a command: config, dialogs, store, actions, engine. Shared by `chat`,
//! `serve` and the staff commands so they all run the same bot.
//!
//! Invariant: the engine never starts on dialogs that fail the checker.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::dialog::loader::{self, LoadOptions};
use crate::dialog::{Actions, Bot, Diagnostic};
use crate::engine::{EffectHandler, Engine, EngineConfig};
use crate::registry::Registry;
use crate::storage::Store;
use crate::time::Date;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(
        "the data folder {0} is in use by another pandu process (is `pandu serve` running?); stop it or use another PANDU_DATA_DIR"
    )]
    Locked(String),
    #[error("cannot open the database in {path}: {message}")]
    Store { path: String, message: String },
    #[error("the dialogs have {0} error(s); run `pandu check` to see them")]
    Dialogs(usize),
    #[error("{0}")]
    Unsafe(String),
}

/// Creates `dir` (and missing parents) readable by this user only (0700), or checks that an existing
/// one is: a data folder others can read hands them every report. `Err` says how to fix it.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        return builder
            .create(dir)
            .map_err(|e| format!("cannot create the data folder {}: {e}", dir.display()));
    }
    check_private(dir)
}

/// Refuses a file or folder that users other than its owner can read, write or enter, with the
/// command that fixes it. A missing path is fine.
pub fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let (what, fix) = if meta.is_dir() {
                ("folder", "chmod -R go-rwx")
            } else {
                ("file", "chmod 600")
            };
            return Err(format!(
                "refusing to start: the {what} {} can be read by other users of this machine \
                 (mode {mode:03o}); it holds personal data. Fix: `{fix} {}` (as the user that runs pandu)",
                path.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

pub fn load_options(config: &Config) -> LoadOptions {
    LoadOptions {
        languages: config.languages.clone(),
        facts_file: Some(config.dialogs.facts_file.clone()),
        fact_max_age_days: config.dialogs.fact_max_age_days,
        today: Date::today(),
    }
}

/// Loads and checks the dialogs named by the config.
pub fn load_bot(
    config: &Config,
    actions: &Actions,
) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
    crate::dialog::pattern::set_cache_budget((config.dialogs.match_cache_mb as usize) << 20);
    loader::load(&config.dialogs.dir, actions, &load_options(config))
}

/// Opens the data folder's database, waiting briefly for a lock left by a store closed in this
/// process (see [`Store::open`]).
pub fn open_store(config: &Config) -> Result<Store, AppError> {
    open_store_with(config, Store::open)
}

/// Opens the data folder's database or reports at once that another process holds it.
pub fn open_store_now(config: &Config) -> Result<Store, AppError> {
    open_store_with(config, Store::open_now)
}

fn open_store_with(
    config: &Config,
    open: fn(&std::path::Path, u64) -> crate::storage::Result<Store>,
) -> Result<Store, AppError> {
    private_dir(&config.data_dir).map_err(AppError::Unsafe)?;
    let dir = config.data_dir.join("db");
    private_dir(&dir).map_err(AppError::Unsafe)?;
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(AppError::Store {
            path: dir.display().to_string(),
            message: e.to_string(),
        });
    }
    open(&dir, config.storage.cache_mb * 1024 * 1024).map_err(|e| {
        if crate::storage::is_lock_error(&e) {
            AppError::Locked(config.data_dir.display().to_string())
        } else {
            AppError::Store {
                path: dir.display().to_string(),
                message: e.to_string(),
            }
        }
    })
}

/// The actions every bot has, bound to this store.
pub fn actions(config: &Config, store: &Store) -> Actions {
    services(config, store).0
}

/// The actions every bot has, and the live agency registry they answer from (`None` when it could not
/// be loaded; the checker then names every dialog node that needs `agency.check`). Staff commands must
/// use this same registry handle, so an import is seen by the running bot at once.
pub fn services(config: &Config, store: &Store) -> (Actions, Option<Registry>) {
    let mut actions = Actions::new();
    if let Err(e) = crate::cases::register_actions(&mut actions, store.clone(), config) {
        // The checker then names every dialog node that needs a case action.
        tracing::error!(error = %e, "case actions are not available");
    }
    let registry = match crate::registry::check::register_action(
        &mut actions,
        store,
        &config.agencies.sample_file,
        &config.agencies.labels_file,
    ) {
        Ok(registry) => Some(registry),
        Err(e) => {
            tracing::error!(error = %e, "the agency check is not available");
            None
        }
    };
    // "Cek tawaran kerja": the rules next to the dialogs; the checker names what is wrong in them.
    match crate::offer::OfferRules::load(&config.dialogs.dir.join(crate::offer::RULES_FILE)) {
        Ok(rules) => {
            crate::offer::register_actions(&mut actions, Arc::new(rules), registry.clone())
        }
        Err(e) => tracing::error!(
            problems = e.problems.len(),
            "the offer check is not available"
        ),
    }
    (actions, registry)
}

/// The effect handler every bot has.
pub fn effects(config: &Config) -> Arc<dyn EffectHandler> {
    match crate::cases::CaseEffects::new(config) {
        Ok(effects) => Arc::new(effects),
        Err(e) => {
            // Never show a ticket code for a case that cannot be stored: opening is refused.
            tracing::error!(error = %e, "cases cannot be stored; reports are refused");
            Arc::new(crate::cases::effects::Unavailable)
        }
    }
}

/// A running engine over a store, with its writer task.
pub struct Running {
    pub engine: Engine,
    pub writer: tokio::task::JoinHandle<()>,
    pub actions: Actions,
    pub registry: Option<Registry>,
}

pub fn start_engine(config: &Config, store: &Store) -> Result<Running, AppError> {
    let (actions, registry) = services(config, store);
    let (bot, _warnings) = load_bot(config, &actions).map_err(|diags| {
        AppError::Dialogs(
            diags
                .iter()
                .filter(|d| d.severity == crate::dialog::Severity::Error)
                .count(),
        )
    })?;
    let shared = Arc::new(RwLock::new(Arc::new(bot)));
    let (engine, writer) = Engine::start(
        store.clone(),
        shared,
        actions.clone(),
        effects(config),
        EngineConfig {
            idle_secs: config.session_idle_secs(),
            max_batch: config.server.max_batch,
        },
    );
    Ok(Running {
        engine,
        writer,
        actions,
        registry,
    })
}

/// Whether a path exists, for messages.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
