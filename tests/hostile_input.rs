//! Whatever people type or platforms send, nothing panics and a user always gets an answer. Thousands of
//! generated messages (letters, digits, punctuation, emoji, combining marks, control characters, right-to-
//! left text, very long runs) go through every function that reads outside text: normalisation, the
//! dialog step with the shipped dialogs at several places in a conversation, ticket-code reading, date
//! parsing, the agency search, and both channels' text splitting and payload reading. Deterministic
//! (a fixed xorshift seed), bounded in count.

#![allow(clippy::unwrap_used)]

#[path = "rng_support/mod.rs"]
mod rng;
use rng::Rng;

use std::path::PathBuf;

use pandu::config::Config;
use pandu::dialog::normalize::{basic, normalize};
use pandu::dialog::{Input, InputKind, Session, StepEnv, step};
use pandu::storage::{Channel, DEFAULT_CACHE_BYTES, Store, UserKey};

const CASES: usize = 3000;

/// Pieces real and hostile messages are made of.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "7",
    "0",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    ".",
    ",",
    "/",
    "-",
    "?",
    "!!!",
    "*",
    "_",
    "~",
    "PKL",
    "pkl-",
    "O",
    "I",
    "l",
    "1",
    "ö",
    "é",
    "ñ",
    "中",
    "文",
    "😭",
    "👍🏽",
    "‍",
    "\u{301}",
    "\u{200b}",
    "\u{202e}",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{feff}",
    "مرحبا",
    "שלום",
    "ㅋㅋ",
    "<b>",
    "</a>",
    "&amp;",
    "{agency_name}",
    "{",
    "}",
    "$",
    "\\",
    "'",
    "\"",
    "lapor",
    "menu",
    "0",
    "bahasa",
    "petugas",
    "stop",
    "lewati",
    "cek status",
    "syarat",
    "taiwan",
    "dipukul",
    "gaji",
    "PT ",
    "Sukses",
    "KEP.77/2019",
    "2026-02-30",
    "31/12/1999",
    "-1",
    "99999999999999999999",
    "tolonggggggg",
    "ya",
    "tidak",
    "10",
    "11",
    "3",
    "🇮🇩",
    "\r\n",
];

fn message(rng: &mut Rng) -> String {
    let mut s = String::new();
    // Mostly short, sometimes very long.
    let n = if rng.below(20) == 0 {
        200 + rng.below(3000)
    } else {
        rng.below(12)
    };
    for _ in 0..n {
        s.push_str(PIECES[rng.below(PIECES.len())]);
    }
    s
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn generated_messages_never_panic_and_always_get_an_answer() {
    std::env::set_current_dir(root()).unwrap();
    let config = Config::load(None, &|_| None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
    let actions = pandu::app::actions(&config, &store);
    let (bot, _) = pandu::app::load_bot(&config, &actions).unwrap();
    let registry = pandu::registry::Registry::load(&store, &config.agencies.sample_file).unwrap();
    let user = UserKey::new(Channel::Telegram, "42");
    let env = StepEnv {
        now: 1_800_000_000,
        seed: 7,
        idle_secs: 3600,
        user: &user,
    };
    // Places in a conversation: nowhere yet, the main menu, inside the report intake (a free-text
    // question), the agency question.
    let mut starts = vec![Session::default()];
    for opening in ["halo", "lapor", "cek perusahaan"] {
        let mut session = Session::default();
        for text in [opening, "2"] {
            let input = Input {
                kind: InputKind::Text(text.into()),
                at: 0,
            };
            session = step(&bot, &actions, session, &input, &env).session;
        }
        starts.push(session);
    }

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..CASES {
        let text = message(&mut rng);
        // Normalisation is bounded and idempotent on its own output.
        let b = basic(&text);
        assert!(b.chars().count() <= 1000, "case {case}");
        assert_eq!(basic(&b), b, "case {case}: {text:?}");
        let _ = normalize(&text, &bot.lexicon);

        // The dialog step: every message gets at least one reply with something in it.
        let session = starts[case % starts.len()].clone();
        let input = Input {
            kind: InputKind::Text(text.clone()),
            at: 0,
        };
        let out = step(&bot, &actions, session, &input, &env);
        assert!(
            out.replies
                .iter()
                .any(|r| !r.text.trim().is_empty() || !r.choices.is_empty()),
            "case {case}: no answer to {text:?}"
        );

        // Ticket codes, dates, agency search.
        let _ = pandu::cases::code::extract("PKL", &text);
        let _ = pandu::cases::code::exact("PKL", &text);
        let _ = pandu::cases::code::candidates("PKL", &text);
        let _ = pandu::time::Date::parse(&text);
        let _ = registry.current().search(&text);

        // Both channels' splitting keeps every piece within the limit and loses no word.
        for max in [1, 5, 20, 1024, 4096] {
            let pieces = pandu::channels::whatsapp::render::split_text(&text, max);
            assert!(
                pieces.iter().all(|p| p.chars().count() <= max),
                "case {case}, max {max}"
            );
            let kept: String = pieces.concat().split_whitespace().collect();
            let want: String = text.split_whitespace().collect();
            assert_eq!(
                kept, want,
                "case {case}, max {max}: whatsapp split lost text"
            );
            let parts = pandu::channels::telegram::render::split_text(&text, max);
            let kept: String = parts.concat().split_whitespace().collect();
            assert_eq!(
                kept, want,
                "case {case}, max {max}: telegram split lost text"
            );
        }
        let _ = pandu::channels::telegram::render::escape_html(&text);

        // A WhatsApp notification whose fields carry the message in every shape Meta never sends.
        let shapes = [
            serde_json::json!(text),
            serde_json::json!({"entry": text}),
            serde_json::json!({"entry": [{"changes": [{"value": {"messages": [{"from": text, "id": text, "type": text, "text": {"body": text}}]}}]}]}),
            serde_json::json!({"entry": [{"changes": [{"value": {"messages": [{"type": "interactive", "interactive": {"type": text, "button_reply": {"id": text}}}], "contacts": [text]}}]}]}),
            serde_json::json!({"entry": [{"changes": [{"value": {"statuses": [{"id": text, "status": text, "timestamp": text, "errors": [{"code": text}]}]}}]}]}),
        ];
        for shape in shapes {
            let _ = pandu::channels::whatsapp::payload::parse(shape);
        }
    }
}
