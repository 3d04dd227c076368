//! A dialog pattern (trigger, emergency pattern, `ignore` phrase, a question's `pattern:`/`except:`)
//! compiled for what the runtime asks of it: does it match, and where. The same syntax and matches as
//! `regex::Regex` built by [`super::loader::compile_pattern`] (case-insensitive, ASCII classes first,
//! Unicode when the pattern needs it, leftmost-first), but built from `regex_automata`'s parts
//! directly, so the parts no dialog search needs are left out (issue 16):
//!
//! - **one automaton, forward only.** `regex::Regex` (and the meta engine) compile each pattern twice,
//!   forwards and backwards, and find a match's start by a reverse search from its end. Here the
//!   forward lazy DFA finds the end, and the start is the first position from which an anchored
//!   search of the same DFA matches at all (the leftmost start, by definition). Dialog texts are
//!   short and a match is rare (the prefilter runs a pattern only when its words occur), so the few
//!   anchored tries cost less than a second automaton and its cache for every pattern: the compiled
//!   patterns went from ≈ 9 to ≈ 5 MB of heap (BENCHMARKS.md, footprint).
//! - no one-pass DFA, no fully compiled DFAs for small patterns, no literal prefilter inside each
//!   regex ([`super::prefilter::Prefilter`] already runs a pattern only when its required words
//!   occur), only the implicit group of the whole match.
//! - the PikeVM (which finds start and end in one pass, slowly) only where the lazy DFA cannot go:
//!   a Unicode `\b` meeting a non-ASCII byte, or a lazy DFA that gave up on a thrashing cache.
//!
//! A clone gets a cache pool of its own, like `regex::Regex`
//! ([`super::model::PatternIndex::with_own_caches`]).
//!
//! **The caches' sum has a budget** ([`set_cache_budget`], `dialogs.match_cache_mb`). Each lazy DFA
//! keeps the states its searches discovered, and on varied traffic the ~600 patterns' caches grew to
//! ≈ 29 MB in all (heaptrack, BENCHMARKS.md "Stop 17"); a cap per pattern does not bound the sum.
//! Every search counts its cache's growth into one process-wide total; when the total passes the
//! budget, a new generation starts and each cache of an older one is dropped (and started afresh)
//! the next time its pattern searches. The matches never change, only how much is kept.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};

use regex_automata::hybrid::dfa::{self as lazy, DFA};
use regex_automata::nfa::thompson::{self, NFA, WhichCaptures, pikevm::PikeVM};
use regex_automata::util::iter::Searcher;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, Match as Span, MatchError};

/// Compile-time limit of one pattern's automaton, as `compile_pattern`'s `size_limit`.
const SIZE_LIMIT: usize = 1 << 20;

/// The budget of all patterns' match caches together unless configured ([`set_cache_budget`]).
pub const DEFAULT_CACHE_BUDGET_MB: usize = 8;

/// Bytes held by the current generation's caches (signed: a count that races a new generation may
/// briefly go below zero).
static CACHE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// The caches' generation: a cache made in an older one is dropped at its next use.
static CACHE_GENERATION: AtomicU64 = AtomicU64::new(0);
static CACHE_BUDGET: AtomicUsize = AtomicUsize::new(DEFAULT_CACHE_BUDGET_MB << 20);

/// Sets the budget of all patterns' match caches together, in bytes (0: no budget).
pub fn set_cache_budget(bytes: usize) {
    CACHE_BUDGET.store(bytes, Ordering::Relaxed);
}

/// How many times the caches were started afresh because their sum passed the budget.
pub fn cache_generations() -> u64 {
    CACHE_GENERATION.load(Ordering::Relaxed)
}

/// The compiled automata, shared by clones.
#[derive(Debug)]
struct Engines {
    /// `None` when the pattern cannot run as a lazy DFA at all (then the PikeVM does every search).
    dfa: Option<DFA>,
    pikevm: PikeVM,
    /// Where an anchored search cannot even start ([`FirstBytes`]), worked out on first need.
    first: std::sync::OnceLock<FirstBytes>,
}

