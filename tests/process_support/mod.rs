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

/// A child process that is killed (SIGKILL) and reaped when dropped, unless it has exited already:
/// a test that fails (panics) half-way leaves no `pandu serve` running. Derefs to the [`Child`].
pub struct Running(Child);

impl Running {
    /// Starts `command` under the guard.
    pub fn spawn(command: &mut Command) -> Running {
        Running(command.spawn().expect("cannot start pandu"))
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `command` to its end (stdout and stderr captured) under the guard: a `pandu serve` expected to
/// refuse to start that starts anyway fails the test after [`STOP_WITHIN`] and is killed, instead of
/// hanging the test or staying behind.
pub fn output_within(command: &mut Command, what: &str) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Running::spawn(command.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = wait_exit(&mut child, what);
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
