//! What users type, made comparable: lower case, no punctuation or control characters, single spaces,
//! stretched letters shortened ("tolonggg" → "tolong"), and informal spellings replaced by their
//! standard form from `dialogs/_lexicon.yaml` ("gmn" → "bagaimana", "luar negri" → "luar negeri").
//!
//! Triggers, keywords and menu labels are all matched on this form. Pure functions, no IO.

use std::collections::BTreeMap;

/// The longest message we look at; the rest of a 10,000-character paste is ignored for matching.
pub const MAX_MATCH_CHARS: usize = 1000;

/// Informal spellings and their standard forms.
#[derive(Clone, Debug, Default)]
pub struct Lexicon {
    words: BTreeMap<String, String>,
    /// Multi-word phrases, longest first.
    phrases: Vec<(Vec<String>, String)>,
    /// Indices into `phrases` by their first word (in `phrases` order), so a word is compared only
    /// with the phrases that can start there.
    by_first: BTreeMap<String, Vec<usize>>,
}

impl Lexicon {
    /// Builds a lexicon from `informal -> standard` pairs; keys and values are normalised first.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Lexicon {
        let mut lexicon = Lexicon::default();
        for (from, to) in pairs {
            let from_words: Vec<String> = basic(from).split(' ').map(str::to_string).collect();
            let to = basic(to);
            if from_words.iter().all(|w| w.is_empty()) {
                continue;
            }
            if from_words.len() == 1 {
                lexicon.words.insert(from_words[0].clone(), to);
            } else {
                lexicon.phrases.push((from_words, to));
            }
        }
        lexicon
            .phrases
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        for (i, (words, _)) in lexicon.phrases.iter().enumerate() {
            if let Some(first) = words.first() {
                lexicon.by_first.entry(first.clone()).or_default().push(i);
            }
        }
        lexicon
    }

    pub fn len(&self) -> usize {
        self.words.len() + self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Lower case, letters and digits only, single spaces, stretched letters shortened. No lexicon.
pub fn basic(text: &str) -> String {
    // Runs of one character: three or more of the same letter is a stretch ("tolonggg", "haloooo")
    // and becomes one; doubles are real spelling ("saat", "2000") and stay. One pass, each run
    // written out when the next begins.
    let mut out = String::with_capacity(text.len().min(MAX_MATCH_CHARS * 4));
    let mut run: Option<(char, usize)> = None;
    let flush = |out: &mut String, run: Option<(char, usize)>| {
        if let Some((ch, n)) = run {
            let keep = if ch == ' ' || (n >= 3 && !ch.is_ascii_digit()) {
                1
            } else {
                n
            };
            for _ in 0..keep {
                out.push(ch);
            }
        }
    };
    for ch in text.chars().take(MAX_MATCH_CHARS) {
        let ch = fold_accent(ch);
        if ch.is_ascii_alphanumeric() {
            let lower = ch.to_ascii_lowercase();
            match &mut run {
                Some((last, n)) if *last == lower => *n += 1,
                _ => {
                    flush(&mut out, run);
                    run = Some((lower, 1));
                }
            }
        } else if ch.is_alphanumeric() {
            for lower in ch.to_lowercase() {
                match &mut run {
                    Some((last, n)) if *last == lower => *n += 1,
                    _ => {
                        flush(&mut out, run);
                        run = Some((lower, 1));
                    }
                }
            }
        } else if !matches!(run, Some((' ', _)) | None) {
            flush(&mut out, run);
            run = Some((' ', 1));
        }
    }
    if !matches!(run, Some((' ', _))) {
        flush(&mut out, run);
    }
    // Only a space can end it, and a final space was not written.
    out
}

/// The form triggers and keywords are matched on: [`basic`] plus the lexicon.
pub fn normalize(text: &str, lexicon: &Lexicon) -> String {
    apply_lexicon(&basic(text), lexicon)
}

/// [`normalize`] of a text whose [`basic`] form is `basic` (the step computes it once, for this
/// and for [`detect_language_basic`]).
pub fn apply_lexicon(basic: &str, lexicon: &Lexicon) -> String {
    let words: Vec<&str> = basic.split(' ').filter(|w| !w.is_empty()).collect();
    let mut out = String::with_capacity(basic.len() + 16);
    let mut put = |w: &str| {
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    };
    let mut i = 0;
    'outer: while let Some(&word) = words.get(i) {
        let candidates = lexicon.by_first.get(word).map(Vec::as_slice);
        for &k in candidates.unwrap_or(&[]) {
            let Some((phrase, to)) = lexicon.phrases.get(k) else {
                continue;
            };
            if let Some(here) = words.get(i..i + phrase.len())
                && here.iter().zip(phrase).all(|(a, b)| *a == b.as_str())
            {
                put(to);
                i += phrase.len();
                continue 'outer;
            }
        }
        match lexicon.words.get(word) {
            Some(to) => put(to),
            None => put(word),
        }
        i += 1;
    }
    out
}