/// For each kind of byte before a position (none, `\n`, `\r`, a word byte, another byte: what
/// decides the DFA's start state), the bytes an anchored match can begin with: the start search
/// skips every position whose byte leads straight to the dead state, most of a long text, without
/// the cost of a search.
#[derive(Debug)]
struct FirstBytes([[u64; 4]; 5]);

impl FirstBytes {
    /// Everything possible: what is assumed where the lazy DFA cannot say.
    const ANY: FirstBytes = FirstBytes([[u64::MAX; 4]; 5]);

    fn of(dfa: &DFA) -> FirstBytes {
        let mut cache = dfa.create_cache();
        let mut sets = [[0u64; 4]; 5];
        for (set, behind) in sets.iter_mut().zip(BEHIND) {
            let config = regex_automata::util::start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(behind);
            let Ok(start) = dfa.start_state(&mut cache, &config) else {
                *set = [u64::MAX; 4];
                continue;
            };
            for byte in 0..=255u8 {
                let possible = match dfa.next_state(&mut cache, start, byte) {
                    Ok(next) => !next.is_dead(),
                    Err(_) => true,
                };
                if possible {
                    set[usize::from(byte / 64)] |= 1 << (byte % 64);
                }
            }
        }
        FirstBytes(sets)
    }

    /// Whether an anchored match can start at `at` of `text` (always at its end: the empty match).
    fn can_start(&self, text: &[u8], at: usize) -> bool {
        let Some(&byte) = text.get(at) else {
            return true;
        };
        let kind = match at.checked_sub(1).and_then(|i| text.get(i)) {
            // A Unicode `\b` sees the letter a non-ASCII byte belongs to: no shortcut there.
            Some(b) if !b.is_ascii() => return true,
            None => 0,
            Some(b'\n') => 1,
            Some(b'\r') => 2,
            Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => 3,
            Some(_) => 4,
        };
        self.0[kind][usize::from(byte / 64)] & (1 << (byte % 64)) != 0
    }
}

/// One byte before a position of each kind [`FirstBytes::can_start`] tells apart.
const BEHIND: [Option<u8>; 5] = [None, Some(b'\n'), Some(b'\r'), Some(b'a'), Some(b' ')];

/// One thread's search state for one pattern; the PikeVM's only once a search needed it.
#[derive(Debug)]
struct Caches {
    dfa: Option<lazy::Cache>,
    pikevm: Option<thompson::pikevm::Cache>,
    /// The generation this cache was made in ([`CACHE_GENERATION`]).
    generation: u64,
    /// The bytes of this cache already counted in [`CACHE_BYTES`].
    counted: usize,
}

