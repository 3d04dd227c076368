//! The engine: the one writer. Every channel hands its inbound messages here and gets an acknowledgement
//! back only once their effects are durable.
//!
//! For each message, in arrival order: skip it if its platform id was seen (a redelivery); load the
//! user's session (from this batch if an earlier message of the batch changed it); run the pure
//! [`dialog::step`]; apply its effects; queue its replies in the outbox. A whole group of messages is then
//! written with one atomic batch and one flush, and only then is each sender told "done". That is the
//! group commit: under load many messages share one flush; alone, a message waits for its own.
//!
//! Invariants:
//! - Nothing is acknowledged (and no reply becomes visible to a sender) before the flush returned.
//! - One writer: no two tasks ever build competing versions of a session.
//! - A failed write fails every message of the group: their senders must not acknowledge them.
//! - A failed write is retried with backoff (reopening the database, which sled needs after an IO
//!   error) for a few seconds before the group fails; while writes fail, the idle writer keeps probing
//!   with the same backoff, so the service recovers by itself once the disk has room again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::dialog::InputKind;
use crate::dialog::{self, Actions, Bot, Effect, Input, Lang, Reply, Session, StepEnv};
use crate::storage::stats::{self, Unanswered};
use crate::storage::{self, Channel, OutboxEntry, OutboxKind, Store, UserKey, WriteBatch};

/// One inbound message, translated from its platform.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub user: UserKey,
    /// The platform's id for this message (Telegram `update_id`, WhatsApp `wamid`), for dedupe.
    pub message_id: String,
    pub input: Input,
    /// The platform's language hint (Telegram `language_code`), used for a new session only.
    pub lang_hint: Option<Lang>,
}

/// The answer to one inbound message, sent once it is durable.
#[derive(Clone, Debug, Default)]
pub struct Ack {
    /// The message had been handled before; nothing was done this time.
    pub duplicate: bool,
    /// The replies queued for this message, in order.
    pub replies: Vec<OutboxEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("storage: {0}")]
    Storage(#[from] storage::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the engine has stopped")]
    Stopped,
}

/// A message the engine queues on its own initiative (a staff reply, a case update, a notification).
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub user: UserKey,
    pub reply: Reply,
    pub kind: OutboxKind,
}

/// Applies effects inside the engine's commit. `cases` provides the real one.
pub trait EffectHandler: Send + Sync {
    /// Adds the effect's writes to `batch`, and any messages it causes to `outgoing`.
    fn apply(&self, effect: &Effect, ctx: &mut EffectContext<'_>) -> Result<(), EngineError>;
}

pub struct EffectContext<'a> {
    pub store: &'a Store,
    pub batch: &'a mut WriteBatch,
    pub user: &'a UserKey,
    pub session: &'a Session,
    pub now: u64,
    pub outgoing: &'a mut Vec<Outgoing>,
}

/// Effects are logged (by kind only) and otherwise ignored: for the console before cases exist.
pub struct IgnoreEffects;

impl EffectHandler for IgnoreEffects {
    fn apply(&self, effect: &Effect, _ctx: &mut EffectContext<'_>) -> Result<(), EngineError> {
        let kind = match effect {
            Effect::OpenCase { .. } => "open_case",
            Effect::AppendToCase { .. } => "append_to_case",
            Effect::Emergency { .. } => "emergency",
            Effect::Handoff { .. } => "handoff",
        };
        tracing::debug!(kind, "effect ignored: no handler");
        Ok(())
    }
}

/// The dialogs currently served; replaced whole on reload.
pub type SharedBot = Arc<RwLock<Arc<Bot>>>;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub idle_secs: u64,
    pub max_batch: usize,
}

/// Wakes the sender of a channel when its outbox has new entries.
#[derive(Default)]
pub struct OutboxSignals {
    console: Notify,
    telegram: Notify,
    whatsapp: Notify,
}

