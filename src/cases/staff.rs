//! What staff do with cases, as library calls returning printable text: [`Desk`] for the CLI
//! (`pandu cases ...`) and [`TelegramStaff`] for the staff Telegram chat.
//!
//! Every call names its actor (`cli:<os user>`, `telegram:<user id>`). Reading a case (`show`,
//! `export`) and changing it (`reply`, `status`, `note`) are written into its timeline with the actor:
//! access to personal data is audited. Replies and status changes reach the reporter through their own
//! channel via [`Engine::send`], framed by texts from `dialogs/_cases.yaml`.
//!
//! Every word staff read (headings, timeline lines, confirmations, failures) comes from `staff:` in
//! `dialogs/_cases.yaml`, in Bahasa Indonesia; the CLI and the staff group print the same text. Status,
//! priority and referral words that staff type in commands are shown as typed (`in_review`, `P1`).
//!
//! Invariants: staff output is for staff (it may show the report); logs get codes and actors only;
//! no staff-facing word in a Rust literal (only layout: spaces, new lines); Telegram commands are
//! accepted only from `telegram.staff_user_ids`, and a refusal is logged.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::texts::{CaseTexts, StaffTexts, fill};
use super::{Case, CaseError, Event, EventKind, Priority, Referral, Status, Usage, code, load};
use crate::channels::StaffCommands;
use crate::config::Config;
use crate::dialog::{Lang, Reply};
use crate::engine::{Engine, Outgoing};
use crate::storage::OutboxKind;
use crate::storage::cases::Tombstone;
use crate::time::Date;

/// One reported job offer as staff see it (no reporter's details).
#[derive(Clone, Debug)]
pub struct ReportedOffer {
    pub code: String,
    pub opened_at: u64,
    pub status: Status,
    /// The verdict shown to the reporter (`tawaran_putusan`).
    pub verdict: String,
    /// The findings, one line each (`tawaran_temuan`).
    pub findings: String,
    /// The offer as pasted (`tawaran_teks`).
    pub text: String,
}

/// `text` in pieces of at most `max` characters, in order, nothing left out: whole paragraphs packed
/// together while they fit, a longer paragraph cut at its lines, then its sentences, then its words
/// (a word longer than `max` is cut where it must be). Pieces are trimmed; none is empty.
pub fn split_screen(text: &str, max: usize) -> Vec<String> {
    let text = text.trim();
    let max = max.max(1);
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    pack(text, max, &["\n\n", "\n", ". ", " "], &mut out);
    out.retain(|p| !p.trim().is_empty());
    out
}

