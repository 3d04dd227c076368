//! Persistence of agency-registry snapshots (see `registry`): each import is written under a new id, and
//! one small "current" pointer says which snapshot the bot serves.
//!
//! Invariants:
//! - A snapshot is written completely and flushed *before* the pointer moves to it; the pointer (current
//!   and previous together) changes in one atomic batch, then is flushed. A crash at any instant leaves
//!   the bot serving either the old snapshot or the new one, never a mix.
//! - The snapshot the pointer named before an import is kept as "previous" for rollback; older ones and
//!   snapshots written but never switched to (a crash mid-import) are deleted only after a switch.
//! - This module stores opaque serialisable values; it knows nothing of what an office is.

use serde::{Serialize, de::DeserializeOwned};

use super::{Result, Store, decode, encode};

pub(crate) const TREE: &str = "agencies";
const CURRENT: &[u8] = b"current";
const PREVIOUS: &[u8] = b"previous";

fn meta_key(id: u64) -> Vec<u8> {
    format!("s:{id:016x}:meta").into_bytes()
}

fn records_prefix(id: u64) -> Vec<u8> {
    format!("s:{id:016x}:r:").into_bytes()
}

fn record_key(id: u64, n: u64) -> Vec<u8> {
    format!("s:{id:016x}:r:{n:016x}").into_bytes()
}

fn snapshot_prefix(id: u64) -> Vec<u8> {
    format!("s:{id:016x}:").into_bytes()
}

/// Parses the id out of a `s:<id>:...` key.
fn snapshot_id(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key).ok()?;
    let hex = text.strip_prefix("s:")?.get(..16)?;
    u64::from_str_radix(hex, 16).ok()
}

