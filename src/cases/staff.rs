//! What staff do with cases, as library calls returning printable text: [`Desk`] for the CLI
//! (`pandu cases ...`) and [`TelegramStaff`] for the staff Telegram chat.
//!
//! Every call names its actor (`cli:<os user>`, `telegram:<user id>`). Reading a case (`show`,
//! `export`) and changing it (`reply`, `status`, `note`) are written into its timeline with the actor:
//! access to personal data is audited. Replies and status changes reach the reporter through their own
//! channel via [`Engine::send`], framed by texts from `dialogs/_cases.yaml`.
//!
//! Invariants: staff output is for staff (it may show the report); logs get codes and actors only;
//! Telegram commands are accepted only from `telegram.staff_user_ids`, and a refusal is logged.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::texts::{CaseTexts, fill};
use super::{Case, CaseError, Event, EventKind, Priority, Referral, Status, code, load};
use crate::channels::StaffCommands;
use crate::config::Config;
use crate::dialog::Reply;
use crate::engine::{Engine, Outgoing};
use crate::storage::OutboxKind;
use crate::storage::cases::Tombstone;
use crate::time::Date;

/// Staff actions on cases.
#[derive(Clone)]
pub struct Desk {
    engine: Engine,
    config: Config,
    texts: Arc<CaseTexts>,
}

fn when(secs: u64) -> String {
    let date = Date::from_unix(secs);
    let rem = secs % 86_400;
    format!("{date} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

fn age(now: u64, since: u64) -> String {
    let secs = now.saturating_sub(since);
    if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 2 * 86_400 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86_400)
    }
}

impl Desk {
    /// Loads the reporter-facing texts (`dialogs/_cases.yaml`).
    pub fn new(engine: Engine, config: &Config) -> Result<Desk, CaseError> {
        Ok(Desk {
            engine,
            config: config.clone(),
            texts: Arc::new(CaseTexts::load(config)?),
        })
    }

    /// The code as staff typed it (`pkl-7kq2mx`, `PKL 7KQ2MX`), exactly: no look-alike guessing here.
    fn code(&self, typed: &str) -> Result<String, CaseError> {
        code::exact(&self.config.cases.code_prefix, typed)
            .ok_or_else(|| CaseError::NotFound(typed.trim().to_string()))
    }

    fn case(&self, typed: &str) -> Result<Case, CaseError> {
        let code = self.code(typed)?;
        load(self.engine.store(), &code)?.ok_or(CaseError::NotFound(code))
    }

    async fn record(&self, code: &str, actor: &str, kind: EventKind) -> Result<(), CaseError> {
        let store = self.engine.store();
        store.add_case_event(
            code,
            &Event {
                at: crate::time::now_secs(),
                actor: actor.to_string(),
                kind,
            },
        )?;
        store.flush().await?;
        Ok(())
    }

    /// Queues a message to the reporter, in their language.
    async fn tell_reporter(&self, case: &Case, text: String) -> Result<(), CaseError> {
        self.engine
            .send(vec![Outgoing {
                user: case.record.reporter.clone(),
                reply: Reply {
                    text,
                    choices: Vec::new(),
                },
                kind: OutboxKind::Update {
                    case: case.code().to_string(),
                },
            }])
            .await?;
        Ok(())
    }

    fn lang_of(&self, case: &Case) -> crate::dialog::Lang {
        match self.engine.store().session(&case.record.reporter) {
            Ok(Some(session)) => session.lang,
            _ => case.record.lang,
        }
    }

    /// Cases, most urgent and oldest first; optionally only one status or priority.
    pub async fn list(
        &self,
        actor: &str,
        status: Option<Status>,
        priority: Option<Priority>,
    ) -> Result<String, CaseError> {
        let store = self.engine.store();
        let mut cases = Vec::new();
        for code in store.case_codes()? {
            if let Some(case) = load(store, &code)?
                && status.is_none_or(|s| s == case.status)
                && priority.is_none_or(|p| p == case.priority)
            {
                cases.push(case);
            }
        }
        cases.sort_by_key(|c| (c.priority, c.record.opened_at));
        tracing::info!(actor, count = cases.len(), "staff listed cases");
        if cases.is_empty() {
            return Ok("no cases".into());
        }
        let now = crate::time::now_secs();
        let mut out = String::new();
        for c in &cases {
            let status = match c.referred_to {
                Some(r) if c.status == Status::Referred => format!("referred:{}", r.as_str()),
                _ => c.status.as_str().to_string(),
            };
            let _ = writeln!(
                out,
                "{}  {}  {:<16} {:<14} {:<10} opened {} ago",
                c.code(),
                c.priority.as_str(),
                status,
                c.record.category,
                if c.record.country.is_empty() {
                    "?"
                } else {
                    &c.record.country
                },
                age(now, c.record.opened_at)
            );
        }
        Ok(out.trim_end().to_string())
    }

