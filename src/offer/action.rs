//! The dialog actions of "Cek tawaran kerja", and how findings are put into words (all words from
//! `dialogs/_offer_rules.yaml`).
//!
//! | action | reads | sets | outcomes |
//! |---|---|---|---|
//! | `offer.detect` | `_trigger_text` (the message that opened the flow) | `offer_text` | `offer` (it looks like a pasted offer: kept in `offer_text`), `ask` |
//! | `offer.check` | `offer_text` | `offer_level`, `offer_verdict`, `offer_findings` (the short list), `offer_page` (0) | `none`, `some`, `strong`, `empty` |
//! | `offer.more` | `offer_text`, `offer_page` | `offer_page` (+1), `offer_page_text` (that page of full findings) | `more` (pages left), `last`, `empty` |
//! | `offer.report` | `offer_text` | `tawaran_teks`, `tawaran_temuan`, `tawaran_putusan` (the case's fields) | `ok`, `empty` |
//!
//! Invariants: the verdict is never "safe"; the registry is read through the live handle at each run
//! (an import is seen at once); actions only read, a report is opened by `case.open`.

use std::sync::Arc;

use super::analyse::{Analysis, Finding, Lookup, analyse, looks_like_offer};
use super::rules::OfferRules;
use crate::cases::texts::fill;
use crate::dialog::{Action, ActionCall, ActionResult, Actions, Lang};
use crate::registry::Registry;

pub const TEXT: &str = "offer_text";
pub const LEVEL: &str = "offer_level";
pub const VERDICT: &str = "offer_verdict";
pub const FINDINGS: &str = "offer_findings";
/// The page of full findings shown last by `offer.more` (0: none yet), and its text.
pub const PAGE: &str = "offer_page";
pub const PAGE_TEXT: &str = "offer_page_text";

/// Registers `offer.detect`, `offer.check`, `offer.more` and `offer.report`.
pub fn register_actions(actions: &mut Actions, rules: Arc<OfferRules>, registry: Option<Registry>) {
    let shared = Arc::new(Shared { rules, registry });
    actions.register("offer.detect", Arc::new(Detect(shared.clone())));
    actions.register("offer.check", Arc::new(Check(shared.clone())));
    actions.register("offer.more", Arc::new(More(shared.clone())));
    actions.register("offer.report", Arc::new(Report(shared)));
}

struct Shared {
    rules: Arc<OfferRules>,
    registry: Option<Registry>,
}

impl Shared {
    fn analyse(&self, text: &str) -> Analysis {
        match &self.registry {
            Some(registry) => {
                let index = registry.current();
                analyse(&self.rules, Some(&*index as &dyn Lookup), text)
            }
            None => analyse(&self.rules, None, text),
        }
    }
}

/// One finding's texts in the user's language: (mark, title, excerpt, why, cite). The texts are
/// authored markup; what comes from the offer (names, numbers, the excerpt) is escaped so it shows
/// literally.
fn parts(
    rules: &OfferRules,
    a: &Analysis,
    f: &Finding,
    lang: Lang,
) -> Option<(String, String, String, String, String)> {
    let sign = rules.sign(&f.key)?;
    let escape = crate::dialog::markup::escape;
    let vars: Vec<(&str, String)> = values(rules, f, a, lang)
        .into_iter()
        .map(|(k, v)| (k, escape(&v)))
        .collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let excerpt = f
        .excerpt
        .as_deref()
        .map(|t| fill(rules.excerpt.get(lang), &[("text", &escape(t))]))
        .unwrap_or_default();
    let mark = rules
        .marks
        .get(f.weight.code())
        .cloned()
        .unwrap_or_default();
    Some((
        mark,
        fill(sign.title.get(lang), &vars),
        excerpt,
        fill(sign.why.get(lang), &vars),
        sign.cite.clone(),
    ))
}

/// One finding in full: its words, why it matters, its source.
fn block(rules: &OfferRules, a: &Analysis, f: &Finding, lang: Lang) -> Option<String> {
    let (mark, title, excerpt, why, cite) = parts(rules, a, f, lang)?;
    Some(fill(
        rules.finding.get(lang),
        &[
            ("mark", &mark),
            ("title", &title),
            ("excerpt", &excerpt),
            ("why", &why),
            ("cite", &cite),
        ],
    ))
}