/// Splits `text` at the first of `seps` and packs the units into pieces of at most `max`
/// characters; a unit too long alone is split with the next separators.
fn pack(text: &str, max: usize, seps: &[&str], out: &mut Vec<String>) {
    let len = |s: &str| s.chars().count();
    let Some((sep, rest)) = seps.split_first() else {
        let chars: Vec<char> = text.chars().collect();
        out.extend(chars.chunks(max).map(|c| c.iter().collect::<String>()));
        return;
    };
    // The separator stays with the unit before it (". " ends a sentence), trimmed at the cut.
    let units: Vec<&str> = text.split_inclusive(sep).collect();
    let mut current = String::new();
    for unit in units {
        if len(&current) + len(unit) <= max {
            current.push_str(unit);
            continue;
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_string());
        }
        current.clear();
        if len(unit) <= max {
            current.push_str(unit);
        } else {
            pack(unit.trim(), max, rest, out);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
}

/// Staff actions on cases.
#[derive(Clone)]
pub struct Desk {
    engine: Engine,
    config: Config,
    texts: Arc<CaseTexts>,
}

fn when(texts: &StaffTexts, secs: u64) -> String {
    let date = Date::from_unix(secs).to_string();
    let rem = secs % 86_400;
    let time = format!("{:02}:{:02}", rem / 3600, (rem % 3600) / 60);
    fill(&texts.time, &[("date", &date), ("time", &time)])
}

fn age(texts: &StaffTexts, now: u64, since: u64) -> String {
    let secs = now.saturating_sub(since);
    let (template, n) = if secs < 3600 {
        (&texts.age_minutes, secs / 60)
    } else if secs < 2 * 86_400 {
        (&texts.age_hours, secs / 3600)
    } else {
        (&texts.age_days, secs / 86_400)
    };
    fill(template, &[("n", &n.to_string())])
}

/// Left-aligns `text` in `width` characters (columns of the case list).
fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

impl Desk {
    /// Loads the texts (`dialogs/_cases.yaml`): what reporters and staff read.
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
    /// Queues `text` for the reporter: one message, or several in order when it is longer than a
    /// phone screen (a long staff reply), split at paragraphs, then lines, then sentences.
    async fn tell_reporter(&self, case: &Case, text: String) -> Result<(), CaseError> {
        self.tell_reporter_asking(case, text, false).await
    }

    /// As [`Desk::tell_reporter`]; `asking`: the reporter's next message is added to this case (a
    /// staff reply to an open case usually asks something).
    async fn tell_reporter_asking(
        &self,
        case: &Case,
        text: String,
        asking: bool,
    ) -> Result<(), CaseError> {
        let messages = split_screen(&text, crate::dialog::REPLY_MAX_CHARS)
            .into_iter()
            .map(|text| Outgoing {
                user: case.record.reporter.clone(),
                reply: Reply {
                    text,
                    choices: Vec::new(),
                },
                kind: OutboxKind::Update {
                    case: case.code().to_string(),
                },
            })
            .collect();
        let asking = asking.then(|| case.code().to_string());
        self.engine.send_asking(messages, asking).await?;
        Ok(())
    }

    /// What a failed staff action says, from `staff:` in `dialogs/_cases.yaml` (`Gagal: ...`).
    pub fn failure(&self, error: &CaseError) -> String {
        fill(&self.texts.staff.error, &[("error", &self.explain(error))])
    }

    /// The reason a staff action failed, in the staff's words.
    fn explain(&self, error: &CaseError) -> String {
        let t = &self.texts.staff;
        let typed = |template: &str, text: &str| fill(template, &[("text", text)]);
        match error {
            CaseError::NotFound(code) => fill(&t.not_found, &[("code", code)]),
            CaseError::BadStatus(text) => typed(&t.bad_status, text),
            CaseError::BadReferral(text) => typed(&t.bad_referral, text),
            CaseError::BadPriority(text) => typed(&t.bad_priority, text),
            CaseError::BadDate(text) => typed(&t.bad_date, text),
            CaseError::BadTransition { code, from, to } => {
                fill(&t.bad_move, &[("code", code), ("from", from), ("to", to)])
            }
            CaseError::Usage(usage) => match usage {
                Usage::EmptyReply => t.empty_reply.clone(),
                Usage::EmptyNote => t.empty_note.clone(),
                Usage::MissingArgument => t.missing_argument.clone(),
                Usage::NeedReferral => t.need_referral.clone(),
                Usage::ReferralOnlyWhenReferred => t.referral_only_when_referred.clone(),
                Usage::NoConsent => t.no_consent_refused.clone(),
            },
            CaseError::Storage(_)
            | CaseError::File { .. }
            | CaseError::Texts(_)
            | CaseError::Export(_)
            | CaseError::Engine(_) => fill(&t.technical, &[("detail", &error.to_string())]),
        }
    }

    fn lang_of(&self, case: &Case) -> crate::dialog::Lang {
        match self.engine.store().session(&case.record.reporter) {
            Ok(Some(session)) => session.lang,
            _ => case.record.lang,
        }
    }

    /// Cases, open ones first (a closed P1 never above a new one: found by playing staff, stop 18),
    /// then most urgent and oldest first; optionally only one status or priority.
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
        cases.sort_by_key(|c| {
            let done = matches!(c.status, Status::Resolved | Status::Closed);
            (done, c.priority, c.record.opened_at)
        });
        tracing::info!(actor, count = cases.len(), "staff listed cases");
        let t = &self.texts.staff;
        if cases.is_empty() {
            return Ok(t.list_empty.clone());
        }
        let now = crate::time::now_secs();
        let mut out = String::new();
        for c in &cases {
            // The status as staff type it in `/cases` and `/status`.
            let status = match c.referred_to {
                Some(r) if c.status == Status::Referred => format!("referred:{}", r.as_str()),
                _ => c.status.as_str().to_string(),
            };
            let line = fill(
                &t.list_line,
                &[
                    ("code", c.code()),
                    ("priority", c.priority.as_str()),
                    ("status", &pad(&status, 16)),
                    ("category", &pad(&c.record.category, 14)),
                    ("country", &pad(self.or_unknown(&c.record.country), 10)),
                    ("age", &age(t, now, c.record.opened_at)),
                ],
            );
            let _ = writeln!(out, "{line}");
        }
        Ok(out.trim_end().to_string())
    }

    /// Patterns across reported job offers (`pandu cases offers`): the phone numbers, accounts and
    /// company names that recur in the offers of `tawaran` cases, with counts and case codes. Words
    /// from `staff_patterns` in `dialogs/_offer_rules.yaml` (read for each command).
    pub async fn offer_patterns(&self, actor: &str) -> Result<String, CaseError> {
        let (rules, offers) = self.reported_offers()?;
        tracing::info!(actor, count = offers.len(), "staff read offer patterns");
        let cases: Vec<(String, String)> = offers.into_iter().map(|o| (o.code, o.text)).collect();
        Ok(crate::offer::patterns::report(&rules, &cases))
    }

    /// The reported job offers (cases with an offer text), newest first, with the rules of the offer
    /// check (read for each call, so an edit of `_offer_rules.yaml` shows at once). Shared by `pandu
    /// cases offers` and the desk's offers page; the patterns are [`crate::offer::patterns::compute`].
    pub fn reported_offers(
        &self,
    ) -> Result<(crate::offer::OfferRules, Vec<ReportedOffer>), CaseError> {
        let path = self.config.dialogs.dir.join(crate::offer::RULES_FILE);
        let rules = crate::offer::OfferRules::load(&path).map_err(|e| CaseError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let store = self.engine.store();
        let mut offers = Vec::new();
        for code in store.case_codes()? {
            if let Some(case) = load(store, &code)?
                && let Some(text) = case.record.fields.get("tawaran_teks")
            {
                let field = |k: &str| case.record.fields.get(k).cloned().unwrap_or_default();
                offers.push(ReportedOffer {
                    code: case.code().to_string(),
                    opened_at: case.record.opened_at,
                    status: case.status,
                    verdict: field("tawaran_putusan"),
                    findings: field("tawaran_temuan"),
                    text: text.clone(),
                });
            }
        }
        offers.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(a.code.cmp(&b.code)));
        Ok((rules, offers))
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
        let t = &self.texts.staff;
        let mut out = String::new();
        let target = case.priority.target_hours(&self.config).to_string();
        let status_text = self.texts.status(case.status, case.referred_to, Lang::Id);
        let head = fill(
            &t.show_head,
            &[
                ("code", &r.code),
                ("priority", case.priority.as_str()),
                ("status", case.status.as_str()),
                ("status_text", &status_text),
            ],
        );
        let category_text = self
            .texts
            .category(&r.category)
            .map(|c| c.label.get(Lang::Id))
            .unwrap_or(&r.category);
        let facts = fill(
            &t.show_facts,
            &[
                ("category", &r.category),
                ("category_text", category_text),
                ("country", self.or_unknown(&r.country)),
                ("opened", &when(t, r.opened_at)),
                ("hours", &target),
            ],
        );
        let consent = if r.share_consent {
            &t.consent_yes
        } else {
            &t.consent_no
        };
        let reporter = fill(
            &t.show_reporter,
            &[
                ("reporter", &r.reporter.to_string()),
                ("lang", r.lang.code()),
                ("consent", consent),
            ],
        );
        let _ = writeln!(out, "{head}\n{facts}\n{reporter}");
        let _ = writeln!(out, "\n{}", t.show_report);
        // The words the reporter saw: field names from `staff.field_names`, menu answers as labelled.
        let extra = r
            .fields
            .keys()
            .filter(|name| !self.texts.intake_fields.contains(name));
        for name in self.texts.intake_fields.iter().chain(extra) {
            if let Some(value) = r.fields.get(name) {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    self.texts.field_name(name),
                    self.texts.field_words(name, value)
                );
            }
        }
        if !r.attachments.is_empty() {
            let _ = writeln!(out, "{}", t.show_attachments);
            for a in &r.attachments {
                let line = fill(
                    &t.attachment_line,
                    &[
                        ("kind", self.texts.attachment_kind(kind_name(a.kind))),
                        ("file", a.stored_path.as_deref().unwrap_or(&a.reference)),
                    ],
                );
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(out, "\n{}", t.show_timeline);
        for e in &case.timeline {
            let line = fill(
                &t.timeline_line,
                &[
                    ("at", &when(t, e.at)),
                    ("actor", &pad(&e.actor, 14)),
                    ("event", &self.describe(&e.kind)),
                ],
            );
            let _ = writeln!(out, "{line}");
        }
        Ok(out.trim_end().to_string())
    }

    /// The value, or `staff.unknown` when the report left it empty.
    fn or_unknown<'a>(&'a self, value: &'a str) -> &'a str {
        if value.is_empty() {
            &self.texts.staff.unknown
        } else {
            value
        }
    }

    /// One timeline event in the staff's words (also the web desk's timeline).
    pub fn describe(&self, kind: &EventKind) -> String {
        let t = &self.texts.staff;
        match kind {
            EventKind::Opened { priority, reason } => fill(
                &t.event_opened,
                &[("priority", priority.as_str()), ("reason", reason)],
            ),
            EventKind::ReporterMessage { text, attachments } => {
                let files = if attachments.is_empty() {
                    String::new()
                } else {
                    fill(
                        &t.event_attachments,
                        &[("n", &attachments.len().to_string())],
                    )
                };
                fill(
                    &t.event_reporter_message,
                    &[
                        ("text", text.as_deref().unwrap_or(&t.event_no_text)),
                        ("attachments", &files),
                    ],
                )
            }
            EventKind::StaffReply { text } => fill(&t.event_staff_reply, &[("text", text)]),
            EventKind::StatusChanged {
                from,
                to,
                referred_to,
                note,
            } => {
                // In words, as the desk's status answers: `baru → ditinjau (BP3MI Jawa Tengah)`.
                let referral = referred_to
                    .map(|r| {
                        let label = self
                            .texts
                            .referral
                            .get(r.as_str())
                            .map(|l| l.get(Lang::Id))
                            .unwrap_or(r.as_str());
                        fill(&t.event_referral, &[("to", label)])
                    })
                    .unwrap_or_default();
                let note = note
                    .as_deref()
                    .map(|n| fill(&t.event_status_note, &[("note", n)]))
                    .unwrap_or_default();
                let name = |s: &Status| {
                    t.status_names
                        .get(s.as_str())
                        .map(String::as_str)
                        .unwrap_or(s.as_str())
                };
                fill(
                    &t.event_status,
                    &[
                        ("from", name(from)),
                        ("to", name(to)),
                        ("referral", &referral),
                        ("note", &note),
                    ],
                )
            }
            EventKind::Note { text } => fill(&t.event_note, &[("text", text)]),
            EventKind::PriorityChanged { from, to, reason } => fill(
                &t.event_priority,
                &[
                    ("from", from.as_str()),
                    ("to", to.as_str()),
                    ("reason", reason),
                ],
            ),
            EventKind::Emergency { category } => fill(
                &t.event_emergency,
                &[("category", self.texts.emergency_words(category))],
            ),
            EventKind::StaffNotified { reminder } => {
                if *reminder {
                    t.event_staff_reminded.clone()
                } else {
                    t.event_staff_told.clone()
                }
            }
            EventKind::Accessed { how } => fill(&t.event_accessed, &[("how", how)]),
            EventKind::Undeliverable { channel, reason } => fill(
                &t.event_undeliverable,
                &[
                    ("channel", self.texts.channel_words(channel)),
                    ("reason", reason),
                ],
            ),
            EventKind::Assigned { to } if to.is_empty() => t.event_unassigned.clone(),
            EventKind::Assigned { to } => fill(&t.event_assigned, &[("to", to)]),
        }
    }

    /// Sends a message to the reporter and records it. A first reply moves a new case into review.
    pub async fn reply(&self, actor: &str, typed: &str, text: &str) -> Result<String, CaseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CaseError::Usage(Usage::EmptyReply));
        }
        let case = self.case(typed)?;
        let lang = self.lang_of(&case);
        // A closed report takes no more information: its frame does not invite "tambah info" (found
        // by playing staff, stop 19).
        let frame = if case.status.is_open() {
            &self.texts.staff_reply
        } else {
            &self.texts.staff_reply_closed
        };
        let framed = fill(frame.get(lang), &[("code", case.code()), ("text", text)]);
        // Queued first, recorded second: a reply is never recorded as sent when it was not queued.
        self.tell_reporter_asking(&case, framed, case.status.is_open())
            .await?;
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
                    note: Some(self.texts.staff.first_reply_note.clone()),
                },
            )
            .await?;
        }
        tracing::info!(case = %case.code(), actor, "staff replied to a reporter");
        Ok(fill(
            &self.texts.staff.replied,
            &[
                ("code", case.code()),
                (
                    "channel",
                    self.texts
                        .channel_words(case.record.reporter.channel.as_str()),
                ),
            ],
        ))
    }

    /// Moves a case on and tells the reporter the new status. The note stays internal. The answer
    /// names the statuses as staff type them (`in_review → referred`), for commands.
    pub async fn set_status(
        &self,
        actor: &str,
        typed: &str,
        status: Status,
        to: Option<Referral>,
        note: Option<&str>,
    ) -> Result<String, CaseError> {
        self.move_case(actor, typed, status, to, note, false).await
    }

    /// As [`Desk::set_status`], the answer naming the statuses in staff words
    /// (`staff.status_names`: `ditinjau → dirujuk`), for the web desk where nobody types codes.
    pub async fn set_status_in_words(
        &self,
        actor: &str,
        typed: &str,
        status: Status,
        to: Option<Referral>,
        note: Option<&str>,
    ) -> Result<String, CaseError> {
        self.move_case(actor, typed, status, to, note, true).await
    }

    async fn move_case(
        &self,
        actor: &str,
        typed: &str,
        status: Status,
        to: Option<Referral>,
        note: Option<&str>,
        in_words: bool,
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
            (Status::Referred, None) => return Err(CaseError::Usage(Usage::NeedReferral)),
            (_, Some(_)) => return Err(CaseError::Usage(Usage::ReferralOnlyWhenReferred)),
            (_, None) => None,
        };
        // "Untuk dinas saja": the bot promised the reporter that staff ask before the case leaves
        // the office (dialogs/lapor.yaml `i_dinas_info`). A referral needs the basis, written in the
        // note and so kept in the case's audited timeline: they agreed since, or a life is in danger
        // (UU 27/2022 allows processing for a vital interest). Found by playing staff (stop 19):
        // the referral went through with a warning only, and the family read "Diteruskan ke BP3MI".
        if referred_to.is_some() && !case.record.share_consent && !has_sharing_basis(note) {
            return Err(CaseError::Usage(Usage::NoConsent));
        }
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
        let t = &self.texts.staff;
        let name = |s: Status| {
            if in_words {
                t.status_names
                    .get(s.as_str())
                    .map(String::as_str)
                    .unwrap_or(s.as_str())
            } else {
                s.as_str()
            }
        };
        let moved = [
            ("code", case.code()),
            ("from", name(case.status)),
            ("to", name(status)),
        ];
        Ok(match referred_to {
            None => fill(&t.status_changed, &moved),
            Some(r) => {
                let label = self.texts.referral.get(r.as_str()).map(|l| l.get(Lang::Id));
                let mut values = moved.to_vec();
                values.push(("referral", label.unwrap_or(r.as_str())));
                let mut out = fill(&t.status_referred, &values);
                if !case.record.share_consent {
                    out.push('\n');
                    out.push_str(&t.no_consent);
                }
                out
            }
        })
    }

    /// Records that `actor` was shown a case's personal data (`how`: `show`, `export`, `web`).
    pub async fn record_access(
        &self,
        actor: &str,
        typed: &str,
        how: &str,
    ) -> Result<(), CaseError> {
        let code = self.code(typed)?;
        self.record(&code, actor, EventKind::Accessed { how: how.into() })
            .await?;
        tracing::info!(case = %code, actor, "staff was shown personal data");
        Ok(())
    }

    /// Makes a staff member responsible for a case (`to` empty: nobody). The reporter is not told.
    pub async fn assign(&self, actor: &str, typed: &str, to: &str) -> Result<String, CaseError> {
        let case = self.case(typed)?;
        let to = to.trim();
        self.record(case.code(), actor, EventKind::Assigned { to: to.into() })
            .await?;
        tracing::info!(case = %case.code(), actor, "case assigned");
        Ok(if to.is_empty() {
            fill(&self.texts.staff.unassigned, &[("code", case.code())])
        } else {
            fill(
                &self.texts.staff.assigned,
                &[("code", case.code()), ("to", to)],
            )
        })
    }

    /// The texts staff read (`dialogs/_cases.yaml`).
    pub fn texts(&self) -> &CaseTexts {
        &self.texts
    }

    /// The case with this code, as typed (exact).
    pub fn find(&self, typed: &str) -> Result<Case, CaseError> {
        self.case(typed)
    }

    /// An internal note; the reporter is not told.
    pub async fn note(&self, actor: &str, typed: &str, text: &str) -> Result<String, CaseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CaseError::Usage(Usage::EmptyNote));
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
        Ok(fill(&self.texts.staff.note_added, &[("code", case.code())]))
    }

    /// Deletes resolved and closed cases whose last status change is before `closed_before`, with
    /// their downloaded attachments and every copy of their data (the reporter's session, queued and
    /// delivered messages quoting them, download records); a tombstone keeps their codes from being
    /// given again. Then the database is rewritten so no old copy stays in sled's log, and the answer
    /// comes once the old files are wiped.
    pub async fn purge(&self, actor: &str, closed_before: Date) -> Result<String, CaseError> {
        let cutoff = u64::try_from(closed_before.days_since_epoch())
            .unwrap_or(0)
            .saturating_mul(86_400);
        let store = self.engine.store().clone();
        let now = crate::time::now_secs();
        let mut doomed = Vec::new();
        let mut files = 0usize;
        for code in store.case_codes()? {
            let Some(case) = load(&store, &code)? else {
                continue;
            };
            let Some(finished) = case.finished_at() else {
                continue;
            };
            if finished >= cutoff {
                continue;
            }
            let (copies, removed) = self.copies_of(&case);
            files += removed;
            doomed.push((case.record, copies));
        }
        let purged = doomed.len();
        let tombstone = Tombstone {
            purged_at: now,
            actor: actor.to_string(),
        };
        let result = self
            .engine
            .exclusive(move |store| -> crate::storage::Result<()> {
                for (record, (needles, meta)) in &doomed {
                    store.purge_everywhere(record, needles, meta, &tombstone)?;
                }
                if !doomed.is_empty() {
                    store.rewrite()?;
                }
                Ok(())
            })
            .await?;
        result?;
        store.flush().await?;
        let waiting = store.clone();
        let _ = tokio::task::spawn_blocking(move || waiting.wait_retired()).await;
        tracing::info!(actor, purged, files, before = %closed_before, "cases purged");
        Ok(fill(
            &self.texts.staff.purged,
            &[
                ("n", &purged.to_string()),
                ("date", &closed_before.to_string()),
                ("files", &files.to_string()),
            ],
        ))
    }

    /// What else holds a case's data: the texts that quote it (its code) and the
    /// meta records to remove; deletes its downloaded files and returns how many it deleted.
    fn copies_of(&self, case: &Case) -> ((Vec<String>, Vec<String>), usize) {
        let store = self.engine.store();
        // Messages to the reporter go by their address; everything else that shows the case's data
        // (the staff chat's case view, confirmations) names its code. Matching answers ("Malaysia")
        // would delete other families' messages too.
        let needles = vec![case.code().to_string()];
        let mut attachments: Vec<_> = case.record.attachments.clone();
        for e in &case.timeline {
            if let EventKind::ReporterMessage { attachments: a, .. } = &e.kind {
                attachments.extend(a.iter().cloned());
            }
        }
        let mut meta = Vec::new();
        let reporter = &case.record.reporter;
        if reporter.channel == crate::storage::Channel::Whatsapp {
            meta.push(crate::channels::whatsapp::last_inbound_key(&reporter.id));
            meta.push(crate::channels::whatsapp::address_key(&reporter.id));
        }
        let mut removed = 0usize;
        for a in &attachments {
            let mut paths: Vec<std::path::PathBuf> = a.stored_path.iter().map(Into::into).collect();
            for name in [
                crate::channels::telegram::file_meta_key(&a.reference),
                crate::channels::whatsapp::media_key(&a.reference),
            ] {
                if let Ok(Some(bytes)) = store.meta(&name)
                    && let Ok(path) = String::from_utf8(bytes)
                {
                    paths.push(path.into());
                }
                meta.push(name);
            }
            for path in paths {
                if std::fs::remove_file(self.config.data_dir.join(&path))
                    .or_else(|_| std::fs::remove_file(&path))
                    .is_ok()
                {
                    removed += 1;
                }
            }
        }
        ((needles, meta), removed)
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
        serde_json::to_string_pretty(&case).map_err(|e| CaseError::Export(e.to_string()))
    }
}

