//! For the tests that run `pandu` as a child process: signals and a bounded wait for its exit.
//! Included with `#[path = "process_support/mod.rs"] mod process;`.

#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a child may take to stop once told to.
pub const STOP_WITHIN: Duration = Duration::from_secs(20);

/// Sends `sig` (as kill(1) spells it, e.g. `-TERM`) to the process `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}: {ok:?}");
}

/// Waits until `child` has exited, at most [`STOP_WITHIN`]; panics with `what` (which stop did not
/// happen) after that. Returns how it exited.
pub fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + STOP_WITHIN;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
