//! Downloads media users send (photos, voice notes, documents, videos) into the data folder:
//! `GET /{version}/{media-id}` gives a short-lived URL, which is fetched with the same bearer token.
//!
//! Invariants: never writes more than the configured cap (the download is aborted and the partial file
//! removed); a file appears under its final name only when complete (written to a temporary name, then
//! renamed); the media id is checked before it becomes part of a URL or a file name; the URL is never
//! logged (it grants access to the file).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::api::{GraphApi, SendError};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media id {0:?} is not a valid id")]
    BadId(String),
    #[error("media is {size} bytes, more than the {max} allowed")]
    TooLarge { size: u64, max: u64 },
    #[error("graph api: {0}")]
    Api(#[from] SendError),
    #[error("media url is not http(s)")]
    BadUrl,
    #[error("downloaded file does not match its sha256")]
    Checksum,
    #[error("cannot write the file: {0}")]
    Io(#[from] std::io::Error),
}

/// A file saved in the data folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub mime: Option<String>,
    pub bytes: u64,
}

/// Downloads `media_id` into `dir` (created if needed), at most `max_bytes`.
pub async fn download(
    api: &GraphApi,
    media_id: &str,
    max_bytes: u64,
    dir: &Path,
) -> Result<Downloaded, MediaError> {
    if media_id.is_empty()
        || media_id.len() > 128
        || !media_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(MediaError::BadId(media_id.to_string()));
    }
    let info = api.media_info(media_id).await?;
    if let Some(size) = info.size()
        && size > max_bytes
    {
        return Err(MediaError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    if !(info.url.starts_with("https://") || info.url.starts_with("http://")) {
        return Err(MediaError::BadUrl);
    }
    let mut response = api.fetch(&info.url).await?;
    if let Some(size) = response.content_length()
        && size > max_bytes
    {
        return Err(MediaError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    tokio::fs::create_dir_all(dir).await?;
    let ext = extension(info.mime_type.as_deref());
    let path = dir.join(format!("{media_id}.{ext}"));
    let partial = dir.join(format!("{media_id}.{ext}.part"));
    let mut file = tokio::fs::File::create(&partial).await?;
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let result: Result<(), MediaError> = async {
        loop {
            let chunk = response.chunk().await.map_err(|e| {
                MediaError::Api(SendError::Transient {
                    reason: format!("network: {}", e.without_url()),
                    retry_after: None,
                    code: 0,
                })
            })?;
            let Some(chunk) = chunk else { break };
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(MediaError::TooLarge {
                    size: written,
                    max: max_bytes,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    // Meta gives the hash as hex; anything else (a base64 hash from a webhook) is not checked.
    if let Some(expected) = info.sha256.as_deref()
        && expected.len() == 64
        && expected.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let actual = hex(&hasher.finalize());
        if !actual.eq_ignore_ascii_case(expected) {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(MediaError::Checksum);
        }
    }
    tokio::fs::rename(&partial, &path).await?;
    Ok(Downloaded {
        path,
        mime: info.mime_type,
        bytes: written,
    })
}

fn extension(mime: Option<&str>) -> &'static str {
    let mime = mime.unwrap_or("").split(';').next().unwrap_or("").trim();
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/amr" => "amr",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        _ => "bin",
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
