//! The in-memory search index of one registry snapshot: by licence number (exact, normalised) and by
//! company name (normalised, then fuzzy: typos, a missing word, words in another order).
//!
//! How a name is found: the query's words are looked up in the vocabulary of all name words, exactly and
//! through a trigram index with a bounded edit distance (1 typo for words of 4-7 letters, 2 for longer);
//! companies holding a matched word are scored by how much of the query they explain and how much of
//! their name the query covers (both weighted by how rare each word is), and ranked.
//!
//! The verdict is strict: [`Verdict::Match`] ("this is a registered company") only when the query *is*
//! a registered name after normalisation (case, spacing, punctuation, `PT`/`P.T.`/`CV`, stretched
//! letters) or a registered licence number. Everything the fuzzy search finds is [`Verdict::Close`]: the
//! closest registered companies, for the user to compare, never an answer. A licence number typed with
//! a name that is not its company's is [`Verdict::LicenceOther`].
//!
//! Invariants:
//! - Immutable once built; a new import builds a new index and swaps it in whole.
//! - Never a guess: a fuzzy winner, however clear, is `Close`; look-alike names (a word added, dropped,
//!   a letter changed, words swapped, two names spliced) are what illegal recruiters use.
//! - Work per query is bounded: the query is cut to [`MAX_QUERY_CHARS`] and [`super::normalize::MAX_WORDS`]
//!   words before anything else happens.

use std::collections::HashMap;

use super::normalize::{
    allowed_edits, bounded_distance, legal_form, licence_key, licence_number_key, name_key,
    name_words,
};
use super::record::{Company, SnapshotMeta};

/// A longer query is not a company name or licence number.
pub const MAX_QUERY_CHARS: usize = 200;
/// Fewer letters and digits than this cannot name a company.
pub const MIN_QUERY_CHARS: usize = 3;
/// Below this score a candidate is not worth showing.
pub const MIN_SCORE: f32 = 0.5;
/// Candidates within this distance of the best are listed as alternatives.
pub const CLOSE_BAND: f32 = 0.25;
/// The most candidates returned.
pub const MAX_CANDIDATES: usize = 5;

/// Why nothing was found, when the query itself is the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// The query looked fine; the registry has no such company.
    None,
    /// No letters or digits at all (punctuation, emoji, blank).
    Empty,
    /// Too few letters to name a company (one letter, just "PT").
    TooShort,
    /// Far longer than any company name or licence number.
    TooLong,
}

impl Hint {
    /// The stable code, also the key of the hint text in `config/agencies.toml`.
    pub fn code(self) -> &'static str {
        match self {
            Hint::None => "none",
            Hint::Empty => "empty",
            Hint::TooShort => "too_short",
            Hint::TooLong => "too_long",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The query is exactly the name or the licence number of `candidates[0]`.
    Match,
    /// Several registered companies carry exactly this name (a new licence after a revoked one): all of
    /// them, for the user to choose.
    SameName,
    /// The query is *not* a registered name or number; `candidates` are the closest registered
    /// companies (best first), for the user to compare, never an answer.
    Close,
    /// The licence number typed is `candidates[0]`'s, but the name typed with it is not: the number
    /// belongs to another company. [`SearchResult::typed_name`] is the name typed.
    LicenceOther,
    NotFound(Hint),
}

impl Verdict {
    /// The stable code, also the key of the staff wording in `config/agencies.toml`.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::SameName => "same_name",
            Verdict::Close => "close",
            Verdict::LicenceOther => "licence_other",
            Verdict::NotFound(_) => "not_found",
        }
    }
}

/// How the query met the candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    /// The normalised licence number.
    Licence,
    /// Only the number groups of the licence (`77/2019`): exact when the query had no letters in its
    /// licence number, else a near miss (`B.77/2019` for `KEP.77/2019`).
    LicenceNumbers,
    /// The whole normalised name.
    ExactName,
    /// A fuzzy name match.
    Name,
}

