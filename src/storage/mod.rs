//! Everything that touches sled lives here: sessions, the dedupe record of inbound messages, the outbox,
//! small metadata (a poller's offset), and the sub-stores of other parts (`cases`, `agencies`).
//!
//! Invariants:
//! - No other module imports sled. Other modules see typed methods and [`WriteBatch`].
//! - Everything that must change together (dedupe record, session, outbox entries, case records) lives in
//!   one tree, the *kernel*, and is written with one atomic `apply_batch`, so a crash leaves either all of
//!   a message's effects or none.
//! - Nothing is acknowledged to a platform before [`Store::flush`] returned for the batch that holds it.

pub mod agencies;
pub mod backup;
pub mod cases;
pub mod desk;
mod health;
pub(crate) mod layout;
pub mod purge;
pub mod retention;
pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub use health::WriteFault;
use health::{Health, OutboxDelta};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::dialog::{Reply, Session};

/// Default sled page-cache size (`storage.cache_mb`; 64 MB before issue 16, 16 MB until stop 13): room
/// for the working set of a thousand busy chats (sessions, the queue, the newest records). sled counts records at their
/// stored size, and the memory it keeps is larger than that (node structures, allocator slack); see
/// ARCHITECTURE.md, "Memory budget".
pub const DEFAULT_CACHE_BYTES: u64 = DEFAULT_CACHE_MB * 1024 * 1024;
/// [`DEFAULT_CACHE_BYTES`] in MB.
pub const DEFAULT_CACHE_MB: u64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
    #[error("stored record {key} is unreadable: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("cannot encode record: {0}")]
    Encode(serde_json::Error),
    #[error("the database is being reopened after a write failure; try again shortly")]
    Closed,
    #[error(
        "the data folder {dir} was written by a newer Pandu (storage format {found}; this Pandu reads \
         formats up to {supported}): run that newer version, or restore a backup into an empty folder"
    )]
    NewerFormat {
        dir: String,
        found: u32,
        supported: u32,
    },
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// A backup file that cannot be restored, or a folder a restore must not write into. The
    /// `Display` form is for the log; staff read `problem` in their words (`staff.backup_*`).
    #[error("{file}: {problem:?}")]
    Backup {
        file: String,
        problem: BackupProblem,
    },
}

/// What is wrong with a backup or its restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupProblem {
    /// The file does not start like a Pandu backup.
    NotBackup,
    /// Its checksum does not match, or it ends early or holds an unknown record.
    Damaged,
    /// The data folder to restore into holds files (named).
    NotEmpty(Vec<String>),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The platform a user talks to us through. Part of every per-user key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Console,
    Telegram,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Console => "console",
            Channel::Telegram => "telegram",
            Channel::Whatsapp => "whatsapp",
        }
    }

    /// Whether this channel reads a delivery record back after writing it: WhatsApp finds records by
    /// the platform's message id (delivery receipts) and requeues the text of one that failed outside
    /// the 24-hour window (131047). The other channels never do, so their records keep neither the text
    /// nor a platform-id index (see [`Store::outbox_finish_many`]).
    pub fn reads_deliveries_back(self) -> bool {
        matches!(self, Channel::Whatsapp)
    }

    pub fn parse(text: &str) -> Option<Channel> {
        match text {
            "console" => Some(Channel::Console),
            "telegram" => Some(Channel::Telegram),
            "whatsapp" => Some(Channel::Whatsapp),
            _ => None,
        }
    }
}

/// A user on a channel: the key of a session and the address of a reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserKey {
    pub channel: Channel,
    /// The platform's id: a Telegram chat id, a WhatsApp `wa_id` or business-scoped user id, a console
    /// name. Never assumed to be a phone number.
    pub id: String,
}

impl UserKey {
    pub fn new(channel: Channel, id: impl Into<String>) -> UserKey {
        UserKey {
            channel,
            id: id.into(),
        }
    }
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.channel.as_str(), self.id)
    }
}

/// Why a message sits in the outbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OutboxKind {
    /// An answer to the user's own message.
    #[default]
    Reply,
    /// News the user did not ask for just now (a staff reply, a case status change). On WhatsApp, outside
    /// the 24-hour window, this goes out as a template naming the case and the text waits.
    Update { case: String },
}

/// One message waiting to be sent, in per-user order (`seq` grows with every entry ever written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    pub user: UserKey,
    pub reply: Reply,
    #[serde(default)]
    pub kind: OutboxKind,
    pub created_at: u64,
    pub attempts: u32,
    /// Unix milliseconds before which the sender must not try again (backoff, `retry_after`).
    pub not_before_ms: u64,
    /// Set while the entry waits for the user to write again (WhatsApp 24-hour window).
    #[serde(default)]
    pub held: bool,
    pub last_error: Option<String>,
}

