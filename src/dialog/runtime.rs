//! The pure step function: one session and one input in; the new session, the replies and the effects
//! out. No IO, no clock, no randomness of its own: the caller passes the time and a seed in [`StepEnv`].
//!
//! How an input is understood, in priority order (documented for authors in dialogs/README.md):
//! 1. emergency words are noticed on every text (an effect and the emergency numbers; never a detour);
//! 2. a global keyword typed as the whole message (menu, language, staff, stop, resume, skip);
//! 3. the answer the current node expects (a choice by button, number or label; a question's answer);
//! 4. a flow trigger (longest match wins; ties go to the earlier file);
//! 5. a question's retry text, or the fallback text with the way forward.
//!
//! Invariants: never panics on any input; every reply path ends with something the user can do next;
//! a hop limit stops any loop the checker missed.

use super::actions::{ActionCall, Actions};
use super::io::{
    Attachment, Choice, Effect, Input, InputKind, Lang, PHOTO_PENDING, Position, Reply, Session,
};
use super::matcher::{self, Verdict};

/// How well the examples of an answer inside a triggered flow must fit before the flow opens on that
/// answer instead of its start (between the matcher's "unsure" and "confident").
const REFINE_MIN: f32 = 0.42;
use super::model::{AlarmTier, Bot, FactValue, NodeKind, REPLY_MAX_CHARS, Text};
use super::normalize::normalize;
use crate::storage::UserKey;

/// The longest answer kept in a variable; the rest of a pasted essay is cut.
pub const MAX_ANSWER_CHARS: usize = 2000;
/// At most this many nodes are entered for one input.
const MAX_HOPS: usize = 64;
/// Emergency numbers are shown again only after this long.
/// The variable `emergency.contacts` reads the emergency message from (normalised), set only while
/// it runs, so the country named in the message ("... di Malaysia") picks the right numbers.
pub const EMERGENCY_TEXT: &str = "_emergency_text";
/// The country whose numbers the emergency message showed last (`emergency.contacts` sets it; empty
/// when none was named): another country's numbers are shown even within [`EMERGENCY_REPEAT_SECS`].
pub const EMERGENCY_PLACE: &str = "_emergency_place";
/// "<code> <unix seconds>": staff sent this user a message about their open case `code` (set by the
/// engine with the message, [`crate::engine::Engine::send_asking`]). The user's next message, unless
/// it is a keyword, goes to that case as the answer.
pub const STAFF_ASKED: &str = "_staff_asked";
/// How long a staff message waits for its answer: a family may answer the next evening.
const STAFF_ANSWER_SECS: u64 = 3 * 24 * 3600;
/// The message that opened a flow in this step (and only in this step): for actions that read what
/// was typed with the request ("cek pt mitra insani global": `agency.name_in_message`).
pub const OPENING_TEXT: &str = "_opening_text";
const EMERGENCY_REPEAT_SECS: u64 = 600;
/// The variables and effects of `emergency.contacts`, found before they are kept.
type FoundContacts = (std::collections::BTreeMap<String, String>, Vec<Effect>);

/// Everything the step needs from outside, passed in so the step stays a function.
pub struct StepEnv<'a> {
    /// Unix seconds.
    pub now: u64,
    pub seed: u64,
    /// A session silent for longer restarts politely.
    pub idle_secs: u64,
    pub user: &'a UserKey,
}

#[derive(Debug, Default)]
pub struct Step {
    pub session: Session,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
    /// The first flow this input entered, if any (for the phrasing corpus and statistics).
    pub entered: Option<String>,
    /// The first node this input entered, if any.
    pub entered_at: Option<Position>,
    /// Where the user was (`flow/node`, or `-`) when the message got only the fallback: for the
    /// content authors, logged by the engine as a count by node.
    pub not_understood: Option<String>,
}

/// Choice ids of the bot's own buttons.
const LANG_PREFIX: &str = "_/lang/";
const RESUME_ID: &str = "_/resume/1";
const RESTART_ID: &str = "_/restart/1";
/// A "did you mean" choice: `_/goto/<flow>/<node>`.
const GOTO_PREFIX: &str = "_/goto/";
/// "Yes, cancel the report" after a cancel word.
const CANCEL_ID: &str = "_/cancel/1";
/// "Yes, leave the report (kept for later)" after "menu" in the middle of it.
const LEAVE_ID: &str = "_/leave/1";
/// "Answer the question" when a message in the middle of a question looked like another topic.
const ANSWER_ID: &str = "_/answer/1";
/// Session variables of a report left through the menu: where it waited, its answers, since when.
const PARKED_AT: &str = "_parked_at";
const PARKED_VARS: &str = "_parked_vars";
const PARKED_SINCE: &str = "_parked_since";
const PENDING_ANSWER: &str = "_pending_answer";
/// The message that told a situation and reached a page offering to report it, until the next input:
/// a report started from that page (its button, or "lapor" typed) takes it as its story.
const TOLD: &str = "_told";
/// An action `case.story.<var>` in a report flow names the variable of its "what happened" answer
/// (and skips that question when the story is already told): see [`Run::keep_story`].
pub const STORY_ACTION: &str = "case.story.";

struct Run<'a> {
    bot: &'a Bot,
    actions: &'a Actions,
    env: &'a StepEnv<'a>,
    session: Session,
    replies: Vec<Reply>,
    effects: Vec<Effect>,
    entered: Option<String>,
    entered_at: Option<Position>,
    not_understood: Option<String>,
    /// The last reply stands alone (the emergency numbers): the next text starts a new message, so
    /// neither grows past a phone screen.
    sealed: bool,
}

pub fn step(
    bot: &Bot,
    actions: &Actions,
    session: Session,
    input: &Input,
    env: &StepEnv<'_>,
) -> Step {
    let first_contact = session.last_seen == 0;
    let idle = !first_contact && env.now.saturating_sub(session.last_seen) > env.idle_secs;
    let mut run = Run::new(bot, actions, env, session);
    run.session.last_seen = env.now;
    if !bot.languages.contains(&run.session.lang) {
        run.session.lang = Lang::Id;
    }
    // A photo's text is awaited only until the user does anything else: a late reading is dropped
    // (and a reading of an older photo leaves the newer one awaited).
    let stale = matches!(&input.kind, InputKind::ImageText { reference, .. }
        if run.session.vars.get(PHOTO_PENDING) != Some(reference));
    let awaited = if stale {
        None
    } else {
        run.session.vars.remove(PHOTO_PENDING)
    };
    match &input.kind {
        InputKind::Text(raw) => run.text(raw, first_contact, idle),
        InputKind::Choice(id) => run.choice(id),
        InputKind::Start { payload } => run.start(payload.as_deref()),
        InputKind::Attachment(a) if run.photo_to_read(a) => {}
        InputKind::Attachment(a) => {
            run.attachment(|s| s.attachments.push(a.clone()), first_contact)
        }
        InputKind::ImageText { reference, text } => {
            if awaited.as_deref() == Some(reference.as_str()) {
                run.image_text(text.as_deref())
            }
        }
        InputKind::Location {
            latitude,
            longitude,
        } => {
            let (lat, lon) = (*latitude, *longitude);
            run.location(lat, lon, first_contact)
        }
        InputKind::Unsupported => run.not_text(first_contact),
    }
    run.session.offered = match run.replies.last() {
        Some(last) => last
            .choices
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    normalize(&super::markup::to_plain(&c.label), &bot.lexicon),
                )
            })
            .collect(),
        None => run.session.offered.clone(),
    };
    Step {
        session: run.session,
        replies: run.replies,
        effects: run.effects,
        entered: run.entered,
        entered_at: run.entered_at,
        not_understood: run.not_understood,
    }
}

/// Removes control characters (keeping line breaks) and cuts an answer to a sane length.
pub fn clean_text(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_ANSWER_CHARS)
        .collect();
    cleaned.trim().to_string()
}

impl<'a> Run<'a> {
    /// A run of the step over `session`, with nothing said or done yet.
    fn new(bot: &'a Bot, actions: &'a Actions, env: &'a StepEnv<'a>, session: Session) -> Run<'a> {
        Run {
            bot,
            actions,
            env,
            session,
            replies: Vec::new(),
            effects: Vec::new(),
            entered: None,
            entered_at: None,
            not_understood: None,
            sealed: false,
        }
    }
}

