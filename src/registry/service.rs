//! [`Registry`]: the live registry the bot answers from, a cheap handle shared by the dialog action, the
//! CLI and staff tools. It loads the current snapshot (or the demo data when none was imported), imports
//! a new listing, rolls back, and prints search results and statistics for staff (in the `[staff]` words
//! of `config/agencies.toml`, see [`super::staff`]).
//!
//! Invariants:
//! - Readers never wait for an import: an import builds a complete new [`Index`] and swaps one `Arc`.
//! - The in-memory index changes only after the new snapshot is durably current (see
//!   `storage::agencies`), so what the bot says always matches what a restart would load.
//! - One import or rollback at a time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use super::import::{self, ImportError, ImportReport};
use super::index::{Index, MatchKind, Verdict};
use super::labels::AgencyLabels;
use super::record::{Office, OfficeType, SnapshotMeta, Status};
use super::staff::{StaffText, StaffTexts};
use crate::dialog::Lang;
use crate::storage::Store;
use crate::storage::agencies::AgencyStore;
use crate::time::{Date, now_secs};

/// The source named when neither the file nor the command line names one.
pub const DEFAULT_SOURCE: &str = "SISKOP2MI";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry database failed: {0}")]
    Storage(#[from] crate::storage::Error),
    #[error("the demo registry cannot be loaded: {0}")]
    Sample(Box<ImportError>),
    #[error(
        "registry snapshot {id} is named current but is missing from the database; run `pandu agencies import` again"
    )]
    Missing { id: u64 },
    #[error("there is no previous registry snapshot to roll back to")]
    NoPrevious,
    #[error("the agency-check words cannot be loaded: {0}")]
    Labels(#[from] super::labels::LabelsError),
}

impl RegistryError {
    /// What staff read when a command fails this way.
    pub fn describe(&self, texts: &StaffTexts) -> String {
        match self {
            RegistryError::Storage(e) => {
                texts.fill(StaffText::Database, &[("detail", e.to_string())])
            }
            RegistryError::Sample(e) => e.describe(texts),
            RegistryError::Missing { id } => {
                texts.fill(StaffText::SnapshotMissing, &[("id", id.to_string())])
            }
            RegistryError::NoPrevious => texts.text(StaffText::NoPrevious),
            // Only at startup (the texts themselves did not load): the file and key are named.
            RegistryError::Labels(e) => e.to_string(),
        }
    }
}

struct Inner {
    current: RwLock<Arc<Index>>,
    /// The snapshot kept for rollback, for `stats`.
    previous: RwLock<Option<SnapshotMeta>>,
    /// Serialises imports and rollbacks.
    writer: Mutex<()>,
}

/// The live registry. Clones share one index; an import or rollback through any clone is seen by all.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

/// For the log (staff read [`StaffTexts::snapshot`]).
impl std::fmt::Display for SnapshotMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id={} demo={} file={:?} offices={} companies={} source={:?} as_of={}",
            self.id, self.demo, self.file, self.offices, self.companies, self.source, self.as_of
        )
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn build(meta: SnapshotMeta, offices: &[Office]) -> Index {
    Index::build(meta, import::group(offices))
}

