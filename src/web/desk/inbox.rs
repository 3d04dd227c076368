//! The inbox: every case as one row, filtered and sorted the way an officer works them — overdue
//! first (no staff reply within `cases.response_hours` of its priority), then by priority, then
//! oldest first — with counts per status and pages.
//!
//! Rows are folded from the store in two sequential scans (`Store::all_cases`) once; the list is
//! kept in memory and each case written since (`Store::case_watch`) is read again alone, so neither
//! a page of the inbox nor the first page after a change reads 100,000 cases.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::cases::{Case, EventKind, Priority, Referral, Status};
use crate::config::Config;
use crate::storage::cases::CaseWatch;
use crate::storage::{Channel, Store};

/// One case in the list. No personal data: codes, categories, countries, times, names of staff.
#[derive(Clone, Debug)]
pub struct Row {
    pub code: String,
    pub priority: Priority,
    pub status: Status,
    pub referred_to: Option<Referral>,
    pub category: String,
    pub country: String,
    pub channel: Channel,
    pub opened_at: u64,
    pub updated_at: u64,
    pub first_reply_at: Option<u64>,
    pub assignee: Option<String>,
    /// When a first staff reply is due.
    pub due_at: u64,
    pub events: usize,
}

impl Row {
    pub fn from_case(case: &Case, config: &Config) -> Row {
        let first_reply_at = case.timeline.iter().find_map(|e| match e.kind {
            EventKind::StaffReply { .. } => Some(e.at),
            _ => None,
        });
        let target = u64::from(case.priority.target_hours(config)) * 3600;
        Row {
            code: case.record.code.clone(),
            priority: case.priority,
            status: case.status,
            referred_to: case.referred_to,
            category: case.record.category.clone(),
            country: case.record.country.clone(),
            channel: case.record.reporter.channel,
            opened_at: case.record.opened_at,
            updated_at: case.updated_at,
            first_reply_at,
            assignee: case.assignee().map(str::to_string),
            due_at: case.record.opened_at.saturating_add(target),
            events: case.timeline.len(),
        }
    }

    /// Open, not answered yet, and past its response target.
    pub fn overdue(&self, now: u64) -> bool {
        self.status.is_open() && self.first_reply_at.is_none() && now > self.due_at
    }
}

/// The inbox's filters, as the form sends them (empty means any).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// `open` (default), `all`, or a status.
    pub status: String,
    pub priority: String,
    pub category: String,
    pub country: String,
    /// An account name, `none` (nobody), or empty (any).
    pub assignee: String,
    /// Only cases opened at least this many days ago.
    pub age: String,
    /// A case code or part of one.
    pub q: String,
    pub page: usize,
}

impl Filter {
    fn keep(&self, row: &Row, now: u64) -> bool {
        let status_ok = match self.status.as_str() {
            "" | "open" => row.status.is_open(),
            "all" => true,
            "overdue" => row.overdue(now),
            s => Status::parse(s).is_ok_and(|s| s == row.status),
        };
        let priority_ok = self.priority.is_empty()
            || Priority::parse(&self.priority).is_ok_and(|p| p == row.priority);
        let assignee_ok = match self.assignee.as_str() {
            "" => true,
            "none" => row.assignee.is_none(),
            name => row.assignee.as_deref() == Some(name),
        };
        let age_ok = match self.age.trim().parse::<u64>() {
            Ok(days) => now.saturating_sub(row.opened_at) >= days * 86_400,
            Err(_) => true,
        };
        let q = self.q.trim().to_ascii_uppercase().replace(' ', "");
        status_ok
            && priority_ok
            && assignee_ok
            && age_ok
            && (self.category.is_empty() || row.category == self.category)
            && (self.country.is_empty() || row.country == self.country)
            && (q.is_empty() || row.code.replace('-', "").contains(&q.replace('-', "")))
    }
}

/// A page of the inbox.
pub struct Listing {
    pub rows: Vec<Row>,
    pub matching: usize,
    pub page: usize,
    pub pages: usize,
    /// Cases per status, over all cases (not only the filtered ones), in status order.
    pub counts: Vec<(Status, usize)>,
    pub overdue: usize,
    /// Values the filters can take.
    pub categories: Vec<String>,
    pub countries: Vec<String>,
    pub assignees: Vec<String>,
}

