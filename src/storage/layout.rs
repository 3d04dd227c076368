//! The database folder on disk: which sled database is live, its storage format, and how it is
//! replaced whole (after a purge, on migration, on restore).
//!
//! ```text
//! <data_dir>/db/LOCK            held (flock) by the one process that has the folder open
//! <data_dir>/db/CURRENT         the name of the live generation, e.g. "gen-0000000002"
//! <data_dir>/db/gen-0000000002/ a sled database (conf, db, snap.*, blobs/)
//! ```
//!
//! Format 1 (before this module): sled directly in `<data_dir>/db`, no version. Format 2: the layout
//! above; the default tree of every generation holds `pandu.format` (the format) and `pandu.seq_base`
//! (added to sled's id generator, so sequence numbers keep growing across generations).
//!
//! Why generations: sled is a log; a removed record's old bytes stay in its log segments until sled
//! happens to reuse them (we measured 17 old copies of one session in a 20-message folder). The only
//! way to be sure a purged report is gone from the disk is to copy the live records into a fresh
//! database and wipe the old one. [`rewrite`] does that under the store's exclusive gate: nothing
//! reads or writes meanwhile, so nothing is lost to the swap.
//!
//! Crash safety: `CURRENT` is replaced atomically (write, fsync, rename, fsync the folder) only after
//! the new generation is complete and flushed. Whatever is not named by `CURRENT` at open is a leftover
//! (an interrupted rewrite, a generation being wiped, format-1 files already migrated) and is wiped.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// The storage format this Pandu writes, and the newest it reads.
pub const FORMAT: u32 = 2;
const FORMAT_KEY: &[u8] = b"pandu.format";
const SEQ_BASE_KEY: &[u8] = b"pandu.seq_base";
const DEFAULT_TREE: &[u8] = b"__sled__default";
/// Format-1 files (sled directly in the folder).
const LEGACY: [&str; 3] = ["conf", "db", "blobs"];

/// The live sled database of a store.
#[derive(Clone)]
pub struct Live {
    pub(crate) db: sled::Db,
    pub(crate) kernel: sled::Tree,
    pub(crate) agencies: sled::Tree,
    /// Added to sled's id generator (which starts again at 0 in a new generation).
    seq_base: u64,
    generation: u64,
}

impl Live {
    fn new(db: sled::Db, generation: u64) -> Result<Live> {
        let kernel = db.open_tree("kernel")?;
        let agencies = db.open_tree(super::agencies::TREE)?;
        let seq_base = read_u64(db.get(SEQ_BASE_KEY)?).unwrap_or(0);
        Ok(Live {
            db,
            kernel,
            agencies,
            seq_base,
            generation,
        })
    }

    pub(crate) fn next_seq(&self) -> Result<u64> {
        Ok(self.next_seq_raw()?)
    }

    pub(crate) fn next_seq_raw(&self) -> sled::Result<u64> {
        Ok(self.seq_base.saturating_add(self.db.generate_id()?))
    }
}

fn read_u64(value: Option<sled::IVec>) -> Option<u64> {
    let bytes = <[u8; 8]>::try_from(value?.as_ref()).ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn read_format(db: &sled::Db) -> Result<Option<u32>> {
    Ok(db
        .get(FORMAT_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok().map(u32::from_be_bytes)))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::File {
        path: path.display().to_string(),
        source,
    }
}

fn generation_name(generation: u64) -> String {
    format!("gen-{generation:010}")
}

fn parse_generation(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.parse().ok()
}

fn sled_config(path: &Path, cache_bytes: u64) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        // We flush explicitly before every acknowledgement; the background flush only bounds the
        // work left for the next explicit flush.
        .flush_every_ms(Some(1000))
}

/// Creates a folder readable by the owner only.
fn create_private_dir(path: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|e| io_error(path, e))
}

fn private_file(path: &Path) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let _ = path;
    options
}

