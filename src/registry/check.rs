//! The dialog action `agency.check`: "is this company licensed?", answered from the live registry.
//!
//! Reads `agency_query`. Outcomes: `licensed`, `suspended`, `revoked`, `not_renewed` (its own outcome:
//! a licence that was not renewed is no longer valid, but it was not taken away for a violation, and the
//! dialog should say so), `not_found`, `ambiguous`. Sets the `agency_*` variables listed in [`SETS`] on
//! every run (empty when they do not apply), so no stale value from an earlier check can leak into a text.
//! After `ambiguous`, it remembers the candidates' licence keys in `agency_candidate_keys`, and a next
//! query of "1", "2", ... picks that candidate.
//!
//! Invariants: never a silent guess (see `index`); every word comes from `config/agencies.toml` (see
//! `labels`); the snapshot date and source are always set; cost per run is bounded whatever the query.

use std::path::Path;
use std::sync::Arc;

use super::index::{Candidate, Hint, Index, Verdict};
use super::labels::AgencyLabels;
use super::record::{Company, Office, Status};
use super::service::{Registry, RegistryError};
use crate::dialog::normalize::basic;
use crate::dialog::{Action, ActionCall, ActionResult, Actions, Lang};
use crate::storage::Store;

/// The action's name in dialog files.
pub const ACTION_NAME: &str = "agency.check";

/// Loads the live registry (the current snapshot, or the demo data in `sample`) and the words in
/// `labels`, and registers `agency.check`. Returns the registry handle, for the staff commands (import,
/// rollback, search, stats) that must share it so an import is seen by the running bot at once.
pub fn register_action(
    actions: &mut Actions,
    store: &Store,
    sample: &Path,
    labels: &Path,
) -> Result<Registry, RegistryError> {
    let registry = Registry::load(store, sample)?;
    let labels = AgencyLabels::load(labels)?;
    actions.register(
        ACTION_NAME,
        Arc::new(AgencyCheck::new(registry.clone(), labels)),
    );
    Ok(registry)
}

/// The variable the action reads.
pub const QUERY: &str = "agency_query";

pub const NAME: &str = "agency_name";
pub const LICENCE: &str = "agency_licence";
pub const LICENCE_DATE: &str = "agency_licence_date";
/// The status in the user's language (from `config/agencies.toml`).
pub const STATUS: &str = "agency_status";
/// The status code: `active`, `suspended`, `revoked`, `not_renewed`.
pub const STATUS_CODE: &str = "agency_status_code";
/// The office in or near Pekalongan, else the head office: `address, city, province`.
pub const BRANCH: &str = "agency_branch";
/// Whether [`BRANCH`] is the head office or a branch, in the user's language.
pub const BRANCH_TYPE: &str = "agency_branch_type";
pub const PHONE: &str = "agency_phone";
pub const SNAPSHOT_DATE: &str = "agency_snapshot_date";
pub const SOURCE: &str = "agency_source";
/// "1" while the demo data is in use, else "".
pub const DEMO: &str = "agency_demo";
/// For `ambiguous`: a numbered list, one candidate per line.
pub const CANDIDATES: &str = "agency_candidates";
/// For `ambiguous`: the candidates' licence keys, one per line (read back by the next run).
pub const CANDIDATE_KEYS: &str = "agency_candidate_keys";
/// For `not_found`: advice when the query itself was the problem (too short, too long, empty).
pub const HINT: &str = "agency_hint";
/// For a match that was not exact: "the registered name is ...; compare it".
pub const NOTE: &str = "agency_note";
/// While the demo data is in use: a warning (from `config/agencies.toml`) that it is not the real
/// registry; else "".
pub const DEMO_NOTE: &str = "agency_demo_note";

pub const SETS: &[&str] = &[
    NAME,
    LICENCE,
    LICENCE_DATE,
    STATUS,
    STATUS_CODE,
    BRANCH,
    BRANCH_TYPE,
    PHONE,
    SNAPSHOT_DATE,
    SOURCE,
    DEMO,
    CANDIDATES,
    CANDIDATE_KEYS,
    HINT,
    NOTE,
    DEMO_NOTE,
];

pub const OUTCOMES: &[&str] = &[
    "licensed",
    "suspended",
    "revoked",
    "not_renewed",
    "not_found",
    "ambiguous",
];

/// The outcome for a company's status.
pub fn outcome(status: Status) -> &'static str {
    match status {
        Status::Active => "licensed",
        Status::Suspended => "suspended",
        Status::Revoked => "revoked",
        Status::NotRenewed => "not_renewed",
    }
}