impl Run<'_> {
    fn lang(&self) -> Lang {
        self.session.lang
    }

    fn bot_text(&self, name: &str) -> String {
        self.render(self.bot.texts.get(name))
    }

    /// Interpolates `{var}` and `{fact.key}` into the text in the session's language.
    fn render(&self, text: Option<&Text>) -> String {
        let Some(text) = text else {
            return String::new();
        };
        interpolate(text.get(self.lang()), self.lang(), &self.session, self.bot)
    }

    fn push(&mut self, text: String, choices: Vec<Choice>) {
        // A variable that was empty leaves no blank line at the start, the end, or twice in a row.
        let mut text = text.trim().to_string();
        while text.contains("\n\n\n") {
            text = text.replace("\n\n\n", "\n\n");
        }
        if text.is_empty() && choices.is_empty() {
            return;
        }
        // A reply never starts with a blank line (a line left out for an unfilled fact, an empty
        // variable on the first line).
        let text = match text.find(|c: char| !c.is_whitespace()) {
            Some(i) if text[..i].contains('\n') => {
                let start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                text[start..].to_string()
            }
            _ => text,
        };
        // Consecutive texts of one turn travel as one message: fewer notifications, fewer API calls;
        // but never past one phone screen (a notice before a long answer, "no such number" before
        // the menu again): then the text starts a message of its own.
        let fits = |last: &Reply| {
            text.trim().is_empty()
                || last.text.chars().count() + 2 + text.chars().count() <= REPLY_MAX_CHARS
        };
        if !std::mem::take(&mut self.sealed)
            && let Some(last) = self.replies.last_mut()
            && last.choices.is_empty()
            && fits(last)
        {
            if !text.trim().is_empty() {
                if !last.text.is_empty() {
                    last.text.push_str("\n\n");
                }
                last.text.push_str(&text);
            }
            last.choices = choices;
            return;
        }
        self.replies.push(Reply { text, choices });
    }

    // --- inputs ---------------------------------------------------------------------------------

    fn text(&mut self, raw: &str, first_contact: bool, idle: bool) {
        let cleaned = clean_text(raw);
        // The basic form once, for the lexicon and for the language.
        let basic = super::normalize::basic(&cleaned);
        let norm = super::normalize::apply_lexicon(&basic, &self.bot.lexicon);
        // A number or a label of the choices shown last (also the bot's own: language, resume) is
        // the button itself, before anything else reads the words: typing "Sakit / kecelakaan"
        // does exactly what tapping it does.
        if let Some(id) = self.offered_choice(&norm) {
            return self.choice(&id);
        }
        // What the last message told, kept only until the next one (see `TOLD`).
        let told = self.session.vars.remove(TOLD);
        // `_opening_text` is the message that opened a flow in this step only (`_trigger_text` stays,
        // for the country of the emergency numbers): a flow opened later from a menu must not read an
        // older message as if typed with it.
        self.session.vars.remove(OPENING_TEXT);
        self.detect_language(&basic);
        let alarmed_before = self.session.vars.get("_emergency").cloned();
        let alarm = self.emergency(&norm, &cleaned);
        let urgent = alarm.is_some();
        // The report is about this already (its category, or the alarm that started it): "jenazah
        // dipulangkan" at "what would you like?" of a death's report is the answer, not more story
        // (found by playing families, stop 20: it was moved into the story, the question asked again).
        // Only where the message fits the question: "td pagi dia disiksa lg" at "how old?" is more
        // story still.
        let same_story = urgent
            && {
                let now = self.session.vars.get("_emergency");
                now.is_some()
                    && (now == alarmed_before.as_ref() || now == self.session.vars.get("kategori"))
            }
            && self.question_fits(&cleaned);

        if let Some(()) = self.keyword(&norm) {
            return;
        }
        // An emergency told in the middle of a report is what happened, not the answer to the
        // question on screen ("Siti, dia dipukul majikan" is no name): kept as the report's story,
        // and the question asked again.
        if urgent && !same_story && self.keep_story(&cleaned) {
            return;
        }
        // The answer to a staff question ("B 2345678 pak" after "Nomor paspor Bapak berapa?"): added
        // to the case and said so; a message the examples are sure of is answered too, any other gets
        // no "not understood" (found by playing families, stop 20: the answers were lost).
        // Any words may be the answer ("paspornya C 4471823" reads like a passport question, "di
        // kuching pak, sarawak" like Malaysia's page): always added. A message that also leads
        // somewhere by a trigger or the examples' certainty is answered there too, and a trigger's
        // request ("cek status PKL-…") keeps the wait for the message after it.
        if self.session.vars.contains_key(STAFF_ASKED) {
            let asked = self.session.vars.get(STAFF_ASKED).cloned();
            if self.forward_to_staff(&cleaned) {
                let request = self.trigger(&norm).is_some();
                if request && let Some(asked) = asked {
                    self.session.vars.insert(STAFF_ASKED.into(), asked);
                }
                let ranked = self.bot.matcher.rank(&norm);
                let sure = matches!(self.bot.matcher.verdict(&ranked), Verdict::Confident(_));
                if !request && !sure {
                    return;
                }
            }
        }
        // A number with no choices on screen (the first message of a chat, or after a page without
        // buttons) picks from a menu the bot cannot see: the main menu, to choose again (found by
        // playing workers, stop 20: "2" got "did you mean: lost contact?", "8" Singapore's page).
        if norm.len() <= 2
            && norm.bytes().all(|b| b.is_ascii_digit())
            && self.session.offered.is_empty()
            && !self.at_question()
        {
            return self.go(self.bot.start_position());
        }
        // A number that is not one of the choices just shown: say so, and show them again.
        if let Ok(n) = norm.parse::<usize>()
            && norm.len() <= 3
            && !self.session.offered.is_empty()
            && self.bot.texts.contains_key("out_of_range")
        {
            let max = self.session.offered.len().to_string();
            self.session.vars.insert("_number".into(), n.to_string());
            self.session.vars.insert("_choices".into(), max);
            let text = self.bot_text("out_of_range");
            self.session.vars.remove("_number");
            self.session.vars.remove("_choices");
            self.push(text, vec![]);
            return match self.session.position.clone() {
                Some(pos)
                    if matches!(
                        self.bot.node(&pos).map(|n| &n.kind),
                        Some(NodeKind::Menu { .. })
                    ) =>
                {
                    self.prompt(&pos)
                }
                // The bot's own menus (language, resume): the way on from where the user is.
                _ => self.reprompt_or_menu(),
            };
        }
        if idle && self.session.position.is_some() && self.trigger(&norm).is_none() {
            return self.welcome_back();
        }
        if idle {
            self.session.position = None;
            self.session.paused = None;
        }
        if self.expected_answer(&cleaned, &norm, alarm == Some(AlarmTier::Regex)) {
            return;
        }
        // Where the message leads (examples, triggers: `route`), then "did you mean" when the
        // examples half-know.
        let ranked = self.bot.matcher.rank(&norm);
        let verdict = self.bot.matcher.verdict(&ranked);
        let target = self.route(&norm, &ranked, &verdict);
        // Only the emergency words' alarm, the surer one, leads to its page (the example detector's
        // alarm shows the numbers; its false alarms, "di hk libur seminggu sekali ga", must not turn
        // a question into a family's emergency page); and the examples' confident answer stays (a
        // benefit claim for an accident at work): the page is for what only a trigger or nothing
        // led to.
        let target = if alarm == Some(AlarmTier::Regex) && !matches!(verdict, Verdict::Confident(_))
        {
            self.urgent_page(target)
        } else {
            self.after_alarm(&norm, target)
        };
        // In the middle of a report, a message that leads elsewhere ("syarat ke taiwan apa" at a
        // menu of the report, or at a question it does not fit) asks first: answer here, or go there?
        if let Some(target) = &target
            && self.taking_report()
            && self
                .session
                .position
                .as_ref()
                .is_some_and(|pos| pos.flow != target.flow)
            && self.switch_offer(target, None)
        {
            return;
        }
        if let Some(target) = target {
            // The message that opened a flow, for an action that reads what was typed with the
            // trigger ("cek status PKL-7KQ2MX": `case.status_typed`).
            self.session
                .vars
                .insert("_trigger_text".into(), cleaned.clone());
            self.session
                .vars
                .insert(OPENING_TEXT.into(), cleaned.clone());
            // An emergency that opens a report ("adik sy disekap agen, mau lapor") is already what
            // happened: kept as the story, so the report does not ask it again.
            if urgent
                && let Some(var) = self.story_var(&target.flow).map(str::to_string)
                && self
                    .session
                    .vars
                    .get(&var)
                    .is_none_or(|v| v.trim().is_empty())
            {
                self.session.vars.insert(var, cleaned.clone());
            }
            // A question of another flow waits for the user to come back; the flow's own trigger
            // simply starts the flow again.
            if self
                .session
                .position
                .as_ref()
                .is_some_and(|pos| pos.flow != target.flow)
            {
                self.pause_here();
            }
            // "lapor" typed right after a page that told what happened: that is the story still.
            let earlier = told.clone();
            if let Some(told) = told
                && self.story_var(&target.flow).is_some()
            {
                self.session.vars.insert(TOLD.into(), told);
            }
            self.go(target);
            // A message that told a situation ("ibu sy di hongkong gajinya ga dibayar 3 bln") and
            // reached a page offering to report it: if the family reports now, it is their story,
            // after what the message before told (found by playing families, stop 20: "bapak sy
            // meninggal di saudi kmrn sore", then a question about bringing the body home, and the
            // report's story was the question alone, the death and its date lost).
            if norm.split(' ').count() >= 3 && self.offers_report() {
                let story = match earlier {
                    Some(before) if !before.contains(cleaned.as_str()) => {
                        let both = format!("{before}\n{cleaned}");
                        match both.char_indices().nth(MAX_ANSWER_CHARS) {
                            Some((cut, _)) => both[..cut].to_string(),
                            None => both,
                        }
                    }
                    _ => cleaned.clone(),
                };
                self.session.vars.insert(TOLD.into(), story);
            }
            return;
        }
        // Nothing here was understood (or only half): what was told before still waits for the
        // report (found by playing families, stop 19: "He was arrested 5 days ago", then a "yes"
        // the bot did not understand, and the report asked what happened again).
        if let Some(told) = told {
            self.session.vars.insert(TOLD.into(), told);
        }
        let waiting_question = self.session.position.as_ref().is_some_and(|pos| {
            matches!(
                self.bot.node(pos).map(|n| &n.kind),
                Some(NodeKind::Question(_))
            )
        });
        if let Verdict::Unsure(offered) = &verdict
            && !offered.is_empty()
            && !waiting_question
        {
            return self.did_you_mean(offered);
        }
        if let Some(pos) = self.session.position.clone()
            && let Some(NodeKind::Question(q)) = self.bot.node(&pos).map(|n| &n.kind)
        {
            return self.retry(&pos, q.retries, q.retry.clone(), q.on_fail.clone());
        }
        if first_contact || idle || self.session.position.is_none() && norm.is_empty() {
            return self.go(self.bot.start_position());
        }
        self.fallback();
    }

    /// Where a message leads outside the answer the current node expects: the examples' confident
    /// target, the trigger's flow, or (when they disagree) the one the examples clearly prefer; then
    /// refined to the answer inside the flow that the examples prefer (see [`Run::refine_within_flow`]).
    fn route(&self, norm: &str, ranked: &[(usize, f32)], verdict: &Verdict) -> Option<Position> {
        // Examples first when they are sure (they know the point of the question, a trigger only a
        // word of it), then the triggers.
        let matched = match verdict {
            Verdict::Confident(t) => self.bot.matcher.targets.get(*t).map(|t| t.position.clone()),
            _ => None,
        };
        let triggered = self.trigger(norm).and_then(|flow| {
            self.bot
                .flows
                .get(&flow)
                .map(|f| Position::new(flow.clone(), f.first()))
        });
        let target = match (matched, triggered) {
            (Some(m), Some(t)) if m.flow != t.flow => {
                // They disagree. The examples win when they clearly prefer their target to the
                // trigger's flow; a flow without examples is judged by its trigger.
                let best = ranked.first().map(|r| r.1).unwrap_or(0.0);
                match self.bot.matcher.flow_score(ranked, &t.flow) {
                    Some(other) if best - other >= matcher::OVERRULE_GAP => Some(m),
                    // A flow without examples yet (a new answer page) is judged by its trigger:
                    // its author wrote the trigger for exactly this, the examples cannot know it.
                    _ => Some(t),
                }
            }
            (Some(m), _) => Some(m),
            (None, t) => t,
        };
        let target = target.map(|t| self.named_place(norm, t));
        // A message that only says who and where ("suami sy di malaysia": kin, place, "kerja",
        // `emergency::CONTEXT_WORDS`) has said no detail yet: it opens the flow at its start (the
        // family menu asks what happened) rather than an answer its examples lean to (the unpaid
        // wages page, for a wife who had said nothing else; found by playing the bot, stop 18).
        if super::emergency::only_context(norm) {
            return target.map(|t| match self.bot.flows.get(&t.flow) {
                Some(flow) => Position::new(t.flow.clone(), flow.first()),
                None => t,
            });
        }
        // A trigger opens a flow at its start; when the examples of one of its answers fit the
        // message ("anak sy di malaysia blm digaji 5 bulan" in the family flow), go straight to
        // that answer instead of asking what the message already said.
        target.map(|t| self.refine_within_flow(t, ranked))
    }

    /// `target`, unless it is a place's page (`Flow::places`) and the message names another flow's
    /// place and none of the target's: then the named place's flow (found by playing the bot: "sy
    /// mau kerja ke hongkong jd art, syaratnya apa" got Singapore's age limits, "minimum salary
    /// taiwan" Malaysia's wages; an example's other words outweighed the country's name).
    fn named_place(&self, norm: &str, target: Position) -> Position {
        let padded = format!(" {norm} ");
        let names =
            |flow: &super::model::Flow| flow.places.iter().any(|p| padded.contains(p.as_str()));
        match self.bot.flows.get(&target.flow) {
            Some(flow) if !flow.places.is_empty() && !names(flow) => {}
            _ => return target,
        }
        let named = self
            .bot
            .flows
            .values()
            .find(|f| f.name != target.flow && !f.places.is_empty() && names(f));
        match named {
            Some(f) => Position::new(f.name.clone(), f.first()),
            None => target,
        }
    }

    /// "Answer this question, or go to <topic>?" while a report waits at a question or menu and the
    /// message leads to `target` elsewhere: the answers are kept either way. `pending` is the message
    /// to save if the user says it was the answer after all (a question without a pattern); without
    /// it, "answer" shows the question or menu again. `false` when `target` has no label to show (no
    /// examples at it or at its flow's start) or the bot has no `switch_offer` text.
    fn switch_offer(&mut self, target: &Position, pending: Option<&str>) -> bool {
        if self.bot.text("switch_offer", Lang::Id).is_empty() {
            return false;
        }
        let targets = &self.bot.matcher.targets;
        let start = self
            .bot
            .flows
            .get(&target.flow)
            .map(|f| Position::new(target.flow.clone(), f.first()));
        let Some(label) = targets
            .iter()
            .find(|t| &t.position == target)
            .or_else(|| targets.iter().find(|t| Some(&t.position) == start.as_ref()))
            .map(|t| t.label.clone())
        else {
            return false;
        };
        let label = self.render(Some(&label));
        match pending {
            Some(text) => self
                .session
                .vars
                .insert(PENDING_ANSWER.into(), text.to_string()),
            None => self.session.vars.remove(PENDING_ANSWER),
        };
        let text = self.bot_text("switch_offer");
        let choices = vec![
            Choice {
                id: ANSWER_ID.into(),
                label: self.bot_text("answer_label"),
            },
            Choice {
                id: format!("{GOTO_PREFIX}{}/{}", target.flow, target.node),
                label,
            },
        ];
        self.push(text, choices);
        true
    }

    /// The start of a flow, or the answer inside it that the examples prefer: the best-ranked target
    /// of the same flow when it is another node, scores at least [`REFINE_MIN`], and leads the
    /// flow's start (when the start has examples) by [`matcher::MARGIN`].
    fn refine_within_flow(&self, target: Position, ranked: &[(usize, f32)]) -> Position {
        let Some(flow) = self.bot.flows.get(&target.flow) else {
            return target;
        };
        if target.node != flow.first() {
            return target;
        }
        let m = &self.bot.matcher;
        let mut inside = ranked.iter().filter_map(|(i, score)| {
            m.targets
                .get(*i)
                .filter(|t| t.position.flow == target.flow)
                .map(|t| (&t.position, *score))
        });
        let Some((best, score)) = inside.next() else {
            return target;
        };
        if best.node == target.node || score < REFINE_MIN {
            return target;
        }
        let start = inside
            .find(|(p, _)| p.node == target.node)
            .map_or(0.0, |(_, s)| s);
        if score - start >= matcher::MARGIN && flow.nodes.contains_key(&best.node) {
            best.clone()
        } else {
            target
        }
    }

    /// The id of the offered choice a typed message picks: its number, its label, or a yes-word
    /// ("ya", "iya", "ok", "boleh": `keywords.yes`) when the bot asked to confirm or when exactly one
    /// choice's label starts with a yes-word ("Ya, periksa"), so typing it is pressing that button.
    fn offered_choice(&self, norm: &str) -> Option<String> {
        let offered = &self.session.offered;
        let is_word = |word: &str| self.bot.keywords.yes.iter().any(|w| w == word);
        // A yes-word, or only yes-words and chat words ("iya pak", "ya mau", "oke setuju bu").
        let is_yes = |text: &str| {
            is_word(text) || {
                let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
                words.iter().any(|w| is_word(w))
                    && words.iter().all(|w| is_word(w) || FILLER.contains(w))
            }
        };
        norm.parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| offered.get(i))
            .or_else(|| {
                offered
                    .iter()
                    .find(|(_, label)| !norm.is_empty() && *label == norm)
            })
            .or_else(|| {
                // Another way of typing one answer (`also:`), chat words aside.
                let core = without_filler(norm);
                offered.iter().find(|(id, _)| {
                    self.menu_choice(id).is_some_and(|c| {
                        c.also
                            .iter()
                            .any(|a| *a == norm || (!core.is_empty() && *a == core))
                    })
                })
            })
            .or_else(|| {
                // One or two words of exactly one label ("keluarga" for "Keluarga PMI", "saya" for
                // "Saya sendiri (PMI)"), chat words aside: that button, never a guess between two.
                let core = without_filler(norm);
                let words: Vec<&str> = core.split(' ').filter(|w| !w.is_empty()).collect();
                if words.is_empty() || words.len() > 2 || is_yes(norm) {
                    return None;
                }
                let mut fits = offered.iter().filter(|(_, label)| {
                    let label: Vec<&str> = label.split(' ').collect();
                    words.iter().all(|w| label.contains(w))
                });
                match (fits.next(), fits.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            })
            .or_else(|| {
                if !is_yes(norm) {
                    return None;
                }
                if let Some(confirm) = offered
                    .iter()
                    .find(|(id, _)| id == CANCEL_ID || id == LEAVE_ID)
                {
                    return Some(confirm);
                }
                // The button the menu's file marks as its yes (`yes: true`).
                let marked = offered
                    .iter()
                    .find(|(id, _)| self.menu_choice(id).is_some_and(|c| c.yes));
                if marked.is_some() {
                    return marked;
                }
                // A label that starts with a yes-word, when no other does (never a guess between two).
                let mut yes_labels = offered.iter().filter(|(_, label)| {
                    is_word(label) || label.split_whitespace().next().is_some_and(&is_word)
                });
                match (yes_labels.next(), yes_labels.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            })
            .map(|(id, _)| id.clone())
    }

    /// The menu choice behind the offered button `id` (`flow/node/n`); `None` for the bot's own
    /// buttons and answers under a question.
    fn menu_choice(&self, id: &str) -> Option<&super::model::MenuChoice> {
        let mut parts = id.rsplitn(3, '/');
        let (Some(n), Some(node), Some(flow)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let i = n.parse::<usize>().ok()?.checked_sub(1)?;
        match self.bot.node(&Position::new(flow, node)).map(|n| &n.kind) {
            Some(NodeKind::Menu { choices, .. }) => choices.get(i),
            _ => None,
        }
    }

    /// Switches to the language a message is clearly written in, and says how to switch back.
    /// `basic` is the message's [`super::normalize::basic`] form.
    fn detect_language(&mut self, basic: &str) {
        if self.bot.text("language_detected", Lang::Id).is_empty() {
            return;
        }
        let Some(lang) = super::normalize::detect_language_basic(basic) else {
            return;
        };
        if lang == self.session.lang || !self.bot.languages.contains(&lang) {
            return;
        }
        self.session.lang = lang;
        let text = self.bot_text("language_detected");
        self.push(text, vec![]);
    }

    /// Keeps the waiting question (or a menu of a report) to come back to after a detour: the end
    /// of the other topic offers to go back, and "lanjut" does.
    /// A report is kept as when left through the menu (`report_kept`: "lanjut" or starting it again
    /// brings it back, for `report_keep_minutes`), so a "menu" typed on the other topic loses nothing.
    fn pause_here(&mut self) {
        let Some(at) = self.session.position.clone() else {
            return;
        };
        if self.has_answers() {
            self.park(&at);
        } else if self.waiting_question().is_some() {
            self.session.paused = Some(at);
        }
    }

    /// The question waiting for an answer, if any.
    fn waiting_question(&self) -> Option<Position> {
        let pos = self.session.position.clone()?;
        matches!(
            self.bot.node(&pos).map(|n| &n.kind),
            Some(NodeKind::Question(_))
        )
        .then_some(pos)
    }

    /// Whether a report is being taken ([`Run::taking_report`]) and the user has answered something.
    /// Only then do "batal" and "menu" ask before leaving; in any other flow (a company check, a
    /// guidance page) they do what they say at once.
    fn has_answers(&self) -> bool {
        self.taking_report()
            && self
                .session
                .vars
                .iter()
                .any(|(k, v)| !k.starts_with('_') && !v.trim().is_empty())
    }

    /// Whether a report is being taken: a question of a flow that files a case (`case.open`) waits,
    /// or a menu of such a flow that takes a story (`case.story.<var>`: the report intake itself, not
    /// the company or offer check that can end in a report).
    /// Sends the message to the case staff asked about (see [`STAFF_ASKED`]), once, and says so:
    /// `true` when it did.
    fn forward_to_staff(&mut self, cleaned: &str) -> bool {
        let Some(asked) = self.session.vars.remove(STAFF_ASKED) else {
            return false;
        };
        let mut parts = asked.split(' ');
        let code = parts.next().unwrap_or_default().to_string();
        let at = parts
            .next()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if code.is_empty()
            || cleaned.trim().is_empty()
            || self.env.now.saturating_sub(at) > STAFF_ANSWER_SECS
            || self.bot.text("staff_answer_forwarded", Lang::Id).is_empty()
        {
            return false;
        }
        self.effects.push(Effect::AppendToCase {
            code: code.clone(),
            text: Some(cleaned.to_string()),
            attachments: Vec::new(),
        });
        self.session.vars.insert("_staff_code".into(), code);
        let text = self.bot_text("staff_answer_forwarded");
        self.session.vars.remove("_staff_code");
        self.push(text, vec![]);
        true
    }

    /// Whether the conversation waits at a question whose pattern (if any) `cleaned` fits.
    fn question_fits(&self, cleaned: &str) -> bool {
        let Some(pos) = &self.session.position else {
            return false;
        };
        match self.bot.node(pos).map(|n| &n.kind) {
            Some(NodeKind::Question(q)) => q.pattern.as_ref().is_none_or(|p| p.is_match(cleaned)),
            _ => false,
        }
    }

    /// Whether the conversation waits at a question (not a menu or a page).
    fn at_question(&self) -> bool {
        self.session.position.as_ref().is_some_and(|pos| {
            matches!(
                self.bot.node(pos).map(|n| &n.kind),
                Some(NodeKind::Question(_))
            )
        })
    }

    fn taking_report(&self) -> bool {
        if self.waiting_question().is_some() {
            return self.report_open();
        }
        self.session.position.as_ref().is_some_and(|pos| {
            files_a_case(self.bot, &pos.flow) && self.story_var(&pos.flow).is_some()
        })
    }

    /// Whether a report intake is open: the conversation waits at a question or a menu of a flow
    /// that files a case (`case.open`).
    fn report_open(&self) -> bool {
        self.session
            .position
            .as_ref()
            .is_some_and(|pos| files_a_case(self.bot, &pos.flow))
    }

    /// Asks before a cancel word throws the unfinished answers away.
    fn confirm(&mut self, text: &str, yes_id: &str, yes_label: &str) {
        let text = self.bot_text(text);
        let choices = vec![
            Choice {
                id: yes_id.into(),
                label: self.bot_text(yes_label),
            },
            Choice {
                id: RESUME_ID.into(),
                label: self.bot_text("resume_label"),
            },
        ];
        self.push(text, choices);
    }

    /// Leaves an unfinished report for the menu, keeping it so "lanjut" brings it back.
    fn park_report(&mut self, at: &Position) {
        self.park(at);
        self.go(self.bot.start_position());
    }

    /// Keeps an unfinished report waiting at `at` (its answers, since when) and says so: "lanjut", or
    /// starting the report again, brings it back while it is recent enough.
    fn park(&mut self, at: &Position) {
        let answers: std::collections::BTreeMap<&String, &String> = self
            .session
            .vars
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .collect();
        let kept = serde_json::to_string(&answers).unwrap_or_default();
        self.session
            .vars
            .insert(PARKED_AT.into(), format!("{}/{}", at.flow, at.node));
        self.session.vars.insert(PARKED_VARS.into(), kept);
        self.session
            .vars
            .insert(PARKED_SINCE.into(), self.env.now.to_string());
        // Kept only there, so another report started meanwhile starts empty.
        self.session.vars.retain(|k, _| k.starts_with('_'));
        self.session.position = None;
        self.session.paused = None;
        let text = self.bot_text("report_kept");
        self.push(text, vec![]);
    }

    /// Brings a parked report back when it is recent enough. `true` when it did.
    fn unpark_report(&mut self) -> bool {
        let Some(at) = self.session.vars.remove(PARKED_AT) else {
            return false;
        };
        let kept = self.session.vars.remove(PARKED_VARS).unwrap_or_default();
        let since = self
            .session
            .vars
            .remove(PARKED_SINCE)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if self.env.now.saturating_sub(since) > self.bot.report_keep_secs {
            return false;
        }
        let Some((flow, node)) = at.split_once('/') else {
            return false;
        };
        let pos = Position::new(flow, node);
        if self.bot.node(&pos).is_none() {
            return false;
        }
        let answers: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&kept).unwrap_or_default();
        self.session.vars.extend(answers);
        self.session.position = Some(pos.clone());
        let text = self.bot_text("resumed");
        self.push(text, vec![]);
        self.prompt(&pos);
        true
    }

    /// Starting a flow whose report was left unfinished (through the menu) continues that report
    /// where it waited, with its answers, instead of asking everything again. `true` when it did.
    fn resume_parked(&mut self, target: &Position) -> bool {
        let parked_flow = self
            .session
            .vars
            .get(PARKED_AT)
            .and_then(|at| at.split_once('/'))
            .map(|(flow, _)| flow.to_string());
        parked_flow.is_some_and(|flow| flow == target.flow)
            && self
                .bot
                .flows
                .get(&target.flow)
                .is_some_and(|f| f.first() == target.node)
            && self.unpark_report()
    }

    fn choice(&mut self, id: &str) {
        if let Some(code) = id.strip_prefix(LANG_PREFIX) {
            if let Some(lang) = Lang::parse(code).filter(|l| self.bot.languages.contains(l)) {
                self.session.lang = lang;
                self.session.lang_chosen = true;
                let text = self.bot_text("language_set");
                self.push(text, vec![]);
                return self.reprompt_or_menu();
            }
            return self.fallback();
        }
        if id == RESUME_ID {
            return self.resume();
        }
        if id == CANCEL_ID {
            for var in [PENDING_ANSWER, PARKED_AT, PARKED_VARS, PARKED_SINCE] {
                self.session.vars.remove(var);
            }
            let text = self.bot_text("cancelled");
            self.push(text, vec![]);
            return self.restart();
        }
        if id == LEAVE_ID {
            return match self.session.position.clone() {
                Some(at) if self.taking_report() => self.park_report(&at),
                _ => self.reprompt_or_menu(),
            };
        }
        if id == ANSWER_ID {
            let pending = self.session.vars.remove(PENDING_ANSWER);
            if let (Some(text), Some(pos)) = (pending, self.waiting_question())
                && let Some(NodeKind::Question(q)) = self.bot.node(&pos).map(|n| &n.kind)
            {
                let q = q.clone();
                self.session.vars.insert(q.save.clone(), text);
                return self.after_answer(&q.next);
            }
            return self.reprompt_or_menu();
        }
        if let Some(target) = id.strip_prefix(GOTO_PREFIX) {
            if let Some((flow, node)) = target.split_once('/') {
                let pos = Position::new(flow, node);
                if self.bot.node(&pos).is_some() {
                    self.pause_here();
                    return self.go(pos);
                }
            }
            return self.fallback();
        }
        if id == RESTART_ID {
            return self.restart();
        }
        // `flow/node/n`: a button of any menu still works, even from an older message.
        let mut parts = id.rsplitn(2, '/');
        let n = parts.next().and_then(|n| n.parse::<usize>().ok());
        let at = parts.next().and_then(|p| p.split_once('/'));
        if let (Some(n), Some((flow, node))) = (n, at) {
            let pos = Position::new(flow, node);
            match self.bot.node(&pos).map(|n| &n.kind) {
                Some(NodeKind::Menu { choices, .. }) => {
                    if let Some(c) = n.checked_sub(1).and_then(|i| choices.get(i)) {
                        let goto = c.goto.clone();
                        self.session.paused = None;
                        return self.go(goto);
                    }
                }
                // A question's button answers it, but only while that question waits: its labels
                // were filled in for that moment. An entry of its `options:` list answers with its
                // number, as if typed.
                Some(NodeKind::Question(q)) if self.session.position.as_ref() == Some(&pos) => {
                    if let Some(b) = n.checked_sub(1).and_then(|i| q.buttons.get(i)) {
                        let q = q.clone();
                        self.session.vars.insert(q.save.clone(), b.answer.clone());
                        return self.after_answer(&q.next);
                    }
                    if q.buttons.is_empty() && q.options.is_some() {
                        let q = q.clone();
                        self.session.vars.insert(q.save.clone(), n.to_string());
                        return self.after_answer(&q.next);
                    }
                }
                _ => {}
            }
        }
        // A button from dialogs that have since changed: say so gently and show the way on.
        self.fallback();
    }

    fn start(&mut self, payload: Option<&str>) {
        self.session.position = None;
        self.session.paused = None;
        let target = payload
            .map(|p| p.trim().to_ascii_lowercase())
            .and_then(|p| self.bot.flows.get(&p))
            .map(|f| Position::new(f.name.clone(), f.first()));
        self.go(target.unwrap_or_else(|| self.bot.start_position()));
    }

    fn attachment(&mut self, keep: impl FnOnce(&mut Session), first_contact: bool) {
        if let Some(pos) = self.session.position.clone()
            && let Some(NodeKind::Question(q)) = self.bot.node(&pos).map(|n| &n.kind)
            && q.attachments
        {
            keep(&mut self.session);
            let count = self.session.attachments.len().to_string();
            self.session.vars.insert(q.save.clone(), count);
            let text = self.bot_text("attachment_saved");
            // The question stays open so several files can follow; any text moves on.
            self.push(text, vec![]);
            return;
        }
        self.not_text(first_contact);
    }

    /// A picture sent where a node has `photo:` (an offer's screenshot while the offer's text is
    /// awaited): the conversation now waits at that question for the text the channel reads from it
    /// (`InputKind::ImageText`), and the user is told it is being read. `false` when the node takes no
    /// photo, so the picture is handled as before.
    fn photo_to_read(&mut self, attachment: &Attachment) -> bool {
        let Some(target) = self
            .session
            .position
            .as_ref()
            .and_then(|pos| self.bot.node(pos))
            .and_then(|node| node.photo.clone())
        else {
            return false;
        };
        if !attachment.is_image() {
            return false;
        }
        self.session.position = Some(target);
        self.session.retries = 0;
        self.session
            .vars
            .insert(PHOTO_PENDING.into(), attachment.reference.clone());
        let text = self.bot_text("photo_reading");
        self.push(text, vec![]);
        true
    }

    /// The text read from the awaited photo: the answer, as if typed; nothing read, the user is asked
    /// to type or paste it (the question still waits).
    fn image_text(&mut self, text: Option<&str>) {
        let read = text
            .map(clean_text)
            .filter(|t| t.chars().any(char::is_alphanumeric));
        match read {
            Some(read) => self.text(&read, false, false),
            None => {
                let text = self.bot_text("photo_unreadable");
                self.push(text, vec![]);
            }
        }
    }

    fn location(&mut self, lat: f64, lon: f64, first_contact: bool) {
        if let Some(pos) = self.session.position.clone()
            && let Some(NodeKind::Question(q)) = self.bot.node(&pos).map(|n| &n.kind)
            && q.attachments
        {
            let value = format!("{lat:.5}, {lon:.5}");
            let q = q.clone();
            self.session.vars.insert(q.save.clone(), value);
            return self.after_answer(&q.next);
        }
        self.not_text(first_contact);
    }

    fn not_text(&mut self, first_contact: bool) {
        let text = self.bot_text("not_text");
        self.push(text, vec![]);
        if first_contact {
            return self.go(self.bot.start_position());
        }
        self.reprompt_or_menu();
    }

    // --- understanding ----------------------------------------------------------------------------

    /// Notices emergency words: the effect, and the numbers for a priority-1 category (not again
    /// within [`EMERGENCY_REPEAT_SECS`]). The tier that raised it when the message raised a
    /// priority-1 category, shown or not; `None` otherwise.
    fn emergency(&mut self, norm: &str, cleaned: &str) -> Option<AlarmTier> {
        let (hit, tier) = self.bot.emergency_verdict(norm);
        let category = hit?;
        self.effects.push(Effect::Emergency {
            category: category.name.clone(),
        });
        self.session
            .vars
            .insert("_emergency".into(), category.name.clone());
        if category.priority > 1 {
            return None;
        }
        let last = self
            .session
            .vars
            .get("_emergency_at")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        let contacts = self.emergency_contacts(cleaned);
        if last != 0 && self.env.now.saturating_sub(last) < EMERGENCY_REPEAT_SECS {
            // Not again within minutes, unless the message names another country than the numbers
            // shown (a second relative elsewhere, or the country said only now: the numbers for
            // Singapore were never shown after Taiwan's; found by playing families, stop 20).
            let place = |vars: &std::collections::BTreeMap<String, String>| {
                vars.get(EMERGENCY_PLACE).cloned().unwrap_or_default()
            };
            let named = contacts
                .as_ref()
                .map(|(vars, _)| place(vars))
                .unwrap_or_default();
            if named.is_empty() || named == place(&self.session.vars) {
                return Some(tier);
            }
        }
        self.session
            .vars
            .insert("_emergency_at".into(), self.env.now.to_string());
        self.show_emergency_numbers(contacts);
        Some(tier)
    }

    /// Where a message that raised a priority-1 alarm goes: where it leads when that is a report, or
    /// a page that offers one (a family page, the report flow, "kabur"), else the alarm's own page
    /// (`EmergencyCategory::page`): "istri sy bilang mau bunuh diri, dia di hongkong" led to Hong
    /// Kong's wages and contract, "istri sy mau bunuh diri" to "did you mean: BLK?" (found by
    /// playing the bot, stop 18). With no page for the category, routing stays as it was.
    fn urgent_page(&self, target: Option<Position>) -> Option<Position> {
        let page = self
            .session
            .vars
            .get("_emergency")
            .and_then(|name| self.bot.emergency.iter().find(|c| &c.name == name))
            .and_then(|c| c.page.clone());
        let Some(page) = page else { return target };
        // A specific answer inside a flow (the claim for an accident at work abroad) is kept: the
        // page replaces only a flow's general start (a country's page) or nothing.
        let specific = |t: &Position| {
            self.bot
                .flows
                .get(&t.flow)
                .is_some_and(|f| f.first() != t.node)
        };
        match target {
            // The family menu asks what happened: the alarm already says it.
            Some(t) if t.flow == page.flow && !specific(&t) => Some(page),
            Some(t) if specific(&t) || self.leads_to_report(&t) => Some(t),
            _ => Some(page),
        }
    }

    /// Minutes after an alarm, a message that leads to a country's page without naming the country
    /// is more of the same story, told in pieces ("tlg" / "istri saya" / "dikurung" / "gk dikasih
    /// makan 2 hari" got Hong Kong's food allowance; found by playing families, stop 20): the last
    /// alarm's page instead.
    fn after_alarm(&self, norm: &str, target: Option<Position>) -> Option<Position> {
        let t = target?;
        let recent = self
            .session
            .vars
            .get("_emergency_at")
            .and_then(|at| at.parse::<u64>().ok())
            .is_some_and(|at| self.env.now.saturating_sub(at) < EMERGENCY_REPEAT_SECS);
        let padded = format!(" {norm} ");
        let unnamed_place = self.bot.flows.get(&t.flow).is_some_and(|f| {
            !f.places.is_empty() && !f.places.iter().any(|p| padded.contains(p.as_str()))
        });
        if !recent || !unnamed_place {
            return Some(t);
        }
        self.session
            .vars
            .get("_emergency")
            .and_then(|name| self.bot.emergency.iter().find(|c| &c.name == name))
            .and_then(|c| c.page.clone())
            .or(Some(t))
    }

    /// Whether `pos` is in a report that takes a story, or shows (itself or through its `next`)
    /// a menu that offers one.
    fn leads_to_report(&self, pos: &Position) -> bool {
        if self.story_var(&pos.flow).is_some() {
            return true;
        }
        let mut at = pos.clone();
        // A page, then its `next`: a short walk (a loop in the file ends it).
        for _ in 0..4 {
            match self.bot.node(&at).map(|n| &n.kind) {
                Some(NodeKind::Menu { choices, .. }) => {
                    return choices
                        .iter()
                        .any(|c| self.story_var(&c.goto.flow).is_some());
                }
                Some(NodeKind::Message {
                    next: Some(next), ..
                }) => at = next.clone(),
                Some(NodeKind::Jump { goto }) => at = goto.clone(),
                _ => return false,
            }
        }
        false
    }

    /// Whether the conversation now waits at a menu that offers to start a report that takes a story
    /// (a family page's "Lapor sekarang").
    fn offers_report(&self) -> bool {
        let Some(pos) = &self.session.position else {
            return false;
        };
        matches!(self.bot.node(pos).map(|n| &n.kind), Some(NodeKind::Menu { choices, .. })
            if choices.iter().any(|c| c.goto.flow != pos.flow && self.story_var(&c.goto.flow).is_some()))
    }

    /// The variable that holds what happened in the report `flow` takes: the `<var>` of its
    /// `case.story.<var>` node (the node that skips the "what happened" question when it is already
    /// told). `None` for a flow that takes no story.
    fn story_var(&self, flow: &str) -> Option<&str> {
        self.bot
            .flows
            .get(flow)?
            .nodes
            .values()
            .find_map(|n| match &n.kind {
                NodeKind::Action { name, .. } => name.strip_prefix(STORY_ACTION),
                _ => None,
            })
    }

    /// A message that raised a priority-1 emergency while a report waits at a question or menu
    /// other than "what happened": it is not that question's answer, so it is kept as the story
    /// (added to what is already told) and the waiting question is asked again in one line
    /// (`story_kept`, then its prompt). `false` when nothing waits in a report that takes a story, or
    /// when the "what happened" question itself waits (the message is then its answer, as usual).
    fn keep_story(&mut self, cleaned: &str) -> bool {
        let Some(pos) = self.session.position.clone() else {
            return false;
        };
        let Some(var) = self.story_var(&pos.flow).map(str::to_string) else {
            return false;
        };
        match self.bot.node(&pos).map(|n| &n.kind) {
            Some(NodeKind::Question(q)) if q.save != var => {}
            Some(NodeKind::Menu { .. }) => {}
            _ => return false,
        }
        let story = match self.session.vars.get(&var) {
            Some(told) if !told.trim().is_empty() => format!("{told}\n{cleaned}"),
            _ => cleaned.to_string(),
        };
        let story: String = story.chars().take(MAX_ANSWER_CHARS).collect();
        self.session.vars.insert(var, story);
        self.session.retries = 0;
        let text = self.bot_text("story_kept");
        self.push(text, vec![]);
        self.prompt(&pos);
        true
    }

    /// The emergency numbers for the country of the conversation (or the one named in `cleaned`), as
    /// a message of their own: nothing said before it (a language notice) or after it (the answer to
    /// the rest of the message) shares its phone screen. While a report is being taken it says the
    /// report is kept (`emergency_in_report`); otherwise how to start one (`emergency`).
    fn emergency_numbers(&mut self, cleaned: &str) {
        let contacts = self.emergency_contacts(cleaned);
        self.show_emergency_numbers(contacts);
    }

    /// What `emergency.contacts` finds for this message (its variables and effects), not yet kept:
    /// `None` without the action.
    fn emergency_contacts(&mut self, cleaned: &str) -> Option<FoundContacts> {
        let action = self.actions.get("emergency.contacts")?;
        // The message itself may name the country ("... di Malaysia", "di KL"); kept only for this
        // call. As typed, not after the lexicon: "kl" is also short for "kalau".
        self.session
            .vars
            .insert(EMERGENCY_TEXT.into(), cleaned.to_string());
        let result = action.run(&ActionCall {
            user: self.env.user,
            vars: &self.session.vars,
            attachments: &self.session.attachments,
            lang: self.lang(),
            now: self.env.now,
            seed: self.env.seed,
        });
        self.session.vars.remove(EMERGENCY_TEXT);
        Some((result.vars, result.effects))
    }

    /// Keeps what [`Run::emergency_contacts`] found and shows the emergency message.
    fn show_emergency_numbers(&mut self, contacts: Option<FoundContacts>) {
        if let Some((vars, effects)) = contacts {
            self.session.vars.extend(vars);
            self.effects.extend(effects);
        }
        self.session
            .vars
            .entry("emergency_contacts".into())
            .or_default();
        let name = if self.report_open() && self.bot.texts.contains_key("emergency_in_report") {
            "emergency_in_report"
        } else {
            "emergency"
        };
        let text = self.bot_text(name);
        self.sealed = true;
        self.push(text, vec![]);
        self.sealed = true;
    }

    /// Global keywords. `Some` when the message was one. A keyword counts with chat words around it
    /// ("batalin aja", "menu dulu", "lanjut lapor", "udah gak jadi deh": [`without_filler`]).
    fn keyword(&mut self, norm: &str) -> Option<()> {
        let k = &self.bot.keywords;
        let core = without_filler(norm);
        let is = |list: &Vec<String>| {
            list.iter()
                .any(|w| w == norm || (!core.is_empty() && *w == core))
        };
        let switch_to = k
            .switch
            .iter()
            .find(|(_, words)| words.iter().any(|w| w == norm))
            .map(|(lang, _)| *lang);
        if let Some(lang) = switch_to {
            if !self.bot.languages.contains(&lang) {
                self.language_menu();
                return Some(());
            }
            self.session.lang = lang;
            self.session.lang_chosen = true;
            let text = self.bot_text("language_set");
            self.push(text, vec![]);
            self.reprompt_or_menu();
            return Some(());
        }
        // The same word again at its own confirmation is the yes ("batal" twice cancels).
        let confirming = |id: &str| self.session.offered.iter().any(|(c, _)| c == id);
        if is(&k.cancel) && confirming(CANCEL_ID) {
            self.choice(CANCEL_ID);
            return Some(());
        }
        if is(&k.menu) && confirming(LEAVE_ID) {
            self.choice(LEAVE_ID);
            return Some(());
        }
        if is(&k.resume) && confirming(RESUME_ID) {
            self.choice(RESUME_ID);
            return Some(());
        }
        // "stop" in the middle of a report would throw the answers away: it asks, like "batal".
        if (is(&k.cancel) || (is(&k.stop) && self.has_answers())) && self.taking_report() {
            if self.has_answers() {
                self.confirm("cancel_confirm", CANCEL_ID, "cancel_yes_label");
            } else {
                // Nothing written yet: nothing to lose, so no question.
                self.choice(CANCEL_ID);
            }
            return Some(());
        }
        // Outside a report nothing is lost: "batal" at a question (the company name, the code) is
        // the menu, not an answer ("batal" was looked up as a company; stop 20).
        if is(&k.cancel) && self.at_question() && !self.taking_report() {
            self.session.position = None;
            self.session.paused = None;
            self.go(self.bot.start_position());
            return Some(());
        }
        if is(&k.menu) && self.has_answers() && !self.bot.text("leave_confirm", Lang::Id).is_empty()
        {
            self.confirm("leave_confirm", LEAVE_ID, "leave_yes_label");
            return Some(());
        }
        if is(&k.menu) {
            self.session.position = None;
            self.session.paused = None;
            self.go(self.bot.start_position());
        } else if is(&k.language) {
            self.language_menu();
        } else if is(&k.staff) {
            match self
                .bot
                .staff_flow
                .clone()
                .and_then(|f| self.bot.flows.get(&f))
            {
                Some(f) => {
                    let pos = Position::new(f.name.clone(), f.first());
                    self.go(pos)
                }
                None => return None,
            }
        } else if is(&k.stop) {
            self.session.position = None;
            self.session.paused = None;
            self.session.vars.retain(|k, _| k.starts_with('_'));
            self.session.attachments.clear();
            let text = self.bot_text("stopped");
            self.push(text, vec![]);
        } else if is(&k.resume)
            && self.session.paused.is_none()
            && self.session.vars.contains_key(PARKED_AT)
            && self.unpark_report()
        {
        } else if is(&k.resume) && (self.session.paused.is_some() || self.session.resume_offered) {
            self.resume();
        } else if is(&k.skip) {
            let pos = self.session.position.clone()?;
            let Some(NodeKind::Question(q)) = self.bot.node(&pos).map(|n| &n.kind) else {
                return None;
            };
            if !q.skip && !q.attachments {
                return None;
            }
            let q = q.clone();
            if !q.attachments || !self.session.vars.contains_key(&q.save) {
                self.session.vars.insert(q.save.clone(), String::new());
            }
            let text = self.bot_text("skipped");
            self.push(text, vec![]);
            self.after_answer(&q.next);
        } else {
            return None;
        }
        Some(())
    }

    /// The answer the current node expects. `true` when the input was that answer.
    fn expected_answer(&mut self, cleaned: &str, norm: &str, alarmed: bool) -> bool {
        let Some(pos) = self.session.position.clone() else {
            return false;
        };
        let Some(node) = self.bot.node(&pos) else {
            // The dialogs changed under this session: start again politely.
            self.session.position = None;
            return false;
        };
        match &node.kind {
            NodeKind::Menu { choices, .. } => {
                let picked = norm
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| choices.get(i))
                    .or_else(|| {
                        choices
                            .iter()
                            .find(|c| !norm.is_empty() && c.norms.iter().any(|l| l == norm))
                    });
                match picked {
                    Some(c) => {
                        let goto = c.goto.clone();
                        self.session.paused = None;
                        self.go(goto);
                        true
                    }
                    None => false,
                }
            }
            NodeKind::Question(q) => {
                if cleaned.is_empty() || q.except.iter().any(|e| e.is_match(norm)) {
                    return false;
                }
                // An emergency is no company name or ticket code: its page instead (a report's
                // question kept it as the story before this: `keep_story`).
                if alarmed && !q.alarm_answers && !self.taking_report() {
                    return false;
                }
                let fits = q.pattern.as_ref().is_none_or(|p| p.is_match(cleaned));
                if !fits {
                    return false;
                }
                // A free-text answer that reads like a question about something else: ask, keep
                // the answers either way. The examples must be sure (a name or a city is no
                // question); the offer names where the message would lead from the menu.
                // A company's name ("PT Maju Jaya Abadi" at the agency question) is an answer, not a
                // request to check it (found by playing families, stop 19: the offer came back at
                // every try, and a later word was saved as the agency).
                let company_name = norm.starts_with("pt ") || norm.starts_with("cv ");
                if q.pattern.is_none() && norm.split(' ').count() >= 3 && !company_name {
                    let ranked = self.bot.matcher.rank(norm);
                    let verdict = self.bot.matcher.verdict(&ranked);
                    if let (Verdict::Confident(t), Some(best)) = (&verdict, ranked.first())
                        && best.1 >= matcher::ELSEWHERE
                        && let Some(found) = self.bot.matcher.targets.get(*t)
                        && found.position.flow != pos.flow
                    {
                        let target = self
                            .route(norm, &ranked, &verdict)
                            .filter(|t| t.flow != pos.flow)
                            .unwrap_or_else(|| found.position.clone());
                        if self.switch_offer(&target, Some(cleaned)) {
                            return true;
                        }
                    }
                }
                let q = q.clone();
                self.session
                    .vars
                    .insert(q.save.clone(), cleaned.to_string());
                self.after_answer(&q.next);
                true
            }
            _ => false,
        }
    }

    /// The flow whose trigger matches best: the longest match, ties to the earlier file.
    fn trigger(&self, norm: &str) -> Option<String> {
        if norm.is_empty() {
            return None;
        }
        // Set indices follow file order, so ties go to the earlier file.
        let i = self.bot.trigger_set.longest(norm)?;
        self.bot
            .trigger_owner
            .get(i)
            .map(|(flow, _)| flow.to_string())
    }

    // --- moving -----------------------------------------------------------------------------------

    fn after_answer(&mut self, next: &Option<Position>) {
        self.session.retries = 0;
        self.session.resume_offered = false;
        match next {
            Some(n) => self.go(n.clone()),
            None => {
                self.session.position = None;
                self.flow_ended();
            }
        }
    }

    fn retry(
        &mut self,
        pos: &Position,
        limit: u32,
        retry: Option<Text>,
        on_fail: Option<Position>,
    ) {
        self.session.retries += 1;
        if self.session.retries >= limit {
            self.session.retries = 0;
            let text = self.bot_text("retries_exhausted");
            self.push(text, vec![]);
            self.session.position = None;
            self.session.paused = None;
            return self.go(on_fail.unwrap_or_else(|| self.bot.start_position()));
        }
        let text = match retry {
            Some(t) => self.render(Some(&t)),
            None => self.bot_text("fallback"),
        };
        self.push(text, vec![]);
        self.prompt(pos);
    }

    fn fallback(&mut self) {
        self.not_understood = Some(
            self.session
                .position
                .as_ref()
                .map(|p| format!("{}/{}", p.flow, p.node))
                .unwrap_or_else(|| "-".into()),
        );
        let text = self.bot_text("fallback");
        self.push(text, vec![]);
        self.reprompt_or_menu();
    }

    /// Shows the current node's prompt again, or the main menu when there is none.
    fn reprompt_or_menu(&mut self) {
        match self.session.position.clone() {
            Some(pos) if self.bot.node(&pos).is_some() => self.prompt(&pos),
            _ => {
                self.session.position = None;
                self.go(self.bot.start_position())
            }
        }
    }

    /// The prompt of a waiting node (a menu or a question), without entering it again.
    fn prompt(&mut self, pos: &Position) {
        let Some(node) = self.bot.node(pos) else {
            return;
        };
        match &node.kind {
            NodeKind::Menu { say, choices } => {
                let text = self.render(Some(say));
                let choices = self.choices(pos, choices);
                self.push(text, choices);
            }
            NodeKind::Question(q) => {
                let text = self.render(Some(&q.ask));
                let mut buttons: Vec<Choice> = q
                    .buttons
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| {
                        let label = self.render(Some(&b.label));
                        (!label.trim().is_empty()).then(|| Choice {
                            id: format!("{}/{}/{}", pos.flow, pos.node, i + 1),
                            label,
                        })
                    })
                    .collect();
                if q.buttons.is_empty()
                    && let Some(var) = &q.options
                {
                    buttons = option_choices(pos, self.session.vars.get(var));
                }
                self.push(text, buttons);
            }
            _ => {}
        }
    }

    fn choices(&self, pos: &Position, choices: &[super::model::MenuChoice]) -> Vec<Choice> {
        choices
            .iter()
            .enumerate()
            .map(|(i, c)| Choice {
                id: format!("{}/{}/{}", pos.flow, pos.node, i + 1),
                label: self.render(Some(&c.label)),
            })
            .collect()
    }

    /// "Did you mean ...?" with the targets the examples half-matched, as choices.
    fn did_you_mean(&mut self, offered: &[usize]) {
        let choices: Vec<Choice> = offered
            .iter()
            .filter_map(|&t| self.bot.matcher.targets.get(t))
            .map(|t| Choice {
                id: format!("{GOTO_PREFIX}{}/{}", t.position.flow, t.position.node),
                label: self.render(Some(&t.label)),
            })
            .collect();
        let mut text = self.bot_text("did_you_mean");
        if text.is_empty() {
            text = self.bot_text("fallback");
        }
        self.push(text, choices);
    }

    fn language_menu(&mut self) {
        let text = self.bot_text("language_prompt");
        let choices = self
            .bot
            .languages
            .iter()
            .map(|l| Choice {
                id: format!("{LANG_PREFIX}{}", l.code()),
                label: self
                    .bot
                    .language_names
                    .get(l)
                    .cloned()
                    .unwrap_or_else(|| l.code().to_string()),
            })
            .collect();
        self.push(text, choices);
    }

    fn welcome_back(&mut self) {
        self.session.resume_offered = true;
        let text = self.bot_text("welcome_back");
        let choices = self.resume_choices();
        self.push(text, choices);
    }

    fn resume_choices(&self) -> Vec<Choice> {
        vec![
            Choice {
                id: RESUME_ID.into(),
                label: self.bot_text("resume_label"),
            },
            Choice {
                id: RESTART_ID.into(),
                label: self.bot_text("restart_label"),
            },
        ]
    }

    fn resume(&mut self) {
        self.session.resume_offered = false;
        if let Some(paused) = self.session.paused.take()
            && self.bot.node(&paused).is_some()
        {
            self.session.position = Some(paused.clone());
            return self.prompt(&paused);
        }
        self.reprompt_or_menu();
    }

    fn restart(&mut self) {
        self.session.position = None;
        self.session.paused = None;
        self.session.resume_offered = false;
        self.session.retries = 0;
        self.session.vars.retain(|k, _| k.starts_with('_'));
        self.session.attachments.clear();
        self.go(self.bot.start_position());
    }

    fn flow_ended(&mut self) {
        if self.session.paused.is_some() {
            let text = self.bot_text("resume_offer");
            let choices = self.resume_choices();
            self.push(text, choices);
        } else {
            let text = self.bot_text("flow_end_hint");
            self.push(text, vec![]);
        }
    }

    /// Enters `target` and runs until a node waits for the user or the flow ends.
    fn go(&mut self, target: Position) {
        if self.resume_parked(&target) {
            return;
        }
        // Starting a report right after telling what happened: the story is told already.
        if let Some(told) = self.session.vars.remove(TOLD)
            && let Some(var) = self.story_var(&target.flow).map(str::to_string)
            && self
                .bot
                .flows
                .get(&target.flow)
                .is_some_and(|f| f.first() == target.node)
            && self
                .session
                .vars
                .get(&var)
                .is_none_or(|v| v.trim().is_empty())
        {
            self.session.vars.insert(var, told);
        }
        let mut pos = target;
        for _ in 0..MAX_HOPS {
            let Some(node) = self.bot.node(&pos) else {
                self.session.position = None;
                return self.fallback_without_loop();
            };
            if self.entered.is_none() {
                self.entered = Some(pos.flow.clone());
                self.entered_at = Some(pos.clone());
            }
            self.session.retries = 0;
            match &node.kind {
                NodeKind::Message { say, next } => {
                    let text = self.render(Some(say));
                    self.push(text, vec![]);
                    match next {
                        Some(n) => pos = n.clone(),
                        None => {
                            self.session.position = None;
                            return self.flow_ended();
                        }
                    }
                }
                NodeKind::Menu { .. } | NodeKind::Question(_) => {
                    self.session.position = Some(pos.clone());
                    return self.prompt(&pos);
                }
                NodeKind::Jump { goto } => pos = goto.clone(),
                NodeKind::End { say } => {
                    let text = self.render(say.as_ref());
                    self.push(text, vec![]);
                    // A dead end states the one way back, like the end of any flow.
                    let hint = self.bot_text("flow_end_hint");
                    self.push(hint, vec![]);
                    self.session.position = None;
                    self.session.paused = None;
                    self.session.vars.retain(|k, _| k.starts_with('_'));
                    self.session.attachments.clear();
                    return;
                }
                NodeKind::Action {
                    name,
                    say,
                    outcomes,
                } => {
                    if let Some(s) = say {
                        let text = self.render(Some(s));
                        self.push(text, vec![]);
                    }
                    let Some(action) = self.actions.get(name) else {
                        self.session.position = None;
                        return self.fallback_without_loop();
                    };
                    let result = action.run(&ActionCall {
                        user: self.env.user,
                        vars: &self.session.vars,
                        attachments: &self.session.attachments,
                        lang: self.lang(),
                        now: self.env.now,
                        seed: self.env.seed,
                    });
                    self.session.vars.extend(result.vars);
                    self.effects.extend(result.effects);
                    match outcomes.get(&result.outcome) {
                        Some(n) => pos = n.clone(),
                        None => {
                            self.session.position = None;
                            return self.fallback_without_loop();
                        }
                    }
                }
            }
        }
        // The checker rejects loops that never wait; this only guards against a future mistake.
        self.session.position = None;
        self.fallback_without_loop();
    }

    /// The fallback text alone (used when going to the menu itself failed).
    fn fallback_without_loop(&mut self) {
        let text = self.bot_text("fallback");
        self.push(text, vec![]);
    }
}