impl OutboxSignals {
    pub fn get(&self, channel: Channel) -> &Notify {
        match channel {
            Channel::Console => &self.console,
            Channel::Telegram => &self.telegram,
            Channel::Whatsapp => &self.whatsapp,
        }
    }
}

enum Job {
    Messages {
        messages: Vec<Inbound>,
        meta: Vec<(String, Vec<u8>)>,
        done: oneshot::Sender<Result<Vec<Ack>, String>>,
    },
    Outgoing {
        messages: Vec<Outgoing>,
        /// A staff message that asks the reporter something: the code of its case, kept in the
        /// reporter's session so that the next message goes to the case as the answer.
        asking: Option<String>,
        done: oneshot::Sender<Result<Vec<OutboxEntry>, String>>,
    },
    /// Work that must not interleave with any commit (a purge): run by the writer between groups.
    Exclusive(Box<dyn FnOnce(&Store) + Send>),
}

/// A handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    store: Store,
    bot: SharedBot,
    signals: Arc<OutboxSignals>,
}

impl Engine {
    /// Starts the writer task. It ends when every handle is dropped, after finishing queued work.
    pub fn start(
        store: Store,
        bot: SharedBot,
        actions: Actions,
        effects: Arc<dyn EffectHandler>,
        config: EngineConfig,
    ) -> (Engine, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let signals = Arc::new(OutboxSignals::default());
        let writer = Writer {
            store: store.clone(),
            bot: bot.clone(),
            actions,
            effects,
            config,
            signals: signals.clone(),
            own_thread: false,
        };
        let task = spawn_writer(writer, rx);
        (
            Engine {
                jobs: tx,
                store,
                bot,
                signals,
            },
            task,
        )
    }

    /// Handles one message; returns once its effects are durable.
    pub async fn handle(&self, message: Inbound) -> Result<Ack, EngineError> {
        let mut acks = self.handle_batch(vec![message], Vec::new()).await?;
        acks.pop().ok_or(EngineError::Stopped)
    }

