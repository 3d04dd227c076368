//! Online backup and restore (see `Store::backup`, `Store::restore`).
