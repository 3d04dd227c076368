//! Patterns across reported offers, for staff: the phone numbers, bank accounts and company names that
//! recur in the offers of `tawaran` cases, with counts and the cases they came from, so the dinas sees a
//! recruiter network early. Words from `staff_patterns` in `dialogs/_offer_rules.yaml`.

use std::collections::BTreeMap;

use super::analyse::{account_numbers, company_names, cut, mobile_numbers};
use super::rules::OfferRules;
use crate::cases::texts::fill;

/// How many values of each kind are listed.
pub const MAX_LINES: usize = 20;

/// One value seen in reported offers: how many cases and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub value: String,
    pub codes: Vec<String>,
}

impl Row {
    pub fn count(&self) -> usize {
        self.codes.len()
    }
}

/// The recurring values across reported offers, each list most frequent first (ties by value), at most
/// [`MAX_LINES`] each. The one computation behind `pandu cases offers` and the desk's offers page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patterns {
    /// How many reported offers were read.
    pub cases: usize,
    pub phones: Vec<Row>,
    pub accounts: Vec<Row>,
    pub companies: Vec<Row>,
}

/// `cases`: (case code, offer text).
pub fn compute(rules: &OfferRules, cases: &[(String, String)]) -> Patterns {
    type Seen = BTreeMap<String, Vec<String>>;
    let (mut phones, mut accounts, mut companies) = (Seen::new(), Seen::new(), Seen::new());
    for (code, text) in cases {
        let (text, _) = cut(text, rules.max_chars);
        let add = |map: &mut Seen, value: String| {
            let codes = map.entry(value).or_default();
            if !codes.contains(code) {
                codes.push(code.clone());
            }
        };
        for p in mobile_numbers(text) {
            add(&mut phones, p);
        }
        for a in account_numbers(text) {
            add(&mut accounts, a);
        }
        for c in company_names(text) {
            add(&mut companies, format!("PT {}", c.to_uppercase()));
        }
    }
    let rows = |map: Seen| {
        let mut rows: Vec<Row> = map
            .into_iter()
            .map(|(value, codes)| Row { value, codes })
            .collect();
        rows.sort_by(|a, b| b.count().cmp(&a.count()).then(a.value.cmp(&b.value)));
        rows.truncate(MAX_LINES);
        rows
    };
    Patterns {
        cases: cases.len(),
        phones: rows(phones),
        accounts: rows(accounts),
        companies: rows(companies),
    }
}

/// The patterns as text for `pandu cases offers`, in the words of `staff_patterns`.
pub fn report(rules: &OfferRules, cases: &[(String, String)]) -> String {
    let t = &rules.staff_patterns;
    if cases.is_empty() {
        return t.none.clone();
    }
    let p = compute(rules, cases);
    let mut out = fill(&t.head, &[("n", &p.cases.to_string())]);
    for (heading, rows) in [
        (&t.phones, &p.phones),
        (&t.accounts, &p.accounts),
        (&t.companies, &p.companies),
    ] {
        out.push('\n');
        out.push_str(heading);
        if rows.is_empty() {
            out.push('\n');
            out.push_str(&t.empty);
        }
        for row in rows {
            out.push('\n');
            out.push_str(&fill(
                &t.line,
                &[
                    ("value", &row.value),
                    ("count", &row.count().to_string()),
                    ("codes", &row.codes.join(", ")),
                ],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    #[test]
    fn a_number_in_two_reports_comes_first_with_both_codes() {
        let rules = OfferRules::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("dialogs")
                .join(super::super::rules::RULES_FILE),
        )
        .unwrap();
        let cases = vec![
            (
                "PKL-AAAAAA".to_string(),
                "kerja kamboja wa 0812-0000-0001, tf BRI 0000000009".to_string(),
            ),
            (
                "PKL-BBBBBB".to_string(),
                "PT Contoh Abal buka loker, hub +62 812 0000 0001".to_string(),
            ),
            (
                "PKL-CCCCCC".to_string(),
                "loker taiwan hub 0813-0000-0003".to_string(),
            ),
        ];
        let out = report(&rules, &cases);
        let first = out.lines().nth(2).unwrap();
        assert!(
            first.contains("081200000001") && first.contains("×2"),
            "{out}"
        );
        assert!(first.contains("PKL-AAAAAA, PKL-BBBBBB"), "{out}");
        assert!(
            out.contains("0000000009") && out.contains("PT CONTOH ABAL"),
            "{out}"
        );
        assert_eq!(report(&rules, &[]), rules.staff_patterns.none);
    }
}