/// One finding on one line: its words and its source.
fn short(rules: &OfferRules, a: &Analysis, f: &Finding, lang: Lang) -> Option<String> {
    let (mark, title, excerpt, _, cite) = parts(rules, a, f, lang)?;
    Some(fill(
        rules.pages.short.get(lang),
        &[
            ("mark", &mark),
            ("title", &title),
            ("excerpt", &excerpt),
            ("cite", &cite),
        ],
    ))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Every finding in full, one block each, strongest first (all on one text: for tests and tools; the
/// chat shows [`top_findings`] and [`finding_pages`]).
pub fn render_findings(rules: &OfferRules, a: &Analysis, lang: Lang) -> String {
    if a.findings.is_empty() {
        return rules.no_findings.get(lang).to_string();
    }
    let blocks: Vec<String> = a
        .findings
        .iter()
        .filter_map(|f| block(rules, a, f, lang))
        .collect();
    blocks.join("\n\n")
}

/// The result's short list: the strongest findings, one line each, as many as fit in
/// `pages.top_chars` for the verdict (at least one), then how many are left (`pages.more`) or `pages.all_shown`.
pub fn top_findings(rules: &OfferRules, a: &Analysis, lang: Lang) -> String {
    if a.findings.is_empty() {
        return rules.no_findings.get(lang).to_string();
    }
    let budget = rules
        .pages
        .top_chars
        .get(a.level().code())
        .copied()
        .unwrap_or(0);
    let mut lines: Vec<String> = Vec::new();
    let mut used = 0;
    for f in &a.findings {
        let Some(line) = short(rules, a, f, lang) else {
            continue;
        };
        let n = chars(&line) + 1;
        if !lines.is_empty() && used + n > budget {
            break;
        }
        used += n;
        lines.push(line);
    }
    let left = a.findings.len().saturating_sub(lines.len());
    let tail = if left > 0 {
        fill(rules.pages.more.get(lang), &[("n", &left.to_string())])
    } else {
        rules.pages.all_shown.get(lang).to_string()
    };
    lines.push(tail);
    lines.join("\n")
}

/// Every finding in full, in pages of at most `pages.page_chars` (a finding longer than that is a
/// page of its own), each under `pages.head`.
pub fn finding_pages(rules: &OfferRules, a: &Analysis, lang: Lang) -> Vec<String> {
    let blocks: Vec<String> = a
        .findings
        .iter()
        .filter_map(|f| block(rules, a, f, lang))
        .collect();
    if blocks.is_empty() {
        return vec![rules.no_findings.get(lang).to_string()];
    }
    // The head's own length, with the widest page numbers it can show.
    let most = blocks.len().to_string();
    let head_chars = chars(&fill(
        rules.pages.head.get(lang),
        &[("page", &most), ("pages", &most)],
    )) + 2;
    let budget = rules.pages.page_chars.saturating_sub(head_chars);
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut used = 0;
    for b in blocks {
        let n = chars(&b) + 2;
        match pages.last_mut() {
            Some(page) if used + n <= budget => {
                used += n;
                page.push(b);
            }
            _ => {
                used = n;
                pages.push(vec![b]);
            }
        }
    }
    let total = pages.len().to_string();
    pages
        .iter()
        .enumerate()
        .map(|(i, blocks)| {
            let head = fill(
                rules.pages.head.get(lang),
                &[("page", &(i + 1).to_string()), ("pages", &total)],
            );
            format!("{head}\n\n{}", blocks.join("\n\n"))
        })
        .collect()
}

fn values(
    rules: &OfferRules,
    f: &Finding,
    a: &Analysis,
    lang: Lang,
) -> Vec<(&'static str, String)> {
    let mut vars: Vec<(&'static str, String)> = f
        .vars
        .iter()
        .map(|(k, v)| {
            if *k == "status" {
                let word = rules
                    .statuses
                    .get(v)
                    .map(|t| t.get(lang).to_string())
                    .unwrap_or_else(|| v.clone());
                (*k, word)
            } else {
                (*k, v.clone())
            }
        })
        .collect();
    vars.push(("as_of", a.as_of.clone()));
    vars.push(("source", a.source.clone()));
    vars
}

/// The findings for staff, in Bahasa Indonesia: one line each (the case's `tawaran_temuan`).
pub fn staff_summary(rules: &OfferRules, a: &Analysis) -> String {
    let mut lines = Vec::new();
    for f in &a.findings {
        let Some(sign) = rules.sign(&f.key) else {
            continue;
        };
        let vars = values(rules, f, a, Lang::Id);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let excerpt = f
            .excerpt
            .as_deref()
            .map(|t| fill(rules.excerpt.get(Lang::Id), &[("text", t)]))
            .unwrap_or_default();
        let weight = rules
            .staff_weights
            .get(f.weight.code())
            .map(String::as_str)
            .unwrap_or("");
        lines.push(fill(
            &rules.staff_line,
            &[
                ("weight", weight),
                ("title", &fill(sign.title.get(Lang::Id), &vars)),
                ("excerpt", &excerpt),
            ],
        ));
    }
    if lines.is_empty() {
        return rules.no_findings.get(Lang::Id).to_string();
    }
    lines.join("\n")
}

pub fn verdict_text(rules: &OfferRules, a: &Analysis, lang: Lang) -> String {
    rules
        .verdicts
        .get(a.level().code())
        .map(|t| t.get(lang).to_string())
        .unwrap_or_default()
}

struct Detect(Arc<Shared>);

impl Action for Detect {
    fn outcomes(&self) -> &'static [&'static str] {
        &["offer", "ask"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &[TEXT]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let typed = call
            .vars
            .get("_trigger_text")
            .map(String::as_str)
            .unwrap_or("");
        // The message is used once: a later visit from the menu must not find an old paste.
        if looks_like_offer(&self.0.rules, typed) {
            ActionResult::outcome("offer")
                .var(TEXT, typed)
                .var("_trigger_text", "")
        } else {
            ActionResult::outcome("ask")
                .var(TEXT, "")
                .var("_trigger_text", "")
        }
    }
}

struct Check(Arc<Shared>);

impl Action for Check {
    fn outcomes(&self) -> &'static [&'static str] {
        &["none", "some", "strong", "empty"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &[LEVEL, VERDICT, FINDINGS, PAGE]
    }
    fn reads(&self) -> &'static [&'static str] {
        &[TEXT]
    }
    fn markup(&self) -> &'static [&'static str] {
        &[VERDICT, FINDINGS]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let text = call.vars.get(TEXT).map(String::as_str).unwrap_or("");
        if !text.chars().any(char::is_alphanumeric) {
            return ActionResult::outcome("empty")
                .var(LEVEL, "")
                .var(VERDICT, "")
                .var(FINDINGS, "")
                .var(PAGE, "0");
        }
        let a = self.0.analyse(text);
        let rules = &self.0.rules;
        ActionResult::outcome(a.level().code())
            .var(LEVEL, a.level().code())
            .var(VERDICT, verdict_text(rules, &a, call.lang))
            .var(FINDINGS, top_findings(rules, &a, call.lang))
            .var(PAGE, "0")
    }
}

/// "Selengkapnya": the next page of full findings (the offer is read again: under a millisecond).
struct More(Arc<Shared>);

impl Action for More {
    fn outcomes(&self) -> &'static [&'static str] {
        &["more", "last", "empty"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &[PAGE, PAGE_TEXT]
    }
    fn reads(&self) -> &'static [&'static str] {
        &[TEXT, PAGE]
    }
    fn markup(&self) -> &'static [&'static str] {
        &[PAGE_TEXT]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let text = call.vars.get(TEXT).map(String::as_str).unwrap_or("");
        if !text.chars().any(char::is_alphanumeric) {
            return ActionResult::outcome("empty").var(PAGE_TEXT, "");
        }
        let a = self.0.analyse(text);
        let pages = finding_pages(&self.0.rules, &a, call.lang);
        let shown: usize = call
            .vars
            .get(PAGE)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        // After the last page, "Selengkapnya" starts over from the first.
        let index = if shown < pages.len() { shown } else { 0 };
        let page = pages.get(index).cloned().unwrap_or_default();
        let outcome = if index + 1 < pages.len() {
            "more"
        } else {
            "last"
        };
        ActionResult::outcome(outcome)
            .var(PAGE, (index + 1).to_string())
            .var(PAGE_TEXT, page)
    }
}