/// Every case as a row, kept in memory: read whole once (and again only when the database was
/// reopened), then kept current case by case from [`Store::case_watch`], so a change costs one
/// case's read, not 100,000.
pub struct RowCache {
    inner: Mutex<Option<Cached>>,
}

struct Cached {
    watch: CaseWatch,
    rows: Arc<Vec<Row>>,
    /// Position of each code in `rows`.
    index: HashMap<String, usize>,
}

impl RowCache {
    pub fn new(_store: &Store) -> RowCache {
        RowCache {
            inner: Mutex::new(None),
        }
    }

    /// Marks a case changed at once (after a change made here, not to wait for the watcher).
    pub fn touch(&self, code: &str) {
        if let Ok(guard) = self.inner.lock()
            && let Some(cached) = guard.as_ref()
        {
            cached.watch.mark(code);
        }
    }

    /// Every case as a row.
    pub fn rows(
        &self,
        store: &Store,
        config: &Config,
    ) -> Result<Arc<Vec<Row>>, crate::cases::CaseError> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cached) = guard.as_mut()
            && let Some(changed) = cached.watch.take()
        {
            if !changed.is_empty() {
                let rows = Arc::make_mut(&mut cached.rows);
                for code in changed {
                    let fresh = match store.case_record(&code)? {
                        Some(record) => {
                            let events = store.case_events(&code)?;
                            Some(Row::from_case(&Case::fold(record, events), config))
                        }
                        None => None,
                    };
                    match (cached.index.get(&code).copied(), fresh) {
                        (Some(i), Some(row)) => rows[i] = row,
                        (None, Some(row)) => {
                            cached.index.insert(code, rows.len());
                            rows.push(row);
                        }
                        (Some(i), None) => {
                            // Purged: the last row takes its place.
                            rows.swap_remove(i);
                            cached.index.remove(&code);
                            if let Some(moved) = rows.get(i) {
                                cached.index.insert(moved.code.clone(), i);
                            }
                        }
                        (None, None) => {}
                    }
                }
            }
            return Ok(cached.rows.clone());
        }
        // First use, or the watch ended: watch first, then read, so no change falls between.
        let watch = store.case_watch();
        let rows: Vec<Row> = store
            .all_cases()?
            .into_iter()
            .map(|(record, events)| Row::from_case(&Case::fold(record, events), config))
            .collect();
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();
        let rows = Arc::new(rows);
        *guard = Some(Cached {
            watch,
            rows: rows.clone(),
            index,
        });
        Ok(rows)
    }
}

