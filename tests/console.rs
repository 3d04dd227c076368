//! `pandu chat`: the scriptable JSON contract, and a SIGKILL in the middle of a conversation.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

fn spawn(data: &std::path::Path) -> (Child, ChildStdin, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pandu"))
        .args(["chat", "--json", "--user", "ibu-siti"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // A folder pandu creates (0700): it refuses one others can read, as a fresh temp dir may be.
        .env("PANDU_DATA_DIR", data.join("data"))
        .env("PANDU_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdin, stdout)
}

fn ask(
    stdin: &mut ChildStdin,
    stdout: &mut BufReader<ChildStdout>,
    line: &[u8],
) -> serde_json::Value {
    stdin.write_all(line).unwrap();
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
    let mut out = String::new();
    stdout.read_line(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON line: {out:?}: {e}"))
}

fn texts(v: &serde_json::Value) -> String {
    v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn one_line_in_one_line_out_and_a_kill_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, mut stdin, mut stdout) = spawn(data.path());
    let menu = ask(&mut stdin, &mut stdout, b"halo");
    let choices = menu["replies"][0]["choices"].as_array().unwrap();
    assert!(choices.len() >= 3, "{menu}");
    assert!(
        choices
            .iter()
            .all(|c| c["id"].is_string() && c["label"].is_string())
    );
    // Hostile input still gets exactly one line back.
    for line in [
        &b"\xff\xfe\x00garbage"[..],
        "😭😭😭".as_bytes(),
        &[b'x'; 10_000][..],
    ] {
        let v = ask(&mut stdin, &mut stdout, line);
        assert!(!texts(&v).is_empty());
    }
    let before = ask(&mut stdin, &mut stdout, b"syarat kerja ke taiwan apa aja");
    assert!(texts(&before).to_lowercase().contains("syarat"), "{before}");
    child.kill().unwrap();
    child.wait().unwrap();

    // The same user again: the conversation continues where it stopped (the menu after the answer).
    let (mut child, mut stdin, mut stdout) = spawn(data.path());
    let after = ask(&mut stdin, &mut stdout, b"1");
    let shown = texts(&after);
    assert!(
        !shown.contains("Selamat datang di"),
        "resumed, not restarted: {shown}"
    );
    assert!(after["replies"][0]["text"].is_string());
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The terminal chat (stdout a pipe here: plain words) started again on a conversation that waits for an
/// answer says where it stands instead of a bare prompt; the dialogs' `*bold*` never shows as asterisks.
#[test]
fn a_restarted_terminal_chat_says_where_the_conversation_stands() {
    let tmp = tempfile::tempdir().unwrap();
    // pandu creates its data folder itself (0700); a temporary folder made by others may be 0755.
    let data = tmp.path().join("data");
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pandu"))
            .args(["chat", "--user", "pak-darto"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PANDU_DATA_DIR", &data)
            .env("PANDU_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run("mau lapor anak saya\n");
    assert!(first.contains("Siapa yang melapor"), "{first}");
    assert!(!first.contains("*Lapor"), "markup shown literally: {first}");
    assert!(first.contains("Lapor Masalah PMI"), "{first}");
    let again = run("");
    assert!(again.contains("Percakapan kita masih tersimpan"), "{again}");
    assert!(again.contains("Siapa yang melapor"), "{again}");
    assert!(again.contains("1. Saya sendiri (PMI)"), "{again}");
}