/// Chat words that do not change what a keyword means ("batalin *aja*", "menu *dulu*", "lanjut
/// *lapor*", "*udah* gak jadi *deh*"), after the lexicon. Not user-facing: only what is ignored
/// around a whole-message keyword.
const FILLER: &[&str] = &[
    "saja",
    "deh",
    "dulu",
    "dong",
    "ya",
    "yah",
    "min",
    "kak",
    "mas",
    "mbak",
    "bu",
    "pak",
    "lah",
    "sih",
    "nih",
    "aja",
    "sudah",
    "kok",
    "please",
    "pls",
    "lapor",
    "laporan",
    "laporannya",
    "melapor",
    "laporan saya",
    "report",
    "the",
    "now",
    "mawon",
    "ae",
    "wis",
];

/// `norm` without [`FILLER`] words at its start and end; empty when it is only filler.
fn without_filler(norm: &str) -> String {
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    let is_filler = |w: &&str| FILLER.contains(w);
    let start = words.iter().position(|w| !is_filler(w));
    let end = words.iter().rposition(|w| !is_filler(w));
    match (start, end) {
        (Some(a), Some(b)) => words[a..=b].join(" "),
        _ => String::new(),
    }
}

/// Whether `flow` files a case (has a `case.open` node): its questions take a report.
pub fn files_a_case(bot: &Bot, flow: &str) -> bool {
    bot.flows.get(flow).is_some_and(|flow| {
        flow.nodes
            .values()
            .any(|n| matches!(&n.kind, NodeKind::Action { name, .. } if name == "case.open"))
    })
}

