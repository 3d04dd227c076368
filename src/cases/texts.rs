//! What reporters and staff read about cases, loaded from `dialogs/_cases.yaml`: status names, the update
//! and staff-reply framing, the response-target wording, and the report categories (with their priority
//! and the words that name them).
//!
//! The staff texts (`staff:`) are everything staff read: the staff-chat messages and the desk's lists,
//! case view, timeline, confirmations and failures (see [`StaffTexts`]).
//!
//! Invariant: no reporter- or staff-facing word is written in Rust; this module only fills
//! `{placeholders}`. A missing or empty text is refused with its file and line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CaseError, Priority, Referral, Status};
use crate::config::Config;
use crate::dialog::model::Loc;
use crate::dialog::normalize::basic;
use crate::dialog::{Diagnostic, Lang, Severity};

/// A text in several languages; Bahasa Indonesia is required and is the fallback.
pub use crate::dialog::model::Text as LangText;

/// Replaces `{name}` by each value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub key: String,
    pub priority: Priority,
    pub label: LangText,
    /// Words that name the category when a reporter types it (normalised before matching).
    #[serde(default)]
    pub keywords: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseTexts {
    /// Messages to the staff chat.
    pub staff: StaffTexts,
    /// Status names by `Status::as_str`; `referred` may use `{to}`.
    pub status: BTreeMap<String, LangText>,
    /// Referral targets by `Referral::as_str`.
    pub referral: BTreeMap<String, LangText>,
    /// Sent to the reporter when the status changes: `{code}`, `{status}`.
    pub update_status: LangText,
    /// Frames a staff reply: `{code}`, `{text}`.
    pub staff_reply: LangText,
    /// Frames a staff reply about a resolved or closed report (which takes no more information):
    /// `{code}`, `{text}`.
    pub staff_reply_closed: LangText,
    /// `{staff_message}` when staff have not written yet.
    pub no_staff_message: LangText,
    /// The response target: `{n}` hours, or `{n}` days from 48 hours on.
    pub target_hours: LangText,
    pub target_days: LangText,
    pub categories: Vec<Category>,
    /// Menu answers stored by `case.pick.<var>.<value>`: var → value → label.
    #[serde(default)]
    pub picks: BTreeMap<String, BTreeMap<String, LangText>>,
    /// The session variables that make up a report, in the order staff read them.
    pub intake_fields: Vec<String>,
    /// The flows that take a report: emergency words typed while one of them runs belong to the report
    /// being taken, not to an older case of the same reporter.
    #[serde(default)]
    pub intake_flows: Vec<String>,
}

/// What staff read, in Bahasa Indonesia: the staff-chat messages and everything the staff desk
/// answers (`/cases`, `/show`, ... in the staff group and `pandu cases ...` on the server), with
/// `{placeholders}` the program fills in (each is listed above its text in the file). Every field is
/// required: a missing one is refused when the file is read, with its line.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffTexts {
    pub new_case: String,
    pub reminder: String,
    pub raised: String,
    pub new_info: String,
    pub undeliverable: String,
    pub help: String,
    // The desk: lists and the case view.
    pub list_line: String,
    pub list_empty: String,
    pub age_minutes: String,
    pub age_hours: String,
    pub age_days: String,
    pub unknown: String,
    pub show_head: String,
    pub show_facts: String,
    pub show_reporter: String,
    pub consent_yes: String,
    pub consent_no: String,
    pub show_report: String,
    pub show_attachments: String,
    pub show_timeline: String,
    pub attachment_line: String,
    /// By attachment kind (`photo`, `voice`, `audio`, `video`, `document`).
    pub attachment_kinds: BTreeMap<String, String>,
    /// The report's fields as staff read them, by intake variable (every `intake_fields` entry).
    pub field_names: BTreeMap<String, String>,
    /// Emergency categories (`dialogs/_emergency.yaml` names) in words, for the timeline and reasons.
    pub emergency_words: BTreeMap<String, String>,
    /// Channels in words (`telegram`, `whatsapp`, `console`).
    pub channels: BTreeMap<String, String>,
    /// Statuses in staff words (`new` → `baru`), for the web desk (commands show them as typed).
    pub status_names: BTreeMap<String, String>,
    pub time: String,
    pub timeline_line: String,
    // Timeline events.
    pub event_opened: String,
    pub event_reporter_message: String,
    pub event_no_text: String,
    pub event_attachments: String,
    pub event_staff_reply: String,
    pub event_status: String,
    pub event_referral: String,
    pub event_status_note: String,
    pub event_note: String,
    pub event_priority: String,
    pub event_emergency: String,
    pub event_staff_told: String,
    pub event_staff_reminded: String,
    pub event_accessed: String,
    pub event_undeliverable: String,
    pub event_assigned: String,
    pub event_unassigned: String,
    // Saved into events.
    pub reason_category: String,
    pub reason_not_safe: String,
    pub reason_safety_unknown: String,
    pub reason_emergency: String,
    pub first_reply_note: String,
    // Answers to staff actions.
    pub replied: String,
    pub status_changed: String,
    pub status_referred: String,
    pub no_consent: String,
    pub note_added: String,
    pub assigned: String,
    pub unassigned: String,
    pub purged: String,
    // `pandu backup` and `pandu restore`.
    pub backup_done: String,
    pub restored: String,
    pub backup_not_backup: String,
    pub backup_damaged: String,
    pub restore_not_empty: String,
    pub backup_newer: String,
    pub backup_file: String,
    // Failures.
    pub error: String,
    pub not_found: String,
    pub bad_status: String,
    pub bad_referral: String,
    pub bad_priority: String,
    pub bad_date: String,
    pub bad_move: String,
    pub empty_reply: String,
    pub empty_note: String,
    pub missing_argument: String,
    pub need_referral: String,
    pub referral_only_when_referred: String,
    pub no_consent_refused: String,
    pub technical: String,
}

