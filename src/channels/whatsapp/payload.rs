//! The inbound webhook JSON of the WhatsApp Cloud API (`messages` field), and its translation into
//! channel-neutral [`Input`]s.
//!
//! Parsing is tolerant on purpose: Meta adds fields and message types without notice, batches several
//! messages and users in one request, and mixes `statuses` and `errors` in. Unknown fields are ignored,
//! an unknown message type becomes [`InputKind::Unsupported`], and a message that cannot be read at all
//! is skipped on its own without failing its neighbours.
//!
//! Invariant: nothing here logs message content or user ids; nothing here does IO.

use serde::Deserialize;
use serde_json::Value;

use crate::dialog::{Attachment, AttachmentKind, Input, InputKind};

/// The whole webhook body: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Notification {
    pub object: String,
    /// Kept as raw values so that one unreadable entry does not spoil the others.
    pub entry: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    pub id: String,
    pub changes: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Change {
    pub field: String,
    pub value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeValue {
    pub messaging_product: String,
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub messages: Vec<Value>,
    pub statuses: Vec<Value>,
    pub errors: Vec<GraphErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub display_phone_number: String,
    pub phone_number_id: String,
}

/// A sender's profile. `wa_id` (a phone number) may be missing for users with a username; `user_id`
/// (the business-scoped user id, BSUID) is present on newer payloads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

/// One inbound message. Only what Pandu reads is typed; the rest is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Message {
    pub id: String,
    /// The sender's phone number (`wa_id`); may be missing for users with a username.
    pub from: Option<String>,
    /// The sender's business-scoped user id, on newer payloads.
    pub from_user_id: Option<String>,
    /// Unix seconds, as a string.
    pub timestamp: Option<Value>,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<TextBody>,
    pub interactive: Option<Interactive>,
    pub button: Option<TemplateButton>,
    pub image: Option<Media>,
    pub document: Option<Media>,
    pub audio: Option<Media>,
    pub video: Option<Media>,
    pub location: Option<Location>,
    pub errors: Vec<GraphErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TextBody {
    pub body: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Interactive {
    #[serde(rename = "type")]
    pub kind: String,
    pub button_reply: Option<Reply>,
    pub list_reply: Option<Reply>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reply {
    pub id: String,
    pub title: String,
}

/// A quick-reply button of a template message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateButton {
    pub payload: String,
    pub text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Media {
    pub id: String,
    pub mime_type: Option<String>,
    /// Audio only: `true` for a voice note recorded in WhatsApp.
    pub voice: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Location {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// A delivery status of a message we sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    /// The `wamid` of our message.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`, ...
    pub status: String,
    pub timestamp: Option<Value>,
    pub errors: Vec<GraphErrorItem>,
}

/// An error item as it appears in webhooks (`errors[]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GraphErrorItem {
    pub code: i64,
    pub title: String,
}

/// What one webhook request carries, translated.
#[derive(Debug, Default)]
pub struct Parsed {
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<Status>,
    /// Account-level errors (`value.errors`), code and title only.
    pub errors: Vec<GraphErrorItem>,
    /// Items that could not be read at all and were skipped.
    pub skipped: usize,
}

/// One inbound message, translated; the address fields say how to reach the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub wamid: String,
    /// The conversation key: the business-scoped user id when present, else the `wa_id`.
    pub user_id: String,
    /// The sender's `wa_id` (phone number), when Meta gave one.
    pub wa_id: Option<String>,
    pub input: Input,
}

/// Reads a webhook body that is already known to be JSON. Never fails: what cannot be read is counted
/// in [`Parsed::skipped`].
pub fn parse(body: Value) -> Parsed {
    let mut parsed = Parsed::default();
    let notification: Notification = match serde_json::from_value(body) {
        Ok(n) => n,
        Err(_) => {
            parsed.skipped += 1;
            return parsed;
        }
    };
    for entry in notification.entry {
        let Ok(entry) = serde_json::from_value::<Entry>(entry) else {
            parsed.skipped += 1;
            continue;
        };
        for change in entry.changes {
            let Ok(change) = serde_json::from_value::<Change>(change) else {
                parsed.skipped += 1;
                continue;
            };
            read_change(change.value, &mut parsed);
        }
    }
    parsed
}

fn read_change(value: ChangeValue, parsed: &mut Parsed) {
    for message in value.messages {
        match serde_json::from_value::<Message>(message) {
            Ok(message) => match translate(message, &value.contacts) {
                Some(m) => parsed.messages.push(m),
                None => parsed.skipped += 1,
            },
            Err(_) => parsed.skipped += 1,
        }
    }
    for status in value.statuses {
        match serde_json::from_value::<Status>(status) {
            Ok(status) if !status.id.is_empty() => parsed.statuses.push(status),
            _ => parsed.skipped += 1,
        }
    }
    parsed.errors.extend(value.errors);
}

/// Translates one message; `None` when it has no id or no sender (nothing can be done with it).
fn translate(message: Message, contacts: &[Contact]) -> Option<InboundMessage> {
    if message.id.is_empty() {
        return None;
    }
    let from = message.from.clone().filter(|s| !s.is_empty());
    // The contact of this sender: the one with the same wa_id, or the only one.
    let contact = contacts
        .iter()
        .find(|c| from.is_some() && c.wa_id == from)
        .or_else(|| (contacts.len() == 1).then(|| &contacts[0]));
    let bsuid = message
        .from_user_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            contact
                .and_then(|c| c.user_id.clone())
                .filter(|s| !s.is_empty())
        });
    let wa_id = from.or_else(|| {
        contact
            .and_then(|c| c.wa_id.clone())
            .filter(|s| !s.is_empty())
    });
    let user_id = bsuid.or_else(|| wa_id.clone())?;
    let at = message.timestamp.as_ref().and_then(unix_secs).unwrap_or(0);
    let wamid = message.id.clone();
    let kind = input_kind(message);
    Some(InboundMessage {
        wamid,
        user_id,
        wa_id,
        input: Input { kind, at },
    })
}

