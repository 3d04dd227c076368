//! `pandu serve` as a process: health on the configured address, a refused dialog reload on SIGHUP,
//! a graceful stop on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test]
async fn serve_reports_health_refuses_a_broken_reload_and_stops_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let dialogs = work.path().join("dialogs");
    copy_dir(&root.join("dialogs"), &dialogs);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pandu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(root)
        .env("PANDU_DATA_DIR", work.path().join("data"))
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .env("PANDU_LOG", "info")
        .env_remove("PANDU_TELEGRAM_TOKEN")
        .env_remove("PANDU_WHATSAPP_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
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
    let out = Command::new(env!("CARGO_BIN_EXE_pandu"))
        .args(["cases", "show", "PKL-2345AB"])
        .current_dir(root)
        .env("PANDU_DATA_DIR", work.path().join("data"))
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .env("PANDU_SERVER_LISTEN", &addr)
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
    let out = Command::new(env!("CARGO_BIN_EXE_pandu"))
        .args(["cases", "list"])
        .current_dir(root)
        .env("PANDU_DATA_DIR", work.path().join("data"))
        .env("PANDU_DIALOGS_DIR", &dialogs)
        .env("PANDU_SERVER_LISTEN", &addr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