/// The emergency message as the step sends it to this session (its language, its country in
/// `negara`/`kota`, its position: a report being taken or not), for `pandu check` to measure every
/// country in every language. `None` when the bot has no emergency text.
pub fn emergency_message(
    bot: &Bot,
    actions: &Actions,
    session: Session,
    env: &StepEnv<'_>,
) -> Option<String> {
    bot.texts.get("emergency")?;
    let mut run = Run::new(bot, actions, env, session);
    run.emergency_numbers("");
    run.replies.pop().map(|r| r.text)
}

/// The choices of a question's list (`options:`): one per non-empty line of the variable, numbered in
/// order, the line's own leading number ("2. ", "2) ") left out of the label.
fn option_choices(pos: &Position, list: Option<&String>) -> Vec<Choice> {
    let Some(list) = list else {
        return Vec::new();
    };
    list.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let label = match line[digits..].strip_prefix(['.', ')']) {
                Some(rest) if digits > 0 => rest.trim_start(),
                _ => line,
            };
            Choice {
                id: format!("{}/{}/{}", pos.flow, pos.node, i + 1),
                label: super::markup::escape(label),
            }
        })
        .collect()
}

/// Where a conversation stands, said again without changing it (a terminal chat started again after a
/// restart): the optional bot text `resumed`, then the waiting menu's or question's prompt, or the way
/// to the menu (`flow_end_hint`) when nothing waits.
pub fn where_we_are(bot: &Bot, session: &Session) -> Vec<Reply> {
    let lang = session.lang;
    let say = |text: &Text| interpolate(text.get(lang), lang, session, bot);
    let mut text = bot.texts.get("resumed").map(say).unwrap_or_default();
    let mut choices = Vec::new();
    let node = session
        .position
        .as_ref()
        .and_then(|pos| bot.node(pos).map(|n| (pos, n)));
    let prompt = match node.map(|(pos, n)| (pos, &n.kind)) {
        Some((
            pos,
            NodeKind::Menu {
                say: menu,
                choices: cs,
            },
        )) => {
            choices = cs
                .iter()
                .enumerate()
                .map(|(i, c)| Choice {
                    id: format!("{}/{}/{}", pos.flow, pos.node, i + 1),
                    label: say(&c.label),
                })
                .collect();
            say(menu)
        }
        Some((pos, NodeKind::Question(q))) => {
            choices = q
                .buttons
                .iter()
                .enumerate()
                .filter_map(|(i, b)| {
                    let label = say(&b.label);
                    (!label.trim().is_empty()).then(|| Choice {
                        id: format!("{}/{}/{}", pos.flow, pos.node, i + 1),
                        label,
                    })
                })
                .collect();
            if q.buttons.is_empty()
                && let Some(var) = &q.options
            {
                choices = option_choices(pos, session.vars.get(var));
            }
            say(&q.ask)
        }
        _ => bot.texts.get("flow_end_hint").map(say).unwrap_or_default(),
    };
    if !text.is_empty() && !prompt.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(&prompt);
    if text.trim().is_empty() && choices.is_empty() {
        return Vec::new();
    }
    vec![Reply { text, choices }]
}

