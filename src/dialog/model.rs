//! The checked, in-memory form of the dialog files: a [`Bot`] of [`Flow`]s of [`Node`]s.
//!
//! Built only by `loader`, which guarantees what the runtime relies on: every target exists, every
//! regex compiles, every action is registered with a target for each outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::pattern::{Match, Pattern};

use super::io::{Lang, Position};
use super::normalize::Lexicon;
use super::prefilter::Prefilter;
use crate::time::Date;

/// Text in several languages; `id` is always present. Also the type of every other multi-language
/// word list (case texts, contacts, agency labels), so the fallback rule lives in one place.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Text(pub BTreeMap<Lang, String>);

impl Text {
    /// The text in `lang`, falling back to Bahasa Indonesia.
    pub fn get(&self, lang: Lang) -> &str {
        self.0
            .get(&lang)
            .or_else(|| self.0.get(&Lang::Id))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// Where a source location points, for messages to dialog authors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Provenance of a fact stated by a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactMeta {
    pub source: String,
    pub verified: Option<Date>,
    pub confidence: Confidence,
    pub note: Option<String>,
    /// Who can verify it before go-live (`dinas`, `bp3mi`, `kemlu`, `bpjs`, `imigrasi`, ...): the
    /// checklist of `pandu check --facts` is grouped by it.
    pub verifier: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Statute text or several independent sources.
    High,
    /// One reputable news or official source: staff must verify before go-live.
    Medium,
    /// Blog, old, or one unofficial source: staff must verify before go-live.
    Low,
}

impl Confidence {
    pub fn letter(self) -> &'static str {
        match self {
            Confidence::High => "H",
            Confidence::Medium => "M",
            Confidence::Low => "L",
        }
    }
}

#[derive(Clone, Debug)]
pub struct MenuChoice {
    pub label: Text,
    pub goto: Position,
    /// The label in each language, normalised (filled by the loader): what a typed label must equal.
    pub norms: Vec<String>,
    /// `yes: true` in the file: a yes-word typed at this menu ("iya", "mau pak", "nggih") presses
    /// this button ("Mau melapor sekarang?" → "Lapor sekarang").
    pub yes: bool,
    /// `also:` in the file, normalised: other ways people type this answer ("aman" for "Ya,
    /// aman", "dont know" for "Don't know"); typed alone (chat words aside), they press it.
    pub also: Vec<String>,
}

/// A button under a question: pressing it (or typing its number or label) answers the question with
/// `answer`. A label that renders empty (a variable not set) shows no button.
#[derive(Clone, Debug)]
pub struct AnswerButton {
    pub label: Text,
    pub answer: String,
}

#[derive(Clone, Debug)]
pub struct Question {
    pub ask: Text,
    pub save: String,
    pub pattern: Option<Pattern>,
    /// Answers offered as buttons; any other text is still an answer (subject to `pattern`).
    pub buttons: Vec<AnswerButton>,
    /// Messages (normalised) that are not an answer here even if they fit `pattern`: they are
    /// understood as usual (keywords, flow triggers), e.g. "cek pt" while a company name is awaited.
    pub except: Vec<Pattern>,
    /// `alarm_answers: true`: a message that raises the emergency words' alarm is still the answer
    /// here (a pasted job offer). Otherwise, outside a report, it is not: the alarm's page instead
    /// (found by playing workers, stop 20: "tolong sy dikurung di penampungan PT, dipukul" at the
    /// company question was looked up as a company name).
    pub alarm_answers: bool,
    pub retry: Option<Text>,
    pub retries: u32,
    pub on_fail: Option<Position>,
    pub skip: bool,
    pub attachments: bool,
    /// A variable holding a list to pick from, one entry a line ("1. PT Maju Jaya"): offered as
    /// choices (buttons, a list) on every channel; picking entry `n` answers the question with `n`,
    /// exactly as typing the number does.
    pub options: Option<String>,
    pub next: Option<Position>,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Message {
        say: Text,
        next: Option<Position>,
    },
    Menu {
        say: Text,
        choices: Vec<MenuChoice>,
    },
    Question(Box<Question>),
    Action {
        name: String,
        say: Option<Text>,
        outcomes: BTreeMap<String, Position>,
    },
    Jump {
        goto: Position,
    },
    End {
        say: Option<Text>,
    },
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// `photo:` a photo sent while this node waits is read with OCR, and its text answers this
    /// question (checked at load: a question of the same bot); the texts `photo_reading` and
    /// `photo_unreadable` say what happens.
    pub photo: Option<Position>,
    pub fact: Option<FactMeta>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    pub title: String,
    pub triggers: Vec<Pattern>,
    /// The places this flow is about (a country's page: " hong kong ", " kowloon "), normalised and
    /// padded with a space each side (a whole-word test is one `contains`): a
    /// message that names another flow's place and none of these is not about this flow, however
    /// close its words are to an example here ("jd art di hongkong syaratnya apa" and Singapore's
    /// "jd art di singapura syaratnya apa").
    pub places: Vec<String>,
    /// Node names in file order; the first is where the flow starts.
    pub order: Vec<String>,
    pub nodes: BTreeMap<String, Node>,
    pub loc: Loc,
}

