//! The long-polling loop: `getUpdates` → convert → one engine commit per batch, holding the next offset
//! → answer callbacks and staff commands.
//!
//! Invariants:
//! - The offset sent to Telegram (which confirms every earlier update) only ever comes from the store,
//!   where it was written in the same atomic commit as the effects of the updates it confirms. A crash at
//!   any point therefore loses nothing: unconfirmed updates come again and the engine's dedupe (by
//!   update id) handles each once.
//! - An update the bot cannot use (unknown kind, unparsable) is skipped by id and never stalls the loop,
//!   even when teloxide cannot parse the batch that holds it.
//! - Failures back off with a bounded sleep; shutdown interrupts any wait.

use std::time::Duration;

use serde_json::Value;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::Update;

use super::convert::{Action, Converted, convert};
use super::{ALLOWED_UPDATES, Inner, OFFSET_META, commit, describe_error};
use crate::channels::Shutdown;
use crate::time::now_secs;

/// One element of a `getUpdates` answer.
#[derive(Debug)]
pub(crate) enum Item {
    Parsed(Box<Update>),
    /// An element teloxide could not read at all; its id, when it has one.
    Broken(Option<u32>),
}

/// Reads a batch teloxide refused as a whole, element by element.
pub(crate) fn salvage(raw: &str) -> Option<Vec<Item>> {
    let value: Value = serde_json::from_str(raw).ok()?;
    if value.get("ok").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let list = value.get("result")?.as_array()?;
    Some(
        list.iter()
            // From text: teloxide's update parser needs borrowed keys, which a `Value` cannot lend.
            .map(
                |element| match serde_json::from_str::<Update>(&element.to_string()) {
                    Ok(update) => Item::Parsed(Box::new(update)),
                    Err(_) => {
                        let id = element.get("update_id").and_then(|v| {
                            v.as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                        });
                        Item::Broken(id.and_then(|id| u32::try_from(id).ok()))
                    }
                },
            )
            .collect(),
    )
}

fn read_offset(inner: &Inner) -> i32 {
    match inner.engine.store().meta(OFFSET_META) {
        Ok(Some(bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        Ok(None) => 0,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the telegram offset; starting from telegram's");
            0
        }
    }
}

/// Sleeps, unless shutdown comes first; `false` on shutdown.
async fn pause(shutdown: &mut Shutdown, duration: Duration) -> bool {
    tokio::select! {
        changed = shutdown.changed() => changed.is_ok() && !*shutdown.borrow(),
        () = tokio::time::sleep(duration) => true,
    }
}

fn failure_pause(failures: u32) -> Duration {
    Duration::from_millis((250u64 << failures.min(7)).min(30_000))
}

pub(crate) async fn run(inner: std::sync::Arc<Inner>, mut shutdown: Shutdown) {
    // A webhook left from an earlier run makes getUpdates fail; polling mode removes it.
    if let Err(e) = inner.poll_bot.delete_webhook().await {
        tracing::warn!(error = %describe_error(&e), "telegram deleteWebhook failed");
    }
    let mut offset = read_offset(&inner);
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let request = inner
            .poll_bot
            .get_updates()
            .offset(offset)
            .timeout(inner.settings.poll_timeout_secs)
            .limit(inner.settings.poll_limit)
            .allowed_updates(ALLOWED_UPDATES);
        let result = tokio::select! {
            result = request => result,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
        };
        let items: Vec<Item> = match result {
            Ok(updates) => updates
                .into_iter()
                .map(|u| Item::Parsed(Box::new(u)))
                .collect(),
            Err(RequestError::InvalidJson { raw, .. }) => match salvage(&raw) {
                Some(items) => {
                    tracing::warn!("telegram batch unreadable as a whole; read update by update");
                    items
                }
                None => {
                    failures += 1;
                    tracing::error!("unreadable getUpdates answer");
                    if !pause(&mut shutdown, failure_pause(failures)).await {
                        break;
                    }
                    continue;
                }
            },
            Err(RequestError::RetryAfter(seconds)) => {
                let wait = Duration::from_secs(u64::from(seconds.seconds()).max(1));
                if !pause(&mut shutdown, wait).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %describe_error(&e), failures, "telegram getUpdates failed");
                if !pause(&mut shutdown, failure_pause(failures)).await {
                    break;
                }
                continue;
            }
        };
        failures = 0;
        if items.is_empty() {
            continue;
        }
        let now = now_secs();
        let mut next = offset;
        let mut converted = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Parsed(update) => {
                    next = next.max(update.id.as_offset());
                    converted.push(convert(&update, inner.settings.staff_chat_id, now));
                }
                Item::Broken(Some(id)) => {
                    next = next.max(i32::try_from(id).unwrap_or(i32::MAX - 1) + 1);
                    converted.push(Converted {
                        update_id: id,
                        callback: None,
                        pressed: None,
                        action: Action::Skip("unparsable"),
                    });
                }
                Item::Broken(None) => {
                    tracing::error!("telegram update without a readable id skipped");
                }
            }
        }
        if converted.is_empty() {
            // Nothing we can confirm (only updates without an id): wait rather than spin.
            if !pause(&mut shutdown, Duration::from_secs(1)).await {
                break;
            }
            continue;
        }
        // Updates below the offset (a redelivery) are still handed in: the engine dedupes them.
        let meta = if next > offset {
            vec![(OFFSET_META.to_string(), next.to_string().into_bytes())]
        } else {
            Vec::new()
        };
        let count = converted.len();
        match commit(&inner, converted, meta).await {
            Ok(()) => {
                tracing::debug!(updates = count, offset = next, "telegram batch committed");
                offset = next;
            }
            Err(e) => {
                // Nothing confirmed: the same updates come again.
                failures += 1;
                tracing::error!(error = %e, "telegram batch not committed; will fetch it again");
                if !pause(&mut shutdown, failure_pause(failures)).await {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_batch_teloxide_refuses_is_read_update_by_update() {
        let raw = r#"{"ok":true,"result":[
            {"update_id":5,"message":{"message_id":1,"date":1,"chat":{"id":9,"type":"private"},"text":"a"}},
            {"update_id":"6","message":{"message_id":2,"date":1,"chat":{"id":9,"type":"private"},"text":"b"}},
            "garbage",
            {"update_id":7,"message":{"message_id":3,"date":1,"chat":{"id":9,"type":"private"},"text":"c"}}
        ]}"#;
        let items = salvage(raw).unwrap();
        assert_eq!(items.len(), 4);
        assert!(
            matches!(&items[0], Item::Parsed(u) if u.id.0 == 5 && matches!(u.kind, teloxide::types::UpdateKind::Message(_)))
        );
        assert!(matches!(items[1], Item::Broken(Some(6))));
        assert!(matches!(items[2], Item::Broken(None)));
        assert!(matches!(&items[3], Item::Parsed(u) if u.id.0 == 7));
        assert!(salvage(r#"{"ok":false,"description":"x"}"#).is_none());
        assert!(salvage("<html>").is_none());
    }
}
