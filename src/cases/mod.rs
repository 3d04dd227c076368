//! Reports and escalations: a family reports a worker in trouble abroad, gets a ticket code, and follows
//! the case; staff review, reply, refer and close it.
//!
//! - [`code`]: ticket codes (`PKL-7KQ2MX`), never sequential or guessable;
//! - [`actions`]: the dialog actions (`case.open`, `case.status`, `case.append`, `emergency.contacts`,
//!   category pickers);
//! - [`effects`]: [`CaseEffects`], the engine's effect handler: writes a case in the same atomic commit
//!   as the reply that shows its code, raises priorities on emergency words, tells the staff chat;
//! - [`staff`]: what staff do (list, show, reply, status, note, purge, export) for the CLI and the
//!   Telegram staff chat; every access is written into the case's timeline with who did it;
//! - [`contacts`]: emergency numbers by country (`config/contacts.yaml`);
//! - [`texts`]: what reporters and staff read about cases (`dialogs/_cases.yaml`).
//!
//! A case is stored as an immutable opening record plus an append-only list of events (see
//! `storage::cases`); its status and priority are computed from the events. Nothing is ever rewritten,
//! so the engine (reporter messages, emergencies) and staff tools (replies, status changes) never
//! overwrite each other's work.
//!
//! Invariants: a ticket code reaches a reporter only in the commit that stored its case; no name, number
//! or message text goes to a log or to the staff-chat announcement; reporter- and staff-facing words
//! come from `dialogs/` or `config/`, never from here.

pub mod actions;
pub mod code;
pub mod contacts;
pub mod effects;
#[cfg(test)]
mod fixture;
pub mod staff;
pub mod texts;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::channels::Shutdown;
use crate::config::Config;
use crate::dialog::{Actions, Attachment, Lang};
use crate::engine::{Engine, Outgoing};
use crate::storage::{self, Channel, OutboxKind, Store, UserKey};

pub use effects::CaseEffects;
pub use staff::{Desk, TelegramStaff};
pub use texts::CaseTexts;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("storage: {0}")]
    Storage(#[from] storage::Error),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    /// `dialogs/_cases.yaml` is unreadable or incomplete: where and what, as `pandu check` prints it.
    #[error("{0}")]
    Texts(Box<crate::dialog::Diagnostic>),
    #[error("no case with code {0}")]
    NotFound(String),
    #[error("{0:?} is not a status; use new, in_review, referred, resolved or closed")]
    BadStatus(String),
    #[error("{0:?} is not a referral target; use BP3MI, KP2MI, embassy, police or other")]
    BadReferral(String),
    #[error("{0:?} is not a priority; use P1, P2, P3 or P4")]
    BadPriority(String),
    #[error("case {code} cannot go from {from} to {to}")]
    BadTransition {
        code: String,
        from: &'static str,
        to: &'static str,
    },
    #[error("{0:?} is not a date; write YYYY-MM-DD")]
    BadDate(String),
    #[error("{0}")]
    Usage(Usage),
    #[error("cannot write the export: {0}")]
    Export(String),
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
}

/// A staff command that is incomplete or contradicts itself. The texts staff read are in
/// `dialogs/_cases.yaml` (`staff:`); these messages are for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Usage {
    #[error("the reply is empty")]
    EmptyReply,
    #[error("the note is empty")]
    EmptyNote,
    #[error("missing argument")]
    MissingArgument,
    #[error("say to whom: BP3MI, KP2MI, embassy, police or other")]
    NeedReferral,
    #[error("a referral target is only for the status referred")]
    ReferralOnlyWhenReferred,
    /// The reporter chose "for the dinas only": a referral needs the basis in the note
    /// (`setuju: ...` they agreed since, `darurat: ...` a danger to life).
    #[error(
        "the reporter did not agree to sharing: give the basis in the note (setuju: / darurat:)"
    )]
    NoConsent,
}

/// Where a case stands. `Closed` is final; a resolved case can be reopened into review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    InReview,
    Referred,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::InReview,
        Status::Referred,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InReview => "in_review",
            Status::Referred => "referred",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Accepts the names staff are likely to type, in English or Indonesian.
    pub fn parse(text: &str) -> Result<Status, CaseError> {
        let t = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Ok(match t.as_str() {
            "new" | "baru" => Status::New,
            "in_review" | "review" | "inreview" | "ditinjau" | "diproses" | "proses" => {
                Status::InReview
            }
            "referred" | "refer" | "diteruskan" | "dirujuk" => Status::Referred,
            "resolved" | "selesai" | "done" => Status::Resolved,
            "closed" | "close" | "ditutup" | "tutup" => Status::Closed,
            _ => return Err(CaseError::BadStatus(text.to_string())),
        })
    }

    /// The status machine: new → in review → referred → resolved, or closed from anywhere open.
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (Closed, _) => false,
            (Referred, Referred) => true, // referred on to someone else
            (a, b) if a == b => false,
            (_, New) => false,
            (Resolved, InReview | Closed) => true,
            (Resolved, _) => false,
            _ => true,
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }
}