impl Caches {
    /// Empty caches of `engines`, of the caches' `generation`.
    fn fresh(engines: &Engines, generation: u64) -> Caches {
        Caches {
            dfa: engines.dfa.as_ref().map(DFA::create_cache),
            pikevm: None,
            generation,
            counted: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.dfa.as_ref().map_or(0, lazy::Cache::memory_usage)
            + self
                .pikevm
                .as_ref()
                .map_or(0, thompson::pikevm::Cache::memory_usage)
    }
}

type MakeCaches =
    Box<dyn Fn() -> Caches + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

pub struct Pattern {
    engines: Arc<Engines>,
    caches: Pool<Caches, MakeCaches>,
    source: Arc<str>,
}

impl Clone for Pattern {
    /// The same automata with a cache pool of its own.
    fn clone(&self) -> Pattern {
        Pattern {
            engines: Arc::clone(&self.engines),
            caches: pool_for(&self.engines),
            source: Arc::clone(&self.source),
        }
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

fn pool_for(engines: &Arc<Engines>) -> Pool<Caches, MakeCaches> {
    let engines = Arc::clone(engines);
    Pool::new(Box::new(move || {
        Caches::fresh(&engines, CACHE_GENERATION.load(Ordering::Relaxed))
    }))
}

/// Where a pattern matched in a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Match<'t> {
    pub fn start(&self) -> usize {
        self.start
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn as_str(&self) -> &'t str {
        self.text.get(self.start..self.end).unwrap_or("")
    }
}

impl Pattern {
    /// Compiles `pattern` ASCII first (`\w`, `\b` stay within the lazy DFA), else with Unicode; the
    /// error is the one `regex::Regex` would report (its last line names the problem).
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let nfa = compile(pattern, false).or_else(|_| compile(pattern, true))?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .unicode_word_boundary(true)
                    // As the meta engine: give up (to the PikeVM) on a cache that keeps thrashing.
                    .minimum_cache_clear_count(Some(3))
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_from_nfa(nfa.clone())
            .ok();
        let pikevm = PikeVM::new_from_nfa(nfa).map_err(|e| e.to_string())?;
        let engines = Arc::new(Engines {
            dfa,
            pikevm,
            first: std::sync::OnceLock::new(),
        });
        Ok(Pattern {
            caches: pool_for(&engines),
            engines,
            source: Arc::from(pattern),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        let input = Input::new(text).earliest(true);
        self.with_caches(|caches| {
            if let Some(found) = self.try_end(caches, &input) {
                return found.is_some();
            }
            self.pikevm_search(caches, &input).is_some()
        })
    }

    /// Runs `search` with this thread's caches of this pattern: made afresh first when they belong to
    /// an older generation, their growth counted after (see the module's "budget").
    fn with_caches<T>(&self, search: impl FnOnce(&mut Caches) -> T) -> T {
        let mut caches = self.caches.get();
        let generation = CACHE_GENERATION.load(Ordering::Relaxed);
        if caches.generation != generation {
            // Bytes of an older generation were taken out of the count when it ended.
            *caches = Caches::fresh(&self.engines, generation);
        }
        let out = search(&mut caches);
        let now = caches.bytes();
        if now != caches.counted {
            let grew = now as isize - caches.counted as isize;
            caches.counted = now;
            let total = CACHE_BYTES.fetch_add(grew, Ordering::Relaxed) + grew;
            let budget = CACHE_BUDGET.load(Ordering::Relaxed);
            if budget > 0 && total > budget as isize {
                // A new generation: every cache is dropped at its next use, this one now.
                CACHE_BYTES.store(0, Ordering::Relaxed);
                let next = CACHE_GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
                *caches = Caches::fresh(&self.engines, next);
            }
        }
        out
    }

    /// Where the first match ends (that of [`Pattern::find`]), by the forward search alone: none
    /// of the anchored tries that find its start.
    pub fn end(&self, text: &str) -> Option<usize> {
        let input = Input::new(text);
        self.with_caches(|caches| match self.try_end(caches, &input) {
            Some(found) => found,
            None => self.pikevm_search(caches, &input).map(|m| m.end()),
        })
    }

    pub fn find<'t>(&self, text: &'t str) -> Option<Match<'t>> {
        self.find_at(text, 0)
    }

