//! Loads the dialog folder into a checked [`Bot`], reporting every problem at once.
//!
//! Each problem names the file, line and column, the node path and what to do. Errors stop the load
//! (a server never starts on broken dialogs); warnings (stale or unsourced facts) do not.
//!
//! Invariant: the returned `Bot` satisfies what the runtime relies on: every target exists, every regex
//! compiles, every action is registered and has a target for each of its outcomes, every required bot
//! text exists in every enabled language.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::pattern::Pattern;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::actions::Actions;
use super::io::{Lang, Position};
use super::model::{
    AnswerButton, Bot, Confidence, FactMeta, FactValue, Flow, Keywords, Loc, MenuChoice, Node,
    NodeKind, PatternIndex, Question, REPLY_MAX_CHARS, REQUIRED_TEXTS, Text,
};
use super::normalize::{Lexicon, basic, normalize};
use crate::time::Date;

/// Longest WhatsApp reply-button title, and longest list-row title.
pub const BUTTON_LABEL_MAX: usize = 20;
pub const LIST_LABEL_MAX: usize = 24;
pub const LIST_ROWS_MAX: usize = 10;
/// Telegram's callback data limit, which `Choice::id` must fit.
pub const CALLBACK_DATA_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in the dialog folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Option<Loc>,
    /// `flow/node`, where it applies.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: ")?;
        if let Some(path) = &self.path {
            write!(f, "[{path}] ")?;
        }
        f.write_str(&self.message)
    }
}

/// Options that come from the config.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub languages: Vec<Lang>,
    pub facts_file: Option<PathBuf>,
    pub fact_max_age_days: u32,
    /// "Today", for fact ages (a parameter so tests are stable).
    pub today: Date,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            languages: vec![Lang::Id, Lang::En],
            facts_file: None,
            fact_max_age_days: 365,
            today: Date::today(),
        }
    }
}

/// The labelled messages the example detector ([`super::emergency`]) learns from, in file order: the
/// labelled sets `emergency*.yaml` of `tests` (the folder of the transcripts) and the phrasing corpus
/// except the held-out files.
pub fn emergency_labelled(tests: &Path, bot: &Bot) -> Vec<super::emergency::Labelled> {
    emergency_labelled_unread(tests, bot).0
}

/// [`emergency_labelled`] and the training files left out because they could not be read or parsed
/// (with the parse error's place when it has one; never the error text, which may quote a message).
fn emergency_labelled_unread(
    tests: &Path,
    bot: &Bot,
) -> (Vec<super::emergency::Labelled>, Vec<(PathBuf, Option<Loc>)>) {
    let (sets, corpus, unread) = training_messages(tests);
    (super::emergency::labelled(bot, &sets, &corpus), unread)
}

/// The messages of the training files in `tests`, in file order: the labelled sets (text, emergency
/// or not), the phrasing corpus' texts, and the files that could not be read or parsed.
type Training = (
    Vec<(String, bool)>,
    Vec<String>,
    Vec<(PathBuf, Option<Loc>)>,
);

fn training_messages(tests: &Path) -> Training {
    #[derive(Deserialize)]
    struct Set {
        #[serde(default)]
        emergency: Vec<String>,
        #[serde(default)]
        not_emergency: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Corpus {
        phrasing: Vec<Case>,
    }
    #[derive(Deserialize)]
    struct Case {
        text: String,
    }
    let Ok(entries) = std::fs::read_dir(tests) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .filter(|p| {
            p.file_stem()
                .is_some_and(|s| super::emergency::is_training_file(&s.to_string_lossy()))
        })
        .collect();
    files.sort();
    let mut sets: Vec<(String, bool)> = Vec::new();
    let mut corpus: Vec<String> = Vec::new();
    let mut unread = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            unread.push((file, None));
            continue;
        };
        let labelled = file.file_stem().is_some_and(|s| {
            s.to_string_lossy()
                .starts_with(super::emergency::LABELLED_STEM)
        });
        let at = |e: &serde_saphyr::Error| e.location().map(|l| loc_of(&file, &l));
        if labelled {
            match serde_saphyr::from_str::<Set>(&text) {
                Ok(set) => {
                    sets.extend(set.emergency.into_iter().map(|t| (t, true)));
                    sets.extend(set.not_emergency.into_iter().map(|t| (t, false)));
                }
                Err(e) => unread.push((file.clone(), at(&e))),
            }
        } else {
            match serde_saphyr::from_str::<Corpus>(&text) {
                Ok(c) => corpus.extend(c.phrasing.into_iter().map(|c| c.text)),
                Err(e) => unread.push((file.clone(), at(&e))),
            }
        }
    }
    (sets, corpus, unread)
}

/// Labels the training messages with the emergency regexes (as [`super::emergency::labelled`]) through
/// copies of `serving` that have caches of their own, fresh for every [`LABEL_CHUNK`] messages: the
/// ~2,600 scans grow each pattern's lazy-DFA cache, and kept they were the load's memory peak (≈ 15 MB
/// of caches; heaptrack of the footprint scenario). The serving regexes keep none of those states.
/// Leaves `bot`'s emergency patterns and `ignore` phrases empty (the caller puts `serving` back).
fn label_examples(
    bot: &mut Bot,
    serving: &(PatternIndex, Option<super::model::IgnoreSet>),
    sets: &[(String, bool)],
    corpus: &[String],
) -> Vec<super::emergency::Labelled> {
    let mut out = Vec::with_capacity(sets.len() + corpus.len());
    let fresh = |bot: &mut Bot| {
        bot.emergency_patterns = serving.0.with_own_caches();
        bot.emergency_ignore = serving
            .1
            .as_ref()
            .map(super::model::IgnoreSet::with_own_caches);
    };
    for chunk in sets.chunks(LABEL_CHUNK) {
        fresh(bot);
        out.extend(super::emergency::labelled(bot, chunk, &[]));
    }
    for chunk in corpus.chunks(LABEL_CHUNK) {
        fresh(bot);
        out.extend(super::emergency::labelled(bot, &[], chunk));
    }
    bot.emergency_patterns = PatternIndex::default();
    bot.emergency_ignore = None;
    out
}

/// How many training messages are labelled through one set of the emergency regexes' copies before
/// fresh copies are taken ([`Cx::label_examples`]).
const LABEL_CHUNK: usize = 200;

/// Loads and checks a dialog folder with default options (Indonesian and English, no facts file).
pub fn load_dir(dir: &Path, actions: &Actions) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
    load(dir, actions, &LoadOptions::default())
}

/// Loads and checks a dialog folder. `Ok` holds the bot and its warnings; `Err` every problem found.
pub fn load(
    dir: &Path,
    actions: &Actions,
    options: &LoadOptions,
) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut cx = Cx {
        diags: Vec::new(),
        options,
        compiled: HashMap::new(),
    };
    let bot = cx.load(dir, actions);
    cx.diags.sort_by(|a, b| {
        (
            a.severity,
            a.loc.as_ref().map(|l| (&l.file, l.line, l.column)),
        )
            .cmp(&(
                b.severity,
                b.loc.as_ref().map(|l| (&l.file, l.line, l.column)),
            ))
    });
    match bot {
        Some(bot) if !cx.diags.iter().any(|d| d.severity == Severity::Error) => Ok((bot, cx.diags)),
        _ => Err(cx.diags),
    }
}

/// The text one message carries when the bot arrives at `pos`: the node's own text plus that of the
/// message nodes its `next` (or a jump) runs through, joined as the runtime joins them, up to the first
/// node that waits for the user. Variables count as empty; facts are filled in.
pub fn reply_text(bot: &Bot, mut pos: Position, lang: Lang) -> String {
    let session = super::io::Session::default();
    let mut parts: Vec<String> = Vec::new();
    let add = |parts: &mut Vec<String>, t: &Text| {
        let s = super::runtime::interpolate(t.get(lang), lang, &session, bot);
        if !s.trim().is_empty() {
            parts.push(s.trim_end().to_string());
        }
    };
    // A chain never waits longer than this (the checker rejects loops that never wait).
    for _ in 0..32 {
        let Some(node) = bot
            .flows
            .get(&pos.flow)
            .and_then(|f| f.nodes.get(&pos.node))
        else {
            break;
        };
        match &node.kind {
            NodeKind::Message { say, next } => {
                add(&mut parts, say);
                match next {
                    Some(n) => pos = n.clone(),
                    None => break,
                }
            }
            NodeKind::Jump { goto } => pos = goto.clone(),
            NodeKind::Menu { say, .. } => {
                add(&mut parts, say);
                break;
            }
            NodeKind::Question(q) => {
                add(&mut parts, &q.ask);
                break;
            }
            NodeKind::Action { say, .. } | NodeKind::End { say } => {
                if let Some(say) = say {
                    add(&mut parts, say);
                }
                break;
            }
        }
    }
    parts.join("\n\n")
}

// ---------------------------------------------------------------------------------------------------
// Raw file shapes, as written by authors.

