//! Loads and checks the dialog folder. (Being written.)

use std::path::Path;

use super::actions::Actions;
use super::model::Bot;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
}

pub fn load_dir(
    _dir: &Path,
    _actions: &Actions,
) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
    Err(Vec::new())
}
