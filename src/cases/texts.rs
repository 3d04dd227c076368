//! What reporters read about their case, loaded from `dialogs/_cases.yaml`: status names, the update
//! and staff-reply framing, the response-target wording, and the report categories (with their priority
//! and the words that name them).
//!
//! Invariant: no reporter-facing word is written in Rust; this module only fills `{placeholders}`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{CaseError, Priority, Referral, Status};
use crate::config::Config;
use crate::dialog::Lang;
use crate::dialog::normalize::basic;

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
}

/// Messages to the staff Telegram chat, with `{placeholders}` the program fills in (see the file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffTexts {
    pub new_case: String,
    pub reminder: String,
    pub raised: String,
    pub new_info: String,
    pub undeliverable: String,
    pub help: String,
}

impl CaseTexts {
    /// Reads `_cases.yaml` from the dialog folder.
    pub fn load(config: &Config) -> Result<CaseTexts, CaseError> {
        CaseTexts::load_file(&config.dialogs.dir.join("_cases.yaml"))
    }

    pub fn load_file(path: &Path) -> Result<CaseTexts, CaseError> {
        let err = |message: String| CaseError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let texts: CaseTexts = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        texts.check().map_err(err)?;
        Ok(texts)
    }

    /// Everything the code relies on is present.
    fn check(&self) -> Result<(), String> {
        for status in Status::ALL {
            if !self.status.contains_key(status.as_str()) {
                return Err(format!("status.{} is missing", status.as_str()));
            }
        }
        for r in [
            Referral::Bp3mi,
            Referral::Kp2mi,
            Referral::Embassy,
            Referral::Other,
        ] {
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