/// Takes the folder's lock, or fails at once with a lock error (see `storage::is_lock_error`).
pub(crate) fn lock(dir: &Path) -> Result<File> {
    create_private_dir(dir)?;
    let path = dir.join("LOCK");
    let file = private_file(&path)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Db(sled::Error::Io(
            std::io::Error::new(std::io::ErrorKind::WouldBlock, "could not acquire lock"),
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path, e)),
    }
}

fn read_current(dir: &Path) -> Result<Option<u64>> {
    let path = dir.join("CURRENT");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(parse_generation(text.trim())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path, e)),
    }
}

/// Points `CURRENT` at `generation`, atomically and durably.
fn write_current(dir: &Path, generation: u64) -> Result<()> {
    let tmp = dir.join("CURRENT.tmp");
    let mut file = private_file(&tmp)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| io_error(&tmp, e))?;
    writeln!(file, "{}", generation_name(generation)).map_err(|e| io_error(&tmp, e))?;
    file.sync_all().map_err(|e| io_error(&tmp, e))?;
    let path = dir.join("CURRENT");
    fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// Opens the live generation of `dir` (the lock is already held): migrates format 1, creates a new
/// database in an empty folder, refuses a newer format, and wipes leftovers.
pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Live> {
    let Some(generation) = read_current(dir)? else {
        wipe_generations(dir, None);
        let live = if dir.join("conf").exists() {
            migrate_legacy(dir, cache_bytes)?
        } else {
            let path = dir.join(generation_name(1));
            create_private_dir(&path)?;
            let db = sled_config(&path, cache_bytes).open()?;
            db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
            db.flush()?;
            write_current(dir, 1)?;
            Live::new(db, 1)?
        };
        wipe_legacy(dir);
        return Ok(live);
    };
    // A migration that finished, or a rewrite interrupted after its switch, left these behind.
    wipe_legacy(dir);
    wipe_generations(dir, Some(generation));
    let path = dir.join(generation_name(generation));
    let db = sled_config(&path, cache_bytes).open()?;
    match read_format(&db)? {
        Some(found) if found > FORMAT => {
            return Err(Error::NewerFormat {
                dir: dir.display().to_string(),
                found,
                supported: FORMAT,
            });
        }
        // Format 2 is the first with generations; later formats migrate here, in order.
        Some(_) => {}
        None => {
            db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
        }
    }
    Live::new(db, generation)
}

/// Format 1 → 2: copies the folder's sled database into generation 1 and switches to it; the caller
/// wipes the old files.
fn migrate_legacy(dir: &Path, cache_bytes: u64) -> Result<Live> {
    let old = sled_config(dir, cache_bytes).open()?;
    if let Some(found) = read_format(&old)?
        && found > FORMAT
    {
        return Err(Error::NewerFormat {
            dir: dir.display().to_string(),
            found,
            supported: FORMAT,
        });
    }
    let old = Live::new(old, 0)?;
    let new = copy_into(&old, &dir.join(generation_name(1)), cache_bytes)?;
    let records = old.kernel.len();
    drop(old);
    write_current(dir, 1)?;
    tracing::info!(records, "data folder migrated to storage format {FORMAT}");
    Live::new(new, 1)
}