/// How an outbox entry ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Delivery {
    Sent {
        platform_id: Option<String>,
        at: u64,
    },
    /// A permanent error: the user blocked the bot, the chat does not exist, ... Never retried.
    Failed { reason: String, at: u64 },
}

/// The record kept after an outbox entry was sent or given up.
///
/// On channels that never read a record back ([`Channel::reads_deliveries_back`]: Telegram, the
/// console) `entry.reply` is empty and `entry.last_error` cleared: the record says who got which entry,
/// of what kind, when and how it ended, not what it said. The text was most of a record's size (and of
/// the memory sled keeps of recent writes), and no reader uses it there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub entry: OutboxEntry,
    pub delivery: Delivery,
    /// Platform delivery receipts (WhatsApp `statuses`: delivered, read, failed), latest last.
    #[serde(default)]
    pub receipts: Vec<String>,
}

/// Keys of the kernel tree. One prefix per kind of record; text keys so `pandu` data stays inspectable.
pub(crate) mod key {
    use super::{Channel, UserKey};

    pub fn session(user: &UserKey) -> Vec<u8> {
        format!("s:{}:{}", user.channel.as_str(), user.id).into_bytes()
    }
    pub fn seen(channel: Channel, message_id: &str) -> Vec<u8> {
        format!("d:{}:{}", channel.as_str(), message_id).into_bytes()
    }
    pub fn outbox_prefix(channel: Channel) -> Vec<u8> {
        format!("o:{}:", channel.as_str()).into_bytes()
    }
    pub fn outbox(channel: Channel, seq: u64) -> Vec<u8> {
        format!("o:{}:{:016x}", channel.as_str(), seq).into_bytes()
    }
    /// The sequence number at the end of an outbox key.
    pub fn outbox_seq(k: &[u8]) -> Option<u64> {
        let text = std::str::from_utf8(k).ok()?;
        u64::from_str_radix(text.rsplit(':').next()?, 16).ok()
    }
    pub fn delivered(channel: Channel, seq: u64) -> Vec<u8> {
        format!("x:{}:{:016x}", channel.as_str(), seq).into_bytes()
    }
    pub fn late_failure(channel: Channel, seq: u64) -> Vec<u8> {
        format!("u:{}:{:016x}", channel.as_str(), seq).into_bytes()
    }
    pub fn platform_message(channel: Channel, platform_id: &str) -> Vec<u8> {
        format!("p:{}:{}", channel.as_str(), platform_id).into_bytes()
    }
    pub fn meta(name: &str) -> Vec<u8> {
        format!("m:{name}").into_bytes()
    }
}

/// How long [`Store::open`] waits for a lock that a store closed in this process still holds.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether opening failed because another holder has the database's file lock.
pub fn is_lock_error(e: &Error) -> bool {
    match e {
        Error::Db(sled::Error::Io(io)) => {
            io.kind() == std::io::ErrorKind::WouldBlock || {
                let text = io.to_string();
                text.contains("could not acquire lock") || text.contains("WouldBlock")
            }
        }
        _ => false,
    }
}

/// The embedded database. Cheap to clone; all clones share one sled instance (which
/// [`Store::reopen`] can replace after a write failure, and [`Store::rewrite`] with a fresh copy) and
/// one set of write counters.
///
/// Every operation passes a gate (a shared lock, taken recursively so nesting never deadlocks) for
/// its whole length; the few that need the whole database still (a rewrite after a purge, a backup)
/// take it exclusively, so they see one consistent point and no write is lost to a swap.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    cache_bytes: u64,
    /// `None` only while [`Store::reopen`] waits for the old instance to let go of the files.
    handles: RwLock<Option<Handles>>,
    health: Health,
    metrics: crate::metrics::Metrics,
    gate: parking_lot::RwLock<()>,
    /// Old generations being wiped and removed in the background after a rewrite.
    retiring: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Held for the store's life: one process per data folder (whatever generation it reads).
    _lock: std::fs::File,
}

/// The live database instance: a generation of the folder (see `layout`).
type Handles = layout::Live;

/// A value read through the gate; the gate stays held while it lives.
pub(crate) struct Gated<'a, T> {
    _gate: parking_lot::RwLockReadGuard<'a, ()>,
    value: T,
}

impl<T> std::ops::Deref for Gated<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The live database alone: nothing else reads or writes while it lives.
pub(crate) struct Exclusive<'a> {
    _gate: parking_lot::RwLockWriteGuard<'a, ()>,
    handles: Handles,
}

impl std::ops::Deref for Exclusive<'_> {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        &self.handles
    }
}