/// `"1603059201"` or `1603059201`.
pub fn unix_secs(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn input_kind(message: Message) -> InputKind {
    let attachment = |media: Option<Media>, kind: AttachmentKind| match media {
        Some(media) if !media.id.is_empty() => InputKind::Attachment(Attachment {
            kind,
            reference: media.id,
            mime: media.mime_type,
            stored_path: None,
        }),
        _ => InputKind::Unsupported,
    };
    match message.kind.as_str() {
        "text" => match message.text {
            Some(text) => InputKind::Text(text.body),
            None => InputKind::Unsupported,
        },
        "interactive" => {
            let reply = message
                .interactive
                .and_then(|i| i.button_reply.or(i.list_reply));
            match reply {
                Some(reply) if !reply.id.is_empty() => InputKind::Choice(reply.id),
                _ => InputKind::Unsupported,
            }
        }
        // A quick-reply button of a template: its text is what the user "said".
        "button" => match message.button {
            Some(button) if !button.text.is_empty() => InputKind::Text(button.text),
            _ => InputKind::Unsupported,
        },
        "image" => attachment(message.image, AttachmentKind::Photo),
        "document" => attachment(message.document, AttachmentKind::Document),
        "video" => attachment(message.video, AttachmentKind::Video),
        "audio" => {
            let voice = message.audio.as_ref().and_then(|a| a.voice).unwrap_or(true);
            let kind = if voice {
                AttachmentKind::Voice
            } else {
                AttachmentKind::Audio
            };
            attachment(message.audio, kind)
        }
        "location" => match message.location {
            Some(Location {
                latitude: Some(latitude),
                longitude: Some(longitude),
            }) => InputKind::Location {
                latitude,
                longitude,
            },
            _ => InputKind::Unsupported,
        },
        // The user opened the chat for the first time (welcome message request).
        "request_welcome" => InputKind::Start { payload: None },
        _ => InputKind::Unsupported,
    }
}