/// The `agency.check` action. Cheap to build; holds the live registry handle.
pub struct AgencyCheck {
    registry: Registry,
    labels: Arc<AgencyLabels>,
}

impl AgencyCheck {
    pub fn new(registry: Registry, labels: AgencyLabels) -> AgencyCheck {
        AgencyCheck {
            registry,
            labels: Arc::new(labels),
        }
    }

    fn base(&self, index: &Index, lang: Lang) -> ActionResult {
        let meta = index.meta();
        let mut result = ActionResult::default();
        for name in SETS {
            result.vars.insert((*name).to_string(), String::new());
        }
        result
            .var(SNAPSHOT_DATE, meta.as_of.to_string())
            .var(SOURCE, meta.source.clone())
            .var(DEMO, if meta.demo { "1" } else { "" })
            .var(
                DEMO_NOTE,
                if meta.demo {
                    self.labels.demo_note(lang)
                } else {
                    ""
                },
            )
    }

    /// The office to show: the first (in `nearby` order) in or near Pekalongan, else the head office.
    fn office<'a>(&self, company: &'a Company) -> Option<&'a Office> {
        for place in self.labels.nearby() {
            let found = company
                .offices
                .iter()
                .find(|o| basic(&o.city).contains(place.as_str()));
            if found.is_some() {
                return found;
            }
        }
        company.head_office().or(company.offices.first())
    }

    fn company(
        &self,
        mut result: ActionResult,
        company: &Company,
        exact: bool,
        lang: Lang,
    ) -> ActionResult {
        result.outcome = outcome(company.status).to_string();
        let mut result = result
            .var(NAME, company.name.clone())
            .var(LICENCE, company.licence.clone())
            .var(LICENCE_DATE, company.licence_date.to_string())
            .var(STATUS, self.labels.status(company.status, lang))
            .var(STATUS_CODE, company.status.code());
        if let Some(office) = self.office(company) {
            result = result
                .var(BRANCH, office.place())
                .var(BRANCH_TYPE, self.labels.office(office.office_type, lang))
                .var(PHONE, office.phone.clone());
        }
        if !exact {
            result = result.var(NOTE, self.labels.close_note(&company.name, lang));
        }
        result
    }

    fn ambiguous(
        &self,
        mut result: ActionResult,
        candidates: &[Candidate<'_>],
        lang: Lang,
    ) -> ActionResult {
        result.outcome = "ambiguous".to_string();
        let lines: Vec<String> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.labels.candidate_line(
                    i + 1,
                    &c.company.name,
                    c.company.city(),
                    self.labels.status(c.company.status, lang),
                    &c.company.licence,
                    lang,
                )
            })
            .collect();
        let keys: Vec<&str> = candidates
            .iter()
            .map(|c| c.company.licence_key.as_str())
            .collect();
        result
            .var(CANDIDATES, lines.join("\n"))
            .var(CANDIDATE_KEYS, keys.join("\n"))
    }

    fn not_found(&self, mut result: ActionResult, hint: Hint, lang: Lang) -> ActionResult {
        result.outcome = "not_found".to_string();
        result.var(HINT, self.labels.hint(hint, lang))
    }
}

/// "2" after a list of candidates: the licence key of candidate 2.
fn picked<'a>(query: &str, keys: Option<&'a String>) -> Option<&'a str> {
    let keys = keys?;
    let n: usize = query.trim().trim_end_matches('.').parse().ok()?;
    keys.lines()
        .filter(|k| !k.is_empty())
        .nth(n.checked_sub(1)?)
}

impl Action for AgencyCheck {
    fn outcomes(&self) -> &'static [&'static str] {
        OUTCOMES
    }

    fn sets(&self) -> &'static [&'static str] {
        SETS
    }

    fn reads(&self) -> &'static [&'static str] {
        &[QUERY]
    }

    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let index = self.registry.current();
        let result = self.base(&index, call.lang);
        let query = call.vars.get(QUERY).map(String::as_str).unwrap_or("");
        if let Some(key) = picked(query, call.vars.get(CANDIDATE_KEYS)) {
            // The registry may have changed since the list was shown: look the licence up again.
            return match index.by_licence(key) {
                Some(company) => self.company(result, company, true, call.lang),
                None => self.not_found(result, Hint::None, call.lang),
            };
        }
        let search = index.search(query);
        match search.verdict {
            Verdict::Match => match search.candidates.first() {
                Some(best) => self.company(result, best.company, best.exact(), call.lang),
                None => self.not_found(result, Hint::None, call.lang),
            },
            Verdict::Ambiguous => self.ambiguous(result, &search.candidates, call.lang),
            Verdict::NotFound(hint) => self.not_found(result, hint, call.lang),
        }
    }
}