fn read_id(value: Option<sled::IVec>) -> Option<u64> {
    let bytes = <[u8; 8]>::try_from(value?.as_ref()).ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The registry's own tree in the database.
#[derive(Clone)]
pub struct AgencyStore {
    store: Store,
}

/// A stored snapshot: its metadata and its records, in the order they were written.
pub struct StoredSnapshot<M, R> {
    pub id: u64,
    pub meta: M,
    pub records: Vec<R>,
}

impl AgencyStore {
    /// One atomic write to the agency tree, under the store's write-fault switch.
    fn write(&self, batch: sled::Batch) -> Result<()> {
        let live = self.store.handles()?;
        self.store
            .write_checked(|| Ok(live.agencies.apply_batch(batch)?))
    }

    pub fn open(store: &Store) -> Result<AgencyStore> {
        Ok(AgencyStore {
            store: store.clone(),
        })
    }

    /// A fresh snapshot id, larger than every id this database gave before.
    pub fn new_id(&self) -> Result<u64> {
        self.store.next_seq()
    }

    /// The id the bot serves, if any snapshot was ever switched to.
    pub fn current_id(&self) -> Result<Option<u64>> {
        Ok(read_id(self.store.handles()?.agencies.get(CURRENT)?))
    }

    /// The id kept for rollback.
    pub fn previous_id(&self) -> Result<Option<u64>> {
        Ok(read_id(self.store.handles()?.agencies.get(PREVIOUS)?))
    }

    /// Writes a whole snapshot under `id` in one batch and flushes. Does not switch to it.
    pub fn write_snapshot<M: Serialize, R: Serialize>(
        &self,
        id: u64,
        meta: &M,
        records: &[R],
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (n, record) in records.iter().enumerate() {
            batch.insert(record_key(id, n as u64), encode(record)?);
        }
        batch.insert(meta_key(id), encode(meta)?);
        self.write(batch)?;
        self.store.flush_blocking()?;
        Ok(())
    }

    /// Makes `id` current and the old current the previous one, in one atomic step, flushes, then
    /// deletes every other snapshot.
    pub fn switch_to(&self, id: u64) -> Result<()> {
        let old = self.current_id()?;
        let mut batch = sled::Batch::default();
        batch.insert(CURRENT, id.to_be_bytes().to_vec());
        match old {
            Some(old) if old != id => batch.insert(PREVIOUS, old.to_be_bytes().to_vec()),
            _ => batch.remove(PREVIOUS),
        }
        self.write(batch)?;
        self.store.flush_blocking()?;
        self.collect_garbage()?;
        Ok(())
    }

    /// Swaps current and previous in one atomic step (so a second rollback undoes the first). Returns
    /// the id now current, or `None` when there is no previous snapshot.
    pub fn rollback(&self) -> Result<Option<u64>> {
        let (Some(current), Some(previous)) = (self.current_id()?, self.previous_id()?) else {
            return Ok(None);
        };
        if self
            .store
            .handles()?
            .agencies
            .get(meta_key(previous))?
            .is_none()
        {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        batch.insert(CURRENT, previous.to_be_bytes().to_vec());
        batch.insert(PREVIOUS, current.to_be_bytes().to_vec());
        self.write(batch)?;
        self.store.flush_blocking()?;
        Ok(Some(previous))
    }

    /// Reads a snapshot, or `None` when it does not exist (or was never completely written).
    pub fn load<M: DeserializeOwned, R: DeserializeOwned>(
        &self,
        id: u64,
    ) -> Result<Option<StoredSnapshot<M, R>>> {
        let key = meta_key(id);
        let Some(meta) = self.store.handles()?.agencies.get(&key)? else {
            return Ok(None);
        };
        let meta: M = decode(&key, &meta)?;
        let mut records = Vec::new();
        for item in self
            .store
            .handles()?
            .agencies
            .scan_prefix(records_prefix(id))
        {
            let (k, v) = item?;
            records.push(decode(&k, &v)?);
        }
        Ok(Some(StoredSnapshot { id, meta, records }))
    }

    /// Only the metadata of a snapshot.
    pub fn load_meta<M: DeserializeOwned>(&self, id: u64) -> Result<Option<M>> {
        let key = meta_key(id);
        match self.store.handles()?.agencies.get(&key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Ids of every snapshot with data in the tree (complete or not).
    pub fn snapshot_ids(&self) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        for item in self.store.handles()?.agencies.scan_prefix(b"s:") {
            let (k, _) = item?;
            if let Some(id) = snapshot_id(&k)
                && ids.last() != Some(&id)
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Deletes every snapshot that is neither current nor previous.
    fn collect_garbage(&self) -> Result<()> {
        let keep = [self.current_id()?, self.previous_id()?];
        for id in self.snapshot_ids()? {
            if keep.contains(&Some(id)) {
                continue;
            }
            let mut batch = sled::Batch::default();
            for item in self
                .store
                .handles()?
                .agencies
                .scan_prefix(snapshot_prefix(id))
            {
                let (k, _) = item?;
                batch.remove(k);
            }
            self.write(batch)?;
        }
        self.store.flush_blocking()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::DEFAULT_CACHE_BYTES;

    #[test]
    fn switch_keeps_previous_and_collects_older() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let agencies = AgencyStore::open(&store).unwrap();
        let mut ids = Vec::new();
        for n in 0..3u32 {
            let id = agencies.new_id().unwrap();
            agencies
                .write_snapshot(id, &format!("meta{n}"), &[n, n + 1])
                .unwrap();
            agencies.switch_to(id).unwrap();
            ids.push(id);
        }
        assert_eq!(agencies.current_id().unwrap(), Some(ids[2]));
        assert_eq!(agencies.previous_id().unwrap(), Some(ids[1]));
        assert_eq!(agencies.snapshot_ids().unwrap(), vec![ids[1], ids[2]]);
        let snap: StoredSnapshot<String, u32> = agencies.load(ids[2]).unwrap().unwrap();
        assert_eq!(snap.meta, "meta2");
        assert_eq!(snap.records, vec![2, 3]);

        assert_eq!(agencies.rollback().unwrap(), Some(ids[1]));
        assert_eq!(agencies.current_id().unwrap(), Some(ids[1]));
        assert_eq!(agencies.previous_id().unwrap(), Some(ids[2]));
    }

    #[test]
    fn rollback_without_previous_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let agencies = AgencyStore::open(&store).unwrap();
        assert_eq!(agencies.rollback().unwrap(), None);
        let id = agencies.new_id().unwrap();
        agencies.write_snapshot(id, &"m", &[1u8]).unwrap();
        agencies.switch_to(id).unwrap();
        assert_eq!(agencies.rollback().unwrap(), None);
        assert_eq!(agencies.current_id().unwrap(), Some(id));
    }
}
