//! Purge means every copy: a case's personal data lives in its records, but also in its reporter's
//! session, in the texts of queued and delivered messages (the intake summary, staff replies, the
//! staff chat's case views), in delivery receipts and in meta records of downloads. [`Store::purge_everywhere`]
//! removes all of them in one atomic batch; [`Store::rewrite`] then removes the old bytes sled keeps
//! in its log.
//!
//! Invariant: runs under the exclusive gate, so a sender finishing an entry, a receipt being added or
//! the retention sweep are wholly before or wholly after it (and none of them recreates a removed
//! record: see `outbox_finish_many`, `add_receipt`, `outbox_update`). Sessions are written only by the
//! engine, so callers run this inside `Engine::exclusive`.

use super::cases::Tombstone;
use super::{DeliveryRecord, OutboxEntry, Result, Store, decode, key};
use crate::cases::CaseRecord;

/// What a purge found and removed besides the case records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub queued: usize,
    pub delivered: usize,
    pub meta: usize,
}

/// Whether a message text quotes the case: its code, or one of its answers.
fn quotes(text: &str, needles: &[String]) -> bool {
    needles.iter().any(|n| text.contains(n.as_str()))
}

impl Store {
    /// Removes a case whole (record, events, index, pending emergency), leaves its tombstone, and
    /// removes every copy of its data: the reporter's session, every queued or delivered message to the
    /// reporter or quoting one of `needles` (the code and the intake answers), their platform-id
    /// index and late-failure notes, and the meta records named in `meta` (download paths, the
    /// reporter's address). One atomic batch. The caller flushes, then calls [`Store::rewrite`].
    pub fn purge_everywhere(
        &self,
        record: &CaseRecord,
        needles: &[String],
        meta: &[String],
        tombstone: &Tombstone,
    ) -> Result<Purged> {
        let live = self.exclusive()?;
        let kernel = &live.kernel;
        let mut batch = super::WriteBatch::default();
        super::cases::remove_case(kernel, &mut batch, record, tombstone)?;
        let mut purged = Purged::default();
        let reporter = &record.reporter;
        let session = key::session(reporter);
        if kernel.contains_key(&session)? {
            batch.remove(session);
            purged.sessions += 1;
        }
        let mut queued = Vec::new();
        for item in kernel.scan_prefix(b"o:") {
            let (k, v) = item?;
            let entry: OutboxEntry = decode(&k, &v)?;
            if &entry.user == reporter || quotes(&entry.reply.text, needles) {
                batch.remove(k.to_vec());
                batch.remove(key::late_failure(entry.user.channel, entry.seq));
                purged.queued += 1;
                queued.push((entry.user.channel, entry.seq));
            }
        }
        for item in kernel.scan_prefix(b"x:") {
            let (k, v) = item?;
            let record: DeliveryRecord = decode(&k, &v)?;
            let entry = &record.entry;
            if &entry.user == reporter || quotes(&entry.reply.text, needles) {
                batch.remove(k.to_vec());
                batch.remove(key::late_failure(entry.user.channel, entry.seq));
                if let super::Delivery::Sent {
                    platform_id: Some(id),
                    ..
                } = &record.delivery
                {
                    batch.remove(key::platform_message(entry.user.channel, id));
                }
                purged.delivered += 1;
            }
        }
        for name in meta {
            let k = key::meta(name);
            if kernel.contains_key(&k)? {
                batch.remove(k);
                purged.meta += 1;
            }
        }
        self.write_checked(|| Ok(kernel.apply_batch(batch.into_sled().0)?))?;
        for (channel, seq) in queued {
            self.outbox_removed(channel, seq);
        }
        Ok(purged)
    }
}
