//! Which of many regexes can match a text at all, from words they cannot match without.
//!
//! At load time each pattern's syntax tree is read for a set of literals one of which every match
//! must contain (`\b(\w+ ){0,2}(syarat\w*|sarat)( \w+){0,3}` needs "syarat" or "sarat"); all the
//! literals go into one Aho-Corasick automaton. A message is scanned once by it, and only the
//! patterns whose literals occur are run. The answer is exactly that of running every pattern: a
//! pattern is skipped only when it cannot match, and a pattern with no such literals (or one that
//! needs Unicode rules) is always run.
//!
//! Soundness of the literals: patterns are compiled case-insensitive, ASCII first
//! ([`super::loader::compile_pattern`]). In ASCII mode case folding is ASCII only, which is what the
//! automaton's ASCII case-insensitivity does too. A pattern that needs Unicode mode (a `.`, as the
//! job-offer triggers' `.{40,}`) is filtered by literals of ASCII letters and digits only, each also
//! spelt with the two non-ASCII letters Unicode folds to ASCII ones (`K` KELVIN SIGN for "k", `ſ` LONG
//! S for "s"), so a literal occurs in every text the pattern can match, however it is cased.

use aho_corasick::{AhoCorasick, MatchKind};
use regex_syntax::ParserBuilder;
use regex_syntax::hir::{Class, Hir, HirKind};

/// The most strings a finite piece of a pattern may expand to before it is no longer expanded.
const MAX_EXACT: usize = 24;
/// The most characters of a class that still count as alternatives ("[sz]", not "\w").
const MAX_CLASS: usize = 4;

/// The literals of many patterns, and which patterns need them.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    /// Literal `i` of the automaton belongs to the groups `owners[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    owners: Vec<u32>,
    /// A group is a set of literals one of which every match of its pattern contains; a pattern
    /// has one to [`MAX_GROUPS`] of them, numbered consecutively, and may match only when each
    /// of its groups has a literal in the text. `group_pattern[g]` is group `g`'s pattern.
    group_pattern: Vec<u32>,
    /// How many groups each pattern has (0: run on every text).
    pattern_groups: Vec<u32>,
    /// Patterns that are run on every text.
    always: Vec<u32>,
    patterns: usize,
}

/// The most literal groups a pattern is filtered by: its most selective one, and then others whose
/// literals are at least [`GROUP_MIN_LEN`] bytes long.
const MAX_GROUPS: usize = 6;
const GROUP_MIN_LEN: usize = 2;

