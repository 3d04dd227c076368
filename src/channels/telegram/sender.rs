//! The Telegram outbox worker: sends what the engine queued for Telegram, in order per chat, within
//! Telegram's limits, and records how each entry ended.
//!
//! Invariants:
//! - Per-chat order: only a chat's oldest pending entry is ever in flight or waiting; a later entry never
//!   overtakes an earlier one that is backing off.
//! - An entry leaves the queue only through `outbox_finish_many` (the outcomes of sends that ended
//!   together, a few milliseconds apart at most, in one atomic write): `Sent` with Telegram's message id, or
//!   `Failed` for a permanent refusal (blocked, chat not found), which is never retried. Transient
//!   failures (network, 5xx, 429) keep it, with its backoff persisted, so the queue survives restarts.
//! - `retry_after` from Telegram is honoured for that chat; at most `global_per_sec` messages per second
//!   leave overall and at most one per `per_chat_interval_ms` per chat (both configurable: the defaults
//!   are Telegram's limits).
//! - Sending is at least once: a crash between Telegram's answer and the record can send an entry again.
//! - A write that fails (a full disk) stops every send of the channel: the outcomes that could not be
//!   recorded stay in memory and are written first, with backoff; only once that write succeeds does
//!   sending go on. Their chats stay busy meanwhile, so an unrecorded entry is never sent again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, LinkPreviewOptions, ParseMode};
use teloxide::{Bot, RequestError};
use tokio::task::JoinSet;

use super::render::render;
use super::{describe_error, is_transient};
use crate::channels::Shutdown;
use crate::engine::Engine;
use crate::metrics::FailureClass;
use crate::storage::{Channel, Delivery, OutboxEntry, Store};
use crate::time::now_millis;

#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// 0: no global limit.
    pub global_per_sec: u32,
    pub per_chat_interval_ms: u64,
    pub max_in_flight: usize,
    pub retry_max_ms: u64,
}

/// How one attempt at an entry ended.
#[derive(Debug)]
enum Outcome {
    Sent {
        platform_id: Option<String>,
    },
    Retry {
        after_ms: u64,
        error: String,
        parts_done: usize,
        /// Telegram said how long to wait (429 `retry_after`).
        rate_limited: bool,
    },
    Failed {
        reason: String,
    },
}

struct Done {
    chat: String,
    entry: OutboxEntry,
    outcome: Outcome,
}

#[derive(Default)]
struct ChatState {
    queue: VecDeque<OutboxEntry>,
    busy: bool,
    /// In the ready list or the timer heap.
    scheduled: bool,
    /// Pacing: not before this instant (Unix ms).
    next_ok_ms: u64,
    /// Parts of the head entry already sent (a long reply is several messages).
    parts_done: usize,
}

struct TokenBucket {
    rate: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    fn new(per_sec: u32, now: u64) -> TokenBucket {
        let rate = f64::from(per_sec);
        TokenBucket {
            rate,
            tokens: rate.max(1.0),
            last_ms: now,
        }
    }

    fn refill(&mut self, now: u64) {
        if self.rate <= 0.0 {
            return;
        }
        let elapsed = now.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        self.last_ms = now;
    }

    fn take(&mut self, now: u64) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token will be there.
    fn next_at(&self, now: u64) -> u64 {
        if self.rate <= 0.0 || self.tokens >= 1.0 {
            return now;
        }
        now + ((1.0 - self.tokens) / self.rate * 1000.0).ceil() as u64
    }
}

struct Worker {
    store: Store,
    limits: Limits,
    chats: HashMap<String, ChatState>,
    ready: VecDeque<String>,
    timers: BinaryHeap<Reverse<(u64, String)>>,
    /// The smallest outbox sequence number not loaded yet.
    cursor: u64,
    in_flight: usize,
    /// Outcomes the store refused to record, and backoffs it refused to save: nothing is sent until
    /// they are written.
    unrecorded: Vec<(String, OutboxEntry, Delivery)>,
    unsaved: Vec<OutboxEntry>,
    /// When to try writing them again, and the delay after that (doubling, capped).
    write_retry_at: u64,
    write_delay_ms: u64,
}

const WRITE_DELAY_FIRST_MS: u64 = 200;
const WRITE_DELAY_MAX_MS: u64 = 30_000;

const LOAD_PAGE: usize = 1024;

impl Worker {
    fn schedule(&mut self, chat: &str, now: u64) {
        let Some(state) = self.chats.get_mut(chat) else {
            return;
        };
        if state.busy || state.scheduled {
            return;
        }
        let Some(head) = state.queue.front() else {
            self.chats.remove(chat);
            return;
        };
        let at = state.next_ok_ms.max(head.not_before_ms);
        state.scheduled = true;
        if at <= now {
            self.ready.push_back(chat.to_string());
        } else {
            self.timers.push(Reverse((at, chat.to_string())));
        }
    }