impl Handles {
    /// Pending outbox entries per channel: read once when the database opens, then kept by the writes.
    fn count_outbox(&self, health: &Health) -> Result<()> {
        for channel in [Channel::Console, Channel::Telegram, Channel::Whatsapp] {
            let mut entries = std::collections::BTreeMap::new();
            for item in self.kernel.scan_prefix(key::outbox_prefix(channel)) {
                let (k, v) = item?;
                // An entry that cannot be read still waits: counted, as queued now.
                let (seq, at) = match decode::<OutboxEntry>(&k, &v) {
                    Ok(entry) => (entry.seq, entry.created_at),
                    Err(_) => (
                        key::outbox_seq(&k).unwrap_or_default(),
                        crate::time::now_secs(),
                    ),
                };
                entries.insert(seq, at);
            }
            health.outbox_set(channel, entries);
        }
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::Db(sled::Error::Io(e))
}

impl Store {
    /// Opens (or creates) the database in `dir`, waiting up to [`LOCK_WAIT`] for the file lock.
    ///
    /// The wait is for a store closed a moment ago in this same process: sled finishes its last
    /// writes on worker threads that hold the lock until they end. A lock held by another process
    /// is still an error after the wait.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match Store::open_now(dir, cache_bytes) {
                Err(e) if is_lock_error(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    /// Opens (or creates) the database in `dir`, failing at once when the lock is held (the CLI uses
    /// this to find a running server and forward its command there).
    pub fn open_now(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let lock = layout::lock(dir)?;
        let handles = layout::open(dir, cache_bytes)?;
        let health = Health::default();
        handles.count_outbox(&health)?;
        Ok(Store {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                cache_bytes,
                handles: RwLock::new(Some(handles)),
                health,
                metrics: crate::metrics::Metrics::new(),
                gate: parking_lot::RwLock::new(()),
                retiring: std::sync::Mutex::new(Vec::new()),
                _lock: lock,
            }),
        })
    }

    fn current(&self) -> Result<Handles> {
        let guard = match self.shared.handles.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.clone().ok_or(Error::Closed)
    }

