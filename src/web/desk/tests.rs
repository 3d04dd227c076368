//! The desk's router on a real listener (127.0.0.1) over a real store: no route answers without a
//! session, no change without the CSRF token, a viewer changes nothing and sees no personal data,
//! wrong passwords lock a name.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use super::*;
use crate::cases::{CaseRecord, Event, EventKind, Priority};
use crate::dialog::Lang;
use crate::storage::{Channel, Store, UserKey};

pub const CODE: &str = "PKL-7KQ2MX";
const WORKER_NAME: &str = "Siti Aminah binti Rasman";

struct Server {
    base: String,
    state: DeskState,
    store: Store,
    _dir: tempfile::TempDir,
    _running: crate::app::Running,
}

fn config(dir: &Path) -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config {
        data_dir: dir.join("data"),
        ..Config::default()
    };
    config.dialogs.dir = root.join("dialogs");
    config.dialogs.facts_file = root.join("config/facts.yaml");
    config.cases.contacts_file = root.join("config/contacts.yaml");
    config.agencies.sample_file = root.join("config/agencies.sample.csv");
    config.agencies.labels_file = root.join("config/agencies.toml");
    config.desk.max_failures = 3;
    config
}

/// An overdue P1 case opened 6 hours ago by a family on Telegram.
fn p1_case(store: &Store) {
    let opened = crate::time::now_secs() - 6 * 3600;
    let record = CaseRecord {
        code: CODE.into(),
        reporter: UserKey::new(Channel::Telegram, "5550001"),
        lang: Lang::Id,
        opened_at: opened,
        category: "kekerasan".into(),
        country: "malaysia".into(),
        priority: Priority::P1,
        share_consent: true,
        fields: BTreeMap::from([
            ("nama_pmi".to_string(), WORKER_NAME.to_string()),
            ("negara".to_string(), "malaysia".to_string()),
        ]),
        attachments: Vec::new(),
    };
    let events = [
        Event {
            at: opened,
            actor: "system".into(),
            kind: EventKind::Opened {
                priority: Priority::P1,
                reason: "pekerja tidak aman".into(),
            },
        },
        Event {
            at: opened + 60,
            actor: "reporter".into(),
            kind: EventKind::ReporterMessage {
                text: Some("kakak sy dipukul majikan, tolong".into()),
                attachments: Vec::new(),
            },
        },
    ];
    seed::put_case(store, &record, &events).unwrap();
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = Store::open(&config.data_dir, 8 << 20).unwrap();
    let running = crate::app::start_engine(&config, &store).unwrap();
    p1_case(&store);
    let state = DeskState::new(running.engine.clone(), &config)
        .await
        .unwrap();
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    Server {
        base: format!("http://{addr}"),
        state,
        store,
        _dir: dir,
        _running: running,
    }
}

