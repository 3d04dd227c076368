//! The registry of licensed placement companies (P3MI): import, normalised search, the `agency.check`
//! action.
//!
//! - [`import`]: reads and checks the official listing (CSV), all or nothing, every bad row reported;
//! - [`index`]: the in-memory search index (licence number and fuzzy name) and its verdicts;
//! - [`service`]: [`Registry`], the live handle (load, import, rollback, staff search and stats);
//! - [`check`]: [`AgencyCheck`], the dialog action; [`labels`]: its words from `config/agencies.toml`,
//!   with the `[staff]` words of `pandu agencies ...` ([`staff`]);
//! - [`normalize`], [`record`]: comparable forms and the data types.
//!
//! Invariants: never tells a user a company is licensed on a guess (close candidates are "ambiguous");
//! always says the snapshot's date and source; persistence only through `storage::agencies`.

pub mod check;
pub mod import;
pub mod index;
pub mod labels;
pub mod normalize;
pub mod record;
pub mod service;
pub mod staff;

pub use check::AgencyCheck;
pub use import::{ImportError, ImportReport, Problem, RowError};
pub use index::{Candidate, Hint, Index, MatchKind, SearchResult, Verdict};
pub use labels::{AgencyLabels, LabelsError, LabelsProblem};
pub use record::{Company, Office, OfficeType, SnapshotMeta, Status};
pub use service::{DEFAULT_SOURCE, Registry, RegistryError};
pub use staff::{StaffText, StaffTexts};