impl Flow {
    pub fn first(&self) -> &str {
        self.order.first().map(String::as_str).unwrap_or("")
    }
}

/// Keywords that work in every state, already normalised.
#[derive(Clone, Debug, Default)]
pub struct Keywords {
    pub menu: Vec<String>,
    pub language: Vec<String>,
    pub staff: Vec<String>,
    pub stop: Vec<String>,
    pub resume: Vec<String>,
    pub skip: Vec<String>,
    pub cancel: Vec<String>,
    pub yes: Vec<String>,
    /// Whole-message words that switch to a language at once ("english", "boso jowo").
    pub switch: Vec<(Lang, Vec<String>)>,
}

/// A value dialogs refer to as `{fact.key}` (a phone number, a fee, an address), with provenance.
/// An empty value is a fact staff have not filled in yet: it is never shown to a user (a line that
/// refers to it without a `{fact.key|alternative}` is left out of the reply).
#[derive(Clone, Debug)]
pub struct FactValue {
    pub value: Text,
    pub meta: FactMeta,
}

impl FactValue {
    /// True when staff have not filled the value in yet (no text in any language).
    pub fn is_unfilled(&self) -> bool {
        self.value.0.values().all(|t| t.trim().is_empty())
    }
}

/// The most characters one reply (one message) may have: about one phone screen.
pub const REPLY_MAX_CHARS: usize = 700;

/// The whole loaded dialog set.
#[derive(Clone, Debug)]
pub struct Bot {
    /// The flow of the main menu.
    pub start: String,
    pub staff_flow: Option<String>,
    pub keywords: Keywords,
    /// The bot's own texts (`fallback`, `not_text`, ...), by name.
    pub texts: BTreeMap<String, Text>,
    pub language_names: BTreeMap<Lang, String>,
    pub languages: Vec<Lang>,
    pub lexicon: Lexicon,
    pub facts: BTreeMap<String, FactValue>,
    /// Flows by name; `flow_order` is the order of their files (trigger tie-breaks).
    pub flows: BTreeMap<String, Flow>,
    pub flow_order: Vec<String>,
    pub emergency: Vec<EmergencyCategory>,
    /// Every emergency pattern, behind one literal prefilter; `emergency_owner[i]` is the index in
    /// `emergency` of pattern `i`'s category.
    pub emergency_patterns: PatternIndex,
    pub emergency_owner: Vec<usize>,
    /// Phrases blanked out before the emergency scan (`ignore:` in `_emergency.yaml`: "hp mati",
    /// "jaminan kecelakaan kerja"), each run only when a word it needs occurs.
    pub emergency_ignore: Option<IgnoreSet>,
    /// The example-based emergency detector (`dialogs/tests/emergency*.yaml` and the phrasing
    /// corpus): raises the alarm where no regex does ([`Bot::emergency_alarm`]).
    pub emergency_examples: super::emergency::ExampleAlarm,
    /// The second look at a priority-1 regex alarm ([`super::emergency::SecondLook`]): quiets it
    /// when very sure the message is no emergency.
    pub emergency_second_look: super::emergency::SecondLook,
    /// Every flow trigger behind one literal prefilter; `trigger_owner[i]` is the flow and the regex
    /// (shared with the index) of pattern `i`.
    pub trigger_set: PatternIndex,
    pub trigger_owner: Vec<(String, Arc<Pattern>)>,
    /// How long a report left through the menu can be resumed (`report_keep_minutes` in `_bot.yaml`).
    pub report_keep_secs: u64,
    /// Example messages of flows and nodes, indexed (`examples:` in the dialog files).
    pub matcher: super::matcher::Matcher,
    /// Descriptions of the Telegram commands, by command (`start`, `menu`, ...).
    pub telegram_commands: BTreeMap<String, Text>,
    /// Variables that actions fill with authored markup ([`super::actions::Action::markup`]): shown
    /// with their formatting, where every other variable is escaped.
    pub markup_vars: std::collections::BTreeSet<String>,
}

impl Bot {
    pub fn node(&self, position: &Position) -> Option<&Node> {
        self.flows.get(&position.flow)?.nodes.get(&position.node)
    }

    pub fn start_position(&self) -> Position {
        let first = self
            .flows
            .get(&self.start)
            .map(|f| f.first().to_string())
            .unwrap_or_default();
        Position::new(self.start.clone(), first)
    }

    /// The most urgent emergency category a normalised message reveals, if any: the `ignore`
    /// phrases are blanked out first, so "hp anak saya mati" is no death but "hp mati, adik saya
    /// meninggal" still is.
    pub fn emergency_hit(&self, norm: &str) -> Option<&EmergencyCategory> {
        self.emergency_hit_blanked(norm).0
    }