#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub company: &'a Company,
    /// 0..=1; 1 for exact matches.
    pub score: f32,
    pub kind: MatchKind,
}

#[derive(Clone, Debug)]
pub struct SearchResult<'a> {
    pub verdict: Verdict,
    /// Best first. For `Match` and `LicenceOther`, the company first; for `NotFound`, near misses staff
    /// may want to see.
    pub candidates: Vec<Candidate<'a>>,
    /// For `LicenceOther`: the name typed beside the licence number, as typed. For the other verdicts:
    /// the name searched when the query carried licence words around it ("PT Maju no izin"), as
    /// typed without them; `None` when the whole query was the name.
    pub typed_name: Option<String>,
}

impl<'a> SearchResult<'a> {
    fn not_found(hint: Hint) -> Self {
        SearchResult::new(Verdict::NotFound(hint), Vec::new())
    }

    fn new(verdict: Verdict, candidates: Vec<Candidate<'a>>) -> Self {
        SearchResult {
            verdict,
            candidates,
            typed_name: None,
        }
    }
}

/// Words typed around a licence number that are not a name ("no. izin KEP.77/2019").
const LICENCE_WORDS: &[&str] = &[
    "no", "nomor", "nomer", "nmr", "izin", "ijin", "izinnya", "ijinnya", "sip3mi", "sip", "siup",
    "lisensi", "licence", "license", "number", "kep", "tahun", "thn",
];

/// The words among [`LICENCE_WORDS`] that say "licence" itself: a run of licence words and numbers at
/// either end of a query is cut off the name only when it holds one of these (so "PT Abadi No 1" keeps
/// its number, "PT Abadi no izin" loses "no izin").
const LICENCE_NAMES: &[&str] = &[
    "izin", "ijin", "izinnya", "ijinnya", "sip3mi", "sip", "siup", "lisensi", "licence", "license",
];

/// The query without a run of licence words (and the licence number typed in it) at its start or end:
/// "PT Maju Sejahtera no izin" → "PT Maju Sejahtera", "no. ijin KEP 12/2020 pt abadi" → "pt abadi".
/// As typed otherwise; the whole query when nothing else would be left.
pub fn without_licence_words(query: &str) -> String {
    let tokens: Vec<&str> = query.split_whitespace().collect();
    let parts = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    // "no izin nya": the suffix typed apart belongs to the licence words too.
    let licence_like = |t: &str| {
        parts(t).iter().all(|p| {
            LICENCE_WORDS.contains(&p.as_str())
                || p == "nya"
                || p.chars().any(|c| c.is_ascii_digit())
        })
    };
    let names_licence = |run: &[&str]| {
        run.iter()
            .any(|t| parts(t).iter().any(|p| LICENCE_NAMES.contains(&p.as_str())))
    };
    let mut start = 0;
    while start < tokens.len() && licence_like(tokens[start]) {
        start += 1;
    }
    if !names_licence(&tokens[..start]) {
        start = 0;
    }
    let mut end = tokens.len();
    while end > start && licence_like(tokens[end - 1]) {
        end -= 1;
    }
    if !names_licence(&tokens[end..]) {
        end = tokens.len();
    }
    let name = tokens[start..end]
        .join(" ")
        .trim_matches(|c: char| !c.is_alphanumeric() && c != ')' && c != '.')
        .to_string();
    if name.chars().any(char::is_alphanumeric) {
        name
    } else {
        query.trim().to_string()
    }
}

/// The most whitespace-separated pieces of a query tried as "name + licence number".
const MAX_SPLIT_TOKENS: usize = 16;

struct Word {
    chars: Vec<char>,
    /// Inverse document frequency: rare words weigh more than "jaya" or "indonesia".
    weight: f32,
    companies: Vec<u32>,
}

