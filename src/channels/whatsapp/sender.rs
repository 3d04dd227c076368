//! The WhatsApp outbox worker: sends what the engine queued, durably and in per-user order.
//!
//! Each pass reads the pending WhatsApp entries (oldest first), groups them by user, and sends each
//! user's entries in order, several users at once. A user's entry that cannot go out yet (backoff,
//! `retry_after`, a held message) blocks that user's later entries, so nothing overtakes. The worker
//! wakes on the engine's outbox signal, when a backoff ends, and on a timer.
//!
//! Outcomes: success finishes the entry as `Sent{wamid}`; network errors, 5xx, rate limits (130429,
//! 131056, ...) retry with exponential backoff (130429 also pauses every send); a permanent error
//! finishes it as `Failed` (never retried); 131047 (outside the 24-hour window) switches to the
//! window path.
//!
//! The 24-hour window: free-form messages only within 24 hours of the user's last message (meta
//! `whatsapp.last_inbound.<user>`, written by the webhook in the same commit as the message). An
//! `Update{case}` for a user outside the window goes out as the approved template
//! (`whatsapp.update_template`, parameter: the case code) and its full text is held
//! (`OutboxEntry::held`) until the user writes again; later entries of that user wait behind it (held
//! too, without another template). A `Reply` that meets 131047 is held the same way.
//!
//! Delivery is at least once: a crash between Meta's answer and the outbox update resends that one
//! message. A reply split into several messages records its progress (meta `whatsapp.parts.<seq>`), so
//! a retry resends only the parts not yet accepted.
//!
//! A write that fails (a full disk) stops sending for the whole channel: the delivery that could not
//! be recorded is kept in memory and written first, with backoff, and nothing more is sent until that
//! write succeeds. Sending on regardless would send the unrecorded entries again and again.
//!
//! Invariants: never logs text or user ids in clear; never drops an entry except as a recorded
//! `Failed` delivery; never retries a permanent error; never sends while a write of its own waits.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::api::{CODE_REENGAGEMENT, CODE_THROUGHPUT, SendError};
use super::media::MediaError;
use super::payload::Status;
use super::render::{self, Recipient, RenderOptions};
use super::{WhatsApp, address_key, last_inbound, user_tag};
use crate::channels::Shutdown;
use crate::metrics::FailureClass;
use crate::storage::{Channel, Delivery, OutboxEntry, OutboxKind, Store, UserKey, WriteBatch};
use crate::time::{now_millis, now_secs};

/// Timings and sizes of the sender.
#[derive(Clone, Debug)]
pub struct SenderOptions {
    /// How many users are sent to at once.
    pub concurrency: usize,
    /// How many pending entries one pass reads (held entries count too).
    pub batch: usize,
    /// The longest sleep between passes when nothing signals.
    pub poll: Duration,
    /// The first retry delay; doubled on each further failure up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long after a user's last message free-form messages are allowed. Meta's window is 24
    /// hours; the default keeps a 10-minute margin for clocks and queues.
    pub window_secs: u64,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            concurrency: 16,
            batch: 2000,
            poll: Duration::from_secs(2),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            window_secs: 24 * 3600 - 600,
        }
    }
}

/// Meta key of how many parts of a split reply Meta already accepted.
fn parts_key(seq: u64) -> String {
    format!("whatsapp.parts.{seq}")
}

/// The sender and its two helpers (mark-as-read, downloads). The helpers belong to the returned task:
/// aborting it (a shutdown that waited too long) aborts them too, so none keeps the engine alive.
pub(super) fn spawn(whatsapp: WhatsApp, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut workers = tokio::task::JoinSet::new();
        if let Some(rx) = whatsapp.inner.reads_rx.lock().await.take() {
            workers.spawn(mark_read_worker(whatsapp.clone(), rx, shutdown.clone()));
        }
        if let Some(rx) = whatsapp.inner.downloads_rx.lock().await.take() {
            workers.spawn(download_worker(whatsapp.clone(), rx, shutdown.clone()));
        }
        run(whatsapp, shutdown).await;
        while workers.join_next().await.is_some() {}
    })
}