/// The attachment kinds `staff.attachment_kinds` must name.
pub const ATTACHMENT_KINDS: [&str; 5] = ["photo", "voice", "audio", "video", "document"];

impl CaseTexts {
    /// A report field's value in the words the reporter saw (Bahasa Indonesia): a menu answer's label,
    /// a category's label; anything typed stays as typed.
    pub fn field_words<'a>(&'a self, field: &str, value: &'a str) -> &'a str {
        if field == "kategori"
            && let Some(category) = self.category(value)
        {
            return category.label.get(Lang::Id);
        }
        self.picks
            .get(field)
            .and_then(|values| values.get(value))
            .map(|label| label.get(Lang::Id))
            .unwrap_or(value)
    }

    /// A report field's name for staff.
    pub fn field_name<'a>(&'a self, field: &'a str) -> &'a str {
        self.staff
            .field_names
            .get(field)
            .map(String::as_str)
            .unwrap_or(field)
    }

    /// An emergency category in words.
    pub fn emergency_words<'a>(&'a self, category: &'a str) -> &'a str {
        self.staff
            .emergency_words
            .get(category)
            .map(String::as_str)
            .unwrap_or(category)
    }

    /// A channel in words.
    pub fn channel_words<'a>(&'a self, channel: &'a str) -> &'a str {
        self.staff
            .channels
            .get(channel)
            .map(String::as_str)
            .unwrap_or(channel)
    }

    /// Reads `_cases.yaml` from the dialog folder.
    pub fn load(config: &Config) -> Result<CaseTexts, CaseError> {
        CaseTexts::load_file(&config.dialogs.dir.join("_cases.yaml"))
    }

    /// Reads one `_cases.yaml`. A problem is reported as `file:line:column: error: ...` (the line of
    /// the section when the YAML itself is fine but a text is missing or empty).
    pub fn load_file(path: &Path) -> Result<CaseTexts, CaseError> {
        let err = |line: Option<(u64, u64)>, message: String| {
            CaseError::Texts(Box::new(Diagnostic {
                severity: Severity::Error,
                loc: line.map(|(line, column)| Loc {
                    file: path.to_path_buf(),
                    line,
                    column,
                }),
                path: Some("_cases".into()),
                message: if line.is_some() {
                    message
                } else {
                    format!("{}: {message}", path.display())
                },
            }))
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(None, format!("cannot read the file: {e}")))?;
        let texts: CaseTexts = serde_saphyr::from_str(&text).map_err(|e| {
            let at = e.location().map(|l| (l.line(), l.column()));
            let message = e.without_snippet().to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").trim();
            // serde_saphyr may put "line L column C:" in front; the location already says it.
            let message = message.strip_prefix("error: ").unwrap_or(message);
            let message = match message.find(": ") {
                Some(i) if message.starts_with("line ") => &message[i + 2..],
                _ => message,
            };
            let message = message.split(" at line ").next().unwrap_or(message);
            // A missing text is noticed at the end of its section: name the section and its line.
            if message.starts_with("missing field")
                && let Some((line, key)) = at.and_then(|(line, _)| section_of(&text, line))
            {
                return err(
                    Some((line, 1)),
                    format!("{key}: {message}; add the text (the comments in the file say what each one is for)"),
                );
            }
            err(
                at.or(Some((1, 1))),
                format!("{message} (the comments in the file say what each text is for)"),
            )
        })?;
        texts.check().map_err(|(key, message)| {
            let line = key.and_then(|k| line_of(&text, &k)).unwrap_or(1);
            err(Some((line, 1)), message)
        })?;
        Ok(texts)
    }

