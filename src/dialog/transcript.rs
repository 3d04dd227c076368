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
use super::model::{Bot, REPLY_MAX_CHARS};
use super::runtime::{StepEnv, step};
use crate::storage::{Channel, UserKey};

/// The share of corpus messages that must reach their flow.
pub const PHRASING_TARGET: f64 = 0.95;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranscript {
    name: String,
    #[serde(default)]
    lang: Option<String>,
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
}

/// The result of one transcript.
#[derive(Debug)]
pub struct TranscriptResult {
    pub file: PathBuf,
    pub name: String,
    /// Empty when it passed.
    pub failures: Vec<String>,
}

/// The result of the phrasing corpus.
#[derive(Debug, Default)]
pub struct PhrasingResult {
    pub total: usize,
    pub correct: usize,
    /// (message, expected flow, reached flow)
    pub misses: Vec<(String, String, String)>,
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
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                report.errors.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let is_corpus = file
            .file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with("phrasing"));
        if is_corpus {
            match serde_saphyr::from_str::<RawPhrasing>(&text) {
                Ok(raw) => {
                    let result = run_phrasing(bot, actions, &raw.phrasing);
                    let merged = report.phrasing.get_or_insert_with(PhrasingResult::default);
                    merged.total += result.total;
                    merged.correct += result.correct;
                    merged.misses.extend(result.misses);
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
            let chars = reply.text.chars().count();
            if chars > REPLY_MAX_CHARS {
                failures.push(format!(
                    "step {} (user: {:?}): a reply of {chars} characters (limit {REPLY_MAX_CHARS}, one phone screen):\n{}",
                    i + 1,
                    turn.user,
                    indent(&reply.text)
                ));
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
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The flow a message reaches when typed by someone who has just seen the main menu.
pub fn flow_reached(bot: &Bot, actions: &Actions, text: &str) -> String {
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
    result.entered.unwrap_or_else(|| "(none)".to_string())
}

pub fn run_phrasing(bot: &Bot, actions: &Actions, cases: &[PhrasingCase]) -> PhrasingResult {
    let mut result = PhrasingResult {
        total: cases.len(),
        ..PhrasingResult::default()
    };
    for case in cases {
        let reached = flow_reached(bot, actions, &case.text);
        if reached == case.flow {
            result.correct += 1;
        } else {
            result
                .misses
                .push((case.text.clone(), case.flow.clone(), reached));
        }
    }
    result
}