    /// The live database, through the gate (held while the answer lives).
    pub(crate) fn handles(&self) -> Result<Gated<'_, Handles>> {
        let gate = self.shared.gate.read_recursive();
        Ok(Gated {
            _gate: gate,
            value: self.current()?,
        })
    }

    /// The live database alone: every other operation waits until the answer is dropped.
    pub(crate) fn exclusive(&self) -> Result<Exclusive<'_>> {
        let gate = self.shared.gate.write();
        Ok(Exclusive {
            _gate: gate,
            handles: self.current()?,
        })
    }

    /// Copies every live record into a fresh database, switches to it, and wipes the old one in the
    /// background ([`Store::wait_retired`] waits for that): afterwards no removed record is left in
    /// the folder's files. Everything else waits meanwhile (about a second per 100 MB).
    pub fn rewrite(&self) -> Result<()> {
        // A new generation is written whole: on a full disk, fail before starting it.
        self.write_checked(|| Ok(()))?;
        let gate = self.shared.gate.write();
        let mut slot = match self.shared.handles.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(live) = slot.as_mut() else {
            return Err(Error::Closed);
        };
        let old = layout::rewrite(&self.shared.dir, self.shared.cache_bytes, live)?;
        drop(slot);
        drop(gate);
        let handle = layout::retire(old);
        match self.shared.retiring.lock() {
            Ok(mut handles) => handles.push(handle),
            Err(poisoned) => poisoned.into_inner().push(handle),
        }
        Ok(())
    }

    /// Waits until the old databases replaced by [`Store::rewrite`] are wiped from the disk.
    pub fn wait_retired(&self) {
        let handles = match self.shared.retiring.lock() {
            Ok(mut handles) => std::mem::take(&mut *handles),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for handle in handles {
            let _ = handle.join();
        }
    }

    /// The data folder's database directory this store was opened on.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Counts an entry a purge took out of a channel's outbox.
    pub(crate) fn outbox_removed(&self, channel: Channel, seq: u64) {
        self.shared.health.outbox_remove(channel, seq);
    }

    /// Runs a write: refused while the fault switch is on; a failure is counted and shown by
    /// [`Store::write_failing`].
    fn write<T>(&self, op: impl FnOnce(&Handles) -> sled::Result<T>) -> Result<T> {
        let result = self
            .shared
            .health
            .check_fault()
            .map_err(io_error)
            .and_then(|()| {
                let h = self.handles()?;
                op(&h).map_err(Error::from)
            });
        if result.is_err() {
            self.shared.health.failed();
        }
        result
    }

    /// Runs a write of a sub-store (desk, cases, agencies, retention, purge, backup) under the same
    /// fault switch and failure count as the store's own writes, so the disk-full tests cover it and
    /// `/healthz` shows it. `op` should hold the write alone (reads before it, not in it): whatever
    /// error it returns is counted as a failed write.
    pub(crate) fn write_checked<T>(&self, op: impl FnOnce() -> Result<T>) -> Result<T> {
        let result = self
            .shared
            .health
            .check_fault()
            .map_err(io_error)
            .and_then(|()| op());
        if result.is_err() {
            self.shared.health.failed();
        }
        result
    }

    /// Whether the last writes failed (a full disk, a broken database) with no successful flush since.
    /// Constant time: `/healthz` reads it.
    pub fn write_failing(&self) -> bool {
        self.shared.health.failing()
    }

    /// Writes that failed since the store was opened.
    pub fn write_failures(&self) -> u64 {
        self.shared.health.failures()
    }

    /// How often the database was reopened after write failures.
    pub fn reopens(&self) -> u64 {
        self.shared.health.reopens()
    }

    /// Makes writes fail as a full disk does, for fault tests (see [`WriteFault`]).
    pub fn set_write_fault(&self, fault: WriteFault) {
        self.shared.health.set_fault(fault);
    }

    /// Closes and reopens the database. After an IO error sled refuses every later write of the same
    /// instance, so this is how the process recovers once the disk has room again, without a restart.
    /// Whatever was flushed is kept; the outbox counters are read again.
    pub async fn reopen(&self) -> Result<()> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.reopen_blocking()).await {
            Ok(result) => result,
            Err(e) => Err(io_error(std::io::Error::other(format!(
                "reopen task failed: {e}"
            )))),
        }
    }

    fn reopen_blocking(&self) -> Result<()> {
        let old = match self.shared.handles.write() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        // Let go of the old instance first: it holds the file lock until its last clone is gone
        // (operations running elsewhere hold one for a moment).
        drop(old);
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let handles = loop {
            match layout::open(&self.shared.dir, self.shared.cache_bytes) {
                Err(e) if is_lock_error(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        handles.count_outbox(&self.shared.health)?;
        match self.shared.handles.write() {
            Ok(mut guard) => *guard = Some(handles),
            Err(poisoned) => *poisoned.into_inner() = Some(handles),
        }
        self.shared.health.reopened();
        tracing::warn!("database reopened after write failures");
        Ok(())
    }

    /// Durably writes everything applied so far. Call before acknowledging anything to anyone.
    ///
    /// Not sled's `flush_async`: its worker thread still holds the database for a moment after the
    /// answer arrives, so a store reopened right after (a restart in the same process) could find the
    /// file lock taken. Here the clone is dropped before the task completes.
    pub async fn flush(&self) -> Result<()> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.flush_blocking()).await {
            Ok(result) => result,
            Err(e) => {
                self.shared.health.failed();
                Err(io_error(std::io::Error::other(format!(
                    "flush task failed: {e}"
                ))))
            }
        }
    }

    /// Blocking flush, for shutdown paths and the CLI.
    pub fn flush_blocking(&self) -> Result<()> {
        self.write(|h| h.db.flush())?;
        self.shared.health.durable();
        Ok(())
    }

    /// A number larger than every number this database returned before, across restarts.
    pub fn next_seq(&self) -> Result<u64> {
        self.write(|h| h.next_seq_raw())
    }

    /// Applies a batch atomically (all of it or none of it survives a crash once flushed).
    pub fn apply(&self, batch: WriteBatch) -> Result<()> {
        let (inner, delta) = batch.into_sled();
        self.write(|h| h.kernel.apply_batch(inner))?;
        delta.apply_to(&self.shared.health);
        Ok(())
    }

    pub fn session(&self, user: &UserKey) -> Result<Option<Session>> {
        self.get_json(&key::session(user))
    }

    /// The users of `channel` whose session holds the variable `var`, with its value, among sessions
    /// seen since `since` (Unix seconds). Reads every session of the channel (only sessions holding
    /// the name are decoded): for start-up, not for each message.
    pub fn sessions_with_var(
        &self,
        channel: Channel,
        var: &str,
        since: u64,
    ) -> Result<Vec<(UserKey, String)>> {
        let prefix = format!("s:{}:", channel.as_str());
        let mut out = Vec::new();
        for item in self.kernel()?.scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            if !v.windows(var.len()).any(|w| w == var.as_bytes()) {
                continue;
            }
            let Ok(session) = decode::<Session>(&k, &v) else {
                continue;
            };
            if session.last_seen < since {
                continue;
            }
            if let (Some(value), Some(id)) = (session.vars.get(var), k.get(prefix.len()..)) {
                let id = String::from_utf8_lossy(id).into_owned();
                out.push((UserKey::new(channel, id), value.clone()));
            }
        }
        Ok(out)
    }

    /// Whether an inbound message with this platform id was already committed.
    pub fn seen(&self, channel: Channel, message_id: &str) -> Result<bool> {
        Ok(self
            .kernel()?
            .contains_key(key::seen(channel, message_id))?)
    }

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.kernel()?.get(key::meta(name))?.map(|v| v.to_vec()))
    }

    /// Pending outbox entries of a channel in send order (held ones included), at most `limit`.
    pub fn outbox_pending(&self, channel: Channel, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for item in self.kernel()?.scan_prefix(key::outbox_prefix(channel)) {
            let (k, v) = item?;
            entries.push(decode(&k, &v)?);
            if entries.len() >= limit {
                break;
            }
        }
        Ok(entries)
    }

    /// Pending outbox entries of a channel with a sequence number of at least `from`, in send order, at
    /// most `limit` (lets a sender pick up only what is new since its last look).
    pub fn outbox_pending_from(
        &self,
        channel: Channel,
        from: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        let range = key::outbox(channel, from)..=key::outbox(channel, u64::MAX);
        for item in self.kernel()?.range(range) {
            let (k, v) = item?;
            entries.push(decode(&k, &v)?);
            if entries.len() >= limit {
                break;
            }
        }
        Ok(entries)
    }

    /// Pending outbox entries of one user, in order.
    pub fn outbox_for(&self, user: &UserKey) -> Result<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for item in self.kernel()?.scan_prefix(key::outbox_prefix(user.channel)) {
            let (k, v) = item?;
            let entry: OutboxEntry = decode(&k, &v)?;
            if &entry.user == user {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// Pending outbox entries of a channel, from a counter the writes keep (constant time, no scan).
    pub fn outbox_len(&self, channel: Channel) -> usize {
        self.shared.health.outbox(channel)
    }

    /// When the oldest pending entry of a channel was queued (Unix seconds), from the same counters.
    pub fn outbox_oldest(&self, channel: Channel) -> Option<u64> {
        self.shared.health.outbox_oldest(channel)
    }

    /// The service's counters (see [`crate::metrics`]), with the outbox and write-state gauges set
    /// from the store's own counters.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.metrics
    }

    /// [`Store::metrics`] with the gauges the store keeps brought up to date (for a scrape).
    pub fn metrics_now(&self) -> &crate::metrics::Metrics {
        let now = crate::time::now_secs();
        for channel in [Channel::Console, Channel::Telegram, Channel::Whatsapp] {
            let oldest = self
                .outbox_oldest(channel)
                .map_or(0, |at| now.saturating_sub(at));
            self.shared
                .metrics
                .set_outbox(channel, self.outbox_len(channel), oldest);
        }
        self.shared.metrics.set_write_failing(self.write_failing());
        &self.shared.metrics
    }

    /// Rewrites a pending entry (after a failed attempt, or to hold or release it).
    pub fn outbox_update(&self, entry: &OutboxEntry) -> Result<()> {
        let value = serde_json::to_vec(entry).map_err(Error::Encode)?;
        let k = key::outbox(entry.user.channel, entry.seq);
        // Only while it is still queued: an entry a purge took out is not written back.
        self.write(|h| {
            h.kernel
                .fetch_and_update(&k, |old| old.map(|_| value.clone()))
        })?;
        Ok(())
    }

    /// Takes an entry out of the queue and keeps a record of how it ended, atomically.
    pub fn outbox_finish(&self, entry: &OutboxEntry, delivery: Delivery) -> Result<()> {
        self.outbox_finish_many(std::iter::once((entry, delivery)))
    }

    /// [`Store::outbox_finish`] for several entries in one atomic write: all of them or none. Cheaper
    /// than one call each (sled writes its log buffer out around every atomic batch). The record is the
    /// whole entry, with a platform-id index, only on a channel that reads it back
    /// ([`Channel::reads_deliveries_back`]); elsewhere it is the compact form (see [`DeliveryRecord`]).
    pub fn outbox_finish_many<'a>(
        &self,
        finished: impl IntoIterator<Item = (&'a OutboxEntry, Delivery)>,
    ) -> Result<()> {
        // The check below and the write share one pass of the gate, so a purge (exclusive) is wholly
        // before or wholly after them.
        let kernel = self.kernel()?;
        let mut batch = sled::Batch::default();
        let mut delta = OutboxDelta::default();
        let mut outcomes = Vec::new();
        for (entry, delivery) in finished {
            let channel = entry.user.channel;
            // An entry taken out of the queue meanwhile (a purge) leaves no record of its text.
            if !kernel.contains_key(key::outbox(channel, entry.seq))? {
                continue;
            }
            delta.remove(channel, entry.seq);
            outcomes.push((channel, matches!(delivery, Delivery::Sent { .. })));
            let reads_back = channel.reads_deliveries_back();
            let platform_id = match &delivery {
                Delivery::Sent {
                    platform_id: Some(id),
                    ..
                } if reads_back => Some(id.clone()),
                _ => None,
            };
            let entry = if reads_back {
                entry.clone()
            } else {
                OutboxEntry {
                    seq: entry.seq,
                    user: entry.user.clone(),
                    reply: Reply::default(),
                    kind: entry.kind.clone(),
                    created_at: entry.created_at,
                    attempts: entry.attempts,
                    not_before_ms: entry.not_before_ms,
                    held: entry.held,
                    last_error: None,
                }
            };
            let seq = entry.seq;
            let record = DeliveryRecord {
                entry,
                delivery,
                receipts: Vec::new(),
            };
            batch.remove(key::outbox(channel, seq));
            batch.insert(
                key::delivered(channel, seq),
                serde_json::to_vec(&record).map_err(Error::Encode)?,
            );
            if let Some(id) = platform_id {
                batch.insert(
                    key::platform_message(channel, &id),
                    seq.to_be_bytes().to_vec(),
                );
            }
        }
        self.write(|h| h.kernel.apply_batch(batch))?;
        drop(kernel);
        delta.apply_to(&self.shared.health);
        for (channel, sent) in outcomes {
            if sent {
                self.shared.metrics.message_out(channel);
            } else {
                self.shared
                    .metrics
                    .send_failure(channel, crate::metrics::FailureClass::permanent);
            }
        }
        Ok(())
    }

    /// The record of a sent entry, found by the platform's message id (for delivery receipts).
    pub fn delivery_by_platform_id(
        &self,
        channel: Channel,
        platform_id: &str,
    ) -> Result<Option<DeliveryRecord>> {
        let Some(seq) = self
            .kernel()?
            .get(key::platform_message(channel, platform_id))?
        else {
            return Ok(None);
        };
        let Ok(bytes) = <[u8; 8]>::try_from(seq.as_ref()) else {
            return Ok(None);
        };
        self.get_json(&key::delivered(channel, u64::from_be_bytes(bytes)))
    }

    /// Appends a platform receipt ("delivered", "read", "failed: ...") to a delivery record.
    pub fn add_receipt(&self, channel: Channel, platform_id: &str, receipt: &str) -> Result<bool> {
        let kernel = self.kernel()?;
        let Some(seq) = kernel.get(key::platform_message(channel, platform_id))? else {
            return Ok(false);
        };
        let Ok(bytes) = <[u8; 8]>::try_from(seq.as_ref()) else {
            return Ok(false);
        };
        let k = key::delivered(channel, u64::from_be_bytes(bytes));
        // Changed in place, never recreated: a record removed meanwhile (retention, a purge) stays
        // removed.
        let mut failure = None;
        let updated = self.write(|h| {
            h.kernel.update_and_fetch(&k, |old| {
                let old = old?;
                let mut record: DeliveryRecord = match decode(&k, old) {
                    Ok(record) => record,
                    Err(e) => {
                        failure = Some(e);
                        return Some(old.to_vec());
                    }
                };
                record.receipts.push(receipt.to_string());
                match encode(&record) {
                    Ok(value) => Some(value),
                    Err(e) => {
                        failure = Some(e);
                        Some(old.to_vec())
                    }
                }
            })
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(updated.is_some())
    }

    /// Delivery records of a channel, oldest first (for tests and staff tools).
    pub fn deliveries(&self, channel: Channel) -> Result<Vec<DeliveryRecord>> {
        let prefix = format!("x:{}:", channel.as_str());
        let mut records = Vec::new();
        for item in self.kernel()?.scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            records.push(decode(&k, &v)?);
        }
        Ok(records)
    }

    /// Delivery records of a channel with a sequence number above `after`, oldest first, at most
    /// `limit` (lets a watcher read only what ended since its last look).
    pub fn deliveries_after(
        &self,
        channel: Channel,
        after: u64,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>> {
        let mut records = Vec::new();
        let Some(from) = after.checked_add(1) else {
            return Ok(records);
        };
        let range = key::delivered(channel, from)..=key::delivered(channel, u64::MAX);
        for item in self.kernel()?.range(range).take(limit) {
            let (k, v) = item?;
            records.push(decode(&k, &v)?);
        }
        Ok(records)
    }

    /// The record of entry `seq` of `channel`, once it was sent or given up.
    pub fn delivery(&self, channel: Channel, seq: u64) -> Result<Option<DeliveryRecord>> {
        self.get_json(&key::delivered(channel, seq))
    }

    /// Notes that the platform reported a message failed after it had accepted it (a WhatsApp `failed`
    /// status): kept until the cases watcher has dealt with it ([`Store::clear_late_failure`]).
    pub fn note_late_failure(&self, channel: Channel, seq: u64, reason: &str) -> Result<()> {
        self.write(|h| {
            h.kernel
                .insert(key::late_failure(channel, seq), reason.as_bytes())
        })?;
        Ok(())
    }

    /// Late failures not yet dealt with, oldest first per channel: `(channel, seq, reason)`.
    pub fn late_failures(&self, limit: usize) -> Result<Vec<(Channel, u64, String)>> {
        let mut out = Vec::new();
        for item in self.kernel()?.scan_prefix(b"u:").take(limit) {
            let (k, v) = item?;
            let text = String::from_utf8_lossy(&k);
            let mut parts = text.splitn(3, ':').skip(1);
            let channel = parts.next().and_then(Channel::parse);
            let seq = parts.next().and_then(|s| u64::from_str_radix(s, 16).ok());
            if let (Some(channel), Some(seq)) = (channel, seq) {
                out.push((channel, seq, String::from_utf8_lossy(&v).into_owned()));
            }
        }
        Ok(out)
    }

    pub fn clear_late_failure(&self, channel: Channel, seq: u64) -> Result<()> {
        self.write(|h| h.kernel.remove(key::late_failure(channel, seq)))?;
        Ok(())
    }

    /// Sets one meta value at once (outside a message commit: cursors of background watchers).
    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.write(|h| h.kernel.insert(key::meta(name), value))?;
        Ok(())
    }

    /// The kernel tree of the current database instance (see [`Store::reopen`]).
    #[allow(dead_code)] // used by the sub-stores
    pub(crate) fn kernel(&self) -> Result<Gated<'_, sled::Tree>> {
        let h = self.handles()?;
        let value = h.kernel.clone();
        Ok(Gated {
            _gate: self.shared.gate.read_recursive(),
            value,
        })
    }

    /// The current database instance (see [`Store::reopen`]).
    #[allow(dead_code)] // used by the sub-stores
    pub(crate) fn db(&self) -> Result<Gated<'_, sled::Db>> {
        let h = self.handles()?;
        let value = h.db.clone();
        Ok(Gated {
            _gate: self.shared.gate.read_recursive(),
            value,
        })
    }

    fn get_json<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>> {
        match self.kernel()?.get(k)? {
            Some(v) => Ok(Some(decode(k, &v)?)),
            None => Ok(None),
        }
    }
}