impl Prefilter {
    pub fn new(patterns: &[&str]) -> Prefilter {
        let mut by_literal: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = Default::default();
        let mut always = Vec::new();
        let mut group_pattern: Vec<u32> = Vec::new();
        let mut pattern_groups: Vec<u32> = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            match required_sets(p) {
                Some(sets) => {
                    pattern_groups.push(sets.len() as u32);
                    for lits in sets {
                        let group = group_pattern.len() as u32;
                        group_pattern.push(i as u32);
                        for lit in lits {
                            let owners = by_literal.entry(lit).or_default();
                            if !owners.contains(&group) {
                                owners.push(group);
                            }
                        }
                    }
                }
                None => {
                    pattern_groups.push(0);
                    always.push(i as u32);
                }
            }
        }
        let mut starts = Vec::with_capacity(by_literal.len() + 1);
        let mut owners = Vec::new();
        let mut literals = Vec::with_capacity(by_literal.len());
        for (lit, groups) in by_literal {
            starts.push(owners.len() as u32);
            owners.extend(groups);
            literals.push(lit);
        }
        starts.push(owners.len() as u32);
        let automaton = if literals.is_empty() {
            None
        } else {
            match AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&literals)
            {
                Ok(ac) => Some(ac),
                Err(_) => {
                    // Cannot happen for a few thousand short literals; run everything if it does.
                    always = (0..patterns.len() as u32).collect();
                    starts = vec![0];
                    owners.clear();
                    None
                }
            }
        };
        owners.shrink_to_fit();
        group_pattern.shrink_to_fit();
        Prefilter {
            automaton,
            starts,
            owners,
            group_pattern,
            pattern_groups,
            always,
            patterns: patterns.len(),
        }
    }

    /// The patterns that may match `text`, ascending; every pattern that matches is among them.
    pub fn candidates(&self, text: &str) -> Vec<usize> {
        let mut seen = vec![0u64; self.patterns.div_ceil(64)];
        let mark = |seen: &mut Vec<u64>, p: u32| {
            if let Some(word) = seen.get_mut(p as usize / 64) {
                *word |= 1 << (p % 64);
            }
        };
        for &p in &self.always {
            mark(&mut seen, p);
        }
        if let Some(ac) = &self.automaton {
            let mut hit = vec![0u64; self.group_pattern.len().div_ceil(64)];
            for m in ac.find_overlapping_iter(text) {
                let lit = m.pattern().as_usize();
                let (Some(&from), Some(&to)) = (self.starts.get(lit), self.starts.get(lit + 1))
                else {
                    continue;
                };
                for &g in self.owners.get(from as usize..to as usize).unwrap_or(&[]) {
                    mark(&mut hit, g);
                }
            }
            // Groups in ascending order are patterns in ascending order, each pattern's groups
            // together: a pattern is a candidate when all of its groups were hit.
            let mut current: Option<(u32, u32)> = None;
            for (w, &word) in hit.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let g = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let Some(&p) = self.group_pattern.get(g) else {
                        continue;
                    };
                    let n = match current {
                        Some((q, n)) if q == p => n + 1,
                        _ => 1,
                    };
                    current = Some((p, n));
                    if self.pattern_groups.get(p as usize) == Some(&n) {
                        mark(&mut seen, p);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (w, &word) in seen.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        out
    }

    /// How many patterns have no literals and are run on every text.
    pub fn unfiltered(&self) -> usize {
        self.always.len()
    }

    /// How many of the first `n` patterns have no literals and are run on every text.
    pub fn unfiltered_below(&self, n: usize) -> usize {
        self.always.iter().filter(|&&p| (p as usize) < n).count()
    }

    /// The heap the automaton and the tables take, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.automaton.as_ref().map_or(0, AhoCorasick::memory_usage)
            + 4 * (self.starts.capacity()
                + self.owners.capacity()
                + self.group_pattern.capacity()
                + self.pattern_groups.capacity()
                + self.always.capacity())
    }
}

/// The literal sets a pattern is filtered by ([`MAX_GROUPS`]): every match contains a literal of
/// each. The first is [`required_literals`]; the others are further pieces of a top-level
/// concatenation ("(kerja|gawe) ... (taiwan|hong ?kong)" needs a word of both), only with literals
/// of at least [`GROUP_MIN_LEN`] bytes (a single character, such as the space between two words,
/// occurs in almost every message and filters nothing). `None` when the pattern has no required
/// literals or needs Unicode mode.
pub fn required_sets(pattern: &str) -> Option<Vec<Vec<Vec<u8>>>> {
    let first = required_literals(pattern)?;
    let mut sets = vec![first];
    let (hir, unicode) = parse_for_literals(pattern)?;
    for set in top_level_sets(&hir) {
        if sets.len() >= MAX_GROUPS {
            break;
        }
        if set.is_empty() || set.iter().any(|l| l.len() < GROUP_MIN_LEN) {
            continue;
        }
        let Some(mut set) = as_searched(set, unicode) else {
            continue;
        };
        set.sort();
        set.dedup();
        let known = sets.iter().any(|s| {
            let mut s = s.clone();
            s.sort();
            s == set
        });
        if !known {
            sets.push(set);
        }
    }
    Some(sets)
}

/// Every literal set of the pattern's outermost concatenation (through captures and repetitions of
/// at least one): each is required on its own.
fn top_level_sets(hir: &Hir) -> Vec<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Capture(cap) => top_level_sets(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => top_level_sets(&rep.sub),
        HirKind::Concat(parts) => concat_parts(parts).0,
        _ => Vec::new(),
    }
}

/// Literals (lower case) one of which every match of `pattern` contains; `None` when there is no
/// such set, or the pattern needs Unicode mode.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let (hir, unicode) = parse_for_literals(pattern)?;
    let info = analyse(&hir);
    as_searched(best(info.exact, info.required)?, unicode)
}