/// The machine name of an attachment kind: the key of `staff.attachment_kinds`.
fn kind_name(kind: crate::dialog::AttachmentKind) -> &'static str {
    use crate::dialog::AttachmentKind as K;
    match kind {
        K::Photo => "photo",
        K::Voice => "voice",
        K::Audio => "audio",
        K::Video => "video",
        K::Document => "document",
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
                    // No target: `set_status` says what to write.
                    let to = (!to.is_empty()).then(|| Referral::parse(to)).transpose()?;
                    (to, note)
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
        Err(CaseError::Usage(Usage::MissingArgument))
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
                Err(e) => {
                    let mut out = self.desk.failure(&e);
                    // A mistake in the command: show how the commands are written.
                    if matches!(
                        e,
                        CaseError::Usage(_)
                            | CaseError::BadStatus(_)
                            | CaseError::BadReferral(_)
                            | CaseError::BadPriority(_)
                    ) {
                        out.push('\n');
                        out.push_str(&self.desk.texts.staff.help);
                    }
                    out
                }
            })
        })
    }
}

/// Words that open a referral's note with its basis when the reporter chose "for the dinas only":
/// they agreed since (`setuju:`, `consent:`) or a life is in danger (`darurat:`, `vital:`); the
/// basis must say something after the colon.
const SHARING_BASES: [&str; 4] = ["setuju:", "consent:", "darurat:", "vital:"];