/// A text: either a plain string (Bahasa Indonesia only) or a map of language to string.
#[derive(Clone, Debug, Default)]
struct RawText(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawText, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text: a string, or a map like `id: ...` and `en: ...`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText(BTreeMap::from([("id".to_string(), v.to_string())])))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawText, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.insert(k, v);
                }
                Ok(RawText(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML map that keeps its order and the location of each key.
#[derive(Debug)]
struct Ordered<V>(Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered<V>, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of names to entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    out.push((k, map.next_value()?));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFact {
    source: Option<String>,
    verified: Option<Spanned<String>>,
    confidence: Option<String>,
    note: Option<String>,
    verify_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    label: Spanned<RawText>,
    goto: Spanned<String>,
    /// This button is the "yes" to the menu's question ("Mau melapor sekarang?" → "Lapor sekarang").
    #[serde(default)]
    yes: bool,
    /// Other ways people type this answer ("aman", "aman kok" for "Ya, aman"), any language.
    #[serde(default)]
    also: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawButton {
    label: Spanned<RawText>,
    answer: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    say: Option<Spanned<RawText>>,
    ask: Option<Spanned<RawText>>,
    choices: Option<Vec<RawChoice>>,
    next: Option<Spanned<String>>,
    goto: Option<Spanned<String>>,
    end: Option<bool>,
    save: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    buttons: Option<Vec<RawButton>>,
    except: Option<Vec<Spanned<String>>>,
    alarm_answers: Option<bool>,
    retry: Option<Spanned<RawText>>,
    retries: Option<u32>,
    on_fail: Option<Spanned<String>>,
    skip: Option<bool>,
    attachments: Option<bool>,
    photo: Option<Spanned<String>>,
    options: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    outcomes: Option<Ordered<Spanned<String>>>,
    fact: Option<RawFact>,
    examples: Option<Spanned<RawExamples>>,
}

/// Example messages of a flow or a node, per language, and the label offered when the bot is unsure.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExamples {
    label: Option<Spanned<RawText>>,
    #[serde(default)]
    id: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    jv: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    flow: Spanned<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    triggers: Vec<Spanned<String>>,
    /// The places (countries, their cities) this flow is about; see `Flow::places`.
    #[serde(default)]
    places: Vec<String>,
    examples: Option<Spanned<RawExamples>>,
    nodes: Ordered<Spanned<RawNode>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeywords {
    #[serde(default)]
    menu: Vec<String>,
    #[serde(default)]
    language: Vec<String>,
    #[serde(default)]
    staff: Vec<String>,
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    resume: Vec<String>,
    #[serde(default)]
    skip: Vec<String>,
    /// Words that cancel an unfinished report (after a confirmation).
    #[serde(default)]
    cancel: Vec<String>,
    /// Words that say yes to the bot's own confirmations (cancel, leave the report).
    #[serde(default)]
    yes: Vec<String>,
    /// Words that switch to one language at once, by language code.
    #[serde(default)]
    switch: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    start: Spanned<String>,
    staff_flow: Option<Spanned<String>>,
    #[serde(default)]
    languages: BTreeMap<String, String>,
    #[serde(default)]
    keywords: RawKeywords,
    texts: Ordered<Spanned<RawText>>,
    /// Extra sections other parts of Pandu read from `_bot.yaml` (e.g. Telegram command descriptions).
    #[serde(default)]
    telegram_commands: Option<BTreeMap<String, RawText>>,
    /// How long an unfinished report left through the menu can be resumed with "lanjut".
    #[serde(default)]
    report_keep_minutes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLexicon {
    #[serde(default)]
    words: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergencyCategory {
    name: String,
    priority: String,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    /// The page (`flow.node`) that tells a family what to do about this emergency; see
    /// `EmergencyCategory::page`.
    #[serde(default)]
    page: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergency {
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    categories: Vec<RawEmergencyCategory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFactValue {
    /// Absent or empty: not filled in yet (never shown to users; listed for staff).
    #[serde(default)]
    value: RawText,
    source: Option<String>,
    verified: Option<Spanned<String>>,
    confidence: Option<String>,
    note: Option<String>,
    verify_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFacts {
    facts: Ordered<Spanned<RawFactValue>>,
}

// ---------------------------------------------------------------------------------------------------

struct Cx<'o> {
    diags: Vec<Diagnostic>,
    options: &'o LoadOptions,
    /// Each distinct pattern compiled once: a pattern written in several places (the same trigger in
    /// two flows, an emergency phrase in two categories) shares its automaton (a clone shares the
    /// compiled program and has a match cache of its own).
    compiled: HashMap<String, Pattern>,
}

/// The examples of one flow or node, before the matcher is built.
struct ExampleSet {
    target: Position,
    label: Text,
    messages: Vec<(Lang, String)>,
}

/// A node before its targets are resolved.
struct Pending {
    flow: String,
    name: String,
    raw: Spanned<RawNode>,
    loc: Loc,
}

fn loc_of(file: &Path, l: &serde_saphyr::Location) -> Loc {
    Loc {
        file: file.to_path_buf(),
        line: l.line(),
        column: l.column(),
    }
}

impl Cx<'_> {
    fn error(&mut self, loc: Option<Loc>, path: Option<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            loc,
            path,
            message: message.into(),
        });
    }

    fn warn(&mut self, loc: Option<Loc>, path: Option<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            loc,
            path,
            message: message.into(),
        });
    }

    fn parse<T: for<'de> Deserialize<'de>>(&mut self, file: &Path, text: &str) -> Option<T> {
        match serde_saphyr::from_str::<T>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let loc = e.location().map(|l| loc_of(file, &l));
                let message = e.without_snippet().to_string();
                let message = message
                    .lines()
                    .next()
                    .unwrap_or("invalid YAML")
                    .trim()
                    .to_string();
                self.error(
                    loc,
                    None,
                    format!("{message} (check the indentation and the key names against dialogs/README.md)"),
                );
                None
            }
        }
    }

    fn read(&mut self, file: &Path) -> Option<String> {
        match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => {
                    self.error(
                        Some(Loc {
                            file: file.to_path_buf(),
                            line: 1,
                            column: 1,
                        }),
                        None,
                        "file is not UTF-8 text; save it as UTF-8",
                    );
                    None
                }
            },
            Err(e) => {
                self.error(None, None, format!("cannot read {}: {e}", file.display()));
                None
            }
        }
    }

    /// Checks an `examples:` block and keeps it for the matcher.
    fn examples(
        &mut self,
        file: &Path,
        path: &str,
        target: Position,
        raw: Spanned<RawExamples>,
        out: &mut Vec<ExampleSet>,
    ) {
        let loc = loc_of(file, &raw.referenced);
        let raw = raw.value;
        let label = match &raw.label {
            Some(l) => self.text(file, path, l, "examples label"),
            None => {
                self.error(
                    Some(loc),
                    Some(path.to_string()),
                    "examples need a `label` (the choice shown when the bot asks \"did you mean\")",
                );
                return;
            }
        };
        let mut messages = Vec::new();
        for (lang, list) in [(Lang::Id, raw.id), (Lang::En, raw.en), (Lang::Jv, raw.jv)] {
            for m in list {
                if m.trim().is_empty() {
                    self.error(
                        Some(loc.clone()),
                        Some(path.to_string()),
                        "an example message is empty",
                    );
                    continue;
                }
                messages.push((lang, m));
            }
        }
        if messages.is_empty() {
            self.warn(
                Some(loc),
                Some(path.to_string()),
                "examples block without a message: add some under id, en or jv",
            );
        }
        out.push(ExampleSet {
            target,
            label,
            messages,
        });
    }

    fn text(&mut self, file: &Path, path: &str, raw: &Spanned<RawText>, what: &str) -> Text {
        let loc = loc_of(file, &raw.referenced);
        let mut out = BTreeMap::new();
        for (code, value) in &raw.value.0 {
            match Lang::parse(code) {
                Some(lang) if code.len() == 2 => {
                    out.insert(lang, value.trim_end().to_string());
                }
                _ => self.error(
                    Some(loc.clone()),
                    Some(path.to_string()),
                    format!("{what}: unknown language `{code}`; use id, en or jv"),
                ),
            }
        }
        for lang in &self.options.languages {
            let present = out.get(lang).is_some_and(|t| !t.trim().is_empty());
            if !present {
                let which = match lang {
                    Lang::Id => "Bahasa Indonesia (`id`)",
                    Lang::En => "English (`en`)",
                    Lang::Jv => {
                        // Javanese is being written: until it is, users get Bahasa Indonesia.
                        self.warn(
                            Some(loc.clone()),
                            Some(path.to_string()),
                            format!(
                                "{what}: no Javanese (`jv`) text yet; Bahasa Indonesia is shown instead"
                            ),
                        );
                        continue;
                    }
                };
                self.error(
                    Some(loc.clone()),
                    Some(path.to_string()),
                    format!("{what}: missing the {which} text"),
                );
            }
        }
        self.check_markup(file, path, &loc, &out, what);
        Text(out)
    }

    /// Refuses `*`/`_` that would show literally: each one named with its file line.
    fn check_markup(
        &mut self,
        file: &Path,
        path: &str,
        loc: &Loc,
        texts: &BTreeMap<Lang, String>,
        what: &str,
    ) {
        for (lang, text) in texts {
            let problems = super::markup::problems(text);
            if problems.is_empty() {
                continue;
            }
            let source = std::fs::read_to_string(file).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for p in problems {
                let wanted = lines.get(p.line).map(|l| l.trim()).unwrap_or("");
                // The file line that holds this text line (block scalars start below the key).
                let line = source
                    .lines()
                    .enumerate()
                    .skip(loc.line.saturating_sub(1) as usize)
                    .find(|(_, l)| !wanted.is_empty() && l.contains(wanted))
                    .map(|(i, _)| i as u64 + 1)
                    .unwrap_or(loc.line);
                self.error(
                    Some(Loc {
                        file: file.to_path_buf(),
                        line,
                        column: 1,
                    }),
                    Some(path.to_string()),
                    format!(
                        "{what} (`{}`): `{}` at character {} of \"{}\" opens or closes nothing, so users \
                         would see it literally; pair it (*bold*, _italic_) or write \\{} for the character",
                        lang.code(),
                        p.delimiter,
                        p.column,
                        wanted,
                        p.delimiter
                    ),
                );
            }
        }
    }

    fn regex(
        &mut self,
        file: &Path,
        path: &str,
        raw: &Spanned<String>,
        what: &str,
    ) -> Option<Pattern> {
        if let Some(p) = self.compiled.get(&raw.value) {
            return Some(p.clone());
        }
        match Pattern::new(&raw.value) {
            Ok(r) => {
                self.compiled.insert(raw.value.clone(), r.clone());
                Some(r)
            }
            Err(e) => {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or("").trim().to_string();
                self.error(
                    Some(loc_of(file, &raw.referenced)),
                    Some(path.to_string()),
                    format!("{what} `{}` is not a valid regex: {first}", raw.value),
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fact_meta(
        &mut self,
        file: &Path,
        path: &str,
        loc: &Loc,
        source: Option<&String>,
        verified: Option<&Spanned<String>>,
        confidence: Option<&String>,
        note: Option<&String>,
        verify_by: Option<&String>,
        unfilled: bool,
    ) -> FactMeta {
        let source = source.map(|s| s.trim().to_string()).unwrap_or_default();
        if source.is_empty() && !unfilled {
            self.warn(
                Some(loc.clone()),
                Some(path.to_string()),
                "fact without `source`: name the law, document or URL it comes from",
            );
        }
        if unfilled && let Some(v) = verified {
            self.error(
                Some(loc_of(file, &v.referenced)),
                Some(path.to_string()),
                "a fact with no value is not verified: remove `verified` (write it when the value is filled in and checked)",
            );
        }
        let verified_date = match verified {
            None if unfilled => None,
            None => {
                self.warn(
                    Some(loc.clone()),
                    Some(path.to_string()),
                    "fact without `verified` date: write when it was last checked (YYYY-MM-DD)",
                );
                None
            }
            Some(v) => match Date::parse(&v.value) {
                Some(d) => {
                    let age = self.options.today.days_since_epoch() - d.days_since_epoch();
                    if age > i64::from(self.options.fact_max_age_days) {
                        self.warn(
                            Some(loc_of(file, &v.referenced)),
                            Some(path.to_string()),
                            format!(
                                "fact verified {d}, {age} days ago (limit {} days): check it again and update `verified`",
                                self.options.fact_max_age_days
                            ),
                        );
                    }
                    Some(d)
                }
                None => {
                    self.error(
                        Some(loc_of(file, &v.referenced)),
                        Some(path.to_string()),
                        format!("`verified: {}` is not a date; write YYYY-MM-DD", v.value),
                    );
                    None
                }
            },
        };
        let confidence = match confidence.map(|c| c.trim().to_ascii_uppercase()) {
            Some(c) if c == "H" => Confidence::High,
            Some(c) if c == "M" => Confidence::Medium,
            Some(c) if c == "L" => Confidence::Low,
            Some(other) => {
                self.error(
                    Some(loc.clone()),
                    Some(path.to_string()),
                    format!("confidence `{other}` must be H, M or L"),
                );
                Confidence::Low
            }
            None => {
                self.warn(
                    Some(loc.clone()),
                    Some(path.to_string()),
                    "fact without `confidence` (H, M or L): treated as L, unverified",
                );
                Confidence::Low
            }
        };
        FactMeta {
            source,
            verified: verified_date,
            confidence,
            note: note.cloned(),
            verifier: verify_by
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        }
    }

    fn load(&mut self, dir: &Path, actions: &Actions) -> Option<Bot> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.error(
                    None,
                    None,
                    format!("cannot read dialog folder {}: {e}", dir.display()),
                );
                return None;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();

        let file_named = |name: &str| dir.join(name);
        let bot_file = file_named("_bot.yaml");
        let raw_bot: Option<RawBot> = match self.read(&bot_file) {
            Some(text) => self.parse(&bot_file, &text),
            None => None,
        };
        let lexicon_file = file_named("_lexicon.yaml");
        let lexicon = if lexicon_file.exists() {
            let raw: Option<RawLexicon> = self
                .read(&lexicon_file)
                .and_then(|t| self.parse(&lexicon_file, &t));
            let raw = raw.unwrap_or_default();
            Lexicon::new(raw.words.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        } else {
            Lexicon::default()
        };
        let emergency_file = file_named("_emergency.yaml");
        let mut emergency = Vec::new();
        let mut emergency_pages = Vec::new();
        let mut emergency_ignore = None;
        if emergency_file.exists() {
            let raw: Option<RawEmergency> = self
                .read(&emergency_file)
                .and_then(|t| self.parse(&emergency_file, &t));
            let raw = raw.unwrap_or_default();
            let mut ignore = Vec::new();
            for p in &raw.ignore {
                if let Some(r) =
                    self.regex(&emergency_file, "_emergency/ignore", p, "ignore pattern")
                {
                    ignore.push(r);
                }
            }
            if !ignore.is_empty() {
                match super::model::IgnoreSet::new(ignore, Pattern::new) {
                    Ok(set) => emergency_ignore = Some(set),
                    Err(e) => self.error(
                        None,
                        Some("_emergency/ignore".into()),
                        format!("the ignore patterns together are too large to match: {e}"),
                    ),
                }
            }
            for cat in raw.categories {
                let path = format!("_emergency/{}", cat.name);
                let mut patterns = Vec::new();
                for p in &cat.patterns {
                    if let Some(r) = self.regex(&emergency_file, &path, p, "emergency pattern") {
                        patterns.push(r);
                    }
                }
                let level = cat
                    .priority
                    .chars()
                    .find(|c| c.is_ascii_digit())
                    .and_then(|c| c.to_digit(10))
                    .filter(|d| (1..=4).contains(d));
                match level {
                    Some(level) => {
                        if let Some(page) = cat.page {
                            emergency_pages.push((emergency.len(), path.clone(), page));
                        }
                        emergency.push(super::model::EmergencyCategory {
                            name: cat.name.clone(),
                            priority: level as u8,
                            patterns,
                            page: None,
                        })
                    }
                    None => self.error(
                        Some(Loc {
                            file: emergency_file.clone(),
                            line: 1,
                            column: 1,
                        }),
                        Some(path),
                        format!("priority `{}` must be P1, P2, P3 or P4", cat.priority),
                    ),
                }
            }
        }

        let facts = match &self.options.facts_file {
            Some(path) => self.load_facts(path),
            None => BTreeMap::new(),
        };

        // Flows.
        let mut flows: BTreeMap<String, (Flow, PathBuf)> = BTreeMap::new();
        let mut flow_order = Vec::new();
        let mut example_sets: Vec<ExampleSet> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        for file in &files {
            let stem = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if stem.starts_with('_') {
                continue;
            }
            let Some(text) = self.read(file) else {
                continue;
            };
            let Some(mut raw) = self.parse::<RawFlow>(file, &text) else {
                continue;
            };
            let name = raw.flow.value.trim().to_string();
            let flow_loc = loc_of(file, &raw.flow.referenced);
            if !valid_name(&name) {
                self.error(
                    Some(flow_loc.clone()),
                    None,
                    format!("flow name `{name}`: use lowercase letters, digits and _ only"),
                );
            }
            if let Some((_, other)) = flows.get(&name) {
                self.error(
                    Some(flow_loc.clone()),
                    None,
                    format!(
                        "flow `{name}` is also defined in {}; flow names must be unique",
                        other.display()
                    ),
                );
                continue;
            }
            let mut triggers = Vec::new();
            for t in &raw.triggers {
                if let Some(r) = self.regex(file, &name, t, "trigger") {
                    if r.is_match("") {
                        self.error(
                            Some(loc_of(file, &t.referenced)),
                            Some(name.clone()),
                            format!(
                                "trigger `{}` matches an empty message; it would catch everything",
                                t.value
                            ),
                        );
                    }
                    triggers.push(r);
                }
            }
            let mut order = Vec::new();
            let mut seen = BTreeSet::new();
            let first_node = raw
                .nodes
                .0
                .first()
                .map(|(k, _)| k.value.trim().to_string())
                .unwrap_or_default();
            if let Some(ex) = raw.examples.take() {
                self.examples(
                    file,
                    &name,
                    Position::new(name.clone(), first_node),
                    ex,
                    &mut example_sets,
                );
            }
            for (key, mut node) in raw.nodes.0 {
                if let Some(ex) = node.value.examples.take() {
                    let node_name = key.value.trim().to_string();
                    self.examples(
                        file,
                        &format!("{name}/{node_name}"),
                        Position::new(name.clone(), node_name),
                        ex,
                        &mut example_sets,
                    );
                }
                let node_name = key.value.trim().to_string();
                let loc = loc_of(file, &key.referenced);
                if !valid_name(&node_name) {
                    self.error(
                        Some(loc.clone()),
                        Some(format!("{name}/{node_name}")),
                        "node name: use lowercase letters, digits and _ only",
                    );
                }
                if !seen.insert(node_name.clone()) {
                    self.error(
                        Some(loc.clone()),
                        Some(format!("{name}/{node_name}")),
                        format!(
                            "duplicate node `{node_name}` in flow `{name}`; rename one of them"
                        ),
                    );
                    continue;
                }
                order.push(node_name.clone());
                pending.push(Pending {
                    flow: name.clone(),
                    name: node_name,
                    raw: node,
                    loc,
                });
            }
            if order.is_empty() {
                self.error(
                    Some(flow_loc.clone()),
                    Some(name.clone()),
                    "flow has no nodes",
                );
            }
            flow_order.push(name.clone());
            flows.insert(
                name.clone(),
                (
                    Flow {
                        name: name.clone(),
                        title: raw.title,
                        triggers,
                        places: raw
                            .places
                            .iter()
                            .map(|p| super::normalize::normalize(p, &lexicon))
                            .filter(|p| !p.is_empty())
                            .map(|p| format!(" {p} "))
                            .collect(),
                        order,
                        nodes: BTreeMap::new(),
                        loc: flow_loc,
                    },
                    file.clone(),
                ),
            );
        }

        // Nodes: decide the kind, resolve targets.
        let names: HashMap<String, (Vec<String>, String)> = flows
            .iter()
            .map(|(k, (f, _))| (k.clone(), (f.order.clone(), f.first().to_string())))
            .collect();
        for p in pending {
            let file = p.loc.file.clone();
            let node = self.node(&file, &p, &names, actions, &facts);
            if let (Some(node), Some((flow, _))) = (node, flows.get_mut(&p.flow)) {
                flow.nodes.insert(p.name.clone(), node);
            }
        }
        for (i, path, page) in emergency_pages {
            let target = self.target(&emergency_file, &path, "", &page, &names);
            if let Some(category) = emergency.get_mut(i) {
                category.page = target;
            }
        }

        // The bot file.
        let Some(raw_bot) = raw_bot else {
            if !bot_file.exists() {
                self.error(
                    None,
                    None,
                    format!(
                        "{} is missing: it names the first flow and the bot's own texts",
                        bot_file.display()
                    ),
                );
            }
            return None;
        };
        let mut texts = BTreeMap::new();
        for (key, raw) in &raw_bot.texts.0 {
            let path = format!("_bot/texts/{}", key.value);
            let text = self.text(&bot_file, &path, raw, "text");
            self.check_refs(&bot_file, &path, &text, &raw.referenced, &facts, None);
            texts.insert(key.value.clone(), text);
        }
        for name in REQUIRED_TEXTS {
            if !texts.contains_key(*name) {
                self.error(
                    Some(Loc {
                        file: bot_file.clone(),
                        line: 1,
                        column: 1,
                    }),
                    Some("_bot/texts".into()),
                    format!("missing bot text `{name}` (see dialogs/README.md)"),
                );
            }
        }
        let start = raw_bot.start.value.trim().to_string();
        if !flows.contains_key(&start) {
            self.error(
                Some(loc_of(&bot_file, &raw_bot.start.referenced)),
                None,
                format!("`start: {start}` names no flow"),
            );
        }
        let staff_flow = raw_bot.staff_flow.as_ref().map(|s| {
            let name = s.value.trim().to_string();
            if !flows.contains_key(&name) {
                self.error(
                    Some(loc_of(&bot_file, &s.referenced)),
                    None,
                    format!("`staff_flow: {name}` names no flow"),
                );
            }
            name
        });
        let norm_list = |list: &Vec<String>| -> Vec<String> {
            list.iter()
                .map(|k| basic(k))
                .filter(|k| !k.is_empty())
                .collect()
        };
        let keywords = Keywords {
            menu: norm_list(&raw_bot.keywords.menu),
            language: norm_list(&raw_bot.keywords.language),
            staff: norm_list(&raw_bot.keywords.staff),
            stop: norm_list(&raw_bot.keywords.stop),
            resume: norm_list(&raw_bot.keywords.resume),
            skip: norm_list(&raw_bot.keywords.skip),
            cancel: norm_list(&raw_bot.keywords.cancel),
            yes: norm_list(&raw_bot.keywords.yes),
            switch: raw_bot
                .keywords
                .switch
                .iter()
                .filter_map(|(code, words)| Lang::parse(code).map(|l| (l, norm_list(words))))
                .collect(),
        };
        if keywords.menu.is_empty() {
            self.error(
                Some(Loc {
                    file: bot_file.clone(),
                    line: 1,
                    column: 1,
                }),
                None,
                "keywords.menu is empty: people need a word that always brings back the menu",
            );
        }
        let mut language_names = BTreeMap::new();
        for lang in &self.options.languages {
            let name = raw_bot
                .languages
                .get(lang.code())
                .cloned()
                .unwrap_or_else(|| lang.code().to_string());
            language_names.insert(*lang, name);
        }
        let telegram_commands = raw_bot
            .telegram_commands
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, raw_text_plain(&v)))
            .collect();

        let mut targets = Vec::new();
        let mut examples = Vec::new();
        for set in example_sets {
            let exists = flows
                .get(&set.target.flow)
                .is_some_and(|(f, _)| f.nodes.contains_key(&set.target.node));
            if !exists {
                continue;
            }
            let t = targets.len();
            for (lang, m) in set.messages {
                examples.push(super::matcher::Example {
                    target: t,
                    lang,
                    text: normalize(&m, &lexicon),
                });
            }
            targets.push(super::matcher::Target {
                position: set.target,
                label: set.label,
            });
        }
        let matcher = super::matcher::Matcher::new(targets, examples);
        let report_keep_secs = raw_bot.report_keep_minutes.unwrap_or(24 * 60) * 60;
        let mut bot = Bot {
            report_keep_secs,
            matcher,
            start,
            staff_flow,
            keywords,
            texts,
            language_names,
            languages: self.options.languages.clone(),
            lexicon,
            facts,
            flows: flows.into_iter().map(|(k, (f, _))| (k, f)).collect(),
            flow_order,
            emergency,
            telegram_commands,
            trigger_set: PatternIndex::default(),
            trigger_owner: Vec::new(),
            emergency_patterns: PatternIndex::default(),
            emergency_owner: Vec::new(),
            markup_vars: actions.markup_vars(),
            emergency_ignore,
            emergency_examples: Default::default(),
            emergency_second_look: Default::default(),
        };
        self.check_photo_nodes(&bot, &bot_file);
        // A typed menu label is compared with the labels normalised once here, not on every message.
        for flow in bot.flows.values_mut() {
            for node in flow.nodes.values_mut() {
                if let NodeKind::Menu { choices, .. } = &mut node.kind {
                    for c in choices {
                        c.norms = c
                            .label
                            .0
                            .values()
                            .map(|l| normalize(l, &bot.lexicon))
                            .collect();
                        c.also = c
                            .also
                            .iter()
                            .map(|a| normalize(a, &bot.lexicon))
                            .filter(|a| !a.is_empty())
                            .collect();
                    }
                }
            }
        }
        // Each pattern on its own behind one literal prefilter (model::PatternIndex): the
        // patterns were compiled one by one above, so nothing here can be too large.
        let mut emergency_patterns = Vec::new();
        for (i, category) in bot.emergency.iter().enumerate() {
            for p in &category.patterns {
                emergency_patterns.push(Arc::new(p.clone()));
                bot.emergency_owner.push(i);
            }
        }
        // The `ignore` phrases' literals in the same scan: a message is scanned once for both.
        let phrases: Vec<&str> = bot
            .emergency_ignore
            .as_ref()
            .map(super::model::IgnoreSet::sources)
            .unwrap_or_default();
        bot.emergency_patterns = PatternIndex::with_extra(emergency_patterns, &phrases);
        let serving = (
            std::mem::take(&mut bot.emergency_patterns),
            bot.emergency_ignore.take(),
        );
        let (sets, corpus, unread) = training_messages(&dir.join("tests"));
        let labelled = label_examples(&mut bot, &serving, &sets, &corpus);
        let examples =
            super::emergency::ExampleAlarm::train(&labelled, super::emergency::THRESHOLD);
        let second_look =
            super::emergency::SecondLook::train(&labelled, super::emergency::SECOND_LOOK_THRESHOLD);
        drop(labelled);
        for (file, loc) in unread {
            // A log line for `pandu serve` (which keeps no warnings), a warning for `pandu check`
            // (which also reports the parse error): the file's name and place, no message text.
            tracing::warn!(
                file = %file.display(),
                "training file of the emergency examples unreadable: left out of the detector"
            );
            let loc = loc.or(Some(Loc {
                file,
                line: 1,
                column: 1,
            }));
            self.warn(
                loc,
                Some("_emergency/examples".into()),
                "cannot be read as examples (`emergency:` / `not_emergency:` lists, or `phrasing:`): left out of the example emergency detector",
            );
        }
        bot.emergency_patterns = serving.0;
        bot.emergency_ignore = serving.1;
        bot.emergency_examples = examples;
        bot.emergency_second_look = second_look;
        for name in &bot.flow_order {
            if let Some(flow) = bot.flows.get(name) {
                for t in &flow.triggers {
                    bot.trigger_owner.push((name.clone(), Arc::new(t.clone())));
                }
            }
        }
        bot.trigger_set =
            PatternIndex::new(bot.trigger_owner.iter().map(|(_, r)| r.clone()).collect());
        if self.diags.iter().any(|d| d.severity == Severity::Error) {
            return None;
        }
        self.check_graph(&mut bot, actions);
        self.check_reply_shape(&bot);
        Some(bot)
    }

    /// Every reply fits a phone screen: the texts a node sends in one message (itself and the message
    /// nodes its `next` runs through, up to the first node that waits) are at most `REPLY_MAX_CHARS`
    /// in every language, with facts filled in, and never start with a blank line.
    fn check_reply_shape(&mut self, bot: &Bot) {
        for flow in bot.flows.values() {
            for name in &flow.order {
                let Some(node) = flow.nodes.get(name) else {
                    continue;
                };
                for &lang in &bot.languages {
                    let text =
                        reply_text(bot, Position::new(flow.name.clone(), name.clone()), lang);
                    let chars = text.chars().count();
                    let path = format!("{}/{}", flow.name, name);
                    if chars > REPLY_MAX_CHARS {
                        self.error(
                            Some(node.loc.clone()),
                            Some(path.clone()),
                            format!(
                                "reply of {chars} characters in `{}` (limit {REPLY_MAX_CHARS}, one phone screen): shorten it, or put the details in a node behind a \"Selengkapnya\" choice",
                                lang.code()
                            ),
                        );
                    }
                    // As written (a variable that turns out empty is the runtime's to drop).
                    let own = match &node.kind {
                        NodeKind::Message { say, .. } | NodeKind::Menu { say, .. } => Some(say),
                        NodeKind::Question(q) => Some(&q.ask),
                        NodeKind::Action { say, .. } | NodeKind::End { say } => say.as_ref(),
                        NodeKind::Jump { .. } => None,
                    };
                    if own.is_some_and(|t| {
                        let t = t.get(lang);
                        !t.is_empty() && t.lines().next().is_some_and(|l| l.trim().is_empty())
                    }) {
                        self.error(
                            Some(node.loc.clone()),
                            Some(path),
                            format!(
                                "reply in `{}` starts with a blank line: remove it",
                                lang.code()
                            ),
                        );
                    }
                }
            }
        }
    }

    fn load_facts(&mut self, path: &Path) -> BTreeMap<String, FactValue> {
        let mut out = BTreeMap::new();
        let Some(text) = self.read(path) else {
            return out;
        };
        let Some(raw) = self.parse::<RawFacts>(path, &text) else {
            return out;
        };
        for (key, value) in raw.facts.0 {
            let name = key.value.clone();
            let fpath = format!("fact.{name}");
            let loc = loc_of(path, &key.referenced);
            let v = &value.value;
            let meta = self.fact_meta(
                path,
                &fpath,
                &loc,
                v.source.as_ref(),
                v.verified.as_ref(),
                v.confidence.as_ref(),
                v.note.as_ref(),
                v.verify_by.as_ref(),
                v.value.0.values().all(|t| t.trim().is_empty()),
            );
            let mut text = BTreeMap::new();
            for (code, t) in &v.value.0 {
                match Lang::parse(code) {
                    Some(lang) => {
                        text.insert(lang, t.clone());
                    }
                    None => self.error(
                        Some(loc.clone()),
                        Some(fpath.clone()),
                        format!("unknown language `{code}`"),
                    ),
                }
            }
            out.insert(
                name,
                FactValue {
                    value: Text(text),
                    meta,
                },
            );
        }
        out
    }

    /// Checks `{var}` and `{fact.key}` references of a text; `vars` None skips variable checks.
    fn check_refs(
        &mut self,
        file: &Path,
        path: &str,
        text: &Text,
        at: &serde_saphyr::Location,
        facts: &BTreeMap<String, FactValue>,
        _vars: Option<()>,
    ) {
        for t in text.0.values() {
            for r in references(t) {
                if let Some(key) = r.strip_prefix("fact.")
                    && !facts.contains_key(key)
                {
                    self.error(
                        Some(loc_of(file, at)),
                        Some(path.to_string()),
                        format!("`{{fact.{key}}}` is not in the facts file (config/facts.yaml)"),
                    );
                }
            }
        }
    }

    fn target(
        &mut self,
        file: &Path,
        path: &str,
        flow: &str,
        raw: &Spanned<String>,
        names: &HashMap<String, (Vec<String>, String)>,
    ) -> Option<Position> {
        let t = raw.value.trim();
        let loc = Some(loc_of(file, &raw.referenced));
        if let Some((nodes, _)) = names.get(flow)
            && nodes.iter().any(|n| n == t)
        {
            return Some(Position::new(flow, t));
        }
        if let Some((_, first)) = names.get(t) {
            return Some(Position::new(t, first.clone()));
        }
        if let Some((f, n)) = t.split_once('.')
            && let Some((nodes, _)) = names.get(f)
        {
            if nodes.iter().any(|x| x == n) {
                return Some(Position::new(f, n));
            }
            let hint = suggest(n, nodes.iter().map(String::as_str));
            self.error(
                loc,
                Some(path.to_string()),
                format!("flow `{f}` has no node `{n}`{hint}"),
            );
            return None;
        }
        let local: Vec<&str> = names
            .get(flow)
            .map(|(n, _)| n.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let all = local.into_iter().chain(names.keys().map(String::as_str));
        let hint = suggest(t, all);
        self.error(
            loc,
            Some(path.to_string()),
            format!("`{t}` is neither a node of flow `{flow}` nor a flow{hint}"),
        );
        None
    }

    fn node(
        &mut self,
        file: &Path,
        p: &Pending,
        names: &HashMap<String, (Vec<String>, String)>,
        actions: &Actions,
        facts: &BTreeMap<String, FactValue>,
    ) -> Option<Node> {
        let path = format!("{}/{}", p.flow, p.name);
        let r = &p.raw.value;
        let loc = p.loc.clone();
        let kinds: Vec<&str> = [
            (r.choices.is_some(), "choices"),
            (r.ask.is_some(), "ask"),
            (r.action.is_some(), "action"),
            (r.goto.is_some(), "goto"),
            (r.end == Some(true), "end"),
        ]
        .into_iter()
        .filter_map(|(on, k)| on.then_some(k))
        .collect();
        if kinds.len() > 1 {
            self.error(
                Some(loc.clone()),
                Some(path.clone()),
                format!(
                    "a node is one kind: it has both `{}` and `{}`; split it into two nodes",
                    kinds[0], kinds[1]
                ),
            );
            return None;
        }
        let question_keys = [
            (r.save.is_some(), "save"),
            (r.pattern.is_some(), "pattern"),
            (r.buttons.is_some(), "buttons"),
            (r.except.is_some(), "except"),
            (r.alarm_answers.is_some(), "alarm_answers"),
            (r.retry.is_some(), "retry"),
            (r.retries.is_some(), "retries"),
            (r.on_fail.is_some(), "on_fail"),
            (r.skip.is_some(), "skip"),
            (r.attachments.is_some(), "attachments"),
        ];
        if r.ask.is_none()
            && let Some((_, k)) = question_keys.iter().find(|(on, _)| *on)
        {
            self.error(
                Some(loc.clone()),
                Some(path.clone()),
                format!("`{k}` belongs to a question; add `ask:` or remove it"),
            );
        }
        if r.action.is_none() && r.outcomes.is_some() {
            self.error(
                Some(loc.clone()),
                Some(path.clone()),
                "`outcomes` belongs to an action node; add `action:`",
            );
        }
        let say = r.say.as_ref().map(|s| {
            let t = self.text(file, &path, s, "say");
            self.check_refs(file, &path, &t, &s.referenced, facts, None);
            t
        });
        let target = |cx: &mut Cx<'_>, t: &Option<Spanned<String>>| {
            t.as_ref()
                .and_then(|t| cx.target(file, &path, &p.flow, t, names))
        };
        let fact = r.fact.as_ref().map(|f| {
            self.fact_meta(
                file,
                &path,
                &loc,
                f.source.as_ref(),
                f.verified.as_ref(),
                f.confidence.as_ref(),
                f.note.as_ref(),
                f.verify_by.as_ref(),
                false,
            )
        });
        let kind = if let Some(choices) = &r.choices {
            if r.next.is_some() {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    "a menu goes on through its choices: remove `next`",
                );
            }
            let Some(say) = say else {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    "a menu needs `say:` (the question above the choices)",
                );
                return None;
            };
            if choices.is_empty() {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    "a menu needs at least one choice",
                );
            }
            if choices.len() > LIST_ROWS_MAX {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    format!(
                        "{} choices: WhatsApp lists hold at most {LIST_ROWS_MAX}; split the menu",
                        choices.len()
                    ),
                );
            }
            let max = if choices.len() <= 3 {
                BUTTON_LABEL_MAX
            } else {
                LIST_LABEL_MAX
            };
            let mut out = Vec::new();
            for (i, c) in choices.iter().enumerate() {
                let label = self.text(file, &path, &c.label, "label");
                for (lang, l) in &label.0 {
                    let n = l.chars().count();
                    if n > max {
                        let why = if choices.len() <= 3 {
                            "WhatsApp buttons"
                        } else {
                            "WhatsApp list rows"
                        };
                        self.error(
                            Some(loc_of(file, &c.label.referenced)),
                            Some(path.clone()),
                            format!(
                                "label `{l}` ({}) has {n} characters; {why} allow {max}",
                                lang.code()
                            ),
                        );
                    }
                }
                let id = format!("{}/{}/{}", p.flow, p.name, i + 1);
                if id.len() > CALLBACK_DATA_MAX {
                    self.error(
                        Some(loc.clone()),
                        Some(path.clone()),
                        format!("button data `{id}` is {} bytes; Telegram allows {CALLBACK_DATA_MAX}: shorten the flow or node name", id.len()),
                    );
                }
                if let Some(goto) = self.target(file, &path, &p.flow, &c.goto, names) {
                    out.push(MenuChoice {
                        label,
                        goto,
                        norms: Vec::new(),
                        yes: c.yes,
                        also: c.also.clone(),
                    });
                }
            }
            NodeKind::Menu { say, choices: out }
        } else if let Some(ask) = &r.ask {
            let ask_text = self.text(file, &path, ask, "ask");
            self.check_refs(file, &path, &ask_text, &ask.referenced, facts, None);
            let Some(save) = &r.save else {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    "a question needs `save:` (the variable that keeps the answer)",
                );
                return None;
            };
            if !valid_name(save.value.trim()) {
                self.error(
                    Some(loc_of(file, &save.referenced)),
                    Some(path.clone()),
                    "variable names use lowercase letters, digits and _ only",
                );
            }
            let pattern = r
                .pattern
                .as_ref()
                .and_then(|pat| self.regex(file, &path, pat, "pattern"));
            let except: Vec<Pattern> = r
                .except
                .iter()
                .flatten()
                .filter_map(|pat| self.regex(file, &path, pat, "except"))
                .collect();
            let raw_buttons = r.buttons.as_deref().unwrap_or(&[]);
            if raw_buttons.len() > LIST_ROWS_MAX {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    format!(
                        "{} buttons: WhatsApp lists hold at most {LIST_ROWS_MAX}",
                        raw_buttons.len()
                    ),
                );
            }
            let mut buttons = Vec::new();
            for (i, b) in raw_buttons.iter().enumerate() {
                let label = self.text(file, &path, &b.label, "label");
                self.check_refs(file, &path, &label, &b.label.referenced, facts, None);
                let id = format!("{}/{}/{}", p.flow, p.name, i + 1);
                if id.len() > CALLBACK_DATA_MAX {
                    self.error(
                        Some(loc.clone()),
                        Some(path.clone()),
                        format!("button data `{id}` is {} bytes; Telegram allows {CALLBACK_DATA_MAX}: shorten the flow or node name", id.len()),
                    );
                }
                buttons.push(AnswerButton {
                    label,
                    answer: b.answer.value.clone(),
                });
            }
            let retry = r.retry.as_ref().map(|t| self.text(file, &path, t, "retry"));
            if pattern.is_some() && retry.is_none() {
                self.warn(Some(loc.clone()), Some(path.clone()), "a question with a `pattern` should have a `retry` text saying what is expected");
            }
            let next = target(self, &r.next);
            let on_fail = target(self, &r.on_fail);
            if r.options.is_some() && r.buttons.is_some() {
                self.error(
                    Some(loc.clone()),
                    Some(path.clone()),
                    "a question offers `buttons` or an `options` list, not both",
                );
            }
            let options = r.options.as_ref().map(|o| {
                let name = o.value.trim().to_string();
                if !valid_name(&name) {
                    self.error(
                        Some(loc_of(file, &o.referenced)),
                        Some(path.clone()),
                        "`options:` names a variable: lowercase letters, digits and _ only",
                    );
                }
                name
            });
            NodeKind::Question(Box::new(Question {
                ask: ask_text,
                save: save.value.trim().to_string(),
                pattern,
                buttons,
                except,
                alarm_answers: r.alarm_answers.unwrap_or(false),
                retry,
                retries: r.retries.unwrap_or(3).max(1),
                on_fail,
                skip: r.skip.unwrap_or(false),
                attachments: r.attachments.unwrap_or(false),
                options,
                next,
            }))
        } else if let Some(action) = &r.action {
            let name = action.value.trim().to_string();
            let mut outcomes = BTreeMap::new();
            match actions.get(&name) {
                None => {
                    let known: Vec<&str> = actions.names().collect();
                    self.error(
                        Some(loc_of(file, &action.referenced)),
                        Some(path.clone()),
                        format!(
                            "unknown action `{name}`; known actions: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                }
                Some(a) => {
                    let raw_outcomes = r.outcomes.as_ref().map(|o| o.0.as_slice()).unwrap_or(&[]);
                    for (k, v) in raw_outcomes {
                        if !a.outcomes().contains(&k.value.as_str()) {
                            self.error(
                                Some(loc_of(file, &k.referenced)),
                                Some(path.clone()),
                                format!(
                                    "action `{name}` has no outcome `{}`; its outcomes: {}",
                                    k.value,
                                    a.outcomes().join(", ")
                                ),
                            );
                        } else if let Some(t) = self.target(file, &path, &p.flow, v, names) {
                            outcomes.insert(k.value.clone(), t);
                        }
                    }
                    for o in a.outcomes() {
                        if !raw_outcomes.iter().any(|(k, _)| k.value == *o) {
                            self.error(
                                Some(loc.clone()),
                                Some(path.clone()),
                                format!("action `{name}` can end with `{o}`: add `{o}: <node>` under `outcomes`"),
                            );
                        }
                    }
                }
            }
            NodeKind::Action {
                name,
                say,
                outcomes,
            }
        } else if let Some(goto) = &r.goto {
            let goto = self.target(file, &path, &p.flow, goto, names)?;
            NodeKind::Jump { goto }
        } else if r.end == Some(true) {
            NodeKind::End { say }
        } else if let Some(say) = say {
            let next = target(self, &r.next);
            NodeKind::Message { say, next }
        } else {
            self.error(
                Some(loc.clone()),
                Some(path.clone()),
                "empty node: give it `say`, `ask`, `choices`, `action`, `goto` or `end` (see dialogs/README.md)",
            );
            return None;
        };
        if fact.is_none()
            && let NodeKind::Message { say, .. } | NodeKind::Menu { say, .. } = &kind
        {
            let t = say.get(Lang::Id);
            if t.contains("{fact.") || t.chars().filter(|c| c.is_ascii_digit()).count() >= 4 {
                self.warn(
                        Some(loc.clone()),
                        Some(path.clone()),
                        "this text states numbers or facts but has no `fact:` (source, verified, confidence)",
                    );
            }
        }
        let photo = target(self, &r.photo);
        Some(Node {
            kind,
            photo,
            fact,
            loc,
        })
    }

    /// `photo:` names a question (its answer is the text read from the photo), and the texts that say
    /// what happens to a photo exist.
    fn check_photo_nodes(&mut self, bot: &Bot, bot_file: &Path) {
        let mut any = false;
        for flow in bot.flows.values() {
            for (name, node) in &flow.nodes {
                let Some(target) = &node.photo else { continue };
                any = true;
                let is_question = matches!(
                    bot.node(target).map(|n| &n.kind),
                    Some(NodeKind::Question(q)) if !q.attachments
                );
                if !is_question {
                    self.error(
                        Some(node.loc.clone()),
                        Some(format!("{}/{name}", flow.name)),
                        format!(
                            "`photo: {}` must name a question without `attachments` (the text read from the photo answers it)",
                            target.node
                        ),
                    );
                }
            }
        }
        for name in super::model::PHOTO_TEXTS {
            if any && !bot.texts.contains_key(*name) {
                self.error(
                    Some(Loc {
                        file: bot_file.to_path_buf(),
                        line: 1,
                        column: 1,
                    }),
                    Some("_bot/texts".into()),
                    format!(
                        "missing bot text `{name}`: a node has `photo:` (see dialogs/README.md)"
                    ),
                );
            }
        }
    }

    /// Reachability, variables used before set, loops that never wait for the user.
    fn check_graph(&mut self, bot: &mut Bot, actions: &Actions) {
        let mut roots: Vec<Position> = vec![bot.start_position()];
        if let Some(staff) = &bot.staff_flow
            && let Some(f) = bot.flows.get(staff)
        {
            roots.push(Position::new(staff.clone(), f.first()));
        }
        for f in bot.flows.values() {
            if !f.triggers.is_empty() {
                roots.push(Position::new(f.name.clone(), f.first()));
            }
        }
        // An emergency's page is entered from any message that raises its alarm, a node with
        // examples from any message like them.
        roots.extend(bot.emergency.iter().filter_map(|c| c.page.clone()));
        roots.extend(bot.matcher.targets.iter().map(|t| t.position.clone()));
        // Forward "must be set" analysis of variables (a variable counts as set at a node only if every
        // path from a starting point sets it), which also gives reachability.
        let mut set_at: HashMap<Position, BTreeSet<String>> = HashMap::new();
        let mut queue: VecDeque<(Position, BTreeSet<String>)> =
            roots.iter().map(|r| (r.clone(), BTreeSet::new())).collect();
        while let Some((pos, vars)) = queue.pop_front() {
            let vars_here = match set_at.get(&pos) {
                None => vars,
                Some(current) => {
                    let meet: BTreeSet<String> = current.intersection(&vars).cloned().collect();
                    if meet.len() == current.len() {
                        continue;
                    }
                    meet
                }
            };
            set_at.insert(pos.clone(), vars_here.clone());
            let Some(node) = bot.node(&pos) else { continue };
            let mut out = vars_here.clone();
            let succ: Vec<Position> = match &node.kind {
                NodeKind::Message { next, .. } => next.iter().cloned().collect(),
                NodeKind::Menu { choices, .. } => choices.iter().map(|c| c.goto.clone()).collect(),
                NodeKind::Question(q) => {
                    out.insert(q.save.clone());
                    let mut s: Vec<Position> = q.next.iter().cloned().collect();
                    s.push(q.on_fail.clone().unwrap_or_else(|| bot.start_position()));
                    s
                }
                NodeKind::Action { name, outcomes, .. } => {
                    if let Some(a) = actions.get(name) {
                        out.extend(a.sets().iter().map(|s| s.to_string()));
                    }
                    outcomes.values().cloned().collect()
                }
                NodeKind::Jump { goto } => vec![goto.clone()],
                NodeKind::End { .. } => vec![],
            };
            for s in succ {
                queue.push_back((s, out.clone()));
            }
        }
        let set_anywhere: BTreeSet<String> = set_at.values().flatten().cloned().collect();
        for flow in bot.flows.values() {
            for name in &flow.order {
                let pos = Position::new(flow.name.clone(), name.clone());
                let Some(node) = flow.nodes.get(name) else {
                    continue;
                };
                let path = format!("{}/{}", flow.name, name);
                let Some(vars) = set_at.get(&pos) else {
                    self.error(
                        Some(node.loc.clone()),
                        Some(path),
                        "unreachable node: no menu, question, action, jump or trigger leads here",
                    );
                    continue;
                };
                let mut used = Vec::new();
                let mut texts: Vec<&Text> = Vec::new();
                match &node.kind {
                    NodeKind::Message { say, .. } | NodeKind::Menu { say, .. } => texts.push(say),
                    NodeKind::Question(q) => {
                        texts.push(&q.ask);
                        if let Some(r) = &q.retry {
                            texts.push(r);
                        }
                        used.extend(q.options.iter().cloned());
                        texts.extend(q.buttons.iter().map(|b| &b.label));
                    }
                    NodeKind::Action {
                        say, name: action, ..
                    } => {
                        if let Some(s) = say {
                            texts.push(s);
                        }
                        if let Some(a) = actions.get(action) {
                            used.extend(a.reads().iter().map(|s| s.to_string()));
                        }
                    }
                    NodeKind::End { say } => texts.extend(say.iter()),
                    NodeKind::Jump { .. } => {}
                }
                if let NodeKind::Menu { choices, .. } = &node.kind {
                    texts.extend(choices.iter().map(|c| &c.label));
                }
                for t in &texts {
                    for s in t.0.values() {
                        used.extend(
                            references(s)
                                .into_iter()
                                .filter(|r| !r.starts_with("fact.")),
                        );
                    }
                }
                used.sort();
                used.dedup();
                for v in used {
                    // `{name|text}` may be unset on some paths (the text shows then), but some question
                    // or action must set it somewhere, or the name is a typo.
                    let has_fallback = texts
                        .iter()
                        .any(|t| t.0.values().any(|s| s.contains(&format!("{{{v}|"))));
                    if has_fallback && set_anywhere.contains(&v) {
                        continue;
                    }
                    if !vars.contains(&v) {
                        self.error(
                            Some(node.loc.clone()),
                            Some(path.clone()),
                            format!(
                                "variable `{{{v}}}` is used before any question or action sets it"
                            ),
                        );
                    }
                }
            }
        }
        // Loops of nodes that never wait for the user would spin forever.
        for flow in bot.flows.values() {
            for name in &flow.order {
                let mut pos = Position::new(flow.name.clone(), name.clone());
                let mut seen = BTreeSet::new();
                while let Some(node) = bot.node(&pos) {
                    let next = match &node.kind {
                        NodeKind::Message { next: Some(n), .. } => n.clone(),
                        NodeKind::Jump { goto } => goto.clone(),
                        _ => break,
                    };
                    if !seen.insert(pos.clone()) {
                        self.error(
                            Some(node.loc.clone()),
                            Some(format!("{}/{}", flow.name, name)),
                            "these nodes jump to each other without ever waiting for the user",
                        );
                        break;
                    }
                    pos = next;
                }
            }
        }
    }
}

fn raw_text_plain(raw: &RawText) -> Text {
    Text(
        raw.0
            .iter()
            .filter_map(|(k, v)| Lang::parse(k).map(|l| (l, v.clone())))
            .collect(),
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `{name}` references in a text (`{{` is a literal brace; in `{name|text}` the name is before `|`).
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            rest = stripped;
            continue;
        }
        match after.find('}') {
            Some(j) => {
                let name = after[..j].split('|').next().unwrap_or_default();
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    out.push(name.to_string());
                }
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// " (did you mean `x`?)" for the closest name, if any is close.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let best = candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min();
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Compiles a dialog pattern. Patterns run on normalised text (lower case, letters, digits and single
/// spaces), so ASCII classes are tried first: `\w` and `\b` then stay within the fast DFA engines even
/// with counted repetitions like `( \w+){0,9}`, where their Unicode forms make the lazy DFA give up and
/// matching falls back to a much slower engine. A pattern that needs Unicode (e.g. `.` or `[^x]`, which
/// could match part of a character in ASCII mode) is compiled with Unicode. The cost: `\w` does not
/// match letters outside ASCII (Arabic or Chinese script), which no trigger relies on.
pub fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    let build = |unicode: bool| {
        RegexBuilder::new(pattern)
            .case_insensitive(true)
            .unicode(unicode)
            .size_limit(1 << 20)
            .build()
    };
    build(false).or_else(|_| build(true))
}

/// Many patterns scanned at once, each ASCII first on its own like [`compile_pattern`]: a pattern that
/// compiles in ASCII mode joins the set as `(?-u:...)`, and only one that needs Unicode keeps it. (One
/// such pattern, e.g. a `.`, used to turn the whole set Unicode: every `\w` with a counted repetition
/// then became a Unicode class, the set's automaton grew too large for the lazy DFA, and every message
/// was scanned by the slow PikeVM, a quarter of the CPU per reply; issue 16.)
pub fn compile_set(patterns: &[&str]) -> Result<regex::RegexSet, regex::Error> {
    let each: Vec<String> = patterns
        .iter()
        .map(|p| {
            let ascii = RegexBuilder::new(p)
                .case_insensitive(true)
                .unicode(false)
                .size_limit(1 << 20)
                .build();
            match ascii {
                Ok(_) => format!("(?-u:{p})"),
                Err(_) => (*p).to_string(),
            }
        })
        .collect();
    regex::RegexSetBuilder::new(&each)
        .case_insensitive(true)
        .unicode(true)
        .size_limit(64 << 20)
        .build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::fixture::{self, load_with};
    use super::*;

    #[test]
    fn patterns_are_ascii_first_and_fall_back_to_unicode_when_they_need_it() {
        // The fast form: `\w` and `\b` are ASCII, as on normalised text.
        let fast = compile_pattern(r"\b(anak|bojo)\w*( \w+){0,9} (sakit|hilang)\b").unwrap();
        assert!(fast.is_match("anak saya di taiwan sakit"));
        assert!(!fast.is_match("anakku"));
        // `.` could match half a character in ASCII mode: compiled with Unicode, still matches.
        let any = compile_pattern("gaji.belum").unwrap();
        assert!(any.is_match("gaji belum"));
        assert!(any.is_match("gaji—belum"));
        assert!(compile_pattern("(unclosed").is_err());
        let set = compile_set(&[r"\bsakit\b", "a.b"]).unwrap();
        assert_eq!(set.matches("dia sakit").iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(set.matches("aéb").iter().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn one_pattern_that_needs_unicode_leaves_the_others_of_its_set_ascii() {
        // Pattern 1 needs Unicode (`.`); pattern 0 must still read `\w` as ASCII, as it does alone,
        // or the whole set becomes a Unicode automaton too large for the fast engine.
        let alone = compile_pattern(r"^\w+ kerja$").unwrap();
        let set = compile_set(&[r"^\w+ kerja$", "gaji.belum"]).unwrap();
        for text in ["cari kerja", "café kerja", "gaji belum", "gaji—belum"] {
            assert_eq!(set.matches(text).matched(0), alone.is_match(text), "{text}");
        }
        assert!(!set.matches("café kerja").matched(0));
        assert!(set.matches("gaji—belum").matched(1));
    }

    fn errors(replace: &[(&str, &str)]) -> Vec<String> {
        match load_with(replace) {
            Ok((_, warnings)) => panic!("expected errors, got a bot with warnings {warnings:?}"),
            Err(diags) => diags.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn has(errors: &[String], needle: &str) -> bool {
        errors.iter().any(|e| e.contains(needle))
    }

    /// Loads the fixture with `file` replaced by `text` and checks it is refused with every one of
    /// `needles` in some error; returns the errors for further checks.
    fn refused(file: &str, text: &str, needles: &[&str]) -> Vec<String> {
        let errs = errors(&[(file, text)]);
        for needle in needles {
            assert!(has(&errs, needle), "no {needle:?} in {errs:?}");
        }
        errs
    }

    /// Checks that a single error holds every one of `parts`.
    fn assert_one_error_with(errs: &[String], parts: &[&str]) {
        assert!(
            errs.iter().any(|e| parts.iter().all(|p| e.contains(p))),
            "no error with all of {parts:?} in {errs:?}"
        );
    }

    #[test]
    fn the_fixture_loads_cleanly() {
        let (bot, warnings) = load_with(&[]).unwrap();
        assert_eq!(bot.flows.len(), 3);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let broken = "flow: info\nnodes:\n  start:\n    say: { id: \"a\", en: \"b\"\n";
        let errs = errors(&[("info.yaml", broken)]);
        assert_one_error_with(&errs, &["info.yaml:", "error"]);
        let first = errs.iter().find(|e| e.contains("info.yaml")).unwrap();
        let loc: Vec<&str> = first.split(':').collect();
        assert!(
            loc[1].parse::<u32>().unwrap() >= 1 && loc[2].parse::<u32>().unwrap() >= 1,
            "{first}"
        );
    }

    #[test]
    fn a_wrong_indent_or_unknown_key_is_located() {
        let bad = "flow: info\nnodes:\n  start:\n    sya: { id: a, en: b }\n";
        let errs = errors(&[("info.yaml", bad)]);
        assert_one_error_with(&errs, &["info.yaml:4:", "sya"]);
    }

    #[test]
    fn a_dangling_target_suggests_the_closest_name() {
        let main = fixture::MAIN.replace("goto: info", "goto: inof");
        let errs = refused(
            "main.yaml",
            &main,
            &["`inof` is neither a node", "did you mean `info`"],
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with(&format!("{}", std::path::MAIN_SEPARATOR))
                    || e.contains("main.yaml:"))
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let lapor = fixture::LAPOR
            .replace("pattern: '^\\d{1,2}$'", "pattern: '^(\\d'")
            .replace("en: \"Name of the worker?\"", "xx: \"?\"")
            .replace(
                "say: { id: \"Kode {code} untuk {nama}.\", en: \"Code {code} for {nama}.\" }",
                "say: { id: \"Kode {kode}\", en: \"Code {kode}\" }",
            );
        let errs = refused(
            "lapor.yaml",
            &lapor,
            &[
                "not a valid regex",
                "unknown language `xx`",
                "missing the English (`en`) text",
            ],
        );
        assert!(errs.len() >= 3);
    }

    #[test]
    fn variables_used_before_they_are_set() {
        let info = fixture::INFO.replace("Syarat: umur 18.", "Halo {nama}");
        refused("info.yaml", &info, &["variable `{nama}` is used before"]);
    }

    /// An emergency category's `page` names a node that exists, and makes it a place to start.
    #[test]
    fn emergency_page_is_checked_and_resolved() {
        let wrong = fixture::EMERGENCY.replace(
            "    priority: P1\n",
            "    priority: P1\n    page: info.nirgendwo\n",
        );
        refused(
            "_emergency.yaml",
            &wrong,
            &["flow `info` has no node `nirgendwo`"],
        );
        let right = fixture::EMERGENCY.replace(
            "    priority: P1\n",
            "    priority: P1\n    page: info.start\n",
        );
        let (bot, _) = load_with(&[("_emergency.yaml", &right)]).unwrap();
        let pages: Vec<_> = bot.emergency.iter().map(|c| c.page.clone()).collect();
        assert_eq!(pages, vec![Some(Position::new("info", "start")), None]);
    }

    #[test]
    fn unreachable_and_duplicate_nodes() {
        let info = format!("{}  yatim:\n    say: {{ id: a, en: b }}\n", fixture::INFO);
        refused("info.yaml", &info, &["[info/yatim] unreachable node"]);
        let dup = format!("{}  start:\n    say: {{ id: a, en: b }}\n", fixture::INFO);
        let errs = errors(&[("info.yaml", &dup)]);
        assert_one_error_with(&errs, &["duplicate", "start"]);
    }

    #[test]
    fn channel_limits_are_enforced() {
        let long = fixture::MAIN.replace(
            "label: { id: Syarat,",
            "label: { id: Syarat kerja di luar negeri resmi,",
        );
        refused("main.yaml", &long, &["WhatsApp buttons allow 20"]);
        let mut many =
            String::from("flow: main\nnodes:\n  start:\n    say: { id: m, en: m }\n    choices:\n");
        for _ in 0..11 {
            many.push_str("      - label: { id: x, en: x }\n        goto: info\n");
        }
        refused("main.yaml", &many, &["at most 10"]);
        let long_name = fixture::INFO.replace("flow: info", &format!("flow: {}", "i".repeat(70)));
        let errs = errors(&[("info.yaml", &long_name)]);
        assert!(
            has(&errs, "Telegram allows 64") || has(&errs, "neither a node"),
            "{errs:?}"
        );
    }

    #[test]
    fn actions_must_exist_and_cover_every_outcome() {
        let lapor = fixture::LAPOR.replace("action: test.open", "action: test.nope");
        refused("lapor.yaml", &lapor, &["unknown action `test.nope`"]);
        let lapor = fixture::LAPOR.replace("      opened: selesai\n", "      gone: selesai\n");
        refused(
            "lapor.yaml",
            &lapor,
            &["has no outcome `gone`", "can end with `opened`"],
        );
    }

    /// Loads the fixture with `info.yaml` replaced and a facts file beside it.
    fn load_with_facts(info: &str, facts: &str) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
        let dir = tempfile::tempdir().unwrap();
        let mut files = fixture::standard_files();
        files.retain(|(n, _)| *n != "info.yaml");
        files.push(("info.yaml", info));
        fixture::write(dir.path(), &files);
        let config = tempfile::tempdir().unwrap();
        let facts_file = config.path().join("facts.yaml");
        std::fs::write(&facts_file, facts).unwrap();
        let options = LoadOptions {
            facts_file: Some(facts_file),
            ..fixture::options()
        };
        load(dir.path(), &fixture::actions(), &options)
    }

    const UNFILLED: &str =
        "facts:\n  office_phone:\n    source: none\n    confidence: L\n    verify_by: dinas\n";

    #[test]
    fn an_unfilled_fact_loads_without_a_date_and_says_who_verifies_it() {
        let info = fixture::INFO.replace("umur 18.", "umur 18.\nTelepon: {fact.office_phone}");
        let (bot, warnings) = load_with_facts(&info, UNFILLED).unwrap();
        let fact = &bot.facts["office_phone"];
        assert!(fact.is_unfilled());
        assert_eq!(fact.meta.verifier.as_deref(), Some("dinas"));
        assert!(
            !warnings.iter().any(|w| w.message.contains("verified")),
            "an unfilled fact needs no date: {warnings:?}"
        );
    }

    #[test]
    fn an_unfilled_fact_with_a_verified_date_is_refused() {
        let facts = UNFILLED.replace("confidence: L", "verified: 2026-01-01\n    confidence: L");
        let errs = match load_with_facts(fixture::INFO, &facts) {
            Ok(_) => panic!("a placeholder claiming to be verified must be refused"),
            Err(diags) => diags.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        };
        assert_one_error_with(&errs, &["fact.office_phone", "no value is not verified"]);
    }

    #[test]
    fn a_reply_longer_than_a_phone_screen_is_refused() {
        let long = "kata ".repeat(160);
        let info = fixture::INFO.replace("\"Syarat: umur 18.\"", &format!("\"Syarat: {long}\""));
        let errs = refused("info.yaml", &info, &["limit 700"]);
        assert_one_error_with(&errs, &["info/start", "characters in `id`"]);
        // The message nodes a `next` runs through travel in the same message and count together.
        let half = "kata ".repeat(80);
        let chained = format!(
            "flow: info\ntriggers: ['syarat']\nnodes:\n  start:\n    say: {{ id: \"{half}\", en: a }}\n    next: two\n  two:\n    say: {{ id: \"{half}\", en: b }}\n    choices:\n      - label: {{ id: Menu, en: Menu }}\n        goto: main\n"
        );
        let errs = refused("info.yaml", &chained, &["limit 700"]);
        assert_one_error_with(&errs, &["info/start", "characters"]);
        assert!(!has(&errs, "info/two"), "{errs:?}");
    }

    #[test]
    fn a_reply_starting_with_a_blank_line_is_refused() {
        let info = fixture::INFO.replace(
            "say: { id: \"Syarat: umur 18.\", en: \"Requirements: age 18.\" }",
            "say:\n      id: \"\\nSyarat: umur 18.\"\n      en: \"Requirements: age 18.\"",
        );
        refused(
            "info.yaml",
            &info,
            &["info/start", "starts with a blank line"],
        );
    }

    #[test]
    fn stale_and_unsourced_facts_are_warnings() {
        let info = fixture::INFO.replace("verified: 2026-01-01", "verified: 2020-01-01");
        let (_, warnings) = load_with(&[("info.yaml", &info)]).unwrap();
        assert!(
            warnings.iter().any(|w| w.message.contains("days ago")),
            "{warnings:?}"
        );
        let info = fixture::INFO.replace(
            "    fact: { source: \"UU 18/2017\", verified: 2026-01-01, confidence: H }\n",
            "",
        );
        let info = info.replace("umur 18", "umur 18 tahun, biaya Rp 37500");
        let (_, warnings) = load_with(&[("info.yaml", &info)]).unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.message.contains("has no `fact:`")),
            "{warnings:?}"
        );
    }

    #[test]
    fn unbalanced_markup_is_refused_with_its_file_line() {
        let info = fixture::INFO.replace(
            r#"say: { id: "Syarat: umur 18.", en: "Requirements: age 18." }"#,
            "say:\n      id: |\n        Syarat:\n        ketik *lapor untuk melapor\n      en: \"Type *report*.\"",
        );
        let errs = refused("info.yaml", &info, &["opens or closes nothing"]);
        assert_one_error_with(
            &errs,
            &["info.yaml:10:", "`id`", "ketik *lapor untuk melapor"],
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn a_node_of_two_kinds_is_refused() {
        let info = fixture::INFO.replace(
            "    fact:",
            "    ask: { id: a, en: b }\n    save: x\n    choices:\n      - label: { id: a, en: a }\n        goto: main\n    fact:",
        );
        refused("info.yaml", &info, &["a node is one kind"]);
    }

    #[test]
    fn a_photo_node_needs_a_question_and_its_texts() {
        // The fixture's flow with `photo:` loads.
        let (bot, _) = load_with(&[("tawar.yaml", fixture::TAWAR)]).unwrap();
        let tanya = bot.node(&Position::new("tawar", "tanya")).unwrap();
        assert_eq!(tanya.photo, Some(Position::new("tawar", "minta")));
        // `photo:` naming a message, or a question that takes files, is refused with its node.
        let to_message = fixture::TAWAR.replace(
            "    photo: minta\n    choices",
            "    photo: hasil\n    choices",
        );
        let errs = errors(&[("tawar.yaml", &to_message)]);
        assert!(
            has(&errs, "tawar/tanya") && has(&errs, "`photo: hasil` must name a question"),
            "{errs:?}"
        );
        let to_files = fixture::TAWAR.replace(
            "    save: teks\n",
            "    save: teks\n    attachments: true\n",
        );
        assert!(has(
            &errors(&[("tawar.yaml", &to_files)]),
            "must name a question without `attachments`"
        ));
        // The texts that say what happens to the photo must exist once a node reads photos.
        let bot_texts = fixture::BOT.replace("  photo_unreadable:", "  other_text:");
        let errs = errors(&[("tawar.yaml", fixture::TAWAR), ("_bot.yaml", &bot_texts)]);
        assert!(
            has(&errs, "missing bot text `photo_unreadable`"),
            "{errs:?}"
        );
        assert!(
            load_with(&[("_bot.yaml", &bot_texts)]).is_ok(),
            "not needed without `photo:`"
        );
    }

    #[test]
    fn loops_that_never_wait_are_refused() {
        let info = "flow: info\ntriggers: ['syarat']\nnodes:\n  a:\n    say: { id: a, en: a }\n    next: b\n  b:\n    goto: a\n";
        refused("info.yaml", info, &["without ever waiting"]);
    }

    #[test]
    fn a_malformed_labelled_emergency_set_is_a_load_warning_not_a_silent_gap() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), &fixture::standard_files());
        let tests = dir.path().join("tests");
        std::fs::create_dir_all(&tests).unwrap();
        // A good set and a broken one (an unclosed quote, as a hurried edit leaves it).
        std::fs::write(
            tests.join("emergency_a.yaml"),
            "emergency:\n  - \"adik sy dipukul majikan tiap hari\"\nnot_emergency:\n  - \"syarat ke taiwan apa\"\n",
        )
        .unwrap();
        std::fs::write(
            tests.join("emergency_b.yaml"),
            "emergency:\n  - \"ibu sy disekap agen\n  - oops\nnot_emergency: [\n",
        )
        .unwrap();
        let (_, diags) = load(dir.path(), &fixture::actions(), &fixture::options()).unwrap();
        let warned: Vec<String> = diags
            .iter()
            .filter(|d| {
                d.severity == Severity::Warning && d.message.contains("left out of the example")
            })
            .map(|d| d.to_string())
            .collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("emergency_b.yaml"), "{warned:?}");
        // The place, not the text of the message.
        assert!(!warned[0].contains("disekap"), "{warned:?}");
    }

    #[test]
    fn a_binary_file_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = fixture::standard_files();
        files.retain(|(n, _)| *n != "info.yaml");
        fixture::write(dir.path(), &files);
        std::fs::write(dir.path().join("info.yaml"), [0xff, 0xfe, 0x00, 0x12]).unwrap();
        let errs: Vec<String> = load(dir.path(), &fixture::actions(), &fixture::options())
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert!(has(&errs, "not UTF-8"), "{errs:?}");
    }
}