/// The pattern's syntax tree, case-sensitive (the literals as written), and whether the pattern is
/// compiled in Unicode mode: exactly when it does not parse in ASCII mode.
fn parse_for_literals(pattern: &str) -> Option<(Hir, bool)> {
    let parse = |unicode: bool, case_insensitive: bool| {
        ParserBuilder::new()
            .unicode(unicode)
            .utf8(true)
            .case_insensitive(case_insensitive)
            .build()
            .parse(pattern)
            .ok()
    };
    if parse(false, true).is_some() {
        return Some((parse(false, false)?, false));
    }
    parse(true, true)?;
    Some((parse(true, false)?, true))
}

/// A literal set as the automaton (ASCII case-insensitive) looks for it: lower case; for a pattern
/// in Unicode mode, only when every literal is ASCII, and with each "k" and "s" also spelt as the
/// non-ASCII letter that folds to it (`None` past [`MAX_SPELLINGS`]).
fn as_searched(set: Vec<Vec<u8>>, unicode: bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(set.len());
    for mut lit in set {
        lit.make_ascii_lowercase();
        if !unicode {
            out.push(lit);
            continue;
        }
        if !lit.is_ascii() {
            return None;
        }
        let mut spellings: Vec<Vec<u8>> = vec![Vec::new()];
        for &b in &lit {
            let other: Option<&str> = match b {
                b'k' => Some("\u{212A}"),
                b's' => Some("\u{17F}"),
                _ => None,
            };
            let mut next = Vec::with_capacity(spellings.len() * 2);
            for s in spellings {
                if let Some(other) = other {
                    let mut t = s.clone();
                    t.extend_from_slice(other.as_bytes());
                    next.push(t);
                }
                let mut t = s;
                t.push(b);
                next.push(t);
            }
            spellings = next;
            if out.len() + spellings.len() > MAX_SPELLINGS {
                return None;
            }
        }
        out.extend(spellings);
    }
    Some(out)
}

/// The most literals a set of a Unicode-mode pattern may have with its other spellings.
const MAX_SPELLINGS: usize = 128;

/// What is known of a piece of a pattern: every string it matches (when few), and a set of literals
/// one of which each of its matches contains.
struct Info {
    exact: Option<Vec<Vec<u8>>>,
    required: Option<Vec<Vec<u8>>>,
}

fn analyse(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![Vec::new()]),
            required: None,
        },
        HirKind::Literal(lit) => Info {
            exact: Some(vec![lit.0.to_vec()]),
            required: None,
        },
        HirKind::Class(class) => Info {
            exact: class_strings(class),
            required: None,
        },
        HirKind::Capture(cap) => analyse(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = analyse(&rep.sub);
            if rep.min == 0 {
                // `x?` is `x` or nothing; longer optional repetitions say nothing.
                let exact = match (rep.max, sub.exact) {
                    (Some(1), Some(mut e)) => {
                        if !e.iter().any(Vec::is_empty) {
                            e.push(Vec::new());
                        }
                        Some(e)
                    }
                    _ => None,
                };
                return Info {
                    exact,
                    required: None,
                };
            }
            let exact = match (rep.min, rep.max, &sub.exact) {
                (1, Some(1), Some(e)) => Some(e.clone()),
                _ => None,
            };
            Info {
                exact,
                required: best(sub.exact, sub.required),
            }
        }
        HirKind::Concat(parts) => {
            let (candidates, exact) = concat_parts(parts);
            let required = candidates
                .into_iter()
                .fold(None, |acc, c| better(acc, Some(c)));
            Info { exact, required }
        }
        HirKind::Alternation(alts) => {
            let infos: Vec<Info> = alts.iter().map(analyse).collect();
            let exact = infos
                .iter()
                .try_fold(Vec::new(), |mut acc: Vec<Vec<u8>>, i| {
                    for s in i.exact.as_ref()? {
                        if !acc.contains(s) {
                            acc.push(s.clone());
                        }
                    }
                    (acc.len() <= MAX_EXACT).then_some(acc)
                });
            let mut required: Option<Vec<Vec<u8>>> = Some(Vec::new());
            for info in infos {
                let Some(own) = best(info.exact, info.required) else {
                    required = None;
                    break;
                };
                if let Some(r) = required.as_mut() {
                    for s in own {
                        if !r.contains(&s) {
                            r.push(s);
                        }
                    }
                }
            }
            Info { exact, required }
        }
    }
}