    /// Loads entries queued since the last look.
    fn load_new(&mut self, now: u64) {
        loop {
            let page =
                match self
                    .store
                    .outbox_pending_from(Channel::Telegram, self.cursor, LOAD_PAGE)
                {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the telegram outbox");
                        return;
                    }
                };
            let full = page.len() >= LOAD_PAGE;
            if !page.is_empty() {
                tracing::debug!(entries = page.len(), "telegram outbox entries loaded");
            }
            for entry in page {
                self.cursor = self.cursor.max(entry.seq.saturating_add(1));
                let chat = entry.user.id.clone();
                self.chats
                    .entry(chat.clone())
                    .or_default()
                    .queue
                    .push_back(entry);
                self.schedule(&chat, now);
            }
            if !full {
                return;
            }
        }
    }

    fn fire_timers(&mut self, now: u64) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, chat))) = self.timers.pop() {
                self.ready.push_back(chat);
            }
        }
    }

    /// Records how a round of sends ended: every final outcome (sent, refused for good) in one atomic
    /// write, then each chat moves on to its next entry.
    fn finish(&mut self, dones: Vec<Done>, now: u64) {
        self.in_flight = self.in_flight.saturating_sub(dones.len());
        let mut finals: Vec<(String, OutboxEntry, Delivery)> = Vec::with_capacity(dones.len());
        for Done {
            chat,
            entry,
            outcome,
        } in dones
        {
            match outcome {
                Outcome::Sent { platform_id } => finals.push((
                    chat,
                    entry,
                    Delivery::Sent {
                        platform_id,
                        at: now / 1000,
                    },
                )),
                Outcome::Failed { reason } => {
                    tracing::warn!(seq = entry.seq, reason = %reason, "telegram message refused for good; not retried");
                    finals.push((
                        chat,
                        entry,
                        Delivery::Failed {
                            reason,
                            at: now / 1000,
                        },
                    ));
                }
                Outcome::Retry {
                    after_ms,
                    error,
                    parts_done,
                    rate_limited,
                } => {
                    let class = if rate_limited {
                        FailureClass::rate_limited
                    } else {
                        FailureClass::temporary
                    };
                    self.store.metrics().send_failure(Channel::Telegram, class);
                    self.retry(chat, entry, after_ms, error, parts_done, now)
                }
            }
        }
        if finals.is_empty() {
            return;
        }
        if self.blocked() {
            // Earlier outcomes wait for the store: these wait with them (their chats stay busy).
            self.unrecorded.extend(finals);
            return;
        }
        self.record(finals, now);
    }

    /// Whether writes of this sender wait for the store: nothing is sent meanwhile.
    fn blocked(&self) -> bool {
        !self.unrecorded.is_empty() || !self.unsaved.is_empty()
    }

    /// Records final outcomes in one write; when the store refuses, keeps them and blocks sending.
    fn record(&mut self, finals: Vec<(String, OutboxEntry, Delivery)>, now: u64) {
        let recorded = self.store.outbox_finish_many(
            finals
                .iter()
                .map(|(_, entry, delivery)| (entry, delivery.clone())),
        );
        if let Err(e) = &recorded {
            // Not recorded: the entries were sent (or refused for good), so they must not go out
            // again. Keep the outcomes and send nothing until they are written.
            tracing::error!(entries = finals.len(), error = %e, "cannot record telegram deliveries; sending stops until the store can write");
            self.store
                .metrics()
                .send_failure(Channel::Telegram, FailureClass::unrecorded);
            self.unrecorded.extend(finals);
            self.write_failed(now);
            return;
        }
        for (chat, _, _) in finals {
            let Some(state) = self.chats.get_mut(&chat) else {
                continue;
            };
            state.busy = false;
            state.queue.pop_front();
            state.parts_done = 0;
            state.next_ok_ms = now + self.limits.per_chat_interval_ms;
            self.schedule(&chat, now);
        }
    }

    fn write_failed(&mut self, now: u64) {
        self.write_delay_ms = if self.write_delay_ms == 0 {
            WRITE_DELAY_FIRST_MS
        } else {
            self.write_delay_ms
                .saturating_mul(2)
                .min(WRITE_DELAY_MAX_MS)
        };
        self.write_retry_at = now + self.write_delay_ms;
    }

    /// Writes what the store refused before, when its backoff is over. Sending resumes once all of it
    /// is written.
    fn retry_writes(&mut self, now: u64) {
        if !self.blocked() || now < self.write_retry_at {
            return;
        }
        while let Some(entry) = self.unsaved.first() {
            if let Err(e) = self.store.outbox_update(entry) {
                tracing::warn!(error = %e, "telegram outbox still cannot be written; not sending");
                self.write_failed(now);
                return;
            }
            self.unsaved.remove(0);
        }
        if !self.unrecorded.is_empty() {
            let finals = std::mem::take(&mut self.unrecorded);
            self.record(finals, now);
            if self.blocked() {
                return;
            }
        }
        self.write_delay_ms = 0;
        tracing::info!("telegram sender writes again; sending resumes");
    }

    /// A transient failure: the entry stays at the head of its chat, its backoff persisted.
    fn retry(
        &mut self,
        chat: String,
        mut entry: OutboxEntry,
        after_ms: u64,
        error: String,
        parts_done: usize,
        now: u64,
    ) {
        tracing::warn!(seq = entry.seq, attempts = entry.attempts + 1, retry_in_ms = after_ms, error = %error, "telegram send failed; will retry");
        entry.attempts = entry.attempts.saturating_add(1);
        entry.not_before_ms = now + after_ms;
        entry.last_error = Some(error);
        let Some(state) = self.chats.get_mut(&chat) else {
            return;
        };
        state.busy = false;
        state.parts_done = parts_done;
        if let Some(head) = state.queue.front_mut()
            && head.seq == entry.seq
        {
            *head = entry.clone();
        }
        if let Err(e) = self.store.outbox_update(&entry) {
            // The backoff is not saved: send nothing until it is (the store is failing anyway).
            tracing::error!(seq = entry.seq, error = %e, "cannot save a telegram backoff; sending stops until the store can write");
            self.unsaved.push(entry);
            self.write_failed(now);
        }
        self.schedule(&chat, now);
    }
}