    /// Everything the code relies on is present.
    /// Returns the key of the section at fault (to find its line) and what is wrong.
    fn check(&self) -> Result<(), (Option<String>, String)> {
        self.check_staff()
            .map_err(|(key, message)| (Some(key), message))?;
        self.check_rest().map_err(|message| (None, message))
    }

    /// Every staff text is written (a blank one would show staff nothing) and every attachment
    /// kind has a name.
    fn check_staff(&self) -> Result<(), (String, String)> {
        for kind in ATTACHMENT_KINDS {
            if self
                .staff
                .attachment_kinds
                .get(kind)
                .is_none_or(|t| t.trim().is_empty())
            {
                return Err((
                    "attachment_kinds".into(),
                    format!(
                        "staff.attachment_kinds.{kind} is missing; name every kind: {}",
                        ATTACHMENT_KINDS.join(", ")
                    ),
                ));
            }
        }
        for field in &self.intake_fields {
            if self
                .staff
                .field_names
                .get(field)
                .is_none_or(|t| t.trim().is_empty())
            {
                return Err((
                    "field_names".into(),
                    format!("staff.field_names.{field} is missing; name every intake field"),
                ));
            }
        }
        for status in Status::ALL {
            if self
                .staff
                .status_names
                .get(status.as_str())
                .is_none_or(|t| t.trim().is_empty())
            {
                return Err((
                    "status_names".into(),
                    format!(
                        "staff.status_names.{} is missing; name every status",
                        status.as_str()
                    ),
                ));
            }
        }
        for channel in ["telegram", "whatsapp", "console"] {
            if self
                .staff
                .channels
                .get(channel)
                .is_none_or(|t| t.trim().is_empty())
            {
                return Err((
                    "channels".into(),
                    format!("staff.channels.{channel} is missing; name every channel"),
                ));
            }
        }
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&self.staff) {
            for (name, value) in fields {
                if value.as_str().is_some_and(|t| t.trim().is_empty()) {
                    let message = format!("staff.{name} is empty; write the text");
                    return Err((name, message));
                }
            }
        }
        Ok(())
    }

    fn check_rest(&self) -> Result<(), String> {
        for status in Status::ALL {
            if !self.status.contains_key(status.as_str()) {
                return Err(format!("status.{} is missing", status.as_str()));
            }
        }
        for r in Referral::ALL {
            if !self.referral.contains_key(r.as_str()) {
                return Err(format!("referral.{} is missing", r.as_str()));
            }
        }
        for var in self.picks.keys() {
            if !super::actions::pick_vars().any(|v| v == var) {
                let known: Vec<_> = super::actions::pick_vars().collect();
                return Err(format!(
                    "picks.{var}: only {} can be picked",
                    known.join(", ")
                ));
            }
        }
        if self.categories.is_empty() {
            return Err("categories is empty".into());
        }
        let all = [
            &self.update_status,
            &self.staff_reply,
            &self.staff_reply_closed,
            &self.no_staff_message,
            &self.target_hours,
            &self.target_days,
        ];
        let labels = self.categories.iter().map(|c| &c.label);
        for text in all.into_iter().chain(labels) {
            if text.0.get(&Lang::Id).is_none_or(|t| t.trim().is_empty()) {
                return Err("every text needs an `id` (Bahasa Indonesia) entry".into());
            }
        }
        Ok(())
    }

    /// A staff text's attachment kind name (`foto`), or the kind itself when it has none.
    pub fn attachment_kind<'a>(&'a self, kind: &'a str) -> &'a str {
        self.staff
            .attachment_kinds
            .get(kind)
            .map(String::as_str)
            .unwrap_or(kind)
    }

    /// The status as the reporter reads it (`Diteruskan ke BP3MI`).
    pub fn status(&self, status: Status, referred_to: Option<Referral>, lang: Lang) -> String {
        let template = self
            .status
            .get(status.as_str())
            .map(|t| t.get(lang))
            .unwrap_or(status.as_str());
        let to = referred_to
            .and_then(|r| self.referral.get(r.as_str()))
            .map(|t| t.get(lang))
            .unwrap_or("");
        fill(template, &[("to", to)])
    }

    /// "4 jam", "3 hari".
    pub fn target(&self, hours: u32, lang: Lang) -> String {
        if hours >= 48 && hours.is_multiple_of(24) {
            let n = (hours / 24).to_string();
            fill(self.target_days.get(lang), &[("n", &n)])
        } else {
            let n = hours.to_string();
            fill(self.target_hours.get(lang), &[("n", &n)])
        }
    }

    pub fn category(&self, key: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.key == key)
    }

    /// The category a typed description names: the one with the most keyword hits, ties to the more
    /// urgent one. `None` when no keyword matches.
    pub fn classify(&self, text: &str) -> Option<&Category> {
        let text = format!(" {} ", basic(text));
        let mut best: Option<(&Category, usize)> = None;
        for category in &self.categories {
            let hits = category
                .keywords
                .iter()
                .map(|k| basic(k))
                .filter(|k| !k.is_empty() && text.contains(&format!(" {k} ")))
                .count();
            if hits == 0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((b, n)) => hits > n || (hits == n && category.priority < b.priority),
            };
            if better {
                best = Some((category, hits));
            }
        }
        best.map(|(c, _)| c)
    }
}