    /// One case in full, timeline included. Recorded as an access.
    pub async fn show(&self, actor: &str, typed: &str) -> Result<String, CaseError> {
        let case = self.case(typed)?;
        self.record(
            case.code(),
            actor,
            EventKind::Accessed { how: "show".into() },
        )
        .await?;
        tracing::info!(case = %case.code(), actor, "staff viewed a case");
        let case = load(self.engine.store(), case.code())?.unwrap_or(case);
        let r = &case.record;
        let mut out = String::new();
        let target = case.priority.target_hours(&self.config);
        let _ = writeln!(
            out,
            "{}  {}  {}",
            r.code,
            case.priority.as_str(),
            self.status_line(&case)
        );
        let _ = writeln!(
            out,
            "category {} · country {} · opened {} · target {target} h",
            r.category,
            if r.country.is_empty() {
                "?"
            } else {
                &r.country
            },
            when(r.opened_at)
        );
        let _ = writeln!(
            out,
            "reporter {} ({}) · sharing with BP3MI/KP2MI/embassy: {}",
            r.reporter,
            r.lang.code(),
            if r.share_consent {
                "yes"
            } else {
                "NO (dinas only)"
            }
        );
        let _ = writeln!(out, "\nreport:");
        for name in &self.texts.intake_fields {
            if let Some(value) = r.fields.get(name) {
                let _ = writeln!(out, "  {name}: {value}");
            }
        }
        for (name, value) in &r.fields {
            if !self.texts.intake_fields.contains(name) {
                let _ = writeln!(out, "  {name}: {value}");
            }
        }
        if !r.attachments.is_empty() {
            let _ = writeln!(out, "attachments:");
            for a in &r.attachments {
                let _ = writeln!(
                    out,
                    "  {:?} {}",
                    a.kind,
                    a.stored_path.as_deref().unwrap_or(&a.reference)
                );
            }
        }
        let _ = writeln!(out, "\ntimeline:");
        for e in &case.timeline {
            let _ = writeln!(
                out,
                "  {}  {:<14} {}",
                when(e.at),
                e.actor,
                describe(&e.kind)
            );
        }
        Ok(out.trim_end().to_string())
    }

    fn status_line(&self, case: &Case) -> String {
        match case.referred_to {
            Some(r) if case.status == Status::Referred => format!("referred to {}", r.as_str()),
            _ => case.status.as_str().to_string(),
        }
    }