/// Marks inbound messages read, one at a time; failures are only logged (it is a courtesy).
async fn mark_read_worker(
    whatsapp: WhatsApp,
    mut rx: mpsc::Receiver<String>,
    mut shutdown: Shutdown,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() { break },
            wamid = rx.recv() => match wamid {
                Some(wamid) => tokio::select! {
                    // A courtesy never holds up a shutdown.
                    _ = shutdown.changed() => break,
                    result = whatsapp.inner.api.mark_read(&wamid) => if let Err(e) = result {
                        tracing::debug!(error = %e, "whatsapp mark-as-read failed");
                    },
                },
                None => break,
            },
        }
    }
}

/// One media to fetch: an attachment a question accepted, or a photo whose text `read_for`'s
/// conversation waits for.
#[derive(Debug)]
pub(super) struct Download {
    pub media_id: String,
    pub read_for: Option<UserKey>,
}

/// Downloads accepted attachments one at a time, retrying network errors and 5xx a few times, and
/// records where each was saved (meta `whatsapp.media.<id>`). A download that fails for good is logged;
/// the media id stays in the session or case (Meta keeps media for 30 days). A photo to read is
/// fetched (unless OCR is off here), read with OCR and deleted, and its text handed in to the engine
/// (`channels::photo_text`); the user gets an answer whatever fails.
async fn download_worker(
    whatsapp: WhatsApp,
    mut rx: mpsc::Receiver<Download>,
    mut shutdown: Shutdown,
) {
    const ATTEMPTS: u32 = 3;
    // Photos whose reading a stop or crash interrupted come first.
    let waiting = crate::channels::photo_text::left_waiting(whatsapp.store(), Channel::Whatsapp);
    for (user, media_id) in waiting {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = read_photo(&whatsapp, user, &media_id) => {}
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
        let media_id = job.media_id;
        if let Some(user) = job.read_for {
            tokio::select! {
                _ = shutdown.changed() => break,
                () = read_photo(&whatsapp, user, &media_id) => {}
            }
            continue;
        }
        if super::media_path(whatsapp.store(), &media_id).is_some() {
            continue;
        }
        let mut delay = whatsapp.inner.options.backoff_base;
        for attempt in 1..=ATTEMPTS {
            match whatsapp.download_media(&media_id).await {
                Ok(saved) => {
                    let mut batch = WriteBatch::default();
                    batch.put_meta(
                        &super::media_key(&media_id),
                        saved.path.to_string_lossy().into_owned().into_bytes(),
                    );
                    if let Err(e) = whatsapp.store().apply(batch) {
                        tracing::error!(error = %e, "cannot record a whatsapp download");
                    }
                    tracing::info!(bytes = saved.bytes, "whatsapp attachment saved");
                    break;
                }
                Err(MediaError::Api(SendError::Transient { reason, .. })) if attempt < ATTEMPTS => {
                    tracing::warn!(%reason, attempt, "whatsapp download failed; will retry");
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = delay.saturating_mul(2);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "whatsapp attachment not downloaded; its media id is kept");
                    break;
                }
            }
        }
    }
}

/// Fetches a photo whose text the conversation waits for (removed once read; one already saved for a
/// report is read where it is) and hands in what OCR reads from it.
async fn read_photo(whatsapp: &WhatsApp, user: UserKey, media_id: &str) {
    use crate::channels::photo_text::{Image, read_and_hand_in};
    let ocr = &whatsapp.inner.ocr;
    let image = if !ocr.available() {
        None
    } else if let Some(path) = super::media_path(whatsapp.store(), media_id) {
        Some(Image {
            path,
            remove_after: false,
        })
    } else {
        match whatsapp.download_media(media_id).await {
            Ok(saved) => Some(Image {
                path: saved.path,
                remove_after: true,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "whatsapp photo to read not downloaded");
                None
            }
        }
    };
    read_and_hand_in(whatsapp.engine(), ocr, user, media_id, image).await;
}

