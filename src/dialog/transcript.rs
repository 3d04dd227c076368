//! Conversation tests (`dialogs/tests/*.yaml`) and the phrasing corpus (`dialogs/tests/phrasing.yaml`).
//!
//! Both run the pure step function directly, so they are fast and need no database: a transcript is a
//! list of user messages and the patterns the replies of each turn must (or must not) match; the corpus
//! is a list of realistic messages and the flow each must reach from the main menu.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use super::actions::Actions;
use super::io::{Input, InputKind, Lang, Session};
use super::model::{AlarmTier, Bot, REPLY_MAX_CHARS};
use super::runtime::{StepEnv, step};
use crate::storage::{Channel, UserKey};

/// The share of corpus messages that must reach their flow. A floor set from the last measurement
/// (97.5 % on 2026-11-30), so a regression fails CI; the goal of issue 12 is 85 % answered directly
/// on messages from outside the repository, which this is not.
pub const PHRASING_TARGET: f64 = 0.95;
/// The share of the held-out messages (`dialogs/tests/phrasing_heldout*.yaml`: written as users write,
/// by someone who read neither the triggers nor the examples) that must reach the flow, and the node
/// where one detail is asked, that answers them. A floor from the last measurement (89.2 % of 604 on
/// 2026-11-30; the file written that day and never tuned on, `phrasing_heldout_fresh.yaml`, 88.4 %);
/// issue 12's goal is 85 %.
pub const HELDOUT_TARGET: f64 = 0.87;
/// The files of held-out messages start with this (reported on their own, file by file too; the
/// example matcher is measured on them and must never have one of them as an example).
pub const HELDOUT_STEM: &str = "phrasing_heldout";
/// Labelled emergency messages kept unseen: reported by `pandu check`, never tuned on, not gated.
pub const UNSEEN_EMERGENCY_STEM: &str = "unseen_emergency";
/// Every labelled emergency must raise the alarm...
pub const EMERGENCY_RECALL_TARGET: f64 = 1.0;
/// ...and at most this share of the labelled non-emergencies may.
pub const FALSE_ALARM_TARGET: f64 = 0.02;

/// The share of the labelled emergencies the example detector alone must catch in cross-validation
/// (each fold scored by a detector trained on the others). A floor from the last measurement (emfa:
/// 91.5 % with the cue features at threshold 0.50; was 86.6 % at 0.75 without them).
pub const EXAMPLE_CV_RECALL_FLOOR: f64 = 0.90;

/// `dialogs/tests/emergency*.yaml`: messages labelled emergency (the numbers must show at once) or not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergencySet {
    #[serde(default)]
    emergency: Vec<String>,
    #[serde(default)]
    not_emergency: Vec<String>,
}

/// How the emergency words did on the labelled set.
#[derive(Debug, Default)]
pub struct EmergencyResult {
    pub emergencies: usize,
    pub caught: usize,
    pub others: usize,
    /// Messages that raise the alarm but are labelled not an emergency, with the category.
    pub false_alarms: Vec<(String, String)>,
    /// Emergencies that did not raise the alarm, with the lower-priority category seen if any.
    pub missed: Vec<(String, String)>,
    /// Of `caught` and of `false_alarms`, how many the example detector raised (the rest are the
    /// regexes').
    pub caught_examples: usize,
    pub false_alarms_examples: usize,
    /// Priority-1 regex alarms the second look quieted, on emergencies and on the others.
    pub quieted_emergencies: usize,
    pub quieted_others: usize,
}

impl EmergencyResult {
    pub fn recall(&self) -> f64 {
        if self.emergencies == 0 {
            1.0
        } else {
            self.caught as f64 / self.emergencies as f64
        }
    }

    /// The figures by tier: "caught: regex tier N, detector M; false alarms: regex tier N, detector
    /// M; second look quieted N emergencies, M others" (counts only).
    pub fn tiers(&self) -> String {
        format!(
            "caught: regex tier {}, detector {}; false alarms: regex tier {}, detector {}; second look quieted {} emergencies, {} others",
            self.caught - self.caught_examples,
            self.caught_examples,
            self.false_alarms.len() - self.false_alarms_examples,
            self.false_alarms_examples,
            self.quieted_emergencies,
            self.quieted_others,
        )
    }

    pub fn false_alarm_rate(&self) -> f64 {
        if self.others == 0 {
            0.0
        } else {
            self.false_alarms.len() as f64 / self.others as f64
        }
    }

