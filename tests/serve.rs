//! `pandu serve` as a process: health on the configured address, a refused dialog reload on SIGHUP,
//! a graceful stop on SIGTERM.

#![allow(clippy::unwrap_used)]

#[path = "process_support/mod.rs"]
mod process;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use process::{signal, wait_exit};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `pandu` with `args`, run from the repository on the data folder `data`, talking to the server
/// at `addr` (staff commands are forwarded there while it holds the folder).
fn staff_command(root: &Path, data: &Path, addr: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pandu"));
    command
        .args(args)
        .current_dir(root)
        .env("PANDU_DATA_DIR", data)
        .env("PANDU_SERVER_LISTEN", addr);
    command
}

/// Checks a command succeeded; shows its stderr when it did not.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn serve_reports_health_refuses_a_broken_reload_and_stops_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let dialogs = work.path().join("dialogs");
    copy_dir(&root.join("dialogs"), &dialogs);
    let mut child = process::Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_pandu"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(root)
            .env("PANDU_DATA_DIR", work.path().join("data"))
            .env("PANDU_DIALOGS_DIR", &dialogs)
            .env("PANDU_LOG", "info")
            .env_remove("PANDU_TELEGRAM_TOKEN")
            .env_remove("PANDU_WHATSAPP_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
                && line.contains(needle)
            {
                return line;
            }
        }
        panic!("no log line with {needle:?}");
    };
    let line = wait_for("listening");
    let addr = line
        .split("address=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let url = format!("http://{addr}/healthz");
    let health: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert!(
        health["channels"]["telegram"]
            .as_str()
            .unwrap()
            .starts_with("off")
    );
    let flows = health["flows"].as_u64().unwrap();
    assert!(flows >= 2);

    // A staff command while serve holds the data folder is forwarded to it over loopback.
    let data = work.path().join("data");
    let out = staff_command(root, &data, &addr, &["cases", "show", "PKL-2345AB"])
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("PKL-2345AB") || stderr.to_lowercase().contains("no case"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("in use"),
        "the command reached the server: {stderr}"
    );
    let out = staff_command(root, &data, &addr, &["cases", "list"])
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .output()
        .unwrap();
    assert_success(&out);
    // A backup while the server runs: forwarded to it, confirmed in the staff's words.
    let backup = work.path().join("cadangan-malam.backup");
    let out = staff_command(root, &data, &addr, &["backup", backup.to_str().unwrap()])
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .output()
        .unwrap();
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Cadangan tersimpan di"), "{said}");
    assert!(said.contains("catatan"), "{said}");
    assert!(
        !said.contains("records") && !said.contains("bytes"),
        "{said}"
    );
    assert!(backup.exists());
    // A forged token is refused.
    let refused = reqwest::Client::new()
        .post(format!("http://{addr}/admin/run"))
        .bearer_auth("forged")
        .json(&serde_json::json!({"command": {"Cases": {"List": {"status": null, "priority": null}}}, "actor": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Even the right token is refused through a reverse proxy (outside requests would look local).
    let token = std::fs::read_to_string(work.path().join("data").join("admin.token")).unwrap();
    let proxied = reqwest::Client::new()
        .post(format!("http://{addr}/admin/run"))
        .bearer_auth(token.trim())
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&serde_json::json!({"command": {"Cases": {"List": {"status": null, "priority": null}}}, "actor": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);

    // A broken dialog set is refused; the old one keeps serving.
    std::fs::write(
        dialogs.join("rusak.yaml"),
        "flow: rusak\nnodes:\n  a:\n    goto: nowhere\n",
    )
    .unwrap();
    signal(pid, "-HUP");
    wait_for("dialog reload refused");
    let health: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(health["flows"].as_u64().unwrap(), flows);

    signal(pid, "-TERM");
    let status = wait_exit(&mut child, "serve did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");

    // The backup restores into an empty folder, and says so in Indonesian; into a folder that holds
    // data, or from a file that is no backup, it refuses in Indonesian too.
    let pulih = work.path().join("pulih");
    let restore = |data: &Path, file: &Path| {
        staff_command(
            root,
            data,
            "127.0.0.1:9",
            &["restore", file.to_str().unwrap()],
        )
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .output()
        .unwrap()
    };
    let out = restore(&pulih, &backup);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("dipulihkan ke"), "{said}");
    let out = restore(&pulih, &backup);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("Gagal:") && said.contains("tidak kosong"),
        "{said}"
    );
    let bukan = work.path().join("foto.jpg");
    std::fs::write(&bukan, b"\xff\xd8\xff bukan cadangan").unwrap();
    let out = restore(&work.path().join("kosong"), &bukan);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("bukan berkas cadangan Pandu"), "{said}");
}

/// Everything a child process printed so far, read by a thread of its own.
fn collect(
    stream: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf));
            buf.clear();
        }
    });
    text
}