/// Who a case was referred to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Referral {
    Bp3mi,
    Kp2mi,
    Embassy,
    /// The police (Polri): trafficking (TPPO), violence, a missing person.
    Police,
    Other,
}

impl Referral {
    /// Every target, in the order staff are offered them.
    pub const ALL: [Referral; 5] = [
        Referral::Bp3mi,
        Referral::Kp2mi,
        Referral::Embassy,
        Referral::Police,
        Referral::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Referral::Bp3mi => "bp3mi",
            Referral::Kp2mi => "kp2mi",
            Referral::Embassy => "embassy",
            Referral::Police => "police",
            Referral::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Result<Referral, CaseError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "bp3mi" | "up3mi" => Referral::Bp3mi,
            "kp2mi" | "bp2mi" | "ministry" | "kementerian" => Referral::Kp2mi,
            "embassy" | "kbri" | "kjri" | "kdei" | "consulate" | "kedutaan" => Referral::Embassy,
            "police" | "polisi" | "polri" | "polda" | "polres" | "kepolisian" => Referral::Police,
            "other" | "lainnya" | "lain" => Referral::Other,
            _ => return Err(CaseError::BadReferral(text.to_string())),
        })
    }
}

/// Urgency. `P1` is the most urgent (and the smallest in `Ord`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum Priority {
    P1,
    P2,
    P3,
    #[default]
    P4,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    pub fn parse(text: &str) -> Result<Priority, CaseError> {
        Ok(match text.trim().to_ascii_uppercase().as_str() {
            "P1" | "1" => Priority::P1,
            "P2" | "2" => Priority::P2,
            "P3" | "3" => Priority::P3,
            "P4" | "4" => Priority::P4,
            _ => return Err(CaseError::BadPriority(text.to_string())),
        })
    }

    /// The response target from `cases.response_hours` (defaults: 4, 24, 72, 120 hours).
    pub fn target_hours(self, config: &Config) -> u32 {
        let default = match self {
            Priority::P1 => 4,
            Priority::P2 => 24,
            Priority::P3 => 72,
            Priority::P4 => 120,
        };
        config
            .cases
            .response_hours
            .get(self.as_str())
            .copied()
            .unwrap_or(default)
    }
}

/// What the reporter gave when the case was opened. Written once, never changed (only purged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub code: String,
    pub reporter: UserKey,
    /// The reporter's language at intake, for updates sent when their session is gone.
    pub lang: Lang,
    pub opened_at: u64,
    /// A category key of `dialogs/_cases.yaml` (`meninggal`, `gaji`, ...).
    pub category: String,
    /// The destination country's key in `config/contacts.yaml`, or empty when not recognised.
    pub country: String,
    /// The priority at opening; later changes are events.
    pub priority: Priority,
    /// The reporter agreed to share the data with BP3MI, the ministry or an embassy (UU 27/2022).
    pub share_consent: bool,
    /// The intake answers by variable name.
    pub fields: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
}

/// One line of a case's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    /// `reporter`, `system`, `cli:<os user>`, `telegram:<user id>`.
    pub actor: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum EventKind {
    Opened {
        priority: Priority,
        /// Why this priority: the category, an emergency word, "not safe now".
        reason: String,
    },
    ReporterMessage {
        text: Option<String>,
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    StaffReply {
        text: String,
    },
    StatusChanged {
        from: Status,
        to: Status,
        referred_to: Option<Referral>,
        note: Option<String>,
    },
    Note {
        text: String,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
        reason: String,
    },
    /// Emergency words were seen in a message of the reporter.
    Emergency {
        category: String,
    },
    /// The staff chat was told about the case (again, for a reminder).
    StaffNotified {
        reminder: bool,
    },
    /// A staff member read the case (`show`, `export`): access to personal data is audited.
    Accessed {
        how: String,
    },
    /// A message to the reporter could not be delivered (they blocked the bot, the number is gone):
    /// staff were told to reach the family another way.
    Undeliverable {
        channel: String,
        reason: String,
    },
    /// A staff member was made responsible for the case (empty: nobody).
    Assigned {
        to: String,
    },
}

/// An emergency seen before the reporter's case exists; applied when it is opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingEmergency {
    pub category: String,
    pub priority: Priority,
    pub at: u64,
}