pub(crate) fn decode<T: DeserializeOwned>(k: &[u8], v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|source| Error::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        source,
    })
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::Encode)
}

/// Writes that must land together. Built by the engine for one message or a group of messages.
///
/// Kept as a list of operations (the last one for a key wins, as in `sled::Batch`) so that a job's
/// batch can be built apart and [`WriteBatch::append`]ed to its group's only once the whole job was
/// processed: a job that fails halfway leaves nothing of itself in the group's commit.
#[derive(Default, Clone)]
pub struct WriteBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Entries this batch adds to each channel's outbox (for the counters).
    outbox: OutboxDelta,
}

impl WriteBatch {
    pub fn put_session(&mut self, user: &UserKey, session: &Session) -> Result<()> {
        self.put(key::session(user), encode(session)?);
        Ok(())
    }

    pub fn mark_seen(&mut self, channel: Channel, message_id: &str, at: u64) {
        self.put(key::seen(channel, message_id), at.to_be_bytes().to_vec());
    }

    pub fn push_outbox(&mut self, entry: &OutboxEntry) -> Result<()> {
        self.put(key::outbox(entry.user.channel, entry.seq), encode(entry)?);
        self.outbox
            .add(entry.user.channel, entry.seq, entry.created_at);
        Ok(())
    }

