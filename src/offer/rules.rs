//! The rules of the offer check, read from `dialogs/_offer_rules.yaml`: the signs (regexes or a
//! program check), why each matters, its short citation and its fact metadata (source, date,
//! confidence), the verdict words and how a finding is shown.
//!
//! Invariant: a file that loads is complete: every regex compiles, every program check the analyser
//! knows has its texts (so no finding is ever shown without its "why" and source), every sign has a
//! source and a confidence. Every problem is reported with its line, not only the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::dialog::loader::{compile_pattern, compile_set};
use crate::dialog::model::{Confidence, Text};
use crate::time::Date;

/// The rules file, in the dialogs folder (a `_` file: not a flow).
pub const RULES_FILE: &str = "_offer_rules.yaml";

/// How much a sign counts toward the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    /// One is enough for "strong signs".
    Strong,
    /// Three together count as strong.
    Some,
    /// Shown, never raises the verdict.
    Info,
}

impl Weight {
    pub fn code(self) -> &'static str {
        match self {
            Weight::Strong => "strong",
            Weight::Some => "some",
            Weight::Info => "info",
        }
    }
}

/// The checks the program itself makes (the `computed:` names of the rules file).
pub const COMPUTED: &[&str] = &[
    "personal_contact",
    "no_office_address",
    "missing_company",
    "missing_licence",
    "missing_job_order",
    "company_licensed",
    "company_lookalike",
    "company_not_found",
    "company_not_allowed",
    "licence_not_found",
    "licence_mismatch",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSign {
    key: String,
    weight: Weight,
    #[serde(default)]
    computed: Option<String>,
    title: Text,
    why: Text,
    cite: String,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    also: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    #[serde(default)]
    not_near: Vec<String>,
    #[serde(default)]
    present: Vec<String>,
    source: String,
    #[serde(default)]
    verified: Option<Date>,
    confidence: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetect {
    min_chars: usize,
    min_groups: usize,
    groups: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    max_chars: usize,
    detect: RawDetect,
    verdicts: BTreeMap<String, Text>,
    finding: Text,
    excerpt: Text,
    marks: BTreeMap<String, String>,
    no_findings: Text,
    pages: Pages,
    staff_line: String,
    staff_weights: BTreeMap<String, String>,
    statuses: BTreeMap<String, Text>,
    staff_patterns: StaffPatterns,
    signs: Vec<RawSign>,
}

/// How the findings are cut to fit a phone screen: the short list in the result, the full findings in
/// pages behind "Selengkapnya".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pages {
    /// The short findings in the result, by verdict (`none`, `some`, `strong`): at most this many
    /// characters (at least one finding).
    pub top_chars: BTreeMap<String, usize>,
    /// One page of full findings (with its head): at most this many characters, unless a single
    /// finding is longer.
    pub page_chars: usize,
    /// One finding in short form: `{mark} {title} {excerpt} {cite}`.
    pub short: Text,
    /// After the short list when findings are left out: `{n}`.
    pub more: Text,
    /// After the short list when every finding is in it.
    pub all_shown: Text,
    /// Above each page: `{page}`, `{pages}`.
    pub head: Text,
}

/// What `pandu cases offers` prints (Bahasa Indonesia, for staff). `{n}` cases; per line `{value}`,
/// `{count}`, `{codes}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffPatterns {
    pub head: String,
    pub none: String,
    pub phones: String,
    pub accounts: String,
    pub companies: String,
    pub line: String,
    pub empty: String,
}

/// One sign, ready to match.
#[derive(Debug)]
pub struct Sign {
    pub key: String,
    pub weight: Weight,
    /// `Some` for a program check.
    pub computed: Option<String>,
    pub title: Text,
    pub why: Text,
    pub cite: String,
    pub any: Vec<Regex>,
    pub also: Vec<Regex>,
    pub unless: Vec<Regex>,
    pub not_near: Vec<Regex>,
    pub present: Vec<Regex>,
    pub source: String,
    pub verified: Option<Date>,
    pub confidence: Confidence,
    pub note: Option<String>,
}