/// Words that mark a message as English, Javanese or Indonesian (as typed, before the lexicon).
const EN_WORDS: &[&str] = &[
    "the",
    "what",
    "how",
    "my",
    "is",
    "are",
    "i",
    "you",
    "can",
    "where",
    "when",
    "who",
    "which",
    "do",
    "does",
    "need",
    "want",
    "work",
    "working",
    "job",
    "please",
    "help",
    "much",
    "cost",
    "requirements",
    "company",
    "agency",
    "employer",
    "mother",
    "sister",
    "brother",
    "wife",
    "husband",
    "daughter",
    "son",
    "from",
    "with",
    "for",
    "and",
    "to",
    "of",
    "in",
    "it",
    "have",
    "has",
    "not",
    "been",
    "her",
    "his",
    "she",
    "he",
    "they",
    "this",
    "that",
    "there",
    "about",
    // Stop 19: a long English message has many content words; these keep a third of it markers
    // ("my brother was arrested by police in malaysia 5 days ago and we cant reach him" was answered
    // in Indonesian).
    "was",
    "were",
    "by",
    "we",
    "him",
    "them",
    "our",
    "us",
    "me",
    "be",
    "will",
    "at",
    "on",
    "ago",
    "since",
    "cant",
    "cannot",
    "would",
    "could",
    "should",
    "did",
    "or",
    "but",
    "if",
    "because",
    "now",
    "still",
    "after",
];
const JV_WORDS: &[&str] = &[
    "opo",
    "piye",
    "kepiye",
    "arep",
    "neng",
    "ning",
    "nang",
    "ora",
    "iso",
    "wis",
    "wes",
    "karo",
    "sing",
    "kudu",
    "ngendi",
    "endi",
    "sampeyan",
    "nggih",
    "mboten",
    "kulo",
    "kula",
    "kanggo",
    "lara",
    "mulih",
    "ono",
    "ana",
    "durung",
    "sasi",
    "bojoku",
    "anakku",
    "piro",
    "pira",
    "wae",
    "dadi",
    "carane",
    "syarate",
    "nek",
    "yen",
    "ngapunten",
    "matur",
    "nuwun",
    "saiki",
    "iki",
    "kuwi",
    "kae",
    "nyambut",
    "gawe",
    "budal",
    "ilang",
    "dhewe",
    "wong",
    "tuwa",
    "ibuku",
    "bapakku",
    "adhiku",
    "mbakyu",
    "pripun",
    "pinten",
    "sampun",
    "dereng",
];
const ID_WORDS: &[&str] = &[
    "yang",
    "apa",
    "bagaimana",
    "gimana",
    "gmn",
    "saya",
    "sy",
    "aku",
    "tidak",
    "ga",
    "gak",
    "nggak",
    "bisa",
    "mau",
    "ingin",
    "pengen",
    "di",
    "ke",
    "dari",
    "untuk",
    "buat",
    "dengan",
    "sudah",
    "udah",
    "udh",
    "belum",
    "blm",
    "berapa",
    "brp",
    "kerja",
    "syarat",
    "biaya",
    "adik",
    "anak",
    "ibu",
    "bapak",
    "suami",
    "istri",
    "kakak",
    "tolong",
    "min",
    "kak",
    "ya",
    "dong",
    "apakah",
    "bagaimana",
    "kalau",
    "kalo",
    "jadi",
    "jd",
    "itu",
    "ini",
    "ada",
    "sama",
];

/// The language a message is clearly written in, if any: English or Javanese when their marker
/// words dominate, Indonesian when only Indonesian markers appear. Short or mixed messages give
/// `None`, so a single English word ("taiwan", "ok") never switches anything.
pub fn detect_language(text: &str) -> Option<super::io::Lang> {
    detect_language_basic(&basic(text))
}

/// [`detect_language`] of a text whose [`basic`] form is `basic`.
pub fn detect_language_basic(basic: &str) -> Option<super::io::Lang> {
    use super::io::Lang;
    let words = basic.split(' ').filter(|w| !w.is_empty());
    // Fewer than three words: nothing to tell.
    words.clone().nth(2)?;
    let (mut en, mut jv, mut id, mut total) = (0usize, 0usize, 0usize, 0usize);
    for word in words {
        total += 1;
        let mask = marker_lists(word);
        en += usize::from(mask & EN != 0);
        jv += usize::from(mask & JV != 0);
        id += usize::from(mask & ID != 0);
    }
    let words = total;
    if en >= 2 && en >= 2 * (jv + id) && en * 3 >= words {
        return Some(Lang::En);
    }
    if jv >= 2 && jv > id {
        return Some(Lang::Jv);
    }
    if id >= 2 && en == 0 && jv == 0 {
        return Some(Lang::Id);
    }
    None
}

