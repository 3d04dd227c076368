//! Renders channel-neutral [`Reply`]s as WhatsApp Cloud API message objects (`POST /{phone-number-id}/messages`).
//!
//! Within WhatsApp's limits:
//! - up to 3 choices become reply buttons (title at most 20 characters);
//! - 4 to 10 choices become a list message (row title at most 24 characters);
//! - more choices become a numbered text (the runtime understands a typed number or label);
//! - text is split at paragraph boundaries into messages of at most 4,096 characters;
//! - an interactive body holds at most 1,024 characters: when the text is longer, the leading
//!   paragraphs go out first as plain text and the interactive message carries the trailing paragraphs
//!   that fit (usually the question the buttons answer). Nothing of the text is dropped.
//!
//! The text keeps the dialogs' markup (`*bold*`, `_italic_` are WhatsApp's own), without the escapes
//! that keep a variable's `*` literal elsewhere (WhatsApp has none); button and row titles are plain.
//!
//! Invariant: pure functions, no IO; labels are never invented here (the list button's label comes
//! from the dialogs, see [`RenderOptions::list_button`]).

use serde_json::{Value, json};

use crate::dialog::{Choice, Reply, markup};

pub const MAX_TEXT: usize = 4096;
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_LIST_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_BUTTON_ID: usize = 256;

/// Who a message goes to: a phone number (`to`) or a business-scoped user id (`recipient`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    Phone(String),
    UserId(String),
}

impl Recipient {
    /// A bare id as used in a [`crate::storage::UserKey`]: digits are a phone number (`wa_id`);
    /// anything else (`ID.1234...`) is a business-scoped user id.
    pub fn from_key(id: &str) -> Recipient {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Recipient::Phone(id.to_string())
        } else {
            Recipient::UserId(id.to_string())
        }
    }
}

pub struct RenderOptions<'a> {
    /// The label of the button that opens a list message (at most 20 characters).
    pub list_button: &'a str,
}

/// The message objects for one reply, in sending order, without the envelope (see [`envelope`]).
pub fn render(reply: &Reply, options: &RenderOptions<'_>) -> Vec<Value> {
    // The dialogs' markup is WhatsApp's own: only the escapes go; labels are plain text.
    let reply = &Reply {
        text: markup::to_whatsapp(&reply.text),
        choices: reply
            .choices
            .iter()
            .map(|c| Choice {
                id: c.id.clone(),
                label: markup::to_plain(&c.label),
            })
            .collect(),
    };
    let choices = &reply.choices;
    if choices.is_empty() {
        return split_text(&reply.text, MAX_TEXT)
            .into_iter()
            .map(text_message)
            .collect();
    }
    if choices.len() > MAX_LIST_ROWS {
        let mut text = reply.text.trim_end().to_string();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let lines: Vec<String> = choices
            .iter()
            .enumerate()
            .map(|(i, c)| crate::channels::console::numbered(i + 1, &c.label))
            .collect();
        text.push_str(&lines.join("\n"));
        return split_text(&text, MAX_TEXT)
            .into_iter()
            .map(text_message)
            .collect();
    }
    let (leading, body) = split_for_interactive(&reply.text);
    let body = if body.trim().is_empty() {
        // The body is required; with no text at all, the labels themselves say what to pick.
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        truncate(&labels.join(" / "), MAX_INTERACTIVE_BODY)
    } else {
        body
    };
    let mut messages: Vec<Value> = leading.into_iter().map(text_message).collect();
    let interactive = if choices.len() <= MAX_BUTTONS {
        let buttons: Vec<Value> = choices
            .iter()
            .map(|c| {
                json!({
                    "type": "reply",
                    "reply": {
                        "id": truncate_bytes(&c.id, MAX_BUTTON_ID),
                        "title": truncate(&c.label, MAX_BUTTON_TITLE),
                    }
                })
            })
            .collect();
        json!({
            "type": "button",
            "body": { "text": body },
            "action": { "buttons": buttons }
        })
    } else {
        let rows: Vec<Value> = choices
            .iter()
            .map(|c| {
                json!({
                    "id": truncate_bytes(&c.id, MAX_ROW_ID),
                    "title": truncate(&c.label, MAX_ROW_TITLE),
                })
            })
            .collect();
        json!({
            "type": "list",
            "body": { "text": body },
            "action": {
                "button": truncate(options.list_button, MAX_BUTTON_TITLE),
                "sections": [ { "rows": rows } ]
            }
        })
    };
    messages.push(json!({ "type": "interactive", "interactive": interactive }));
    messages
}

/// A plain text message object.
pub fn text_message(body: String) -> Value {
    json!({ "type": "text", "text": { "preview_url": false, "body": body } })
}

/// The approved template that tells a user outside the 24-hour window there is news on `case`.
pub fn template_message(name: &str, language: &str, case: &str) -> Value {
    json!({
        "type": "template",
        "template": {
            "name": name,
            "language": { "code": language },
            "components": [
                { "type": "body", "parameters": [ { "type": "text", "text": case } ] }
            ]
        }
    })
}

/// Adds the envelope every message of the Messages API carries.
pub fn envelope(recipient: &Recipient, mut message: Value) -> Value {
    if let Value::Object(map) = &mut message {
        map.insert("messaging_product".into(), json!("whatsapp"));
        map.insert("recipient_type".into(), json!("individual"));
        match recipient {
            Recipient::Phone(phone) => map.insert("to".into(), json!(phone)),
            Recipient::UserId(id) => map.insert("recipient".into(), json!(id)),
        };
    }
    message
}

/// Marks an inbound message (and the ones before it) as read.
pub fn mark_read(wamid: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "status": "read", "message_id": wamid })
}