/// A case as staff see it: the opening record, the current state computed from its events, and the
/// timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    #[serde(flatten)]
    pub record: CaseRecord,
    pub status: Status,
    pub referred_to: Option<Referral>,
    pub priority: Priority,
    pub updated_at: u64,
    pub timeline: Vec<Event>,
}

impl Case {
    /// Replays the events over the opening record.
    pub fn fold(record: CaseRecord, events: Vec<Event>) -> Case {
        let mut case = Case {
            status: Status::New,
            referred_to: None,
            priority: record.priority,
            updated_at: record.opened_at,
            record,
            timeline: Vec::new(),
        };
        for event in events {
            case.updated_at = case.updated_at.max(event.at);
            match &event.kind {
                EventKind::StatusChanged {
                    to, referred_to, ..
                } => {
                    case.status = *to;
                    if *to == Status::Referred {
                        case.referred_to = *referred_to;
                    }
                }
                EventKind::PriorityChanged { to, .. } => case.priority = *to,
                _ => {}
            }
            case.timeline.push(event);
        }
        case
    }

    pub fn code(&self) -> &str {
        &self.record.code
    }

    /// Who the case is assigned to, if anyone.
    pub fn assignee(&self) -> Option<&str> {
        self.timeline
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::Assigned { to } => Some(to.as_str()),
                _ => None,
            })
            .filter(|to| !to.is_empty())
    }

    /// The newest message staff sent to the reporter.
    pub fn last_staff_reply(&self) -> Option<&str> {
        self.timeline.iter().rev().find_map(|e| match &e.kind {
            EventKind::StaffReply { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// When the case last reached `resolved` or `closed`, if that is where it is.
    pub fn finished_at(&self) -> Option<u64> {
        if self.status.is_open() {
            return None;
        }
        self.timeline.iter().rev().find_map(|e| match &e.kind {
            EventKind::StatusChanged { .. } => Some(e.at),
            _ => None,
        })
    }

    /// When the staff chat was last told about this case.
    pub fn last_notified_at(&self) -> Option<u64> {
        self.timeline.iter().rev().find_map(|e| match &e.kind {
            EventKind::StaffNotified { .. } => Some(e.at),
            _ => None,
        })
    }
}

/// Loads a case with all its events.
pub fn load(store: &Store, code: &str) -> Result<Option<Case>, CaseError> {
    let Some(record) = store.case_record(code)? else {
        return Ok(None);
    };
    let events = store.case_events(code)?;
    Ok(Some(Case::fold(record, events)))
}

/// The reporter's newest case that is still open.
pub fn open_case_of(store: &Store, user: &UserKey) -> Result<Option<Case>, CaseError> {
    let mut best: Option<Case> = None;
    for code in store.case_codes_of(user)? {
        if let Some(case) = load(store, &code)?
            && case.status.is_open()
            && best
                .as_ref()
                .is_none_or(|b| case.record.opened_at >= b.record.opened_at)
        {
            best = Some(case);
        }
    }
    Ok(best)
}

/// The staff chat as a user key, or `None` when no staff chat is configured.
pub fn staff_chat(config: &Config) -> Option<UserKey> {
    (config.telegram.staff_chat_id != 0)
        .then(|| UserKey::new(Channel::Telegram, config.telegram.staff_chat_id.to_string()))
}

/// The announcement of a case for the staff chat: code, priority, category, country; nothing personal.
pub fn announcement(case: &Case, config: &Config, texts: &CaseTexts, reminder: bool) -> String {
    let hours = case.priority.target_hours(config).to_string();
    let country = if case.record.country.is_empty() {
        "?"
    } else {
        case.record.country.as_str()
    };
    let template = if reminder {
        &texts.staff.reminder
    } else {
        &texts.staff.new_case
    };
    texts::fill(
        template,
        &[
            ("code", case.code()),
            ("priority", case.priority.as_str()),
            ("hours", &hours),
            ("category", &case.record.category),
            ("country", country),
        ],
    )
}

/// Registers every case action (see [`actions`]) with their texts and contacts loaded from the config.
pub fn register_actions(
    registry: &mut Actions,
    store: Store,
    config: &Config,
) -> Result<(), CaseError> {
    let texts = Arc::new(CaseTexts::load(config)?);
    let contacts = Arc::new(contacts::Contacts::load(&config.cases.contacts_file)?);
    actions::register(registry, store, config, texts, contacts);
    Ok(())
}

/// Announces P1 cases still `new` after their response target, again every target period, until staff
/// move them on. Returns how many reminders were queued.
pub async fn check_reminders(
    engine: &Engine,
    config: &Config,
    now: u64,
) -> Result<usize, CaseError> {
    reminders(engine, config, &CaseTexts::load(config)?, now).await
}

async fn reminders(
    engine: &Engine,
    config: &Config,
    texts: &CaseTexts,
    now: u64,
) -> Result<usize, CaseError> {
    let Some(staff) = staff_chat(config) else {
        return Ok(0);
    };
    let store = engine.store().clone();
    let mut sent = 0;
    for code in store.case_codes()? {
        let Some(case) = load(&store, &code)? else {
            continue;
        };
        if case.priority != Priority::P1 || case.status != Status::New {
            continue;
        }
        let target = u64::from(case.priority.target_hours(config)) * 3600;
        let since = case.last_notified_at().unwrap_or(case.record.opened_at);
        let due = case.record.opened_at + target;
        if now < due || now < since + target {
            continue;
        }
        engine
            .send(vec![Outgoing {
                user: staff.clone(),
                reply: crate::dialog::Reply {
                    text: announcement(&case, config, texts, true),
                    choices: Vec::new(),
                },
                kind: OutboxKind::Update { case: code.clone() },
            }])
            .await?;
        store.add_case_event(
            &code,
            &Event {
                at: now,
                actor: "system".into(),
                kind: EventKind::StaffNotified { reminder: true },
            },
        )?;
        store.flush().await?;
        tracing::info!(case = %code, "p1 case still new: staff reminded");
        sent += 1;
    }
    Ok(sent)
}

/// Records, for every message about a case that its channel gave up on (the reporter blocked the bot,
/// the chat is gone), an `Undeliverable` event in the case and a note to the staff chat, once. Reads
/// only the delivery records that ended since its last look (a cursor per channel in the store).
/// Returns how many were recorded.
pub async fn check_undeliverable(
    engine: &Engine,
    config: &Config,
    now: u64,
) -> Result<usize, CaseError> {
    undeliverable(engine, config, &CaseTexts::load(config)?, now).await
}

async fn undeliverable(
    engine: &Engine,
    config: &Config,
    texts: &CaseTexts,
    now: u64,
) -> Result<usize, CaseError> {
    let store = engine.store().clone();
    let staff = staff_chat(config);
    let report = Undeliverable {
        engine,
        store: &store,
        staff: staff.as_ref(),
        texts,
        now,
    };
    let mut found = 0;
    // Entries a channel gave up on (a permanent error when sending).
    for channel in [Channel::Telegram, Channel::Whatsapp, Channel::Console] {
        let cursor_name = format!("undeliverable_cursor:{}", channel.as_str());
        let mut cursor = store
            .meta(&cursor_name)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        loop {
            let records = store.deliveries_after(channel, cursor, 500)?;
            let Some(last) = records.last() else { break };
            let next = last.entry.seq;
            for record in &records {
                if let crate::storage::Delivery::Failed { reason, .. } = &record.delivery
                    && report.record(channel, &record.entry, reason).await?
                {
                    found += 1;
                    // The cursor moves past each one recorded: when a later write fails (a full
                    // disk), the next look does not record this one again.
                    store.set_meta(&cursor_name, &record.entry.seq.to_be_bytes())?;
                    store.flush().await?;
                }
            }
            cursor = next;
            store.set_meta(&cursor_name, &cursor.to_be_bytes())?;
            store.flush().await?;
        }
    }
    // Entries the platform accepted and later reported failed (WhatsApp `failed` statuses).
    for (channel, seq, reason) in store.late_failures(500)? {
        if let Some(record) = store.delivery(channel, seq)?
            && report.record(channel, &record.entry, &reason).await?
        {
            found += 1;
        }
        store.clear_late_failure(channel, seq)?;
        store.flush().await?;
    }
    Ok(found)
}

struct Undeliverable<'a> {
    engine: &'a Engine,
    store: &'a Store,
    staff: Option<&'a UserKey>,
    texts: &'a CaseTexts,
    now: u64,
}

impl Undeliverable<'_> {
    /// Records one undelivered entry if it was news about a case for its reporter; `true` if it was.
    async fn record(
        &self,
        channel: Channel,
        entry: &storage::OutboxEntry,
        reason: &str,
    ) -> Result<bool, CaseError> {
        let OutboxKind::Update { case } = &entry.kind else {
            return Ok(false);
        };
        // Only messages to the reporter: a failed staff-chat notice is the channel's log.
        let Some(opened) = self.store.case_record(case)? else {
            return Ok(false);
        };
        if opened.reporter != entry.user {
            return Ok(false);
        }
        self.store.add_case_event(
            case,
            &Event {
                at: self.now,
                actor: "system".into(),
                kind: EventKind::Undeliverable {
                    channel: channel.as_str().to_string(),
                    reason: reason.to_string(),
                },
            },
        )?;
        if let Some(staff) = self.staff {
            self.engine
                .send(vec![Outgoing {
                    user: staff.clone(),
                    reply: crate::dialog::Reply {
                        text: texts::fill(
                            &self.texts.staff.undeliverable,
                            &[
                                ("code", case),
                                ("channel", self.texts.channel_words(channel.as_str())),
                                ("reason", reason),
                            ],
                        ),
                        choices: Vec::new(),
                    },
                    kind: OutboxKind::Update { case: case.clone() },
                }])
                .await?;
        }
        tracing::warn!(case = %case, channel = channel.as_str(), "message to a reporter undeliverable: staff told");
        Ok(true)
    }
}

/// How often [`spawn_reminders`] looks for overdue P1 cases.
pub const REMINDER_INTERVAL_SECS: u64 = 300;

/// Runs [`check_reminders`] and [`check_undeliverable`] every [`REMINDER_INTERVAL_SECS`] until shutdown.
pub fn spawn_reminders(
    engine: Engine,
    config: Config,
    mut shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(std::time::Duration::from_secs(REMINDER_INTERVAL_SECS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = tick.tick() => {
                    // Read each tick, so an edit of `_cases.yaml` is picked up without a restart.
                    let texts = match CaseTexts::load(&config) {
                        Ok(texts) => texts,
                        Err(e) => {
                            tracing::warn!(error = %e, "case texts unreadable; will try again");
                            continue;
                        }
                    };
                    let now = crate::time::now_secs();
                    if let Err(e) = reminders(&engine, &config, &texts, now).await {
                        tracing::warn!(error = %e, "case reminders failed; will try again");
                    }
                    if let Err(e) = undeliverable(&engine, &config, &texts, now).await {
                        tracing::warn!(error = %e, "undeliverable check failed; will try again");
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_status_machine_allows_only_forward_moves_and_reopening() {
        use Status::*;
        assert!(New.can_move_to(InReview));
        assert!(New.can_move_to(Referred));
        assert!(InReview.can_move_to(Referred));
        assert!(Referred.can_move_to(Referred));
        assert!(Referred.can_move_to(Resolved));
        assert!(Resolved.can_move_to(InReview));
        assert!(Resolved.can_move_to(Closed));
        assert!(!Resolved.can_move_to(Referred));
        assert!(!InReview.can_move_to(New));
        assert!(!New.can_move_to(New));
        for s in Status::ALL {
            assert!(!Closed.can_move_to(s));
        }
        assert_eq!(Status::parse("in review").unwrap(), InReview);
        assert_eq!(Status::parse("Diteruskan").unwrap(), Referred);
        assert!(Status::parse("maybe").is_err());
    }

    #[test]
    fn state_is_computed_from_events() {
        let record = CaseRecord {
            code: "PKL-22222A".into(),
            reporter: UserKey::new(Channel::Console, "a"),
            lang: Lang::Id,
            opened_at: 10,
            category: "gaji".into(),
            country: "malaysia".into(),
            priority: Priority::P3,
            share_consent: true,
            fields: BTreeMap::new(),
            attachments: vec![],
        };
        let ev = |at, kind| Event {
            at,
            actor: "x".into(),
            kind,
        };
        let case = Case::fold(
            record,
            vec![
                ev(
                    20,
                    EventKind::PriorityChanged {
                        from: Priority::P3,
                        to: Priority::P1,
                        reason: "emergency".into(),
                    },
                ),
                ev(30, EventKind::StaffReply { text: "hi".into() }),
                ev(
                    40,
                    EventKind::StatusChanged {
                        from: Status::New,
                        to: Status::Referred,
                        referred_to: Some(Referral::Bp3mi),
                        note: None,
                    },
                ),
            ],
        );
        assert_eq!(case.priority, Priority::P1);
        assert_eq!(case.status, Status::Referred);
        assert_eq!(case.referred_to, Some(Referral::Bp3mi));
        assert_eq!(case.updated_at, 40);
        assert_eq!(case.last_staff_reply(), Some("hi"));
        assert_eq!(case.finished_at(), None);
    }
}
