//! Persistence of agency-registry snapshots (see `registry`).
