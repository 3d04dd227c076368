//! Comparable forms of licence numbers and company names, and a bounded edit distance.
//!
//! `KEP.77/2019`, `kep 77 / 2019` and `Kep-77/2019` have one licence key; `PT. Sukses-Mandiri` and
//! `sukses mandiri` have one name key. Pure functions, no IO; every function works on a bounded prefix of
//! its input, so a 5,000-character paste costs no more than a short one.

use crate::dialog::normalize::basic;

/// Words that say what a licence number is, not which one (`No.`, `Nomor`, `Tahun`).
const LICENCE_FILLER: &[&str] = &["NO", "NOMOR", "NOMER", "NMR", "TAHUN", "THN"];

/// Legal-form words that are not part of a company's name for matching (`PT`, `CV`, `Tbk`).
const LEGAL_FORMS: &[&str] = &["pt", "cv", "tbk", "persero"];

/// The most words of a name or query we compare; the rest is ignored.
pub const MAX_WORDS: usize = 12;

/// The comparable form of a licence number: upper-case letter and digit groups joined by `/`, leading
/// zeros and filler words (`No`, `Tahun`) dropped. Empty when the text has no letter or digit.
pub fn licence_key(text: &str) -> String {
    licence_groups(text).join("/")
}

/// Only the number groups of a licence (`77/2019` for `KEP.77/2019`): lets "77/2019" find
/// `KEP.77/2019`. Empty when there are fewer than two number groups (a lone number is too weak).
pub fn licence_number_key(text: &str) -> String {
    let digits: Vec<String> = licence_groups(text)
        .into_iter()
        .filter(|g| g.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if digits.len() < 2 {
        String::new()
    } else {
        digits.join("/")
    }
}

fn licence_groups(text: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_digit = false;
    for ch in text.chars().take(200) {
        if ch.is_alphanumeric() {
            let digit = ch.is_ascii_digit();
            if !current.is_empty() && digit != current_digit {
                groups.push(std::mem::take(&mut current));
            }
            current_digit = digit;
            current.extend(ch.to_uppercase());
        } else if !current.is_empty() {
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
        .into_iter()
        .filter(|g| !LICENCE_FILLER.contains(&g.as_str()))
        .map(|g| {
            if g.chars().all(|c| c.is_ascii_digit()) {
                let trimmed = g.trim_start_matches('0');
                if trimmed.is_empty() {
                    "0".to_string()
                } else {
                    trimmed.to_string()
                }
            } else {
                g
            }
        })
        .collect()
}

/// The words of a company name as compared: lower case, accents folded, punctuation gone, legal forms
/// (`PT`, `P.T.`, `CV`, `Tbk`) dropped, at most [`MAX_WORDS`].
pub fn name_words(text: &str) -> Vec<String> {
    let basic = basic(text);
    let raw: Vec<&str> = basic.split(' ').filter(|w| !w.is_empty()).collect();
    let mut words = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        // "P.T." becomes "p t" in the basic form.
        if raw[i] == "p" && raw.get(i + 1) == Some(&"t") {
            i += 2;
            continue;
        }
        if !LEGAL_FORMS.contains(&raw[i]) {
            words.push(raw[i].to_string());
        }
        i += 1;
        if words.len() >= MAX_WORDS {
            break;
        }
    }
    words
}

/// The legal form a company name says it is: `"cv"` for a CV (a partnership, never a licensed P3MI,
/// which must be a PT), `"pt"` for a PT (`PT`, `P.T.`, `Tbk`, `Persero`), `None` when it says none.
pub fn legal_form(text: &str) -> Option<&'static str> {
    let basic = basic(text);
    let raw: Vec<&str> = basic
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(64)
        .collect();
    if raw.contains(&"cv") {
        return Some("cv");
    }
    let pt = raw.iter().any(|w| ["pt", "tbk", "persero"].contains(w))
        || raw.windows(2).any(|w| w == ["p", "t"]);
    pt.then_some("pt")
}

/// The comparable form of a whole company name: [`name_words`] joined by single spaces.
pub fn name_key(text: &str) -> String {
    name_words(text).join(" ")
}

/// How many typos a word of this length may carry and still match.
pub fn allowed_edits(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The longest word [`bounded_distance`] compares; longer words only match exactly.
pub const MAX_WORD_CHARS: usize = 48;

/// The optimal-string-alignment distance (insert, delete, substitute, swap two neighbours) between `a`
/// and `b`, or `None` when it is larger than `max` or a word is longer than [`MAX_WORD_CHARS`]. No
/// allocation: it runs for every near word of every query.
pub fn bounded_distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max || a.len() > MAX_WORD_CHARS || b.len() > MAX_WORD_CHARS {
        return None;
    }
    const WIDTH: usize = MAX_WORD_CHARS + 1;
    let mut prev2 = [0usize; WIDTH];
    let mut prev = [0usize; WIDTH];
    for (j, cell) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    let mut row = [0usize; WIDTH];
    for i in 1..=a.len() {
        row[0] = i;
        let mut row_min = row[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(prev2[j - 2] + 1);
            }
            row[j] = value;
            row_min = row_min.min(value);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    let distance = prev[b.len()];
    (distance <= max).then_some(distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_key_table() {
        let cases = [
            ("KEP.77/2019", "KEP/77/2019"),
            ("kep 77 / 2019", "KEP/77/2019"),
            ("Kep-77/2019", "KEP/77/2019"),
            ("KEP77/2019", "KEP/77/2019"),
            ("KEP. 077 TAHUN 2019", "KEP/77/2019"),
            ("No. KEP.77/2019", "KEP/77/2019"),
            ("B.123/KEP/III/2020", "B/123/KEP/III/2020"),
            ("  ", ""),
            ("..//", ""),
        ];
        for (input, want) in cases {
            assert_eq!(licence_key(input), want, "{input:?}");
        }
        assert_eq!(licence_number_key("kep 77 / 2019"), "77/2019");
        assert_eq!(licence_number_key("77/2019"), "77/2019");
        assert_eq!(licence_number_key("PT 88 Jaya"), "");
    }

    #[test]
    fn name_key_table() {
        let cases = [
            ("PT Sukses Mandiri Utama", "sukses mandiri utama"),
            ("P.T. SUKSES MANDIRI UTAMA", "sukses mandiri utama"),
            ("PT. Sukses  Mandiri   Utama", "sukses mandiri utama"),
            ("pt.sukses-mandiri utama", "sukses mandiri utama"),
            ("CV Sukses Mandiri Utama", "sukses mandiri utama"),
            ("Sukses Mandiri Utama, PT", "sukses mandiri utama"),
            ("PT Sukses Mandiri Utama Tbk", "sukses mandiri utama"),
            ("PT Séjahtéra Abadi", "sejahtera abadi"),
            (
                "PT Contoh Sejahtera Abadi (DEMO)",
                "contoh sejahtera abadi demo",
            ),
            ("PT", ""),
            ("!!!", ""),
        ];
        for (input, want) in cases {
            assert_eq!(name_key(input), want, "{input:?}");
        }
        // "pt" inside a word is part of the name.
        assert_eq!(name_key("PT Aptika"), "aptika");
    }

    #[test]
    fn legal_form_table() {
        for (input, want) in [
            ("CV Bina Karya Mandiri", Some("cv")),
            ("cv. bina karya", Some("cv")),
            ("Bina Karya, CV", Some("cv")),
            ("PT Bina Karya", Some("pt")),
            ("P.T. Bina Karya", Some("pt")),
            ("Bina Karya Tbk", Some("pt")),
            ("Bina Karya", None),
            ("PT Aptika", Some("pt")),
            ("Cvetko Jaya", None),
        ] {
            assert_eq!(legal_form(input), want, "{input:?}");
        }
    }

    #[test]
    fn name_words_are_bounded() {
        let long = "kata ".repeat(5_000);
        assert_eq!(name_words(&long).len(), MAX_WORDS);
    }

    #[test]
    fn bounded_distance_table() {
        let chars = |s: &str| s.chars().collect::<Vec<char>>();
        let cases = [
            ("mandiri", "mandri", 2, Some(1)),
            ("utama", "utma", 1, Some(1)),
            ("sukses", "suksse", 1, Some(1)),
            ("sukses", "sukses", 0, Some(0)),
            ("sejahtera", "sejatra", 1, None),
            ("sejahtera", "sejatra", 2, Some(2)),
            ("abadi", "jaya", 1, None),
            ("", "abc", 3, Some(3)),
        ];
        for (a, b, max, want) in cases {
            assert_eq!(bounded_distance(&chars(a), &chars(b), max), want, "{a} {b}");
        }
    }
}
