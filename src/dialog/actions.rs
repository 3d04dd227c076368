//! Built-in services a dialog can call with an `action` node, and their registry.
//!
//! An action reads (never writes) through whatever it holds (the agency index, the case store) and
//! returns a named outcome, variables for the dialog's texts, and effects. Writes happen only through
//! effects, which the engine applies in the same durable commit as the replies.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::io::{Attachment, Effect, Lang};

/// What an action sees.
pub struct ActionCall<'a> {
    /// Who is talking (for actions that must tell the reporter's own chat from any other).
    pub user: &'a crate::storage::UserKey,
    pub vars: &'a BTreeMap<String, String>,
    pub attachments: &'a [Attachment],
    pub lang: Lang,
    /// Unix seconds.
    pub now: u64,
    /// Randomness chosen by the caller (the engine), so the step stays a function of its inputs.
    pub seed: u64,
}

/// What an action returns.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ActionResult {
    /// One of [`Action::outcomes`].
    pub outcome: String,
    pub vars: BTreeMap<String, String>,
    pub effects: Vec<Effect>,
}

impl ActionResult {
    pub fn outcome(outcome: &str) -> ActionResult {
        ActionResult {
            outcome: outcome.to_string(),
            ..ActionResult::default()
        }
    }

    pub fn var(mut self, name: &str, value: impl Into<String>) -> ActionResult {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    pub fn effect(mut self, effect: Effect) -> ActionResult {
        self.effects.push(effect);
        self
    }
}

pub trait Action: Send + Sync {
    /// The outcomes a dialog may branch on; the checker requires a target for each of them.
    fn outcomes(&self) -> &'static [&'static str];
    /// Variables the action sets (for the checker's "used before set").
    fn sets(&self) -> &'static [&'static str] {
        &[]
    }
    /// Variables the action reads; the checker requires some node to set them first.
    fn reads(&self) -> &'static [&'static str] {
        &[]
    }
    /// Variables whose values are authored markup (built from `dialogs/` or `config/` texts), shown
    /// with their `*bold*` and `_italic_`. The action escapes ([`super::markup::escape`]) whatever it
    /// embeds from data or from users; every other variable is shown literally.
    fn markup(&self) -> &'static [&'static str] {
        &[]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult;
}

/// The registry of actions by name (`agency.check`, `case.open`, ...).
#[derive(Clone, Default)]
pub struct Actions {
    map: BTreeMap<String, Arc<dyn Action>>,
}

impl Actions {
    pub fn new() -> Actions {
        Actions::default()
    }

    pub fn register(&mut self, name: &str, action: Arc<dyn Action>) {
        self.map.insert(name.to_string(), action);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Every variable some action fills with authored markup (see [`Action::markup`]).
    pub fn markup_vars(&self) -> std::collections::BTreeSet<String> {
        self.map
            .values()
            .flat_map(|a| a.markup().iter().map(|v| (*v).to_string()))
            .collect()
    }
}

/// `case.story.<var>` (one per report field): outcome `told` when `<var>` already holds an answer, else
/// `missing`. A report flow puts it before its "what happened" question, so a family that told the
/// story already (an emergency typed at another question, kept there by the step) is not asked again;
/// the step also reads the node to know which variable is the story. For the checker it sets `<var>`:
/// on `told` it holds the story, on `missing` the flow goes to the question that asks it.
pub struct StoryTold {
    var: &'static str,
    sets: &'static [&'static str],
}

impl StoryTold {
    /// The action for `var`. The checker's `sets()` wants `'static` names, so the name is leaked:
    /// a few bytes per report field, once per loaded configuration.
    pub fn new(var: &str) -> StoryTold {
        let var: &'static str = Box::leak(var.to_string().into_boxed_str());
        StoryTold {
            var,
            sets: Box::leak(Box::new([var])),
        }
    }
}

impl StoryTold {
    /// As [`StoryTold::new`], for a variable set together with others (a menu pick sets `<var>` and
    /// `<var>_label`): the checker reads all of them as set after this action.
    pub fn with_companions(var: &str, companions: &[&str]) -> StoryTold {
        let var: &'static str = Box::leak(var.to_string().into_boxed_str());
        let sets: Vec<&'static str> = std::iter::once(var)
            .chain(
                companions
                    .iter()
                    .map(|c| &*Box::leak(c.to_string().into_boxed_str())),
            )
            .collect();
        StoryTold {
            var,
            sets: Box::leak(sets.into_boxed_slice()),
        }
    }
}

impl Action for StoryTold {
    fn outcomes(&self) -> &'static [&'static str] {
        &["told", "missing"]
    }
    fn sets(&self) -> &'static [&'static str] {
        self.sets
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let told = call
            .vars
            .get(self.var)
            .is_some_and(|v| !v.trim().is_empty());
        ActionResult::outcome(if told { "told" } else { "missing" })
    }
}