/// Splits `text` into pieces of at most `max` characters: at paragraph breaks if possible, else at line
/// breaks, else at spaces, else anywhere. Pieces are trimmed; empty text gives no pieces.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max {
            pieces.push(rest.to_string());
            break;
        }
        // The byte index just after `max` characters.
        let limit = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| window.rfind(sep).filter(|&i| i > 0))
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim();
        if !head.is_empty() {
            pieces.push(head.to_string());
        }
        rest = tail.trim_start();
    }
    pieces
}

/// Splits text for an interactive message: plain-text pieces to send first, and the body (at most
/// 1,024 characters) made of the trailing paragraphs that fit.
fn split_for_interactive(text: &str) -> (Vec<String>, String) {
    let text = text.trim();
    if text.chars().count() <= MAX_INTERACTIVE_BODY {
        return (Vec::new(), text.to_string());
    }
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let mut body_start = paragraphs.len();
    let mut body_len = 0;
    while body_start > 0 {
        let p = paragraphs[body_start - 1];
        let add = p.chars().count() + if body_len > 0 { 2 } else { 0 };
        if body_len + add > MAX_INTERACTIVE_BODY {
            break;
        }
        body_len += add;
        body_start -= 1;
    }
    if body_start == paragraphs.len() {
        // The last paragraph alone is too long: its last piece becomes the body.
        let mut pieces = split_text(text, MAX_INTERACTIVE_BODY);
        let body = pieces.pop().unwrap_or_default();
        let leading = split_text(&pieces.join("\n\n"), MAX_TEXT);
        return (leading, body);
    }
    let leading = split_text(&paragraphs[..body_start].join("\n\n"), MAX_TEXT);
    (leading, paragraphs[body_start..].join("\n\n"))
}

/// At most `max` characters; a cut title ends with an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

/// At most `max` bytes, on a character boundary (ids are ASCII in practice).
fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::dialog::Choice;

    fn choices(n: usize) -> Vec<Choice> {
        (1..=n)
            .map(|i| Choice {
                id: format!("main/start/{i}"),
                label: format!("Pilihan {i}"),
            })
            .collect()
    }

    const OPTS: RenderOptions<'static> = RenderOptions {
        list_button: "Pilih",
    };

    #[test]
    fn three_choices_become_buttons_with_short_titles() {
        let mut reply = Reply {
            text: "Mau lihat apa?".into(),
            choices: choices(3),
        };
        reply.choices[0].label = "Cek perusahaan penempatan resmi".into();
        let out = render(&reply, &OPTS);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0],
            json!({"type":"interactive","interactive":{"type":"button","body":{"text":"Mau lihat apa?"},
              "action":{"buttons":[
                {"type":"reply","reply":{"id":"main/start/1","title":"Cek perusahaan pene…"}},
                {"type":"reply","reply":{"id":"main/start/2","title":"Pilihan 2"}},
                {"type":"reply","reply":{"id":"main/start/3","title":"Pilihan 3"}}]}}})
        );
        let title = out[0]["interactive"]["action"]["buttons"][0]["reply"]["title"]
            .as_str()
            .unwrap();
        assert_eq!(title.chars().count(), 20);
    }

    #[test]
    fn ten_choices_become_a_list_and_eleven_a_numbered_text() {
        let reply = Reply {
            text: "Menu".into(),
            choices: choices(10),
        };
        let out = render(&reply, &OPTS);
        assert_eq!(out[0]["interactive"]["type"], "list");
        assert_eq!(out[0]["interactive"]["action"]["button"], "Pilih");
        assert_eq!(
            out[0]["interactive"]["action"]["sections"][0]["rows"][9],
            json!({"id":"main/start/10","title":"Pilihan 10"})
        );
        let reply = Reply {
            text: "Menu".into(),
            choices: choices(11),
        };
        let out = render(&reply, &OPTS);
        assert_eq!(out.len(), 1);
        let body = out[0]["text"]["body"].as_str().unwrap();
        assert!(
            body.starts_with("Menu\n\n1. Pilihan 1\n2. Pilihan 2"),
            "{body}"
        );
        assert!(body.ends_with("11. Pilihan 11"));
    }

    #[test]
    fn long_text_splits_at_paragraphs_and_loses_nothing() {
        let para = "kata ".repeat(300).trim().to_string(); // 1,499 characters
        let text = [para.as_str(); 5].join("\n\n");
        let pieces = split_text(&text, MAX_TEXT);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= MAX_TEXT));
        // Each cut is at a paragraph boundary: every piece is whole paragraphs.
        for piece in &pieces {
            assert!(piece.split("\n\n").all(|p| p == para));
        }
        assert_eq!(pieces.join("\n\n"), text);
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut_anyway() {
        let text = "x".repeat(10_000);
        let pieces = split_text(&text, MAX_TEXT);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn long_text_with_buttons_sends_text_first_then_the_question() {
        let intro = "Informasi panjang. ".repeat(80); // 1,520 characters
        let reply = Reply {
            text: format!("{}\n\nMau lihat apa lagi?", intro.trim()),
            choices: choices(2),
        };
        let out = render(&reply, &OPTS);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["text"]["body"], intro.trim());
        assert_eq!(out[1]["interactive"]["body"]["text"], "Mau lihat apa lagi?");
    }

    #[test]
    fn envelope_addresses_phone_or_user_id() {
        let m = envelope(
            &Recipient::from_key("6281234567890"),
            text_message("hai".into()),
        );
        assert_eq!(
            m,
            json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"6281234567890",
                   "type":"text","text":{"preview_url":false,"body":"hai"}})
        );
        let m = envelope(
            &Recipient::from_key("ID.1234abc"),
            text_message("hai".into()),
        );
        assert_eq!(m["recipient"], "ID.1234abc");
        assert!(m.get("to").is_none());
    }
}
