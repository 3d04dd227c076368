//! The dialogs' text markup and its form on each channel.
//!
//! Dialog authors write WhatsApp-style markup: `*bold*` and `_italic_`. A reply's text
//! ([`crate::dialog::Reply::text`]) is in this markup; each channel renders it in its own form:
//! Telegram as HTML (`<b>`, `<i>`, everything else escaped), WhatsApp as is, the terminal with ANSI
//! bold/italic or as plain text.
//!
//! The rules follow WhatsApp's: a delimiter opens where it follows the start of the text, a space or
//! punctuation and is followed by a non-space; it closes at the next same delimiter on the same line that
//! follows a non-space and is not followed by a letter or digit. So `snake_case`, `5 * 3` and `* item`
//! stay as typed. `\*`, `\_` and `\\` are literal characters: the runtime escapes every variable's value
//! with [`escape`], so nothing a user typed (a name, an answer) turns into formatting.
//!
//! Invariants: pure functions; a rendered form only ever contains matched pairs (a Telegram message never
//! holds a cut or stray tag); [`problems`] names every delimiter that would show literally, which the
//! dialog checker refuses.

/// A style the markup can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bold,
    Italic,
}

impl Style {
    fn of(c: char) -> Option<Style> {
        match c {
            '*' => Some(Style::Bold),
            '_' => Some(Style::Italic),
            _ => None,
        }
    }
}

/// One piece of parsed markup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Open(Style),
    Close(Style),
}

/// Escapes `text` so that it shows literally: `\`, `*` and `_` get a backslash.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A character of the source: its value and whether it was escaped (then it is never a delimiter).
#[derive(Clone, Copy)]
struct Ch {
    c: char,
    escaped: bool,
}

fn chars(text: &str) -> Vec<Ch> {
    let mut out = Vec::with_capacity(text.len());
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\'
            && let Some(&next) = it.peek()
            && matches!(next, '\\' | '*' | '_')
        {
            it.next();
            out.push(Ch {
                c: next,
                escaped: true,
            });
            continue;
        }
        out.push(Ch { c, escaped: false });
    }
    out
}

fn delimiter(ch: Option<&Ch>) -> Option<Style> {
    ch.filter(|c| !c.escaped).and_then(|c| Style::of(c.c))
}

fn can_open(s: &[Ch], i: usize) -> bool {
    let before_ok = i == 0 || {
        let b = s[i - 1];
        b.escaped || !b.c.is_alphanumeric()
    };
    let after_ok = s.get(i + 1).is_some_and(|a| !a.c.is_whitespace());
    before_ok && after_ok
}

fn can_close(s: &[Ch], i: usize) -> bool {
    let before_ok = i > 0 && !s[i - 1].c.is_whitespace();
    let after_ok = s
        .get(i + 1)
        .is_none_or(|a| a.escaped || !a.c.is_alphanumeric());
    before_ok && after_ok
}

/// The closing position for an opener at `i` within `s[..end]`, on the same line, with something between.
fn closer(s: &[Ch], i: usize, end: usize, style: Style) -> Option<usize> {
    let mut j = i + 2;
    while j < end {
        let ch = s[j];
        if ch.c == '\n' && !ch.escaped {
            return None;
        }
        if delimiter(Some(&ch)) == Some(style) && can_close(s, j) {
            return Some(j);
        }
        j += 1;
    }
    None
}

fn parse_range(s: &[Ch], start: usize, end: usize, open: &mut Vec<Style>, out: &mut Vec<Piece>) {
    let mut text = String::new();
    let mut i = start;
    while i < end {
        let ch = s[i];
        if let Some(style) = delimiter(Some(&ch))
            && !open.contains(&style)
            && can_open(s, i)
            && let Some(j) = closer(s, i, end, style)
        {
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(Piece::Open(style));
            open.push(style);
            parse_range(s, i + 1, j, open, out);
            open.pop();
            out.push(Piece::Close(style));
            i = j + 1;
            continue;
        }
        text.push(ch.c);
        i += 1;
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
}

/// Parses markup into text and matched open/close pieces. Delimiters without a partner are text.
pub fn parse(text: &str) -> Vec<Piece> {
    let s = chars(text);
    let mut out = Vec::new();
    parse_range(&s, 0, s.len(), &mut Vec::new(), &mut out);
    out
}

/// Telegram `parse_mode = HTML`: `<b>`/`<i>`, everything else HTML-escaped.
pub fn to_telegram_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for piece in parse(text) {
        match piece {
            Piece::Text(t) => out.push_str(&escape_html(&t)),
            Piece::Open(Style::Bold) => out.push_str("<b>"),
            Piece::Close(Style::Bold) => out.push_str("</b>"),
            Piece::Open(Style::Italic) => out.push_str("<i>"),
            Piece::Close(Style::Italic) => out.push_str("</i>"),
        }
    }
    out
}

/// WhatsApp: the markup as written, without the escapes (WhatsApp has none).
pub fn to_whatsapp(text: &str) -> String {
    chars(text).into_iter().map(|c| c.c).collect()
}

