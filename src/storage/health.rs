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

    pub(super) fn apply_to(&self, health: &Health) {
        for &(channel, seq, at) in &self.added {
            health.outbox[slot(channel)].lock().insert(seq, at);
        }
        for &(channel, seq) in &self.removed {
            health.outbox_remove(channel, seq);
        }
    }
}