/// The line of the first `key:` in the file (1-based), at any indentation.
fn line_of(text: &str, key: &str) -> Option<u64> {
    let wanted = format!("{key}:");
    text.lines()
        .position(|l| l.trim_start().starts_with(&wanted))
        .and_then(|i| u64::try_from(i + 1).ok())
}

/// The section (the nearest less indented `key:` line above) of a 1-based line: its line and key.
fn section_of(text: &str, line: u64) -> Option<(u64, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines.get(index)?);
    lines[..index]
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && indent(l) < own && t.ends_with(':')
        })
        .map(|(i, l)| {
            let key = l.trim().trim_end_matches(':').to_string();
            (u64::try_from(i + 1).unwrap_or(1), key)
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn texts() -> CaseTexts {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs/_cases.yaml");
        CaseTexts::load_file(&path).unwrap()
    }

    #[test]
    fn the_shipped_texts_load_and_name_every_status() {
        let t = texts();
        assert!(
            t.status(Status::Referred, Some(Referral::Bp3mi), Lang::Id)
                .contains("BP3MI")
        );
        assert_eq!(t.target(4, Lang::Id), "4 jam");
        assert_eq!(t.target(72, Lang::En), "3 days");
        assert!(t.categories.len() >= 15);
    }

    #[test]
    fn a_missing_staff_text_is_refused_with_the_line_of_its_section() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs/_cases.yaml");
        let shipped = std::fs::read_to_string(&path).unwrap();
        let staff_line = shipped.lines().position(|l| l == "staff:").unwrap() + 1;
        let broken: String = shipped
            .lines()
            .filter(|l| !l.starts_with("  not_found:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("_cases.yaml");
        std::fs::write(&file, broken).unwrap();
        let Err(CaseError::Texts(d)) = CaseTexts::load_file(&file) else {
            panic!("a missing staff text was accepted");
        };
        assert_eq!(d.loc.as_ref().map(|l| l.line), Some(staff_line as u64));
        assert!(d.message.contains("`not_found`"), "{}", d.message);
        assert!(
            d.to_string().starts_with(&file.display().to_string()),
            "{d}"
        );
    }

    #[test]
    fn every_attachment_kind_needs_a_name() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs/_cases.yaml");
        let shipped = std::fs::read_to_string(&path).unwrap();
        let broken = shipped.replace("    voice: pesan suara\n", "");
        assert_ne!(broken, shipped);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("_cases.yaml");
        std::fs::write(&file, broken).unwrap();
        let Err(e) = CaseTexts::load_file(&file) else {
            panic!("a missing attachment kind was accepted");
        };
        assert!(e.to_string().contains("attachment_kinds.voice"), "{e}");
        assert_eq!(
            texts().attachment_kind("sticker"),
            "sticker",
            "an unknown kind is shown as is"
        );
    }

    #[test]
    fn typed_categories_are_recognised() {
        let t = texts();
        assert_eq!(
            t.classify("anak saya dipukul majikan").unwrap().key,
            "kekerasan"
        );
        assert_eq!(
            t.classify("Gaji belum dibayar 3 bulan").unwrap().key,
            "gaji"
        );
        assert_eq!(
            t.classify("my sister wants to go home").unwrap().key,
            "ingin_pulang"
        );
        assert!(t.classify("halo").is_none());
    }
}
