//! The command line as the dinas's staff meet it: help in Indonesian, the go-live checklist first.

use std::io::Read;
use std::process::{Command, Stdio};

fn pandu() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pandu"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("pandu runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_speaks_indonesian_unless_english_is_asked_for() {
    let id = stdout(pandu().arg("--help"));
    assert!(id.contains("Pemakaian: pandu"), "{id}");
    assert!(
        id.contains("Perintah:") && id.contains("Tampilkan bantuan ini"),
        "{id}"
    );
    assert!(!id.contains("Usage:") && !id.contains("Print help"), "{id}");

    let cases = stdout(pandu().args(["cases", "status", "--help"]));
    assert!(cases.contains("Ubah status kasus"), "{cases}");
    assert!(
        cases.contains("Argumen:") && cases.contains("Opsi:"),
        "{cases}"
    );

    let en = stdout(pandu().args(["cases", "--help", "--lang", "en"]));
    assert!(
        en.contains("Usage: pandu cases") && en.contains("Commands:"),
        "{en}"
    );
    let en = stdout(pandu().env("LANG", "en_GB.UTF-8").arg("--help"));
    assert!(
        en.contains("Usage: pandu") && en.contains("Show this help"),
        "{en}"
    );
}

#[test]
fn the_go_live_checklist_comes_first_and_a_closed_pipe_is_not_a_crash() {
    let mut child = pandu()
        .args(["check", "--facts"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pandu runs");
    // Read the first lines only, then hang up, as `| head` does.
    let mut first = [0u8; 400];
    let mut stdout = child.stdout.take().expect("stdout");
    let n = stdout.read(&mut first).expect("read");
    drop(stdout);
    let status = child.wait().expect("pandu ends");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    let head = String::from_utf8_lossy(&first[..n]);
    assert!(
        head.starts_with("Daftar periksa fakta sebelum go-live"),
        "{head}"
    );
    assert!(
        !head.contains("warning:"),
        "warnings come after the list: {head}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        status.success() || status.code() == Some(141),
        "{status:?} {err}"
    );
}