/// The literal sets of a concatenation, each of which every match contains one of (runs of pieces
/// with few strings, joined; the required set of each other piece), and every string it matches
/// when few.
#[allow(clippy::type_complexity)]
fn concat_parts(parts: &[Hir]) -> (Vec<Vec<Vec<u8>>>, Option<Vec<Vec<u8>>>) {
    let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut run: Option<Vec<Vec<u8>>> = Some(vec![Vec::new()]);
    let mut whole = true;
    for part in parts {
        let info = analyse(part);
        match info.exact {
            Some(e) => {
                let joined = run.as_ref().and_then(|r| product(r, &e));
                run = match joined {
                    Some(j) => Some(j),
                    None => {
                        // Too many strings: what came before is one candidate, and the run
                        // starts again from this piece.
                        if let Some(r) = run.take() {
                            candidates.push(r);
                        }
                        whole = false;
                        Some(e)
                    }
                };
            }
            None => {
                whole = false;
                if let Some(r) = run.take() {
                    candidates.push(r);
                }
                if let Some(req) = info.required {
                    candidates.push(req);
                }
                run = Some(vec![Vec::new()]);
            }
        }
    }
    let exact = if whole { run.clone() } else { None };
    if let Some(r) = run {
        candidates.push(r);
    }
    (candidates, exact)
}