    /// [`Bot::emergency_hit`] and the message with the `ignore` spans blanked (computed once, for
    /// the example detector).
    fn emergency_hit_blanked<'s, 'n>(
        &'s self,
        norm: &'n str,
    ) -> (Option<&'s EmergencyCategory>, std::borrow::Cow<'n, str>) {
        if norm.is_empty() {
            return (None, std::borrow::Cow::Borrowed(norm));
        }
        let (hit, blanked) = self.emergency_scan_blanked(norm);
        (self.emergency_joined(&blanked, hit), blanked)
    }

    /// `blanked` is the message with the `ignore` spans blanked: the joined spelling is made from
    /// what is left, so "di sinetron ada pmi disiksa" (an ignored story) does not come back as
    /// "disinetron ada pmi disiksa", which no `ignore` phrase names. (It is blanked once more:
    /// "ga pernah di pukul" is ignored only once joined.)
    fn emergency_joined<'a>(
        &'a self,
        blanked: &str,
        hit: Option<&'a EmergencyCategory>,
    ) -> Option<&'a EmergencyCategory> {
        // People split the passive prefix ("di sekap", "di kunci dr luar") and Javanese krama
        // writes it apart ("dipun sekap"): the joined spelling is scanned too, so every pattern
        // written for "disekap" also sees them.
        match joined_passives(blanked) {
            Some(joined) => match (hit, self.emergency_scan(&joined)) {
                (Some(a), Some(b)) => Some(if b.priority < a.priority { b } else { a }),
                (a, b) => a.or(b),
            },
            None => hit,
        }
    }

    /// What the step acts on: the regexes' category when it is priority 1 (unless the second look
    /// quiets it), else a priority-1 category when the example detector raises the alarm (that of
    /// the nearest emergency example), else the regexes' lower-priority category if any.
    pub fn emergency_alarm(&self, norm: &str) -> Option<&EmergencyCategory> {
        self.emergency_verdict(norm).0
    }

    /// [`Bot::emergency_alarm`] and which tier decided it (for `pandu check`'s figures).
    pub fn emergency_verdict(&self, norm: &str) -> (Option<&EmergencyCategory>, AlarmTier) {
        let (hit, blanked) = self.emergency_hit_blanked(norm);
        // Whether the `ignore` phrases took words out (then a short remainder stays quiet).
        let words = |t: &str| t.split(' ').filter(|w| !w.is_empty()).count();
        let cut = matches!(blanked, std::borrow::Cow::Owned(_)) && words(&blanked) < words(norm);
        let examples = || {
            self.emergency_examples
                .alarm_after_cut(&blanked, cut)
                .and_then(|c| self.emergency.get(c))
        };
        if let Some(c) = hit.filter(|c| c.priority == 1) {
            // The second look reads the whole message (what the `ignore` phrases left did not
            // explain the words away) and the detector's score of what they left; the example
            // detector may still raise the alarm.
            let detector = self.emergency_examples.score(&blanked);
            if !self.emergency_second_look.quiets(&c.name, norm, detector) {
                return (hit, AlarmTier::Regex);
            }
            return match examples() {
                Some(e) => (Some(e), AlarmTier::Examples),
                None => (None, AlarmTier::Quieted),
            };
        }
        match examples() {
            Some(e) => (Some(e), AlarmTier::Examples),
            None => (hit, AlarmTier::Regex),
        }
    }

    /// The regexes' most urgent category with no `ignore` phrase blanked (nor the split passives
    /// joined): what the patterns alone flag, for the second look's figures.
    pub fn emergency_hit_unguarded(&self, norm: &str) -> Option<&EmergencyCategory> {
        self.most_urgent(self.emergency_patterns.candidates(norm), norm)
    }

    /// The most urgent category (ties: the earlier one) among the emergency patterns `candidates`
    /// that match `text`: the first match in order of urgency, so the first match ends the search.
    fn most_urgent(&self, candidates: Vec<usize>, text: &str) -> Option<&EmergencyCategory> {
        let mut order: Vec<(u8, usize, usize)> = candidates
            .into_iter()
            .filter_map(|i| {
                let c = *self.emergency_owner.get(i)?;
                Some((self.emergency.get(c)?.priority, c, i))
            })
            .collect();
        order.sort_unstable();
        order
            .into_iter()
            .find(|&(_, _, i)| self.emergency_patterns.is_match(i, text))
            .and_then(|(_, c, _)| self.emergency.get(c))
    }

    /// The message with the emergency `ignore` phrases blanked out, as the regexes see it: what
    /// the example detector reads too, so "hp mati" or a news story weighs nothing there either.
    pub fn emergency_blanked<'a>(&self, norm: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.emergency_ignore {
            Some(ignore) => match ignore.blank(norm) {
                std::borrow::Cow::Owned(blanked) => {
                    let words: Vec<&str> = blanked.split(' ').filter(|w| !w.is_empty()).collect();
                    std::borrow::Cow::Owned(words.join(" "))
                }
                borrowed => borrowed,
            },
            None => std::borrow::Cow::Borrowed(norm),
        }
    }

    fn emergency_scan(&self, norm: &str) -> Option<&EmergencyCategory> {
        self.emergency_scan_blanked(norm).0
    }

    fn emergency_scan_blanked<'s, 'n>(
        &'s self,
        norm: &'n str,
    ) -> (Option<&'s EmergencyCategory>, std::borrow::Cow<'n, str>) {
        // One literal scan gives the `ignore` phrases that may occur and the emergency patterns
        // that may match (the loader builds the patterns' index with the phrases as extra
        // patterns); only when a phrase was blanked is the changed text scanned again.
        let (candidates, blanked) = match &self.emergency_ignore {
            Some(ignore)
                if !ignore.is_empty() && self.emergency_patterns.extra_len() == ignore.len() =>
            {
                let (own, phrases) = self.emergency_patterns.candidates_and_extra(norm);
                let blanked = ignore.blank_candidates(norm, phrases);
                let own = match &blanked {
                    std::borrow::Cow::Borrowed(_) => own,
                    std::borrow::Cow::Owned(b) => self.emergency_patterns.candidates(b),
                };
                (own, blanked)
            }
            Some(ignore) => {
                let blanked = ignore.blank(norm);
                (self.emergency_patterns.candidates(&blanked), blanked)
            }
            None => (
                self.emergency_patterns.candidates(norm),
                std::borrow::Cow::Borrowed(norm),
            ),
        };
        let hit = self.most_urgent(candidates, blanked.as_ref());
        (hit, blanked)
    }

    /// A bot text by name, in `lang`; empty if the name is unknown (the loader requires all of them).
    pub fn text(&self, name: &str, lang: Lang) -> &str {
        self.texts.get(name).map(|t| t.get(lang)).unwrap_or("")
    }
}