    pub fn passed(&self) -> bool {
        self.recall() >= EMERGENCY_RECALL_TARGET && self.false_alarm_rate() <= FALSE_ALARM_TARGET
    }
}

/// Runs the labelled emergency set: an alarm is a priority-1 category (the one that shows the
/// emergency numbers), found exactly as the step finds it (regexes, then the example detector).
pub fn run_emergency(bot: &Bot, emergency: &[String], others: &[String]) -> EmergencyResult {
    let mut result = EmergencyResult {
        emergencies: emergency.len(),
        others: others.len(),
        ..EmergencyResult::default()
    };
    // Named "category (examples)" when only the example detector raised it.
    let alarm = |text: &str| {
        let norm = super::normalize::normalize(&super::runtime::clean_text(text), &bot.lexicon);
        let (category, tier) = bot.emergency_verdict(&norm);
        let by_examples = tier == AlarmTier::Examples;
        let alarm = category.map(|c| {
            let name = if by_examples && c.priority == 1 {
                format!("{} (examples)", c.name)
            } else {
                c.name.clone()
            };
            (c.priority == 1, name)
        });
        (alarm, by_examples, tier == AlarmTier::Quieted)
    };
    for text in emergency {
        let (hit, by_examples, quieted) = alarm(text);
        result.quieted_emergencies += usize::from(quieted);
        match hit {
            Some((true, _)) => {
                result.caught += 1;
                result.caught_examples += usize::from(by_examples);
            }
            Some((false, name)) => result.missed.push((text.clone(), name)),
            None if quieted => result.missed.push((text.clone(), "(quieted)".into())),
            None => result.missed.push((text.clone(), "-".into())),
        }
    }
    for text in others {
        let (hit, by_examples, quieted) = alarm(text);
        result.quieted_others += usize::from(quieted);
        if let Some((true, name)) = hit {
            result.false_alarms.push((text.clone(), name));
            result.false_alarms_examples += usize::from(by_examples);
        }
    }
    result
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranscript {
    name: String,
    #[serde(default)]
    lang: Option<String>,
    /// Accepted and ignored: every transcript now fails on a reply over one phone screen (this once
    /// asked for that per file; branches written before still carry it).
    #[serde(default, rename = "fit_screen")]
    _fit_screen: bool,
    steps: Vec<RawTurn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    user: String,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    not: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhrasing {
    phrasing: Vec<PhrasingCase>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhrasingCase {
    pub text: String,
    pub flow: String,
    /// The node that answers, when the message asks about one detail.
    #[serde(default)]
    pub node: Option<String>,
    /// `id` unless written in another language (for the per-language figures).
    #[serde(default)]
    pub lang: Option<String>,
}

/// The accuracy of the example matcher alone on the held-out messages must reach this (a floor from
/// the last measurement: 82.8 % of 604 held-out messages on 2026-11-30)...
pub const MATCHER_TARGET: f64 = 0.80;
/// ...and the k-fold cross-validation of the examples this (measured 60.0 % of 1,839 examples).
pub const CROSS_VALIDATION_TARGET: f64 = 0.57;
/// Folds of the cross-validation.
pub const FOLDS: usize = 5;

/// The example matcher on the phrasing corpus, which it never trains on.
#[derive(Debug, Default)]
pub struct MatcherResult {
    pub total: usize,
    /// Top-1 target right (flow, and node where the case names one).
    pub correct: usize,
    pub confident: usize,
    pub unsure: usize,
    pub poor: usize,
    /// (flow, lang) → (correct, total)
    pub by_flow_lang: std::collections::BTreeMap<(String, String), (usize, usize)>,
    /// (wanted, got) → count
    pub confusion: std::collections::BTreeMap<(String, String), usize>,
    /// Corpus messages that are also examples (the held-out set must not leak into training).
    pub leaked: Vec<String>,
    pub cross_validation: (usize, usize),
}

impl MatcherResult {
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.total)
    }

    pub fn cross_validation_accuracy(&self) -> f64 {
        ratio(self.cross_validation.0, self.cross_validation.1)
    }

    pub fn passed(&self) -> bool {
        self.leaked.is_empty()
            && self.accuracy() >= MATCHER_TARGET
            && self.cross_validation_accuracy() >= CROSS_VALIDATION_TARGET
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The corpus messages that are also examples.
fn leaks(bot: &Bot, cases: &[PhrasingCase]) -> Vec<String> {
    let trained: std::collections::BTreeSet<&str> = bot
        .matcher
        .examples
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    cases
        .iter()
        .filter(|c| trained.contains(super::normalize::normalize(&c.text, &bot.lexicon).as_str()))
        .map(|c| c.text.clone())
        .collect()
}

/// Runs the matcher alone on the corpus: its best target against the expected flow (and node).
pub fn run_matcher(bot: &Bot, cases: &[PhrasingCase]) -> MatcherResult {
    use super::matcher::Verdict;
    let m = &bot.matcher;
    let mut result = MatcherResult {
        total: cases.len(),
        cross_validation: m.cross_validate(FOLDS),
        ..MatcherResult::default()
    };
    let trained: std::collections::BTreeSet<&str> =
        m.examples.iter().map(|e| e.text.as_str()).collect();
    for case in cases {
        let norm = super::normalize::normalize(&case.text, &bot.lexicon);
        if trained.contains(norm.as_str()) {
            result.leaked.push(case.text.clone());
        }
        match m.classify(&norm) {
            Verdict::Confident(_) => result.confident += 1,
            Verdict::Unsure(_) => result.unsure += 1,
            Verdict::Poor => result.poor += 1,
        }
        let got = m
            .rank(&norm)
            .first()
            .and_then(|(t, _)| m.targets.get(*t))
            .map(|t| t.position.clone());
        let right = got.as_ref().is_some_and(|p| {
            p.flow == case.flow && case.node.as_ref().is_none_or(|n| *n == p.node)
        });
        let lang = case.lang.clone().unwrap_or_else(|| "id".into());
        let cell = result
            .by_flow_lang
            .entry((case.flow.clone(), lang))
            .or_insert((0, 0));
        cell.1 += 1;
        if right {
            cell.0 += 1;
            result.correct += 1;
        } else {
            let want = match &case.node {
                Some(n) => format!("{}.{n}", case.flow),
                None => case.flow.clone(),
            };
            let got = got
                .map(|p| format!("{}.{}", p.flow, p.node))
                .unwrap_or_else(|| "(none)".into());
            *result.confusion.entry((want, got)).or_insert(0) += 1;
        }
    }
    result
}

/// The result of one transcript.
#[derive(Debug)]
pub struct TranscriptResult {
    pub file: PathBuf,
    pub name: String,
    /// Empty when it passed.
    pub failures: Vec<String>,
    /// The longest reply of each language (the session's language after the step), as a phone shows
    /// it ([`screen_chars`]): (characters, "step N (user: ...)").
    pub longest: std::collections::BTreeMap<Lang, (usize, String)>,
}

/// The result of the phrasing corpus.
#[derive(Debug, Default)]
pub struct PhrasingResult {
    pub total: usize,
    pub correct: usize,
    /// (message, expected flow, reached flow)
    pub misses: Vec<(String, String, String)>,
    /// language → (reached, total)
    pub by_lang: std::collections::BTreeMap<String, (usize, usize)>,
}

impl PhrasingResult {
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Everything found in `dialogs/tests/`.
#[derive(Debug, Default)]
pub struct TestReport {
    pub transcripts: Vec<TranscriptResult>,
    pub phrasing: Option<PhrasingResult>,
    /// The held-out messages (`phrasing_heldout*.yaml`), reported on their own.
    pub heldout: Option<PhrasingResult>,
    /// Each held-out file: its name, how many reached their answer, and how many it has.
    pub heldout_files: Vec<(String, usize, usize)>,
    /// The held-out cases, for the matcher's figures (it never trains on them).
    pub corpus: Vec<PhrasingCase>,
    /// The other phrasing cases, checked too for leaks into the examples.
    pub other_corpus: Vec<PhrasingCase>,
    pub emergency: Option<EmergencyResult>,
    /// `unseen_emergency*.yaml`: labelled messages no one has tuned the emergency words on. Their
    /// figures measure how the words generalise to messages from outside; they are printed, not
    /// held to the targets (tuning on them would spend them).
    pub emergency_unseen: Option<EmergencyResult>,
    /// k-fold cross-validation of the example-based emergency detector on its labelled examples.
    pub emergency_cv: Option<super::emergency::CrossValidation>,
    /// k-fold cross-validation of the second look at the regex alarms, at the bot's threshold.
    pub second_look_cv: Option<super::emergency::SecondLookCv>,
    /// Files that could not be read or parsed.
    pub errors: Vec<String>,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
            && self.transcripts.iter().all(|t| t.failures.is_empty())
            && self
                .phrasing
                .as_ref()
                .is_none_or(|p| p.accuracy() >= PHRASING_TARGET)
            && self
                .heldout
                .as_ref()
                .is_none_or(|p| p.accuracy() >= HELDOUT_TARGET)
            && self.emergency.as_ref().is_none_or(EmergencyResult::passed)
            // The example part and regex OR examples (the regex alarms the held-out second look
            // leaves) both within the detector's budget. (The held-out labelled sets, which keep
            // the regex false alarms they were measured with, are not in the folds.)
            && self.emergency_cv.as_ref().is_none_or(|cv| {
                cv.false_alarm_rate_examples() <= super::emergency::CV_FALSE_ALARM_BUDGET
                    && cv.false_alarm_rate_combined() <= super::emergency::CV_FALSE_ALARM_BUDGET
                    && cv.recall_examples() >= EXAMPLE_CV_RECALL_FLOOR
            })
            && self.second_look_cv.as_ref().is_none_or(|cv| cv.passed())
    }

    /// The matcher's figures on the corpus (None without examples or corpus).
    pub fn matcher(&self, bot: &Bot) -> Option<MatcherResult> {
        if bot.matcher.is_empty() || self.corpus.is_empty() {
            return None;
        }
        let mut result = run_matcher(bot, &self.corpus);
        result.leaked.extend(leaks(bot, &self.other_corpus));
        Some(result)
    }
}

/// Runs every test file in `dir` (usually `dialogs/tests`). A missing folder is an empty report.
pub fn run_dir(dir: &Path, bot: &Bot, actions: &Actions) -> TestReport {
    let mut report = TestReport::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let examples = super::loader::emergency_labelled(dir, bot);
    if examples.iter().any(|e| e.labelled) {
        let cv = super::emergency::cross_validate(
            &examples,
            super::emergency::FOLDS,
            super::emergency::THRESHOLD,
        );
        report.second_look_cv = Some(cv.second_look.clone());
        report.emergency_cv = Some(cv);
    }
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                report.errors.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let unseen = stem.starts_with(UNSEEN_EMERGENCY_STEM);
        if stem.starts_with("emergency") || unseen {
            match serde_saphyr::from_str::<RawEmergencySet>(&text) {
                Ok(raw) => {
                    let r = run_emergency(bot, &raw.emergency, &raw.not_emergency);
                    let merged = if unseen {
                        &mut report.emergency_unseen
                    } else {
                        &mut report.emergency
                    }
                    .get_or_insert_with(EmergencyResult::default);
                    merged.emergencies += r.emergencies;
                    merged.caught += r.caught;
                    merged.others += r.others;
                    merged.false_alarms.extend(r.false_alarms);
                    merged.missed.extend(r.missed);
                    merged.caught_examples += r.caught_examples;
                    merged.false_alarms_examples += r.false_alarms_examples;
                    merged.quieted_emergencies += r.quieted_emergencies;
                    merged.quieted_others += r.quieted_others;
                }
                Err(e) => report.errors.push(located(&file, &e)),
            }
            continue;
        }
        let is_corpus = file
            .file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with("phrasing"));
        if is_corpus {
            match serde_saphyr::from_str::<RawPhrasing>(&text) {
                Ok(raw) => {
                    // `phrasing_heldout.yaml` and every later blind set (`phrasing_heldout_*.yaml`).
                    let heldout = file
                        .file_stem()
                        .is_some_and(|s| s.to_string_lossy().starts_with(HELDOUT_STEM));
                    if heldout {
                        report.corpus.extend(raw.phrasing.iter().cloned());
                    } else {
                        report.other_corpus.extend(raw.phrasing.iter().cloned());
                    }
                    let result = run_phrasing(bot, actions, &raw.phrasing);
                    if heldout {
                        let stem = file
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        report
                            .heldout_files
                            .push((stem, result.correct, result.total));
                    }
                    let merged = if heldout {
                        report.heldout.get_or_insert_with(PhrasingResult::default)
                    } else {
                        report.phrasing.get_or_insert_with(PhrasingResult::default)
                    };
                    merged.total += result.total;
                    merged.correct += result.correct;
                    merged.misses.extend(result.misses);
                    for (lang, (ok, n)) in result.by_lang {
                        let cell = merged.by_lang.entry(lang).or_insert((0, 0));
                        cell.0 += ok;
                        cell.1 += n;
                    }
                }
                Err(e) => report.errors.push(located(&file, &e)),
            }
            continue;
        }
        match serde_saphyr::from_str::<RawTranscript>(&text) {
            Ok(raw) => report
                .transcripts
                .push(run_transcript(&file, bot, actions, &raw)),
            Err(e) => report.errors.push(located(&file, &e)),
        }
    }
    report
}

fn located(file: &Path, e: &serde_saphyr::Error) -> String {
    let message = e.without_snippet().to_string();
    let message = message.lines().next().unwrap_or("invalid YAML").to_string();
    match e.location() {
        Some(l) => format!("{}:{}:{}: {message}", file.display(), l.line(), l.column()),
        None => format!("{}: {message}", file.display()),
    }
}

fn test_user() -> UserKey {
    UserKey::new(Channel::Console, "transcript")
}

fn run_transcript(
    file: &Path,
    bot: &Bot,
    actions: &Actions,
    raw: &RawTranscript,
) -> TranscriptResult {
    let mut failures = Vec::new();
    let mut longest = std::collections::BTreeMap::new();
    let user = test_user();
    let lang = raw
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default();
    let mut session = Session {
        lang,
        ..Session::default()
    };
    let mut now = 1_700_000_000u64;
    for (i, turn) in raw.steps.iter().enumerate() {
        now += 5;
        let env = StepEnv {
            now,
            seed: 0x5eed_0000 + i as u64,
            idle_secs: 12 * 3600,
            user: &user,
        };
        let input = Input {
            kind: InputKind::Text(turn.user.clone()),
            at: now,
        };
        let result = step(bot, actions, session, &input, &env);
        session = result.session;
        for reply in &result.replies {
            // Every reply fits a phone screen, whatever its variables hold (an agency record, the
            // emergency numbers for a country, the findings of an offer): a longer one fails.
            let chars = screen_chars(reply);
            let at = format!("step {} (user: {:?})", i + 1, turn.user);
            if chars > REPLY_MAX_CHARS {
                failures.push(format!(
                    "{at}: a reply of {chars} characters, over one phone screen ({REPLY_MAX_CHARS}): shorten it or put the details behind a \"Selengkapnya\" choice:\n{}",
                    indent(&screen_text(reply))
                ));
            }
            let slot = longest.entry(session.lang).or_insert((0, String::new()));
            if chars > slot.0 {
                *slot = (chars, at);
            }
            if reply
                .text
                .lines()
                .next()
                .is_some_and(|l| l.trim().is_empty())
                && !reply.text.is_empty()
            {
                failures.push(format!(
                    "step {} (user: {:?}): a reply starts with a blank line:\n{}",
                    i + 1,
                    turn.user,
                    indent(&reply.text)
                ));
            }
        }
        let shown: String = result
            .replies
            .iter()
            .map(|r| {
                let mut s = r.text.clone();
                for (n, c) in r.choices.iter().enumerate() {
                    s.push_str(&format!("\n{}. {}", n + 1, c.label));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("\n---\n");
        for pattern in &turn.expect {
            match Regex::new(&format!("(?is){pattern}")) {
                Ok(re) if re.is_match(&shown) => {}
                Ok(_) => failures.push(format!(
                    "step {} (user: {:?}): expected /{pattern}/ in the replies:\n{}",
                    i + 1,
                    turn.user,
                    indent(&shown)
                )),
                Err(e) => failures.push(format!("step {}: bad regex /{pattern}/: {e}", i + 1)),
            }
        }
        for pattern in &turn.not {
            match Regex::new(&format!("(?is){pattern}")) {
                Ok(re) if re.is_match(&shown) => failures.push(format!(
                    "step {} (user: {:?}): /{pattern}/ must not appear, but the replies were:\n{}",
                    i + 1,
                    turn.user,
                    indent(&shown)
                )),
                Ok(_) => {}
                Err(e) => failures.push(format!("step {}: bad regex /{pattern}/: {e}", i + 1)),
            }
        }
    }
    TranscriptResult {
        file: file.to_path_buf(),
        name: raw.name.clone(),
        failures,
        longest,
    }
}

/// One emergency message as the step builds it for a country and a language.
#[derive(Debug)]
pub struct EmergencyMessage {
    pub lang: Lang,
    /// The country as typed (`negara`); empty for one the contacts do not know.
    pub country: String,
    /// Whether a report was being taken (`emergency_in_report`).
    pub in_report: bool,
    pub text: String,
}

/// The emergency message for every country in `countries` (one name each, as users type it; add ""
/// for a country the contacts do not know), in every language of the bot, with and without a report
/// being taken: the numbers differ by country and the wording by language, so each must fit a phone
/// screen on its own (`pandu check` fails on one that does not).
pub fn emergency_messages(
    bot: &Bot,
    actions: &Actions,
    countries: &[String],
) -> Vec<EmergencyMessage> {
    let user = test_user();
    let env = StepEnv {
        now: 1_700_000_000,
        seed: 1,
        idle_secs: 12 * 3600,
        user: &user,
    };
    // Where a report waits for an answer: the first question of a flow that files a case (a
    // question, not a menu, so the check does not depend on the flow's first choice).
    let report_question = bot.flow_order.iter().find_map(|name| {
        let flow = bot.flows.get(name)?;
        if !super::runtime::files_a_case(bot, name) {
            return None;
        }
        flow.order.iter().find_map(|node| {
            matches!(
                flow.nodes.get(node).map(|n| &n.kind),
                Some(super::model::NodeKind::Question(_))
            )
            .then(|| super::io::Position::new(name.clone(), node.clone()))
        })
    });
    let mut out = Vec::new();
    for &lang in &bot.languages {
        for country in countries {
            for in_report in [false, true] {
                let position = if in_report {
                    match &report_question {
                        Some(p) => Some(p.clone()),
                        None => continue,
                    }
                } else {
                    None
                };
                let mut session = Session {
                    lang,
                    lang_chosen: true,
                    last_seen: env.now,
                    position,
                    ..Session::default()
                };
                session.vars.insert("negara".into(), country.clone());
                if let Some(text) = super::runtime::emergency_message(bot, actions, session, &env) {
                    out.push(EmergencyMessage {
                        lang,
                        country: country.clone(),
                        in_report,
                        text,
                    });
                }
            }
        }
    }
    out
}

/// A reply as a phone shows it when its choices are not buttons: the text, then the choices as a
/// numbered list when there are more than a WhatsApp list holds (WhatsApp sends them as text; the
/// console always does). Buttons and list rows are not counted: they sit outside the text.
pub fn screen_text(reply: &super::io::Reply) -> String {
    let mut text = reply.text.trim_end().to_string();
    if reply.choices.len() > crate::channels::whatsapp::render::MAX_LIST_ROWS {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let lines: Vec<String> = reply
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| crate::channels::console::numbered(i + 1, &c.label))
            .collect();
        text.push_str(&lines.join("\n"));
    }
    text
}

/// The characters of [`screen_text`].
pub fn screen_chars(reply: &super::io::Reply) -> usize {
    screen_text(reply).chars().count()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The flow a message reaches when typed by someone who has just seen the main menu.
pub fn flow_reached(bot: &Bot, actions: &Actions, text: &str) -> String {
    reached(bot, actions, text).0
}

/// The flow and the first node a message reaches from the main menu.
pub fn reached(bot: &Bot, actions: &Actions, text: &str) -> (String, String) {
    let user = test_user();
    let now = 1_700_000_000u64;
    // Someone who has just seen the main menu: its labels and numbers count as answers too.
    let session = Session {
        last_seen: now - 10,
        position: Some(bot.start_position()),
        ..Session::default()
    };
    let env = StepEnv {
        now,
        seed: 1,
        idle_secs: 12 * 3600,
        user: &user,
    };
    let input = Input {
        kind: InputKind::Text(text.to_string()),
        at: now,
    };
    let result = step(bot, actions, session, &input, &env);
    (
        result.entered.unwrap_or_else(|| "(none)".to_string()),
        result.entered_at.map(|p| p.node).unwrap_or_default(),
    )
}

pub fn run_phrasing(bot: &Bot, actions: &Actions, cases: &[PhrasingCase]) -> PhrasingResult {
    let mut result = PhrasingResult {
        total: cases.len(),
        ..PhrasingResult::default()
    };
    for case in cases {
        let (flow, node) = reached(bot, actions, &case.text);
        let cell = result
            .by_lang
            .entry(case.lang.clone().unwrap_or_else(|| "id".into()))
            .or_insert((0, 0));
        cell.1 += 1;
        if flow == case.flow && case.node.as_ref().is_none_or(|n| *n == node) {
            cell.0 += 1;
            result.correct += 1;
        } else {
            let want = match &case.node {
                Some(n) => format!("{}.{n}", case.flow),
                None => case.flow.clone(),
            };
            result
                .misses
                .push((case.text.clone(), want, format!("{flow}.{node}")));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(steps: &[&str]) -> TestReport {
        let bot = super::super::fixture::bot();
        let actions = super::super::fixture::actions();
        let dir = tempfile::tempdir().unwrap();
        let steps: String = steps.iter().map(|s| format!("  - user: {s:?}\n")).collect();
        std::fs::write(
            dir.path().join("panjang.yaml"),
            format!("name: panjang\nsteps:\n{steps}"),
        )
        .unwrap();
        run_dir(dir.path(), &bot, &actions)
    }

    #[test]
    fn a_reply_over_one_phone_screen_fails_its_transcript_naming_step_and_length() {
        // The question echoes the name typed: a name pasted 750 characters long makes it too long.
        let long = "Siti Aminah binti Abdullah ".repeat(28);
        let report = run(&["lapor", long.trim()]);
        assert!(!report.passed());
        let failures = &report.transcripts[0].failures;
        assert!(
            failures.iter().any(|f| f.starts_with("step 2 (user: ")
                && f.contains(&format!(
                    "a reply of {} characters",
                    long.trim().chars().count() + 6
                ))
                && f.contains(&format!("over one phone screen ({REPLY_MAX_CHARS})"))),
            "{failures:?}"
        );
        let (chars, at) = &report.transcripts[0].longest[&Lang::Id];
        assert!(
            *chars > REPLY_MAX_CHARS && at.starts_with("step 2"),
            "{chars} {at}"
        );
        // The same conversation with a name of normal length passes.
        let report = run(&["lapor", "Siti Aminah"]);
        assert!(report.passed(), "{:?}", report.transcripts[0].failures);
    }

    #[test]
    fn unseen_emergency_sets_are_measured_apart_and_do_not_gate() {
        let bot = super::super::fixture::bot();
        let actions = super::super::fixture::actions();
        let dir = tempfile::tempdir().unwrap();
        let set = "emergency:\n  - \"adik sy dipukul majikan\"\n  - \"hp nya diambil, cuma bisa chat diam2\"\nnot_emergency:\n  - \"gaji di taiwan brp\"\n";
        std::fs::write(dir.path().join("unseen_emergency_x.yaml"), set).unwrap();
        let report = run_dir(dir.path(), &bot, &actions);
        let unseen = report.emergency_unseen.as_ref().unwrap();
        assert_eq!((unseen.caught, unseen.emergencies), (1, 2));
        // The fixture has no detector: the one caught is the regexes'.
        assert_eq!(
            (unseen.caught_examples, unseen.false_alarms_examples),
            (0, 0)
        );
        assert!(
            unseen
                .tiers()
                .starts_with("caught: regex tier 1, detector 0;")
        );
        assert!(report.emergency.is_none());
        assert!(report.passed(), "an unseen set measures, it does not gate");
        // The same messages as a tuned set gate the check: the miss fails it.
        std::fs::write(dir.path().join("emergency_x.yaml"), set).unwrap();
        let report = run_dir(dir.path(), &bot, &actions);
        assert_eq!(report.emergency.as_ref().unwrap().caught, 1);
        assert!(!report.passed());
    }

    #[test]
    fn a_text_list_of_choices_counts_where_whatsapp_sends_it_as_text() {
        let choice = |n: usize| super::super::io::Choice {
            id: format!("f/n/{n}"),
            label: format!("Pilihan nomor {n}"),
        };
        let few = super::super::io::Reply {
            text: "Pilih:".into(),
            choices: (1..=10).map(choice).collect(),
        };
        // Ten choices are a WhatsApp list (rows outside the text): the text alone counts.
        assert_eq!(screen_chars(&few), "Pilih:".chars().count());
        let many = super::super::io::Reply {
            text: "Pilih:".into(),
            choices: (1..=11).map(choice).collect(),
        };
        let shown = screen_text(&many);
        assert!(
            shown.starts_with("Pilih:\n\n1. Pilihan nomor 1\n"),
            "{shown}"
        );
        assert!(shown.ends_with("11. Pilihan nomor 11"), "{shown}");
    }
}
