//! The dialog actions of "Cek tawaran kerja", and how findings are put into words (all words from
//! `dialogs/_offer_rules.yaml`).
//!
//! | action | reads | sets | outcomes |
//! |---|---|---|---|
//! | `offer.detect` | `_trigger_text` (the message that opened the flow) | `offer_text` | `offer` (it looks like a pasted offer: kept in `offer_text`), `ask` |
//! | `offer.check` | `offer_text` | `offer_level`, `offer_verdict`, `offer_findings` | `none`, `some`, `strong`, `empty` |
//! | `offer.report` | `offer_text` | `tawaran_teks`, `tawaran_temuan`, `tawaran_putusan` (the case's fields) | `ok`, `empty` |
//!
//! Invariants: the verdict is never "safe"; the registry is read through the live handle at each run
//! (an import is seen at once); actions only read, a report is opened by `case.open`.

use std::sync::Arc;

use super::analyse::{Analysis, Lookup, analyse, looks_like_offer};
use super::rules::OfferRules;
use crate::cases::texts::fill;
use crate::dialog::{Action, ActionCall, ActionResult, Actions, Lang};
use crate::registry::Registry;

pub const TEXT: &str = "offer_text";
pub const LEVEL: &str = "offer_level";
pub const VERDICT: &str = "offer_verdict";
pub const FINDINGS: &str = "offer_findings";

/// Registers `offer.detect`, `offer.check` and `offer.report`.
pub fn register_actions(actions: &mut Actions, rules: Arc<OfferRules>, registry: Option<Registry>) {
    let shared = Arc::new(Shared { rules, registry });
    actions.register("offer.detect", Arc::new(Detect(shared.clone())));
    actions.register("offer.check", Arc::new(Check(shared.clone())));
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

/// The findings in the user's language, one block per finding, strongest first.
pub fn render_findings(rules: &OfferRules, a: &Analysis, lang: Lang) -> String {
    if a.findings.is_empty() {
        return rules.no_findings.get(lang).to_string();
    }
    let mut blocks = Vec::new();
    for f in &a.findings {
        let Some(sign) = rules.sign(&f.key) else {
            continue;
        };
        // The texts are authored markup; what comes from the offer (names, numbers, the excerpt)
        // is escaped so it shows literally.
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
        let title = fill(sign.title.get(lang), &vars);
        let why = fill(sign.why.get(lang), &vars);
        let mark = rules
            .marks
            .get(f.weight.code())
            .map(String::as_str)
            .unwrap_or("");
        blocks.push(fill(
            rules.finding.get(lang),
            &[
                ("mark", mark),
                ("title", &title),
                ("excerpt", &excerpt),
                ("why", &why),
                ("cite", &sign.cite),
            ],
        ));
    }
    blocks.join("\n\n")
}

fn values(
    rules: &OfferRules,
    f: &super::analyse::Finding,
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
        &[LEVEL, VERDICT, FINDINGS]
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
                .var(FINDINGS, "");
        }
        let a = self.0.analyse(text);
        let rules = &self.0.rules;
        ActionResult::outcome(a.level().code())
            .var(LEVEL, a.level().code())
            .var(VERDICT, verdict_text(rules, &a, call.lang))
            .var(FINDINGS, render_findings(rules, &a, call.lang))
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
        ActionResult::outcome("ok")
            .var("tawaran_teks", text)
            .var("tawaran_temuan", staff_summary(rules, &a))
            .var("tawaran_putusan", verdict_text(rules, &a, Lang::Id))
    }
}