/// Waits until `text` holds `needle` after byte `from`; returns where the match ends.
fn wait_in(text: &std::sync::Mutex<String>, from: usize, needle: &regex::Regex) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        {
            let text = text.lock().unwrap();
            if let Some(m) = needle.find(&text[from.min(text.len())..]) {
                return from + m.end();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited for {needle} in: {}",
                &text[from.min(text.len())..]
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `pandu serve --chat`, the README's way to run everything locally: a family files a report in the
/// terminal and gets its code, a staff member answers it from a second command, and the answer shows up
/// in the chat without the family typing anything. End of input stops the server cleanly.
#[test]
fn serve_chat_files_a_report_and_shows_the_staff_reply_as_it_comes() {
    use std::io::Write;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let mut child = process::Running::spawn(
        Command::new(env!("CARGO_BIN_EXE_pandu"))
            .args(["serve", "--chat", "--listen", "127.0.0.1:0"])
            .current_dir(root)
            .env("PANDU_DATA_DIR", &data)
            .env_remove("PANDU_LOG")
            .env_remove("PANDU_TELEGRAM_TOKEN")
            .env_remove("PANDU_WHATSAPP_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let re = |s: &str| regex::Regex::new(s).unwrap();

    let end = wait_in(&err, 0, &re(r"http://(\S+)/healthz is up"));
    let addr = {
        let err = err.lock().unwrap();
        let line = &err[..end];
        let start = line.rfind("http://").unwrap() + "http://".len();
        line[start..end - "/healthz is up".len()].to_string()
    };
    let health = {
        use std::io::Read;
        let mut http = std::net::TcpStream::connect(&addr).unwrap();
        write!(http, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut response = String::new();
        http.read_to_string(&mut response).unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str::<serde_json::Value>(body).unwrap()
    };
    assert_eq!(health["status"], "ok");

    // The conversation of dialogs/tests/lapor_keluarga.yaml, typed into the terminal.
    let mut at = wait_in(&out, 0, &re("Pilih menu"));
    for (line, expect) in [
        ("lapor", "Siapa yang melapor"),
        ("2", "hubungan Anda dengan PMI"),
        ("ibunya", "Nama Anda"),
        ("lewati", "Nama PMI"),
        ("Siti Aminah", "negara mana"),
        ("malaysia", "kota atau daerah"),
        ("Johor Bahru", "majikan"),
        ("tidak tahu", "agensi"),
        ("lewati", "Masalahnya tentang apa"),
        ("5", "Gaji tidak dibayar"),
        ("1", "Ceritakan apa yang terjadi"),
        ("sudah 4 bulan gajinya belum dibayar", "aman sekarang"),
        ("1", "harapkan"),
        ("gaji dibayar", "Persetujuan"),
        ("1", "Kirim foto"),
        ("lewati", "Ringkasan laporan"),
        ("1", "PKL-[2-9A-HJ-NP-Z]{6}"),
    ] {
        writeln!(stdin, "{line}").unwrap();
        at = wait_in(&out, at, &re(expect));
    }
    let code = {
        let out = out.lock().unwrap();
        re("PKL-[2-9A-HJ-NP-Z]{6}")
            .find_iter(&out)
            .last()
            .unwrap()
            .as_str()
            .to_string()
    };

    // A staff member answers from a second terminal; the command is forwarded to the running server.
    let text = "Kami sudah menghubungi agensinya hari ini.";
    let reply = staff_command(root, &data, &addr, &["cases", "reply", &code, text])
        .output()
        .unwrap();
    assert_success(&reply);
    // Shown in the chat as it comes, nothing typed.
    wait_in(&out, at, &re(&code));
    at = wait_in(&out, at, &re("Kami sudah menghubungi agensinya hari ini"));

    // The staff group's way of writing a referral works on the terminal too: target and note after
    // the status. The family is told where the case went, as it happens.
    let referred = staff_command(
        root,
        &data,
        &addr,
        &[
            "cases", "status", &code, "referred", "BP3MI", "surat", "no.", "12",
        ],
    )
    .output()
    .unwrap();
    assert_success(&referred);
    wait_in(&out, at, &re("Diteruskan ke BP3MI Jawa Tengah"));
    let shown = staff_command(root, &data, &addr, &["cases", "show", &code])
        .output()
        .unwrap();
    assert_success(&shown);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("(referred)") && shown.contains("surat no. 12"),
        "{shown}"
    );

    // ctrl-d: end of input stops the server, cleanly.
    drop(stdin);
    let status = wait_exit(&mut child, "serve --chat did not stop at end of input");
    assert!(status.success(), "{status:?}: {}", err.lock().unwrap());
    // Quiet by default: the chat is not interleaved with info lines.
    assert!(!out.lock().unwrap().contains(" INFO "));
}
