//! Writes cases straight into the store, for the desk's tests, its browser tests and its benchmark
//! (100,000 cases). Not used by the server.

use crate::cases::{CaseRecord, Event};
use crate::storage::{self, Store, WriteBatch};

/// Stores a case's opening record and its events in one batch (not flushed).
pub fn put_case(
    store: &Store,
    record: &CaseRecord,
    events: &[Event],
) -> Result<(), storage::Error> {
    let mut batch = WriteBatch::default();
    batch.put_case(record)?;
    for event in events {
        batch.put_case_event(&record.code, store.next_seq()?, event)?;
    }
    store.apply(batch)
}
