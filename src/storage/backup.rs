//! Online backup and restore.
//!
//! `pandu backup FILE` runs inside `pandu serve` (forwarded like a staff command) or in-process when
//! nothing runs. [`Store::backup`] takes the store's exclusive gate just long enough to copy every
//! record into memory: no write is in progress then (the engine's commits, the senders' records and
//! staff events all pass the gate), so the copy is one consistent point; a group the engine applied but
//! has not flushed yet is in the copy, and its acknowledgement still waits for its own flush. The file
//! is then written without holding anything.
//!
//! File format (`PANDU-BACKUP 1`): a header line, the storage format and the next sequence number
//! (u32, u64, big-endian), then per tree `1, name` and per record `2, key, value` (lengths as u32), then
//! `0` and the SHA-256 of everything before it. Written to `FILE.tmp` (mode 0600: it holds personal
//! data), synced, then renamed: a backup file is complete or absent. [`Store::restore`] checks the
//! digest before it writes anything, and only into an empty data folder.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{BackupProblem, Error, Result, Store, layout};

const MAGIC: &[u8] = b"PANDU-BACKUP 1\n";

/// What a backup or restore copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub trees: usize,
    pub records: usize,
    pub bytes: u64,
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn file_error(path: &Path, source: std::io::Error) -> Error {
    Error::File {
        path: path.display().to_string(),
        source,
    }
}

impl Store {
    /// Writes a consistent copy of the whole database to `path` (see the module doc).
    pub fn backup(&self, path: &Path) -> Result<Copied> {
        let mut copied = Copied::default();
        let mut trees = Vec::new();
        let next_seq;
        {
            let live = self.exclusive()?;
            next_seq = self.write_checked(|| live.next_seq())?;
            for name in live.db.tree_names() {
                let tree = live.db.open_tree(&name)?;
                let mut records = Vec::new();
                for item in tree.iter() {
                    let (k, v) = item?;
                    if layout::is_layout_key(&name, &k) {
                        continue;
                    }
                    records.push((k, v));
                }
                trees.push((name, records));
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&layout::FORMAT.to_be_bytes());
        out.extend_from_slice(&next_seq.to_be_bytes());
        for (name, records) in &trees {
            out.push(1);
            put(&mut out, name);
            copied.trees += 1;
            for (k, v) in records {
                out.push(2);
                put(&mut out, k);
                put(&mut out, v);
                copied.records += 1;
            }
        }
        drop(trees);
        out.push(0);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        copied.bytes = out.len() as u64;

        let tmp = path.with_extension("tmp");
        // The file is a write like the database's: the fault switch (a full disk) fails it too. An
        // error of the file alone (a missing folder) is the caller's, not the database's health. No
        // half-written `.tmp` is left behind to be taken for a backup.
        self.write_checked(|| Ok(()))?;
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp).map_err(|e| file_error(&tmp, e))?;
            file.write_all(&out).map_err(|e| file_error(&tmp, e))?;
            file.sync_all().map_err(|e| file_error(&tmp, e))?;
            drop(file);
            std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(dir) = std::fs::File::open(parent)
        {
            let _ = dir.sync_all();
        }
        Ok(copied)
    }

