//! Every text of the shipped dialogs as each channel shows it: Telegram gets valid Telegram HTML (only
//! the tags it allows, balanced, entities escaped) with no `*word*` left as literal asterisks, also when
//! the variables hold what a mischievous user might type; WhatsApp gets the markup without escapes; the
//! terminal (not a tty here) gets plain words.

#![allow(clippy::unwrap_used)]

use pandu::config::Config;
use pandu::dialog::loader::references;
use pandu::dialog::model::{Bot, NodeKind, Text};
use pandu::dialog::runtime::interpolate;
use pandu::dialog::{Choice, Lang, Reply, Session, markup};

fn shipped_bot() -> Bot {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let config = Config::load(None, &|_| None).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = pandu::storage::Store::open(data.path(), 1 << 20).unwrap();
    let actions = pandu::app::actions(&config, &store);
    match pandu::app::load_bot(&config, &actions) {
        Ok((bot, _)) => bot,
        Err(diags) => panic!("the dialogs do not load: {diags:?}"),
    }
}

/// (where, text) for every text a user can read, labels included.
fn every_text(bot: &Bot) -> Vec<(String, Text)> {
    let mut out: Vec<(String, Text)> = Vec::new();
    for (name, text) in &bot.texts {
        out.push((format!("_bot/{name}"), text.clone()));
    }
    for (key, fact) in &bot.facts {
        out.push((format!("fact.{key}"), fact.value.clone()));
    }
    for flow in bot.flows.values() {
        for (name, node) in &flow.nodes {
            let at = format!("{}/{name}", flow.name);
            match &node.kind {
                NodeKind::Message { say, .. } => out.push((at, say.clone())),
                NodeKind::Menu { say, choices } => {
                    out.push((at.clone(), say.clone()));
                    for c in choices {
                        out.push((format!("{at} label"), c.label.clone()));
                    }
                }
                NodeKind::Question(q) => {
                    out.push((at.clone(), q.ask.clone()));
                    if let Some(r) = &q.retry {
                        out.push((format!("{at} retry"), r.clone()));
                    }
                }
                NodeKind::Action { say: Some(s), .. } | NodeKind::End { say: Some(s) } => {
                    out.push((at, s.clone()))
                }
                _ => {}
            }
        }
    }
    assert!(out.len() > 100, "only {} texts found", out.len());
    out
}

/// The text with every variable it names set to `value`.
fn filled(bot: &Bot, text: &str, lang: Lang, value: &str) -> String {
    let mut session = Session {
        lang,
        ..Session::default()
    };
    for name in references(text) {
        if !name.starts_with("fact.") {
            session.vars.insert(name, value.to_string());
        }
    }
    interpolate(text, lang, &session, bot)
}

/// Checks Telegram's HTML rules for what Pandu may send: only `<b>` and `<i>`, properly nested and
/// closed, no stray `<`, `>` or `&`. Returns the visible text.
fn telegram_visible(html: &str) -> Result<String, String> {
    let mut visible = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("a `<` that opens no tag")?;
                let tag = &rest[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    match stack.pop() {
                        Some(open) if open == name => {}
                        other => return Err(format!("</{name}> closes {other:?}")),
                    }
                } else if matches!(tag, "b" | "i") {
                    stack.push(tag.to_string());
                } else {
                    return Err(format!("tag <{tag}> is not one Pandu sends"));
                }
                rest = &rest[end + 1..];
            }
            '>' => return Err("a bare `>`".into()),
            '&' => {
                let entity = ["&lt;", "&gt;", "&amp;", "&quot;"]
                    .into_iter()
                    .find(|e| rest.starts_with(e))
                    .ok_or("a bare `&`")?;
                visible.push(match entity {
                    "&lt;" => '<',
                    "&gt;" => '>',
                    "&amp;" => '&',
                    _ => '"',
                });
                rest = &rest[entity.len()..];
            }
            c => {
                visible.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !stack.is_empty() {
        return Err(format!("left open: {stack:?}"));
    }
    Ok(visible)
}