fn backoff_ms(attempts: u32, seq: u64, max_ms: u64) -> u64 {
    let base = 500u64.saturating_mul(1u64 << attempts.min(16));
    base.min(max_ms) + seq % 250
}

/// Sends the remaining parts of one entry.
async fn deliver(bot: Bot, entry: OutboxEntry, parts_done: usize, limits: Limits) -> Outcome {
    let Ok(chat_id) = entry.user.id.parse::<i64>() else {
        return Outcome::Failed {
            reason: "not a telegram chat id".into(),
        };
    };
    let parts = render(&entry.reply);
    if parts.is_empty() {
        return Outcome::Failed {
            reason: "empty message".into(),
        };
    }
    let mut platform_id = None;
    for (i, part) in parts.into_iter().enumerate().skip(parts_done) {
        if i > parts_done && limits.per_chat_interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(limits.per_chat_interval_ms)).await;
        }
        let mut request = bot
            .send_message(ChatId(chat_id), part.html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            });
        if let Some(keyboard) = part.keyboard {
            request = request.reply_markup(keyboard);
        }
        match request.await {
            Ok(message) => platform_id = Some(message.id.0.to_string()),
            Err(e) => return failure(&e, &entry, i, &limits),
        }
    }
    Outcome::Sent { platform_id }
}

fn failure(
    error: &RequestError,
    entry: &OutboxEntry,
    parts_done: usize,
    limits: &Limits,
) -> Outcome {
    if !is_transient(error) {
        return Outcome::Failed {
            reason: describe_error(error),
        };
    }
    let after_ms = match error {
        RequestError::RetryAfter(seconds) => u64::from(seconds.seconds()).max(1) * 1000,
        _ => backoff_ms(entry.attempts, entry.seq, limits.retry_max_ms),
    };
    Outcome::Retry {
        after_ms,
        error: describe_error(error),
        parts_done,
        rate_limited: matches!(error, RequestError::RetryAfter(_)),
    }
}

/// Collects a finished send task; a panicked one is only counted (and logged).
fn collect(
    worker: &mut Worker,
    dones: &mut Vec<Done>,
    joined: Result<Done, tokio::task::JoinError>,
) {
    match joined {
        Ok(done) => dones.push(done),
        Err(e) => {
            // A send task panicked: its chat stays busy until restart; say so loudly.
            worker.in_flight = worker.in_flight.saturating_sub(1);
            tracing::error!(error = %e, "telegram send task failed");
        }
    }
}

