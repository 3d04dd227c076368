//! Downloads a Telegram attachment (by `file_id`) into the data folder, with a size cap.
//!
//! Invariants: never writes more than `max_bytes` (the size Telegram announces is checked first, and the
//! bytes actually received are counted, so a lying size cannot fill the disk); a refused or failed
//! download leaves no file behind; the download URL (it holds the bot token) is never logged or returned
//! in an error.

use std::path::{Path, PathBuf};

use teloxide::Bot;
use teloxide::prelude::Requester;
use teloxide::types::FileId;
use tokio::io::AsyncWriteExt;

use super::{Inner, describe_error, file_meta_key};
use crate::channels::Shutdown;
use crate::storage::WriteBatch;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("telegram getFile failed: {0}")]
    GetFile(String),
    #[error("file is {size} bytes, more than the {max} allowed")]
    TooLarge { size: u64, max: u64 },
    #[error("download failed: {0}")]
    Download(String),
    #[error("cannot save the file: {0}")]
    Io(#[from] std::io::Error),
}

/// A file name made only of safe characters.
fn safe_name(text: &str) -> String {
    let name: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(80)
        .collect();
    if name.is_empty() { "file".into() } else { name }
}

fn extension(path: &str) -> String {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(safe_name)
        .filter(|e| e.len() <= 8)
        .unwrap_or_else(|| "bin".into())
}

/// `getFile`, then the download into `dir` (created if needed). Returns the saved path.
pub async fn download_file(
    bot: &Bot,
    file_id: &str,
    dir: &Path,
    max_bytes: u64,
) -> Result<PathBuf, FileError> {
    let file = bot
        .get_file(FileId(file_id.to_string()))
        .await
        .map_err(|e| FileError::GetFile(describe_error(&e)))?;
    let announced = u64::from(file.meta.size);
    if announced > max_bytes {
        return Err(FileError::TooLarge {
            size: announced,
            max: max_bytes,
        });
    }
    let mut url = bot.api_url();
    {
        let Ok(mut segments) = url.path_segments_mut() else {
            return Err(FileError::Download("api url cannot hold a path".into()));
        };
        segments
            .pop_if_empty()
            .push("file")
            .push(&format!("bot{}", bot.token()));
        for segment in file.path.split('/') {
            segments.push(segment);
        }
    }
    let mut response = bot
        .client()
        .get(url)
        .send()
        .await
        .map_err(|e| FileError::Download(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(FileError::Download(format!("http {}", response.status())));
    }
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(FileError::TooLarge {
            size: response.content_length().unwrap_or(0),
            max: max_bytes,
        });
    }
    tokio::fs::create_dir_all(dir).await?;
    let name = format!(
        "{}.{}",
        safe_name(&file.meta.unique_id.0),
        extension(&file.path)
    );
    let target = dir.join(&name);
    let partial = dir.join(format!("{name}.part"));
    let result = async {
        let mut out = tokio::fs::File::create(&partial).await?;
        let mut written: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FileError::Download(e.without_url().to_string()))?
        {
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(FileError::TooLarge {
                    size: written,
                    max: max_bytes,
                });
            }
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tokio::fs::rename(&partial, &target).await?;
            Ok(target)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

/// One file to fetch: an attachment a question accepted, or a photo whose text `read_for`'s
/// conversation waits for.
#[derive(Debug)]
pub(crate) struct Job {
    pub file_id: String,
    pub read_for: Option<crate::storage::UserKey>,
}

/// Downloads accepted attachments one at a time into `<data_dir>/telegram_files/` and records where each
/// was saved (meta `telegram.file.<file_id>`). A file already recorded is not fetched again; a failure is
/// logged (without the URL) and the `file_id` stays in the session (Telegram keeps files for a long time).
/// A photo to read is fetched (unless OCR is off here), read with OCR and deleted, and its text handed
/// in to the engine (`channels::photo_text`); the user gets an answer whatever fails.
pub(crate) async fn download_worker(
    inner: std::sync::Arc<Inner>,
    mut rx: tokio::sync::mpsc::Receiver<Job>,
    mut shutdown: Shutdown,
) {
    // Photos whose reading a stop or crash interrupted come first.
    let waiting = crate::channels::photo_text::left_waiting(
        inner.engine.store(),
        crate::storage::Channel::Telegram,
    );
    for (user, file_id) in waiting {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = read_photo(&inner, user, &file_id) => {}
        }
    }
    loop {
        if *shutdown.borrow() {
            break;
        }
        let job = tokio::select! {
            changed = shutdown.changed() => if changed.is_err() { break } else { continue },
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        let file_id = job.file_id;
        if let Some(user) = job.read_for {
            let read = read_photo(&inner, user, &file_id);
            tokio::select! {
                _ = shutdown.changed() => break,
                () = read => {}
            }
            continue;
        }
        let store = inner.engine.store();
        let key = file_meta_key(&file_id);
        if matches!(store.meta(&key), Ok(Some(_))) {
            continue;
        }
        let download = download_file(
            &inner.bot,
            &file_id,
            &inner.files_dir,
            inner.max_download_bytes,
        );
        let result = tokio::select! {
            _ = shutdown.changed() => break,
            result = download => result,
        };
        match result {
            Ok(path) => {
                let mut batch = WriteBatch::default();
                batch.put_meta(&key, path.to_string_lossy().into_owned().into_bytes());
                match store.apply(batch) {
                    Ok(()) => tracing::info!("telegram attachment saved"),
                    Err(e) => tracing::error!(error = %e, "cannot record a telegram download"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "telegram attachment not downloaded; its file_id is kept")
            }
        }
    }
}

/// Fetches a photo whose text the conversation waits for (into the files folder, removed once read;
/// one already saved for a report is read where it is) and hands in what OCR reads from it.
async fn read_photo(inner: &Inner, user: crate::storage::UserKey, file_id: &str) {
    use crate::channels::photo_text::{Image, read_and_hand_in};
    let image = if !inner.ocr.available() {
        None
    } else if let Ok(Some(saved)) = inner.engine.store().meta(&file_meta_key(file_id)) {
        Some(Image {
            path: PathBuf::from(String::from_utf8_lossy(&saved).into_owned()),
            remove_after: false,
        })
    } else {
        match download_file(
            &inner.bot,
            file_id,
            &inner.files_dir,
            inner.max_download_bytes,
        )
        .await
        {
            Ok(path) => Some(Image {
                path,
                remove_after: true,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "telegram photo to read not downloaded");
                None
            }
        }
    };
    read_and_hand_in(&inner.engine, &inner.ocr, user, file_id, image).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe() {
        assert_eq!(safe_name("../../etc/passwd"), "etcpasswd");
        assert_eq!(safe_name(""), "file");
        assert_eq!(extension("photos/file_1.jpg"), "jpg");
        assert_eq!(extension("voice/file_2"), "bin");
    }
}