    /// Sends a message to the reporter and records it. A first reply moves a new case into review.
    pub async fn reply(&self, actor: &str, typed: &str, text: &str) -> Result<String, CaseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CaseError::Usage("the reply is empty".into()));
        }
        let case = self.case(typed)?;
        let lang = self.lang_of(&case);
        let framed = fill(
            self.texts.staff_reply.get(lang),
            &[("code", case.code()), ("text", text)],
        );
        // Queued first, recorded second: a reply is never recorded as sent when it was not queued.
        self.tell_reporter(&case, framed).await?;
        self.record(
            case.code(),
            actor,
            EventKind::StaffReply {
                text: text.to_string(),
            },
        )
        .await?;
        if case.status == Status::New {
            self.record(
                case.code(),
                actor,
                EventKind::StatusChanged {
                    from: Status::New,
                    to: Status::InReview,
                    referred_to: None,
                    note: Some("first reply".into()),
                },
            )
            .await?;
        }
        tracing::info!(case = %case.code(), actor, "staff replied to a reporter");
        Ok(format!(
            "reply queued for the reporter of {} ({})",
            case.code(),
            case.record.reporter.channel.as_str()
        ))
    }

    /// Moves a case on and tells the reporter the new status. The note stays internal.
    pub async fn set_status(
        &self,
        actor: &str,
        typed: &str,
        status: Status,
        to: Option<Referral>,
        note: Option<&str>,
    ) -> Result<String, CaseError> {
        let case = self.case(typed)?;
        if !case.status.can_move_to(status) {
            return Err(CaseError::BadTransition {
                code: case.code().to_string(),
                from: case.status.as_str(),
                to: status.as_str(),
            });
        }
        let referred_to = match (status, to) {
            (Status::Referred, Some(r)) => Some(r),
            (Status::Referred, None) => {
                return Err(CaseError::Usage(
                    "say to whom: --to BP3MI, KP2MI, embassy or other".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(CaseError::Usage(
                    "--to is only for the status referred".into(),
                ));
            }
            (_, None) => None,
        };
        self.record(
            case.code(),
            actor,
            EventKind::StatusChanged {
                from: case.status,
                to: status,
                referred_to,
                note: note
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
            },
        )
        .await?;
        let lang = self.lang_of(&case);
        let label = self.texts.status(status, referred_to, lang);
        let text = fill(
            self.texts.update_status.get(lang),
            &[("code", case.code()), ("status", &label)],
        );
        self.tell_reporter(&case, text).await?;
        tracing::info!(case = %case.code(), actor, status = status.as_str(), "case status changed");
        let mut out = format!(
            "{}: {} → {}",
            case.code(),
            case.status.as_str(),
            status.as_str()
        );
        if let Some(r) = referred_to {
            let _ = write!(out, " ({})", r.as_str());
            if !case.record.share_consent {
                out.push_str(
                    "\nwarning: the reporter did NOT consent to sharing their data outside the dinas; \
                     share only what they agree to (ask them with `reply`)",
                );
            }
        }
        out.push_str("\nthe reporter was told");
        Ok(out)
    }

    /// An internal note; the reporter is not told.
    pub async fn note(&self, actor: &str, typed: &str, text: &str) -> Result<String, CaseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CaseError::Usage("the note is empty".into()));
        }
        let case = self.case(typed)?;
        self.record(
            case.code(),
            actor,
            EventKind::Note {
                text: text.to_string(),
            },
        )
        .await?;
        tracing::info!(case = %case.code(), actor, "staff added a note");
        Ok(format!("note added to {}", case.code()))
    }

    /// Deletes resolved and closed cases whose last status change is before `closed_before`, with
    /// their downloaded attachments; a tombstone keeps their codes from being given again.
    pub async fn purge(&self, actor: &str, closed_before: Date) -> Result<String, CaseError> {
        let cutoff = u64::try_from(closed_before.days_since_epoch())
            .unwrap_or(0)
            .saturating_mul(86_400);
        let store = self.engine.store();
        let now = crate::time::now_secs();
        let (mut purged, mut files) = (0usize, 0usize);
        for code in store.case_codes()? {
            let Some(case) = load(store, &code)? else {
                continue;
            };
            let Some(finished) = case.finished_at() else {
                continue;
            };
            if finished >= cutoff {
                continue;
            }
            let mut attachments: Vec<_> = case.record.attachments.clone();
            for e in &case.timeline {
                if let EventKind::ReporterMessage { attachments: a, .. } = &e.kind {
                    attachments.extend(a.iter().cloned());
                }
            }
            for a in &attachments {
                if let Some(path) = &a.stored_path
                    && std::fs::remove_file(self.config.data_dir.join(path))
                        .or_else(|_| std::fs::remove_file(path))
                        .is_ok()
                {
                    files += 1;
                }
            }
            store.purge_case(
                &case.record,
                &Tombstone {
                    purged_at: now,
                    actor: actor.to_string(),
                },
            )?;
            purged += 1;
        }
        store.flush().await?;
        tracing::info!(actor, purged, files, before = %closed_before, "cases purged");
        Ok(format!(
            "purged {purged} case(s) closed before {closed_before} ({files} attachment file(s) deleted)"
        ))
    }

    /// The whole case as JSON (a data-subject request). Recorded as an access.
    pub async fn export(&self, actor: &str, typed: &str) -> Result<String, CaseError> {
        let case = self.case(typed)?;
        self.record(
            case.code(),
            actor,
            EventKind::Accessed {
                how: "export".into(),
            },
        )
        .await?;
        tracing::info!(case = %case.code(), actor, "staff exported a case");
        let case = load(self.engine.store(), case.code())?.unwrap_or(case);
        serde_json::to_string_pretty(&case).map_err(|e| CaseError::Usage(e.to_string()))
    }
}

fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::Opened { priority, reason } => {
            format!("opened as {} ({reason})", priority.as_str())
        }
        EventKind::ReporterMessage { text, attachments } => format!(
            "reporter wrote: {}{}",
            text.as_deref().unwrap_or("-"),
            if attachments.is_empty() {
                String::new()
            } else {
                format!(" [+{} attachment(s)]", attachments.len())
            }
        ),
        EventKind::StaffReply { text } => format!("reply to reporter: {text}"),
        EventKind::StatusChanged {
            from,
            to,
            referred_to,
            note,
        } => {
            let mut s = format!("status {} → {}", from.as_str(), to.as_str());
            if let Some(r) = referred_to {
                let _ = write!(s, " ({})", r.as_str());
            }
            if let Some(n) = note {
                let _ = write!(s, ": {n}");
            }
            s
        }
        EventKind::Note { text } => format!("note: {text}"),
        EventKind::PriorityChanged { from, to, reason } => {
            format!("priority {} → {} ({reason})", from.as_str(), to.as_str())
        }
        EventKind::Emergency { category } => format!("emergency words: {category}"),
        EventKind::StaffNotified { reminder } => {
            if *reminder {
                "staff chat reminded".into()
            } else {
                "staff chat told".into()
            }
        }
        EventKind::Accessed { how } => format!("viewed ({how})"),
        EventKind::Undeliverable { channel, reason } => {
            format!("undeliverable on {channel}: {reason}")
        }
    }
}

/// The staff Telegram chat's commands: `/cases [status] [priority]`, `/show CODE`,
/// `/reply CODE text`, `/status CODE STATUS [TO] [note]`, `/note CODE text`, `/help`.
pub struct TelegramStaff {
    desk: Desk,
    allowed: HashSet<String>,
}

impl TelegramStaff {
    pub fn new(engine: Engine, config: &Config) -> Result<TelegramStaff, CaseError> {
        Ok(TelegramStaff {
            desk: Desk::new(engine, config)?,
            allowed: config
                .telegram
                .staff_user_ids
                .iter()
                .map(i64::to_string)
                .collect(),
        })
    }

    async fn run(&self, actor: &str, text: &str) -> Result<String, CaseError> {
        let text = text.trim();
        let (command, rest) = split_word(text);
        // In a group, Telegram appends the bot's name: `/show@pandu_bot`.
        let command = command.split('@').next().unwrap_or("").to_ascii_lowercase();
        match command.as_str() {
            "/cases" | "/list" => {
                let (mut status, mut priority) = (None, None);
                for word in rest.split_whitespace() {
                    if let Ok(p) = Priority::parse(word) {
                        priority = Some(p);
                    } else {
                        status = Some(Status::parse(word)?);
                    }
                }
                self.desk.list(actor, status, priority).await
            }
            "/show" => self.desk.show(actor, need(rest)?).await,
            "/reply" => {
                let (code, body) = split_word(rest);
                self.desk.reply(actor, need(code)?, body).await
            }
            "/note" => {
                let (code, body) = split_word(rest);
                self.desk.note(actor, need(code)?, body).await
            }
            "/status" => {
                let (code, rest) = split_word(rest);
                let (status, rest) = split_word(rest);
                let status = Status::parse(need(status)?)?;
                let (to, note) = if status == Status::Referred {
                    let (to, note) = split_word(rest);
                    (Some(Referral::parse(need(to)?)?), note)
                } else {
                    (None, rest)
                };
                self.desk
                    .set_status(actor, need(code)?, status, to, Some(note))
                    .await
            }
            _ => Ok(self.desk.texts.staff.help.clone()),
        }
    }
}

fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

fn need(word: &str) -> Result<&str, CaseError> {
    if word.is_empty() {
        Err(CaseError::Usage("missing argument".into()))
    } else {
        Ok(word)
    }
}

impl StaffCommands for TelegramStaff {
    fn handle<'a>(
        &'a self,
        from: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        Box::pin(async move {
            if !self.allowed.contains(from.trim()) {
                // No id in the log: who tried is personal data; that someone tried is enough.
                tracing::warn!("staff command refused: sender is not in telegram.staff_user_ids");
                return None;
            }
            let actor = format!("telegram:{from}");
            Some(match self.run(&actor, text).await {
                Ok(out) => out,
                Err(e @ CaseError::Usage(_)) => {
                    format!("error: {e}\n{}", self.desk.texts.staff.help)
                }
                Err(e) => format!("error: {e}"),
            })
        })
    }
}
