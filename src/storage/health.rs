//! What the store knows about its own writes, kept as counters so `/healthz` answers in constant time
//! without touching the database: whether writes fail right now, how many failed, and how many outbox
//! entries each channel has pending (counted by the writes that add and remove them, never by a scan).
//!
//! Also the fault switch tests use to make writes fail the way a full disk does
//! ([`Store::set_write_fault`]): deterministic, no special file system, no privileges.
//!
//! Invariants: nothing here does IO, and a lock is held for one map operation only; the outbox counters change only after the write that
//! added or removed the entries succeeded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use super::Channel;

/// How [`Store::set_write_fault`](super::Store::set_write_fault) makes writes fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFault {
    /// Writes work (the default).
    Off,
    /// Every write fails while the switch is on, and works again once it is off.
    Failing,
    /// Every write fails while the switch is on, and keeps failing after it is off until the store
    /// reopens its database: what sled does after a real IO error (it remembers the error and refuses
    /// every later write of that instance).
    UntilReopen,
}

#[derive(Default)]
pub(super) struct Health {
    /// A write failed and no flush succeeded since.
    failing: AtomicBool,
    failures: AtomicU64,
    reopens: AtomicU64,
    /// Pending outbox entries per channel (console, telegram, whatsapp): sequence number → the time
    /// it was queued (Unix seconds). Kept by the writes, so depth and oldest age need no scan; keyed,
    /// so a batch written twice (a commit retried after its flush failed) is counted once.
    outbox: [Mutex<BTreeMap<u64, u64>>; 3],
    fault_on: AtomicBool,
    fault_sticky: AtomicBool,
    /// A sticky fault hit: writes fail until the database is reopened.
    poisoned: AtomicBool,
}

fn slot(channel: Channel) -> usize {
    match channel {
        Channel::Console => 0,
        Channel::Telegram => 1,
        Channel::Whatsapp => 2,
    }
}

impl Health {
    /// `Err` when the fault switch says this write must fail.
    pub(super) fn check_fault(&self) -> std::io::Result<()> {
        if self.fault_on.load(Ordering::Acquire) {
            if self.fault_sticky.load(Ordering::Acquire) {
                self.poisoned.store(true, Ordering::Release);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected write fault (no space left on device)",
            ));
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected write fault: the database must be reopened",
            ));
        }
        Ok(())
    }

    pub(super) fn set_fault(&self, fault: WriteFault) {
        self.fault_sticky
            .store(fault == WriteFault::UntilReopen, Ordering::Release);
        self.fault_on
            .store(fault != WriteFault::Off, Ordering::Release);
    }

    pub(super) fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.failing.store(true, Ordering::Release);
    }

    /// A flush succeeded: everything written so far is on disk.
    pub(super) fn durable(&self) {
        self.failing.store(false, Ordering::Release);
    }

    pub(super) fn reopened(&self) {
        self.reopens.fetch_add(1, Ordering::Relaxed);
        self.poisoned.store(false, Ordering::Release);
    }

    pub(super) fn failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    pub(super) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(super) fn reopens(&self) -> u64 {
        self.reopens.load(Ordering::Relaxed)
    }

    pub(super) fn outbox_set(&self, channel: Channel, entries: BTreeMap<u64, u64>) {
        *self.outbox[slot(channel)].lock() = entries;
    }

    pub(super) fn outbox_remove(&self, channel: Channel, seq: u64) {
        self.outbox[slot(channel)].lock().remove(&seq);
    }

    pub(super) fn outbox(&self, channel: Channel) -> usize {
        self.outbox[slot(channel)].lock().len()
    }

    /// When the oldest pending entry of a channel was queued (Unix seconds), if one waits.
    pub(super) fn outbox_oldest(&self, channel: Channel) -> Option<u64> {
        self.outbox[slot(channel)]
            .lock()
            .first_key_value()
            .map(|(_, at)| *at)
    }
}

