//! Reading the official P3MI listing (a CSV exported from SISKOP2MI or typed by staff) into offices and
//! companies, and the staff summary of what an import changed.
//!
//! Invariants:
//! - A file is checked completely before anything is stored: every bad row is reported with its line
//!   number and what is wrong, and one bad row means nothing is imported.
//! - Never panics on any input (binary, huge, wrong encoding): every problem is an [`ImportError`].
//! - No IO except reading the one file it is given.
//! - What is wrong is data ([`Problem`], [`ImportError`]); staff read it through the `[staff]` texts of
//!   `config/agencies.toml` ([`ImportError::describe`]). The `Display` forms are for the log only.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::normalize::{licence_key, name_key};
use super::record::{Company, Office, OfficeType, SnapshotMeta, Status};
use super::staff::{StaffText, StaffTexts};
use crate::dialog::normalize::basic;
use crate::time::Date;

/// The largest file we read: the whole national listing is a few hundred kilobytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most rows we accept (the national listing has a few thousand offices).
pub const MAX_ROWS: usize = 500_000;
/// The longest cell we accept.
pub const MAX_CELL_CHARS: usize = 500;

/// The columns of the listing, with the header names we recognise (after basic normalisation, so
/// `nama_perusahaan`, `Nama Perusahaan` and `NAMA-PERUSAHAAN` are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    Name,
    Licence,
    Status,
    OfficeType,
    Address,
    City,
    Province,
    LicenceDate,
    Phone,
}

impl Column {
    const ALL: [Column; 9] = [
        Column::Name,
        Column::Licence,
        Column::Status,
        Column::OfficeType,
        Column::Address,
        Column::City,
        Column::Province,
        Column::LicenceDate,
        Column::Phone,
    ];

    /// The names staff see in messages, as they are written in the CSV: English / Indonesian.
    fn label(self) -> &'static str {
        match self {
            Column::Name => "name / nama_perusahaan",
            Column::Licence => "licence_number / nomor_izin",
            Column::Status => "status",
            Column::OfficeType => "office_type / jenis_kantor",
            Column::Address => "address / alamat",
            Column::City => "city / kota",
            Column::Province => "province / provinsi",
            Column::LicenceDate => "licence_date / tanggal_izin",
            Column::Phone => "phone / telepon",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Name => &[
                "name",
                "company name",
                "company",
                "nama perusahaan",
                "nama",
                "nama p3mi",
            ],
            Column::Licence => &[
                "licence number",
                "license number",
                "licence",
                "license",
                "nomor izin",
                "no izin",
                "nomor sip3mi",
                "sip3mi",
            ],
            Column::Status => &["status", "status izin"],
            Column::OfficeType => &["office type", "jenis kantor", "tipe kantor"],
            Column::Address => &["address", "alamat", "alamat kantor"],
            Column::City => &["city", "kota", "kota kabupaten", "kabupaten kota"],
            Column::Province => &["province", "provinsi"],
            Column::LicenceDate => &[
                "licence date",
                "license date",
                "tanggal izin",
                "tgl izin",
                "tanggal sip3mi",
                "tgl sip3mi",
            ],
            Column::Phone => &[
                "phone",
                "telepon",
                "telp",
                "no telp",
                "no telepon",
                "nomor telepon",
                "telepon fax",
            ],
        }
    }

    fn required(self) -> bool {
        self != Column::Phone
    }

    fn from_header(cell: &str) -> Option<Column> {
        let key = basic(cell);
        Column::ALL
            .into_iter()
            .find(|c| c.aliases().contains(&key.as_str()))
    }
}

/// One thing wrong with the header or a row. Values are as found in the file; column names as the CSV
/// writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The CSV reader could not read the line (technical detail).
    Csv {
        detail: String,
    },
    /// The `# as_of:` line is not a date.
    AsOf {
        value: String,
    },
    ColumnTwice {
        column: &'static str,
    },
    MissingColumns {
        missing: Vec<&'static str>,
        found: Vec<String>,
    },
    TooFewFields {
        found: usize,
        expected: usize,
    },
    TooManyFields {
        found: usize,
        expected: usize,
    },
    TooLong {
        column: &'static str,
    },
    NameEmpty,
    NameNoLetters {
        name: String,
    },
    LicenceEmpty,
    LicenceNoLetters {
        licence: String,
    },
    Status {
        value: String,
    },
    OfficeType {
        value: String,
    },
    Date {
        value: String,
    },
    /// The licence already belongs to another company (`name`, on `line`).
    LicenceTaken {
        licence: String,
        name: String,
        line: u64,
    },
    StatusDiffers {
        licence: String,
        status: Status,
        other: Status,
        line: u64,
    },
    DateDiffers {
        licence: String,
        date: Date,
        other: Date,
        line: u64,
    },
    SecondHead {
        licence: String,
        line: u64,
    },
    DuplicateOffice {
        line: u64,
    },
}