/// Replaces `{var}` with the session's variable (escaped: see [`super::markup`]) and `{fact.key}` with
/// the fact's value; `{var|text}` shows `text` when the variable is missing or empty (a skipped question
/// in a summary). A fact staff have not filled in is never shown: `{fact.key|text}` shows `text`
/// instead, and a line with a bare `{fact.key}` of an unfilled fact is left out.
pub fn interpolate(text: &str, lang: Lang, session: &Session, bot: &Bot) -> String {
    if text.contains("{fact.") && bot.facts.values().any(FactValue::is_unfilled) {
        let kept: String = text
            .split_inclusive('\n')
            .filter(|line| !refers_to_unfilled_fact(line, bot))
            .collect();
        return interpolate_refs(&kept, lang, session, bot);
    }
    interpolate_refs(text, lang, session, bot)
}

/// True when the line has a `{fact.key}` (without an alternative) whose fact is not filled in.
fn refers_to_unfilled_fact(line: &str, bot: &Bot) -> bool {
    line.match_indices("{fact.").any(|(i, m)| {
        let rest = &line[i + m.len()..];
        rest.find('}').is_some_and(|j| {
            let key = &rest[..j];
            !key.contains('|') && bot.facts.get(key).is_some_and(FactValue::is_unfilled)
        })
    })
}

