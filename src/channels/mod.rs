//! Channels: where users talk to Pandu. Each translates its platform's messages into
//! [`crate::engine::Inbound`] and renders channel-neutral [`crate::dialog::Reply`]s within its limits.
//!
//! Invariants: only `telegram*` imports teloxide; only `whatsapp*` knows WhatsApp's JSON; a channel
//! acknowledges a message to its platform only after the engine's commit returned.

pub mod console;
