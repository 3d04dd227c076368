//! Renders a channel-neutral [`Reply`] as Telegram messages: the dialogs' markup (`*bold*`, `_italic_`,
//! see [`crate::dialog::markup`]) as `<b>`/`<i>` with everything else HTML-escaped, texts over Telegram's
//! limit split at paragraph boundaries, menus as inline keyboards.
//!
//! Invariants: every piece of text (from dialogs, users, staff) is HTML-escaped, so nothing a user typed
//! can change the formatting or break the request; the only tags are `<b>` and `<i>`, in matched pairs
//! inside one message (the text is split first, each part rendered whole, and markup never spans a line);
//! a button's callback data is the choice's id (at most 64 bytes), never its label, and its label is
//! plain text; the keyboard goes on the last part only; no part is empty or longer than
//! [`MAX_TEXT_UNITS`].

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::dialog::markup;
use crate::dialog::{Choice, Reply};

/// Telegram's limit for one message: 4,096 characters, counted here in UTF-16 units (what Telegram
/// counts) on the markup, which is never shorter than the text after parsing.
pub const MAX_TEXT_UNITS: usize = 4096;

/// Telegram's limit for callback data.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// One Telegram message: HTML text, and the keyboard if it is the last part of a menu.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub html: String,
    pub keyboard: Option<InlineKeyboardMarkup>,
}

pub use crate::dialog::markup::escape_html;

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits `text` into parts of at most `max` UTF-16 units: at blank lines first, then at line breaks,
/// then at spaces, and only as a last resort inside a word. Empty parts are dropped.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut parts = Vec::new();
    pack(text, max, &["\n\n", "\n", " "], &mut parts);
    parts
        .into_iter()
        .map(|p| p.trim_matches('\n').to_string())
        .filter(|p| !p.trim().is_empty())
        .collect()
}

fn pack(text: &str, max: usize, separators: &[&str], out: &mut Vec<String>) {
    if units(text) <= max {
        out.push(text.to_string());
        return;
    }
    let Some((separator, rest)) = separators.split_first() else {
        hard_split(text, max, out);
        return;
    };
    let mut current = String::new();
    for piece in text.split(separator) {
        if units(piece) > max {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            pack(piece, max, rest, out);
            continue;
        }
        if current.is_empty() {
            current.push_str(piece);
        } else if units(&current) + units(separator) + units(piece) <= max {
            current.push_str(separator);
            current.push_str(piece);
        } else {
            out.push(std::mem::replace(&mut current, piece.to_string()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
}

fn hard_split(text: &str, max: usize, out: &mut Vec<String>) {
    let mut current = String::new();
    let mut count = 0;
    for c in text.chars() {
        let n = c.len_utf16();
        if count + n > max {
            out.push(std::mem::take(&mut current));
            count = 0;
        }
        current.push(c);
        count += n;
    }
    if !current.is_empty() {
        out.push(current);
    }
}

/// The inline keyboard for a menu: one button per row, callback data = the choice's id. Choices whose id
/// does not fit Telegram's 64 bytes are left out (the dialog checker prevents them; users can still type
/// the number).
pub fn keyboard(choices: &[Choice]) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = choices
        .iter()
        .filter(|choice| {
            let fits = !choice.id.is_empty() && choice.id.len() <= MAX_CALLBACK_BYTES;
            if !fits {
                tracing::warn!(
                    len = choice.id.len(),
                    "choice id does not fit telegram callback data; button left out"
                );
            }
            fits && !choice.label.trim().is_empty()
        })
        .map(|choice| {
            vec![InlineKeyboardButton::callback(
                markup::to_plain(&choice.label),
                choice.id.clone(),
            )]
        })
        .collect();
    if rows.is_empty() {
        None
    } else {
        Some(InlineKeyboardMarkup::new(rows))
    }
}

/// The messages that carry `reply`, in order. Empty when the reply has no text at all (nothing can be
/// sent: Telegram refuses an empty message).
pub fn render(reply: &Reply) -> Vec<Part> {
    let texts = split_text(&reply.text, MAX_TEXT_UNITS);
    let count = texts.len();
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| Part {
            html: markup::to_telegram_html(&text),
            keyboard: if i + 1 == count {
                keyboard(&reply.choices)
            } else {
                None
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn choice(id: &str, label: &str) -> Choice {
        Choice {
            id: id.into(),
            label: label.into(),
        }
    }

    #[test]
    fn user_text_cannot_inject_markup() {
        assert_eq!(
            escape_html("<b>PT \"Maju\" & co</b>"),
            "&lt;b&gt;PT &quot;Maju&quot; &amp; co&lt;/b&gt;"
        );
    }

    #[test]
    fn long_text_splits_at_paragraphs_and_keyboard_goes_last() {
        let para = "a".repeat(3000);
        let text = format!("{para}\n\n{para}\n\nakhir <ok>");
        let reply = Reply {
            text,
            choices: vec![choice("main/start/1", "Satu")],
        };
        let parts = render(&reply);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].html, para);
        assert!(parts[0].keyboard.is_none());
        assert_eq!(parts[1].html, format!("{para}\n\nakhir &lt;ok&gt;"));
        let kb = parts[1].keyboard.clone().unwrap();
        assert_eq!(kb.inline_keyboard.len(), 1);
    }

    #[test]
    fn a_paragraph_longer_than_the_limit_splits_at_lines_then_words_then_chars() {
        let line = "kata ".repeat(500); // 2500 units
        let text = format!("{line}\n{line}");
        let parts = split_text(&text, 4096);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| units(p) <= 4096));
        let word = "x".repeat(9000);
        let parts = split_text(&word, 4096);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), word);
        // Emoji count double in UTF-16 and must never be cut in half.
        let emoji = "😀".repeat(3000);
        let parts = split_text(&emoji, 4096);
        assert!(parts.iter().all(|p| units(p) <= 4096));
        assert_eq!(parts.concat(), emoji);
    }

    #[test]
    fn buttons_carry_ids_never_labels_and_overlong_ids_are_dropped() {
        let long = "f".repeat(65);
        let kb = keyboard(&[choice("a/b/1", "Label satu"), choice(&long, "Dua")]).unwrap();
        assert_eq!(kb.inline_keyboard.len(), 1);
        let json = serde_json::to_value(&kb).unwrap();
        assert_eq!(json["inline_keyboard"][0][0]["callback_data"], "a/b/1");
        assert_eq!(json["inline_keyboard"][0][0]["text"], "Label satu");
        assert!(keyboard(&[]).is_none());
    }

    #[test]
    fn empty_text_renders_nothing() {
        assert!(render(&Reply::default()).is_empty());
    }
}