    /// Handles messages in order, writing `meta` (e.g. a poller's next offset) in the same commit.
    pub async fn handle_batch(
        &self,
        messages: Vec<Inbound>,
        meta: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<Ack>, EngineError> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job::Messages {
                messages,
                meta,
                done,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        match wait.await {
            Ok(Ok(acks)) => Ok(acks),
            Ok(Err(message)) => Err(EngineError::Commit(message)),
            Err(_) => Err(EngineError::Stopped),
        }
    }

    /// Queues messages the bot sends on its own (staff replies, notifications), durably.
    pub async fn send(&self, messages: Vec<Outgoing>) -> Result<Vec<OutboxEntry>, EngineError> {
        self.send_asking(messages, None).await
    }

    /// As [`Engine::send`]; with `asking` (a case code), the same commit marks the recipient's
    /// session so that their next message is added to that case ([`crate::dialog::runtime::STAFF_ASKED`]):
    /// a family's answer to a staff question was lost, "B 2345678 pak" got "belum paham" (found by
    /// playing families, stop 20).
    pub async fn send_asking(
        &self,
        messages: Vec<Outgoing>,
        asking: Option<String>,
    ) -> Result<Vec<OutboxEntry>, EngineError> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job::Outgoing {
                messages,
                asking,
                done,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        match wait.await {
            Ok(Ok(entries)) => Ok(entries),
            Ok(Err(message)) => Err(EngineError::Commit(message)),
            Err(_) => Err(EngineError::Stopped),
        }
    }

    /// Runs `work` on a blocking thread while the writer waits: no message is processed and no
    /// session written meanwhile (a purge must not see a session the writer is about to write back).
    pub async fn exclusive<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let (done, wait) = oneshot::channel();
        let job = Job::Exclusive(Box::new(move |store: &Store| {
            let _ = done.send(work(store));
        }));
        self.jobs
            .send(job)
            .await
            .map_err(|_| EngineError::Stopped)?;
        wait.await.map_err(|_| EngineError::Stopped)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn bot(&self) -> Arc<Bot> {
        match self.bot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the dialogs being served (after they passed the checker).
    pub fn replace_bot(&self, bot: Bot) {
        let mut guard = match self.bot.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(bot);
    }

    /// Notified whenever the channel's outbox gets new entries.
    pub fn outbox_signal(&self, channel: Channel) -> &Notify {
        self.signals.get(channel)
    }

    pub fn signals(&self) -> Arc<OutboxSignals> {
        self.signals.clone()
    }
}

struct Writer {
    store: Store,
    bot: SharedBot,
    actions: Actions,
    effects: Arc<dyn EffectHandler>,
    config: EngineConfig,
    signals: Arc<OutboxSignals>,
    /// The writer has a thread of its own ([`spawn_writer`]): it flushes in place rather than handing
    /// the flush to a blocking thread and waiting for it.
    own_thread: bool,
}

/// What a group of jobs produced, waiting for the flush. Each job is processed into a `Pending` of its
/// own first and [`Pending::absorb`]ed into the group's once all of it went through, so a job that
/// fails halfway (a sequence number or a read refused by a failing disk) leaves nothing behind: no
/// message marked seen without its replies, no poller offset past messages that were not handled.
#[derive(Default)]
struct Pending {
    batch: WriteBatch,
    sessions: HashMap<UserKey, Session>,
    seen: HashSet<(Channel, String)>,
    channels: HashSet<Channel>,
    /// Day counters this group adds to (key → how many), written with the group's batch.
    counts: HashMap<Vec<u8>, u64>,
}

impl Pending {
    fn absorb(&mut self, job: Pending) {
        self.batch.append(job.batch);
        self.sessions.extend(job.sessions);
        self.seen.extend(job.seen);
        self.channels.extend(job.channels);
        for (key, add) in job.counts {
            *self.counts.entry(key).or_default() += add;
        }
    }
}

/// Runs the writer on a thread of its own (`pandu-engine`, a single-threaded runtime), so every
/// step runs on that one thread: the compiled patterns keep one set of match caches instead of one per
/// runtime worker the task would otherwise wander between (issue 16: about 7 MB on the footprint
/// scenario), and a long group never holds up the HTTP side. The handle returned ends when the writer
/// does. Falls back to a task on the caller's runtime if the thread cannot be started.
fn spawn_writer(mut writer: Writer, jobs: mpsc::Receiver<Job>) -> tokio::task::JoinHandle<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "no engine thread; the writer shares the runtime");
            return tokio::spawn(writer.run(jobs));
        }
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    writer.own_thread = true;
    let spawned = std::thread::Builder::new()
        .name("pandu-engine".into())
        .spawn(move || {
            runtime.block_on(writer.run(jobs));
            // Dropping the runtime waits for its blocking work (a flush in progress) to finish.
            drop(runtime);
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_) => tokio::spawn(async move {
            let _ = done_rx.await;
        }),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the engine thread");
            tokio::spawn(async {})
        }
    }
}

/// How long a group's commit is retried before its messages fail (their platforms send them again).
const COMMIT_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(5);
/// The first wait after a failed write, doubled after each further failure up to `WRITE_RETRY_MAX`.
const WRITE_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
const WRITE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