impl Registry {
    /// Loads the current snapshot from the database, or the demo data in `sample` when no listing was
    /// ever imported.
    pub fn load(store: &Store, sample: &Path) -> Result<Registry, RegistryError> {
        let agencies = AgencyStore::open(store)?;
        let index = match agencies.current_id()? {
            Some(id) => {
                let snapshot = agencies
                    .load::<SnapshotMeta, Office>(id)?
                    .ok_or(RegistryError::Missing { id })?;
                build(snapshot.meta, &snapshot.records)
            }
            None => Registry::demo_index(sample)?,
        };
        let previous = match agencies.previous_id()? {
            Some(id) => agencies.load_meta::<SnapshotMeta>(id)?,
            None => None,
        };
        tracing::info!(snapshot = %index.meta(), "agency registry loaded");
        Ok(Registry {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(index)),
                previous: RwLock::new(previous),
                writer: Mutex::new(()),
            }),
        })
    }

    fn demo_index(sample: &Path) -> Result<Index, RegistryError> {
        let parsed = import::read_file(sample, &mut |_, _| {})
            .map_err(|e| RegistryError::Sample(Box::new(e)))?;
        let companies = import::group(&parsed.offices);
        let meta = SnapshotMeta {
            id: 0,
            source: parsed.source.unwrap_or_else(|| file_name(sample)),
            as_of: parsed.as_of.unwrap_or_else(Date::today),
            imported_at: now_secs(),
            file: file_name(sample),
            demo: true,
            offices: parsed.offices.len(),
            companies: companies.len(),
        };
        Ok(Index::build(meta, companies))
    }

    /// The index the bot answers from now. Cheap; hold it only for one answer.
    pub fn current(&self) -> Arc<Index> {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    fn swap(&self, index: Index, previous: Option<SnapshotMeta>) {
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(index);
        *self
            .inner
            .previous
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = previous;
    }

    /// Imports a listing file: checks all of it, stores it as a new snapshot, makes it current in one
    /// atomic step, and answers from it. On any error nothing changes. `progress(done, total)` counts
    /// bytes read. `source` and `as_of` override the file's `# source:` / `# as_of:` lines; the defaults
    /// are [`DEFAULT_SOURCE`] and today.
    pub fn import_csv(
        &self,
        store: &Store,
        path: &Path,
        source: Option<String>,
        as_of: Option<Date>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, ImportError> {
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let parsed = import::read_file(path, progress)?;
        let companies = import::group(&parsed.offices);
        let agencies = AgencyStore::open(store)?;
        let id = agencies.new_id()?;
        let meta = SnapshotMeta {
            id,
            source: source
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .or(parsed.source)
                .unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
            as_of: as_of.or(parsed.as_of).unwrap_or_else(Date::today),
            imported_at: now_secs(),
            file: file_name(path),
            demo: false,
            offices: parsed.offices.len(),
            companies: companies.len(),
        };
        agencies.write_snapshot(id, &meta, &parsed.offices)?;
        agencies.switch_to(id)?;

        let old = self.current();
        let previous = (!old.meta().demo).then(|| (old.meta().clone(), old.companies()));
        let report = ImportReport::new(meta.clone(), previous, &companies);
        let kept = (!old.meta().demo).then(|| old.meta().clone());
        self.swap(Index::build(meta, companies), kept);
        tracing::info!(snapshot = %report.snapshot, "agency registry imported");
        Ok(report)
    }

    /// Makes the previous snapshot current again (and the current one previous, so a second rollback
    /// undoes the first). Returns the snapshot now served.
    pub fn rollback(&self, store: &Store) -> Result<SnapshotMeta, RegistryError> {
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let agencies = AgencyStore::open(store)?;
        let id = agencies.rollback()?.ok_or(RegistryError::NoPrevious)?;
        let snapshot = agencies
            .load::<SnapshotMeta, Office>(id)?
            .ok_or(RegistryError::Missing { id })?;
        let previous = match agencies.previous_id()? {
            Some(prev) => agencies.load_meta::<SnapshotMeta>(prev)?,
            None => None,
        };
        let meta = snapshot.meta.clone();
        self.swap(build(snapshot.meta, &snapshot.records), previous);
        tracing::info!(snapshot = %meta, "agency registry rolled back");
        Ok(meta)
    }

    /// What a staff member sees for `pandu agencies search QUERY`: the verdict the bot would give and
    /// the ranked candidates with scores and offices, in the `[staff]` words of `labels`.
    pub fn search_text(&self, query: &str, labels: &AgencyLabels) -> String {
        let texts = labels.staff();
        let index = self.current();
        let result = index.search(query);
        let mut out = vec![texts.fill(
            StaffText::SearchHead,
            &[("snapshot", texts.snapshot(index.meta()))],
        )];
        out.push(match result.verdict {
            Verdict::Match => texts.text(StaffText::SearchMatch),
            Verdict::SameName => texts.text(StaffText::SearchSameName),
            Verdict::Close => texts.text(StaffText::SearchClose),
            Verdict::LicenceOther => texts.fill(
                StaffText::SearchLicenceOther,
                &[("typed", result.typed_name.clone().unwrap_or_default())],
            ),
            Verdict::NotFound(hint) => texts.fill(
                StaffText::SearchNotFound,
                &[("hint", labels.hint(hint, Lang::Id).to_string())],
            ),
        });
        for (n, candidate) in result.candidates.iter().enumerate() {
            let company = candidate.company;
            out.push(texts.fill(
                StaffText::SearchCandidate,
                &[
                    ("n", (n + 1).to_string()),
                    ("score", format!("{:.2}", candidate.score)),
                    (
                        "kind",
                        texts.text(match candidate.kind {
                            MatchKind::Licence => StaffText::KindLicence,
                            MatchKind::LicenceNumbers => StaffText::KindLicenceNumbers,
                            MatchKind::ExactName => StaffText::KindExactName,
                            MatchKind::Name => StaffText::KindName,
                        }),
                    ),
                    ("name", company.name.clone()),
                    ("licence", company.licence.clone()),
                    ("licence_date", company.licence_date.to_string()),
                    ("status", texts.status(company.status)),
                ],
            ));
            for office in &company.offices {
                out.push(texts.fill(
                    StaffText::SearchOffice,
                    &[
                        (
                            "office",
                            labels.office(office.office_type, Lang::Id).to_string(),
                        ),
                        ("place", office.place()),
                        ("phone", office.phone.clone()),
                        ("line", office.line.to_string()),
                    ],
                ));
            }
        }
        out.join("\n")
    }

    /// What a staff member sees for `pandu agencies stats`, in the `[staff]` words of `labels`.
    pub fn stats_text(&self, labels: &AgencyLabels) -> String {
        let texts = labels.staff();
        let index = self.current();
        let meta = index.meta();
        let mut out = vec![texts.fill(
            StaffText::StatsServing,
            &[("snapshot", texts.snapshot(meta))],
        )];
        if meta.demo {
            out.push(texts.text(StaffText::StatsDemo));
        } else {
            out.push(texts.fill(
                StaffText::StatsImported,
                &[("date", Date::from_unix(meta.imported_at).to_string())],
            ));
        }
        let mut by_status: BTreeMap<Status, usize> = BTreeMap::new();
        let mut by_province: BTreeMap<String, usize> = BTreeMap::new();
        let (mut heads, mut branches) = (0usize, 0usize);
        for company in index.companies() {
            *by_status.entry(company.status).or_insert(0) += 1;
            for office in &company.offices {
                match office.office_type {
                    OfficeType::Head => heads += 1,
                    OfficeType::Branch => branches += 1,
                }
                *by_province.entry(office.province.clone()).or_insert(0) += 1;
            }
        }
        out.push(texts.fill(
            StaffText::StatsByStatus,
            &[("counts", import::status_counts(&by_status, texts))],
        ));
        out.push(texts.fill(
            StaffText::StatsOffices,
            &[
                ("heads", heads.to_string()),
                ("branches", branches.to_string()),
            ],
        ));
        let mut provinces: Vec<(String, usize)> = by_province.into_iter().collect();
        provinces.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let top: Vec<String> = provinces
            .iter()
            .take(8)
            .map(|(p, n)| {
                if p.is_empty() {
                    format!("{} {n}", texts.text(StaffText::StatsNoProvince))
                } else {
                    format!("{p} {n}")
                }
            })
            .collect();
        out.push(texts.fill(StaffText::StatsByProvince, &[("provinces", top.join(", "))]));
        let previous = self
            .inner
            .previous
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        out.push(match previous {
            Some(p) => texts.fill(
                StaffText::StatsPrevious,
                &[("snapshot", texts.snapshot(&p))],
            ),
            None => texts.text(StaffText::StatsNoPrevious),
        });
        out.join("\n")
    }
}
