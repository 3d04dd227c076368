//! Persistence of cases, in the kernel tree so a case lands in the same atomic batch as the reply that
//! shows its code.
//!
//! Keys (text, so the data stays inspectable):
//! - `c:<code>`: the opening record ([`CaseRecord`]), written once;
//! - `ce:<code>:<seq>`: one event of the timeline; `seq` is the database's monotonic id, so events sort
//!   in the order they were written and no two writers ever overwrite each other;
//! - `ci:<channel>:<user id>:<code>`: the reporter's cases (an index, empty value);
//! - `cp:<channel>:<user id>`: an emergency seen before the reporter's case existed;
//! - `cx:<code>`: a tombstone of a purged case (no personal data), so its code is never given again.
//!
//! Invariants: the opening record is never rewritten (purge removes a case whole); events are only
//! appended.

use super::{Result, Store, UserKey, WriteBatch, decode, encode};
use crate::cases::{CaseRecord, Event, PendingEmergency};

fn record_key(code: &str) -> Vec<u8> {
    format!("c:{code}").into_bytes()
}

fn events_prefix(code: &str) -> Vec<u8> {
    format!("ce:{code}:").into_bytes()
}

fn event_key(code: &str, seq: u64) -> Vec<u8> {
    format!("ce:{code}:{seq:016x}").into_bytes()
}

fn user_prefix(user: &UserKey) -> Vec<u8> {
    format!("ci:{}:{}:", user.channel.as_str(), user.id).into_bytes()
}

fn user_key(user: &UserKey, code: &str) -> Vec<u8> {
    let mut k = user_prefix(user);
    k.extend_from_slice(code.as_bytes());
    k
}

fn pending_key(user: &UserKey) -> Vec<u8> {
    format!("cp:{}:{}", user.channel.as_str(), user.id).into_bytes()
}

pub(crate) fn tombstone_key(code: &str) -> Vec<u8> {
    format!("cx:{code}").into_bytes()
}

/// What is left of a purged case.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tombstone {
    pub purged_at: u64,
    pub actor: String,
}

impl Store {
    /// The opening record of a case.
    pub fn case_record(&self, code: &str) -> Result<Option<CaseRecord>> {
        self.get_json(&record_key(code))
    }

    /// Whether a code is taken: by a case, or by a purged one.
    pub fn case_code_taken(&self, code: &str) -> Result<bool> {
        let live = self.handles()?;
        Ok(live.kernel.contains_key(record_key(code))?
            || live.kernel.contains_key(tombstone_key(code))?)
    }