pub fn list(rows: &[Row], filter: &Filter, now: u64, page_size: usize) -> Listing {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut categories = std::collections::BTreeSet::new();
    let mut countries = std::collections::BTreeSet::new();
    let mut assignees = std::collections::BTreeSet::new();
    let mut overdue = 0;
    let mut kept: Vec<&Row> = Vec::new();
    for row in rows {
        let i = Status::ALL
            .iter()
            .position(|s| *s == row.status)
            .unwrap_or(0);
        *counts.entry(i).or_default() += 1;
        categories.insert(row.category.clone());
        if !row.country.is_empty() {
            countries.insert(row.country.clone());
        }
        if let Some(a) = &row.assignee {
            assignees.insert(a.clone());
        }
        if row.overdue(now) {
            overdue += 1;
        }
        if filter.keep(row, now) {
            kept.push(row);
        }
    }
    kept.sort_by_key(|r| (!r.overdue(now), r.priority, r.opened_at));
    let page_size = page_size.max(1);
    let matching = kept.len();
    let pages = matching.div_ceil(page_size).max(1);
    let page = filter.page.clamp(1, pages);
    let rows = kept
        .into_iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .cloned()
        .collect();
    Listing {
        rows,
        matching,
        page,
        pages,
        counts: Status::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, counts.get(&i).copied().unwrap_or(0)))
            .collect(),
        overdue,
        categories: categories.into_iter().collect(),
        countries: countries.into_iter().collect(),
        assignees: assignees.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(code: &str, priority: Priority, opened_at: u64, replied: bool) -> Row {
        Row {
            code: code.into(),
            priority,
            status: Status::New,
            referred_to: None,
            category: "gaji".into(),
            country: "taiwan".into(),
            channel: Channel::Whatsapp,
            opened_at,
            updated_at: opened_at,
            first_reply_at: replied.then_some(opened_at + 1),
            assignee: None,
            due_at: opened_at + 4 * 3600,
            events: 1,
        }
    }

    fn seeded(store: &Store, code: &str, at: u64) {
        use crate::cases::{CaseRecord, Event};
        let record = CaseRecord {
            code: code.into(),
            reporter: crate::storage::UserKey::new(Channel::Telegram, "1"),
            lang: crate::dialog::Lang::Id,
            opened_at: at,
            category: "gaji".into(),
            country: "taiwan".into(),
            priority: Priority::P2,
            share_consent: true,
            fields: Default::default(),
            attachments: Vec::new(),
        };
        let opened = Event {
            at,
            actor: "system".into(),
            kind: EventKind::Opened {
                priority: Priority::P2,
                reason: "x".into(),
            },
        };
        super::super::seed::put_case(store, &record, &[opened]).unwrap();
    }

    #[test]
    fn the_row_cache_follows_each_changed_case_without_reading_all() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let config = Config::default();
        for (i, code) in ["PKL-AAAAAA", "PKL-BBBBBB", "PKL-CCCCCC"]
            .iter()
            .enumerate()
        {
            seeded(&store, code, 1_000 + i as u64);
        }
        let cache = RowCache::new(&store);
        let first = cache.rows(&store, &config).unwrap();
        assert_eq!(first.len(), 3);
        // A staff reply to one case, and a new case: seen by the watcher (a moment later) or at
        // once when the writer says so.
        let reply = crate::cases::Event {
            at: 2_000,
            actor: "web:rina".into(),
            kind: EventKind::StaffReply {
                text: "kami bantu".into(),
            },
        };
        store.add_case_event("PKL-BBBBBB", &reply).unwrap();
        cache.touch("PKL-BBBBBB");
        let rows = cache.rows(&store, &config).unwrap();
        let b = rows.iter().find(|r| r.code == "PKL-BBBBBB").unwrap();
        assert_eq!(b.first_reply_at, Some(2_000));
        assert_eq!(
            first
                .iter()
                .find(|r| r.code == "PKL-BBBBBB")
                .unwrap()
                .first_reply_at,
            None
        );
        seeded(&store, "PKL-DDDDDD", 3_000);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let rows = cache.rows(&store, &config).unwrap();
            if rows.len() == 4 {
                assert!(rows.iter().any(|r| r.code == "PKL-DDDDDD"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the new case never showed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn overdue_cases_come_first_then_priority_then_age() {
        let now = 100_000;
        let rows = vec![
            row("PKL-AAAAAA", Priority::P1, now - 100, false), // P1, fresh
            row("PKL-BBBBBB", Priority::P3, now - 50_000, false), // overdue P3
            row("PKL-CCCCCC", Priority::P1, now - 90_000, true), // answered, older
            row("PKL-DDDDDD", Priority::P2, now - 60_000, false), // overdue P2
        ];
        let listing = list(&rows, &Filter::default(), now, 50);
        let codes: Vec<&str> = listing.rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(
            codes,
            ["PKL-DDDDDD", "PKL-BBBBBB", "PKL-CCCCCC", "PKL-AAAAAA"]
        );
        assert_eq!(listing.overdue, 2);
        let filter = Filter {
            q: "pkl bbb".into(),
            ..Filter::default()
        };
        assert_eq!(list(&rows, &filter, now, 50).matching, 1);
        let page2 = Filter {
            page: 2,
            ..Filter::default()
        };
        let listing = list(&rows, &page2, now, 3);
        assert_eq!((listing.page, listing.pages, listing.rows.len()), (2, 2, 1));
    }
}
