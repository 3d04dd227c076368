//! Persistence of the web desk (see `web::desk`): staff accounts, signed-in sessions, failed sign-in
//! counters and the audit log, in their own tree `desk`.
//!
//! Invariants:
//! - This module stores opaque serialisable values under `<kind>:<id>` keys; it knows nothing of what an
//!   account or a session is (the desk decides that).
//! - Appended entries (`append`) get ids from `sled::Db::generate_id`, monotonic across restarts, so a
//!   kind iterates in the order it was written.
//! - Writes are not flushed here: the caller flushes ([`DeskStore::flush`]) before it answers.

use serde::{Serialize, de::DeserializeOwned};

use super::{Result, Store, decode, encode};

const TREE: &str = "desk";

fn key(kind: &str, id: &str) -> Vec<u8> {
    format!("{kind}:{id}").into_bytes()
}

/// The desk's own tree in the database. Reads the current database instance on every call, so it
/// keeps working after `Store::reopen`.
#[derive(Clone)]
pub struct DeskStore {
    store: Store,
}

impl DeskStore {
    pub fn open(store: &Store) -> Result<DeskStore> {
        store.db()?.open_tree(TREE)?;
        Ok(DeskStore {
            store: store.clone(),
        })
    }

    fn tree(&self) -> Result<sled::Tree> {
        Ok(self.store.db()?.open_tree(TREE)?)
    }

    pub fn get<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        let k = key(kind, id);
        match self.tree()?.get(&k)? {
            Some(v) => Ok(Some(decode(&k, &v)?)),
            None => Ok(None),
        }
    }

    pub fn put<T: Serialize>(&self, kind: &str, id: &str, value: &T) -> Result<()> {
        let (k, v) = (key(kind, id), encode(value)?);
        let tree = self.tree()?;
        self.store.write_checked(|| Ok(tree.insert(k, v)?))?;
        Ok(())
    }

    pub fn remove(&self, kind: &str, id: &str) -> Result<()> {
        let tree = self.tree()?;
        self.store
            .write_checked(|| Ok(tree.remove(key(kind, id))?))?;
        Ok(())
    }

    /// Every `(id, value)` of a kind, in id order.
    pub fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        let prefix = key(kind, "");
        let mut out = Vec::new();
        for item in self.tree()?.scan_prefix(&prefix) {
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((id, decode(&k, &v)?));
        }
        Ok(out)
    }

    /// Appends a value under a fresh, growing id; returns the id.
    pub fn append<T: Serialize>(&self, kind: &str, value: &T) -> Result<u64> {
        let id = self.store.next_seq()?;
        let (k, v) = (key(kind, &format!("{id:016x}")), encode(value)?);
        let tree = self.tree()?;
        self.store.write_checked(|| Ok(tree.insert(k, v)?))?;
        Ok(id)
    }

    /// The newest appended values of a kind that `keep` accepts, newest first, at most `limit`.
    pub fn newest<T: DeserializeOwned>(
        &self,
        kind: &str,
        limit: usize,
        mut keep: impl FnMut(&T) -> bool,
    ) -> Result<Vec<T>> {
        let prefix = key(kind, "");
        let mut out = Vec::new();
        for item in self.tree()?.scan_prefix(&prefix).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let value: T = decode(&k, &v)?;
            if keep(&value) {
                out.push(value);
            }
        }
        Ok(out)
    }

    /// Removes every entry of a kind that `drop` accepts; returns how many.
    pub fn remove_where<T: DeserializeOwned>(
        &self,
        kind: &str,
        mut drop: impl FnMut(&T) -> bool,
    ) -> Result<usize> {
        let prefix = key(kind, "");
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.tree()?.scan_prefix(&prefix) {
            let (k, v) = item?;
            // An unreadable entry of a kind we clean is dropped too: it can serve nobody.
            if decode::<T>(&k, &v).map(|t| drop(&t)).unwrap_or(true) {
                batch.remove(k);
                n += 1;
            }
        }
        let tree = self.tree()?;
        self.store.write_checked(|| Ok(tree.apply_batch(batch)?))?;
        Ok(n)
    }

    /// Makes the desk's writes durable (the store's flush: the same fault switch and health).
    pub async fn flush(&self) -> Result<()> {
        self.store.flush().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn values_survive_reopen_and_appends_come_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = Store::open(tmp.path(), 1 << 20).unwrap();
            let desk = DeskStore::open(&store).unwrap();
            desk.put("a", "budi", &1u32).unwrap();
            desk.put("a", "ani", &2u32).unwrap();
            for n in 0..5u32 {
                desk.append("l", &n).unwrap();
            }
            desk.flush().await.unwrap();
        }
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let desk = DeskStore::open(&store).unwrap();
        assert_eq!(desk.get::<u32>("a", "budi").unwrap(), Some(1));
        let names: Vec<String> = desk
            .list::<u32>("a")
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(names, ["ani", "budi"]);
        assert_eq!(desk.newest::<u32>("l", 2, |_| true).unwrap(), [4, 3]);
        assert_eq!(desk.remove_where::<u32>("l", |n| *n < 3).unwrap(), 3);
        assert_eq!(desk.newest::<u32>("l", 10, |_| true).unwrap(), [4, 3]);
        desk.remove("a", "budi").unwrap();
        assert_eq!(desk.get::<u32>("a", "budi").unwrap(), None);
    }
}
