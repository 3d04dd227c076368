//! A tiny W3C WebDriver client over reqwest: enough to drive headless Chromium through
//! `chromedriver` (start a session, open a page, find elements, type, click, read the page, take a
//! screenshot). Included with `#[path = "webdriver_support/mod.rs"] mod webdriver;`.
//!
//! When `chromedriver` or `chromium` is missing the tests fail with how to install them: CI installs
//! them (`.ci/run`), and a browser test that silently passes without a browser proves nothing.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian's `chromium-driver` and `chromium` put them, or what `PATH` finds.
fn find(names: &[&str]) -> Option<String> {
    for name in names {
        if name.starts_with('/') && std::path::Path::new(name).exists() {
            return Some((*name).to_string());
        }
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
    }
    None
}

fn missing(what: &str) -> ! {
    panic!(
        "{what} is not installed: the desk's browser tests need headless Chromium and its WebDriver. \
         Install them with `sudo apt-get install -y chromium chromium-driver` (Debian/Ubuntu; .ci/run \
         does this in CI), then run the tests again."
    )
}

/// A running `chromedriver`, stopped on drop.
pub struct Driver {
    child: Child,
    url: String,
    client: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Driver {
        let driver = find(&["chromedriver", "/usr/bin/chromedriver"])
            .unwrap_or_else(|| missing("chromedriver (package chromium-driver)"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = d.client.get(format!("{}/status", d.url)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        d
    }

    /// A new headless browser window of the given size.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        let binary = find(&["chromium", "chromium-browser", "google-chrome"])
            .unwrap_or_else(|| missing("chromium"));
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            format!("--window-size={width},{height}"),
            "--lang=id".into(),
        ];
        // Chromium refuses to run as root with its sandbox on (a CI container runs as root).
        if is_root() {
            args.push("--no-sandbox".into());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args}
        }}});
        let r: Value = self
            .client
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start a browser: {r}"))
            .to_string();
        Browser {
            client: self.client.clone(),
            base: format!("{}/session/{id}", self.url),
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// One browser window (a WebDriver session).
pub struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(error) = r["value"].get("error") {
            panic!("webdriver {path}: {error}: {}", r["value"]["message"]);
        }
        r["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element a CSS selector finds (panics with the page when none does).
    pub async fn find(&self, css: &str) -> String {
        let r = self
            .client
            .post(format!("{}/element", self.base))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        match r["value"][ELEMENT].as_str() {
            Some(id) => id.to_string(),
            None => panic!(
                "no element {css} on {}: {r}\n{}",
                self.url().await,
                self.source().await
            ),
        }
    }

    /// How many elements a CSS selector finds.
    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks what submits a form or follows a link, then waits until the next page has loaded: a
    /// click may return before the browser navigates, and a page read at once would be the old one.
    pub async fn click_and_wait(&self, css: &str) {
        self.script("window.__panduOldPage = true; return true;")
            .await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let loaded = self
                .script(
                    "return window.__panduOldPage === undefined && document.readyState === 'complete';",
                )
                .await;
            if loaded.as_bool() == Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page within 15 s after clicking {css}");
    }

    /// Runs a script in the page (WebDriver's own channel, not the page's: the desk serves none).
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        decode_base64(b64.as_str().unwrap_or_default())
    }

    pub async fn quit(self) {
        let _ = self.client.delete(&self.base).send().await;
    }
}

/// Standard base64 (the screenshot encoding), without a crate for ten lines.
pub fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter_map(value) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
