//! The words users see around an agency check, read from `config/agencies.toml`: status and office
//! names, hints for queries that cannot be searched, the note shown when a match was not exact, the
//! line format of a candidate list, and the place names that count as "near Pekalongan".
//!
//! Invariant: no user-facing word is a Rust literal; Rust code knows only the stable codes (`active`,
//! `too_short`, ...) and looks their words up here. Loading reports every problem of the file at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::index::Hint;
use super::record::{OfficeType, Status};
use crate::dialog::Lang;
use crate::dialog::normalize::basic;

/// The default place of the file.
pub const DEFAULT_PATH: &str = "config/agencies.toml";

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One text in several languages; Bahasa Indonesia is the fallback.
pub use crate::dialog::model::Text as LangText;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    status: BTreeMap<String, BTreeMap<String, String>>,
    office: BTreeMap<String, BTreeMap<String, String>>,
    hint: BTreeMap<String, BTreeMap<String, String>>,
    note: BTreeMap<String, BTreeMap<String, String>>,
    candidate: BTreeMap<String, String>,
    branch: BranchFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchFile {
    nearby: Vec<String>,
}

/// The loaded words. `Default` has no words at all: every lookup then gives the stable code, which keeps
/// tests independent of the wording but is not meant for users.
#[derive(Clone, Debug, Default)]
pub struct AgencyLabels {
    status: BTreeMap<String, LangText>,
    office: BTreeMap<String, LangText>,
    hint: BTreeMap<String, LangText>,
    note: BTreeMap<String, LangText>,
    candidate: LangText,
    /// Normalised place names, nearest first.
    nearby: Vec<String>,
}

impl AgencyLabels {
    pub fn load(path: &Path) -> Result<AgencyLabels, LabelsError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabelsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        AgencyLabels::parse(path, &text)
    }

    /// Parses the file's text (`path` only names it in messages).
    pub fn parse(path: &Path, text: &str) -> Result<AgencyLabels, LabelsError> {
        let invalid = |message: String| LabelsError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut problems = Vec::new();
        let mut convert = |section: &str, map: BTreeMap<String, String>| -> LangText {
            let mut out = BTreeMap::new();
            for (code, value) in map {
                match Lang::parse(&code) {
                    Some(lang) => {
                        out.insert(lang, value);
                    }
                    None => problems.push(format!("{section}: unknown language {code:?}")),
                }
            }
            if !out.contains_key(&Lang::Id) {
                problems.push(format!("{section}: the Indonesian text (id) is missing"));
            }
            LangText(out)
        };
        let mut section = |name: &str,
                           map: BTreeMap<String, BTreeMap<String, String>>,
                           required: &[&str]|
         -> BTreeMap<String, LangText> {
            let mut out = BTreeMap::new();
            for (key, texts) in map {
                out.insert(key.clone(), convert(&format!("{name}.{key}"), texts));
            }
            for key in required {
                if !out.contains_key(*key) {
                    convert(&format!("{name}.{key}"), BTreeMap::new());
                }
            }
            out
        };
        let status_codes: Vec<&str> = Status::ALL.iter().map(|s| s.code()).collect();
        let status = section("status", file.status, &status_codes);
        let office = section(
            "office",
            file.office,
            &[OfficeType::Head.code(), OfficeType::Branch.code()],
        );
        let hint = section(
            "hint",
            file.hint,
            &[
                Hint::None.code(),
                Hint::Empty.code(),
                Hint::TooShort.code(),
                Hint::TooLong.code(),
            ],
        );
        let note = section("note", file.note, &["close", "demo"]);
        let candidate = convert("candidate", file.candidate);
        if !problems.is_empty() {
            return Err(invalid(problems.join("; ")));
        }
        Ok(AgencyLabels {
            status,
            office,
            hint,
            note,
            candidate,
            nearby: file
                .branch
                .nearby
                .iter()
                .map(|p| basic(p))
                .filter(|p| !p.is_empty())
                .collect(),
        })
    }

    fn lookup<'a>(map: &'a BTreeMap<String, LangText>, code: &'a str, lang: Lang) -> &'a str {
        map.get(code).map(|t| t.get(lang)).unwrap_or(code)
    }

    pub fn status(&self, status: Status, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.status, status.code(), lang)
    }

    pub fn office(&self, office: OfficeType, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.office, office.code(), lang)
    }

    pub fn hint(&self, hint: Hint, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.hint, hint.code(), lang)
    }

    /// The note for a match that was not exact, with `{name}` filled in.
    pub fn close_note(&self, name: &str, lang: Lang) -> String {
        match self.note.get("close") {
            Some(text) => text.get(lang).replace("{name}", name),
            None => name.to_string(),
        }
    }

    /// The warning shown while the bundled demo data stands in for the real registry.
    pub fn demo_note(&self, lang: Lang) -> &str {
        self.note.get("demo").map(|t| t.get(lang)).unwrap_or("")
    }

    /// One line of a candidate list: `{n}`, `{name}`, `{city}`, `{status}`, `{licence}` filled in.
    pub fn candidate_line(
        &self,
        n: usize,
        name: &str,
        city: &str,
        status: &str,
        licence: &str,
        lang: Lang,
    ) -> String {
        let template = match self.candidate.get(lang) {
            "" => "{n}. {name} ({city}) {status}",
            template => template,
        };
        template
            .replace("{n}", &n.to_string())
            .replace("{name}", name)
            .replace("{city}", city)
            .replace("{status}", status)
            .replace("{licence}", licence)
    }

    /// Place names (normalised) that count as in or near Pekalongan, nearest first.
    pub fn nearby(&self) -> &[String] {
        &self.nearby
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_shipped_file_loads_and_has_every_code() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let labels = AgencyLabels::load(&path).unwrap();
        for status in Status::ALL {
            assert_ne!(labels.status(status, Lang::Id), status.code());
            assert_ne!(labels.status(status, Lang::En), "");
        }
        assert_eq!(
            labels.nearby().first().map(String::as_str),
            Some("kota pekalongan")
        );
        assert!(labels.close_note("PT X", Lang::Id).contains("PT X"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
candidate = { en = "{n}. {name}" }
status = { active = { id = "aktif", xx = "?" } }
office = {}
hint = {}
note = {}
branch = { nearby = [] }
"#;
        let err = AgencyLabels::parse(Path::new("a.toml"), text)
            .unwrap_err()
            .to_string();
        for want in [
            "status.suspended",
            "office.head",
            "hint.too_short",
            "note.close",
            "candidate: the Indonesian",
            "unknown language \"xx\"",
        ] {
            assert!(err.contains(want), "{want} in {err}");
        }
    }
}
