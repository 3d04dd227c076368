//! Dialogs: the model of the scripted conversation trees in `dialogs/`, their loader and checker, the
//! normalisation of what users type, the built-in actions, and the pure step function that runs them.
//!
//! Invariant: nothing in `dialog` does IO except `loader` (which reads the dialog folder) and the
//! actions' read-only lookups. The runtime's [`step`] is a function: session and input in; new session,
//! replies and effects out.

pub mod actions;
pub mod emergency;
#[cfg(test)]
pub(crate) mod fixture;
pub mod io;
pub mod loader;
pub mod markup;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod pattern;
pub mod prefilter;
pub mod runtime;
pub mod transcript;

pub use actions::{Action, ActionCall, ActionResult, Actions};
pub use io::{
    Attachment, AttachmentKind, Choice, Effect, Input, InputKind, Lang, Position, Reply, Session,
};
pub use loader::{Diagnostic, Severity, load_dir};
pub use model::{Bot, FactMeta, Flow, Node, NodeKind, REPLY_MAX_CHARS, Text};
pub use runtime::{Step, StepEnv, step};