/// A write of the sender that failed, kept to be written before anything else is sent.
#[derive(Debug)]
pub(super) enum Unwritten {
    /// Sent or failed for good, but not recorded: the entry must not be sent again.
    Finish(OutboxEntry, Delivery),
    /// A backoff, hold or attempt count not saved.
    Save(OutboxEntry),
}

/// Writes what failed to be written before, in order; `false` when the store still refuses.
fn write_unwritten(whatsapp: &WhatsApp) -> bool {
    let mut unwritten = match whatsapp.inner.unwritten.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if unwritten.is_empty() {
        return true;
    }
    let store = whatsapp.store();
    let finished: Vec<(&OutboxEntry, Delivery)> = unwritten
        .iter()
        .filter_map(|w| match w {
            Unwritten::Finish(entry, delivery) => Some((entry, delivery.clone())),
            Unwritten::Save(_) => None,
        })
        .collect();
    if !finished.is_empty()
        && let Err(e) = store.outbox_finish_many(finished)
    {
        tracing::warn!(error = %e, pending = unwritten.len(), "whatsapp deliveries still cannot be recorded; not sending");
        return false;
    }
    unwritten.retain(|w| matches!(w, Unwritten::Save(_)));
    while let Some(Unwritten::Save(entry)) = unwritten.first() {
        if let Err(e) = store.outbox_update(entry) {
            tracing::warn!(error = %e, pending = unwritten.len(), "whatsapp outbox still cannot be written; not sending");
            return false;
        }
        unwritten.remove(0);
    }
    tracing::info!("whatsapp sender writes again; sending resumes");
    true
}

/// Keeps a failed write for later and pauses every send of the channel.
fn unwritten(whatsapp: &WhatsApp, write: Unwritten) {
    match whatsapp.inner.unwritten.lock() {
        Ok(mut guard) => guard.push(write),
        Err(poisoned) => poisoned.into_inner().push(write),
    }
    // Sends already under way in other tasks stop before their next entry.
    whatsapp
        .inner
        .paused_until_ms
        .fetch_max(u64::MAX, Ordering::Relaxed);
}