/// The message with a split passive prefix joined to its verb ("di sekap" → "disekap", krama
/// "dipun kunci" → "dikunci", "dipunsekap" → "disekap"); `None` when there is none. Only for the
/// emergency scan: "di malaysia" becomes "dimalaysia", which no pattern names.
pub fn joined_passives(norm: &str) -> Option<String> {
    let verb = |w: &str| w.len() >= 3 && w.chars().all(|c| c.is_alphabetic());
    // Most messages have nothing to join: look before building anything (this runs up to three
    // times a message, in the emergency scan and the example detector).
    let mut words = norm.split(' ').filter(|w| !w.is_empty()).peekable();
    let mut any = false;
    while let Some(word) = words.next() {
        let split = (word == "di" || word == "dipun") && words.peek().is_some_and(|n| verb(n));
        if split || word.strip_prefix("dipun").is_some_and(verb) {
            any = true;
            break;
        }
    }
    if !any {
        return None;
    }
    // The words with a space between, each split passive as one word.
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    let mut out = String::with_capacity(norm.len());
    let mut put = |parts: [&str; 2]| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(parts[0]);
        out.push_str(parts[1]);
    };
    let mut i = 0;
    while let Some(&word) = words.get(i) {
        match words.get(i + 1) {
            Some(&next) if (word == "di" || word == "dipun") && verb(next) => {
                put(["di", next]);
                i += 2;
                continue;
            }
            _ => {}
        }
        match word.strip_prefix("dipun") {
            Some(rest) if verb(rest) => put(["di", rest]),
            _ => put([word, ""]),
        }
        i += 1;
    }
    Some(out)
}

/// Many patterns, of which a message usually fits a handful: a [`Prefilter`] picks the few whose
/// required words occur, and only those run, each on its own small automaton. (One set of ~300
/// informal triggers with word windows made an automaton whose lazy DFA needed 16-32 MiB to stay warm
/// on varied messages; twenty-five sets of 12 still rebuilt their states on most new messages, see
/// BENCHMARKS.md.) The regexes are shared (`Arc`) with whoever needs the match itself, so each keeps
/// one cache.
#[derive(Clone, Debug, Default)]
pub struct PatternIndex {
    regexes: Vec<Arc<Pattern>>,
    /// The literals of `regexes` and of `extra` patterns more (numbered after them), so that one
    /// scan gives the candidates of both ([`PatternIndex::candidates_and_extra`]).
    prefilter: Prefilter,
    extra: usize,
}

impl PatternIndex {
    pub fn new(regexes: Vec<Arc<Pattern>>) -> PatternIndex {
        PatternIndex::with_extra(regexes, &[])
    }

    /// The index of `regexes` whose literal scan also tells which of the `extra` patterns (run
    /// elsewhere: the emergency `ignore` phrases, [`IgnoreSet::blank_candidates`]) may match the
    /// same text, so a message is scanned once for both.
    pub fn with_extra(regexes: Vec<Arc<Pattern>>, extra: &[&str]) -> PatternIndex {
        let patterns: Vec<&str> = regexes
            .iter()
            .map(|r| r.as_str())
            .chain(extra.iter().copied())
            .collect();
        let prefilter = Prefilter::new(&patterns);
        PatternIndex {
            regexes,
            prefilter,
            extra: extra.len(),
        }
    }