    pub fn put_meta(&mut self, name: &str, value: Vec<u8>) {
        self.put(key::meta(name), value);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds `other`'s writes after this batch's own (so they win for a key both write).
    pub fn append(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
        self.outbox.append(other.outbox);
    }

    pub(crate) fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.ops.push((k, Some(v)));
    }

    #[allow(dead_code)] // used by the sub-stores
    pub(crate) fn remove(&mut self, k: Vec<u8>) {
        self.ops.push((k, None));
    }

    pub(in crate::storage) fn into_sled(self) -> (sled::Batch, OutboxDelta) {
        let mut batch = sled::Batch::default();
        for (k, v) in self.ops {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        (batch, self.outbox)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(seq: u64, user: &UserKey) -> OutboxEntry {
        OutboxEntry {
            seq,
            user: user.clone(),
            reply: Reply {
                text: format!("m{seq}"),
                choices: vec![],
            },
            kind: OutboxKind::Reply,
            created_at: 0,
            attempts: 0,
            not_before_ms: 0,
            held: false,
            last_error: None,
        }
    }

    #[test]
    fn a_held_lock_is_reported_and_a_released_one_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        // Held: the no-wait open reports the lock, which is how the CLI finds a running server.
        let err = Store::open_now(dir.path(), DEFAULT_CACHE_BYTES)
            .err()
            .unwrap();
        assert!(is_lock_error(&err), "{err}");
        // Released a moment later in this process: the waiting open gets the database.
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(first);
        });
        let second = Store::open(dir.path(), DEFAULT_CACHE_BYTES);
        closer.join().unwrap();
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn a_batch_survives_reopen_and_outbox_keeps_order() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserKey::new(Channel::Telegram, "42");
        {
            let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
            let mut batch = WriteBatch::default();
            batch.mark_seen(Channel::Telegram, "u1", 1);
            batch.put_session(&user, &Session::default()).unwrap();
            // Written out of order on purpose: the queue orders by sequence, not by write order.
            for seq in [300, 9, 20] {
                batch.push_outbox(&entry(seq, &user)).unwrap();
            }
            store.apply(batch).unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        assert!(store.seen(Channel::Telegram, "u1").unwrap());
        assert!(!store.seen(Channel::Whatsapp, "u1").unwrap());
        assert!(store.session(&user).unwrap().is_some());
        let seqs: Vec<u64> = store
            .outbox_pending(Channel::Telegram, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![9, 20, 300]);
        assert!(
            store
                .outbox_pending(Channel::Whatsapp, 10)
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn finishing_an_entry_moves_it_to_the_delivery_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let user = UserKey::new(Channel::Whatsapp, "628123");
        let mut batch = WriteBatch::default();
        batch.push_outbox(&entry(1, &user)).unwrap();
        store.apply(batch).unwrap();
        let pending = store.outbox_pending(Channel::Whatsapp, 10).unwrap();
        store
            .outbox_finish(
                &pending[0],
                Delivery::Sent {
                    platform_id: Some("wamid.X".into()),
                    at: 5,
                },
            )
            .unwrap();
        assert!(
            store
                .outbox_pending(Channel::Whatsapp, 10)
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .add_receipt(Channel::Whatsapp, "wamid.X", "read")
                .unwrap()
        );
        let record = store
            .delivery_by_platform_id(Channel::Whatsapp, "wamid.X")
            .unwrap()
            .unwrap();
        assert_eq!(record.receipts, vec!["read".to_string()]);
    }

    #[test]
    fn several_entries_finish_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let user = UserKey::new(Channel::Whatsapp, "62842");
        let mut batch = WriteBatch::default();
        for seq in [1, 2, 3] {
            batch.push_outbox(&entry(seq, &user)).unwrap();
        }
        store.apply(batch).unwrap();
        let pending = store.outbox_pending(Channel::Whatsapp, 10).unwrap();
        store
            .outbox_finish_many([
                (
                    &pending[0],
                    Delivery::Sent {
                        platform_id: Some("7".into()),
                        at: 5,
                    },
                ),
                (
                    &pending[1],
                    Delivery::Failed {
                        reason: "blocked".into(),
                        at: 5,
                    },
                ),
            ])
            .unwrap();
        let left: Vec<u64> = store
            .outbox_pending(Channel::Whatsapp, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(left, vec![3]);
        let record = store
            .delivery_by_platform_id(Channel::Whatsapp, "7")
            .unwrap()
            .unwrap();
        assert_eq!(record.entry.seq, 1);
    }

    #[test]
    fn a_telegram_delivery_is_kept_without_its_text_and_a_whatsapp_one_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let telegram = UserKey::new(Channel::Telegram, "42");
        let whatsapp = UserKey::new(Channel::Whatsapp, "62842");
        let mut batch = WriteBatch::default();
        let mut update = entry(1, &telegram);
        update.kind = OutboxKind::Update {
            case: "PKL-ABC123".into(),
        };
        update.reply.text = "Kabar kasus PKL-ABC123 untuk Bu Sari".into();
        batch.push_outbox(&update).unwrap();
        batch.push_outbox(&entry(2, &whatsapp)).unwrap();
        store.apply(batch).unwrap();
        let sent = |id: &str| Delivery::Sent {
            platform_id: Some(id.into()),
            at: 5,
        };
        let queued = store.outbox_pending(Channel::Telegram, 10).unwrap();
        store.outbox_finish(&queued[0], sent("9")).unwrap();
        let queued = store.outbox_pending(Channel::Whatsapp, 10).unwrap();
        store.outbox_finish(&queued[0], sent("wamid.9")).unwrap();
        // Telegram: who, which entry, what kind, how it ended; not the words.
        let record = store.delivery(Channel::Telegram, 1).unwrap().unwrap();
        assert_eq!(record.entry.user, telegram);
        assert_eq!(record.entry.kind, update.kind);
        assert_eq!(record.delivery, sent("9"));
        assert!(record.entry.reply.text.is_empty());
        let raw = store
            .kernel()
            .unwrap()
            .get(key::delivered(Channel::Telegram, 1));
        let raw = raw.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("Bu Sari"));
        assert!(raw.len() < 300, "{}", raw.len());
        // WhatsApp reads its records back (receipts, requeue after 131047): text and index kept.
        let record = store
            .delivery_by_platform_id(Channel::Whatsapp, "wamid.9")
            .unwrap()
            .unwrap();
        assert_eq!(record.entry.reply.text, "m2");
    }
}