/// The loaded, checked rules.
#[derive(Debug)]
pub struct OfferRules {
    pub max_chars: usize,
    pub detect_min_chars: usize,
    pub detect_min_groups: usize,
    pub detect_groups: Vec<(String, Vec<Regex>)>,
    pub verdicts: BTreeMap<String, Text>,
    pub finding: Text,
    pub excerpt: Text,
    pub marks: BTreeMap<String, String>,
    pub no_findings: Text,
    pub pages: Pages,
    pub staff_line: String,
    pub staff_weights: BTreeMap<String, String>,
    pub statuses: BTreeMap<String, Text>,
    pub staff_patterns: StaffPatterns,
    pub signs: Vec<Sign>,
    /// Every `any` pattern of the pattern signs in one set, scanned once per offer: only the signs
    /// whose patterns can match run their own regexes (`any_owner[i]`: the sign of set pattern `i`).
    pub any_set: RegexSet,
    pub any_owner: Vec<usize>,
    /// The detect groups' patterns in one set (`detect_owner[i]`: the group of set pattern `i`).
    pub detect_set: RegexSet,
    pub detect_owner: Vec<usize>,
}

/// Why the rules file cannot be used: every problem, each with its line where known.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct RulesError {
    pub file: PathBuf,
    pub problems: Vec<String>,
}

impl OfferRules {
    pub fn sign(&self, key: &str) -> Option<&Sign> {
        self.signs.iter().find(|s| s.key == key)
    }

    /// The sign that a program check reports as.
    pub fn computed(&self, name: &str) -> Option<&Sign> {
        self.signs
            .iter()
            .find(|s| s.computed.as_deref() == Some(name))
    }