    /// How many extra patterns the literal scan also answers for ([`PatternIndex::with_extra`]).
    pub fn extra_len(&self) -> usize {
        self.extra
    }

    /// The candidates among the patterns (as [`PatternIndex::candidates`]) and among the extra
    /// patterns (numbered from 0), ascending, from one scan of `text`.
    pub fn candidates_and_extra(&self, text: &str) -> (Vec<usize>, Vec<usize>) {
        let mut own = self.prefilter.candidates(text);
        let n = self.regexes.len();
        let extra = own.split_off(own.partition_point(|&i| i < n));
        (own, extra.into_iter().map(|i| i - n).collect())
    }

    /// The same patterns with caches of their own: a cloned `Pattern` gets a new cache pool, so
    /// searches through the copy leave this index's lazy-DFA caches as they are, and the copy's
    /// memory goes when it is dropped (the load's one-off scans, [`super::loader`]).
    pub fn with_own_caches(&self) -> PatternIndex {
        PatternIndex {
            regexes: self
                .regexes
                .iter()
                .map(|r| Arc::new((**r).clone()))
                .collect(),
            prefilter: self.prefilter.clone(),
            extra: self.extra,
        }
    }

    /// The patterns that match with their first match, ascending: one search each (no `is_match`
    /// first).
    pub fn find_each<'t>(&self, text: &'t str) -> Vec<(usize, Match<'t>)> {
        self.candidates(text)
            .into_iter()
            .filter_map(|i| Some((i, self.regexes.get(i)?.find(text)?)))
            .collect()
    }

    /// The pattern whose first match is the longest, ties to the earlier pattern (what
    /// [`PatternIndex::find_each`] gives the longest of), with as few reverse searches as that
    /// allows: every candidate's forward search gives where its match ends, which bounds its
    /// length; in order of that bound, a match's start (anchored tries from the text's start, see
    /// [`Pattern`]) is looked for only while it could still win.
    pub fn longest(&self, text: &str) -> Option<usize> {
        let mut ends: Vec<(usize, usize)> = self
            .candidates(text)
            .into_iter()
            .filter_map(|i| Some((self.regexes.get(i)?.end(text)?, i)))
            .collect();
        // The furthest end first; at the same end, the earlier pattern.
        ends.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut best: Option<(usize, usize)> = None;
        for (end, i) in ends {
            if let Some((len, at)) = best {
                // Its length is at most `end`: shorter than the best, or as long and later.
                if end < len {
                    break;
                }
                if end == len && i > at {
                    continue;
                }
            }
            let Some(m) = self.regexes.get(i).and_then(|r| r.find(text)) else {
                continue;
            };
            let len = m.end() - m.start();
            if best.is_none_or(|(b, at)| len > b || (len == b && i < at)) {
                best = Some((len, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The indices of the patterns that match, ascending.
    pub fn matches(&self, text: &str) -> Vec<usize> {
        let mut out = self.candidates(text);
        out.retain(|&i| self.regexes.get(i).is_some_and(|r| r.is_match(text)));
        out
    }

    /// The indices of the patterns that may match (a superset of [`PatternIndex::matches`]),
    /// ascending.
    pub fn candidates(&self, text: &str) -> Vec<usize> {
        let mut out = self.prefilter.candidates(text);
        if self.extra > 0 {
            let n = self.regexes.len();
            out.truncate(out.partition_point(|&i| i < n));
        }
        out
    }

    pub fn is_match(&self, i: usize, text: &str) -> bool {
        self.regexes.get(i).is_some_and(|r| r.is_match(text))
    }

    /// Pattern `i`'s first match in `text` starting at or after `start` (looking behind `start` for
    /// `\b`).
    pub fn find_at<'t>(&self, i: usize, text: &'t str, start: usize) -> Option<Match<'t>> {
        self.regexes.get(i)?.find_at(text, start)
    }

    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    /// How many patterns have no required words and run on every message.
    pub fn unfiltered(&self) -> usize {
        self.prefilter.unfiltered_below(self.regexes.len())
    }

    /// The heap of the literal scan (the automaton and its tables), in bytes.
    pub fn prefilter_bytes(&self) -> usize {
        self.prefilter.heap_bytes()
    }
}

/// The `ignore` phrases of `_emergency.yaml`, blanked out of a message as if they were one regex
/// `(?:p0)|(?:p1)|...` given to `replace_all(text, " ")`, but each compiled on its own behind the
/// literal prefilter. Joined, the ~100 phrases made one automaton near regex's 1 MiB compile limit:
/// its lazy DFA gave up on most messages and the bounded backtracker ran instead (p99 of the step
/// 475-804 µs). Apart, a message runs only the two or three phrases whose words it has, each small
/// enough for the lazy DFA.
///
/// Same answer as the joined regex (leftmost-first): scanning left to right, the match that starts
/// first wins, ties to the earlier phrase (what the alternation prefers at the same start), and the
/// scan goes on after its end. A phrase that can match the empty string would need regex's rules for
/// empty matches; if there is one, the phrases are joined as before.
#[derive(Clone, Debug)]
pub struct IgnoreSet {
    phrases: PatternIndex,
    joined: Option<Pattern>,
}

impl IgnoreSet {
    /// The same phrases with caches of their own ([`PatternIndex::with_own_caches`]).
    pub fn with_own_caches(&self) -> IgnoreSet {
        IgnoreSet {
            phrases: self.phrases.with_own_caches(),
            joined: self.joined.clone(),
        }
    }

    /// `joined` compiles the joined regex, only called when a phrase can match the empty string.
    pub fn new(
        regexes: Vec<Pattern>,
        joined: impl FnOnce(&str) -> Result<Pattern, String>,
    ) -> Result<IgnoreSet, String> {
        let may_be_empty = regexes.iter().any(|r| {
            regex_syntax::ParserBuilder::new()
                .case_insensitive(true)
                .build()
                .parse(r.as_str())
                .map_or(true, |h| h.properties().minimum_len().unwrap_or(1) == 0)
        });
        let joined = if may_be_empty {
            let all: Vec<String> = regexes
                .iter()
                .map(|r| format!("(?:{})", r.as_str()))
                .collect();
            Some(joined(&all.join("|"))?)
        } else {
            None
        };
        let phrases = PatternIndex::new(regexes.into_iter().map(Arc::new).collect());
        Ok(IgnoreSet { phrases, joined })
    }

    /// The text with every phrase blanked to one space; borrowed when none occurs.
    pub fn blank<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        self.blank_candidates(text, self.phrases.candidates(text))
    }

    /// [`IgnoreSet::blank`] given the phrases that may occur in `text` (its
    /// [`IgnoreSet::candidates`], or a superset of them, ascending); borrowed when none occurs.
    pub fn blank_candidates<'t>(
        &self,
        text: &'t str,
        candidates: Vec<usize>,
    ) -> std::borrow::Cow<'t, str> {
        if candidates.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        if let Some(joined) = &self.joined {
            return joined.replace_all(text, " ");
        }
        // Each candidate's next match at or after the end of the last blanked span. A match that
        // starts at or after that end is still the phrase's next one, so only the others are
        // searched again.
        let mut next: Vec<(usize, Option<Match<'t>>)> = candidates
            .into_iter()
            .map(|i| (i, self.phrases.find_at(i, text, 0)))
            .collect();
        let mut out = String::new();
        let mut last = 0;
        // `min_by_key` keeps the first of equal starts: the earlier phrase, as in the alternation.
        while let Some(m) = next
            .iter()
            .filter_map(|(_, m)| *m)
            .min_by_key(|m| m.start())
        {
            out.push_str(text.get(last..m.start()).unwrap_or(""));
            out.push(' ');
            last = m.end();
            for (i, slot) in next.iter_mut() {
                if slot.is_some_and(|s| s.start() < last) {
                    *slot = self.phrases.find_at(*i, text, last);
                }
            }
        }
        if out.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        out.push_str(text.get(last..).unwrap_or(""));
        std::borrow::Cow::Owned(out)
    }

    /// How many phrases there are.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The phrases that may occur in `text` (a superset of those that do).
    pub fn candidates(&self, text: &str) -> Vec<usize> {
        self.phrases.candidates(text)
    }

    /// The phrases as written, in order.
    pub fn sources(&self) -> Vec<&str> {
        self.phrases.regexes.iter().map(|r| r.as_str()).collect()
    }
}

