//! Retention: what is deleted after how long, and the background sweep that does it.
//!
//! - dedupe records `d:` after `dedupe` (longer than the platforms' redelivery: WhatsApp retries for
//!   up to 7 days; a redelivery after that would be handled again);
//! - sessions `s:` idle for `session` (an unfinished intake lives only in its session, so it goes
//!   with it; the user starts afresh, like after the idle restart);
//! - delivery records `x:` (and their platform-id index `p:`) whose delivery is older than
//!   `delivered`. Queued entries `o:` are never deleted: they wait until sent;
//! - messages not understood `n:` (masked, see `stats`) older than `unanswered`. The day counters
//!   `k:` are counts without personal data and are kept.
//!
//! Cases are not touched here (`pandu cases purge` removes closed ones, with their attachments).
//!
//! Invariants:
//! - Never loses data a writer just wrote: every deletion is a compare-and-swap against the exact bytes
//!   the sweep judged expired, so a session the engine rewrote meanwhile (the user came back) stays. A
//!   session the engine had loaded before the deletion is written back by its commit: the user keeps
//!   it. A delivery record removed here is never recreated by a late receipt (`add_receipt` changes
//!   records in place only).
//! - Never stalls the writer: the sweep runs on the blocking pool in steps of at most `batch` records,
//!   each a few milliseconds, with a pause between steps; it takes no lock the engine waits for beyond
//!   sled's per-operation ones.

use std::time::Duration;

use super::{Delivery, DeliveryRecord, Result, Store, decode, key};
use crate::dialog::Session;

/// How long records are kept, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub delivered_secs: u64,
    pub dedupe_secs: u64,
    pub session_secs: u64,
    pub unanswered_secs: u64,
}

impl Retention {
    pub fn from_days(delivered: u64, dedupe: u64, session: u64) -> Retention {
        Retention {
            delivered_secs: delivered.saturating_mul(86_400),
            dedupe_secs: dedupe.saturating_mul(86_400),
            session_secs: session.saturating_mul(86_400),
            unanswered_secs: 30 * 86_400,
        }
    }

    /// The same policy, keeping messages not understood for `days`.
    pub fn with_unanswered_days(self, days: u64) -> Retention {
        Retention {
            unanswered_secs: days.saturating_mul(86_400),
            ..self
        }
    }
}

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub examined: usize,
    pub dedupe: usize,
    pub sessions: usize,
    pub delivered: usize,
    pub unanswered: usize,
}

/// The key prefixes the sweep walks, in key order.
const REGIONS: [&[u8]; 4] = [b"d:", b"n:", b"s:", b"x:"];

/// The first key after every key starting with `prefix` (`d:` → `d;`).
fn region_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

impl Store {
    /// One step of the sweep at time `now`: looks at up to `limit` records from `cursor` on (the
    /// start when `None`) and deletes the expired ones. Returns where to go on, or `None` once the
    /// whole database was walked.
    pub fn sweep_step(
        &self,
        policy: &Retention,
        now: u64,
        cursor: Option<Vec<u8>>,
        limit: usize,
        swept: &mut Swept,
    ) -> Result<Option<Vec<u8>>> {
        let live = self.handles()?;
        let kernel = &live.kernel;
        let mut pos = cursor.unwrap_or_else(|| REGIONS[0].to_vec());
        let mut seen = 0usize;
        for prefix in REGIONS {
            let end = region_end(prefix);
            if pos >= end {
                continue;
            }
            if pos.as_slice() < prefix {
                pos = prefix.to_vec();
            }
            for item in kernel.range(pos.clone()..end.clone()) {
                let (k, v) = item?;
                seen += 1;
                swept.examined += 1;
                match prefix {
                    b"d:" => {
                        let at = <[u8; 8]>::try_from(v.as_ref())
                            .map(u64::from_be_bytes)
                            .unwrap_or(0);
                        if at.saturating_add(policy.dedupe_secs) <= now
                            && remove_if_same(self, kernel, &k, &v)?
                        {
                            swept.dedupe += 1;
                        }
                    }
                    b"n:" => {
                        let entry: super::stats::Unanswered = decode(&k, &v)?;
                        if entry.at.saturating_add(policy.unanswered_secs) <= now
                            && remove_if_same(self, kernel, &k, &v)?
                        {
                            swept.unanswered += 1;
                        }
                    }
                    b"s:" => {
                        let session: Session = decode(&k, &v)?;
                        let last = session.last_seen.max(session.created_at);
                        if last.saturating_add(policy.session_secs) <= now
                            && remove_if_same(self, kernel, &k, &v)?
                        {
                            swept.sessions += 1;
                        }
                    }
                    _ => {
                        let record: DeliveryRecord = decode(&k, &v)?;
                        let (at, platform_id) = match &record.delivery {
                            Delivery::Sent { platform_id, at } => (*at, platform_id.as_deref()),
                            Delivery::Failed { at, .. } => (*at, None),
                        };
                        if at.saturating_add(policy.delivered_secs) <= now
                            && remove_if_same(self, kernel, &k, &v)?
                        {
                            if let Some(id) = platform_id {
                                let k = key::platform_message(record.entry.user.channel, id);
                                self.write_checked(|| Ok(kernel.remove(k)?))?;
                            }
                            swept.delivered += 1;
                        }
                    }
                }
                if seen >= limit {
                    let mut next = k.to_vec();
                    next.push(0);
                    return Ok(Some(next));
                }
            }
            pos = end;
        }
        Ok(None)
    }

