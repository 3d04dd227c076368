//! `pandu serve` as an attacker on the same machine meets it: staff commands send the admin token only
//! to the address the server really bound, the data folder and its files are the service user's alone
//! (and a folder others can read is refused), idle connections are closed and capped, and staff
//! commands work when the server listens on `[::]`.
#![allow(clippy::unwrap_used)]

#[path = "process_support/mod.rs"]
mod process;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use process::{signal, wait_exit};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pandu(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pandu"));
    command
        .current_dir(root())
        .env("PANDU_DATA_DIR", data)
        .env("PANDU_LOG", "info")
        .env_remove("PANDU_TELEGRAM_TOKEN")
        .env_remove("PANDU_WHATSAPP_TOKEN");
    command
}

struct Server {
    child: process::Running,
    addr: String,
    lines: mpsc::Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `pandu serve --listen <listen>` on `data` with `env`; waits for its "listening" line.
    fn start(data: &Path, listen: &str, env: &[(&str, &str)]) -> Server {
        let mut command = pandu(data);
        command
            .args(["serve", "--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = process::Running::spawn(&mut command);
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            lines,
            seen,
        };
        let line = server.wait_for("listening");
        server.addr = line
            .split("address=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        server
    }

    fn wait_for(&self, needle: &str) -> String {
        // A bound, not a timing: a debug build loads and trains the dialogs for ≈ 11 s on an idle
        // 2-core machine, and CI runs test binaries beside each other.
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100))
                && line.contains(needle)
            {
                return line;
            }
        }
        panic!("no log line with {needle:?}");
    }

    fn logged(&self, needle: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    fn stop(mut self) {
        signal(self.child.id(), "-TERM");
        let status = wait_exit(&mut self.child, "serve did not stop on SIGTERM");
        assert!(status.success(), "{status:?}");
    }
}

/// The status code of a raw HTTP answer.
fn status(answer: &str) -> &str {
    answer.split_whitespace().nth(1).unwrap_or("")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push(path.clone());
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Something else listening on 127.0.0.1: keeps whatever it is sent, answers nothing.
fn decoy() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf) {
                keep.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    (addr, got)
}

#[test]
fn staff_commands_reach_the_address_serve_bound_and_the_data_folder_is_private() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // server.listen names a port where someone else listens; the server is told another one.
    let (decoy_addr, decoy_got) = decoy();
    let server = Server::start(
        &data,
        "127.0.0.1:0",
        &[("PANDU_SERVER_LISTEN", decoy_addr.as_str())],
    );
    let out = pandu(&data)
        .env("PANDU_SERVER_LISTEN", &decoy_addr)
        .args(["cases", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leaked = String::from_utf8_lossy(&decoy_got.lock().unwrap()).into_owned();
    assert!(
        !leaked.contains("Bearer"),
        "the admin token went to server.listen: {leaked}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("admin.addr")).unwrap(),
        server.addr
    );

    // Every report lives here: nobody but the service user may read it.
    assert_eq!(mode(&data), 0o700, "data folder");
    for path in files_under(&data) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    server.stop();
}

#[test]
fn a_data_folder_or_token_others_can_read_is_refused_with_the_fix() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = pandu(&data).args(["cases", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("other users"), "{stderr}");
    assert!(stderr.contains("chmod"), "{stderr}");
    assert!(!data.join("db").exists(), "nothing written into it");

    // The folder fixed, but a token file left readable by others: refused too.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let token = data.join("admin.token");
    std::fs::write(&token, "old").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = process::output_within(
        pandu(&data).args(["serve", "--listen", "127.0.0.1:0"]),
        "serve refused to start",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn idle_connections_are_closed_and_capped_and_health_still_answers() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = Server::start(
        &data,
        "127.0.0.1:0",
        &[
            ("PANDU_SERVER_MAX_CONNECTIONS", "8"),
            ("PANDU_SERVER_HEADER_TIMEOUT_SECS", "1"),
        ],
    );
    // 20 clients connect and say nothing (bounded: a small multiple of the cap).
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // Health still answers while they hang around.
    let started = Instant::now();
    let health = {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        std::io::Write::write_all(
            &mut stream,
            format!("GET /healthz HTTP/1.0\r\nHost: {}\r\n\r\n", server.addr).as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    assert_eq!(status(&health), "200", "{health:?}");
    assert!(started.elapsed() < Duration::from_secs(8));
    // The silent ones were closed by the server after the header timeout.
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("an idle connection was left open: {e}"),
        }
    }
    server.wait_for("connection limit reached");
    assert!(server.logged("max_connections=8"));
    server.stop();
}

#[test]
fn staff_commands_work_when_serve_listens_on_every_ipv6_and_ipv4_address() {
    if std::net::TcpListener::bind("[::]:0").is_err() {
        eprintln!("no IPv6 here; skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = Server::start(&data, "[::]:0", &[]);
    let out = pandu(&data).args(["cases", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An IPv4 client on this machine arrives as ::ffff:127.0.0.1 and is local too.
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let body =
        r#"{"command":{"Cases":{"List":{"status":null,"priority":null}}},"actor":"cli:test"}"#;
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!(
            "POST /admin/run HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert_eq!(status(&answer), "200", "{answer}");
    server.stop();
}

#[test]
fn what_the_database_says_about_its_own_files_reaches_the_log() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let db = data.join("db");
    std::fs::create_dir_all(&db).unwrap();
    for dir in [&data, &db] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // A settings file cut short (a crash while it was written, a bad copy): sled notes it and goes on.
    std::fs::write(db.join("conf"), b"").unwrap();
    let out = pandu(&data).args(["cases", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty/corrupt configuration file found"),
        "sled's warning is not in the log: {stderr}"
    );
}
