//! The labelled offers in `dialogs/tests/offers/*.yaml`: each offer names the signs it carries and
//! whether it is `legit` (from a licensed company of the test registry `registry.csv` next to it) or
//! `illegal`. [`run`] checks every offer and counts, per sign, what was found right, found wrongly and
//! missed (precision and recall), and lists the offers that break the two rules `pandu check` enforces:
//! every illegal offer gets at least "some signs"; no legitimate offer gets "strong signs".

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::analyse::{Level, Lookup, analyse};
use super::rules::OfferRules;

/// The test registry, next to the corpus.
pub const REGISTRY_FILE: &str = "registry.csv";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorpus {
    offers: Vec<RawOffer>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Legit,
    Illegal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    id: String,
    kind: Kind,
    /// Free words for people: broadcast, short, mixed, javanese, ...
    #[serde(default)]
    style: String,
    #[serde(default)]
    signs: Vec<String>,
    text: String,
}

/// Counts for one sign.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignScore {
    pub found_right: usize,
    pub found_wrong: usize,
    pub missed: usize,
}

/// Which offers a sign was wrongly found in, or missed in (for the author of the rules).
#[derive(Debug, Default, Clone)]
pub struct SignMisses {
    pub wrong: Vec<String>,
    pub missed: Vec<String>,
}

impl SignScore {
    pub fn precision(&self) -> Option<f64> {
        let all = self.found_right + self.found_wrong;
        (all > 0).then(|| self.found_right as f64 / all as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        let all = self.found_right + self.missed;
        (all > 0).then(|| self.found_right as f64 / all as f64)
    }
}

#[derive(Debug, Default)]
pub struct CorpusReport {
    pub offers: usize,
    pub legit: usize,
    pub illegal: usize,
    /// Verdicts by kind: (kind, level) → count.
    pub verdicts: BTreeMap<(String, String), usize>,
    pub signs: BTreeMap<String, SignScore>,
    pub misses: BTreeMap<String, SignMisses>,
    /// Offers that break a rule: "file: id: why".
    pub failures: Vec<String>,
    /// Problems reading the corpus (unknown sign names, bad YAML).
    pub errors: Vec<String>,
}

impl CorpusReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.errors.is_empty() && self.offers > 0
    }

    /// The table `pandu check` prints.
    pub fn table(&self) -> String {
        let pct = |v: Option<f64>| {
            v.map(|v| format!("{:5.1}%", v * 100.0))
                .unwrap_or_else(|| "    -".into())
        };
        let mut out = format!(
            "offer corpus: {} offers ({} legitimate, {} illegal)\n  {:<22} {:>9} {:>7} {:>6} {:>6} {:>6}\n",
            self.offers,
            self.legit,
            self.illegal,
            "sign",
            "precision",
            "recall",
            "right",
            "wrong",
            "missed"
        );
        for (key, s) in &self.signs {
            out.push_str(&format!(
                "  {key:<22} {:>9} {:>7} {:>6} {:>6} {:>6}\n",
                pct(s.precision()),
                pct(s.recall()),
                s.found_right,
                s.found_wrong,
                s.missed
            ));
        }
        for (key, m) in &self.misses {
            if !m.wrong.is_empty() {
                out.push_str(&format!(
                    "  {key} found but not labelled: {}\n",
                    m.wrong.join(", ")
                ));
            }
            if !m.missed.is_empty() {
                out.push_str(&format!(
                    "  {key} labelled but not found: {}\n",
                    m.missed.join(", ")
                ));
            }
        }
        for ((kind, level), n) in &self.verdicts {
            out.push_str(&format!("  {kind} offers with verdict {level}: {n}\n"));
        }
        out
    }
}

/// Checks every offer of every `*.yaml` in `dir`.
pub fn run(rules: &OfferRules, lookup: &dyn Lookup, dir: &Path) -> CorpusReport {
    let mut report = CorpusReport::default();
    for sign in &rules.signs {
        report.signs.insert(sign.key.clone(), SignScore::default());
    }
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
        Err(e) => {
            report.errors.push(format!("{}: {e}", dir.display()));
            return report;
        }
    };
    files.sort();
    for file in files {
        let name = file.display().to_string();
        let corpus: RawCorpus = match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_saphyr::from_str(&t).map_err(|e| {
                    let m = e.without_snippet().to_string();
                    let m = m.lines().next().unwrap_or("invalid YAML").to_string();
                    match e.location() {
                        Some(l) => format!("{}:{}: {m}", l.line(), l.column()),
                        None => m,
                    }
                })
            }) {
            Ok(c) => c,
            Err(e) => {
                report.errors.push(format!("{name}:{e}"));
                continue;
            }
        };
        for offer in corpus.offers {
            let _ = &offer.style;
            for s in &offer.signs {
                if rules.sign(s).is_none() {
                    report
                        .errors
                        .push(format!("{name}: {}: unknown sign {s:?}", offer.id));
                }
            }
            let a = analyse(rules, Some(lookup), &offer.text);
            report.offers += 1;
            let kind = match offer.kind {
                Kind::Legit => {
                    report.legit += 1;
                    "legitimate"
                }
                Kind::Illegal => {
                    report.illegal += 1;
                    "illegal"
                }
            };
            *report
                .verdicts
                .entry((kind.to_string(), a.level().code().to_string()))
                .or_default() += 1;
            for (key, score) in report.signs.iter_mut() {
                let want = offer.signs.iter().any(|s| s == key);
                let got = a.has(key);
                match (want, got) {
                    (true, true) => score.found_right += 1,
                    (false, true) => {
                        score.found_wrong += 1;
                        let m = report.misses.entry(key.clone()).or_default();
                        m.wrong.push(offer.id.clone());
                    }
                    (true, false) => {
                        score.missed += 1;
                        let m = report.misses.entry(key.clone()).or_default();
                        m.missed.push(offer.id.clone());
                    }
                    (false, false) => {}
                }
            }
            let found: Vec<&str> = a.findings.iter().map(|f| f.key.as_str()).collect();
            if offer.kind == Kind::Illegal && a.level() == Level::None {
                report.failures.push(format!(
                    "{name}: {}: an illegal offer got \"no signs\" (found: {})",
                    offer.id,
                    found.join(", ")
                ));
            }
            if offer.kind == Kind::Legit && a.level() == Level::Strong {
                report.failures.push(format!(
                    "{name}: {}: a legitimate offer got \"strong signs\" (found: {})",
                    offer.id,
                    found.join(", ")
                ));
            }
        }
    }
    if report.offers == 0 && report.errors.is_empty() {
        report.errors.push(format!("{}: no offers", dir.display()));
    }
    report
}