    /// The timeline of a case, oldest first.
    pub fn case_events(&self, code: &str) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for item in self.handles()?.kernel.scan_prefix(events_prefix(code)) {
            let (k, v) = item?;
            events.push(decode(&k, &v)?);
        }
        Ok(events)
    }

    /// Every case code, in code order.
    pub fn case_codes(&self) -> Result<Vec<String>> {
        let mut codes = Vec::new();
        for item in self.handles()?.kernel.scan_prefix(b"c:") {
            let (k, _) = item?;
            if let Some(code) = k.strip_prefix(b"c:") {
                codes.push(String::from_utf8_lossy(code).into_owned());
            }
        }
        Ok(codes)
    }

    /// Every case with its events, in code order, in two sequential scans (the web desk's list).
    pub fn all_cases(&self) -> Result<Vec<(CaseRecord, Vec<Event>)>> {
        let mut cases: Vec<(CaseRecord, Vec<Event>)> = Vec::new();
        let kernel = self.kernel()?;
        for item in kernel.scan_prefix(b"c:") {
            let (k, v) = item?;
            cases.push((decode(&k, &v)?, Vec::new()));
        }
        let mut i = 0;
        for item in kernel.scan_prefix(b"ce:") {
            let (k, v) = item?;
            let code = k
                .get(3..)
                .and_then(|rest| rest.iter().rposition(|b| *b == b':').map(|p| &rest[..p]))
                .unwrap_or_default();
            // Both scans are in code order: walk the cases along.
            while i < cases.len() && cases[i].0.code.as_bytes() < code {
                i += 1;
            }
            match cases.get_mut(i) {
                Some((record, events)) if record.code.as_bytes() == code => {
                    events.push(decode(&k, &v)?)
                }
                _ => {} // an event without its case (written while the case was purged)
            }
        }
        Ok(cases)
    }

    /// A counter that grows after every write or removal of a case record or event, by whoever made
    /// it (the engine, a staff tool): caches of case lists compare it to know they are stale. It is
    /// bumped by a watcher thread a moment after the write; writers that read their own change at once
    /// bump it themselves too. It is `u64::MAX` when nothing watches (no thread, or the database was
    /// reopened and the watch ended): callers then ask for a new one.
    pub fn case_changes(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
        let Ok(kernel) = self.kernel() else {
            counter.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
            return counter;
        };
        for prefix in [&b"c:"[..], &b"ce:"[..]] {
            let events = kernel.watch_prefix(prefix);
            let bump = counter.clone();
            let spawned = std::thread::Builder::new()
                .name("case-watch".into())
                .spawn(move || {
                    for _ in events {
                        bump.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    // The database instance went away (a reopen, the end): stop trusting caches.
                    bump.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
                });
            if spawned.is_err() {
                // No watcher: a counter that never settles keeps every cache honest (and cold).
                counter.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
            }
        }
        counter
    }

    /// Which cases changed: the codes of every case record or event written or removed since the
    /// last [`CaseWatch::take`], by whoever wrote them (a watcher thread, a moment after the write).
    /// When the watch ended (the database was reopened) `take` says so and the caller reads all.
    pub fn case_watch(&self) -> CaseWatch {
        let watch = CaseWatch::default();
        let Ok(kernel) = self.kernel() else {
            watch.end();
            return watch;
        };
        for prefix in [&b"c:"[..], &b"ce:"[..]] {
            let events = kernel.watch_prefix(prefix);
            let seen = watch.clone();
            let skip = prefix.len();
            let spawned = std::thread::Builder::new()
                .name("case-watch".into())
                .spawn(move || {
                    for event in events {
                        let key = event.key();
                        let rest = key.get(skip..).unwrap_or_default();
                        // `c:<code>` or `ce:<code>:<seq>`.
                        let code = if skip == 2 {
                            rest
                        } else {
                            rest.iter()
                                .rposition(|b| *b == b':')
                                .map(|p| &rest[..p])
                                .unwrap_or(rest)
                        };
                        seen.mark(&String::from_utf8_lossy(code));
                    }
                    seen.end();
                });
            if spawned.is_err() {
                watch.end();
            }
        }
        watch
    }

    /// The codes of the cases a user reported.
    pub fn case_codes_of(&self, user: &UserKey) -> Result<Vec<String>> {
        let prefix = user_prefix(user);
        let mut codes = Vec::new();
        for item in self.handles()?.kernel.scan_prefix(&prefix) {
            let (k, _) = item?;
            if let Some(code) = k.get(prefix.len()..) {
                codes.push(String::from_utf8_lossy(code).into_owned());
            }
        }
        Ok(codes)
    }

    pub fn pending_emergency(&self, user: &UserKey) -> Result<Option<PendingEmergency>> {
        self.get_json(&pending_key(user))
    }

    /// Appends an event outside the engine's commit (staff actions). The caller flushes.
    pub fn add_case_event(&self, code: &str, event: &Event) -> Result<()> {
        let seq = self.next_seq()?;
        let (k, v) = (event_key(code, seq), encode(event)?);
        let live = self.handles()?;
        self.write_checked(|| Ok(live.kernel.insert(k, v)?))?;
        Ok(())
    }

    /// Removes a case whole (record, events, index) and leaves a tombstone, atomically. The caller
    /// flushes. (Its reporter's conversation stays: see [`Store::purge_everywhere`].)
    pub fn purge_case(&self, record: &CaseRecord, tombstone: &Tombstone) -> Result<()> {
        let live = self.handles()?;
        let mut batch = WriteBatch::default();
        remove_case(&live.kernel, &mut batch, record, tombstone)?;
        self.write_checked(|| Ok(live.kernel.apply_batch(batch.into_sled().0)?))?;
        Ok(())
    }
}

/// Adds the removal of a case's records and the writing of its tombstone to `batch`.
pub(crate) fn remove_case(
    kernel: &sled::Tree,
    batch: &mut WriteBatch,
    record: &CaseRecord,
    tombstone: &Tombstone,
) -> Result<()> {
    batch.remove(record_key(&record.code));
    for item in kernel.scan_prefix(events_prefix(&record.code)) {
        let (k, _) = item?;
        batch.remove(k.to_vec());
    }
    batch.remove(user_key(&record.reporter, &record.code));
    batch.remove(pending_key(&record.reporter));
    batch.put(tombstone_key(&record.code), encode(tombstone)?);
    Ok(())
}