    /// Walks the whole database once at `now` (tests and the CLI; the server uses [`spawn_sweeper`]).
    pub fn sweep_all(&self, policy: &Retention, now: u64) -> Result<Swept> {
        let mut swept = Swept::default();
        let mut cursor = None;
        loop {
            cursor = self.sweep_step(policy, now, cursor, 512, &mut swept)?;
            if cursor.is_none() {
                return Ok(swept);
            }
        }
    }
}

/// Deletes `k` only if it still holds exactly `v`, under the store's write-fault switch.
fn remove_if_same(store: &Store, kernel: &sled::Tree, k: &[u8], v: &sled::IVec) -> Result<bool> {
    store.write_checked(|| {
        Ok(kernel
            .compare_and_swap(k, Some(v), None as Option<&[u8]>)?
            .is_ok())
    })
}

/// How the background sweep paces itself.
#[derive(Clone, Copy, Debug)]
pub struct SweepPace {
    /// Records looked at per step.
    pub batch: usize,
    /// Pause between steps.
    pub pause: Duration,
    /// Pause between two walks of the whole database.
    pub every: Duration,
}

impl Default for SweepPace {
    fn default() -> SweepPace {
        SweepPace {
            batch: 256,
            pause: Duration::from_millis(20),
            every: Duration::from_secs(600),
        }
    }
}

