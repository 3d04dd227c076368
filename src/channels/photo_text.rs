//! A photo or screenshot of a job offer, sent where the conversation waits for the offer's text (a
//! dialog node with `photo:`): after the photo's commit the channel's download worker fetches it, runs
//! OCR ([`crate::offer::ocr`]) on a blocking thread within its time and size limits, and hands the text
//! to the engine as one more inbound message of the same user, [`InputKind::ImageText`] with the id
//! `ocr:<reference>`. The engine's dedupe record makes a second hand-in (a replay) a no-op, and the
//! step uses the text only while the session still waits for that photo ([`PHOTO_PENDING`]).
//! Whatever goes wrong (OCR turned off or missing, a timeout, no text, a failed download, a full
//! queue) is handed in as "nothing read", which the step answers with "please type or paste it".
//!
//! Invariants: the engine stays the only writer (the text goes through `handle_batch` like any
//! message); the recognised text is never logged; an image fetched only to be read is deleted once
//! read (it belongs to no case); OCR never runs on the async runtime's threads.

use std::path::PathBuf;

use crate::dialog::io::PHOTO_PENDING;
use crate::dialog::{Input, InputKind};
use crate::engine::{Engine, Inbound};
use crate::offer::ocr::{Ocr, OcrError};
use crate::storage::{Channel, Store, UserKey};

/// The message id the text read from a photo is handed in with, for the engine's dedupe.
pub fn message_id(reference: &str) -> String {
    format!("ocr:{reference}")
}

/// Whether `user`'s committed session waits for the text of the photo `reference`.
pub fn awaited(store: &Store, user: &UserKey, reference: &str) -> bool {
    store
        .session(user)
        .ok()
        .flatten()
        .is_some_and(|s| s.vars.get(PHOTO_PENDING).map(String::as_str) == Some(reference))
}

/// A photo still awaited this long after the conversation's last message is read again after a
/// restart; an older one is left (the user has long been told the photo is being read, and any word
/// from them clears it).
pub const RESUME_WITHIN_SECS: u64 = 3600;

/// The photos whose reading a stop or crash interrupted (the photo was committed, its text not yet):
/// `(user, reference)` of the channel's sessions that still wait, seen within
/// [`RESUME_WITHIN_SECS`]. The download worker reads them first when it starts; a reading that had
/// been committed is not among them (its commit cleared the wait), so nothing is answered twice.
pub fn left_waiting(store: &Store, channel: Channel) -> Vec<(UserKey, String)> {
    let since = crate::time::now_secs().saturating_sub(RESUME_WITHIN_SECS);
    match store.sessions_with_var(channel, PHOTO_PENDING, since) {
        Ok(waiting) => {
            if !waiting.is_empty() {
                tracing::info!(
                    count = waiting.len(),
                    channel = channel.as_str(),
                    "photos whose reading was interrupted are read again"
                );
            }
            waiting
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look for photos waiting to be read");
            Vec::new()
        }
    }
}

/// A downloaded image to read, and whether to delete it afterwards.
pub struct Image {
    pub path: PathBuf,
    /// Fetched only to be read (no case keeps it): removed once read.
    pub remove_after: bool,
}

/// A photo whose text is awaited but that could not even be queued for download (the queue was
/// full): the person still gets an answer ("please type it"), handed in from a task of its own.
pub fn hand_in_unread(engine: &Engine, ocr: &Ocr, user: UserKey, reference: String) {
    let (engine, ocr) = (engine.clone(), ocr.clone());
    tokio::spawn(async move { read_and_hand_in(&engine, &ocr, user, &reference, None).await });
}

/// Reads `image` (if any) on a blocking thread and hands the text, or "nothing read", to the engine
/// for `user` as message `ocr:<reference>`. Returns once that is committed (or failed to be).
pub async fn read_and_hand_in(
    engine: &Engine,
    ocr: &Ocr,
    user: UserKey,
    reference: &str,
    image: Option<Image>,
) {
    let text = match image {
        Some(image) => read(ocr, image).await,
        None => None,
    };
    let inbound = Inbound {
        user,
        message_id: message_id(reference),
        input: Input {
            kind: InputKind::ImageText {
                reference: reference.to_string(),
                text,
            },
            at: crate::time::now_secs(),
        },
        lang_hint: None,
    };
    if let Err(e) = engine.handle_batch(vec![inbound], Vec::new()).await {
        tracing::error!(error = %e, "the text read from a photo was not committed");
    }
}

async fn read(ocr: &Ocr, image: Image) -> Option<String> {
    let reader = ocr.clone();
    let path = image.path.clone();
    let result = tokio::task::spawn_blocking(move || reader.read(&path)).await;
    if image.remove_after
        && let Err(e) = tokio::fs::remove_file(&image.path).await
    {
        tracing::warn!(error = %e, "cannot remove a photo read for its text");
    }
    match result {
        Ok(Ok(text)) if text.chars().any(char::is_alphanumeric) => {
            tracing::info!(chars = text.chars().count(), "text read from a photo");
            Some(text)
        }
        Ok(Ok(_)) => {
            tracing::info!("no text found in a photo");
            None
        }
        Ok(Err(e @ (OcrError::Off | OcrError::Missing(_)))) => {
            tracing::info!(error = %e, "a photo was not read: no OCR here");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "a photo could not be read");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the OCR thread failed");
            None
        }
    }
}
