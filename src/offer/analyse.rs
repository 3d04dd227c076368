//! The pure analyser: an offer text in, findings and a verdict out. No IO, no clock; the registry is
//! reached only through [`Lookup`] (see `super::lookup` for the live registry's side).
//!
//! Invariants: reads at most `max_chars` characters (cut on a character boundary); never says "safe"
//! (the best verdict is [`Level::None`], "no signs found"); a look-alike company name is a warning,
//! never a pass; cost is bounded by the cut (every regex runs in linear time).

use std::sync::LazyLock;

use regex::Regex;

use super::rules::{OfferRules, Sign, Weight};

/// The verdict, in three steps. Never "safe".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Some,
    Strong,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Some => "some",
            Level::Strong => "strong",
        }
    }
}

/// "some" signs that together count as strong.
pub const SOME_FOR_STRONG: usize = 3;

/// What the registry says about a name or a licence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// Exactly the registered name (or licence), licence active.
    Licensed {
        name: String,
        licence: String,
    },
    /// Close to a registered name but not the same (or several close names): never a pass.
    LookAlike {
        name: String,
        licence: String,
    },
    /// Exactly registered, but the licence is suspended, revoked or not renewed (`status`: the code).
    NotAllowed {
        name: String,
        licence: String,
        status: String,
    },
    NotFound,
}

/// The registry as the analyser sees it: a thin seam, so a rework of the registry's verdicts touches
/// only `super::lookup`.
pub trait Lookup {
    fn by_name(&self, name: &str) -> Hit;
    fn by_licence(&self, licence: &str) -> Hit;
    /// The snapshot's date and source, for the texts.
    fn as_of(&self) -> String;
    fn source(&self) -> String;
}

/// One thing found, with what to fill into its texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The sign's key in the rules file.
    pub key: String,
    pub weight: Weight,
    /// The words of the offer that matched (comparable form), if any.
    pub excerpt: Option<String>,
    /// `{name}`, `{licence}`, `{typed}`, `{status}` for company findings.
    pub vars: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub level: Option<Level>,
    pub findings: Vec<Finding>,
    /// Company names as written in the offer.
    pub companies: Vec<String>,
    pub licences: Vec<String>,
    /// Mobile numbers, as digits starting with 0.
    pub phones: Vec<String>,
    /// Bank or e-wallet account numbers (digits).
    pub accounts: Vec<String>,
    /// Whether the text was cut at `max_chars`.
    pub cut: bool,
    pub as_of: String,
    pub source: String,
}

impl Analysis {
    pub fn level(&self) -> Level {
        self.level.unwrap_or(Level::None)
    }

    pub fn has(&self, key: &str) -> bool {
        self.findings.iter().any(|f| f.key == key)
    }
}

/// A pattern written in this file (not outside input); the unit tests compile every one.
fn fixed(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a fixed pattern compiles")
}

static COMPANY: LazyLock<Regex> = LazyLock::new(|| {
    fixed(r"(?i)\b(?:PT|P\.T)\.?[ \t]+([A-Za-z0-9][\w&'().-]*(?:[ \t]+[\w&'().-]+){0,6})")
});
static LICENCE: LazyLock<Regex> = LazyLock::new(|| {
    fixed(
        r"(?i)\b(KEP[. -]?[A-Z0-9][A-Z0-9./-]*\d[A-Z0-9./-]*|(?:SIP3MI|SIP 3MI)[ \t]*(?:no\.?|nomor|nomer|number)?[ \t:.]*[A-Z0-9][A-Z0-9./-]*/[A-Z0-9./-]+)",
    )
});
static MOBILE: LazyLock<Regex> =
    LazyLock::new(|| fixed(r"(?:\+?62|\b0)[ .-]?8\d(?:[ .-]?\d){6,11}\b"));
static LANDLINE: LazyLock<Regex> =
    LazyLock::new(|| fixed(r"\(0[2-7]\d{1,2}\)[ .-]?\d|\b0[2-7]\d{1,2}[ .-]\d{3,}"));
static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| {
    fixed(
        r"(?i)\b(?:bri|bca|bni|mandiri|btn|bsi|dana|ovo|gopay|shopeepay|seabank|jago|rek(?:ening)?|no\.? ?rek|norek)\b[^\d\n]{0,25}(\d[\d .-]{5,22}\d)",
    )
});