/// Sweeps the database in small steps until `shutdown` says stop: one walk, a pause of `pace.every`,
/// the next walk. Logs what each walk removed (counts only).
pub fn spawn_sweeper(
    store: Store,
    policy: Retention,
    pace: SweepPace,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut cursor = None;
        let mut swept = Swept::default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let step_store = store.clone();
            let mut step_swept = swept;
            let from = cursor.take();
            let step = tokio::task::spawn_blocking(move || {
                let now = crate::time::now_secs();
                let next =
                    step_store.sweep_step(&policy, now, from, pace.batch.max(1), &mut step_swept);
                (next, step_swept)
            })
            .await;
            let wait = match step {
                Ok((Ok(Some(next)), s)) => {
                    swept = s;
                    cursor = Some(next);
                    pace.pause
                }
                Ok((Ok(None), s)) => {
                    tracing::info!(
                        examined = s.examined,
                        dedupe = s.dedupe,
                        sessions = s.sessions,
                        delivered = s.delivered,
                        unanswered = s.unanswered,
                        "retention sweep done"
                    );
                    swept = Swept::default();
                    pace.every
                }
                Ok((Err(e), _)) => {
                    tracing::warn!(error = %e, "retention sweep failed; will try again");
                    swept = Swept::default();
                    pace.every
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention sweep task failed; will try again");
                    pace.every
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::dialog::Reply;
    use crate::storage::{
        Channel, DEFAULT_CACHE_BYTES, OutboxEntry, OutboxKind, UserKey, WriteBatch,
    };

    const DAY: u64 = 86_400;

    fn entry(seq: u64, user: &UserKey) -> OutboxEntry {
        OutboxEntry {
            seq,
            user: user.clone(),
            reply: Reply {
                text: format!("balasan {seq}"),
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

    fn session(last_seen: u64) -> Session {
        Session {
            created_at: last_seen,
            last_seen,
            ..Session::default()
        }
    }

    /// A store with, for two users: a session last seen at `old` / `recent`, a dedupe record, one
    /// queued and one delivered reply each.
    fn store_at(dir: &std::path::Path, old: u64, recent: u64) -> (Store, UserKey, UserKey) {
        let store = Store::open(dir, DEFAULT_CACHE_BYTES).unwrap();
        let quiet = UserKey::new(Channel::Whatsapp, "62811");
        let busy = UserKey::new(Channel::Telegram, "77");
        let mut batch = WriteBatch::default();
        for (n, (user, at)) in [(&quiet, old), (&busy, recent)].into_iter().enumerate() {
            let n = n as u64;
            batch.put_session(user, &session(at)).unwrap();
            batch.mark_seen(user.channel, &format!("msg{n}"), at);
            batch.push_outbox(&entry(10 + n, user)).unwrap();
            batch.push_outbox(&entry(20 + n, user)).unwrap();
        }
        store.apply(batch).unwrap();
        for (n, at) in [old, recent].into_iter().enumerate() {
            let n = n as u64;
            let user = if n == 0 { &quiet } else { &busy };
            let queued = store.outbox_pending(user.channel, 10).unwrap();
            let first = queued.iter().find(|e| e.seq == 10 + n).unwrap();
            store
                .outbox_finish(
                    first,
                    Delivery::Sent {
                        platform_id: Some(format!("p{n}")),
                        at,
                    },
                )
                .unwrap();
        }
        (store, quiet, busy)
    }

    #[test]
    fn what_is_past_its_time_goes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000 * DAY;
        let (store, quiet, busy) = store_at(dir.path(), now - 40 * DAY, now - DAY);
        let policy = Retention::from_days(30, 14, 30);
        let swept = store.sweep_all(&policy, now).unwrap();
        assert_eq!(
            (swept.dedupe, swept.sessions, swept.delivered),
            (1, 1, 1),
            "{swept:?}"
        );
        // The quiet user's old records are gone ...
        assert!(store.session(&quiet).unwrap().is_none());
        assert!(!store.seen(Channel::Whatsapp, "msg0").unwrap());
        assert!(store.delivery(Channel::Whatsapp, 10).unwrap().is_none());
        assert!(
            store
                .delivery_by_platform_id(Channel::Whatsapp, "p0")
                .unwrap()
                .is_none()
        );
        // ... but a reply still waiting is never deleted, however old.
        assert_eq!(store.outbox_for(&quiet).unwrap().len(), 1);
        // The busy user keeps everything.
        assert!(store.session(&busy).unwrap().is_some());
        assert!(store.seen(Channel::Telegram, "msg1").unwrap());
        assert!(store.delivery(Channel::Telegram, 11).unwrap().is_some());
        // A receipt arriving for a swept record does not bring it back.
        assert!(!store.add_receipt(Channel::Whatsapp, "p0", "read").unwrap());
        assert!(store.delivery(Channel::Whatsapp, 10).unwrap().is_none());
        // Days later the busy user's records go too.
        let later = store.sweep_all(&policy, now + 31 * DAY).unwrap();
        assert_eq!((later.dedupe, later.sessions, later.delivered), (1, 1, 1));
    }

    #[test]
    fn messages_not_understood_go_after_their_days_counters_stay() {
        use crate::storage::stats::{Unanswered, day_key};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let now = 1_000 * DAY;
        let mut batch = WriteBatch::default();
        for (seq, at) in [
            (1, now - 31 * DAY),
            (2, now - 29 * DAY),
            (3, now - 40 * DAY),
        ] {
            let entry = Unanswered {
                at,
                node: "lapor/negara".into(),
                text: "brp [#] hari".into(),
            };
            batch.put_unanswered(seq, &entry).unwrap();
        }
        batch.put_count(day_key("2020-01-01", Channel::Whatsapp), 4);
        store.apply(batch).unwrap();
        let policy = Retention::from_days(30, 14, 30);
        let swept = store.sweep_all(&policy, now).unwrap();
        assert_eq!(swept.unanswered, 2, "{swept:?}");
        let left = store.unanswered_since(0, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].at, now - 29 * DAY);
        assert_eq!(
            store
                .count(&day_key("2020-01-01", Channel::Whatsapp))
                .unwrap(),
            4
        );
        // Configured shorter: the last one goes too.
        let short = policy.with_unanswered_days(7);
        assert_eq!(store.sweep_all(&short, now).unwrap().unanswered, 1);
    }

    #[test]
    fn a_session_written_while_the_sweep_looks_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000 * DAY;
        let (store, quiet, _) = store_at(dir.path(), now - 40 * DAY, now);
        let policy = Retention::from_days(30, 14, 30);
        // The sweep judged this version expired ...
        let k = key::session(&quiet);
        let judged = store.handles().unwrap().kernel.get(&k).unwrap().unwrap();
        // ... and the user writes again before it deletes: the engine commits a new version.
        let mut batch = WriteBatch::default();
        batch.put_session(&quiet, &session(now)).unwrap();
        store.apply(batch).unwrap();
        assert!(!remove_if_same(&store, &store.handles().unwrap().kernel, &k, &judged).unwrap());
        assert!(store.session(&quiet).unwrap().is_some());
        // And a full sweep now keeps it.
        store.sweep_all(&policy, now).unwrap();
        assert_eq!(store.session(&quiet).unwrap().unwrap().last_seen, now);
    }

    #[test]
    fn a_sweep_in_small_steps_removes_what_one_walk_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let mut batch = WriteBatch::default();
        for n in 0..1_000u64 {
            let user = UserKey::new(Channel::Whatsapp, format!("628{n}"));
            batch
                .put_session(&user, &session(n % 2 * 100 * DAY))
                .unwrap();
            batch.mark_seen(Channel::Whatsapp, &format!("w{n}"), n % 2 * 100 * DAY);
        }
        store.apply(batch).unwrap();
        let policy = Retention::from_days(30, 14, 30);
        let mut swept = Swept::default();
        let mut cursor = None;
        let mut steps = 0;
        loop {
            cursor = store
                .sweep_step(&policy, 100 * DAY, cursor, 7, &mut swept)
                .unwrap();
            steps += 1;
            if cursor.is_none() {
                break;
            }
        }
        assert!(steps > 250, "{steps}");
        assert_eq!(swept.examined, 2_000);
        assert_eq!((swept.sessions, swept.dedupe), (500, 500));
    }
}
