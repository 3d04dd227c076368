//! For the tests and benches that run the real engine over a small dialog folder of their own: the
//! folder (the shared `tests/fixtures/_bot.yaml` beside the flows in `tests/fixtures/<name>/`) and
//! the engine started on it with effects ignored. Included with `#[path = ".../engine_support/mod.rs"] mod engine_support;`.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, RwLock};

use pandu::dialog::{Actions, Bot, load_dir};
use pandu::engine::{Engine, EngineConfig, IgnoreEffects};
use pandu::storage::Store;
use tokio::task::JoinHandle;

/// Writes a dialog folder at `dir` (created if missing): the shared `tests/fixtures/_bot.yaml` and
/// the flows of `tests/fixtures/<flows>/`.
pub fn write_dialogs(dir: &Path, flows: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("_bot.yaml"), include_str!("../fixtures/_bot.yaml")).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(fixtures.join(flows)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
}

/// Loads the dialog folder `dialogs` with `actions` and starts the engine on `store` (effects
/// ignored; sessions idle after `idle_secs`, at most `max_batch` messages a commit). Returns the
/// engine and its writer task.
pub fn start_engine(
    store: Store,
    dialogs: &Path,
    actions: Actions,
    idle_secs: u64,
    max_batch: usize,
) -> (Engine, JoinHandle<()>) {
    let (bot, _) = load_dir(dialogs, &actions).unwrap();
    start_with_bot(store, bot, actions, idle_secs, max_batch)
}

/// As [`start_engine`], with a bot already loaded.
pub fn start_with_bot(
    store: Store,
    bot: Bot,
    actions: Actions,
    idle_secs: u64,
    max_batch: usize,
) -> (Engine, JoinHandle<()>) {
    Engine::start(
        store,
        Arc::new(RwLock::new(Arc::new(bot))),
        actions,
        Arc::new(IgnoreEffects),
        EngineConfig {
            idle_secs,
            max_batch,
        },
    )
}
