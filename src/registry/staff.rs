//! What staff read from `pandu agencies ...` (search, stats, the import summary, rollback, every
//! failure and every bad CSV row): the `[staff]` texts of `config/agencies.toml`, in Bahasa Indonesia.
//!
//! [`StaffText`] names every text the program needs and the `{placeholders}` each may use; the loader
//! (`labels`) refuses a file where one is missing, empty, unknown or uses a placeholder it does not
//! have, naming the file, the line and the key.
//!
//! Invariant: no staff-facing word is written in Rust; this module only fills `{placeholders}`. Codes
//! staff type or find in their CSV (`active`, `too_short`, column names) are shown as they are.

use std::collections::BTreeMap;

use super::record::{SnapshotMeta, Status};

/// Declares the texts: variant, key in `[staff]`, the placeholders it may use.
macro_rules! staff_texts {
    ($($variant:ident = $key:literal [$($placeholder:literal),*];)*) => {
        /// One staff text of `[staff]` in `config/agencies.toml`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum StaffText { $($variant),* }

        impl StaffText {
            pub const ALL: &'static [StaffText] = &[$(StaffText::$variant),*];

            /// Its key in the `[staff]` table.
            pub fn key(self) -> &'static str {
                match self { $(StaffText::$variant => $key),* }
            }

            /// The `{placeholders}` the program fills in.
            pub fn placeholders(self) -> &'static [&'static str] {
                match self { $(StaffText::$variant => &[$($placeholder),*]),* }
            }
        }
    };
}

staff_texts! {
    // A snapshot (the `{snapshot}` of other texts).
    Snapshot = "snapshot" ["id", "file", "offices", "companies", "source", "as_of"];
    SnapshotDemo = "snapshot_demo" ["file", "offices", "companies", "source", "as_of"];
    // `pandu agencies search`.
    SearchHead = "search_head" ["snapshot"];
    SearchMatch = "search_match" [];
    SearchSameName = "search_same_name" [];
    SearchClose = "search_close" [];
    SearchLicenceOther = "search_licence_other" ["typed"];
    SearchNotFound = "search_not_found" ["hint"];
    SearchCandidate = "search_candidate" ["n", "score", "kind", "name", "licence", "licence_date", "status"];
    SearchOffice = "search_office" ["office", "place", "phone", "line"];
    // How a candidate was found (`{kind}` of search_candidate).
    KindLicence = "kind_licence" [];
    KindLicenceNumbers = "kind_licence_numbers" [];
    KindExactName = "kind_exact_name" [];
    KindName = "kind_name" [];
    // `pandu agencies stats`.
    StatsServing = "stats_serving" ["snapshot"];
    StatsDemo = "stats_demo" [];
    StatsImported = "stats_imported" ["date"];
    StatsByStatus = "stats_by_status" ["counts"];
    StatsOffices = "stats_offices" ["heads", "branches"];
    StatsByProvince = "stats_by_province" ["provinces"];
    StatsNoProvince = "stats_no_province" [];
    StatsPrevious = "stats_previous" ["snapshot"];
    StatsNoPrevious = "stats_no_previous" [];
    // `pandu agencies import`: the summary.
    ImportDone = "import_done" ["offices", "companies", "file", "id"];
    ImportSource = "import_source" ["source", "as_of"];
    ImportByStatus = "import_by_status" ["counts"];
    ImportReplacesDemo = "import_replaces_demo" [];
    ImportChanges = "import_changes" ["id", "source", "as_of"];
    ImportAdded = "import_added" ["n"];
    ImportStatusChanged = "import_status_changed" ["n"];
    ImportRemoved = "import_removed" ["n"];
    ImportListMore = "import_list_more" ["n"];
    ImportKept = "import_kept" [];
    ImportProgress = "import_progress" ["bar", "percent"];
    // `pandu agencies rollback`.
    RollbackDone = "rollback_done" ["snapshot"];
    // Failures of a command.
    Failed = "failed" ["error"];
    NotLoaded = "not_loaded" [];
    BadAsOf = "bad_as_of" ["value"];
    ImportStopped = "import_stopped" ["detail"];
    NoPrevious = "no_previous" [];
    SnapshotMissing = "snapshot_missing" ["id"];
    Database = "database" ["detail"];
    // A file that cannot be imported.
    FileUnreadable = "file_unreadable" ["file", "detail"];
    FileTooLarge = "file_too_large" ["file", "max_mb"];
    FileBinary = "file_binary" ["file", "line"];
    FileNotUtf8 = "file_not_utf8" ["file", "line"];
    FileEmpty = "file_empty" ["file"];
    FileNoRows = "file_no_rows" ["file"];
    FileTooManyRows = "file_too_many_rows" ["file", "max"];
    FileHeader = "file_header" ["file", "line", "problems"];
    FileRows = "file_rows" ["file", "count", "rows"];
    Row = "row" ["line", "problems"];
    ImportDatabase = "import_database" ["detail"];
    // What is wrong with a header or a row.
    ProblemCsv = "problem_csv" ["detail"];
    ProblemAsOf = "problem_as_of" ["value"];
    ProblemColumnTwice = "problem_column_twice" ["column"];
    ProblemMissingColumns = "problem_missing_columns" ["missing", "found"];
    ProblemTooFewFields = "problem_too_few_fields" ["found", "expected"];
    ProblemTooManyFields = "problem_too_many_fields" ["found", "expected"];
    ProblemTooLong = "problem_too_long" ["column", "max"];
    ProblemNameEmpty = "problem_name_empty" [];
    ProblemNameNoLetters = "problem_name_no_letters" ["name"];
    ProblemLicenceEmpty = "problem_licence_empty" [];
    ProblemLicenceNoLetters = "problem_licence_no_letters" ["licence"];
    ProblemStatus = "problem_status" ["value"];
    ProblemOfficeType = "problem_office_type" ["value"];
    ProblemDate = "problem_date" ["value"];
    ProblemLicenceTaken = "problem_licence_taken" ["licence", "name", "line"];
    ProblemStatusDiffers = "problem_status_differs" ["licence", "status", "other", "line"];
    ProblemDateDiffers = "problem_date_differs" ["licence", "date", "other", "line"];
    ProblemSecondHead = "problem_second_head" ["licence", "line"];
    ProblemDuplicateOffice = "problem_duplicate_office" ["line"];
}

