//! What the unit tests of the cases module share (compiled only for tests): a store in a temp
//! folder and a config over the shipped dialogs and contacts.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::config::Config;
use crate::storage::{DEFAULT_CACHE_BYTES, Store};

/// A fresh store in a temp folder; the folder lives as long as the returned guard.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), DEFAULT_CACHE_BYTES).unwrap();
    (dir, store)
}

/// The default config with the shipped `dialogs/` and `config/contacts.yaml`.
pub fn shipped_config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::default();
    config.dialogs.dir = root.join("dialogs");
    config.cases.contacts_file = root.join("config/contacts.yaml");
    config
}