/// The strings of a small class, one character each.
fn class_strings(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match class {
        Class::Bytes(bytes) => {
            for r in bytes.ranges() {
                for b in r.start()..=r.end() {
                    out.push(vec![b]);
                    if out.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(chars) => {
            for r in chars.ranges() {
                for c in r.start()..=r.end() {
                    let mut buf = [0u8; 4];
                    out.push(c.encode_utf8(&mut buf).as_bytes().to_vec());
                    if out.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

/// Every string of `a` followed by every string of `b`; `None` when that is too many.
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_EXACT {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Some(out)
}

/// The better of an exact set and a required set, as a required set.
fn best(exact: Option<Vec<Vec<u8>>>, required: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    better(exact, required)
}

/// The more selective of two literal sets: no empty literal, then the longer shortest literal, then
/// fewer literals.
fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let usable =
        |s: Option<Vec<Vec<u8>>>| s.filter(|s| !s.is_empty() && s.iter().all(|l| !l.is_empty()));
    match (usable(a), usable(b)) {
        (Some(a), Some(b)) => {
            let key = |s: &Vec<Vec<u8>>| {
                (
                    s.iter().map(Vec::len).min().unwrap_or(0),
                    std::cmp::Reverse(s.len()),
                )
            };
            Some(if key(&b) > key(&a) { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|v| {
            let mut v: Vec<String> = v
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect();
            v.sort();
            v
        })
    }

    #[test]
    fn the_words_a_pattern_needs_are_found() {
        assert_eq!(
            lits(r"\b(\w+ ){0,2}(syarat\w*|persyaratan\w*|sarat)( \w+){0,3}"),
            Some(vec!["persyaratan".into(), "sarat".into(), "syarat".into()])
        );
        assert_eq!(
            lits(r"\b(kerja|gawe) (di|ke|neng) (taiwan|hong ?kong)\b").map(|v| v.len()),
            Some(18)
        );
        // Upper case in a pattern is matched on lower-case text.
        assert_eq!(lits(r"\bSKCK\b"), Some(vec!["skck".into()]));
        // Nothing required: run always.
        assert_eq!(lits(r"^\d+$"), None);
        assert_eq!(lits(r"\b(\w+ )?(a|\w+)"), None);
        // Unicode mode (a `.`): the literals, "k" and "s" also as the letters that fold to them.
        assert_eq!(lits(r"tolong.*"), Some(vec!["tolong".into()]));
        assert_eq!(
            lits(r"\b(loker|gaji)\b.{40,}"),
            Some(vec!["gaji".into(), "loker".into(), "lo\u{212A}er".into()])
        );
        // A non-ASCII literal in Unicode mode: folded by Unicode rules, so not filtered.
        assert_eq!(lits(r"café.*"), None);
    }

    /// What [`as_searched`] relies on: in Unicode mode, case-insensitive, an ASCII letter matches its
    /// two ASCII cases and, for "k" and "s" only, one more letter (KELVIN SIGN, LONG S); a digit only
    /// itself.
    #[test]
    fn only_k_and_s_fold_to_a_non_ascii_letter() {
        for c in ('a'..='z').chain('0'..='9') {
            let hir = ParserBuilder::new()
                .unicode(true)
                .case_insensitive(true)
                .build()
                .parse(&c.to_string())
                .unwrap();
            let mut chars: Vec<char> = match hir.kind() {
                HirKind::Class(Class::Unicode(class)) => class
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .collect(),
                HirKind::Literal(_) => vec![c],
                other => panic!("{c}: {other:?}"),
            };
            chars.sort();
            let mut want = vec![c, c.to_ascii_uppercase()];
            match c {
                'k' => want.push('\u{212A}'),
                's' => want.push('\u{17F}'),
                _ => {}
            }
            want.sort();
            want.dedup();
            assert_eq!(chars, want, "{c}");
        }
    }

    #[test]
    fn only_patterns_whose_words_occur_are_candidates() {
        let f = Prefilter::new(&[r"\bsyarat\w*", r"\b(gaji|upah) (belum|blm)\b", r"^\d+$"]);
        assert_eq!(f.unfiltered(), 1);
        assert_eq!(f.candidates("syaratnya apa"), vec![0, 2]);
        assert_eq!(f.candidates("GAJI belum dibayar"), vec![1, 2]);
        assert_eq!(f.candidates("halo"), vec![2]);
    }

    #[test]
    fn a_pattern_that_needs_two_words_runs_only_when_both_occur() {
        let f = Prefilter::new(&[r"\b(kerja|gawe)\w* (di|ke|neng) \w+ (taiwan|hong ?kong)\b"]);
        assert_eq!(f.candidates("kerja di pabrik taiwan"), vec![0]);
        assert_eq!(f.candidates("gawe neng pabrik hongkong"), vec![0]);
        // One of the two words is not enough.
        assert!(f.candidates("syarat kerja di pabrik").is_empty());
        assert!(f.candidates("biaya ke taiwan").is_empty());
    }

    #[test]
    fn the_candidates_are_never_fewer_than_the_matches() {
        let patterns = [
            r"\b(\w+ ){0,2}(syarat\w*|persyaratan\w*|sarat)( \w+){0,3}",
            r"\b(bisa|boleh|iso|can i)( \w+){0,3} (kalau|kalo|nek|yen|jika|if) (sudah |wis )?(tua|punya anak|bertato)\b",
            r"\b(di ?sekap|di ?kurung)\b",
            r"\bg[ae]ji\w* (ga|gak|tidak) (di)?bayar",
            r"\b\d+ ?(jt|juta)\b",
            r"\b(kerja|gawe)\w* (di|ke|neng) \w+ (taiwan|hong ?kong)\b",
            r"\b(anak|adik)\w* (sy|saya) (di ?sekap|di ?kurung|disiksa)\b",
            r"\b(lowongan|loker|dibutuhkan)\b.*\b(gaji|salary|upah)\b.{5,}",
            r"\b(salary|gaji)\b.{3,}\b(loker|dicari)\b",
            r"kasih.*",
        ];
        let f = Prefilter::new(&patterns);
        let texts = [
            "syaratnya apa min",
            "bisa ga kalau wis punya anak",
            "anak saya di sekap majikan",
            "gajinya ga dibayar 3 bulan",
            "pt minta 10 jt",
            "kerjanya di pabrik taiwan",
            "gawe neng pabrik hong kong",
            "kerja ke taiwan",
            "adiknya sy di kurung majikan",
            "adik sy disiksa",
            "halo",
            "loker pabrik gaji 5jt nego ya",
            "lo\u{212A}er pabrik \u{17F}alary 5jt nego",
            "LOKER pabrik SALARY 5jt nego",
            "ſalary é loker",
            "kasih",
            "\u{212A}a\u{17F}ih",
            "KASIH",
        ];
        for text in texts {
            let cands = f.candidates(text);
            for (i, p) in patterns.iter().enumerate() {
                // Compiled as the dialogs' patterns are: ASCII mode, else Unicode.
                let re = super::super::pattern::Pattern::new(p).unwrap();
                if re.is_match(text) {
                    assert!(cands.contains(&i), "{p} on {text}");
                }
            }
        }
    }
}