fn interpolate_refs(text: &str, lang: Lang, session: &Session, bot: &Bot) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            out.push('{');
            rest = stripped;
            continue;
        }
        match after.find('}') {
            Some(j) => {
                let (name, fallback) = match after[..j].split_once('|') {
                    Some((name, fallback)) => (name, fallback),
                    None => (&after[..j], ""),
                };
                // Facts are authored text (their markup counts); a variable's value is shown
                // literally, whoever wrote it (a user's answer, an action's result), unless an
                // action declares it authored markup (it then escapes what it embeds itself).
                let value = match name.strip_prefix("fact.") {
                    Some(key) => bot
                        .facts
                        .get(key)
                        .map(|f| f.value.get(lang).to_string())
                        .unwrap_or_default(),
                    None => match session.vars.get(name) {
                        Some(v) if bot.markup_vars.contains(name) => v.clone(),
                        Some(v) => super::markup::escape(v),
                        None => String::new(),
                    },
                };
                out.push_str(if value.trim().is_empty() {
                    fallback
                } else {
                    &value
                });
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::fixture;
    use super::super::io::{Attachment, AttachmentKind};
    use super::*;
    use crate::storage::Channel;

    struct Chat {
        bot: Bot,
        actions: Actions,
        session: Session,
        now: u64,
        user: UserKey,
    }

    impl Chat {
        fn new() -> Chat {
            Chat {
                bot: fixture::bot(),
                actions: fixture::actions(),
                session: Session::default(),
                now: 1_800_000_000,
                user: UserKey::new(Channel::Console, "t"),
            }
        }

        fn send(&mut self, kind: InputKind) -> Step {
            self.now += 10;
            let env = StepEnv {
                now: self.now,
                seed: 42,
                idle_secs: 3600,
                user: &self.user,
            };
            let input = Input { kind, at: self.now };
            let step = step(&self.bot, &self.actions, self.session.clone(), &input, &env);
            self.session = step.session.clone();
            step
        }

        fn say(&mut self, text: &str) -> String {
            let step = self.send(InputKind::Text(text.into()));
            shown(&step)
        }

        fn at(&self) -> Option<(String, String)> {
            self.session.position.clone().map(|p| (p.flow, p.node))
        }
    }

    fn shown(step: &Step) -> String {
        step.replies
            .iter()
            .map(|r| {
                let labels: Vec<&str> = r.choices.iter().map(|c| c.label.as_str()).collect();
                format!("{} [{}]", r.text, labels.join("|"))
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }

    #[test]
    fn an_unfilled_fact_is_never_shown() {
        let mut chat = Chat::new();
        let fact = |value: &str| super::super::model::FactValue {
            value: Text([(Lang::Id, value.to_string())].into_iter().collect()),
            meta: super::super::model::FactMeta {
                source: String::new(),
                verified: None,
                confidence: super::super::model::Confidence::Low,
                note: None,
                verifier: None,
            },
        };
        chat.bot.facts.insert("address".into(), fact(""));
        chat.bot.facts.insert("phone".into(), fact("(0285) 421731"));
        let text = "Kantor dinas\nAlamat: {fact.address}\nTelepon: {fact.phone}\nLokasi: {fact.address|tanya lewat telepon}";
        let out = interpolate(text, Lang::Id, &chat.session, &chat.bot);
        assert_eq!(
            out,
            "Kantor dinas\nTelepon: (0285) 421731\nLokasi: tanya lewat telepon"
        );
        // A filled fact shows as before; the line stays.
        chat.bot
            .facts
            .insert("address".into(), fact("Jl. Contoh 1"));
        let out = interpolate(text, Lang::Id, &chat.session, &chat.bot);
        assert!(out.contains("Alamat: Jl. Contoh 1"), "{out}");
        assert!(out.contains("Lokasi: Jl. Contoh 1"), "{out}");
        // A reply whose first line was left out does not start with a blank line.
        chat.bot.facts.insert("address".into(), fact(""));
        let env = StepEnv {
            now: 1,
            seed: 1,
            idle_secs: 1,
            user: &chat.user,
        };
        let mut run = Run::new(&chat.bot, &chat.actions, &env, Session::default());
        run.push(
            interpolate("{fact.address}\n\nIsi", Lang::Id, &chat.session, &chat.bot),
            vec![],
        );
        assert_eq!(run.replies[0].text, "Isi");
    }

    #[test]
    fn a_missing_or_empty_variable_shows_its_fallback() {
        let bot = fixture::bot();
        let mut session = Session::default();
        session.vars.insert("majikan".into(), "  ".into());
        session.vars.insert("kota".into(), "Johor Bahru".into());
        let text = "Majikan: {majikan|(tidak diisi)} · kota: {kota|-} · agensi: {agensi|-} · {nama} · {{x}";
        assert_eq!(
            interpolate(text, Lang::Id, &session, &bot),
            "Majikan: (tidak diisi) · kota: Johor Bahru · agensi: - ·  · {x}"
        );
    }

    #[test]
    fn first_contact_shows_the_main_menu_with_buttons() {
        let mut chat = Chat::new();
        let step = chat.send(InputKind::Text("halo".into()));
        assert_eq!(step.replies.len(), 1);
        assert_eq!(step.replies[0].text, "Menu utama");
        let ids: Vec<&str> = step.replies[0]
            .choices
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, vec!["main/start/1", "main/start/2"]);
    }

    #[test]
    fn a_choice_works_by_button_number_and_label() {
        for input in [
            InputKind::Choice("main/start/1".into()),
            InputKind::Text("1".into()),
            InputKind::Text("  SYARAT ".into()),
        ] {
            let mut chat = Chat::new();
            chat.say("halo");
            let step = chat.send(input.clone());
            assert!(
                shown(&step).contains("Syarat: umur 18."),
                "{input:?}: {}",
                shown(&step)
            );
            assert!(
                shown(&step).contains("Ketik 0 untuk menu."),
                "a flow's end shows the way on"
            );
        }
    }

    #[test]
    fn a_number_that_is_not_a_choice_says_so_and_shows_the_choices_again() {
        let mut chat = Chat::new();
        chat.say("halo");
        let step = chat.send(InputKind::Text("7".into()));
        let text = shown(&step);
        assert!(text.contains("Tidak ada nomor 7; pilih 1-2."), "{text}");
        assert!(!text.contains("Maaf, belum mengerti"), "{text}");
        let last = step.replies.last().unwrap();
        assert_eq!(last.choices.len(), 2, "{text}");
        assert!(!step.session.vars.contains_key("_number"));
        // The menu still works after it.
        assert!(chat.say("1").contains("Syarat: umur 18."));
    }

    #[test]
    fn texts_of_one_turn_share_a_message_only_while_it_fits_a_phone_screen() {
        // A menu whose text is almost a screen long: "no such number" before it would push it over.
        let long = "Pilih salah satu layanan di bawah ini sesuai kebutuhan Anda. ".repeat(11);
        let main = format!(
            "flow: main\nnodes:\n  start:\n    say: {{ id: {long:?}, en: {long:?} }}\n    choices:\n      - label: {{ id: Syarat, en: Requirements }}\n        goto: info\n      - label: {{ id: Lapor, en: Report }}\n        goto: lapor\n"
        );
        let (bot, _) = fixture::load_with(&[("main.yaml", &main)]).unwrap();
        let mut chat = Chat { bot, ..Chat::new() };
        chat.say("halo");
        let step = chat.send(InputKind::Text("7".into()));
        for reply in &step.replies {
            assert!(
                reply.text.chars().count() <= REPLY_MAX_CHARS,
                "{} characters: {}",
                reply.text.chars().count(),
                reply.text
            );
        }
        // Both are said, in order: the notice, then the menu again with its choices.
        assert_eq!(step.replies.len(), 2, "{step:?}");
        assert!(step.replies[0].text.contains("Tidak ada nomor 7"));
        assert!(step.replies[1].text.starts_with("Pilih salah satu layanan"));
        assert_eq!(step.replies[1].choices.len(), 2);
        // Short texts still travel together.
        let mut chat = Chat::new();
        chat.say("halo");
        let step = chat.send(InputKind::Text("7".into()));
        assert_eq!(step.replies.len(), 1, "{step:?}");
    }

    #[test]
    fn no_reply_starts_with_a_blank_line_when_a_variable_is_empty() {
        let chat = Chat::new();
        let env = StepEnv {
            now: 1,
            seed: 1,
            idle_secs: 3600,
            user: &chat.user,
        };
        let mut run = Run {
            bot: &chat.bot,
            actions: &chat.actions,
            env: &env,
            session: Session::default(),
            replies: Vec::new(),
            effects: Vec::new(),
            entered: None,
            entered_at: None,
            not_understood: None,
            sealed: false,
        };
        // "{note}\nText\n\n{empty}\n\nMore" with both variables empty.
        run.push("\nText\n\n\n\nMore\n".into(), vec![]);
        assert_eq!(run.replies[0].text, "Text\n\nMore");
    }

    #[test]
    fn a_list_that_asks_for_a_number_comes_as_choices_and_a_press_answers_with_the_number() {
        let (bot, _) = fixture::load_with(&[("pilih.yaml", fixture::PILIH)]).unwrap();
        for pick in [
            InputKind::Choice("pilih/mana/2".into()),
            InputKind::Text("2".into()),
            InputKind::Text("pt dua karya".into()),
        ] {
            let mut chat = Chat::new();
            chat.bot = bot.clone();
            let step = chat.send(InputKind::Text("mau pilih pt".into()));
            let last = step.replies.last().unwrap();
            let labels: Vec<&str> = last.choices.iter().map(|c| c.label.as_str()).collect();
            // The labels are the lines without their numbers, shown literally (escaped markup).
            assert_eq!(labels, vec!["PT Satu \\*Jaya\\*", "PT Dua Karya"]);
            assert_eq!(last.choices[1].id, "pilih/mana/2");
            let out = shown(&chat.send(pick.clone()));
            assert!(out.contains("Anda memilih 2."), "{pick:?}: {out}");
        }
        // A number past the list says so.
        let mut chat = Chat::new();
        chat.bot = bot;
        chat.say("mau pilih pt");
        let out = chat.say("5");
        assert!(out.contains("Tidak ada nomor 5; pilih 1-2."), "{out}");
    }

    #[test]
    fn a_trigger_starts_a_flow_from_anywhere() {
        let mut chat = Chat::new();
        chat.say("halo");
        let step = chat.send(InputKind::Text("syarat kerja ke taiwan apa aja".into()));
        assert_eq!(step.entered.as_deref(), Some("info"));
    }

    #[test]
    fn a_question_validates_retries_and_gives_up_politely() {
        let mut chat = Chat::new();
        chat.say("lapor");
        assert_eq!(chat.at(), Some(("lapor".into(), "nama".into())));
        assert!(chat.say("Siti").contains("Umur Siti?"));
        assert!(chat.say("dua puluh").contains("Tulis angka umur."));
        assert!(chat.say("duapuluh").contains("Tulis angka umur."));
        let out = chat.say("tua");
        assert!(out.contains("Terlalu banyak salah."), "{out}");
        assert!(out.contains("Menu utama"), "{out}");
        assert_eq!(chat.at(), Some(("main".into(), "start".into())));
    }

    #[test]
    fn a_trigger_interrupts_a_question_and_the_user_can_come_back() {
        let mut chat = Chat::new();
        chat.say("lapor");
        chat.say("Siti");
        let out = chat.say("syarat?");
        assert!(out.contains("Syarat: umur 18."), "{out}");
        assert!(out.contains("Kembali ke pertanyaan tadi?"), "{out}");
        let out = chat.say("1");
        assert!(out.contains("Umur Siti?"), "{out}");
        assert!(chat.say("25").contains("Kirim foto"));
    }

    #[test]
    fn attachments_are_kept_where_a_question_accepts_them_and_refused_elsewhere() {
        let photo = InputKind::Attachment(Attachment {
            kind: AttachmentKind::Photo,
            reference: "file-1".into(),
            mime: None,
            stored_path: None,
        });
        let mut chat = Chat::new();
        chat.say("halo");
        let step = chat.send(photo.clone());
        assert!(shown(&step).contains("Mohon ketik."), "{}", shown(&step));
        assert!(shown(&step).contains("Menu utama"));
        chat.say("lapor");
        chat.say("Siti");
        chat.say("30");
        let step = chat.send(photo);
        assert!(shown(&step).contains("File diterima."));
        assert_eq!(chat.session.attachments.len(), 1);
        let out = chat.say("lanjut");
        assert!(out.contains("Kode T42 untuk Siti."), "{out}");
        assert!(
            out.contains("Ketik 0 untuk menu."),
            "a dead end states the way back: {out}"
        );
        assert!(
            !chat.session.vars.contains_key("nama"),
            "an ended conversation forgets its answers"
        );
    }

    fn photo(reference: &str) -> InputKind {
        InputKind::Attachment(Attachment {
            kind: AttachmentKind::Photo,
            reference: reference.into(),
            mime: None,
            stored_path: None,
        })
    }

    fn read(reference: &str, text: Option<&str>) -> InputKind {
        InputKind::ImageText {
            reference: reference.into(),
            text: text.map(str::to_string),
        }
    }

    fn chat_with_tawar() -> Chat {
        let (bot, _) = fixture::load_with(&[("tawar.yaml", fixture::TAWAR)]).unwrap();
        Chat { bot, ..Chat::new() }
    }

    #[test]
    fn a_photo_where_a_node_reads_photos_waits_for_its_text_which_answers_the_question() {
        let mut chat = chat_with_tawar();
        assert!(
            chat.say("ada lowongan nih")
                .contains("Periksa lowongan ini?")
        );
        // At the yes/no question: the photo is awaited as the text the question after it wants.
        let step = chat.send(photo("img-1"));
        assert_eq!(step.replies.len(), 1);
        assert_eq!(step.replies[0].text, "Gambar sedang dibaca.");
        assert_eq!(chat.at(), Some(("tawar".into(), "minta".into())));
        // A reading of another photo changes nothing.
        let step = chat.send(read("img-0", Some("lama")));
        assert!(step.replies.is_empty(), "{}", shown(&step));
        let out = shown(&chat.send(read("img-1", Some("  Kerja di Kamboja gaji 15jt \u{7}"))));
        assert!(
            out.contains("Diperiksa: Kerja di Kamboja gaji 15jt"),
            "{out}"
        );
        // Read once: the same reading again (a replay) does nothing.
        let step = chat.send(read("img-1", Some("Kerja di Kamboja")));
        assert!(step.replies.is_empty(), "{}", shown(&step));
    }

    #[test]
    fn an_unreadable_photo_asks_for_the_text_and_a_late_reading_is_dropped() {
        let mut chat = chat_with_tawar();
        chat.say("lowongan");
        chat.say("1");
        chat.send(photo("img-2"));
        for nothing in [None, Some(""), Some(" \n ~~ ")] {
            chat.send(photo("img-2"));
            let step = chat.send(read("img-2", nothing));
            assert_eq!(step.replies.len(), 1);
            assert_eq!(step.replies[0].text, "Gambar tidak terbaca; ketik teksnya.");
            assert_eq!(chat.at(), Some(("tawar".into(), "minta".into())));
        }
        // The user typed meanwhile: the typed text is the answer, the late reading is dropped.
        chat.send(photo("img-3"));
        assert!(
            chat.say("gaji 9 juta di taiwan")
                .contains("Diperiksa: gaji 9 juta")
        );
        let step = chat.send(read("img-3", Some("teks dari gambar")));
        assert!(step.replies.is_empty(), "{}", shown(&step));
        // A voice note at the same question is not a picture: handled as before.
        chat.say("lowongan");
        chat.say("1");
        let voice = InputKind::Attachment(Attachment {
            kind: AttachmentKind::Voice,
            reference: "v".into(),
            mime: None,
            stored_path: None,
        });
        assert!(shown(&chat.send(voice)).contains("Mohon ketik."));
        // A photo where no node reads photos keeps its old answer.
        chat.say("menu");
        assert!(shown(&chat.send(photo("img-4"))).contains("Mohon ketik."));
        assert!(!chat.session.vars.contains_key(PHOTO_PENDING));
    }

    #[test]
    fn a_typed_yes_word_presses_the_one_choice_that_starts_with_yes() {
        let mut chat = chat_with_tawar();
        for yes in ["ya", "iya", "ok", "y"] {
            chat.say("menu");
            chat.say("ada lowongan");
            let out = chat.say(yes);
            assert!(out.contains("Tempel teks lowongannya."), "{yes}: {out}");
        }
    }

    #[test]
    fn skip_words_skip_optional_questions_only() {
        let mut chat = Chat::new();
        chat.say("lapor");
        // The name question is not skippable: "tidak tahu" is taken as the answer.
        assert!(chat.say("tidak tahu").contains("Umur tidak tahu?"));
        chat.say("40");
        let out = chat.say("lewati");
        assert!(out.contains("Dilewati.") && out.contains("Kode"), "{out}");
    }

    #[test]
    fn global_keywords_work_in_every_state() {
        let mut chat = Chat::new();
        chat.say("lapor");
        assert!(chat.say("0").contains("Menu utama"));
        chat.say("lapor");
        let out = chat.say("stop");
        assert!(out.contains("Dihentikan."));
        assert_eq!(chat.at(), None);
        let out = chat.say("bahasa");
        assert!(
            out.contains("Pilih bahasa:") && out.contains("English"),
            "{out}"
        );
        let out = chat.say("2");
        assert!(
            out.contains("English chosen.") && out.contains("Main menu"),
            "{out}"
        );
        assert_eq!(chat.session.lang, Lang::En);
    }

    #[test]
    fn a_user_back_after_a_day_may_resume_or_restart() {
        let mut chat = Chat::new();
        chat.say("lapor");
        chat.say("Siti");
        chat.now += 24 * 3600;
        let out = chat.say("halo?");
        assert!(
            out.contains("Selamat datang kembali.") && out.contains("Lanjutkan"),
            "{out}"
        );
        let out = chat.say("1");
        assert!(out.contains("Umur Siti?"), "{out}");
        chat.now += 24 * 3600;
        chat.say("halo");
        let out = chat.say("2");
        assert!(out.contains("Menu utama"), "{out}");
        assert!(!chat.session.vars.contains_key("nama"));
    }

    fn chat_in_intake() -> Chat {
        let (bot, _) = fixture::load_with(&[("lapor.yaml", fixture::LAPOR_INTAKE)]).unwrap();
        Chat { bot, ..Chat::new() }
    }

    #[test]
    fn emergency_words_show_numbers_at_once_and_the_intake_goes_on() {
        let mut chat = chat_in_intake();
        chat.say("lapor");
        assert!(chat.say("2").contains("Siapa nama PMI?"));
        let step = chat.send(InputKind::Text("Siti, dia dipukul majikan".into()));
        let out = shown(&step);
        // The numbers at once, as a message of their own, saying the report is kept.
        assert_eq!(step.replies.len(), 2, "{out}");
        assert!(step.replies[0].text.starts_with("DARURAT"), "{out}");
        assert!(
            step.replies[0].text.contains("laporan tetap tersimpan"),
            "{out}"
        );
        assert!(step.effects.contains(&Effect::Emergency {
            category: "kekerasan".into()
        }));
        // The message is not the name: it is kept as what happened, and the name is asked again.
        assert_eq!(
            step.replies[1].text,
            "Dicatat sebagai cerita. Jawab dulu:\n\nSiapa nama PMI?"
        );
        assert!(!chat.session.vars.contains_key("nama"), "{out}");
        assert_eq!(chat.session.vars["cerita"], "Siti, dia dipukul majikan");
        assert_eq!(chat.at(), Some(("lapor".into(), "nama".into())));
        assert!(chat.say("Siti").contains("Umur Siti?"));
        // Not repeated within minutes, but still not an answer: added to the story, the age asked
        // again. A lower-priority category is noted without the numbers.
        let step = chat.send(InputKind::Text("td pagi dia disiksa lg".into()));
        assert!(!shown(&step).contains("DARURAT"), "{}", shown(&step));
        assert!(shown(&step).contains("Umur Siti?"), "{}", shown(&step));
        assert_eq!(
            chat.session.vars["cerita"],
            "Siti, dia dipukul majikan\ntd pagi dia disiksa lg"
        );
        let step = chat.send(InputKind::Text("gaji".into()));
        assert!(step.effects.contains(&Effect::Emergency {
            category: "gaji".into()
        }));
        // What happened is not asked again; the report carries it.
        let out = chat.say("25");
        assert!(out.contains("Ceritanya sudah dicatat."), "{out}");
        assert!(!out.contains("Apa yang terjadi?"), "{out}");
        let out = chat.say("dia pulang");
        assert!(
            out.contains("Siti, 25. Cerita: Siti, dia dipukul majikan"),
            "{out}"
        );
    }

    #[test]
    fn an_emergency_typed_where_what_happened_is_asked_is_the_answer() {
        let mut chat = chat_in_intake();
        chat.say("lapor");
        chat.say("1");
        chat.say("Siti");
        assert!(chat.say("30").contains("Apa yang terjadi?"));
        let step = chat.send(InputKind::Text("dia dipukul majikan tiap hari".into()));
        assert!(step.replies[0].text.starts_with("DARURAT"));
        assert!(
            shown(&step).contains("Apa harapan Anda?"),
            "{}",
            shown(&step)
        );
        assert!(!shown(&step).contains("Dicatat sebagai cerita"));
        assert_eq!(chat.session.vars["cerita"], "dia dipukul majikan tiap hari");
    }

    #[test]
    fn an_emergency_at_a_menu_of_the_report_or_opening_it_is_kept_as_the_story() {
        // At the report's first menu: the numbers, then the same menu again with its buttons.
        let mut chat = chat_in_intake();
        chat.say("lapor");
        let step = chat.send(InputKind::Text("tolong adik sy dipukul".into()));
        assert!(step.replies[0].text.starts_with("DARURAT"));
        let last = step.replies.last().unwrap();
        assert!(last.text.ends_with("Siapa yang melapor?"), "{}", last.text);
        assert_eq!(last.choices.len(), 2);
        assert_eq!(chat.at(), Some(("lapor".into(), "siapa".into())));
        assert_eq!(chat.session.vars["cerita"], "tolong adik sy dipukul");
        // The message that opens a report with an emergency is its story too.
        let mut chat = chat_in_intake();
        chat.say("halo");
        let out = chat.say("mau lapor, kakak sy disiksa majikan");
        assert!(
            out.starts_with("DARURAT") && out.contains("Siapa yang melapor?"),
            "{out}"
        );
        chat.say("2");
        chat.say("Ani");
        assert!(chat.say("41").contains("Ceritanya sudah dicatat."));
        // A report started without one asks what happened.
        let mut chat = chat_in_intake();
        chat.say("lapor");
        chat.say("2");
        chat.say("Ani");
        assert!(chat.say("41").contains("Apa yang terjadi?"));
    }

    #[test]
    fn cancel_words_typed_with_chat_words_ask_first_and_the_same_word_again_confirms() {
        let mut chat = chat_in_intake();
        // Nothing answered yet: nothing to lose, so no question.
        chat.say("lapor");
        let out = chat.say("gak jadi deh");
        assert!(
            out.contains("Laporan dibatalkan.") && out.contains("Menu utama"),
            "{out}"
        );
        chat.say("lapor");
        chat.say("2");
        chat.say("Siti");
        let out = chat.say("batal aja min");
        assert!(out.contains("Batalkan laporan?"), "{out}");
        assert!(
            !chat.session.vars.contains_key("umur"),
            "not saved as the age"
        );
        assert_eq!(chat.at(), Some(("lapor".into(), "umur".into())));
        let out = chat.say("batal");
        assert!(out.contains("Laporan dibatalkan."), "{out}");
        assert!(
            !chat.session.vars.contains_key("nama"),
            "the answers are deleted"
        );
        // "stop" with answers asks too, and "Lanjutkan" goes on where it was.
        chat.say("lapor");
        chat.say("1");
        chat.say("Ani");
        assert!(chat.say("stop").contains("Batalkan laporan?"));
        let out = chat.say("lanjut");
        assert!(
            out.contains("Umur Ani?") && !out.contains("Tulis angka"),
            "{out}"
        );
        assert_eq!(chat.session.vars["nama"], "Ani");
    }

    #[test]
    fn menu_in_a_report_asks_and_lanjut_or_the_report_again_brings_it_back() {
        let mut chat = chat_in_intake();
        chat.say("lapor");
        // At the report's first menu with nothing answered, "menu" just goes.
        assert!(chat.say("menu").contains("Menu utama"));
        chat.say("lapor");
        chat.say("2");
        chat.say("Siti");
        let out = chat.say("menu dulu");
        assert!(out.contains("Ke menu? Laporan disimpan."), "{out}");
        let out = chat.say("ya");
        assert!(out.contains("Laporan disimpan; ketik lanjut."), "{out}");
        assert!(out.contains("Menu utama"), "{out}");
        assert!(
            !chat.session.vars.contains_key("nama"),
            "kept aside, not live"
        );
        // Starting the report again continues it, with its answers.
        let out = chat.say("lapor");
        assert!(out.contains("Umur Siti?"), "{out}");
        assert!(!out.contains("Siapa yang melapor?"), "{out}");
        // A topic typed where it does not fit leaves the report kept; "lanjut lapor" brings it back.
        let out = chat.say("syarat");
        assert!(out.contains("Laporan disimpan; ketik lanjut."), "{out}");
        assert!(out.contains("Syarat: umur 18."), "{out}");
        chat.say("0");
        let out = chat.say("lanjut lapor");
        assert!(out.contains("Umur Siti?"), "{out}");
        assert!(chat.say("33").contains("Apa yang terjadi?"));
    }

    #[test]
    fn one_or_two_words_of_exactly_one_label_press_that_button() {
        let mut chat = chat_in_intake();
        chat.say("lapor");
        assert!(chat.say("keluarga").contains("Siapa nama PMI?"));
        let mut chat = chat_in_intake();
        chat.say("lapor");
        assert!(chat.say("saya sendiri dong").contains("Siapa nama PMI?"));
    }

    #[test]
    fn a_message_that_told_what_happened_is_the_story_of_a_report_started_from_its_page() {
        let keluarga = r#"
flow: keluarga
triggers:
  - '\bgaji\b'
nodes:
  gaji:
    say: { id: "Gaji tidak dibayar: simpan buktinya.", en: "Unpaid wages: keep the proof." }
    next: tanya
  tanya:
    say: { id: "Mau melapor?", en: "Report it?" }
    choices:
      - label: { id: Lapor sekarang, en: Report now }
        goto: lapor
"#;
        let (bot, _) = fixture::load_with(&[
            ("lapor.yaml", fixture::LAPOR_INTAKE),
            ("keluarga.yaml", keluarga),
        ])
        .unwrap();
        let start = |chat: &mut Chat| {
            chat.say("2");
            chat.say("Siti");
            chat.say("40")
        };
        let mut chat = Chat {
            bot: bot.clone(),
            ..Chat::new()
        };
        assert!(
            chat.say("gaji ibu sy ga dibayar 3 bln")
                .contains("Mau melapor?")
        );
        assert!(chat.say("Lapor sekarang").contains("Siapa yang melapor?"));
        assert!(start(&mut chat).contains("Ceritanya sudah dicatat."));
        assert_eq!(chat.session.vars["cerita"], "gaji ibu sy ga dibayar 3 bln");
        // One word is no story; and the story lasts one message.
        let mut chat = Chat {
            bot: bot.clone(),
            ..Chat::new()
        };
        chat.say("gaji");
        chat.say("1");
        assert!(start(&mut chat).contains("Apa yang terjadi?"));
        let mut chat = Chat { bot, ..Chat::new() };
        chat.say("gaji ibu sy ga dibayar 3 bln");
        chat.say("syarat");
        chat.say("lapor");
        assert!(start(&mut chat).contains("Apa yang terjadi?"));
    }

    #[test]
    fn hostile_input_gets_a_sensible_answer() {
        for text in [
            "a".repeat(10_000),
            "😭😭😭🙏".to_string(),
            "\u{0}\u{1b}[31m\u{7}".to_string(),
            String::from_utf8_lossy(&[0xff, 0xfe, b'x']).into_owned(),
            String::new(),
        ] {
            let mut chat = Chat::new();
            chat.say("halo");
            let step = chat.send(InputKind::Text(text.clone()));
            assert!(
                !step.replies.is_empty(),
                "no answer to {:?}",
                text.chars().take(10).collect::<String>()
            );
            assert!(shown(&step).contains("Menu utama"));
        }
        let mut chat = Chat::new();
        chat.say("lapor");
        chat.say(&"x".repeat(10_000));
        assert_eq!(chat.session.vars["nama"].chars().count(), MAX_ANSWER_CHARS);
    }

    #[test]
    fn a_stale_button_or_a_session_on_a_removed_node_recovers() {
        let mut chat = Chat::new();
        chat.say("halo");
        let out = shown(&chat.send(InputKind::Choice("gone/node/3".into())));
        assert!(
            out.contains("Maaf, belum mengerti.") && out.contains("Menu utama"),
            "{out}"
        );
        chat.session.position = Some(Position::new("lapor", "removed"));
        let out = chat.say("apa kabar");
        assert!(out.contains("Menu utama"), "{out}");
    }

    #[test]
    fn start_with_a_payload_opens_that_flow() {
        let mut chat = Chat::new();
        let step = chat.send(InputKind::Start {
            payload: Some("lapor".into()),
        });
        assert!(shown(&step).contains("Siapa nama PMI?"));
        let step = chat.send(InputKind::Start {
            payload: Some("<script>".into()),
        });
        assert!(shown(&step).contains("Menu utama"));
    }
}