/// Copies every tree of `from` into a new database at `path` (which must not exist or be empty),
/// with the format and a sequence base above every number `from` gave, and flushes it.
fn copy_into(from: &Live, path: &Path, cache_bytes: u64) -> Result<sled::Db> {
    if path.exists() {
        wipe(path);
    }
    create_private_dir(path)?;
    let to = sled_config(path, cache_bytes).open()?;
    for name in from.db.tree_names() {
        let source = from.db.open_tree(&name)?;
        let target = if name.as_ref() == DEFAULT_TREE {
            (*to).clone()
        } else {
            to.open_tree(&name)?
        };
        let mut batch = sled::Batch::default();
        let mut n = 0usize;
        for item in source.iter() {
            let (k, v) = item?;
            if name.as_ref() == DEFAULT_TREE && (k == FORMAT_KEY || k == SEQ_BASE_KEY) {
                continue;
            }
            batch.insert(k, v);
            n += 1;
            if n.is_multiple_of(10_000) {
                target.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        target.apply_batch(batch)?;
    }
    let base = from.next_seq()?.saturating_add(1);
    to.insert(SEQ_BASE_KEY, &base.to_be_bytes())?;
    to.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
    to.flush()?;
    Ok(to)
}

/// Replaces the live database with a fresh copy of its records (the caller holds the exclusive
/// gate). Returns the old generation's folder, to be wiped once sled let go of it ([`retire`]).
pub(crate) fn rewrite(dir: &Path, cache_bytes: u64, live: &mut Live) -> Result<PathBuf> {
    let generation = live.generation + 1;
    let db = copy_into(live, &dir.join(generation_name(generation)), cache_bytes)?;
    write_current(dir, generation)?;
    let old = std::mem::replace(live, Live::new(db, generation)?);
    let path = dir.join(generation_name(old.generation));
    drop(old);
    Ok(path)
}

/// Overwrites and removes an old generation once sled's threads have closed it (they hold its file
/// lock until then; we wait up to 10 s and wipe anyway).
pub(crate) fn retire(path: PathBuf) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        if let Ok(file) = File::open(path.join("db")) {
            while file.try_lock().is_err() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        wipe(&path);
    })
}

/// Overwrites every file under `path` with zeros, then removes it. Best effort: on a copy-on-write
/// file system or a flash disk the old blocks may survive below the file system (use disk encryption).
fn wipe(path: &Path) {
    zero_files(path);
    if let Err(e) = fs::remove_dir_all(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove an old database copy");
    }
}

fn zero_files(path: &Path) {
    let Ok(entries) = fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            zero_files(&p);
        } else {
            zero_file(&p);
        }
    }
}