    /// The first match starting at or after `start`, looking behind `start` for `\b` (as
    /// `regex::Regex::find_at`).
    pub fn find_at<'t>(&self, text: &'t str, start: usize) -> Option<Match<'t>> {
        let m = self.search(&Input::new(text).range(start..))?;
        Some(Match {
            text,
            start: m.start(),
            end: m.end(),
        })
    }

    /// Every non-overlapping match replaced by `with` (as `regex::Regex::replace_all` with a literal
    /// replacement); borrowed when nothing matches.
    pub fn replace_all<'t>(&self, text: &'t str, with: &str) -> Cow<'t, str> {
        let mut out = String::new();
        let mut last = 0;
        let mut searcher = Searcher::new(Input::new(text));
        while let Some(m) = searcher.advance(|input| Ok::<_, MatchError>(self.search(input))) {
            out.push_str(text.get(last..m.start()).unwrap_or(""));
            out.push_str(with);
            last = m.end();
        }
        if last == 0 && out.is_empty() {
            return Cow::Borrowed(text);
        }
        out.push_str(text.get(last..).unwrap_or(""));
        Cow::Owned(out)
    }

    /// The leftmost-first match within `input`'s span: the end from an unanchored forward search,
    /// the start from anchored searches at each position up to it (the first that matches at all
    /// is the leftmost start, and its leftmost-first end is that end).
    fn search(&self, input: &Input<'_>) -> Option<Span> {
        self.with_caches(|caches| self.search_with(caches, input))
    }

    fn search_with(&self, caches: &mut Caches, input: &Input<'_>) -> Option<Span> {
        let Some(found) = self.try_end(caches, input) else {
            return self.pikevm_search(caches, input);
        };
        let end = found?;
        let first = self.engines.first.get_or_init(|| match &self.engines.dfa {
            Some(dfa) => FirstBytes::of(dfa),
            None => FirstBytes::ANY,
        });
        let text = input.haystack();
        for at in input.start()..=end {
            if !first.can_start(text, at) {
                continue;
            }
            let anchored = input
                .clone()
                .range(at..)
                .anchored(Anchored::Yes)
                .earliest(true);
            match self.try_end(caches, &anchored) {
                Some(Some(_)) => return Some(Span::must(0, at..end)),
                Some(None) => continue,
                None => return self.pikevm_search(caches, input),
            }
        }
        // Not reached: the forward search found a match ending at `end`, so one starts by then.
        self.pikevm_search(caches, input)
    }

    /// The lazy DFA's end of the leftmost-first match (`Some(None)`: no match), or `None` when it
    /// cannot say (no lazy DFA, a Unicode `\b` at a non-ASCII byte, a cache that gave up).
    fn try_end(&self, caches: &mut Caches, input: &Input<'_>) -> Option<Option<usize>> {
        let dfa = self.engines.dfa.as_ref()?;
        let cache = caches.dfa.as_mut()?;
        match dfa.try_search_fwd(cache, input) {
            Ok(found) => Some(found.map(|m| m.offset())),
            Err(_) => None,
        }
    }

    fn pikevm_search(&self, caches: &mut Caches, input: &Input<'_>) -> Option<Span> {
        let pikevm = &self.engines.pikevm;
        let cache = caches.pikevm.get_or_insert_with(|| pikevm.create_cache());
        pikevm.find(cache, input.clone())
    }
}