fn has_sharing_basis(note: Option<&str>) -> bool {
    let Some(note) = note else { return false };
    let note = note.trim().to_lowercase();
    SHARING_BASES.iter().any(|basis| {
        note.strip_prefix(basis)
            .is_some_and(|why| why.trim().chars().filter(|c| c.is_alphanumeric()).count() >= 3)
    })
}

#[cfg(test)]
mod split_tests {
    use super::split_screen;

    #[test]
    fn a_long_reply_is_cut_at_paragraphs_then_sentences_and_nothing_is_lost() {
        assert_eq!(split_screen("  pendek  ", 700), vec!["pendek".to_string()]);
        let para = "Kalimat satu sudah cukup panjang. ".repeat(12);
        let text = format!("Pesan petugas:\n\n{para}\n\n{para}\n\nKetik *tambah info*.");
        let parts = split_screen(&text, 300);
        assert!(parts.len() > 2, "{parts:?}");
        for p in &parts {
            assert!(p.chars().count() <= 300, "{p}");
            assert!(!p.is_empty());
        }
        assert!(parts[0].starts_with("Pesan petugas:"), "{parts:?}");
        assert!(parts.last().is_some_and(|p| p.ends_with("*tambah info*.")));
        // Every word arrives, in order.
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&parts.join(" ")), words(&text));
        // A word longer than a screen is cut, not dropped.
        let long = "x".repeat(25);
        let parts = split_screen(&long, 10);
        assert_eq!(parts.concat(), long);
        assert!(parts.iter().all(|p| p.chars().count() <= 10));
    }
}