/// Plain text: the words without any markup (a terminal that is not a terminal, a button label).
pub fn to_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text) {
        if let Piece::Text(t) = piece {
            out.push_str(&t);
        }
    }
    out
}

/// A terminal: ANSI bold and italic.
pub fn to_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for piece in parse(text) {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Open(Style::Bold) => out.push_str("\x1b[1m"),
            Piece::Close(Style::Bold) => out.push_str("\x1b[22m"),
            Piece::Open(Style::Italic) => out.push_str("\x1b[3m"),
            Piece::Close(Style::Italic) => out.push_str("\x1b[23m"),
        }
    }
    out
}

/// Escapes text for Telegram's `parse_mode = HTML` (`&`, `<`, `>`, `"`).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A delimiter in an author's text that would show literally (it opens or closes nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 0-based line within the text.
    pub line: usize,
    /// 1-based character column within that line.
    pub column: usize,
    pub delimiter: char,
}

/// Every unbalanced delimiter in `text`: one that is placed like an opener or a closer (touching a word
/// on one side) but has no partner on its line. `{placeholders}` count as words.
pub fn problems(text: &str) -> Vec<Problem> {
    // `{name}` is replaced before anyone reads the text: it counts as a word, whatever its name holds.
    let mut masked = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '{' {
            inside = true;
        }
        masked.push(if inside && c != '\n' { 'x' } else { c });
        if c == '}' || c == '\n' {
            inside = false;
        }
    }
    let s = chars(&masked);
    let mut used = vec![false; s.len()];
    mark(&s, 0, s.len(), &mut Vec::new(), &mut used);
    let mut out = Vec::new();
    let (mut line, mut column) = (0, 0);
    for (i, ch) in s.iter().enumerate() {
        column += 1;
        if ch.c == '\n' && !ch.escaped {
            line += 1;
            column = 0;
            continue;
        }
        if used[i] || delimiter(Some(ch)).is_none() {
            continue;
        }
        if can_open(&s, i) || can_close(&s, i) {
            out.push(Problem {
                line,
                column,
                delimiter: ch.c,
            });
        }
    }
    out
}

fn mark(s: &[Ch], start: usize, end: usize, open: &mut Vec<Style>, used: &mut [bool]) {
    let mut i = start;
    while i < end {
        if let Some(style) = delimiter(s.get(i))
            && !open.contains(&style)
            && can_open(s, i)
            && let Some(j) = closer(s, i, end, style)
        {
            used[i] = true;
            used[j] = true;
            open.push(style);
            mark(s, i + 1, j, open, used);
            open.pop();
            i = j + 1;
            continue;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_and_italic_become_tags_and_the_rest_is_escaped() {
        assert_eq!(
            to_telegram_html("Selamat datang di *Pandu* & _semoga_ <aman>"),
            "Selamat datang di <b>Pandu</b> &amp; <i>semoga</i> &lt;aman&gt;"
        );
        assert_eq!(
            to_telegram_html("Ketik *cek status PKL-7KQ2MX* kapan saja."),
            "Ketik <b>cek status PKL-7KQ2MX</b> kapan saja."
        );
        assert_eq!(to_telegram_html("*_dua_*"), "<b><i>dua</i></b>");
    }

    #[test]
    fn words_with_underscores_lists_and_arithmetic_stay_as_typed() {
        for text in [
            "status in_review|resolved",
            "5 * 3 = 15",
            "* bukan tebal",
            "https://example.org/a_b_c",
            "ongkos 2*3",
        ] {
            assert_eq!(to_plain(text), text, "{text}");
            assert!(problems(text).is_empty(), "{text}: {:?}", problems(text));
        }
    }

    #[test]
    fn escaped_user_text_shows_literally_everywhere() {
        let name = escape("*Siti* _A_ \\o/ <b>");
        let text = format!("Nama: *{name}*");
        assert_eq!(
            to_telegram_html(&text),
            "Nama: <b>*Siti* _A_ \\o/ &lt;b&gt;</b>"
        );
        assert_eq!(to_whatsapp(&text), "Nama: **Siti* _A_ \\o/ <b>*");
        assert_eq!(to_plain(&text), "Nama: *Siti* _A_ \\o/ <b>");
        assert!(problems(&text).is_empty());
    }

    #[test]
    fn formatting_never_spans_lines_and_unbalanced_delimiters_are_named() {
        assert_eq!(to_plain("*satu\ndua*"), "*satu\ndua*");
        let found = problems("baris satu\nketik *lapor untuk melapor");
        assert_eq!(
            found,
            vec![Problem {
                line: 1,
                column: 7,
                delimiter: '*'
            }]
        );
        assert_eq!(problems("ketik lapor* saja").len(), 1);
        assert!(problems("*{code}* dan _{name}_").is_empty());
        assert!(problems("Nomor {_number} dari {_choices}.").is_empty());
    }

    #[test]
    fn ansi_marks_bold() {
        assert_eq!(to_ansi("a *b* c"), "a \x1b[1mb\x1b[22m c");
    }
}