impl WriteBatch {
    /// A new case: its opening record and the reporter's index entry.
    pub(crate) fn put_case(&mut self, record: &CaseRecord) -> Result<()> {
        self.put(record_key(&record.code), encode(record)?);
        self.put(user_key(&record.reporter, &record.code), Vec::new());
        Ok(())
    }

    /// One event of a case's timeline; `seq` from [`Store::next_seq`].
    pub(crate) fn put_case_event(&mut self, code: &str, seq: u64, event: &Event) -> Result<()> {
        self.put(event_key(code, seq), encode(event)?);
        Ok(())
    }

    pub(crate) fn put_pending_emergency(
        &mut self,
        user: &UserKey,
        pending: &PendingEmergency,
    ) -> Result<()> {
        self.put(pending_key(user), encode(pending)?);
        Ok(())
    }

    pub(crate) fn remove_pending_emergency(&mut self, user: &UserKey) {
        self.remove(pending_key(user));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cases::{EventKind, Priority};
    use crate::dialog::Lang;
    use crate::storage::{Channel, DEFAULT_CACHE_BYTES};

    fn record(code: &str, user: &UserKey) -> CaseRecord {
        CaseRecord {
            code: code.into(),
            reporter: user.clone(),
            lang: Lang::Id,
            opened_at: 1,
            category: "gaji".into(),
            country: String::new(),
            priority: Priority::P3,
            share_consent: false,
            fields: Default::default(),
            attachments: vec![],
        }
    }

    #[tokio::test]
    async fn cases_events_and_purge_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let alice = UserKey::new(Channel::Whatsapp, "1");
        let bob = UserKey::new(Channel::Whatsapp, "12");
        {
            let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
            let mut batch = WriteBatch::default();
            batch.put_case(&record("PKL-AAAAA2", &alice)).unwrap();
            batch.put_case(&record("PKL-BBBBB3", &bob)).unwrap();
            let ev = |t: &str| Event {
                at: 2,
                actor: "reporter".into(),
                kind: EventKind::Note { text: t.into() },
            };
            batch
                .put_case_event("PKL-AAAAA2", store.next_seq().unwrap(), &ev("one"))
                .unwrap();
            store.apply(batch).unwrap();
            store.add_case_event("PKL-AAAAA2", &ev("two")).unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(
            store.case_codes().unwrap(),
            vec!["PKL-AAAAA2", "PKL-BBBBB3"]
        );
        // "1" is a prefix of "12": the index must not mix the two users.
        assert_eq!(store.case_codes_of(&alice).unwrap(), vec!["PKL-AAAAA2"]);
        let texts: Vec<_> = store
            .case_events("PKL-AAAAA2")
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            texts,
            vec![
                EventKind::Note { text: "one".into() },
                EventKind::Note { text: "two".into() }
            ]
        );
        let rec = store.case_record("PKL-AAAAA2").unwrap().unwrap();
        store
            .purge_case(
                &rec,
                &Tombstone {
                    purged_at: 3,
                    actor: "cli:test".into(),
                },
            )
            .unwrap();
        assert!(store.case_record("PKL-AAAAA2").unwrap().is_none());
        assert!(store.case_events("PKL-AAAAA2").unwrap().is_empty());
        assert!(store.case_codes_of(&alice).unwrap().is_empty());
        assert!(store.case_code_taken("PKL-AAAAA2").unwrap());
        assert!(store.case_code_taken("PKL-BBBBB3").unwrap());
        assert!(!store.case_code_taken("PKL-CCCCC4").unwrap());
    }
}

/// The cases changed since the last look (see [`Store::case_watch`]). Cheap to clone.
#[derive(Clone, Default)]
pub struct CaseWatch {
    inner: std::sync::Arc<std::sync::Mutex<(std::collections::HashSet<String>, bool)>>,
}

impl CaseWatch {
    /// Marks a case changed (the watcher; also a writer that reads its own change at once).
    pub fn mark(&self, code: &str) {
        if let Ok(mut g) = self.inner.lock() {
            g.0.insert(code.to_string());
        }
    }

    fn end(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.1 = true;
        }
    }

    /// The codes changed since the last call, or `None` when the watch ended (read everything).
    pub fn take(&self) -> Option<Vec<String>> {
        let mut g = self.inner.lock().ok()?;
        if g.1 {
            return None;
        }
        Some(g.0.drain().collect())
    }
}