    /// Restores a backup file into `dir`, which must be empty (or not exist). Checks the whole file
    /// before writing anything.
    pub fn restore(dir: &Path, path: &Path, cache_bytes: u64) -> Result<Copied> {
        let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
        let problem = |problem: BackupProblem| Error::Backup {
            file: path.display().to_string(),
            problem,
        };
        let bad = |_what: &str| problem(BackupProblem::Damaged);
        if !bytes.starts_with(MAGIC) || bytes.len() < MAGIC.len() + 12 + 1 + 32 {
            return Err(problem(BackupProblem::NotBackup));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(problem(BackupProblem::Damaged));
        }
        let mut at = MAGIC.len();
        let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
            let slice = body.get(*at..*at + n).ok_or_else(|| bad("truncated"))?;
            *at += n;
            Ok(slice)
        };
        let format = u32::from_be_bytes(take(&mut at, 4)?.try_into().map_err(|_| bad("header"))?);
        if format > layout::FORMAT {
            return Err(Error::NewerFormat {
                dir: path.display().to_string(),
                found: format,
                supported: layout::FORMAT,
            });
        }
        let next_seq = u64::from_be_bytes(take(&mut at, 8)?.try_into().map_err(|_| bad("header"))?);
        let _lock = layout::lock(dir)?;
        let (db, _) = layout::create_for_restore(dir, cache_bytes)?;
        let mut copied = Copied {
            bytes: bytes.len() as u64,
            ..Copied::default()
        };
        let mut tree: Option<sled::Tree> = None;
        let mut batch = sled::Batch::default();
        let mut pending = 0usize;
        loop {
            let tag = take(&mut at, 1)?[0];
            let len = |at: &mut usize| -> Result<usize> {
                let raw = take(at, 4)?;
                Ok(u32::from_be_bytes(raw.try_into().map_err(|_| bad("length"))?) as usize)
            };
            match tag {
                0 => break,
                1 => {
                    if let Some(t) = &tree {
                        t.apply_batch(std::mem::take(&mut batch))?;
                    }
                    let n = len(&mut at)?;
                    let name = take(&mut at, n)?;
                    tree = Some(if name == layout::default_tree_name() {
                        (*db).clone()
                    } else {
                        db.open_tree(name)?
                    });
                    copied.trees += 1;
                }
                2 => {
                    let n = len(&mut at)?;
                    let k = take(&mut at, n)?.to_vec();
                    let n = len(&mut at)?;
                    let v = take(&mut at, n)?.to_vec();
                    batch.insert(k, v);
                    copied.records += 1;
                    pending += 1;
                    if pending >= 10_000
                        && let Some(t) = &tree
                    {
                        t.apply_batch(std::mem::take(&mut batch))?;
                        pending = 0;
                    }
                }
                _ => return Err(bad("unknown record")),
            }
        }
        if let Some(t) = &tree {
            t.apply_batch(batch)?;
        }
        layout::finish_restore(dir, db, next_seq)?;
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::{Channel, DEFAULT_CACHE_BYTES, UserKey, WriteBatch};

    #[tokio::test]
    async fn a_backup_restores_into_an_empty_folder_and_a_damaged_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("a"), DEFAULT_CACHE_BYTES).unwrap();
        let user = UserKey::new(Channel::Telegram, "5");
        let mut batch = WriteBatch::default();
        batch
            .put_session(&user, &crate::dialog::Session::default())
            .unwrap();
        batch.mark_seen(Channel::Telegram, "u1", 3);
        store.apply(batch).unwrap();
        crate::storage::agencies::AgencyStore::open(&store)
            .unwrap()
            .write_snapshot(9, &"meta", &[1u8, 2])
            .unwrap();
        let seq = store.next_seq().unwrap();
        let file = tmp.path().join("pandu.backup");
        let copied = store.backup(&file).unwrap();
        assert!(copied.records >= 4, "{copied:?}");

        let restored_dir = tmp.path().join("b");
        let restored = Store::restore(&restored_dir, &file, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(restored.records, copied.records);
        let back = Store::open(&restored_dir, DEFAULT_CACHE_BYTES).unwrap();
        assert!(back.session(&user).unwrap().is_some());
        assert!(back.seen(Channel::Telegram, "u1").unwrap());
        assert!(back.next_seq().unwrap() > seq);
        let agencies = crate::storage::agencies::AgencyStore::open(&back).unwrap();
        assert_eq!(agencies.snapshot_ids().unwrap(), vec![9]);

        // Not into a folder in use, and not from a damaged file.
        drop((agencies, back));
        let err = Store::restore(&restored_dir, &file, DEFAULT_CACHE_BYTES).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Backup {
                    problem: BackupProblem::NotEmpty(_),
                    ..
                }
            ),
            "{err}"
        );
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&file, &bytes).unwrap();
        let err = Store::restore(&tmp.path().join("c"), &file, DEFAULT_CACHE_BYTES).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Backup {
                    problem: BackupProblem::Damaged,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!tmp.path().join("c").join("CURRENT").exists());
    }
}