/// A browser without JavaScript: keeps cookies, does not follow redirects.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(server: &Server) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: HashMap::new(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for v in response.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status();
        (status, r.text().await.unwrap())
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        (status, location.unwrap_or(body))
    }

    /// The CSRF token in the last page's forms.
    fn token(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        page[at..at + 64].to_string()
    }

    async fn sign_in(&mut self, name: &str, password: &str) -> (StatusCode, String) {
        let (_, page) = self.get("/staff/login").await;
        let csrf = Browser::token(&page);
        self.post(
            "/staff/login",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Signs in and returns the session's CSRF token.
    async fn signed_in(server: &Server, role: &str) -> (Browser, String) {
        let name = format!("{role}1");
        let (_, password) = server
            .state
            .accounts()
            .add(&name, role, "test")
            .await
            .unwrap();
        let mut b = Browser::new(server);
        let (status, location) = b.sign_in(&name, &password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        let (_, page) = b.get("/staff").await;
        let csrf = Browser::token(&page);
        (b, csrf)
    }
}

fn timeline(store: &Store) -> Vec<EventKind> {
    store
        .case_events(CODE)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn no_desk_route_answers_without_a_session() {
    let server = start().await;
    let mut b = Browser::new(&server);
    for forged in [None, Some("0".repeat(64)), Some("zz".into())] {
        if let Some(token) = &forged {
            b.cookies.insert(COOKIE.into(), token.clone());
        }
        for (method, path) in PROTECTED {
            let (status, answer) = if *method == "GET" {
                b.get(path).await
            } else {
                b.post(path, &[("text", "halo"), ("csrf", &"0".repeat(64))])
                    .await
            };
            if *method == "GET" {
                assert_eq!(status, StatusCode::SEE_OTHER, "{method} {path}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert!(answer.contains("Silakan masuk"), "{method} {path}");
            }
        }
    }
    // Nothing reached the case.
    assert_eq!(timeline(&server.store).len(), 2);
    // The sign-in page and the stylesheet are the only open doors, and they carry the headers.
    let r = reqwest::get(format!("{}/staff/login", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    assert!(!csp.contains("script-src") || !csp.contains("'self'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
}

#[tokio::test]
async fn every_listed_route_exists_for_a_signed_in_admin() {
    let server = start().await;
    let (mut b, csrf) = Browser::signed_in(&server, "admin").await;
    for (method, path) in PROTECTED {
        if *path == "/staff/logout" {
            continue;
        }
        let (status, body) = if *method == "GET" {
            b.get(&path.replace("PKL-AAAAAA", CODE)).await
        } else {
            b.post(
                &path.replace("PKL-AAAAAA", CODE),
                &[("csrf", &csrf), ("text", "dicek"), ("status", "in_review")],
            )
            .await
        };
        // A route the router does not know is an empty 404 or a 405; ours answer with a page, a file,
        // a redirect or a refusal page.
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            status != StatusCode::NOT_FOUND || body.contains("<html"),
            "{method} {path}"
        );
    }
    let (status, location) = b.post("/staff/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/staff/login")
    );
    // Signed out: the old cookie opens nothing.
    assert_eq!(b.get("/staff").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_change_without_the_right_csrf_token_is_refused() {
    let server = start().await;
    let (mut b, csrf) = Browser::signed_in(&server, "officer").await;
    let path = format!("/staff/case/{CODE}/reply");
    let (status, _) = b.post(&path, &[("text", "kami bantu ya")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let wrong = "a".repeat(64);
    let (status, _) = b
        .post(&path, &[("text", "kami bantu ya"), ("csrf", &wrong)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(timeline(&server.store).len(), 2, "nothing was sent");
    let (status, location) = b
        .post(&path, &[("text", "kami bantu ya"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/staff/case/{CODE}"));
    assert!(
        timeline(&server.store)
            .iter()
            .any(|e| matches!(e, EventKind::StaffReply { text } if text == "kami bantu ya"))
    );
    // The confirmation is the desk's own text (dialogs/_cases.yaml), shown once.
    let (_, page) = b.get(&location).await;
    assert!(
        page.contains("sudah dijadwalkan dan akan terkirim lewat"),
        "{page}"
    );
    // The sign-in form has its own token: without it, no sign-in.
    let mut other = Browser::new(&server);
    let (status, _) = other
        .post("/staff/login", &[("name", "officer1"), ("password", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_viewer_reads_masked_cases_and_changes_nothing() {
    let server = start().await;
    let (mut b, csrf) = Browser::signed_in(&server, "viewer").await;
    let (status, page) = b.get(&format!("/staff/case/{CODE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(CODE));
    assert!(
        !page.contains(WORKER_NAME),
        "a viewer saw the worker's name"
    );
    assert!(
        !page.contains("dipukul"),
        "a viewer saw the reporter's words"
    );
    assert!(!page.contains("/reveal"), "a viewer was offered to reveal");
    for (action, form) in [
        ("reveal", vec![("csrf", csrf.as_str())]),
        ("reply", vec![("csrf", csrf.as_str()), ("text", "halo")]),
        ("assign", vec![("csrf", csrf.as_str()), ("to", "viewer1")]),
        (
            "status",
            vec![
                ("csrf", csrf.as_str()),
                ("status", "referred"),
                ("to", "bp3mi"),
            ],
        ),
        ("note", vec![("csrf", csrf.as_str()), ("text", "catatan")]),
    ] {
        let (status, _) = b.post(&format!("/staff/case/{CODE}/{action}"), &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(
        timeline(&server.store).len(),
        2,
        "a viewer changed the case"
    );
    let (status, _) = b.get(&format!("/staff/case/{CODE}/file/0")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The CSV has no personal columns for a viewer.
    let (status, csv) = b.get("/staff/export.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.contains(CODE) && !csv.contains("nama_pmi") && !csv.contains(WORKER_NAME));
    // Nor may a viewer read the audit log.
    assert_eq!(b.get("/staff/audit").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_officer_sees_personal_data_only_after_choosing_to_and_it_is_recorded() {
    let server = start().await;
    let (mut b, csrf) = Browser::signed_in(&server, "officer").await;
    let page_path = format!("/staff/case/{CODE}");
    let (_, page) = b.get(&page_path).await;
    assert!(!page.contains(WORKER_NAME));
    assert!(page.contains("/reveal"));
    let (status, _) = b
        .post(&format!("{page_path}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = b.get(&page_path).await;
    assert!(page.contains(WORKER_NAME));
    assert!(page.contains("dipukul"));
    // The report's fields by the names staff read in `pandu cases show`, never program keys.
    assert!(page.contains("Nama PMI"), "{page}");
    assert!(!page.contains("nama_pmi"), "{page}");
    assert!(
        timeline(&server.store)
            .iter()
            .any(|e| matches!(e, EventKind::Accessed { how } if how == "web"))
    );
    let audit = server
        .state
        .accounts()
        .audit_log("officer1", "reveal", "", 10)
        .unwrap();
    assert_eq!(audit.len(), 1);
    // Refer to BP3MI through the same code as `pandu cases status`.
    let (status, _) = b
        .post(
            &format!("{page_path}/status"),
            &[
                ("csrf", &csrf),
                ("status", "referred"),
                ("to", "bp3mi"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let case = crate::cases::load(&server.store, CODE).unwrap().unwrap();
    assert_eq!(case.status, crate::cases::Status::Referred);
    assert_eq!(case.referred_to, Some(crate::cases::Referral::Bp3mi));
}

#[tokio::test]
async fn wrong_passwords_lock_the_name_even_for_the_right_one() {
    let server = start().await;
    let (_, password) = server
        .state
        .accounts()
        .add("budi", "officer", "test")
        .await
        .unwrap();
    let mut b = Browser::new(&server);
    for _ in 0..2 {
        let (status, page) = b.sign_in("budi", "budi123").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("salah"));
    }
    // The third wrong one (desk.max_failures = 3 here) locks the name.
    let (status, page) = b.sign_in("Budi", "Budi123").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("dikunci"), "{page}");
    let (status, page) = b.sign_in("budi", &password).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password got in while locked"
    );
    assert!(page.contains("dikunci"));
    assert!(!b.cookies.contains_key(COOKIE));
    // An admin's reset unlocks it with a new password.
    let fresh = server
        .state
        .accounts()
        .reset_password("budi", "test")
        .await
        .unwrap();
    let (status, _) = b.sign_in("budi", &fresh).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(b.cookies.contains_key(COOKIE));
    // Disabling ends the session at once.
    server
        .state
        .accounts()
        .disable("budi", "test")
        .await
        .unwrap();
    assert_eq!(b.get("/staff").await.0, StatusCode::SEE_OTHER);
}

#[test]
fn cookies_are_secure_except_for_a_browser_on_this_machine() {
    let mut config = Config::default();
    let mut headers = HeaderMap::new();
    let local = Some("127.0.0.1:5000".parse().unwrap());
    let lan = Some("192.168.1.20:5000".parse().unwrap());
    assert!(!secure_cookies(&config, local, &headers));
    assert!(secure_cookies(&config, lan, &headers));
    assert!(secure_cookies(&config, None, &headers));
    headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
    assert!(secure_cookies(&config, local, &headers), "behind a proxy");
    config.desk.allow_plain_http = true;
    assert!(!secure_cookies(&config, lan, &HeaderMap::new()));
}

#[tokio::test]
async fn questions_not_understood_are_grouped_and_counted_and_a_viewer_sees_no_words() {
    use crate::storage::WriteBatch;
    use crate::storage::stats::{Unanswered, mask};
    let server = start().await;
    let now = crate::time::now_secs();
    let mut batch = WriteBatch::default();
    let said = [
        ("-", "cara bikin paspor online gmn"),
        ("-", "Cara bikin paspor  online GMN"),
        ("-", "cara bikin paspor online gmn"),
        ("lapor/negara", "sy kerja di kapal 0812 3456 7890"),
    ];
    for (i, (node, text)) in said.iter().enumerate() {
        let entry = Unanswered {
            at: now - 60 * i as u64,
            node: (*node).into(),
            text: mask(text),
        };
        batch
            .put_unanswered(server.store.next_seq().unwrap(), &entry)
            .unwrap();
    }
    // One from long ago: past the 30 days, not counted.
    let old = Unanswered {
        at: now - 40 * 86_400,
        node: "-".into(),
        text: mask("pesan lama sekali"),
    };
    batch
        .put_unanswered(server.store.next_seq().unwrap(), &old)
        .unwrap();
    server.store.apply(batch).unwrap();

    let (mut b, _) = Browser::signed_in(&server, "officer").await;
    let (status, page) = b.get("/staff/questions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("4 pesan"), "{page}");
    assert!(
        page.contains("<tr><td>3</td><td>cara bikin paspor online gmn</td>"),
        "{page}"
    );
    assert!(page.contains("sy kerja di kapal [#]"), "{page}");
    // The number's digits with the spaces around them: a bare "3456" can occur elsewhere in the
    // page by chance (times, tokens); the bare form failed once in CI.
    assert!(
        !page.contains("0812 3456") && !page.contains("3456 7890") && !page.contains("pesan lama"),
        "{page}"
    );

    let (mut v, _) = Browser::signed_in(&server, "viewer").await;
    let (status, page) = v.get("/staff/questions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<code>lapor/negara</code></td><td>1</td>"),
        "{page}"
    );
    assert!(!page.contains("paspor online"), "a viewer read the words");
}

#[tokio::test]
async fn an_officer_refers_a_case_to_the_police_by_its_own_choice() {
    let server = start().await;
    let (mut b, csrf) = Browser::signed_in(&server, "officer").await;
    let page_path = format!("/staff/case/{CODE}");
    let (_, page) = b.get(&page_path).await;
    assert!(
        page.contains("value=\"police\"") && page.contains("Kepolisian (Polri)"),
        "{page}"
    );
    let (status, _) = b
        .post(
            &format!("{page_path}/status"),
            &[("csrf", &csrf), ("status", "referred"), ("to", "police")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let case = crate::cases::load(&server.store, CODE).unwrap().unwrap();
    assert_eq!(case.referred_to, Some(crate::cases::Referral::Police));
    // The confirmation names the status and the target in staff words, not program codes.
    let (_, page) = b.get(&page_path).await;
    let flash = page
        .split("class=\"flash ok\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default()
        .to_string();
    assert!(flash.contains("Kepolisian (Polri)"), "{flash}");
    assert!(
        !flash.contains("new →") && !flash.contains("referred"),
        "{flash}"
    );
}

#[tokio::test]
async fn the_overview_charts_conversations_per_day_and_the_flows_used_most() {
    use crate::storage::WriteBatch;
    use crate::storage::stats::{day_key, flow_key, wib_date};
    let server = start().await;
    let now = crate::time::now_secs();
    let (today, yesterday) = (wib_date(now), wib_date(now - 86_400));
    let mut batch = WriteBatch::default();
    batch.put_count(day_key(&today, Channel::Whatsapp), 41);
    batch.put_count(day_key(&today, Channel::Telegram), 2);
    batch.put_count(day_key(&yesterday, Channel::Whatsapp), 17);
    batch.put_count(day_key("2001-01-01", Channel::Whatsapp), 999);
    batch.put_count(flow_key(&today, "cek_agensi"), 30);
    batch.put_count(flow_key(&yesterday, "cek_agensi"), 7);
    batch.put_count(flow_key(&today, "lapor"), 12);
    server.store.apply(batch).unwrap();
    let (mut b, _) = Browser::signed_in(&server, "viewer").await;
    let (status, page) = b.get("/staff/overview").await;
    assert_eq!(status, StatusCode::OK);
    let conversations = page
        .split("Percakapan per hari")
        .nth(1)
        .and_then(|p| p.split("</figure>").next())
        .unwrap();
    // Today: 41 + 2 in one stacked row; yesterday 17; a day long ago is not on the chart.
    assert!(
        conversations.contains(&format!(">{today}</text>")),
        "{conversations}"
    );
    assert!(conversations.contains(">43</text>") && conversations.contains(">17</text>"));
    assert!(!conversations.contains("999") && conversations.contains("WhatsApp"));
    let flows = page
        .split("Alur yang paling sering")
        .nth(1)
        .and_then(|p| p.split("</figure>").next())
        .unwrap();
    let (agency, report) = (
        flows.find("cek_agensi").unwrap(),
        flows.find(">lapor<").unwrap(),
    );
    assert!(agency < report, "the most used first: {flows}");
    assert!(
        flows.contains(">37</text>") && flows.contains(">12</text>"),
        "{flows}"
    );
}

#[tokio::test]
async fn a_fresh_data_folder_gets_one_admin_whose_one_time_password_must_be_changed() {
    let server = start().await;
    let accounts = server.state.accounts();
    let url = "http://127.0.0.1:8080/staff";
    // Started as a service (no terminal): nothing is created, the note says how.
    let (mut note, mut secret) = (Vec::new(), Vec::new());
    announce(accounts, url, false, &mut note, &mut secret)
        .await
        .unwrap();
    assert!(accounts.list().unwrap().is_empty());
    assert!(String::from_utf8_lossy(&note).contains("staff add"));
    assert!(secret.is_empty());
    // Started by a person at a terminal: an admin, its password on the terminal only.
    let (mut note, mut secret) = (Vec::new(), Vec::new());
    announce(accounts, url, true, &mut note, &mut secret)
        .await
        .unwrap();
    let secret = String::from_utf8(secret).unwrap();
    let password = secret
        .lines()
        .map(|l| l.trim_start_matches("pandu:").trim())
        .find(|l| l.len() == 16 && !l.contains(' '))
        .unwrap()
        .to_string();
    let note = String::from_utf8(note).unwrap();
    assert!(note.contains(url) && !note.contains(&password), "{note}");
    // Printed once: the next start finds the account.
    let (mut again, mut secret_again) = (Vec::new(), Vec::new());
    announce(accounts, url, true, &mut again, &mut secret_again)
        .await
        .unwrap();
    assert!(secret_again.is_empty());
    assert_eq!(accounts.list().unwrap().len(), 1);

    let mut b = Browser::new(&server);
    let (status, location) = b.sign_in("admin", &password).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/staff")
    );
    // Every page leads to the password form first; no action is taken.
    for path in ["/staff", "/staff/audit", &format!("/staff/case/{CODE}")] {
        let r = b.get(path).await;
        assert_eq!(r.0, StatusCode::SEE_OTHER, "{path}");
    }
    let (status, page) = b.get("/staff/password").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("sekali pakai"), "{page}");
    let csrf = Browser::token(&page);
    let (status, _) = b
        .post(
            &format!("/staff/case/{CODE}/note"),
            &[("csrf", &csrf), ("text", "cek")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(timeline(&server.store).len(), 2);
    // Too short, then a typo in the repeat, then the wrong current one: refused.
    for (current, new, repeat) in [
        (password.as_str(), "pendek", "pendek"),
        (
            password.as_str(),
            "kopi-tubruk-pekalongan",
            "kopi-tubruk-pekalongn",
        ),
        (
            "salah-sekali-ini",
            "kopi-tubruk-pekalongan",
            "kopi-tubruk-pekalongan",
        ),
    ] {
        let (status, _) = b
            .post(
                "/staff/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("repeat", repeat),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{new}/{repeat}");
    }
    assert_eq!(b.get("/staff").await.0, StatusCode::SEE_OTHER);
    let new = "kopi-tubruk-pekalongan";
    let (status, location) = b
        .post(
            "/staff/password",
            &[
                ("csrf", &csrf),
                ("current", &password),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/staff")
    );
    assert_eq!(b.get("/staff").await.0, StatusCode::OK);
    // The one-time password is spent; the new one signs in straight to the inbox.
    let mut other = Browser::new(&server);
    assert_eq!(
        other.sign_in("admin", &password).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(other.sign_in("admin", new).await.0, StatusCode::SEE_OTHER);
    assert_eq!(other.get("/staff").await.0, StatusCode::OK);
}

mod offers_page;