/// A `*word*` or `_word_` pair a reader would see literally.
fn literal_pair(visible: &str) -> Option<String> {
    let pair = regex::Regex::new(r"(^|[^\w])([*_])[^\s*_][^\n]*?[^\s]([*_])($|[^\w])").unwrap();
    pair.captures(visible)
        .filter(|c| c[2] == c[3])
        .map(|c| c[0].to_string())
}

#[test]
fn every_shipped_text_is_valid_telegram_html_without_literal_asterisks() {
    let bot = shipped_bot();
    let mut bold = 0;
    let mut failures = Vec::new();
    for (at, text) in every_text(&bot) {
        for (lang, raw) in &text.0 {
            let reply = Reply {
                text: filled(&bot, raw, *lang, "Siti Aminah"),
                choices: vec![],
            };
            for part in pandu::channels::telegram::render::render(&reply) {
                bold += part.html.matches("<b>").count();
                match telegram_visible(&part.html) {
                    Ok(visible) => {
                        if let Some(pair) = literal_pair(&visible) {
                            failures.push(format!("{at} ({lang:?}): literal {pair:?}"));
                        }
                    }
                    Err(e) => failures.push(format!("{at} ({lang:?}): {e}\n{}", part.html)),
                }
            }
            // What a user typed never becomes a tag, and never breaks the authored ones.
            let hostile = Reply {
                text: filled(&bot, raw, *lang, "<b>*Siti*</b> _x_ & \\o/ <i>"),
                choices: vec![],
            };
            for part in pandu::channels::telegram::render::render(&hostile) {
                if let Err(e) = telegram_visible(&part.html) {
                    failures.push(format!("{at} ({lang:?}) with hostile values: {e}"));
                }
                assert!(!part.html.contains("<b>*Siti*</b>"), "{}", part.html);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(bold > 50, "only {bold} bold spans: is the markup rendered?");
}

#[test]
fn a_long_formatted_text_splits_without_cutting_a_tag() {
    let line = "Ketik *cek status PKL-7KQ2MX* untuk kabar _terbaru_, kapan saja.\n";
    let reply = Reply {
        text: line.repeat(200),
        choices: vec![Choice {
            id: "main/start/1".into(),
            label: "*Lapor*".into(),
        }],
    };
    let parts = pandu::channels::telegram::render::render(&reply);
    assert!(parts.len() >= 3, "{}", parts.len());
    for part in &parts {
        let visible = telegram_visible(&part.html).unwrap();
        assert!(!visible.contains('*'), "{visible}");
        assert!(part.html.starts_with("Ketik <b>"), "{}", &part.html[..40]);
    }
    let keyboard = serde_json::to_value(parts.last().unwrap().keyboard.clone().unwrap()).unwrap();
    assert_eq!(keyboard["inline_keyboard"][0][0]["text"], "Lapor");
}

#[test]
fn whatsapp_keeps_the_markup_and_shows_typed_asterisks_without_backslashes() {
    let reply = Reply {
        text: format!(
            "Kode laporan: *PKL-TTZ79W*\nNama: {}",
            markup::escape("*Siti*_")
        ),
        choices: vec![],
    };
    let options = pandu::channels::whatsapp::render::RenderOptions {
        list_button: "Pilih",
    };
    let messages = pandu::channels::whatsapp::render::render(&reply, &options);
    assert_eq!(
        messages[0]["text"]["body"],
        "Kode laporan: *PKL-TTZ79W*\nNama: *Siti*_"
    );
}

#[test]
fn plain_text_for_a_pipe_has_no_markup_left() {
    let bot = shipped_bot();
    for (at, text) in every_text(&bot) {
        for (lang, raw) in &text.0 {
            let plain = markup::to_plain(&filled(&bot, raw, *lang, "Siti"));
            assert!(literal_pair(&plain).is_none(), "{at}: {plain}");
        }
    }
}