    pub fn load(path: &Path) -> Result<OfferRules, RulesError> {
        let fail = |problems: Vec<String>| RulesError {
            file: path.to_path_buf(),
            problems,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(vec![format!(
                "{}: cannot read the file: {e}",
                path.display()
            )])
        })?;
        OfferRules::parse(path, &text).map_err(fail)
    }

    /// Reads rules from YAML text (`path` only names the file in messages).
    pub fn parse(path: &Path, text: &str) -> Result<OfferRules, Vec<String>> {
        let file = path.display().to_string();
        let raw: RawRules = serde_saphyr::from_str(text).map_err(|e| {
            let message = e.without_snippet().to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_string();
            vec![match e.location() {
                Some(l) => format!("{file}:{}:{}: {message}", l.line(), l.column()),
                None => format!("{file}: {message}"),
            }]
        })?;
        let mut problems = Vec::new();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .unwrap_or(1)
        };
        let compile = |list: &[String], what: &str, problems: &mut Vec<String>| {
            list.iter()
                .filter_map(|p| match compile_pattern(p) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        let first = e.to_string();
                        let first = first.lines().last().unwrap_or("").trim().to_string();
                        problems.push(format!(
                            "{file}:{}: {what}: bad regex: {first}",
                            line_of(p.get(..p.len().min(40)).unwrap_or(p))
                        ));
                        None
                    }
                })
                .collect::<Vec<_>>()
        };
        let mut detect_groups = Vec::new();
        for (name, patterns) in &raw.detect.groups {
            detect_groups.push((
                name.clone(),
                compile(patterns, &format!("detect.{name}"), &mut problems),
            ));
        }
        if raw.detect.min_groups > detect_groups.len() {
            problems.push(format!(
                "{file}:{}: detect.min_groups is {} but there are only {} groups",
                line_of("min_groups"),
                raw.detect.min_groups,
                detect_groups.len()
            ));
        }
        for needed in ["none", "some", "strong"] {
            if !raw.verdicts.contains_key(needed) {
                problems.push(format!(
                    "{file}:{}: verdicts.{needed} is missing",
                    line_of("verdicts:")
                ));
            }
        }
        for needed in ["strong", "some", "info"] {
            if !raw.marks.contains_key(needed) {
                problems.push(format!(
                    "{file}:{}: marks.{needed} is missing",
                    line_of("marks:")
                ));
            }
            if !raw.staff_weights.contains_key(needed) {
                problems.push(format!(
                    "{file}:{}: staff_weights.{needed} is missing",
                    line_of("staff_weights")
                ));
            }
        }
        for needed in ["suspended", "revoked", "not_renewed"] {
            if !raw.statuses.contains_key(needed) {
                problems.push(format!(
                    "{file}:{}: statuses.{needed} is missing",
                    line_of("statuses:")
                ));
            }
        }
        for (what, t) in [
            ("finding", &raw.finding),
            ("excerpt", &raw.excerpt),
            ("no_findings", &raw.no_findings),
            ("pages.short", &raw.pages.short),
            ("pages.more", &raw.pages.more),
            ("pages.all_shown", &raw.pages.all_shown),
            ("pages.head", &raw.pages.head),
        ] {
            if t.get(crate::dialog::Lang::Id).trim().is_empty() {
                problems.push(format!(
                    "{file}:{}: {what} needs an `id` text",
                    line_of(&format!("{what}:"))
                ));
            }
        }
        let page_limit = crate::dialog::REPLY_MAX_CHARS;
        if raw.pages.page_chars < 200 || raw.pages.page_chars > page_limit {
            problems.push(format!(
                "{file}:{}: pages.page_chars must be between 200 and {page_limit} (a page fits one phone screen)",
                line_of("page_chars")
            ));
        }
        let top_limit = crate::dialog::REPLY_MAX_CHARS * 3 / 5;
        for needed in ["none", "some", "strong"] {
            match raw.pages.top_chars.get(needed) {
                Some(&n) if n > 0 && n <= top_limit => {}
                _ => problems.push(format!(
                    "{file}:{}: pages.top_chars.{needed} must be between 1 and {top_limit} (the verdict and the advice share the result's screen)",
                    line_of("top_chars")
                )),
            }
        }
        if raw.max_chars == 0 {
            problems.push(format!(
                "{file}:{}: max_chars must be > 0",
                line_of("max_chars")
            ));
        }
        let mut signs = Vec::new();
        let mut raw_any: Vec<Vec<String>> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for s in raw.signs {
            raw_any.push(s.any.clone());
            let at = line_of(&format!("key: {}", s.key));
            let what = format!("sign {}", s.key);
            if !seen.insert(s.key.clone()) {
                problems.push(format!("{file}:{at}: {what}: the key is used twice"));
            }
            let confidence = match s.confidence.trim() {
                "H" => Confidence::High,
                "M" => Confidence::Medium,
                "L" => Confidence::Low,
                other => {
                    problems.push(format!(
                        "{file}:{at}: {what}: confidence must be H, M or L, not {other:?}"
                    ));
                    Confidence::Low
                }
            };
            if s.source.trim().is_empty() || s.cite.trim().is_empty() {
                problems.push(format!("{file}:{at}: {what}: needs a source and a cite"));
            }
            for (name, t) in [("title", &s.title), ("why", &s.why)] {
                if t.get(crate::dialog::Lang::Id).trim().is_empty() {
                    problems.push(format!("{file}:{at}: {what}: {name} needs an `id` text"));
                }
            }
            match &s.computed {
                Some(c) if !COMPUTED.contains(&c.as_str()) => problems.push(format!(
                    "{file}:{at}: {what}: unknown computed check {c:?} (known: {})",
                    COMPUTED.join(", ")
                )),
                None if s.any.is_empty() => problems.push(format!(
                    "{file}:{at}: {what}: needs `any` patterns or a `computed` check"
                )),
                _ => {}
            }
            signs.push(Sign {
                any: compile(&s.any, &what, &mut problems),
                also: compile(&s.also, &what, &mut problems),
                unless: compile(&s.unless, &what, &mut problems),
                not_near: compile(&s.not_near, &what, &mut problems),
                present: compile(&s.present, &what, &mut problems),
                key: s.key,
                weight: s.weight,
                computed: s.computed,
                title: s.title,
                why: s.why,
                cite: s.cite,
                source: s.source,
                verified: s.verified,
                confidence,
                note: s.note,
            });
        }
        for c in COMPUTED {
            if !signs.iter().any(|s| s.computed.as_deref() == Some(*c)) {
                problems.push(format!(
                    "{file}:{}: no sign has `computed: {c}`: add one (with its title, why and source)",
                    line_of("signs:")
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The prefilters: the same pattern strings as the signs' `any` and the detect groups, compiled
        // once here (every one of them compiled above, so the sets build).
        let mut any_patterns: Vec<&str> = Vec::new();
        let mut any_owner = Vec::new();
        for (i, (sign, raw)) in signs.iter().zip(&raw_any).enumerate() {
            if sign.computed.is_none() {
                for p in raw {
                    any_patterns.push(p.as_str());
                    any_owner.push(i);
                }
            }
        }
        let mut detect_patterns: Vec<&str> = Vec::new();
        let mut detect_owner = Vec::new();
        for (i, (_, patterns)) in raw.detect.groups.iter().enumerate() {
            for p in patterns {
                detect_patterns.push(p.as_str());
                detect_owner.push(i);
            }
        }
        let any_set = compile_set(&any_patterns)
            .map_err(|e| vec![format!("{file}: the signs' patterns as one set: {e}")])?;
        let detect_set = compile_set(&detect_patterns)
            .map_err(|e| vec![format!("{file}: the detect patterns as one set: {e}")])?;
        Ok(OfferRules {
            max_chars: raw.max_chars,
            detect_min_chars: raw.detect.min_chars,
            detect_min_groups: raw.detect.min_groups,
            detect_groups,
            verdicts: raw.verdicts,
            finding: raw.finding,
            excerpt: raw.excerpt,
            marks: raw.marks,
            no_findings: raw.no_findings,
            pages: raw.pages,
            staff_line: raw.staff_line,
            staff_weights: raw.staff_weights,
            statuses: raw.statuses,
            staff_patterns: raw.staff_patterns,
            signs,
            any_set,
            any_owner,
            detect_set,
            detect_owner,
        })
    }

    /// The rules as fact rows for `pandu check --facts`: (path, confidence, source, verified, note).
    pub fn fact_rows(&self) -> Vec<(String, Confidence, String, String, Option<String>)> {
        self.signs
            .iter()
            .map(|s| {
                (
                    format!("{RULES_FILE}/{}", s.key),
                    s.confidence,
                    s.source.clone(),
                    s.verified
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "never".into()),
                    s.note.clone(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dialogs")
            .join(RULES_FILE)
    }

    #[test]
    fn the_shipped_rules_load_and_every_sign_has_a_source() {
        let rules = OfferRules::load(&shipped()).unwrap();
        assert!(rules.signs.len() >= 20);
        for s in &rules.signs {
            assert!(!s.source.is_empty() && !s.cite.is_empty(), "{}", s.key);
        }
        assert_eq!(rules.fact_rows().len(), rules.signs.len());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = std::fs::read_to_string(shipped()).unwrap();
        let broken = text
            .replace("key: fee\n", "key: fee\n    extra: 1\n")
            .replace("confidence: H\n", "confidence: X\n");
        let err = OfferRules::parse(Path::new("r.yaml"), &broken).unwrap_err();
        assert!(err[0].starts_with("r.yaml:"), "{err:?}");
        let bad = text
            .replace("confidence: H\n", "confidence: X\n")
            .replace(r"'\blpk\b'", r"'\blpk(\b'")
            .replace("computed: missing_job_order", "computed: nonsense");
        let err = OfferRules::parse(Path::new("r.yaml"), &bad).unwrap_err();
        let all = err.join("\n");
        assert!(all.contains("confidence must be H, M or L"), "{all}");
        assert!(all.contains("bad regex"), "{all}");
        assert!(all.contains("unknown computed check \"nonsense\""), "{all}");
        assert!(
            all.contains("no sign has `computed: missing_job_order`"),
            "{all}"
        );
    }
}