async fn run(whatsapp: WhatsApp, mut shutdown: Shutdown) {
    tracing::info!("whatsapp sender started");
    let options = &whatsapp.inner.options;
    let first_delay = options.backoff_base.max(Duration::from_millis(10));
    let mut write_delay = first_delay;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if !write_unwritten(&whatsapp) {
            tokio::select! {
                changed = shutdown.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(write_delay) => {}
            }
            write_delay = write_delay
                .saturating_mul(2)
                .min(options.backoff_max.min(Duration::from_secs(30)));
            continue;
        }
        if write_delay != first_delay {
            write_delay = first_delay;
        }
        // The pause set by a failed write ends once it is written; a throughput pause keeps its time.
        let _ = whatsapp.inner.paused_until_ms.compare_exchange(
            u64::MAX,
            0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        let pass = pass(&whatsapp).await;
        if pass.progressed {
            continue;
        }
        let poll = whatsapp.inner.options.poll;
        let wait = pass
            .next_due_ms
            .map(|due| Duration::from_millis(due.saturating_sub(now_millis())))
            .map_or(poll, |d| d.min(poll));
        let signal = whatsapp.inner.engine.outbox_signal(Channel::Whatsapp);
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() { break },
            _ = signal.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("whatsapp sender stopped");
}

#[derive(Debug, Default)]
struct Outcome {
    /// Some entry left the queue or changed for good (held): run another pass at once.
    progressed: bool,
    next_due_ms: Option<u64>,
}

impl Outcome {
    fn due(&mut self, at_ms: u64) {
        self.next_due_ms = Some(self.next_due_ms.map_or(at_ms, |d| d.min(at_ms)));
    }

    fn merge(&mut self, other: Outcome) {
        self.progressed |= other.progressed;
        if let Some(due) = other.next_due_ms {
            self.due(due);
        }
    }
}

/// One pass over the pending entries.
async fn pass(whatsapp: &WhatsApp) -> Outcome {
    let mut outcome = Outcome::default();
    let store = whatsapp.store();
    let entries = match store.outbox_pending(Channel::Whatsapp, whatsapp.inner.options.batch) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the whatsapp outbox");
            outcome.due(now_millis() + 1000);
            return outcome;
        }
    };
    let mut order: Vec<UserKey> = Vec::new();
    let mut groups: HashMap<UserKey, Vec<OutboxEntry>> = HashMap::new();
    for entry in entries {
        let group = groups.entry(entry.user.clone()).or_default();
        if group.is_empty() {
            order.push(entry.user.clone());
        }
        group.push(entry);
    }
    let concurrency = whatsapp.inner.options.concurrency.max(1);
    let mut tasks = JoinSet::new();
    for user in order {
        let Some(entries) = groups.remove(&user) else {
            continue;
        };
        // A user whose first entry is backing off needs no task.
        if let Some(first) = entries.first()
            && first.not_before_ms > now_millis()
        {
            outcome.due(first.not_before_ms);
            continue;
        }
        if tasks.len() >= concurrency
            && let Some(Ok(done)) = tasks.join_next().await
        {
            outcome.merge(done);
        }
        tasks.spawn(send_user(whatsapp.clone(), entries));
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(done) => outcome.merge(done),
            Err(e) => {
                tracing::error!(error = %e, "whatsapp send task failed");
                outcome.due(now_millis() + 1000);
            }
        }
    }
    outcome
}