const EN: u8 = 1;
const JV: u8 = 2;
const ID: u8 = 4;

/// Which marker lists (`EN | JV | ID`) a word is in: one binary search in the three lists merged
/// (sorted once), where three searches were a few per cent of a step.
fn marker_lists(word: &str) -> u8 {
    static MERGED: std::sync::LazyLock<Vec<(&'static str, u8)>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<(&'static str, u8)> = Vec::new();
        for (list, bit) in [(EN_WORDS, EN), (JV_WORDS, JV), (ID_WORDS, ID)] {
            v.extend(list.iter().map(|w| (*w, bit)));
        }
        v.sort_unstable();
        let mut merged: Vec<(&'static str, u8)> = Vec::with_capacity(v.len());
        for (w, bit) in v {
            match merged.last_mut() {
                Some((last, mask)) if *last == w => *mask |= bit,
                _ => merged.push((w, bit)),
            }
        }
        merged
    });
    MERGED
        .binary_search_by(|(w, _)| (*w).cmp(word))
        .map_or(0, |i| MERGED.get(i).map_or(0, |(_, mask)| *mask))
}

/// Common accented Latin letters to their base letter (names like "Café" or "José" in agency lists).
fn fold_accent(ch: char) -> char {
    match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_form_table() {
        let cases = [
            ("  Syarat   kerja ke TAIWAN?? ", "syarat kerja ke taiwan"),
            ("tolonggg!!!", "tolong"),
            ("haloooo", "halo"),
            ("saat ini", "saat ini"),
            ("Rp 2.000.000", "rp 2 000 000"),
            ("😭😭😭", ""),
            ("\u{0}\u{7}menu\u{1b}", "menu"),
            ("José Café", "jose cafe"),
            ("PT. Sukses-Mandiri", "pt sukses mandiri"),
        ];
        for (input, want) in cases {
            assert_eq!(basic(input), want, "{input:?}");
        }
    }

    #[test]
    fn lexicon_replaces_words_and_phrases() {
        let lexicon = Lexicon::new([
            ("gmn", "bagaimana"),
            ("ga", "tidak"),
            ("luar negri", "luar negeri"),
            ("tkw", "pmi"),
        ]);
        assert_eq!(
            normalize(
                "Gmn caranya kerja ke luar negri jd TKW, ga pake calo?",
                &lexicon
            ),
            "bagaimana caranya kerja ke luar negeri jd pmi tidak pake calo"
        );
    }

    #[test]
    fn the_language_is_recognised_only_when_clear() {
        use super::super::io::Lang;
        let cases = [
            (
                "my mother works in hong kong and her employer hits her",
                Some(Lang::En),
            ),
            ("can i speak to a real person", Some(Lang::En)),
            ("wis rong sasi ora ono kabar soko anakku", Some(Lang::Jv)),
            ("piye carane daftar kerja neng taiwan", Some(Lang::Jv)),
            ("syarat jd tkw hongkong umur maks brp", Some(Lang::Id)),
            (
                "ibu sy di hongkong gajinya ga dibayar 3 bln",
                Some(Lang::Id),
            ),
            ("taiwan", None),
            ("ok thanks", None),
            ("cek pt maju jaya", None),
        ];
        for (text, want) in cases {
            assert_eq!(detect_language(text), want, "{text}");
        }
    }

    #[test]
    fn one_search_finds_every_list_a_marker_word_is_in() {
        let words = EN_WORDS
            .iter()
            .chain(JV_WORDS)
            .chain(ID_WORDS)
            .copied()
            .chain(["", "zzz", "a", "taiwan", "hongkong"]);
        for w in words {
            let want = u8::from(EN_WORDS.contains(&w)) * EN
                + u8::from(JV_WORDS.contains(&w)) * JV
                + u8::from(ID_WORDS.contains(&w)) * ID;
            assert_eq!(marker_lists(w), want, "{w:?}");
        }
        // The basic form given, or made here: the same answer.
        for text in [
            "My Mother works in Hong Kong!!",
            "piye carane daftar",
            "a b",
        ] {
            assert_eq!(
                detect_language(text),
                detect_language_basic(&basic(text)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_huge_message_is_cut_for_matching() {
        let long = "a ".repeat(10_000);
        assert!(basic(&long).len() <= MAX_MATCH_CHARS);
    }
}