impl Problem {
    /// Its staff text and the values of its placeholders.
    pub fn text(&self) -> (StaffText, Vec<(&'static str, String)>) {
        use Problem as P;
        match self {
            P::Csv { detail } => (StaffText::ProblemCsv, vec![("detail", detail.clone())]),
            P::AsOf { value } => (StaffText::ProblemAsOf, vec![("value", value.clone())]),
            P::ColumnTwice { column } => (
                StaffText::ProblemColumnTwice,
                vec![("column", column.to_string())],
            ),
            P::MissingColumns { missing, found } => (
                StaffText::ProblemMissingColumns,
                vec![
                    ("missing", missing.join(", ")),
                    (
                        "found",
                        found
                            .iter()
                            .map(|c| format!("{c:?}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ],
            ),
            P::TooFewFields { found, expected } => (
                StaffText::ProblemTooFewFields,
                vec![
                    ("found", found.to_string()),
                    ("expected", expected.to_string()),
                ],
            ),
            P::TooManyFields { found, expected } => (
                StaffText::ProblemTooManyFields,
                vec![
                    ("found", found.to_string()),
                    ("expected", expected.to_string()),
                ],
            ),
            P::TooLong { column } => (
                StaffText::ProblemTooLong,
                vec![
                    ("column", column.to_string()),
                    ("max", MAX_CELL_CHARS.to_string()),
                ],
            ),
            P::NameEmpty => (StaffText::ProblemNameEmpty, vec![]),
            P::NameNoLetters { name } => (
                StaffText::ProblemNameNoLetters,
                vec![("name", name.clone())],
            ),
            P::LicenceEmpty => (StaffText::ProblemLicenceEmpty, vec![]),
            P::LicenceNoLetters { licence } => (
                StaffText::ProblemLicenceNoLetters,
                vec![("licence", licence.clone())],
            ),
            P::Status { value } => (StaffText::ProblemStatus, vec![("value", value.clone())]),
            P::OfficeType { value } => {
                (StaffText::ProblemOfficeType, vec![("value", value.clone())])
            }
            P::Date { value } => (StaffText::ProblemDate, vec![("value", value.clone())]),
            P::LicenceTaken {
                licence,
                name,
                line,
            } => (
                StaffText::ProblemLicenceTaken,
                vec![
                    ("licence", licence.clone()),
                    ("name", name.clone()),
                    ("line", line.to_string()),
                ],
            ),
            P::StatusDiffers {
                licence,
                status,
                other,
                line,
            } => (
                StaffText::ProblemStatusDiffers,
                vec![
                    ("licence", licence.clone()),
                    ("status", status.code().to_string()),
                    ("other", other.code().to_string()),
                    ("line", line.to_string()),
                ],
            ),
            P::DateDiffers {
                licence,
                date,
                other,
                line,
            } => (
                StaffText::ProblemDateDiffers,
                vec![
                    ("licence", licence.clone()),
                    ("date", date.to_string()),
                    ("other", other.to_string()),
                    ("line", line.to_string()),
                ],
            ),
            P::SecondHead { licence, line } => (
                StaffText::ProblemSecondHead,
                vec![("licence", licence.clone()), ("line", line.to_string())],
            ),
            P::DuplicateOffice { line } => (
                StaffText::ProblemDuplicateOffice,
                vec![("line", line.to_string())],
            ),
        }
    }

    /// What staff read.
    pub fn describe(&self, texts: &StaffTexts) -> String {
        let (text, mut values) = self.text();
        if let Problem::StatusDiffers { status, other, .. } = self {
            // Staff read the status words, as in the CSV, not the codes.
            for (name, value) in &mut values {
                match *name {
                    "status" => *value = texts.status(*status),
                    "other" => *value = texts.status(*other),
                    _ => {}
                }
            }
        }
        texts.fill(text, &values)
    }
}

/// For the log: the text's key and its values.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, values) = self.text();
        f.write_str(text.key())?;
        for (name, value) in values {
            write!(f, " {name}={value:?}")?;
        }
        Ok(())
    }
}

fn describe_all(problems: &[Problem], texts: &StaffTexts) -> String {
    problems
        .iter()
        .map(|p| p.describe(texts))
        .collect::<Vec<_>>()
        .join("; ")
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One bad row: its line in the file and everything wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub problems: Vec<Problem>,
}

impl RowError {
    /// What staff read: the line and every problem.
    pub fn describe(&self, texts: &StaffTexts) -> String {
        texts.fill(
            StaffText::Row,
            &[
                ("line", self.line.to_string()),
                ("problems", describe_all(&self.problems, texts)),
            ],
        )
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, join(&self.problems))
    }
}

/// Why an import (or the demo data) could not be loaded. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes; is it the right file?")]
    TooLarge { path: PathBuf },
    #[error("{path} holds binary data (a zero byte on line {line})")]
    Binary { path: PathBuf, line: u64 },
    #[error("{path} is not UTF-8 (line {line})")]
    NotUtf8 { path: PathBuf, line: u64 },
    #[error("{path} has no header line; the first line must name the columns")]
    Empty { path: PathBuf },
    #[error("{path} line {line}: {}", join(.problems))]
    Header {
        path: PathBuf,
        line: u64,
        problems: Vec<Problem>,
    },
    #[error("{path} has a header but no offices")]
    NoRows { path: PathBuf },
    #[error("{path} has more than {MAX_ROWS} rows; is it the right file?")]
    TooManyRows { path: PathBuf },
    #[error("{path}: {} bad row(s):\n{}", .errors.len(), list_rows(.errors))]
    Rows {
        path: PathBuf,
        errors: Vec<RowError>,
    },
    #[error("the registry database failed, nothing was imported: {0}")]
    Storage(#[from] crate::storage::Error),
}

impl ImportError {
    /// What staff read (`[staff]` texts of `config/agencies.toml`): the file, and every bad row with
    /// its line and what is wrong.
    pub fn describe(&self, texts: &StaffTexts) -> String {
        let file = |path: &Path| path.display().to_string();
        match self {
            ImportError::Read { path, source } => texts.fill(
                StaffText::FileUnreadable,
                &[("file", file(path)), ("detail", source.to_string())],
            ),
            ImportError::TooLarge { path } => texts.fill(
                StaffText::FileTooLarge,
                &[
                    ("file", file(path)),
                    ("max_mb", (MAX_FILE_BYTES / (1024 * 1024)).to_string()),
                ],
            ),
            ImportError::Binary { path, line } => texts.fill(
                StaffText::FileBinary,
                &[("file", file(path)), ("line", line.to_string())],
            ),
            ImportError::NotUtf8 { path, line } => texts.fill(
                StaffText::FileNotUtf8,
                &[("file", file(path)), ("line", line.to_string())],
            ),
            ImportError::Empty { path } => {
                texts.fill(StaffText::FileEmpty, &[("file", file(path))])
            }
            ImportError::Header {
                path,
                line,
                problems,
            } => texts.fill(
                StaffText::FileHeader,
                &[
                    ("file", file(path)),
                    ("line", line.to_string()),
                    ("problems", describe_all(problems, texts)),
                ],
            ),
            ImportError::NoRows { path } => {
                texts.fill(StaffText::FileNoRows, &[("file", file(path))])
            }
            ImportError::TooManyRows { path } => texts.fill(
                StaffText::FileTooManyRows,
                &[("file", file(path)), ("max", MAX_ROWS.to_string())],
            ),
            ImportError::Rows { path, errors } => texts.fill(
                StaffText::FileRows,
                &[
                    ("file", file(path)),
                    ("count", errors.len().to_string()),
                    (
                        "rows",
                        errors
                            .iter()
                            .map(|e| e.describe(texts))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                ],
            ),
            ImportError::Storage(e) => {
                texts.fill(StaffText::ImportDatabase, &[("detail", e.to_string())])
            }
        }
    }
}

fn list_rows(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A checked listing: every office valid, grouped into companies by licence.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub offices: Vec<Office>,
    /// `# source: ...` from the file's leading comment lines, if any.
    pub source: Option<String>,
    /// `# as_of: YYYY-MM-DD` from the file's leading comment lines, if any.
    pub as_of: Option<Date>,
}

/// Reads and checks a listing file. `progress(done, total)` is called with bytes as rows are read.
pub fn read_file(path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Parsed, ImportError> {
    let size = std::fs::metadata(path)
        .map_err(|source| ImportError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bytes(path, &bytes, progress)
}

/// Checks a listing held in memory (`path` only names it in messages).
pub fn parse_bytes(
    path: &Path,
    bytes: &[u8],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Parsed, ImportError> {
    let line_of = |pos: usize| 1 + bytes[..pos].iter().filter(|b| **b == b'\n').count() as u64;
    if let Some(pos) = bytes.iter().position(|b| *b == 0) {
        return Err(ImportError::Binary {
            path: path.to_path_buf(),
            line: line_of(pos),
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Err(ImportError::NotUtf8 {
                path: path.to_path_buf(),
                line: line_of(e.valid_up_to()),
            });
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let total = text.len() as u64;

    let (source, as_of) = directives(path, text)?;
    let delimiter = detect_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());

    let mut records = reader.records();
    let header = loop {
        match records.next() {
            None => {
                return Err(ImportError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Some(Err(e)) => {
                return Err(ImportError::Header {
                    path: path.to_path_buf(),
                    line: csv_line(&e),
                    problems: vec![Problem::Csv {
                        detail: e.to_string(),
                    }],
                });
            }
            Some(Ok(record)) if record.iter().all(|c| c.trim().is_empty()) => continue,
            Some(Ok(record)) if record.len() <= 2 && record[0].trim().starts_with("sep=") => {
                continue;
            }
            Some(Ok(record)) => break record,
        }
    };
    let header_line = header.position().map(|p| p.line()).unwrap_or(1);
    let columns = map_header(path, header_line, &header)?;
    let width = header.len();

    let mut offices = Vec::new();
    let mut errors = Vec::new();
    let mut rows = 0usize;
    for item in records {
        let record = match item {
            Ok(record) => record,
            Err(e) => {
                errors.push(RowError {
                    line: csv_line(&e),
                    problems: vec![Problem::Csv {
                        detail: e.to_string(),
                    }],
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            return Err(ImportError::TooManyRows {
                path: path.to_path_buf(),
            });
        }
        if rows.is_multiple_of(512) {
            let done = record.position().map(|p| p.byte()).unwrap_or(0);
            progress(done, total);
        }
        match parse_row(&columns, width, &record, line) {
            Ok(office) => offices.push(office),
            Err(problems) => errors.push(RowError { line, problems }),
        }
    }
    if rows == 0 && errors.is_empty() {
        return Err(ImportError::NoRows {
            path: path.to_path_buf(),
        });
    }
    errors.extend(check_licences(&offices));
    errors.sort_by_key(|e| e.line);
    progress(total, total);
    if !errors.is_empty() {
        return Err(ImportError::Rows {
            path: path.to_path_buf(),
            errors,
        });
    }
    Ok(Parsed {
        offices,
        source,
        as_of,
    })
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map(|p| p.line()).unwrap_or(0)
}

/// Leading `# key: value` lines: `source` and `as_of` (or `tanggal`).
fn directives(path: &Path, text: &str) -> Result<(Option<String>, Option<Date>), ImportError> {
    let mut source = None;
    let mut as_of = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some(comment) = line.strip_prefix('#') else {
            if line.is_empty() {
                continue;
            }
            break;
        };
        let Some((key, value)) = comment.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match basic(key).as_str() {
            "source" | "sumber" if !value.is_empty() => source = Some(value.to_string()),
            "as of" | "tanggal" | "tanggal data" => {
                as_of = Some(Date::parse(value).ok_or_else(|| ImportError::Header {
                    path: path.to_path_buf(),
                    line: n as u64 + 1,
                    problems: vec![Problem::AsOf {
                        value: value.to_string(),
                    }],
                })?);
            }
            _ => {}
        }
    }
    Ok((source, as_of))
}

/// Excel's `sep=;` first line, if the file has one: the delimiter it names.
fn excel_separator(line: &str) -> Option<u8> {
    let rest = line.trim().strip_prefix("sep=")?;
    match rest.as_bytes() {
        [d] => Some(*d),
        _ => None,
    }
}

/// Comma, semicolon (Excel in Indonesian locale) or tab: Excel's `sep=` line if there is one, else
/// whichever the header line uses most.
fn detect_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if let Some(d) = excel_separator(header) {
        return d;
    }
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == b {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

fn map_header(
    path: &Path,
    line: u64,
    header: &csv::StringRecord,
) -> Result<BTreeMap<Column, usize>, ImportError> {
    let mut columns = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        if let Some(column) = Column::from_header(cell)
            && columns.insert(column, i).is_some()
        {
            problems.push(Problem::ColumnTwice {
                column: column.label(),
            });
        }
    }
    let missing: Vec<&'static str> = Column::ALL
        .into_iter()
        .filter(|c| c.required() && !columns.contains_key(c))
        .map(Column::label)
        .collect();
    if !missing.is_empty() {
        let found: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
        problems.push(Problem::MissingColumns { missing, found });
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(ImportError::Header {
            path: path.to_path_buf(),
            line,
            problems,
        })
    }
}

fn parse_row(
    columns: &BTreeMap<Column, usize>,
    width: usize,
    record: &csv::StringRecord,
    line: u64,
) -> Result<Office, Vec<Problem>> {
    let mut problems = Vec::new();
    if record.len() < width {
        problems.push(Problem::TooFewFields {
            found: record.len(),
            expected: width,
        });
    } else if record.len() > width && record.iter().skip(width).any(|c| !c.trim().is_empty()) {
        problems.push(Problem::TooManyFields {
            found: record.len(),
            expected: width,
        });
    }
    let cell = |column: Column| -> String {
        columns
            .get(&column)
            .and_then(|&i| record.get(i))
            .map(|c| c.trim().to_string())
            .unwrap_or_default()
    };
    for column in Column::ALL {
        if cell(column).chars().count() > MAX_CELL_CHARS {
            problems.push(Problem::TooLong {
                column: column.label(),
            });
        }
    }
    let name = cell(Column::Name);
    if name.is_empty() {
        problems.push(Problem::NameEmpty);
    } else if name_key(&name).is_empty() {
        problems.push(Problem::NameNoLetters { name: name.clone() });
    }
    let licence = cell(Column::Licence);
    if licence.is_empty() {
        problems.push(Problem::LicenceEmpty);
    } else if licence_key(&licence).is_empty() {
        problems.push(Problem::LicenceNoLetters {
            licence: licence.clone(),
        });
    }
    let status_text = cell(Column::Status);
    let status = Status::parse(&status_text);
    if status.is_none() {
        problems.push(Problem::Status {
            value: status_text.clone(),
        });
    }
    let type_text = cell(Column::OfficeType);
    let office_type = OfficeType::parse(&type_text);
    if office_type.is_none() {
        problems.push(Problem::OfficeType {
            value: type_text.clone(),
        });
    }
    let date_text = cell(Column::LicenceDate);
    let licence_date = Date::parse(&date_text);
    if licence_date.is_none() {
        problems.push(Problem::Date {
            value: date_text.clone(),
        });
    }
    match (status, office_type, licence_date) {
        (Some(status), Some(office_type), Some(licence_date)) if problems.is_empty() => {
            Ok(Office {
                name,
                licence,
                licence_date,
                status,
                office_type,
                address: cell(Column::Address),
                city: cell(Column::City),
                province: cell(Column::Province),
                phone: cell(Column::Phone),
                line,
            })
        }
        _ => Err(problems),
    }
}

/// Offices sharing a licence must agree on the company: same name, status and date, one head office,
/// no office listed twice. The first office of a licence is the reference; later ones are reported.
fn check_licences(offices: &[Office]) -> Vec<RowError> {
    let mut first: HashMap<String, &Office> = HashMap::new();
    let mut head: HashMap<String, u64> = HashMap::new();
    let mut seen: HashMap<(String, String, String), u64> = HashMap::new();
    let mut errors = Vec::new();
    for office in offices {
        let key = licence_key(&office.licence);
        let mut problems = Vec::new();
        match first.get(&key) {
            None => {
                first.insert(key.clone(), office);
            }
            Some(reference) => {
                if name_key(&reference.name) != name_key(&office.name) {
                    problems.push(Problem::LicenceTaken {
                        licence: office.licence.clone(),
                        name: reference.name.clone(),
                        line: reference.line,
                    });
                }
                if reference.status != office.status {
                    problems.push(Problem::StatusDiffers {
                        licence: office.licence.clone(),
                        status: office.status,
                        other: reference.status,
                        line: reference.line,
                    });
                }
                if reference.licence_date != office.licence_date {
                    problems.push(Problem::DateDiffers {
                        licence: office.licence.clone(),
                        date: office.licence_date,
                        other: reference.licence_date,
                        line: reference.line,
                    });
                }
            }
        }
        if office.office_type == OfficeType::Head {
            if let Some(line) = head.get(&key) {
                problems.push(Problem::SecondHead {
                    licence: office.licence.clone(),
                    line: *line,
                });
            } else {
                head.insert(key.clone(), office.line);
            }
        }
        let place = (key, basic(&office.address), basic(&office.city));
        if let Some(line) = seen.get(&place) {
            problems.push(Problem::DuplicateOffice { line: *line });
        } else {
            seen.insert(place, office.line);
        }
        if !problems.is_empty() {
            errors.push(RowError {
                line: office.line,
                problems,
            });
        }
    }
    errors
}

/// Groups checked offices into companies by licence key: head office first, then branches in file
/// order; companies in the order their first office appears.
pub fn group(offices: &[Office]) -> Vec<Company> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: HashMap<String, Vec<Office>> = HashMap::new();
    for office in offices {
        let key = licence_key(&office.licence);
        by_key
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key.clone());
                Vec::new()
            })
            .push(office.clone());
    }
    let mut companies = Vec::with_capacity(order.len());
    for key in order {
        let Some(mut list) = by_key.remove(&key) else {
            continue;
        };
        // Stable: the head office first, branches keep their file order.
        list.sort_by_key(|o| o.office_type != OfficeType::Head);
        let reference = list
            .iter()
            .find(|o| o.office_type == OfficeType::Head)
            .or(list.first());
        let Some(reference) = reference.cloned() else {
            continue;
        };
        companies.push(Company {
            name: reference.name.clone(),
            licence: reference.licence.clone(),
            licence_key: key,
            licence_date: reference.licence_date,
            status: reference.status,
            offices: list,
        });
    }
    companies
}

/// What an import changed, for staff; [`ImportReport::describe`] is the summary the CLI prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub snapshot: SnapshotMeta,
    /// The snapshot it replaced (`None` when the demo data was in use).
    pub previous: Option<SnapshotMeta>,
    pub by_status: BTreeMap<Status, usize>,
    /// Companies whose licence was not in the previous snapshot (names).
    pub added: Vec<String>,
    /// Companies whose status changed: name, old, new.
    pub status_changed: Vec<(String, Status, Status)>,
    /// Companies of the previous snapshot that are no longer listed (names).
    pub removed: Vec<String>,
}

impl ImportReport {
    pub(crate) fn new(
        snapshot: SnapshotMeta,
        previous: Option<(SnapshotMeta, &[Company])>,
        companies: &[Company],
    ) -> ImportReport {
        let mut by_status = BTreeMap::new();
        for company in companies {
            *by_status.entry(company.status).or_insert(0) += 1;
        }
        let mut report = ImportReport {
            snapshot,
            previous: None,
            by_status,
            added: Vec::new(),
            status_changed: Vec::new(),
            removed: Vec::new(),
        };
        let Some((meta, old)) = previous else {
            return report;
        };
        let old_by_key: HashMap<&str, &Company> =
            old.iter().map(|c| (c.licence_key.as_str(), c)).collect();
        let new_by_key: HashMap<&str, &Company> = companies
            .iter()
            .map(|c| (c.licence_key.as_str(), c))
            .collect();
        for company in companies {
            match old_by_key.get(company.licence_key.as_str()) {
                None => report.added.push(company.name.clone()),
                Some(before) if before.status != company.status => report.status_changed.push((
                    company.name.clone(),
                    before.status,
                    company.status,
                )),
                Some(_) => {}
            }
        }
        for company in old {
            if !new_by_key.contains_key(company.licence_key.as_str()) {
                report.removed.push(company.name.clone());
            }
        }
        report.previous = Some(meta);
        report
    }
}

/// The most names listed per kind of change; the rest is counted.
const LIST_LIMIT: usize = 30;

/// A heading with its count, then the names (the first [`LIST_LIMIT`]), then how many more.
fn write_list(out: &mut Vec<String>, texts: &StaffTexts, heading: StaffText, items: &[String]) {
    out.push(texts.fill(heading, &[("n", items.len().to_string())]));
    for item in items.iter().take(LIST_LIMIT) {
        out.push(format!("    {item}"));
    }
    if items.len() > LIST_LIMIT {
        out.push(texts.fill(
            StaffText::ImportListMore,
            &[("n", (items.len() - LIST_LIMIT).to_string())],
        ));
    }
}

/// `7 active, 1 suspended, ...`: counts by status code, every status named.
pub fn status_counts(by_status: &BTreeMap<Status, usize>, texts: &StaffTexts) -> String {
    Status::ALL
        .iter()
        .map(|st| format!("{} {}", by_status.get(st).unwrap_or(&0), texts.status(*st)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ImportReport {
    /// The summary staff read after an import (`[staff]` texts of `config/agencies.toml`).
    pub fn describe(&self, texts: &StaffTexts) -> String {
        let s = &self.snapshot;
        let mut out = vec![
            texts.fill(
                StaffText::ImportDone,
                &[
                    ("offices", s.offices.to_string()),
                    ("companies", s.companies.to_string()),
                    ("file", s.file.clone()),
                    ("id", s.id.to_string()),
                ],
            ),
            texts.fill(
                StaffText::ImportSource,
                &[("source", s.source.clone()), ("as_of", s.as_of.to_string())],
            ),
            texts.fill(
                StaffText::ImportByStatus,
                &[("counts", status_counts(&self.by_status, texts))],
            ),
        ];
        match &self.previous {
            None => out.push(texts.text(StaffText::ImportReplacesDemo)),
            Some(p) => {
                out.push(texts.fill(
                    StaffText::ImportChanges,
                    &[
                        ("id", p.id.to_string()),
                        ("source", p.source.clone()),
                        ("as_of", p.as_of.to_string()),
                    ],
                ));
                write_list(&mut out, texts, StaffText::ImportAdded, &self.added);
                let changed: Vec<String> = self
                    .status_changed
                    .iter()
                    .map(|(name, old, new)| {
                        format!("{name}: {} -> {}", texts.status(*old), texts.status(*new))
                    })
                    .collect();
                write_list(&mut out, texts, StaffText::ImportStatusChanged, &changed);
                write_list(&mut out, texts, StaffText::ImportRemoved, &self.removed);
                out.push(texts.text(StaffText::ImportKept));
            }
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Parsed, ImportError> {
        parse_bytes(Path::new("t.csv"), text.as_bytes(), &mut |_, _| {})
    }

    fn row_errors(text: &str) -> Vec<RowError> {
        match parse(text) {
            Err(ImportError::Rows { errors, .. }) => errors,
            other => panic!("expected row errors, got {other:?}"),
        }
    }

    const HEADER: &str =
        "name,licence_number,status,office_type,address,city,province,licence_date,phone";

    #[test]
    fn english_and_indonesian_headers_comma_and_semicolon_bom() {
        let english = format!(
            "{HEADER}\nPT Satu,KEP.1/2020,active,head office,Jl. A,Kota Semarang,Jawa Tengah,2020-01-02,0241\n"
        );
        let indonesian = "\u{feff}nama_perusahaan;nomor_izin;status;jenis_kantor;alamat;kota;provinsi;tanggal_izin;telepon\n\
             PT Satu;KEP.1/2020;aktif;kantor pusat;\"Jl. A; No 1\";Kota Semarang;Jawa Tengah;02/01/2020;0241\n";
        for text in [english.as_str(), indonesian] {
            let parsed = parse(text).unwrap();
            assert_eq!(parsed.offices.len(), 1);
            let office = &parsed.offices[0];
            assert_eq!(office.name, "PT Satu");
            assert_eq!(office.status, Status::Active);
            assert_eq!(office.office_type, OfficeType::Head);
            assert_eq!(office.licence_date.to_string(), "2020-01-02");
            assert_eq!(office.line, 2);
        }
    }

    #[test]
    fn directives_give_source_and_date_and_keep_line_numbers() {
        let text = format!(
            "# source: SISKOP2MI\n# as_of: 2026-11-01\n{HEADER}\nPT Satu,KEP.1/2020,aktif,pusat,,,,2020-01-02,\n,KEP.2/2020,aktif,pusat,,,,2020-01-02,\n"
        );
        let errors = row_errors(&text);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 5, "{errors:?}");
        let ok = format!(
            "# source: SISKOP2MI\n# as_of: 2026-11-01\n{HEADER}\nPT Satu,KEP.1/2020,aktif,pusat,,,,2020-01-02,\n"
        );
        let parsed = parse(&ok).unwrap();
        assert_eq!(parsed.source.as_deref(), Some("SISKOP2MI"));
        assert_eq!(
            parsed.as_of.map(|d| d.to_string()).as_deref(),
            Some("2026-11-01")
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = format!(
            "{HEADER}\n\
             PT Baik,KEP.1/2020,aktif,kantor pusat,Jl. A,Kota Semarang,Jawa Tengah,2020-01-02,0241\n\
             PT Tanggal,KEP.2/2020,aktif,kantor pusat,Jl. B,Kota Semarang,Jawa Tengah,2020-13-45,0241\n\
             PT Status,KEP.3/2020,aktip,kantor pusat,Jl. C,Kota Semarang,Jawa Tengah,2020-01-02,0241\n\
             ,KEP.4/2020,aktif,kantor pusat,Jl. D,Kota Semarang,Jawa Tengah,2020-01-02,0241\n\
             PT Lain,KEP.1/2020,aktif,kantor cabang,Jl. E,Kota Batang,Jawa Tengah,2020-01-02,0241\n\
             PT Baik,KEP 1 / 2020,aktif,kantor cabang,Jl. F,Kota Pekalongan,Jawa Tengah,2020-01-02,0241\n\
             PT Pendek,KEP.5/2020,aktif\n"
        );
        let errors = row_errors(&text);
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 8], "{errors:#?}");
        let problems_of = |line: u64| {
            errors
                .iter()
                .find(|e| e.line == line)
                .map(|e| e.problems.clone())
                .unwrap()
        };
        assert_eq!(
            problems_of(3),
            vec![Problem::Date {
                value: "2020-13-45".into()
            }]
        );
        assert_eq!(
            problems_of(4),
            vec![Problem::Status {
                value: "aktip".into()
            }]
        );
        assert_eq!(problems_of(5), vec![Problem::NameEmpty]);
        assert_eq!(
            problems_of(6),
            vec![Problem::LicenceTaken {
                licence: "KEP.1/2020".into(),
                name: "PT Baik".into(),
                line: 2
            }]
        );
        assert!(
            problems_of(8).contains(&Problem::TooFewFields {
                found: 3,
                expected: 9
            }),
            "{errors:#?}"
        );
    }

    #[test]
    fn excel_sep_line_is_understood() {
        let text = "sep=;\nnama;nomor_izin;status;jenis_kantor;alamat;kota;provinsi;tanggal_izin\n\
                    PT Satu;KEP.1/2020;aktif;kantor pusat;Jl. A, No. 1;Kota Batang;Jawa Tengah;2020-01-02\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.offices[0].address, "Jl. A, No. 1");
        assert_eq!(parsed.offices[0].line, 3);
    }

    #[test]
    fn missing_column_is_named() {
        let text = "nama,nomor_izin,status\nPT Satu,KEP.1/2020,aktif\n";
        let Err(ImportError::Header { line, problems, .. }) = parse(text) else {
            panic!("expected a header error");
        };
        assert_eq!(line, 1);
        let [Problem::MissingColumns { missing, found }] = problems.as_slice() else {
            panic!("{problems:?}");
        };
        assert!(
            missing.contains(&"office_type / jenis_kantor"),
            "{missing:?}"
        );
        assert!(
            missing.contains(&"licence_date / tanggal_izin"),
            "{missing:?}"
        );
        assert!(!missing.iter().any(|c| c.contains("phone")), "{missing:?}");
        assert_eq!(found, &["nama", "nomor_izin", "status"]);
    }

    #[test]
    fn binary_and_wrong_encoding_are_refused() {
        let err = parse_bytes(Path::new("x.xlsx"), b"PK\x03\x04\x00\x00", &mut |_, _| {});
        assert!(
            matches!(err, Err(ImportError::Binary { line: 1, .. })),
            "{err:?}"
        );
        let latin1 = b"name,licence_number\nPT Caf\xe9,1\n";
        let err = parse_bytes(Path::new("x.csv"), latin1, &mut |_, _| {});
        assert!(
            matches!(err, Err(ImportError::NotUtf8 { line: 2, .. })),
            "{err:?}"
        );
        assert!(matches!(parse(""), Err(ImportError::Empty { .. })));
        assert!(matches!(parse(HEADER), Err(ImportError::NoRows { .. })));
    }

    #[test]
    fn head_office_and_branches_group_under_one_licence() {
        let text = format!(
            "{HEADER}\n\
             PT Baik,KEP.1/2020,aktif,kantor cabang,Jl. F,Kota Pekalongan,Jawa Tengah,2020-01-02,0285\n\
             PT. BAIK,KEP 1 / 2020,aktif,kantor pusat,Jl. A,Kota Semarang,Jawa Tengah,2020-01-02,0241\n\
             PT Lain,KEP.2/2020,dicabut,kantor pusat,Jl. B,Kota Batang,Jawa Tengah,2020-01-02,0285\n"
        );
        let parsed = parse(&text).unwrap();
        let companies = group(&parsed.offices);
        assert_eq!(companies.len(), 2);
        assert_eq!(companies[0].offices.len(), 2);
        assert_eq!(companies[0].offices[0].office_type, OfficeType::Head);
        assert_eq!(companies[0].name, "PT. BAIK");
        assert_eq!(companies[1].status, Status::Revoked);
    }
}
