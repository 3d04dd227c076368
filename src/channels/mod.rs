//! Channels: where users talk to Pandu. Each translates its platform's messages into
//! [`crate::engine::Inbound`] and renders channel-neutral [`crate::dialog::Reply`]s within its limits.
//!
//! Invariants: only `telegram*` imports teloxide; only `whatsapp*` knows WhatsApp's JSON; a channel
//! acknowledges a message to its platform only after the engine's commit returned.

pub mod console;
pub mod photo_text;
pub mod telegram;
pub mod whatsapp;

use std::future::Future;
use std::pin::Pin;

/// Runs staff commands typed in a staff chat (e.g. the Telegram staff group). Provided by `cases`;
/// channels only pass the text and the sender's platform id and send back the answer.
pub trait StaffCommands: Send + Sync {
    /// `None` when `from` is not a staff member (the channel then says nothing and logs the refusal).
    fn handle<'a>(
        &'a self,
        from: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;
}

/// The signal every long-running task watches: it turns `true` once, when the process shuts down.
pub type Shutdown = tokio::sync::watch::Receiver<bool>;
