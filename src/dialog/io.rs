//! What goes into and comes out of the dialog runtime: inputs, replies, sessions and effects.
//!
//! These are plain serialisable data shared by every channel. Nothing here knows a platform's JSON or
//! does IO.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A language the bot speaks. `Id` (Bahasa Indonesia) is always available and is the fallback.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Id,
    En,
    Jv,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Id, Lang::En, Lang::Jv];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
            Lang::Jv => "jv",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "id" | "ind" | "indonesia" => Some(Lang::Id),
            "en" | "eng" | "english" => Some(Lang::En),
            "jv" | "jw" | "jawa" | "javanese" => Some(Lang::Jv),
            _ => None,
        }
    }
}

/// One inbound message, already translated from the platform's format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub kind: InputKind,
    /// When the platform says the message was sent, in Unix seconds.
    pub at: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Free text as the user typed it.
    Text(String),
    /// The id of a button the user pressed (`Choice::id`).
    Choice(String),
    /// A first contact or an explicit restart (`/start`), with an optional deep-link payload naming a flow.
    Start {
        payload: Option<String>,
    },
    /// A photo, voice note, document, video, ...; stored as a platform reference.
    Attachment(Attachment),
    Location {
        latitude: f64,
        longitude: f64,
    },
    /// Something the channel cannot represent (a sticker, a contact card, a poll, ...).
    Unsupported,
    /// The text read (OCR) from a photo the user sent where a node has `photo:`; `None` when it could
    /// not be read (no OCR here, a timeout, no text, a failed download). The channel hands it in after
    /// the photo's commit, as message `ocr:<reference>`; the step uses it only while the session still
    /// waits for that photo ([`PHOTO_PENDING`]), as if the user had typed the text.
    ImageText {
        reference: String,
        text: Option<String>,
    },
}

/// The session variable naming the photo (its [`Attachment::reference`]) whose text the conversation
/// waits for; set by the step when a photo arrives at a node with `photo:`, removed by any other input.
pub const PHOTO_PENDING: &str = "_photo_pending";

impl Attachment {
    /// A picture: a photo, or a file sent as a document whose type is an image (a screenshot sent
    /// uncompressed).
    pub fn is_image(&self) -> bool {
        match self.kind {
            AttachmentKind::Photo => true,
            AttachmentKind::Document => self
                .mime
                .as_deref()
                .is_some_and(|m| m.trim().to_ascii_lowercase().starts_with("image/")),
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// The platform's file id (Telegram `file_id`, WhatsApp media id). Never a URL with credentials.
    pub reference: String,
    pub mime: Option<String>,
    /// Where the file was saved in the data folder, once downloaded.
    pub stored_path: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Photo,
    Voice,
    Audio,
    Video,
    Document,
}

/// One message from the bot, channel-neutral: text plus optional choices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Short and stable (`flow/node/n`), at most 64 bytes: it travels as Telegram callback data and as a
    /// WhatsApp interactive reply id.
    pub id: String,
    pub label: String,
}

/// Where a conversation stands: a flow and one of its nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub flow: String,
    pub node: String,
}

impl Position {
    pub fn new(flow: impl Into<String>, node: impl Into<String>) -> Position {
        Position {
            flow: flow.into(),
            node: node.into(),
        }
    }
}

/// The conversation state of one user on one channel. Plain data, stored by `storage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub lang: Lang,
    /// The node waiting for the user's answer, if any.
    pub position: Option<Position>,
    /// A question interrupted by another topic, offered again when that topic ends.
    pub paused: Option<Position>,
    /// Answers and action results, by variable name.
    pub vars: BTreeMap<String, String>,
    /// Attachments received while a question accepted them, in order.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Failed answers to the current question.
    pub retries: u32,
    /// Set when the idle restart offered to resume `position`.
    #[serde(default)]
    pub resume_offered: bool,
    pub created_at: u64,
    pub last_seen: u64,
    /// The choices shown last (ids and normalised labels), so a typed number or label picks one even
    /// for the bot's own menus (language, resume).
    #[serde(default)]
    pub offered: Vec<(String, String)>,
    /// The user explicitly chose a language (so a channel's locale hint must not override it).
    #[serde(default)]
    pub lang_chosen: bool,
}

/// A change to the world that the step asks for. Effects are applied by the engine in the same durable
/// commit as the session and the replies, so a reply never promises what was not stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    /// Open a case with this code and these fields (see `cases`).
    OpenCase {
        code: String,
        fields: BTreeMap<String, String>,
        attachments: Vec<Attachment>,
    },
    /// Add a message or attachment from the reporter to an open case.
    AppendToCase {
        code: String,
        text: Option<String>,
        attachments: Vec<Attachment>,
    },
    /// Emergency words were seen; raise the priority of the user's open case or of the one being taken.
    Emergency { category: String },
    /// The user asked to talk to staff.
    Handoff { topic: String },
}