struct Report(Arc<Shared>);

impl Action for Report {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok", "empty"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["tawaran_teks", "tawaran_temuan", "tawaran_putusan"]
    }
    fn reads(&self) -> &'static [&'static str] {
        &[TEXT]
    }
    fn markup(&self) -> &'static [&'static str] {
        &[VERDICT, FINDINGS]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let text = call.vars.get(TEXT).map(String::as_str).unwrap_or("");
        if !text.chars().any(char::is_alphanumeric) {
            return ActionResult::outcome("empty");
        }
        let a = self.0.analyse(text);
        let rules = &self.0.rules;
        // The case keeps what was read: at most `max_chars`, cut on a character boundary.
        let (kept, _) = super::analyse::cut(text, rules.max_chars);
        ActionResult::outcome("ok")
            .var("tawaran_teks", kept)
            .var("tawaran_temuan", staff_summary(rules, &a))
            .var("tawaran_putusan", verdict_text(rules, &a, Lang::Id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn actions() -> (Actions, Arc<OfferRules>) {
        let rules = Arc::new(
            OfferRules::load(
                &Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("dialogs")
                    .join(super::super::rules::RULES_FILE),
            )
            .unwrap(),
        );
        let mut actions = Actions::default();
        register_actions(&mut actions, rules.clone(), None);
        (actions, rules)
    }

    fn run(actions: &Actions, name: &str, vars: &BTreeMap<String, String>) -> ActionResult {
        let user = crate::storage::UserKey::new(crate::storage::Channel::Console, "t");
        actions.get(name).unwrap().run(&ActionCall {
            user: &user,
            vars,
            attachments: &[],
            lang: Lang::Id,
            now: 0,
            seed: 0,
        })
    }

    #[test]
    fn a_huge_paste_is_kept_in_the_report_only_up_to_what_was_read() {
        let (actions, rules) = actions();
        let paste = "loker kamboja gaji 15jt wa 0812-0000-0001 ".repeat(20) + &"é".repeat(20_000);
        let vars = BTreeMap::from([(TEXT.to_string(), paste)]);
        let r = run(&actions, "offer.report", &vars);
        let kept = r.vars.get("tawaran_teks").unwrap();
        assert_eq!(kept.chars().count(), rules.max_chars);
        assert!(
            r.vars
                .get("tawaran_putusan")
                .unwrap()
                .contains("tanda kuat")
        );
    }

    #[test]
    fn the_pages_go_round_and_each_fits_a_screen() {
        let (actions, _) = actions();
        let offer = "LOKER KAMBOJA!! dibutuhkan admin, gaji 15jt ga perlu pengalaman, berangkat minggu depan. \
                     biaya proses 5jt transfer ke rek BRI 0000000301 an Bpk Fulan. visa turis dulu. minat wa 0812-0000-0301";
        let mut vars = BTreeMap::from([(TEXT.to_string(), offer.to_string())]);
        let check = run(&actions, "offer.check", &vars);
        assert_eq!(check.outcome, "strong");
        assert!(check.vars[FINDINGS].chars().count() < crate::dialog::REPLY_MAX_CHARS / 2);
        let mut seen: Vec<String> = Vec::new();
        loop {
            vars.insert(PAGE.into(), seen.len().to_string());
            let r = run(&actions, "offer.more", &vars);
            assert_eq!(r.vars[PAGE], (seen.len() + 1).to_string());
            let page = r.vars[PAGE_TEXT].clone();
            assert!(
                page.chars().count() <= crate::dialog::REPLY_MAX_CHARS,
                "{page}"
            );
            seen.push(page);
            if r.outcome == "last" {
                break;
            }
            assert!(seen.len() < 10);
        }
        assert!(seen.len() >= 2, "{seen:?}");
        let all = seen.join("\n");
        assert!(
            all.contains("biaya proses 5jt") && all.contains("Sumber:"),
            "{all}"
        );
        // After the last page, "Selengkapnya" starts over from the first.
        vars.insert(PAGE.into(), seen.len().to_string());
        assert_eq!(run(&actions, "offer.more", &vars).vars[PAGE_TEXT], seen[0]);
    }
}