fn zero_file(path: &Path) {
    let Ok(mut file) = OpenOptions::new().write(true).open(path) else {
        return;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return;
    };
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if file.write_all(&zeros[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = file.sync_all();
}

/// Wipes every generation folder but `keep`.
fn wipe_generations(dir: &Path, keep: Option<u64>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(generation) = name.to_str().and_then(parse_generation) else {
            continue;
        };
        if Some(generation) != keep {
            wipe(&entry.path());
        }
    }
}

/// Wipes format-1 files left in the folder after their migration.
fn wipe_legacy(dir: &Path) {
    for name in LEGACY {
        let path = dir.join(name);
        if path.is_dir() {
            wipe(&path);
        } else if path.exists() {
            zero_file(&path);
            let _ = fs::remove_file(&path);
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("snap.") {
                zero_file(&entry.path());
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Opens a database at `path` for a restore: a new generation 1 in an empty folder.
pub(crate) fn create_for_restore(dir: &Path, cache_bytes: u64) -> Result<(sled::Db, PathBuf)> {
    create_private_dir(dir)?;
    let mut busy = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "LOCK" {
                busy.push(name);
            }
        }
    }
    if !busy.is_empty() {
        return Err(Error::Backup {
            file: dir.display().to_string(),
            problem: super::BackupProblem::NotEmpty(busy),
        });
    }
    let path = dir.join(generation_name(1));
    let db = sled_config(&path, cache_bytes).open()?;
    Ok((db, path))
}

/// Finishes a restore: records the format and sequence base, flushes, and makes it current.
pub(crate) fn finish_restore(dir: &Path, db: sled::Db, seq_base: u64) -> Result<()> {
    db.insert(SEQ_BASE_KEY, &seq_base.to_be_bytes())?;
    db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
    db.flush()?;
    drop(db);
    write_current(dir, 1)
}

/// The default tree's name, for a backup (whose records skip the layout's own keys).
pub(crate) fn is_layout_key(tree: &[u8], key: &[u8]) -> bool {
    tree == DEFAULT_TREE && (key == FORMAT_KEY || key == SEQ_BASE_KEY)
}

pub(crate) fn default_tree_name() -> &'static [u8] {
    DEFAULT_TREE
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::{Channel, DEFAULT_CACHE_BYTES, Store, UserKey, WriteBatch, key};

    /// Every file under `dir` that contains `needle`.
    pub(crate) fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = fs::read(&p)
                    && bytes.windows(needle.len()).any(|w| w == needle)
                {
                    found.push(p);
                }
            }
        }
        found
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                copy_dir(&p, &to.join(entry.file_name()));
            } else {
                fs::copy(&p, to.join(entry.file_name())).unwrap();
            }
        }
    }

    #[test]
    fn a_folder_of_the_first_release_is_migrated_and_keeps_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/storage_v1/db");
        copy_dir(&fixture, &dir);
        let user = UserKey::new(Channel::Console, "fixture");
        {
            let store = Store::open(&dir, DEFAULT_CACHE_BYTES).unwrap();
            assert_eq!(store.case_codes().unwrap(), vec!["PKL-6QP6GS"]);
            let case = store.case_record("PKL-6QP6GS").unwrap().unwrap();
            assert_eq!(case.fields["nama_pelapor"], "Nama Contoh");
            assert!(store.session(&user).unwrap().is_some());
            let delivered = store.deliveries(Channel::Console).unwrap();
            assert!(delivered.len() > 10, "{}", delivered.len());
            // Numbers go on growing: a new outbox entry sorts after every old one.
            let newest = delivered.iter().map(|r| r.entry.seq).max().unwrap();
            assert!(store.next_seq().unwrap() > newest);
        }
        assert!(dir.join("CURRENT").exists());
        assert!(!dir.join("conf").exists(), "the format-1 files are gone");
        assert!(!dir.join("db").exists());
        // And it opens again as format 2, without migrating twice.
        let store = Store::open(&dir, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(store.case_codes().unwrap(), vec!["PKL-6QP6GS"]);
        assert_eq!(
            read_format(&store.handles().unwrap().db).unwrap(),
            Some(FORMAT)
        );
    }

    #[test]
    fn a_folder_of_a_newer_pandu_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = Store::open(tmp.path(), DEFAULT_CACHE_BYTES).unwrap();
            store
                .handles()
                .unwrap()
                .db
                .insert(FORMAT_KEY, &(FORMAT + 1).to_be_bytes())
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let err = Store::open(tmp.path(), DEFAULT_CACHE_BYTES).err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, Error::NewerFormat { found, .. } if found == FORMAT + 1));
        assert!(text.contains("newer Pandu"), "{text}");
        assert!(text.contains(&format!("format {}", FORMAT + 1)), "{text}");
        // Nothing was changed: it is still refused.
        assert!(Store::open(tmp.path(), DEFAULT_CACHE_BYTES).is_err());
    }

    #[tokio::test]
    async fn a_rewrite_keeps_every_record_and_leaves_no_removed_bytes_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), DEFAULT_CACHE_BYTES).unwrap();
        let gone = UserKey::new(Channel::Whatsapp, "6289911112222");
        let kept = UserKey::new(Channel::Whatsapp, "6289933334444");
        for user in [&gone, &kept] {
            let mut batch = WriteBatch::default();
            batch
                .put_session(user, &crate::dialog::Session::default())
                .unwrap();
            store.apply(batch).unwrap();
        }
        let before = store.next_seq().unwrap();
        store.flush().await.unwrap();
        store
            .handles()
            .unwrap()
            .kernel
            .remove(key::session(&gone))
            .unwrap();
        store.flush().await.unwrap();
        assert!(
            !files_containing(tmp.path(), b"6289911112222").is_empty(),
            "sled keeps a removed record's bytes in its log"
        );
        store.rewrite().unwrap();
        store.wait_retired();
        store.flush().await.unwrap();
        assert_eq!(
            files_containing(tmp.path(), b"6289911112222"),
            Vec::<PathBuf>::new()
        );
        assert!(store.session(&kept).unwrap().is_some());
        assert!(store.session(&gone).unwrap().is_none());
        assert!(store.next_seq().unwrap() > before);
        drop(store);
        let store = Store::open(tmp.path(), DEFAULT_CACHE_BYTES).unwrap();
        assert!(store.session(&kept).unwrap().is_some());
        assert!(store.next_seq().unwrap() > before);
    }
}