/// Words that end a company name in running text ("PT Maju Jaya membuka lowongan").
const NAME_STOP: &[&str] = &[
    "adalah",
    "yang",
    "resmi",
    "membuka",
    "buka",
    "butuh",
    "dibutuhkan",
    "merekrut",
    "mencari",
    "menerima",
    "untuk",
    "di",
    "ke",
    "dengan",
    "telah",
    "sudah",
    "sebagai",
    "alamat",
    "kantor",
    "jl",
    "jln",
    "jalan",
    "no",
    "nomor",
    "izin",
    "ijin",
    "sip3mi",
    "berizin",
    "lowongan",
    "job",
    "hub",
    "wa",
    "open",
    "sedang",
    "p3mi",
    "cabang",
    "pusat",
    "kerja",
    "siap",
    "info",
    "dan",
    "is",
    "hiring",
    "recruiting",
    "bekerja",
    "sama",
    "kerjasama",
    "penempatan",
    "terdaftar",
    "punya",
    "ngrekrut",
    "lagi",
    "tlp",
    "telp",
    "kep",
    "licence",
    "license",
    "licensed",
    "lisensi",
    "now",
    "the",
    "a",
    "bekerjasama",
    "menerima",
    "ready",
];

/// The offer's comparable form: lower case, letters and digits, single spaces; "5.000.000" → "5000000";
/// a decimal comma or point stays a comma ("3,5jt", "3.5jt" → "3,5jt": the findings quote amounts
/// from this form, and "35jt" quoted a fee ten times the one written; found by playing families,
/// stop 20).
pub fn comparable(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if (c == '.' || c == ',')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
        {
            // Thousands: exactly three digits follow ("5.000", "5,000,000"); else a decimal.
            let digits = chars[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if digits != 3 {
                out.push(',');
            }
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// Cuts `text` to at most `max` characters, on a character boundary. Returns whether it cut.
pub fn cut(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (&text[..i], true),
        None => (text, false),
    }
}

/// Whether a message looks like a pasted or forwarded job offer.
pub fn looks_like_offer(rules: &OfferRules, text: &str) -> bool {
    let (text, _) = cut(text, rules.max_chars);
    if text.chars().count() < rules.detect_min_chars {
        return false;
    }
    let norm = comparable(text);
    let mut hit = vec![false; rules.detect_groups.len()];
    for i in rules.detect_set.matches(&norm).iter() {
        if let Some(&group) = rules.detect_owner.get(i)
            && let Some(h) = hit.get_mut(group)
        {
            *h = true;
        }
    }
    hit.iter().filter(|h| **h).count() >= rules.detect_min_groups
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A negation ("tanpa", "tidak ada pungutan") counts only right before a match, within this many words;
/// after it ("... ditanggung majikan") within this many words and before any amount.
const NEAR_BEFORE_WORDS: usize = 3;
const NEAR_AFTER_WORDS: usize = 4;

/// The words right before `start`.
fn words_before(norm: &str, start: usize) -> &str {
    let head = norm[..start].trim_end();
    let mut from = head.len();
    for _ in 0..NEAR_BEFORE_WORDS {
        match head[..from].trim_end().rfind(' ') {
            Some(i) => from = i,
            None => {
                from = 0;
                break;
            }
        }
    }
    head[from..].trim_start()
}

/// The words right after `end`, up to the first one with a digit (an amount means it is charged).
fn words_after(norm: &str, end: usize) -> &str {
    let tail = &norm[end..];
    let mut stop = 0;
    for (n, word) in tail.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if n >= NEAR_AFTER_WORDS || word.chars().any(|c| c.is_ascii_digit()) {
            break;
        }
        match tail[stop..].find(word) {
            Some(at) => stop += at + word.len(),
            None => break,
        }
    }
    &tail[..stop]
}

/// Whether a negation ends exactly where the match starts, or appears right after it.
fn negated(sign: &Sign, norm: &str, start: usize, end: usize) -> bool {
    let before = words_before(norm, start);
    let after = words_after(norm, end);
    sign.not_near
        .iter()
        .any(|r| r.find_iter(before).any(|m| m.end() == before.len()) || r.is_match(after))
}

/// Words that belong to an amount right after it ("5 juta", "rp 500000").
const AMOUNT_WORDS: &[&str] = &[
    "rp", "juta", "jt", "jta", "ribu", "rb", "rupiah", "million", "yuta",
];

/// The match, plus the amount that follows it if any (so "biaya proses" shows "5 juta"), at most 60
/// bytes.
fn excerpt(norm: &str, start: usize, end: usize) -> String {
    let mut stop = end;
    for (taken, word) in norm[end..].split(' ').filter(|w| !w.is_empty()).enumerate() {
        let amount = word.chars().any(|c| c.is_ascii_digit()) || AMOUNT_WORDS.contains(&word);
        if !amount || taken >= 3 {
            break;
        }
        match norm[stop..].find(word) {
            Some(at) => stop += at + word.len(),
            None => break,
        }
    }
    let stop = floor_boundary(norm, stop.min(start + 60).max(end));
    norm[start..stop].trim().to_string()
}

/// A pattern sign: the first match not cancelled by a negation nearby.
fn pattern_hit(sign: &Sign, norm: &str) -> Option<String> {
    if !sign.unless.is_empty() && sign.unless.iter().any(|r| r.is_match(norm)) {
        return None;
    }
    if !sign.also.is_empty() && !sign.also.iter().any(|r| r.is_match(norm)) {
        return None;
    }
    for regex in &sign.any {
        for m in regex.find_iter(norm) {
            if !sign.not_near.is_empty() && negated(sign, norm, m.start(), m.end()) {
                continue;
            }
            return Some(excerpt(norm, m.start(), m.end()));
        }
    }
    None
}

/// Company names as written ("PT Maju Jaya Abadi"), cut at the first word that ends a name.
pub fn company_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for caps in COMPANY.captures_iter(text).take(8) {
        let Some(m) = caps.get(1) else { continue };
        let mut words = Vec::new();
        for word in m.as_str().split_whitespace() {
            let bare: String = word
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            // A licence number or a phone in brackets ends the name; so do the words that follow one.
            // "Tenaga Kerja" is part of many registered names: "kerja" after "tenaga" goes on
            // (stop 20: "PT Arta Graha Tenaga Kerja" was cut to a look-alike and flagged illegal).
            let name_word = bare == "kerja"
                && words
                    .last()
                    .is_some_and(|w: &&str| w.eq_ignore_ascii_case("tenaga"));
            if !name_word && NAME_STOP.contains(&bare.as_str())
                || bare.chars().any(|c| c.is_ascii_digit())
                || bare.is_empty() && !word.starts_with('(')
            {
                break;
            }
            let ends = word.ends_with([',', ':', ';', '!', '?']) || word.ends_with(". ");
            words.push(word.trim_end_matches([',', ':', ';', '!', '?', '.', '-']));
            if ends || words.len() >= 6 {
                break;
            }
        }
        let name = words.join(" ");
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        if letters >= 3
            && !names
                .iter()
                .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            names.push(name);
        }
    }
    names
}