/// More finished sends to record with the first: whatever is done already, then (while sends are busy)
/// those finishing within `GATHER_WAIT`, up to `GATHER_MAX`. Each record write costs sled two log
/// writes whatever its size, so under load a few milliseconds of waiting save most of them; the wait
/// only delays the next entry of the same chats, which Telegram's pacing holds back longer anyway.
async fn gather(sends: &mut JoinSet<Done>, worker: &mut Worker, dones: &mut Vec<Done>) {
    while let Some(joined) = sends.try_join_next() {
        collect(worker, dones, joined);
    }
    let until = tokio::time::Instant::now() + GATHER_WAIT;
    while dones.len() < GATHER_MAX && !sends.is_empty() {
        match tokio::time::timeout_at(until, sends.join_next()).await {
            Ok(Some(joined)) => collect(worker, dones, joined),
            _ => break,
        }
    }
}

const GATHER_WAIT: Duration = Duration::from_millis(2);
const GATHER_MAX: usize = 128;

/// Runs until `shutdown`; then waits a little for messages in flight so their outcome is recorded.
pub(crate) async fn run(bot: Bot, engine: Engine, limits: Limits, mut shutdown: Shutdown) {
    let now = now_millis();
    let mut worker = Worker {
        store: engine.store().clone(),
        limits: limits.clone(),
        chats: HashMap::new(),
        ready: VecDeque::new(),
        timers: BinaryHeap::new(),
        cursor: 0,
        in_flight: 0,
        unrecorded: Vec::new(),
        unsaved: Vec::new(),
        write_retry_at: 0,
        write_delay_ms: 0,
    };
    let mut bucket = TokenBucket::new(limits.global_per_sec, now);
    // Owned here, so aborting the worker aborts its sends too (nothing sent behind its back).
    let mut sends: JoinSet<Done> = JoinSet::new();
    let signal = engine.outbox_signal(Channel::Telegram);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut load = true;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = now_millis();
        if load {
            worker.load_new(now);
            load = false;
        }
        worker.fire_timers(now);
        worker.retry_writes(now);
        while !worker.blocked()
            && worker.in_flight < limits.max_in_flight
            && !worker.ready.is_empty()
        {
            if !bucket.take(now) {
                break;
            }
            let Some(chat) = worker.ready.pop_front() else {
                break;
            };
            let Some(state) = worker.chats.get_mut(&chat) else {
                continue;
            };
            state.scheduled = false;
            let Some(entry) = state.queue.front().cloned() else {
                continue;
            };
            state.busy = true;
            let parts_done = state.parts_done;
            worker.in_flight += 1;
            let bot = bot.clone();
            let limits = limits.clone();
            sends.spawn(async move {
                let outcome = deliver(bot, entry.clone(), parts_done, limits).await;
                Done {
                    chat,
                    entry,
                    outcome,
                }
            });
        }
        let mut wake = worker.timers.peek().map(|Reverse((at, _))| *at);
        if worker.blocked() {
            wake = Some(worker.write_retry_at);
        } else if !worker.ready.is_empty() && worker.in_flight < limits.max_in_flight {
            let at = bucket.next_at(now);
            wake = Some(wake.map_or(at, |w| w.min(at)));
        }
        let sleep_for = wake.map_or(Duration::from_secs(3600), |at| {
            Duration::from_millis(at.saturating_sub(now).max(1))
        });
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(joined) = sends.join_next(), if !sends.is_empty() => {
                // Everything finished by now is recorded with one write.
                let mut dones = Vec::new();
                collect(&mut worker, &mut dones, joined);
                gather(&mut sends, &mut worker, &mut dones).await;
                worker.finish(dones, now_millis());
            }
            () = signal.notified() => load = true,
            _ = tick.tick() => load = true,
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
    // Record what is in flight (bounded wait); anything not recorded is sent again after a restart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !sends.is_empty() {
        match tokio::time::timeout_at(deadline, sends.join_next()).await {
            Ok(Some(joined)) => {
                let mut dones = Vec::new();
                collect(&mut worker, &mut dones, joined);
                worker.finish(dones, now_millis());
            }
            _ => break,
        }
    }
    sends.abort_all();
    if let Err(e) = worker.store.flush().await {
        tracing::error!(error = %e, "cannot flush the telegram outbox records");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_bucket_paces_and_unlimited_never_blocks() {
        let mut b = TokenBucket::new(2, 0);
        assert!(b.take(0));
        assert!(b.take(0));
        assert!(!b.take(0));
        assert_eq!(b.next_at(0), 500);
        assert!(b.take(500));
        let mut free = TokenBucket::new(0, 0);
        assert!((0..10_000).all(|_| free.take(0)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff_ms(0, 0, 300_000) < backoff_ms(3, 0, 300_000));
        assert!(backoff_ms(30, 7, 10_000) <= 10_000 + 250);
    }
}