/// The forward NFA of `pattern`, case-insensitive, ASCII (`unicode == false`) or Unicode classes.
fn compile(pattern: &str, unicode: bool) -> Result<NFA, String> {
    let config = syntax::Config::new()
        .case_insensitive(true)
        .unicode(unicode);
    let hir = syntax::parse_with(pattern, &config).map_err(|e| e.to_string())?;
    thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .nfa_size_limit(Some(SIZE_LIMIT))
                .shrink(false)
                .which_captures(WhichCaptures::Implicit),
        )
        .build_from_hir(&hir)
        .map_err(|e| match e.size_limit() {
            Some(limit) => format!("Compiled regex exceeds size limit of {limit} bytes."),
            None => e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::dialog::loader::compile_pattern;

    /// The same matches as the `regex::Regex` the loader used to build, on the kinds of pattern the
    /// dialogs hold (word windows, alternations, anchors, Unicode-only classes, empty matches).
    #[test]
    fn matches_like_the_regex_crate() {
        let patterns = [
            r"\b(anak|bojo)\w*( \w+){0,9} (sakit|hilang)\b",
            r"\bcek( \w+)? (perusahaan|pt|agen)\b",
            "gaji.belum",
            r"^\d+$",
            r"^\w+ kerja$",
            r"(?-i)\bPT\b",
            r"\b(mati|meninggal)\b",
            r"x*",
            r"[^a]+",
            r"\bbéé\b",
            r"\w+é",
            r"\b(\w+ ){0,3}(gaji|upah)( \w+){0,2}",
            r"(a|ab)(c|bcd)",
            r"\bpt\b|\bpt sinar\b",
            r"(?u:\B)x",
            r"(?u:\b)émile\b",
            r"^\s*(ya|iya)\s*$",
        ];
        let texts = [
            "anak saya di malaysia sakit parah",
            "Cek Perusahaan PT sinar jaya",
            "gaji belum dibayar, gaji-belum",
            "123",
            "mau kerja",
            "pt PT",
            "hp saya mati, dia meninggal",
            "",
            "aaa béé a",
            "ibu kula sakit wonten taiwan",
            "bÉé béé, Émile",
            "saya kerja gaji belum dibayar tiga bulan, upah lembur juga",
            "abcd ab abc",
            "🙏 pt sinar jaya ✅",
            "éx ax x éémile",
            " iya \n",
        ];
        for p in patterns {
            let ours = Pattern::new(p).unwrap();
            let theirs = compile_pattern(p).unwrap();
            assert_eq!(ours.as_str(), p);
            for t in texts {
                assert_eq!(ours.is_match(t), theirs.is_match(t), "{p} on {t:?}");
                for start in 0..=t.len() {
                    if !t.is_char_boundary(start) {
                        continue;
                    }
                    let a = ours
                        .find_at(t, start)
                        .map(|m| (m.start(), m.end(), m.as_str()));
                    let b = theirs
                        .find_at(t, start)
                        .map(|m| (m.start(), m.end(), m.as_str()));
                    assert_eq!(a, b, "{p} on {t:?} from {start}");
                }
                assert_eq!(ours.end(t), theirs.find(t).map(|m| m.end()), "{p} on {t:?}");
                assert_eq!(
                    ours.replace_all(t, " "),
                    theirs.replace_all(t, " "),
                    "{p} on {t:?}"
                );
            }
        }
    }

    /// With a budget every search passes, the caches start afresh all the time and every answer
    /// stays the regex crate's. (The budget is process-wide: other tests running meanwhile only see
    /// their caches renewed.)
    #[test]
    fn a_cache_budget_changes_no_match() {
        struct Restore;
        impl Drop for Restore {
            fn drop(&mut self) {
                set_cache_budget(DEFAULT_CACHE_BUDGET_MB << 20);
            }
        }
        let _restore = Restore;
        set_cache_budget(1);
        let before = cache_generations();
        let p = r"\b(anak|bojo)\w*( \w+){0,9} (sakit|hilang|dipukul)\b";
        let ours = Pattern::new(p).unwrap();
        let theirs = compile_pattern(p).unwrap();
        let texts = [
            "anak saya di malaysia sakit parah",
            "bojoku neng taiwan hilang kabare",
            "anak kula dipukul majikan",
            "hp anak saya mati",
            "",
        ];
        for _ in 0..3 {
            for t in texts {
                assert_eq!(ours.is_match(t), theirs.is_match(t), "{t:?}");
                let a = ours.find(t).map(|m| (m.start(), m.end()));
                let b = theirs.find(t).map(|m| (m.start(), m.end()));
                assert_eq!(a, b, "{t:?}");
                assert_eq!(ours.end(t), theirs.find(t).map(|m| m.end()), "{t:?}");
            }
        }
        assert!(
            cache_generations() > before,
            "the budget never started the caches afresh"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Pattern::new("(unclosed").unwrap_err();
        let theirs = compile_pattern("(unclosed").unwrap_err().to_string();
        assert_eq!(e.lines().last(), theirs.lines().last());
        assert!(e.contains("unclosed group"), "{e}");
    }
}