/// Sends one user's entries in order, stopping at the first that cannot go out yet.
async fn send_user(whatsapp: WhatsApp, entries: Vec<OutboxEntry>) -> Outcome {
    let mut outcome = Outcome::default();
    let Some(user) = entries.first().map(|e| e.user.clone()) else {
        return outcome;
    };
    let store = whatsapp.store().clone();
    let options = &whatsapp.inner.options;
    let mut open = window_open(&store, &user.id, options.window_secs);
    let recipient = recipient(&store, &user.id);
    // An earlier entry of this user waits for the window: later ones wait behind it.
    let mut holding = false;
    for mut entry in entries {
        let now_ms = now_millis();
        let paused = whatsapp.inner.paused_until_ms.load(Ordering::Relaxed);
        if paused > now_ms {
            outcome.due(paused);
            break;
        }
        if entry.not_before_ms > now_ms {
            outcome.due(entry.not_before_ms);
            break;
        }
        if (entry.held || holding) && !open {
            if !entry.held {
                entry.held = true;
                save(&whatsapp, &entry);
                outcome.progressed = true;
            }
            holding = true;
            continue;
        }
        if !entry.held
            && !open
            && let OutboxKind::Update { case } = entry.kind.clone()
        {
            match announce(&whatsapp, &recipient, &mut entry, &case).await {
                Ok(()) => {
                    holding = true;
                    outcome.progressed = true;
                    continue;
                }
                Err(due) => {
                    outcome.due(due);
                    break;
                }
            }
        }
        match deliver(&whatsapp, &recipient, &entry).await {
            Ok(platform_id) => {
                let sent = Delivery::Sent {
                    platform_id,
                    at: now_secs(),
                };
                if !finish(&whatsapp, &entry, sent) {
                    break;
                }
                outcome.progressed = true;
            }
            Err(SendError::Permanent { reason }) => {
                tracing::warn!(user = %user_tag(&user.id), seq = entry.seq, %reason, "whatsapp message failed for good");
                let failed = Delivery::Failed {
                    reason,
                    at: now_secs(),
                };
                if !finish(&whatsapp, &entry, failed) {
                    break;
                }
                outcome.progressed = true;
            }
            Err(SendError::Window) if entry.held => {
                // We thought the window open; Meta disagrees. Wait, do not hammer.
                close_window(&store, &user.id);
                let due = backoff(
                    &whatsapp,
                    &mut entry,
                    "outside the 24-hour window".into(),
                    None,
                );
                save(&whatsapp, &entry);
                outcome.due(due);
                break;
            }
            Err(SendError::Window) => {
                store
                    .metrics()
                    .send_failure(Channel::Whatsapp, FailureClass::window);
                close_window(&store, &user.id);
                open = false;
                holding = true;
                outcome.progressed = true;
                match entry.kind.clone() {
                    OutboxKind::Update { case } => {
                        if let Err(due) = announce(&whatsapp, &recipient, &mut entry, &case).await {
                            outcome.due(due);
                            break;
                        }
                    }
                    OutboxKind::Reply => {
                        tracing::info!(user = %user_tag(&user.id), seq = entry.seq, "whatsapp reply held until the user writes again");
                        entry.held = true;
                        entry.last_error = Some("outside the 24-hour window".into());
                        save(&whatsapp, &entry);
                    }
                }
            }
            Err(SendError::Transient {
                reason,
                retry_after,
                code,
            }) => {
                tracing::warn!(user = %user_tag(&user.id), seq = entry.seq, attempts = entry.attempts + 1, %reason, "whatsapp send failed; will retry");
                count_transient(&whatsapp, &reason, retry_after, code);
                let due = backoff(&whatsapp, &mut entry, reason, retry_after);
                if code == CODE_THROUGHPUT {
                    whatsapp
                        .inner
                        .paused_until_ms
                        .fetch_max(due, Ordering::Relaxed);
                }
                save(&whatsapp, &entry);
                outcome.due(due);
                break;
            }
        }
    }
    outcome
}

/// Sends the update template for an entry outside the window and holds the entry. `Err(due)` when
/// the template must be retried later.
async fn announce(
    whatsapp: &WhatsApp,
    recipient: &Recipient,
    entry: &mut OutboxEntry,
    case: &str,
) -> Result<(), u64> {
    let config = &whatsapp.inner.config;
    let message = render::envelope(
        recipient,
        render::template_message(&config.update_template, &config.update_template_lang, case),
    );
    match whatsapp.inner.api.send(&message).await {
        Ok(_) => {
            tracing::info!(user = %user_tag(&entry.user.id), seq = entry.seq, "whatsapp update template sent; full text held");
            entry.held = true;
            entry.last_error = None;
            save(whatsapp, entry);
            Ok(())
        }
        Err(SendError::Transient {
            reason,
            retry_after,
            code,
        }) => {
            count_transient(whatsapp, &reason, retry_after, code);
            let due = backoff(whatsapp, entry, reason, retry_after);
            if code == CODE_THROUGHPUT {
                whatsapp
                    .inner
                    .paused_until_ms
                    .fetch_max(due, Ordering::Relaxed);
            }
            save(whatsapp, entry);
            Err(due)
        }
        Err(e) => {
            // The template itself is refused (not approved, wrong name): the text still waits for the
            // user to write again; staff must fix the template.
            tracing::error!(error = %e, template = %config.update_template, "whatsapp update template refused; text held");
            entry.held = true;
            entry.last_error = Some(e.to_string());
            save(whatsapp, entry);
            Ok(())
        }
    }
}