/// Licence numbers as written ("KEP.123/2020").
pub fn licence_numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in LICENCE.find_iter(text).take(8) {
        let mut s = m.as_str().trim_end_matches(['.', '-', '/']).to_string();
        for prefix in ["SIP3MI", "sip3mi", "Sip3mi", "SIP 3MI"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest
                    .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                    .to_string();
                for word in ["no", "No", "NO", "nomor", "Nomor", "nomer", "number"] {
                    if let Some(r) = s.strip_prefix(word)
                        && r.starts_with(|c: char| !c.is_ascii_alphanumeric())
                    {
                        s = r
                            .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                            .to_string();
                    }
                }
            }
        }
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Mobile numbers as digits from 0 ("+62 812-..." → "0812...").
pub fn mobile_numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in MOBILE.find_iter(text).take(16) {
        let d = digits(m.as_str());
        let d = match d.strip_prefix("62") {
            Some(rest) => format!("0{rest}"),
            None => d,
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Account numbers named after a bank, wallet or "rek".
pub fn account_numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for caps in ACCOUNT.captures_iter(text).take(8) {
        let Some(m) = caps.get(1) else { continue };
        let d = digits(m.as_str());
        // A phone number after "WA" is not an account; one after "DANA"/"OVO" is both: keep it.
        if d.len() >= 6 && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Reads an offer. `lookup` is the registry (None: company names are listed but not checked).
pub fn analyse(rules: &OfferRules, lookup: Option<&dyn Lookup>, text: &str) -> Analysis {
    let (text, was_cut) = cut(text, rules.max_chars);
    let norm = comparable(text);
    let mut a = Analysis {
        cut: was_cut,
        companies: company_names(text),
        licences: licence_numbers(text),
        phones: mobile_numbers(text),
        accounts: account_numbers(text),
        as_of: lookup.map(|l| l.as_of()).unwrap_or_default(),
        source: lookup.map(|l| l.source()).unwrap_or_default(),
        ..Analysis::default()
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut push =
        |sign: Option<&Sign>, excerpt: Option<String>, vars: Vec<(&'static str, String)>| {
            if let Some(sign) = sign {
                findings.push(Finding {
                    key: sign.key.clone(),
                    weight: sign.weight,
                    excerpt,
                    vars,
                });
            }
        };
    // One pass of the combined set picks the signs that can match; only those run their regexes.
    let mut candidate = vec![false; rules.signs.len()];
    for i in rules.any_set.matches(&norm).iter() {
        if let Some(&sign) = rules.any_owner.get(i)
            && let Some(c) = candidate.get_mut(sign)
        {
            *c = true;
        }
    }
    for (sign, _) in rules.signs.iter().zip(&candidate).filter(|(_, c)| **c) {
        if let Some(ex) = pattern_hit(sign, &norm) {
            push(Some(sign), Some(ex), Vec::new());
        }
    }

    // Companies and licences, checked against the registry.
    let mut licensed_by_name = false;
    if let Some(lookup) = lookup {
        let mut named_licences: Vec<String> = Vec::new();
        for typed in &a.companies {
            let query = format!("PT {typed}");
            match lookup.by_name(&query) {
                Hit::Licensed { name, licence } => {
                    licensed_by_name = true;
                    named_licences.push(licence.clone());
                    push(
                        rules.computed("company_licensed"),
                        None,
                        vec![
                            ("name", name),
                            ("licence", licence),
                            ("typed", typed.clone()),
                        ],
                    );
                }
                Hit::LookAlike { name, licence } => push(
                    rules.computed("company_lookalike"),
                    None,
                    vec![
                        ("name", name),
                        ("licence", licence),
                        ("typed", typed.clone()),
                    ],
                ),
                Hit::NotAllowed {
                    name,
                    licence,
                    status,
                } => {
                    named_licences.push(licence.clone());
                    push(
                        rules.computed("company_not_allowed"),
                        None,
                        vec![
                            ("name", name),
                            ("licence", licence),
                            ("typed", typed.clone()),
                            ("status", status),
                        ],
                    )
                }
                Hit::NotFound => push(
                    rules.computed("company_not_found"),
                    None,
                    vec![("typed", typed.clone())],
                ),
            }
        }
        for typed in &a.licences {
            match lookup.by_licence(typed) {
                Hit::Licensed { name, licence } | Hit::LookAlike { name, licence } => {
                    let same = named_licences.iter().any(|l| l == &licence);
                    if !same && !a.companies.is_empty() {
                        push(
                            rules.computed("licence_mismatch"),
                            None,
                            vec![
                                ("name", name),
                                ("licence", licence),
                                ("typed", a.companies.join(", ")),
                            ],
                        );
                    } else if !same {
                        licensed_by_name = true;
                        push(
                            rules.computed("company_licensed"),
                            None,
                            vec![
                                ("name", name),
                                ("licence", licence),
                                ("typed", typed.clone()),
                            ],
                        );
                    }
                }
                Hit::NotAllowed {
                    name,
                    licence,
                    status,
                } => {
                    if !named_licences.contains(&licence) {
                        push(
                            rules.computed("company_not_allowed"),
                            None,
                            vec![
                                ("name", name),
                                ("licence", licence),
                                ("typed", typed.clone()),
                                ("status", status),
                            ],
                        );
                    }
                }
                Hit::NotFound => push(
                    rules.computed("licence_not_found"),
                    None,
                    vec![("typed", typed.clone())],
                ),
            }
        }
    }

    // What the program reads itself.
    let present = |key: &str| {
        rules
            .computed(key)
            .is_some_and(|s| s.present.iter().any(|r| r.is_match(&norm)))
    };
    let office_phone = LANDLINE.is_match(text) || present("personal_contact");
    let personal_words = rules
        .computed("personal_contact")
        .and_then(|s| s.any.iter().find_map(|r| r.find(&norm)))
        .map(|m| m.as_str().to_string());
    if !office_phone && (!a.phones.is_empty() || personal_words.is_some()) {
        let ex = a.phones.first().cloned().or(personal_words);
        push(rules.computed("personal_contact"), ex, Vec::new());
    }
    if !present("no_office_address") {
        push(rules.computed("no_office_address"), None, Vec::new());
    }
    if a.companies.is_empty() && a.licences.is_empty() {
        push(rules.computed("missing_company"), None, Vec::new());
    } else if a.licences.is_empty() && !licensed_by_name {
        push(rules.computed("missing_licence"), None, Vec::new());
    }
    if !present("missing_job_order") {
        push(rules.computed("missing_job_order"), None, Vec::new());
    }

    findings.sort_by_key(|f| f.weight);
    let strong = findings.iter().any(|f| f.weight == Weight::Strong);
    let some = findings.iter().filter(|f| f.weight == Weight::Some).count();
    a.level = Some(if strong || some >= SOME_FOR_STRONG {
        Level::Strong
    } else if some > 0 {
        Level::Some
    } else {
        Level::None
    });
    a.findings = findings;
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    fn rules() -> OfferRules {
        OfferRules::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("dialogs")
                .join(super::super::rules::RULES_FILE),
        )
        .unwrap()
    }

    struct Fake;
    impl Lookup for Fake {
        fn by_name(&self, name: &str) -> Hit {
            let n = name.to_lowercase();
            if n == "pt sinar contoh mandiri" {
                Hit::Licensed {
                    name: "PT Sinar Contoh Mandiri".into(),
                    licence: "KEP.T-01/2022".into(),
                }
            } else if n.contains("sinar contoh") {
                Hit::LookAlike {
                    name: "PT Sinar Contoh Mandiri".into(),
                    licence: "KEP.T-01/2022".into(),
                }
            } else {
                Hit::NotFound
            }
        }
        fn by_licence(&self, licence: &str) -> Hit {
            if licence.eq_ignore_ascii_case("KEP.T-01/2022") {
                self.by_name("pt sinar contoh mandiri")
            } else {
                Hit::NotFound
            }
        }
        fn as_of(&self) -> String {
            "2026-11-01".into()
        }
        fn source(&self) -> String {
            "test".into()
        }
    }

    fn keys(a: &Analysis) -> Vec<&str> {
        a.findings.iter().map(|f| f.key.as_str()).collect()
    }

    #[test]
    fn the_issue_example_is_strong_with_its_reasons() {
        let a = analyse(
            &rules(),
            Some(&Fake),
            "Kerja di Kamboja, gaji 15 juta, tanpa pengalaman, berangkat minggu depan, biaya proses 5 juta transfer ke rekening ini a.n. Bpk Fulan 0123456789. WA 0812-3456-7890",
        );
        assert_eq!(a.level(), Level::Strong);
        for k in [
            "scam_destination",
            "easy_high_pay",
            "quick_departure",
            "fee",
            "personal_account",
            "personal_contact",
            "missing_company",
        ] {
            assert!(a.has(k), "{k} missing from {:?}", keys(&a));
        }
        let fee = a.findings.iter().find(|f| f.key == "fee").unwrap();
        assert_eq!(fee.excerpt.as_deref(), Some("biaya proses 5 juta"));
        assert_eq!(a.phones, vec!["081234567890"]);
    }

    #[test]
    fn a_licensed_company_with_its_office_is_no_signs_but_never_safe() {
        let a = analyse(
            &rules(),
            Some(&Fake),
            "PT Sinar Contoh Mandiri (SIP3MI KEP.T-01/2022) membuka lowongan operator pabrik di Taiwan sesuai job order. Tanpa biaya admin. Kantor cabang: Jl. Contoh No. 1, Pekalongan, telp (0285) 000-111.",
        );
        assert_eq!(a.level(), Level::None, "{:?}", keys(&a));
        assert!(a.has("company_licensed"));
        assert!(!a.has("fee"), "'tanpa biaya admin' is not a fee");
    }

    #[test]
    fn a_look_alike_name_is_a_warning_and_a_foreign_licence_is_strong() {
        let a = analyse(
            &rules(),
            Some(&Fake),
            "PT Sinar Contoh Mandiri Jaya buka lowongan Malaysia. Kantor Jl. Mawar 2.",
        );
        assert!(a.has("company_lookalike"), "{:?}", keys(&a));
        assert!(!a.has("company_licensed"));
        let a = analyse(
            &rules(),
            Some(&Fake),
            "PT Abal Abal Sejahtera, izin KEP.T-01/2022, lowongan Malaysia. Kantor Jl. Mawar 2.",
        );
        assert!(a.has("licence_mismatch"), "{:?}", keys(&a));
        assert_eq!(a.level(), Level::Strong);
    }

    #[test]
    fn a_huge_paste_is_cut_on_a_character_boundary() {
        let text = "é".repeat(20_000) + " kamboja";
        let a = analyse(&rules(), None, &text);
        assert!(a.cut);
        assert!(
            !a.has("scam_destination"),
            "the part after the cut is not read"
        );
        assert_eq!(cut("aéb", 2), ("aé", true));
    }

    #[test]
    fn a_negation_counts_only_next_to_the_fee() {
        let r = rules();
        let fee = |t: &str| analyse(&r, None, t).has("fee");
        assert!(!fee("tanpa biaya admin, kantor jl mawar"));
        assert!(!fee("tidak ada pungutan biaya penempatan"));
        assert!(!fee("biaya tiket dan visa ditanggung pemberi kerja"));
        assert!(fee("gaji 20 juta tanpa ijazah biaya tiket 4 juta"));
        assert!(fee("biaya tiket 3 juta, sisanya gratis"));
        assert_eq!(words_before("a b c d e", 8), "b c d");
        assert_eq!(words_after("x ditanggung 5 juta", 1), " ditanggung");
    }

    #[test]
    fn comparable_form_joins_thousands_and_drops_punctuation() {
        assert_eq!(
            comparable("Gaji: Rp 5.000.000,-  (NETT)!"),
            "gaji rp 5000000 nett"
        );
        assert_eq!(comparable("a.n. Bpk"), "a n bpk");
        // A decimal is kept: the amount quoted back is the amount written (stop 20).
        assert_eq!(comparable("biaya admin 3,5jt"), "biaya admin 3,5jt");
        assert_eq!(comparable("biaya 2.5 juta"), "biaya 2,5 juta");
        assert_eq!(comparable("Rp 12.500.000"), "rp 12500000");
    }

    #[test]
    fn names_and_numbers_are_read_from_running_text() {
        assert_eq!(
            company_names(
                "Info dari PT. Maju Jaya Abadi membuka lowongan, hub pt sumber rejeki: 0812"
            ),
            vec!["Maju Jaya Abadi", "sumber rejeki"]
        );
        // "Tenaga Kerja" belongs to the name; "kerja" after another word ends it (stop 20).
        assert_eq!(
            company_names("Lowongan pabrik. PT Arta Graha Tenaga Kerja, KEP.404/2021"),
            vec!["Arta Graha Tenaga Kerja"]
        );
        assert_eq!(
            company_names("PT Maju Jaya kerja ke Taiwan"),
            vec!["Maju Jaya"]
        );
        assert_eq!(
            licence_numbers("SIP3MI No. KEP.45/2021."),
            vec!["KEP.45/2021"]
        );
        assert_eq!(
            mobile_numbers("wa +62 812 3456 7890 / 0813-1111-2222"),
            vec!["081234567890", "081311112222"]
        );
        assert_eq!(
            account_numbers("BRI 1234-5678-90 a.n. X"),
            vec!["1234567890"]
        );
    }

    #[test]
    fn a_forwarded_offer_is_recognised_and_a_question_is_not() {
        let r = rules();
        assert!(looks_like_offer(
            &r,
            "DIBUTUHKAN SEGERA!! Pekerja pabrik di Malaysia, pria/wanita usia 18-35, gaji 8 juta bersih, berangkat cepat. Minat hubungi WA 081234567890"
        ));
        assert!(!looks_like_offer(&r, "ini lowongan beneran ga ya min"));
        assert!(!looks_like_offer(
            &r,
            "berapa gaji kerja di taiwan sekarang? saya mau daftar"
        ));
    }
}