/// The changes to the outbox a batch makes, applied to the counters once it is written.
#[derive(Clone, Default, Debug)]
pub(super) struct OutboxDelta {
    added: Vec<(Channel, u64, u64)>,
    removed: Vec<(Channel, u64)>,
}

impl OutboxDelta {
    pub(super) fn add(&mut self, channel: Channel, seq: u64, created_at: u64) {
        self.added.push((channel, seq, created_at));
    }

    pub(super) fn remove(&mut self, channel: Channel, seq: u64) {
        self.removed.push((channel, seq));
    }

    pub(super) fn append(&mut self, other: OutboxDelta) {
        self.added.extend(other.added);
        self.removed.extend(other.removed);
    }

    pub(super) fn apply_to(&self, health: &Health) {
        for &(channel, seq, at) in &self.added {
            health.outbox[slot(channel)].lock().insert(seq, at);
        }
        for &(channel, seq) in &self.removed {
            health.outbox_remove(channel, seq);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::cases::{Event, EventKind};
    use crate::storage::desk::DeskStore;
    use crate::storage::retention::Retention;
    use crate::storage::{Channel, DEFAULT_CACHE_BYTES, Store, WriteBatch, WriteFault};

    /// Every write outside the engine's commit (the desk's accounts and sessions, staff events on a
    /// case, the retention sweep, the agency registry, a backup) meets a full disk the way the engine's
    /// writes do: it fails, `/healthz` learns of it, and nothing half-done stays. Before, these wrote
    /// past the fault switch, so the disk-full tests never saw them.
    #[test]
    fn writes_outside_the_engine_fail_on_a_full_disk_and_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), DEFAULT_CACHE_BYTES).unwrap();
        let mut batch = WriteBatch::default();
        batch.mark_seen(Channel::Whatsapp, "wamid.lama", 0);
        store.apply(batch).unwrap();
        store.flush_blocking().unwrap();
        let desk = DeskStore::open(&store).unwrap();
        let agencies = crate::storage::agencies::AgencyStore::open(&store).unwrap();
        let backup = dir.path().join("malam.backup");

        store.set_write_fault(WriteFault::Failing);
        let failures = store.write_failures();
        assert!(desk.put("a", "petugas1", &1u32).is_err(), "desk account");
        assert!(desk.remove("a", "petugas1").is_err(), "desk removal");
        let event = Event {
            at: 1,
            actor: "cli:budi".into(),
            kind: EventKind::Note {
                text: "sudah ditelpon".into(),
            },
        };
        assert!(
            store.add_case_event("PKL-7KQ2MX", &event).is_err(),
            "case event"
        );
        let policy = Retention::from_days(30, 14, 30);
        assert!(
            store.sweep_all(&policy, 10 * 86_400 * 365).is_err(),
            "sweep"
        );
        assert!(
            agencies.write_snapshot(1, &"meta", &[1u32]).is_err(),
            "agency snapshot"
        );
        assert!(store.backup(&backup).is_err(), "backup");
        assert!(store.write_failing(), "health knows");
        assert!(store.write_failures() >= failures + 6);
        assert!(!backup.exists() && !backup.with_extension("tmp").exists());

        // Room again: nothing of the failed writes is there, and each works now.
        store.set_write_fault(WriteFault::Off);
        assert_eq!(desk.get::<u32>("a", "petugas1").unwrap(), None);
        assert!(store.case_events("PKL-7KQ2MX").unwrap().is_empty());
        assert!(
            store.seen(Channel::Whatsapp, "wamid.lama").unwrap(),
            "not swept"
        );
        desk.put("a", "petugas1", &1u32).unwrap();
        store.add_case_event("PKL-7KQ2MX", &event).unwrap();
        assert_eq!(
            store.sweep_all(&policy, 10 * 86_400 * 365).unwrap().dedupe,
            1
        );
        store.backup(&backup).unwrap();
        store.flush_blocking().unwrap();
        assert!(!store.write_failing());
    }
}
