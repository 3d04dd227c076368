//! The console channel: `pandu chat`, the fastest way for a dialog author to try a change.
//!
//! In a terminal it shows numbered choices and the dialogs' markup as ANSI bold/italic (plain words when
//! stdout is not a terminal); `--json` is the scriptable contract: one input line in, exactly one output
//! line out (`{"replies":[{"text":..,"choices":[{"id":..,"label":..}]}]}`, the text in the dialogs'
//! markup: `*bold*`, `_italic_`, `\\*` for a literal star), nothing printed before the first input.
//! Started again on a conversation that exists, it says where the conversation stands. The session lives in the data folder, so killing `pandu chat` and
//! starting it again with the same `--user` resumes the conversation; replies committed but not yet
//! printed when it was killed are printed first.
//!
//! Invariant: a reply is marked delivered only after it was written to stdout.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::dialog::{Input, InputKind, Lang, Reply, markup};
use crate::engine::{Engine, EngineError, Inbound};
use crate::storage::{Channel, Delivery, OutboxEntry, UserKey};

#[derive(Serialize)]
struct JsonLine<'a> {
    replies: Vec<&'a Reply>,
}

#[derive(Debug)]
pub struct ConsoleOptions {
    pub user: String,
    pub lang: Option<Lang>,
    pub json: bool,
}

/// Runs the chat until end of input.
pub async fn run(engine: &Engine, options: ConsoleOptions) -> Result<(), EngineError> {
    let user = UserKey::new(Channel::Console, options.user.clone());
    let store = engine.store().clone();
    let mut pending = store.outbox_for(&user)?;
    let session_exists = store.session(&user)?.is_some();
    let run_id = crate::time::now_millis();
    let mut counter = 0u64;
    let mut next_id = move || {
        counter += 1;
        format!("{run_id}-{counter}")
    };
    let mut out = std::io::stdout();
    if !options.json {
        if !pending.is_empty() {
            print_terminal(&mut out, &pending);
            finish(engine, &pending)?;
            pending.clear();
        } else if !session_exists {
            let ack = engine
                .handle(Inbound {
                    user: user.clone(),
                    message_id: next_id(),
                    input: Input {
                        kind: InputKind::Start { payload: None },
                        at: crate::time::now_secs(),
                    },
                    lang_hint: options.lang,
                })
                .await?;
            print_terminal(&mut out, &ack.replies);
            finish(engine, &ack.replies)?;
        } else if let Some(session) = store.session(&user)? {
            // Started again (after ctrl-d, a crash, a reboot): say where the conversation stands
            // instead of a bare prompt. Nothing is stepped or stored.
            let bot = engine.bot();
            for reply in crate::dialog::runtime::where_we_are(&bot, &session) {
                print_reply(&mut out, &reply);
            }
        }
        prompt(&mut out);
    }
    let mut lines = BufReader::new(tokio::io::stdin());
    let mut buf = Vec::new();
    let signal = engine.outbox_signal(Channel::Console);
    loop {
        let n = tokio::select! {
            // `read_until` keeps what it read in `buf` when the other branch wins.
            read = lines.read_until(b'\n', &mut buf) => read.unwrap_or(0),
            // In a terminal, what others queued for this conversation (a staff reply sent with
            // `pandu cases reply` while `pandu serve --chat` runs) is shown as it comes. `--json` keeps
            // its one-line-out-per-line-in contract: there it comes with the first answer of the
            // next run.
            _ = signal.notified(), if !options.json => {
                let queued = store.outbox_for(&user)?;
                if !queued.is_empty() {
                    print_terminal(&mut out, &queued);
                    finish(engine, &queued)?;
                    prompt(&mut out);
                }
                continue;
            }
        };
        if n == 0 {
            break;
        }
        // Invalid UTF-8 is replaced, never fatal.
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        buf.clear();
        let ack = engine
            .handle(Inbound {
                user: user.clone(),
                message_id: next_id(),
                input: Input {
                    kind: InputKind::Text(line),
                    at: crate::time::now_secs(),
                },
                lang_hint: options.lang,
            })
            .await?;
        let mut shown = std::mem::take(&mut pending);
        shown.extend(ack.replies);
        if options.json {
            let line = JsonLine {
                replies: shown.iter().map(|e| &e.reply).collect(),
            };
            let text = serde_json::to_string(&line).unwrap_or_else(|_| "{\"replies\":[]}".into());
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        } else {
            print_terminal(&mut out, &shown);
            prompt(&mut out);
        }
        finish(engine, &shown)?;
    }
    Ok(())
}

fn finish(engine: &Engine, entries: &[OutboxEntry]) -> Result<(), EngineError> {
    let now = crate::time::now_secs();
    for entry in entries {
        engine.store().outbox_finish(
            entry,
            Delivery::Sent {
                platform_id: None,
                at: now,
            },
        )?;
    }
    Ok(())
}

fn print_terminal(out: &mut impl Write, entries: &[OutboxEntry]) {
    for entry in entries {
        print_reply(out, &entry.reply);
    }
    let _ = out.flush();
}

/// One reply for a person: the dialogs' markup as ANSI bold/italic in a terminal, as plain words when
/// stdout is a file or a pipe; numbered choices.
fn print_reply(out: &mut impl Write, reply: &Reply) {
    let styled = std::io::stdout().is_terminal();
    let show = |text: &str| {
        if styled {
            markup::to_ansi(text)
        } else {
            markup::to_plain(text)
        }
    };
    let _ = writeln!(out, "\n{}", show(reply.text.trim_start_matches('\n')));
    for (i, c) in reply.choices.iter().enumerate() {
        let _ = writeln!(out, "  {}", numbered(i + 1, &markup::to_plain(&c.label)));
    }
    let _ = out.flush();
}

/// "n. label", unless the label already starts with its own number (the agency check's "1. PT ..."
/// buttons): never "1. 1. PT ...".
pub fn numbered(n: usize, label: &str) -> String {
    if label.starts_with(&format!("{n}. ")) {
        label.to_string()
    } else {
        format!("{n}. {label}")
    }
}

fn prompt(out: &mut impl Write) {
    let _ = write!(out, "\n> ");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn a_label_with_its_own_number_is_not_numbered_twice() {
        assert_eq!(numbered(1, "1. PT Contoh Jaya"), "1. PT Contoh Jaya");
        assert_eq!(numbered(2, "Cek perusahaan"), "2. Cek perusahaan");
        // Another number at the start is the label's own text, not its position.
        assert_eq!(numbered(3, "1. PT A"), "3. 1. PT A");
    }
}
