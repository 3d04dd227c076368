//! The words users and staff see around the agency registry, read from `config/agencies.toml`: one word
//! per licence status (and what it means), office names, hints for queries that cannot be searched, the
//! line format of a candidate list and of its buttons, the place names that count as "near Pekalongan",
//! and the `[staff]` texts of `pandu agencies ...` (see [`super::staff`]).
//!
//! Invariant: no user-facing word is a Rust literal; Rust code knows only the stable codes (`active`,
//! `too_short`, ...) and looks their words up here. Loading reports every problem of the file at once,
//! each with the file and, where it can be found, the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::index::Hint;
use super::record::{OfficeType, Status};
use super::staff::{StaffText, StaffTexts, placeholders_in};
use crate::dialog::Lang;
use crate::dialog::normalize::basic;

/// The default place of the file.
pub const DEFAULT_PATH: &str = "config/agencies.toml";

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{}: error: cannot read the file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem of the file, one per line of the message.
    #[error("{}", list_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<LabelsProblem>,
    },
}

/// One thing wrong in the file, with its line when it can be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelsProblem {
    pub line: Option<usize>,
    pub message: String,
}

fn list_problems(path: &Path, problems: &[LabelsProblem]) -> String {
    problems
        .iter()
        .map(|p| match p.line {
            Some(line) => format!("{}:{line}: error: {}", path.display(), p.message),
            None => format!("{}: error: {}", path.display(), p.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One text in several languages; Bahasa Indonesia is the fallback.
pub use crate::dialog::model::Text as LangText;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    status: BTreeMap<String, BTreeMap<String, String>>,
    status_note: BTreeMap<String, BTreeMap<String, String>>,
    office: BTreeMap<String, BTreeMap<String, String>>,
    hint: BTreeMap<String, BTreeMap<String, String>>,
    note: BTreeMap<String, BTreeMap<String, String>>,
    candidate: BTreeMap<String, String>,
    pick: BTreeMap<String, String>,
    branch: BranchFile,
    /// Checked key by key (every missing one is reported), so absent is allowed here.
    #[serde(default)]
    staff: BTreeMap<String, String>,
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
    status_note: BTreeMap<String, LangText>,
    office: BTreeMap<String, LangText>,
    hint: BTreeMap<String, LangText>,
    note: BTreeMap<String, LangText>,
    candidate: LangText,
    pick: LangText,
    /// Normalised place names, nearest first.
    nearby: Vec<String>,
    staff: StaffTexts,
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
        let file: File = toml::from_str(text).map_err(|e| LabelsError::Invalid {
            path: path.to_path_buf(),
            problems: vec![LabelsProblem {
                line: e.span().map(|span| line_at(text, span.start)),
                message: e.message().trim().to_string(),
            }],
        })?;
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
        let status_note = section("status_note", file.status_note, &status_codes);
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
        let note = section("note", file.note, &["demo", "more"]);
        let candidate = convert("candidate", file.candidate);
        let pick = convert("pick", file.pick);
        let mut problems: Vec<LabelsProblem> = problems
            .into_iter()
            .map(|message| LabelsProblem {
                line: None,
                message,
            })
            .collect();
        let status_words: BTreeMap<Status, String> = Status::ALL
            .iter()
            .filter_map(|s| Some((*s, status.get(s.code())?.get(Lang::Id).to_string())))
            .collect();
        let staff = staff_texts(text, file.staff, status_words, &mut problems);
        if !problems.is_empty() {
            return Err(LabelsError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(AgencyLabels {
            status,
            status_note,
            office,
            hint,
            note,
            candidate,
            pick,
            nearby: file
                .branch
                .nearby
                .iter()
                .map(|p| basic(p))
                .filter(|p| !p.is_empty())
                .collect(),
            staff,
        })
    }

    /// What staff read from `pandu agencies ...`.
    pub fn staff(&self) -> &StaffTexts {
        &self.staff
    }

    fn lookup<'a>(map: &'a BTreeMap<String, LangText>, code: &'a str, lang: Lang) -> &'a str {
        map.get(code).map(|t| t.get(lang)).unwrap_or(code)
    }

    pub fn status(&self, status: Status, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.status, status.code(), lang)
    }

    /// What the status means for someone being recruited.
    pub fn status_note(&self, status: Status, lang: Lang) -> &str {
        self.status_note
            .get(status.code())
            .map(|t| t.get(lang))
            .unwrap_or("")
    }

    pub fn office(&self, office: OfficeType, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.office, office.code(), lang)
    }

    pub fn hint(&self, hint: Hint, lang: Lang) -> &str {
        AgencyLabels::lookup(&self.hint, hint.code(), lang)
    }

    /// The warning shown while the bundled demo data stands in for the real registry.
    pub fn demo_note(&self, lang: Lang) -> &str {
        self.note.get("demo").map(|t| t.get(lang)).unwrap_or("")
    }

    /// The last line of a candidate list cut to fit a phone screen: `{n}` more are in the buttons.
    pub fn more_candidates(&self, n: usize, lang: Lang) -> String {
        self.note
            .get("more")
            .map(|t| t.get(lang))
            .unwrap_or("+{n}")
            .replace("{n}", &n.to_string())
    }

    /// One line of a candidate list: `{n}`, `{name}`, `{city}`, `{status}`, `{status_note}`,
    /// `{licence}` filled in.
    #[allow(clippy::too_many_arguments)]
    pub fn candidate_line(
        &self,
        n: usize,
        name: &str,
        city: &str,
        status: &str,
        status_note: &str,
        licence: &str,
        lang: Lang,
    ) -> String {
        let template = match self.candidate.get(lang) {
            "" => "{n}. {name} ({city}) {licence} {status}",
            template => template,
        };
        // The line is authored markup (`*{name}*`); the registry's values are shown literally.
        let escape = crate::dialog::markup::escape;
        template
            .replace("{n}", &n.to_string())
            .replace("{name}", &escape(name))
            .replace("{city}", &escape(city))
            .replace("{status_note}", status_note)
            .replace("{status}", status)
            .replace("{licence}", &escape(licence))
    }

    /// The label of the button that picks candidate `n`: `{n}`, `{name}` filled in.
    pub fn pick_label(&self, n: usize, name: &str, lang: Lang) -> String {
        let template = match self.pick.get(lang) {
            "" => "{n}. {name}",
            template => template,
        };
        template
            .replace("{n}", &n.to_string())
            .replace("{name}", name)
    }

    /// Place names (normalised) that count as in or near Pekalongan, nearest first.
    pub fn nearby(&self) -> &[String] {
        &self.nearby
    }
}

/// The `[staff]` texts: every [`StaffText`] written, none unknown, each using only its placeholders.
fn staff_texts(
    text: &str,
    map: BTreeMap<String, String>,
    status_words: BTreeMap<Status, String>,
    problems: &mut Vec<LabelsProblem>,
) -> StaffTexts {
    let table = table_line(text, "staff");
    let mut texts = BTreeMap::new();
    let mut present = std::collections::BTreeSet::new();
    for (key, value) in map {
        let line = key_line(text, "staff", &key).or(table);
        let Some(staff_text) = StaffText::from_key(&key) else {
            problems.push(LabelsProblem {
                line,
                message: format!(
                    "staff.{key} is not a text the program uses; check its spelling (the comments in \
                     the file list the texts)"
                ),
            });
            continue;
        };
        present.insert(staff_text);
        if value.trim().is_empty() {
            problems.push(LabelsProblem {
                line,
                message: format!("staff.{key} is empty; write the text"),
            });
            continue;
        }
        let allowed = staff_text.placeholders();
        let unknown: Vec<String> = placeholders_in(&value)
            .into_iter()
            .filter(|name| !allowed.contains(name))
            .map(|name| format!("{{{name}}}"))
            .collect();
        if !unknown.is_empty() {
            let allowed: Vec<String> = allowed.iter().map(|n| format!("{{{n}}}")).collect();
            problems.push(LabelsProblem {
                line,
                message: format!(
                    "staff.{key} uses {} which the program does not fill in; it can use: {}",
                    unknown.join(", "),
                    if allowed.is_empty() {
                        "nothing".to_string()
                    } else {
                        allowed.join(" ")
                    }
                ),
            });
            continue;
        }
        texts.insert(staff_text, value);
    }
    for staff_text in StaffText::ALL {
        let key = staff_text.key();
        if present.contains(staff_text) {
            continue;
        }
        let placeholders: Vec<String> = staff_text
            .placeholders()
            .iter()
            .map(|n| format!("{{{n}}}"))
            .collect();
        problems.push(LabelsProblem {
            line: table,
            message: format!(
                "staff.{key} is missing; add it to the [staff] table{}",
                if placeholders.is_empty() {
                    String::new()
                } else {
                    format!(" (it can use {})", placeholders.join(" "))
                }
            ),
        });
    }
    StaffTexts::new(texts, status_words)
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    1 + text
        .as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
}

/// The 1-based line of a `[table]` header.
fn table_line(text: &str, table: &str) -> Option<usize> {
    let header = format!("[{table}]");
    text.lines().position(|l| l.trim() == header).map(|i| i + 1)
}

/// The 1-based line of `key = ...` inside `[table]`.
fn key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let header = format!("[{table}]");
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if inside
            && let Some(rest) = line.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some(i + 1);
        }
    }
    None
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
        for status in Status::ALL {
            assert_ne!(labels.status_note(status, Lang::Id), "");
            // One word per status, for users and staff alike.
            assert_eq!(
                labels.staff().status(status),
                labels.status(status, Lang::Id)
            );
        }
        assert_eq!(labels.pick_label(2, "PT X", Lang::En), "2. PT X");
        for text in StaffText::ALL {
            let written = labels.staff().get(*text);
            assert!(written.is_some_and(|t| !t.trim().is_empty()), "{text:?}");
        }
    }

    #[test]
    fn staff_text_problems_name_the_line_and_key_all_at_once() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let shipped = std::fs::read_to_string(&path).unwrap();
        let edited: String = shipped
            .lines()
            .filter(|l| !l.starts_with("search_match ="))
            .map(|l| match l {
                l if l.starts_with("row =") => "row = \"\"".to_string(),
                l if l.starts_with("failed =") => "failed = \"Gagal: {eror}\"".to_string(),
                l => l.to_string(),
            })
            .chain(["serch_head = \"?\"".to_string()])
            .collect::<Vec<_>>()
            .join("\n");
        let line = |start: &str| {
            edited
                .lines()
                .position(|l| l.starts_with(start))
                .map(|i| i + 1)
                .unwrap()
        };
        let err = AgencyLabels::parse(Path::new("a.toml"), &edited)
            .unwrap_err()
            .to_string();
        for want in [
            format!(
                "a.toml:{}: error: staff.search_match is missing",
                line("[staff]")
            ),
            format!("a.toml:{}: error: staff.row is empty", line("row =")),
            format!(
                "a.toml:{}: error: staff.failed uses {{eror}}",
                line("failed =")
            ),
            format!(
                "a.toml:{}: error: staff.serch_head is not a text",
                line("serch_head")
            ),
        ] {
            assert!(err.contains(&want), "{want} in {err}");
        }
        assert_eq!(err.lines().count(), 4, "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
candidate = { en = "{n}. {name}" }
status = { active = { id = "aktif", xx = "?" } }
status_note = {}
pick = { id = "{n}" }
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
            "note.demo",
            "status_note.revoked",
            "candidate: the Indonesian",
            "unknown language \"xx\"",
        ] {
            assert!(err.contains(want), "{want} in {err}");
        }
    }
}