/// The searchable form of one snapshot.
pub struct Index {
    meta: SnapshotMeta,
    companies: Vec<Company>,
    by_licence: HashMap<String, u32>,
    by_licence_numbers: HashMap<String, Vec<u32>>,
    by_name: HashMap<String, Vec<u32>>,
    vocabulary: HashMap<String, u32>,
    words: Vec<Word>,
    trigrams: HashMap<[char; 3], Vec<u32>>,
    company_words: Vec<Vec<u32>>,
    company_weight: Vec<f32>,
    unknown_weight: f32,
}

fn trigrams_of(chars: &[char]) -> Vec<[char; 3]> {
    let mut padded = Vec::with_capacity(chars.len() + 2);
    padded.push(' ');
    padded.extend_from_slice(chars);
    padded.push(' ');
    let mut grams: Vec<[char; 3]> = padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl Index {
    /// Builds the index of a snapshot's companies.
    pub fn build(meta: SnapshotMeta, companies: Vec<Company>) -> Index {
        let mut by_licence = HashMap::new();
        let mut by_licence_numbers: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<Word> = Vec::new();
        let mut company_words = Vec::with_capacity(companies.len());
        for (i, company) in companies.iter().enumerate() {
            let i = i as u32;
            by_licence.insert(company.licence_key.clone(), i);
            let numbers = licence_number_key(&company.licence);
            if !numbers.is_empty() {
                by_licence_numbers.entry(numbers).or_default().push(i);
            }
            by_name.entry(name_key(&company.name)).or_default().push(i);
            let mut ids: Vec<u32> = Vec::new();
            for word in name_words(&company.name) {
                let id = *vocabulary.entry(word.clone()).or_insert_with(|| {
                    words.push(Word {
                        chars: word.chars().collect(),
                        weight: 0.0,
                        companies: Vec::new(),
                    });
                    (words.len() - 1) as u32
                });
                if !ids.contains(&id) {
                    ids.push(id);
                    words[id as usize].companies.push(i);
                }
            }
            company_words.push(ids);
        }
        let n = companies.len().max(1) as f32;
        let mut trigrams: HashMap<[char; 3], Vec<u32>> = HashMap::new();
        for (id, word) in words.iter_mut().enumerate() {
            word.weight = (1.0 + n / word.companies.len().max(1) as f32).ln();
            for gram in trigrams_of(&word.chars) {
                trigrams.entry(gram).or_default().push(id as u32);
            }
        }
        let company_weight = company_words
            .iter()
            .map(|ids| ids.iter().map(|&w| words[w as usize].weight).sum())
            .collect();
        Index {
            meta,
            companies,
            by_licence,
            by_licence_numbers,
            by_name,
            vocabulary,
            words,
            trigrams,
            company_words,
            company_weight,
            unknown_weight: (1.0 + n).ln(),
        }
    }

    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    pub fn companies(&self) -> &[Company] {
        &self.companies
    }

    /// The company holding this licence (any spelling of the number).
    pub fn by_licence(&self, licence: &str) -> Option<&Company> {
        self.by_licence
            .get(&licence_key(licence))
            .map(|&i| &self.companies[i as usize])
    }

    /// Finds the company a user means by a name or a licence number (see the module notes for the
    /// verdicts).
    pub fn search(&self, query: &str) -> SearchResult<'_> {
        if query.chars().nth(MAX_QUERY_CHARS).is_some() {
            return SearchResult::not_found(Hint::TooLong);
        }
        let letters = query.chars().filter(|c| c.is_alphanumeric()).count();
        if letters == 0 {
            return SearchResult::not_found(Hint::Empty);
        }
        if query.chars().any(|c| c.is_ascii_digit())
            && let Some(result) = self.search_licence(query)
        {
            return result;
        }
        // "PT Maju no izin": the name is what is left without the licence words (a registered name
        // that happens to end in them is still found whole).
        let mut words = name_words(query);
        let mut typed_name = None;
        if !self.by_name.contains_key(&words.join(" ")) {
            let name = without_licence_words(query);
            if name != query.trim() {
                words = name_words(&name);
                typed_name = Some(name);
            }
        }
        let mut result = self.search_name(&words);
        result.typed_name = typed_name;
        // "CV Bina Karya" is not "PT Bina Karya": the name without its legal form is the same, the
        // company is not (a P3MI is a PT; a CV of that name is another business). A legal form typed
        // that is not the registered one's makes an exact name only the closest, never an answer.
        if matches!(result.verdict, Verdict::Match | Verdict::SameName)
            && let Some(typed_form) = legal_form(query)
            && result
                .candidates
                .iter()
                .any(|c| legal_form(&c.company.name).unwrap_or("pt") != typed_form)
        {
            result.verdict = Verdict::Close;
            for candidate in &mut result.candidates {
                candidate.kind = MatchKind::Name;
                candidate.score = candidate.score.min(0.99);
            }
        }
        result
    }

    /// The name part of [`Index::search`]: `words` are the query's [`name_words`].
    fn search_name(&self, words: &[String]) -> SearchResult<'_> {
        let name_chars: usize = words.iter().map(|w| w.chars().count()).sum();
        if name_chars < MIN_QUERY_CHARS {
            return SearchResult::not_found(Hint::TooShort);
        }
        if let Some(ids) = self.by_name.get(&words.join(" ")) {
            // The whole name, as registered: the company itself, whatever else looks similar.
            let exact: Vec<Candidate<'_>> = ids
                .iter()
                .take(MAX_CANDIDATES)
                .map(|&i| Candidate {
                    company: &self.companies[i as usize],
                    score: 1.0,
                    kind: MatchKind::ExactName,
                })
                .collect();
            let verdict = if exact.len() == 1 {
                Verdict::Match
            } else {
                Verdict::SameName
            };
            return SearchResult::new(verdict, exact);
        }
        decide(self.score_names(words))
    }

    /// A query holding a registered licence number, alone or with a name before or after it
    /// ("PT ABC KEP.77/2019"). `None` when no part of it is a registered number.
    fn search_licence(&self, query: &str) -> Option<SearchResult<'_>> {
        let tokens: Vec<&str> = query.split_whitespace().take(MAX_SPLIT_TOKENS).collect();
        // Every way to cut the query into "licence" and "the rest", the longest licence part first:
        // the whole query, then without one token at either end, and so on.
        let mut splits: Vec<(usize, usize)> = Vec::new();
        for len in (1..=tokens.len()).rev() {
            splits.push((0, len));
            if len < tokens.len() {
                splits.push((tokens.len() - len, tokens.len()));
            }
        }
        let pieces = |(from, to): (usize, usize)| {
            let licence = tokens[from..to].join(" ");
            let rest: Vec<&str> = tokens[..from]
                .iter()
                .chain(&tokens[to..])
                .copied()
                .collect();
            (licence, rest.join(" "))
        };
        let mut found: Option<(u32, MatchKind, String, String)> = None;
        for &split in &splits {
            let (licence, rest) = pieces(split);
            if !licence.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Some(&i) = self.by_licence.get(&licence_key(&licence)) {
                found = Some((i, MatchKind::Licence, licence, rest));
                break;
            }
        }
        if found.is_none() {
            // The shortest piece holding the number groups, so a name around it stays a name.
            for &split in splits.iter().rev() {
                let (licence, rest) = pieces(split);
                let numbers = licence_number_key(&licence);
                if numbers.is_empty() {
                    continue;
                }
                if let Some(hits) = self.by_licence_numbers.get(&numbers) {
                    if hits.len() > 1 {
                        // One number under several prefixes: only the user can tell which.
                        let candidates = hits
                            .iter()
                            .take(MAX_CANDIDATES)
                            .map(|&i| Candidate {
                                company: &self.companies[i as usize],
                                score: 0.9,
                                kind: MatchKind::LicenceNumbers,
                            })
                            .collect();
                        return Some(SearchResult::new(Verdict::Close, candidates));
                    }
                    if let Some(&i) = hits.first() {
                        found = Some((i, MatchKind::LicenceNumbers, licence, rest));
                        break;
                    }
                }
            }
        }
        let (i, kind, licence, rest) = found?;
        let company = &self.companies[i as usize];
        // The rest is the name typed with the number, without the words that only say "licence
        // number"; single letters ("B 77/2019") belong to the number, not to a name.
        let rest_words = name_words(&rest);
        let name: Vec<&String> = rest_words
            .iter()
            .filter(|w| w.chars().count() > 1 && !LICENCE_WORDS.contains(&w.as_str()))
            .collect();
        // The letter groups typed with the number ("KEP", "B"), but for the words that only say
        // "licence number"; "kep" counts, because it is part of the number itself.
        let typed_letters: Vec<String> = licence_key(&licence)
            .split('/')
            .map(str::to_lowercase)
            .chain(
                rest_words
                    .iter()
                    .filter(|w| w.chars().count() == 1)
                    .cloned(),
            )
            .filter(|g| {
                g.chars().any(|c| c.is_alphabetic())
                    && (g == "kep" || !LICENCE_WORDS.contains(&g.as_str()))
            })
            .collect();
        let registered_letters: Vec<String> = licence_key(&company.licence)
            .split('/')
            .map(str::to_lowercase)
            .filter(|g| g.chars().any(|c| c.is_alphabetic()))
            .collect();
        // Letters typed that are not the registered number's ("KEP.101/2019" for
        // "KEP.101/PPTKIS/2019", "B.77/2019" for "KEP.77/2019"): the digits agree, the number
        // does not, and it is never answered as an exact match.
        let letters_in_licence = !typed_letters.is_empty() && typed_letters != registered_letters;
        let name_typed = name
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let candidate = Candidate {
            company,
            score: if kind == MatchKind::Licence { 1.0 } else { 0.9 },
            kind,
        };
        let registered = name_words(&company.name)
            .into_iter()
            .filter(|w| w.chars().count() > 1 && !LICENCE_WORDS.contains(&w.as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() && name_typed != registered {
            let mut result = SearchResult::new(Verdict::LicenceOther, vec![candidate]);
            result.typed_name = Some(without_licence_words(&rest));
            return Some(result);
        }
        if kind == MatchKind::LicenceNumbers && letters_in_licence {
            // "B.77/2019" when the registry has "KEP.77/2019": the digits agree, the number does not.
            return Some(SearchResult::new(Verdict::Close, vec![candidate]));
        }
        Some(SearchResult::new(Verdict::Match, vec![candidate]))
    }

    /// Vocabulary words close to a query word, with their similarity (1 = same word).
    fn similar_words(&self, word: &str) -> Vec<(u32, f32)> {
        let chars: Vec<char> = word.chars().collect();
        let mut found: Vec<(u32, f32)> = Vec::new();
        if let Some(&id) = self.vocabulary.get(word) {
            found.push((id, 1.0));
        }
        let max = allowed_edits(chars.len());
        if max == 0 {
            return found;
        }
        // Words within `max` edits share at least this many trigrams (an edit spoils at most three, a
        // swap of two neighbours four).
        let grams = trigrams_of(&chars);
        let needed = grams.len().saturating_sub(4 * max).max(1);
        let mut shared: Vec<u16> = vec![0; self.words.len()];
        let mut touched: Vec<u32> = Vec::new();
        for gram in &grams {
            if let Some(ids) = self.trigrams.get(gram) {
                for &id in ids {
                    let count = &mut shared[id as usize];
                    if *count == 0 {
                        touched.push(id);
                    }
                    *count = count.saturating_add(1);
                }
            }
        }
        for id in touched {
            if usize::from(shared[id as usize]) < needed
                || found.first().is_some_and(|(f, _)| *f == id)
            {
                continue;
            }
            let other = &self.words[id as usize].chars;
            if let Some(distance) = bounded_distance(&chars, other, max) {
                let longest = chars.len().max(other.len()) as f32;
                found.push((id, 1.0 - distance as f32 / longest));
            }
        }
        found
    }

    /// Scores every company sharing a (similar) word with the query; best first, at most a few.
    fn score_names(&self, query: &[String]) -> Vec<Candidate<'_>> {
        let mut unique: Vec<&String> = Vec::new();
        for word in query {
            if !unique.contains(&word) {
                unique.push(word);
            }
        }
        let q = unique.len();
        // For every query word: its matches, and its weight (that of its best match, or of an unknown word).
        let mut matches: Vec<Vec<(u32, f32)>> = Vec::with_capacity(q);
        let mut query_weight = Vec::with_capacity(q);
        for word in &unique {
            let found = self.similar_words(word);
            let weight = found
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(id, _)| self.words[*id as usize].weight)
                .unwrap_or(self.unknown_weight);
            query_weight.push(weight);
            matches.push(found);
        }
        let query_total: f32 = query_weight.iter().sum();
        if query_total <= 0.0 {
            return Vec::new();
        }
        // Best similarity of each vocabulary word to any query word, and to each query word.
        let mut word_best: HashMap<u32, f32> = HashMap::new();
        for found in &matches {
            for &(id, sim) in found {
                let best = word_best.entry(id).or_insert(0.0);
                *best = best.max(sim);
            }
        }
        // Dense per-company slots for the companies touched by this query.
        let mut slot: Vec<u32> = vec![u32::MAX; self.companies.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut per_query: Vec<f32> = Vec::new();
        for (qi, found) in matches.iter().enumerate() {
            for &(id, sim) in found {
                for &c in &self.words[id as usize].companies {
                    let s = &mut slot[c as usize];
                    if *s == u32::MAX {
                        *s = touched.len() as u32;
                        touched.push(c);
                        per_query.extend(std::iter::repeat_n(0.0, q));
                    }
                    let cell = &mut per_query[*s as usize * q + qi];
                    *cell = cell.max(sim);
                }
            }
        }
        let mut candidates: Vec<Candidate<'_>> = Vec::with_capacity(touched.len());
        for (s, &c) in touched.iter().enumerate() {
            let covered: f32 = (0..q)
                .map(|qi| per_query[s * q + qi] * query_weight[qi])
                .sum();
            let precision = covered / query_total;
            let name_total = self.company_weight[c as usize];
            let explained: f32 = self.company_words[c as usize]
                .iter()
                .map(|w| word_best.get(w).copied().unwrap_or(0.0) * self.words[*w as usize].weight)
                .sum();
            let recall = if name_total > 0.0 {
                explained / name_total
            } else {
                0.0
            };
            if precision + recall <= 0.0 {
                continue;
            }
            let score = 2.0 * precision * recall / (precision + recall);
            candidates.push(Candidate {
                company: &self.companies[c as usize],
                score: score.min(1.0),
                kind: MatchKind::Name,
            });
        }
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.company.name.cmp(&b.company.name))
        });
        candidates.truncate(MAX_CANDIDATES * 2);
        candidates
    }
}

/// Turns ranked fuzzy candidates into a verdict: the closest few, or nothing. Never a `Match`: a name
/// that is not exactly registered is not a registered company, however close.
fn decide(mut candidates: Vec<Candidate<'_>>) -> SearchResult<'_> {
    let Some(best) = candidates.first().map(|c| c.score) else {
        return SearchResult::not_found(Hint::None);
    };
    if best < MIN_SCORE {
        candidates.truncate(3);
        return SearchResult::new(Verdict::NotFound(Hint::None), candidates);
    }
    let floor = MIN_SCORE.max(best - CLOSE_BAND);
    candidates.retain(|c| c.score >= floor);
    candidates.truncate(MAX_CANDIDATES);
    SearchResult::new(Verdict::Close, candidates)
}