impl Writer {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut probe_delay = WRITE_RETRY_FIRST;
        let mut next = None;
        loop {
            // While writes fail and no work comes, probe (and reopen) with backoff, so that health and
            // the senders recover without waiting for the next message.
            let first = if let Some(job) = next.take() {
                Some(job)
            } else if self.store.write_failing() {
                tokio::select! {
                    job = jobs.recv() => job,
                    () = tokio::time::sleep(probe_delay) => {
                        if self.probe().await {
                            probe_delay = WRITE_RETRY_FIRST;
                        } else {
                            probe_delay = (probe_delay * 2).min(WRITE_RETRY_MAX);
                        }
                        continue;
                    }
                }
            } else {
                probe_delay = WRITE_RETRY_FIRST;
                jobs.recv().await
            };
            let Some(first) = first else {
                break;
            };
            if let Job::Exclusive(work) = first {
                let store = self.store.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || work(&store)).await {
                    tracing::error!(error = %e, "exclusive work failed");
                }
                continue;
            }
            let mut group = vec![first];
            let mut count = group_size(&group);
            while count < self.config.max_batch {
                match jobs.try_recv() {
                    // Run after this group is durable.
                    Ok(job @ Job::Exclusive(_)) => {
                        next = Some(job);
                        break;
                    }
                    Ok(job) => {
                        group.push(job);
                        count = group_size(&group);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group).await;
        }
    }

    /// One write and flush with nothing in it but a probe record; on failure, reopens the database.
    async fn probe(&self) -> bool {
        let mut batch = WriteBatch::default();
        batch.put_meta(
            "health.probe",
            crate::time::now_secs().to_be_bytes().to_vec(),
        );
        if self.write(batch.clone()).await.is_ok() {
            tracing::info!("writes work again");
            return true;
        }
        self.reopen().await;
        self.write(batch).await.is_ok()
    }

    async fn write(&self, batch: WriteBatch) -> Result<(), storage::Error> {
        self.store.apply(batch)?;
        if self.own_thread {
            self.store.flush_blocking()
        } else {
            self.store.flush().await
        }
    }

    async fn reopen(&self) {
        if let Err(e) = self.store.reopen().await {
            tracing::warn!(error = %e, "cannot reopen the database yet");
        }
    }

