//! A dialog pattern (trigger, emergency pattern, `ignore` phrase, a question's `pattern:`/`except:`)
//! compiled for what the runtime asks of it: does it match, and where. The same syntax and matches as
//! `regex::Regex` built by [`super::loader::compile_pattern`] (case-insensitive, ASCII classes first,
//! Unicode when the pattern needs it, leftmost-first), but built with `regex_automata`'s meta engine
//! directly, so the parts no dialog search uses are left out (issue 16):
//!
//! - no one-pass DFA (the meta engine runs it only for anchored searches with capture groups; the
//!   runtime asks for whole matches only),
//! - no literal prefilter inside each regex (a Teddy or Aho-Corasick searcher per pattern, about 3.5 MB
//!   over the ~520 patterns; [`super::prefilter::Prefilter`] already runs a pattern only when its
//!   required words occur, and messages are short),
//! - only the implicit group of the whole match (no capture slots in the NFA).
//!
//! The compiled patterns went from ~10.4 to ~5.4 MB (BENCHMARKS.md, footprint). A clone gets a cache
//! pool of its own, like `regex::Regex` ([`super::model::PatternIndex::with_own_caches`]).

use std::borrow::Cow;
use std::sync::Arc;

use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Input, meta};

/// Compile-time limit of one pattern's automaton, as `compile_pattern`'s `size_limit`.
const SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct Pattern {
    re: meta::Regex,
    source: Arc<str>,
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
    /// Compiles `pattern` ASCII first (`\w`, `\b` stay within the DFA engines), else with Unicode;
    /// the error is the one `regex::Regex` would report (its last line names the problem).
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let build = |unicode: bool| {
            meta::Regex::builder()
                .syntax(
                    syntax::Config::new()
                        .case_insensitive(true)
                        .unicode(unicode),
                )
                .configure(
                    meta::Config::new()
                        .nfa_size_limit(Some(SIZE_LIMIT))
                        .onepass(false)
                        .auto_prefilter(false)
                        .which_captures(WhichCaptures::Implicit),
                )
                .build(pattern)
                .map_err(Box::new)
        };
        match build(false).or_else(|_| build(true)) {
            Ok(re) => Ok(Pattern {
                re,
                source: Arc::from(pattern),
            }),
            Err(e) => Err(match (e.syntax_error(), e.size_limit()) {
                (Some(syntax), _) => syntax.to_string(),
                (None, Some(limit)) => {
                    format!("Compiled regex exceeds size limit of {limit} bytes.")
                }
                (None, None) => e.to_string(),
            }),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text)
    }

    /// Where the first match ends (that of [`Pattern::find`]), by the forward search alone: no
    /// reverse search for its start.
    pub fn end(&self, text: &str) -> Option<usize> {
        self.re.search_half(&Input::new(text)).map(|h| h.offset())
    }

    pub fn find<'t>(&self, text: &'t str) -> Option<Match<'t>> {
        self.find_at(text, 0)
    }

    /// The first match starting at or after `start`, looking behind `start` for `\b` (as
    /// `regex::Regex::find_at`).
    pub fn find_at<'t>(&self, text: &'t str, start: usize) -> Option<Match<'t>> {
        let m = self.re.find(Input::new(text).range(start..))?;
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
        for m in self.re.find_iter(text) {
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

    #[test]
    fn errors_name_the_problem() {
        let e = Pattern::new("(unclosed").unwrap_err();
        let theirs = compile_pattern("(unclosed").unwrap_err().to_string();
        assert_eq!(e.lines().last(), theirs.lines().last());
        assert!(e.contains("unclosed group"), "{e}");
    }
}
