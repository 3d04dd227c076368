//! The pure step function. (Being written.)

use super::actions::Actions;
use super::io::{Effect, Input, Reply, Session};
use super::model::Bot;

pub struct StepEnv {
    pub now: u64,
    pub seed: u64,
    pub idle_secs: u64,
}

#[derive(Debug)]
pub struct Step {
    pub session: Session,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}

pub fn step(
    _bot: &Bot,
    _actions: &Actions,
    session: Session,
    _input: &Input,
    _env: &StepEnv,
) -> Step {
    Step {
        session,
        replies: Vec::new(),
        effects: Vec::new(),
    }
}