    /// Writes a group's batch and flushes it, retrying with backoff (and a reopen of the database)
    /// for up to [`COMMIT_RETRY_FOR`].
    async fn commit(&self, batch: WriteBatch) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + COMMIT_RETRY_FOR;
        let mut delay = WRITE_RETRY_FIRST;
        loop {
            // Written again whole after a failure: applying the same records twice is harmless, and
            // after a reopen whatever was not flushed is gone.
            let error = match self.write(batch.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() + delay > deadline {
                return Err(error);
            }
            tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "commit failed; retrying");
            tokio::time::sleep(delay).await;
            self.reopen().await;
            delay = (delay * 2).min(WRITE_RETRY_MAX);
        }
    }

    async fn commit_group(&self, group: Vec<Job>) {
        let bot = match self.bot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let mut pending = Pending {
            batch: WriteBatch::default(),
            sessions: HashMap::new(),
            seen: HashSet::new(),
            channels: HashSet::new(),
            counts: HashMap::new(),
        };
        let mut results = Vec::with_capacity(group.len());
        for job in &group {
            let result = match job {
                Job::Messages { messages, meta, .. } => {
                    // All of the job or none of it: a failure drops `own` with whatever it holds.
                    let mut own = Pending::default();
                    let mut acks = Vec::with_capacity(messages.len());
                    let mut failure = None;
                    for message in messages {
                        match self.process(&bot, message, &pending, &mut own) {
                            Ok(ack) => acks.push(ack),
                            Err(e) => {
                                failure = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    match failure {
                        Some(e) => Err(e),
                        None => {
                            for (name, value) in meta {
                                own.batch.put_meta(name, value.clone());
                            }
                            pending.absorb(own);
                            Ok(JobOutput::Acks(acks))
                        }
                    }
                }
                Job::Exclusive(_) => Ok(JobOutput::Entries(Vec::new())),
                Job::Outgoing {
                    messages, asking, ..
                } => {
                    let now = crate::time::now_secs();
                    let mut own = Pending::default();
                    let queued = self
                        .queue(messages.clone(), now, &mut own)
                        .and_then(|entries| {
                            if let (Some(code), Some(first)) = (asking, messages.first()) {
                                self.mark_asked(&first.user, code, now, &pending, &mut own)?;
                            }
                            Ok(entries)
                        });
                    match queued {
                        Ok(entries) => {
                            pending.absorb(own);
                            Ok(JobOutput::Entries(entries))
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            results.push(result);
        }
        // The counters: read (only this writer writes them) plus this group's, in the same batch.
        for (key, add) in std::mem::take(&mut pending.counts) {
            match self.store.count(&key) {
                Ok(before) => pending.batch.put_count(key, before.saturating_add(add)),
                Err(e) => tracing::warn!(error = %e, "usage counter not read; not counted"),
            }
        }
        // One atomic write and one flush for the whole group; an error fails every job in it.
        let started = std::time::Instant::now();
        let durable = self.commit(std::mem::take(&mut pending.batch)).await;
        let metrics = self.store.metrics();
        metrics.commit(started.elapsed(), group_size(&group), durable.is_ok());
        if let Err(e) = &durable {
            tracing::error!(error = %e, "commit failed; nothing in this group is acknowledged");
        }
        for (job, result) in group.into_iter().zip(results) {
            let result = match (&durable, result) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), r) => r,
            };
            match job {
                Job::Messages { done, messages, .. } => {
                    if let Ok(JobOutput::Acks(acks)) = &result {
                        for (message, ack) in messages.iter().zip(acks) {
                            metrics.message_in(message.user.channel, ack.duplicate);
                        }
                    }
                    let _ = done.send(result.map(|r| match r {
                        JobOutput::Acks(acks) => acks,
                        JobOutput::Entries(_) => Vec::new(),
                    }));
                }
                Job::Outgoing { done, .. } => {
                    let _ = done.send(result.map(|r| match r {
                        JobOutput::Entries(entries) => entries,
                        JobOutput::Acks(_) => Vec::new(),
                    }));
                }
                Job::Exclusive(_) => {}
            }
        }
        if durable.is_ok() {
            for channel in pending.channels {
                self.signals.get(channel).notify_one();
            }
        }
    }

    /// Runs one message, reading what the group (`group`) and this job (`pending`) wrote before it,
    /// and writing into `pending` only.
    fn process(
        &self,
        bot: &Bot,
        message: &Inbound,
        group: &Pending,
        pending: &mut Pending,
    ) -> Result<Ack, EngineError> {
        let channel = message.user.channel;
        let seen_key = (channel, message.message_id.clone());
        if pending.seen.contains(&seen_key)
            || group.seen.contains(&seen_key)
            || self.store.seen(channel, &message.message_id)?
        {
            return Ok(Ack {
                duplicate: true,
                replies: Vec::new(),
            });
        }
        let now = crate::time::now_secs();
        let session = match pending
            .sessions
            .get(&message.user)
            .or_else(|| group.sessions.get(&message.user))
        {
            Some(session) => session.clone(),
            None => match self.store.session(&message.user)? {
                Some(session) => session,
                None => new_session(message, now),
            },
        };
        let env = StepEnv {
            now,
            seed: random_seed(),
            idle_secs: self.config.idle_secs,
            user: &message.user,
        };
        let last_seen = session.last_seen;
        let was_in = session.position.as_ref().map(|p| p.flow.clone());
        let step = dialog::step(bot, &self.actions, session, &message.input, &env);
        if let Some(at) = &step.not_understood {
            // For the content authors: where messages go unanswered (counted from the log by node;
            // the text, masked, only in the database for the desk, never in the log).
            tracing::info!(node = %at, "message not understood");
            if let InputKind::Text(raw) = &message.input.kind {
                let entry = Unanswered {
                    at: now,
                    node: at.clone(),
                    text: stats::mask(raw),
                };
                pending
                    .batch
                    .put_unanswered(self.store.next_seq()?, &entry)?;
            }
        }
        // Usage counts for the overview: a conversation per user and day (WIB), flows entered.
        let today = stats::wib_date(now);
        if last_seen == 0 || stats::wib_date(last_seen) != today {
            *pending
                .counts
                .entry(stats::day_key(&today, channel))
                .or_default() += 1;
        }
        // A flow counts when the input took the user into it (not a step inside it, and not the
        // menu shown again after the fallback).
        let entered = step
            .entered
            .as_ref()
            .filter(|f| was_in.as_ref() != Some(*f));
        if let Some(flow) = entered.filter(|_| step.not_understood.is_none()) {
            *pending
                .counts
                .entry(stats::flow_key(&today, flow))
                .or_default() += 1;
        }
        let mut outgoing: Vec<Outgoing> = step
            .replies
            .into_iter()
            .map(|reply| Outgoing {
                user: message.user.clone(),
                reply,
                kind: OutboxKind::Reply,
            })
            .collect();
        for effect in &step.effects {
            let mut ctx = EffectContext {
                store: &self.store,
                batch: &mut pending.batch,
                user: &message.user,
                session: &step.session,
                now,
                outgoing: &mut outgoing,
            };
            self.effects.apply(effect, &mut ctx)?;
        }
        pending.batch.mark_seen(channel, &message.message_id, now);
        pending.batch.put_session(&message.user, &step.session)?;
        pending.seen.insert(seen_key);
        pending
            .sessions
            .insert(message.user.clone(), step.session.clone());
        let (own, others): (Vec<Outgoing>, Vec<Outgoing>) =
            outgoing.into_iter().partition(|o| o.user == message.user);
        let replies = self.queue(own, now, pending)?;
        self.queue(others, now, pending)?;
        Ok(Ack {
            duplicate: false,
            replies,
        })
    }

    /// Keeps in `user`'s session that staff asked about case `code` at `now` (see
    /// [`Engine::send_asking`]). A user without a session (purged) is left alone.
    fn mark_asked(
        &self,
        user: &UserKey,
        code: &str,
        now: u64,
        pending: &Pending,
        own: &mut Pending,
    ) -> Result<(), EngineError> {
        let session = match pending.sessions.get(user) {
            Some(session) => Some(session.clone()),
            None => self.store.session(user)?,
        };
        let Some(mut session) = session else {
            return Ok(());
        };
        session.vars.insert(
            crate::dialog::runtime::STAFF_ASKED.into(),
            format!("{code} {now}"),
        );
        own.batch.put_session(user, &session)?;
        own.sessions.insert(user.clone(), session);
        Ok(())
    }

    fn queue(
        &self,
        messages: Vec<Outgoing>,
        now: u64,
        pending: &mut Pending,
    ) -> Result<Vec<OutboxEntry>, EngineError> {
        let mut entries = Vec::with_capacity(messages.len());
        for message in messages {
            let entry = OutboxEntry {
                seq: self.store.next_seq()?,
                user: message.user,
                reply: message.reply,
                kind: message.kind,
                created_at: now,
                attempts: 0,
                not_before_ms: 0,
                held: false,
                last_error: None,
            };
            pending.batch.push_outbox(&entry)?;
            pending.channels.insert(entry.user.channel);
            entries.push(entry);
        }
        Ok(entries)
    }
}

enum JobOutput {
    Acks(Vec<Ack>),
    Entries(Vec<OutboxEntry>),
}

fn group_size(group: &[Job]) -> usize {
    group
        .iter()
        .map(|job| match job {
            Job::Messages { messages, .. } => messages.len(),
            Job::Outgoing { messages, .. } => messages.len(),
            Job::Exclusive(_) => 0,
        })
        .sum()
}

fn new_session(message: &Inbound, now: u64) -> Session {
    Session {
        lang: message.lang_hint.unwrap_or_default(),
        created_at: now,
        last_seen: 0,
        ..Session::default()
    }
}

/// Randomness for the step (ticket codes). Falls back to the clock if the OS has none to give.
pub fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => crate::time::now_millis().rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15,
    }
}