/// The bot texts `_bot.yaml` must define.
pub const REQUIRED_TEXTS: &[&str] = &[
    "fallback",
    "not_text",
    "welcome_back",
    "resume_offer",
    "resume_label",
    "restart_label",
    "flow_end_hint",
    "stopped",
    "language_prompt",
    "language_set",
    "retries_exhausted",
    "skipped",
    "attachment_saved",
];

/// The bot texts `_bot.yaml` must define when a node has `photo:`: "reading your picture" and "could not
/// read it, please type or paste the text".
pub const PHOTO_TEXTS: &[&str] = &["photo_reading", "photo_unreadable"];

/// Which part decided [`Bot::emergency_verdict`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmTier {
    /// The regexes (their category, or none at all).
    Regex,
    /// The example detector raised a priority-1 alarm.
    Examples,
    /// A priority-1 regex alarm the second look quieted (and the detector did not raise).
    Quieted,
}

/// Emergency words of one report category (`dialogs/_emergency.yaml`).
#[derive(Clone, Debug)]
pub struct EmergencyCategory {
    pub name: String,
    /// 1 (act within hours; show the emergency numbers at once) to 4 (routine).
    pub priority: u8,
    pub patterns: Vec<Pattern>,
    /// The page that tells what to do about this emergency (`keluarga.meninggal`): where a message
    /// that raised the alarm goes when what it otherwise leads to offers no report (a country's
    /// page for "istri sy mau bunuh diri, dia di hongkong"). `None`: routing as usual.
    pub page: Option<Position>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Arc, IgnoreSet, Pattern, PatternIndex, joined_passives};

    /// The set and the one regex it stands for.
    /// The joined one is a `regex::Regex`: the blanking is checked against the regex crate itself.
    fn both(patterns: &[&str]) -> (IgnoreSet, regex::Regex) {
        let regexes = patterns.iter().map(|p| Pattern::new(p).unwrap()).collect();
        let set = IgnoreSet::new(regexes, Pattern::new).unwrap();
        let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        // The reference may be past the loader's 1 MiB limit (the real list is): only this test
        // builds it, with a larger one, in ASCII as the loader compiles each pattern.
        let reference = regex::RegexBuilder::new(&joined.join("|"))
            .case_insensitive(true)
            .unicode(false)
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .unwrap();
        (set, reference)
    }

    #[test]
    fn ignore_phrases_are_blanked_as_by_the_one_joined_regex() {
        let (set, joined) = both(&[
            r"(?-i)\bhp\w*( \w+){0,2} mati\b",
            r"(?-i)\bmati lampu\b",
            r"(?-i)\b(anak|adik) sy\b",
            r"(?-i)\bjaminan kecelakaan kerja\b",
            r"(?-i)\bkecelakaan kerja\b( itu)?",
            r"(?-i)\b(hp|paspor) (lama )?mati lampu\b",
        ]);
        for text in [
            "hp anak sy mati",
            "hp mati lampu mati lampu juga",
            "paspor lama mati lampu di rumah",
            "jaminan kecelakaan kerja itu apa, kecelakaan kerja itu",
            "adik sy dipukul, hp nya mati",
            "anak sy anak sy anak sy",
            "tidak ada apa apa",
            "",
        ] {
            assert_eq!(set.blank(text), joined.replace_all(text, " "), "{text}");
        }
        // Nothing to blank: no copy.
        assert!(matches!(
            set.blank("adik saya disekap"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn an_ignore_phrase_that_may_match_nothing_keeps_the_joined_regex() {
        let (set, joined) = both(&[r"\bhp mati\b", r"(?-i)x*"]);
        for text in ["hp mati", "xx hp mati x", "abc"] {
            assert_eq!(set.blank(text), joined.replace_all(text, " "), "{text}");
        }
    }

    /// The real `ignore:` list of `dialogs/_emergency.yaml` on every quoted message of
    /// `dialogs/tests/` (normalised, with and without the joined passives), alone and in pairs.
    #[test]
    fn the_real_ignore_list_blanks_what_the_joined_regex_blanks() {
        #[derive(serde::Deserialize)]
        struct Emergency {
            ignore: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct Lex {
            words: std::collections::BTreeMap<String, String>,
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs");
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
        let emergency: Emergency = serde_saphyr::from_str(&read("_emergency.yaml")).unwrap();
        let lex: Lex = serde_saphyr::from_str(&read("_lexicon.yaml")).unwrap();
        let lexicon = crate::dialog::normalize::Lexicon::new(
            lex.words.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let patterns: Vec<&str> = emergency.ignore.iter().map(String::as_str).collect();
        let (set, joined) = both(&patterns);
        let quoted = regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#).unwrap();
        let mut texts = Vec::new();
        for entry in std::fs::read_dir(root.join("tests")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let file = std::fs::read_to_string(&path).unwrap();
                for c in quoted.captures_iter(&file) {
                    let norm = crate::dialog::normalize::normalize(&c[1], &lexicon);
                    if let Some(j) = joined_passives(&norm) {
                        texts.push(j);
                    }
                    texts.push(norm);
                }
            }
        }
        let mut blanked = 0;
        let check = |text: &str| {
            let got = set.blank(text);
            assert_eq!(got, joined.replace_all(text, " "), "{text}");
            got != text
        };
        for text in &texts {
            blanked += usize::from(check(text));
        }
        // Two messages in one: several phrases in one text.
        let hits: Vec<&String> = texts
            .iter()
            .filter(|t| set.blank(t) != t.as_str())
            .collect();
        for pair in hits.windows(2) {
            check(&format!("{} {}", pair[0], pair[1]));
        }
        assert!(
            blanked > 50,
            "only {blanked} of {} texts blanked",
            texts.len()
        );
    }

    #[test]
    fn the_pattern_index_gives_the_index_over_all_patterns() {
        let patterns: Vec<Arc<Pattern>> = (0..30)
            .map(|i| Arc::new(Pattern::new(&format!(r"\bw{i}\b")).unwrap()))
            .chain([Arc::new(Pattern::new(r"^\d+$").unwrap())])
            .collect();
        let index = PatternIndex::new(patterns);
        assert_eq!(index.matches("w3 w14 w29"), vec![3, 14, 29]);
        // "w3" is in "w30": a candidate, but it does not match.
        assert_eq!(index.matches("w30"), Vec::<usize>::new());
        assert_eq!(index.matches("42"), vec![30]);
        let found: Vec<(usize, &str)> = index
            .find_each("w3 w14 w30")
            .into_iter()
            .map(|(i, m)| (i, m.as_str()))
            .collect();
        assert_eq!(found, vec![(3, "w3"), (14, "w14")]);
        assert!(index.matches("nothing").is_empty());
    }

    /// The shipped triggers and emergency words behind their literal prefilter (word boundaries
    /// included) find on every message of `dialogs/tests/` exactly what running each of them finds.
    #[test]
    fn the_shipped_patterns_behind_the_prefilter_match_as_if_each_ran() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bot = crate::dialog::emergency::experiment::shipped_bot();
        let quoted = regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#).unwrap();
        let mut texts = Vec::new();
        for entry in std::fs::read_dir(root.join("dialogs/tests")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let file = std::fs::read_to_string(&path).unwrap();
                for c in quoted.captures_iter(&file) {
                    let norm = crate::dialog::normalize::normalize(&c[1], &bot.lexicon);
                    if let Some(j) = joined_passives(&norm) {
                        texts.push(j);
                    }
                    texts.push(norm);
                }
            }
        }
        texts.sort();
        texts.dedup();
        assert!(texts.len() > 2000, "{}", texts.len());
        let mut found = 0;
        for index in [&bot.trigger_set, &bot.emergency_patterns] {
            for text in &texts {
                let all: Vec<usize> = (0..index.len())
                    .filter(|&i| index.is_match(i, text))
                    .collect();
                assert_eq!(index.matches(text), all, "{text}");
                found += all.len();
                // The longest first match, ties to the earlier pattern, as the step picked it
                // from every match.
                let mut longest: Option<(usize, usize)> = None;
                for (i, m) in index.find_each(text) {
                    if longest.is_none_or(|(len, _)| m.as_str().len() > len) {
                        longest = Some((m.as_str().len(), i));
                    }
                }
                assert_eq!(index.longest(text), longest.map(|l| l.1), "{text}");
            }
        }
        assert!(found > 1000, "{found}");
    }

    /// One scan for the emergency patterns and the `ignore` phrases gives each the candidates its
    /// own scan gives, on every message of `dialogs/tests/` but the blind sets' (and its joined
    /// passives).
    #[test]
    fn the_emergency_scan_with_the_ignore_phrases_gives_each_its_own_candidates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bot = crate::dialog::emergency::experiment::shipped_bot();
        let ignore = bot.emergency_ignore.as_ref().unwrap();
        assert_eq!(bot.emergency_patterns.extra_len(), ignore.len());
        let alone = PatternIndex::new(
            bot.emergency
                .iter()
                .flat_map(|c| c.patterns.iter().map(|p| Arc::new(p.clone())))
                .collect(),
        );
        let quoted = regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#).unwrap();
        let mut phrases = 0;
        for entry in std::fs::read_dir(root.join("dialogs/tests")).unwrap() {
            let path = entry.unwrap().path();
            let blind = path.to_string_lossy().contains("blind");
            if path.extension().is_some_and(|e| e == "yaml") && !blind {
                let file = std::fs::read_to_string(&path).unwrap();
                for c in quoted.captures_iter(&file) {
                    let norm = crate::dialog::normalize::normalize(&c[1], &bot.lexicon);
                    for text in [Some(norm.clone()), joined_passives(&norm)]
                        .into_iter()
                        .flatten()
                    {
                        let (own, extra) = bot.emergency_patterns.candidates_and_extra(&text);
                        assert_eq!(own, alone.candidates(&text), "{text}");
                        assert_eq!(own, bot.emergency_patterns.candidates(&text), "{text}");
                        assert_eq!(extra, ignore.candidates(&text), "{text}");
                        phrases += extra.len();
                    }
                }
            }
        }
        assert!(phrases > 50, "{phrases}");
    }

    #[test]
    fn a_split_passive_is_joined_for_the_emergency_scan() {
        assert_eq!(
            joined_passives("tolong anak saya di sekap").as_deref(),
            Some("tolong anak saya disekap")
        );
        assert_eq!(
            joined_passives("adhi kula dipun sekap majikanipun").as_deref(),
            Some("adhi kula disekap majikanipun")
        );
        assert_eq!(
            joined_passives("putra kula dipunkunci").as_deref(),
            Some("putra kula dikunci")
        );
        // Nothing to join: no copy is made.
        assert_eq!(joined_passives("anak saya disekap"), None);
        assert_eq!(joined_passives("di 3 bulan"), None);
    }
}