/// Sends all (remaining) parts of an entry; the `wamid` of the last one identifies the delivery.
async fn deliver(
    whatsapp: &WhatsApp,
    recipient: &Recipient,
    entry: &OutboxEntry,
) -> Result<Option<String>, SendError> {
    let store = whatsapp.store();
    let lang = store
        .session(&entry.user)
        .ok()
        .flatten()
        .map(|s| s.lang)
        .unwrap_or_default();
    let bot = whatsapp.inner.engine.bot();
    let list_button = match bot.text("list_button", lang) {
        "" => "☰",
        label => label,
    };
    let parts = render::render(&entry.reply, &RenderOptions { list_button });
    let split = parts.len() > 1;
    let done = if split {
        parts_sent(store, entry.seq)
    } else {
        0
    };
    let mut last = None;
    for (i, part) in parts.into_iter().enumerate().skip(done) {
        last = whatsapp
            .inner
            .api
            .send(&render::envelope(recipient, part))
            .await?;
        if split {
            let mut batch = WriteBatch::default();
            batch.put_meta(&parts_key(entry.seq), (i + 1).to_string().into_bytes());
            if let Err(e) = store.apply(batch) {
                tracing::warn!(error = %e, "cannot record whatsapp split progress");
            }
        }
    }
    Ok(last)
}

fn parts_sent(store: &Store, seq: u64) -> usize {
    store
        .meta(&parts_key(seq))
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Meta key of the last-inbound time Meta refused with 131047: the window is closed until the user
/// writes after it, whatever our clock says.
fn closed_key(user_id: &str) -> String {
    format!("whatsapp.window_closed.{user_id}")
}

fn window_open(store: &Store, user_id: &str, window_secs: u64) -> bool {
    let Some(at) = last_inbound(store, user_id) else {
        return false;
    };
    let closed_at = store
        .meta(&closed_key(user_id))
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok());
    if closed_at.is_some_and(|closed| at <= closed) {
        return false;
    }
    now_secs() < at.saturating_add(window_secs)
}

/// Remembers that Meta says the window is closed for this user (until they write again).
fn close_window(store: &Store, user_id: &str) {
    let at = last_inbound(store, user_id).unwrap_or(0);
    let mut batch = WriteBatch::default();
    batch.put_meta(&closed_key(user_id), at.to_string().into_bytes());
    if let Err(e) = store.apply(batch) {
        tracing::warn!(error = %e, "cannot record a closed whatsapp window");
    }
}

fn recipient(store: &Store, user_id: &str) -> Recipient {
    match store.meta(&address_key(user_id)) {
        Ok(Some(phone)) => match String::from_utf8(phone) {
            Ok(phone) if !phone.is_empty() => Recipient::Phone(phone),
            _ => Recipient::from_key(user_id),
        },
        _ => Recipient::from_key(user_id),
    }
}

/// Schedules the next attempt; returns when it is due (Unix ms).
fn backoff(
    whatsapp: &WhatsApp,
    entry: &mut OutboxEntry,
    reason: String,
    retry_after: Option<Duration>,
) -> u64 {
    let options = &whatsapp.inner.options;
    entry.attempts = entry.attempts.saturating_add(1);
    let exponent = entry.attempts.saturating_sub(1).min(20);
    let delay = options
        .backoff_base
        .saturating_mul(1u32 << exponent)
        .min(options.backoff_max)
        .max(retry_after.unwrap_or_default());
    entry.not_before_ms = now_millis() + delay.as_millis() as u64;
    entry.last_error = Some(reason);
    entry.not_before_ms
}

/// Counts a send to try again, as rate-limited (429, a throughput limit, a `Retry-After`) or temporary.
fn count_transient(whatsapp: &WhatsApp, reason: &str, retry_after: Option<Duration>, code: i64) {
    let class =
        if retry_after.is_some() || code == CODE_THROUGHPUT || reason.starts_with("http 429") {
            FailureClass::rate_limited
        } else {
            FailureClass::temporary
        };
    whatsapp
        .store()
        .metrics()
        .send_failure(Channel::Whatsapp, class);
}