impl StaffText {
    pub fn from_key(key: &str) -> Option<StaffText> {
        StaffText::ALL.iter().copied().find(|t| t.key() == key)
    }
}

/// Replaces `{name}` by each value.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The `{names}` a template uses (a `{` without a closing `}` is left alone).
pub fn placeholders_in(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    names
}

/// The loaded staff texts. `Default` has none: every text is then its key followed by its values, which
/// keeps unit tests independent of the wording but is not meant for staff.
#[derive(Clone, Debug, Default)]
pub struct StaffTexts {
    texts: BTreeMap<StaffText, String>,
    /// The status words of `[status.*]` in Bahasa Indonesia: staff read the words users read.
    statuses: BTreeMap<Status, String>,
}

impl StaffTexts {
    /// Built by the loader, which has checked that every text is there.
    pub(super) fn new(
        texts: BTreeMap<StaffText, String>,
        statuses: BTreeMap<Status, String>,
    ) -> StaffTexts {
        StaffTexts { texts, statuses }
    }

    /// The word for a status (the code when the words are not loaded).
    pub fn status(&self, status: Status) -> String {
        self.statuses
            .get(&status)
            .cloned()
            .unwrap_or_else(|| status.code().to_string())
    }

    /// The raw text.
    pub fn get(&self, text: StaffText) -> Option<&str> {
        self.texts.get(&text).map(String::as_str)
    }

    /// The text with its `{placeholders}` filled in.
    pub fn fill(&self, text: StaffText, values: &[(&str, String)]) -> String {
        match self.texts.get(&text) {
            Some(template) => fill(template, values),
            None => {
                let mut out = text.key().to_string();
                for (name, value) in values {
                    out.push_str(&format!(" {name}={value}"));
                }
                out
            }
        }
    }

    /// A text without placeholders.
    pub fn text(&self, text: StaffText) -> String {
        self.fill(text, &[])
    }

    /// `{snapshot}`: which listing, from which file, how big, its source and date.
    pub fn snapshot(&self, meta: &SnapshotMeta) -> String {
        let mut values = vec![
            ("file", meta.file.clone()),
            ("offices", meta.offices.to_string()),
            ("companies", meta.companies.to_string()),
            ("source", meta.source.clone()),
            ("as_of", meta.as_of.to_string()),
        ];
        if meta.demo {
            self.fill(StaffText::SnapshotDemo, &values)
        } else {
            values.push(("id", meta.id.to_string()));
            self.fill(StaffText::Snapshot, &values)
        }
    }

    /// A failed command, framed (`Gagal: ...`).
    pub fn failed(&self, error: String) -> String {
        self.fill(StaffText::Failed, &[("error", error)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_placeholders_are_found() {
        let mut keys: Vec<&str> = StaffText::ALL.iter().map(|t| t.key()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before);
        assert_eq!(StaffText::from_key("row"), Some(StaffText::Row));
        assert_eq!(
            placeholders_in("baris {line}: {problems} {"),
            vec!["line", "problems"]
        );
        assert_eq!(
            fill("baris {line}", &[("line", "7".to_string())]),
            "baris 7"
        );
    }

    #[test]
    fn without_texts_the_key_and_values_show() {
        let texts = StaffTexts::default();
        assert_eq!(
            texts.fill(StaffText::Row, &[("line", "3".into())]),
            "row line=3"
        );
    }
}