/// Saves a changed entry; when the store refuses, keeps it for later and pauses the channel.
fn save(whatsapp: &WhatsApp, entry: &OutboxEntry) {
    if let Err(e) = whatsapp.store().outbox_update(entry) {
        tracing::error!(error = %e, seq = entry.seq, "cannot update a whatsapp outbox entry; sending stops until the store can write");
        unwritten(whatsapp, Unwritten::Save(entry.clone()));
    }
}

/// Records how an entry ended. `false` when the store refuses: the outcome is kept in memory, written
/// before anything else is sent, and the channel pauses (the entry is not sent again).
fn finish(whatsapp: &WhatsApp, entry: &OutboxEntry, delivery: Delivery) -> bool {
    match whatsapp.store().outbox_finish(entry, delivery.clone()) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, seq = entry.seq, "cannot record a whatsapp delivery; sending stops until the store can write");
            whatsapp
                .store()
                .metrics()
                .send_failure(Channel::Whatsapp, FailureClass::unrecorded);
            unwritten(whatsapp, Unwritten::Finish(entry.clone(), delivery));
            false
        }
    }
}

/// Records a `statuses` item against the delivery it belongs to. A `failed` status with 131047 (the
/// message reached Meta but the window had closed) puts the message back in the queue once, where it
/// takes the window path.
pub(super) fn record_status(whatsapp: &WhatsApp, status: &Status) {
    let store = whatsapp.store();
    let receipt = if status.errors.is_empty() {
        status.status.clone()
    } else {
        let codes: Vec<String> = status
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.title))
            .collect();
        format!("{}: {}", status.status, codes.join("; "))
    };
    match store.add_receipt(Channel::Whatsapp, &status.id, &receipt) {
        Ok(true) => {}
        Ok(false) => tracing::debug!("whatsapp status for a message we do not know"),
        Err(e) => tracing::error!(error = %e, "cannot record a whatsapp status"),
    }
    if status.status == "failed" && status.errors.iter().any(|e| e.code == CODE_REENGAGEMENT) {
        requeue(whatsapp, &status.id);
    } else if status.status == "failed" {
        // Accepted, then not delivered (e.g. 131026, the number cannot receive it): the cases watcher
        // tells staff when it was news about a case.
        match store.delivery_by_platform_id(Channel::Whatsapp, &status.id) {
            Ok(Some(record)) => {
                if let Err(e) =
                    store.note_late_failure(Channel::Whatsapp, record.entry.seq, &receipt)
                {
                    tracing::error!(error = %e, "cannot note a failed whatsapp delivery");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read a whatsapp delivery"),
        }
    }
}

const REQUEUED: &str = "requeued";

fn requeue(whatsapp: &WhatsApp, wamid: &str) {
    let store = whatsapp.store();
    let record = match store.delivery_by_platform_id(Channel::Whatsapp, wamid) {
        Ok(Some(record)) => record,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a whatsapp delivery");
            return;
        }
    };
    if record.receipts.iter().any(|r| r == REQUEUED) {
        return;
    }
    let mut entry = record.entry;
    entry.attempts = 0;
    entry.not_before_ms = 0;
    entry.held = false;
    entry.last_error = Some("outside the 24-hour window".into());
    close_window(store, &entry.user.id);
    let mut batch = WriteBatch::default();
    batch.put_meta(&parts_key(entry.seq), b"0".to_vec());
    if let Err(e) = batch.push_outbox(&entry).and_then(|()| store.apply(batch)) {
        tracing::error!(error = %e, "cannot requeue a whatsapp message");
        return;
    }
    let _ = store.add_receipt(Channel::Whatsapp, wamid, REQUEUED);
    tracing::info!(user = %user_tag(&entry.user.id), seq = entry.seq, "whatsapp message requeued after 131047");
    whatsapp
        .inner
        .engine
        .outbox_signal(Channel::Whatsapp)
        .notify_one();
}
