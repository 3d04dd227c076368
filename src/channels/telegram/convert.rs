//! Translates a Telegram [`Update`] into what Pandu does with it: an [`Inbound`] for the dialogs, a staff
//! command, or nothing (a kind the bot does not handle).
//!
//! Invariants: pure (no IO, no logging of content); the dedupe id of an inbound is the update id, so a
//! redelivered update is recognised by the engine; a message from the staff chat never becomes dialog
//! input; a callback query always carries its id back so the caller can answer it.

use teloxide::types::{
    CallbackQuery, CallbackQueryId, Chat, ChatId, MediaKind, Message, MessageId, MessageKind,
    Update, UpdateKind, User,
};

use crate::dialog::{Attachment, AttachmentKind, Input, InputKind, Lang};
use crate::engine::Inbound;
use crate::storage::{Channel, UserKey};

/// What one update asks for.
#[derive(Clone, Debug)]
pub enum Action {
    /// Dialog input from a user in a private chat.
    Dialog(Inbound),
    /// Text typed in the staff chat, with the sender's Telegram user id.
    Staff { from: String, text: String },
    /// Nothing to do; the reason is a fixed word, safe to log.
    Skip(&'static str),
}

#[derive(Clone, Debug)]
pub struct Converted {
    pub update_id: u32,
    /// A callback query to answer (always, whatever the action).
    pub callback: Option<CallbackQueryId>,
    /// The menu message whose button was pressed (a private chat's dialog menu): its keyboard is removed
    /// once the press is committed, so an old menu cannot be pressed again by mistake.
    pub pressed: Option<(ChatId, MessageId)>,
    pub action: Action,
}

/// Translates one update. `staff_chat_id` 0 means there is no staff chat.
pub fn convert(update: &Update, staff_chat_id: i64, now: u64) -> Converted {
    let update_id = update.id.0;
    let (callback, action) = match &update.kind {
        UpdateKind::Message(message) => (None, message_action(update_id, message, staff_chat_id)),
        UpdateKind::CallbackQuery(query) => (
            Some(query.id.clone()),
            callback_action(update_id, query, staff_chat_id, now),
        ),
        UpdateKind::EditedMessage(_) => (None, Action::Skip("edited_message")),
        UpdateKind::Error(_) => (None, Action::Skip("unparsable")),
        _ => (None, Action::Skip("unhandled_kind")),
    };
    let pressed = match (&update.kind, &action) {
        (UpdateKind::CallbackQuery(query), Action::Dialog(_)) => query
            .message
            .as_ref()
            .map(|message| (message.chat().id, message.id())),
        _ => None,
    };
    Converted {
        update_id,
        callback,
        pressed,
        action,
    }
}

fn lang_hint(user: Option<&User>) -> Option<Lang> {
    let code = user?.language_code.as_deref()?;
    let primary = code.split(['-', '_']).next().unwrap_or(code);
    match primary.to_ascii_lowercase().as_str() {
        "id" | "in" => Some(Lang::Id),
        "en" => Some(Lang::En),
        "jv" | "jw" => Some(Lang::Jv),
        _ => None,
    }
}

fn inbound(update_id: u32, chat: &Chat, from: Option<&User>, kind: InputKind, at: u64) -> Inbound {
    Inbound {
        user: UserKey::new(Channel::Telegram, chat.id.0.to_string()),
        message_id: update_id.to_string(),
        input: Input { kind, at },
        lang_hint: lang_hint(from),
    }
}

fn message_action(update_id: u32, message: &Message, staff_chat_id: i64) -> Action {
    if staff_chat_id != 0 && message.chat.id.0 == staff_chat_id {
        return match (message.from.as_ref(), message.text()) {
            (Some(from), Some(text)) if !from.is_bot => Action::Staff {
                from: from.id.0.to_string(),
                text: text.to_string(),
            },
            _ => Action::Skip("staff_chat_non_text"),
        };
    }
    if !message.chat.is_private() {
        return Action::Skip("not_private_chat");
    }
    if message.from.as_ref().is_some_and(|u| u.is_bot) {
        return Action::Skip("from_bot");
    }
    let at = u64::try_from(message.date.timestamp()).unwrap_or(0);
    let kind = input_kind(message);
    Action::Dialog(inbound(
        update_id,
        &message.chat,
        message.from.as_ref(),
        kind,
        at,
    ))
}

fn attachment(kind: AttachmentKind, file_id: &str, mime: Option<String>) -> InputKind {
    InputKind::Attachment(Attachment {
        kind,
        reference: file_id.to_string(),
        mime,
        stored_path: None,
    })
}

fn input_kind(message: &Message) -> InputKind {
    if let Some(text) = message.text() {
        return command_or_text(text);
    }
    if let MessageKind::Common(common) = &message.kind {
        return match &common.media_kind {
            MediaKind::Photo(photo) => match photo.photo.last() {
                Some(size) => attachment(
                    AttachmentKind::Photo,
                    &size.file.id.0,
                    Some("image/jpeg".into()),
                ),
                None => InputKind::Unsupported,
            },
            MediaKind::Document(doc) => attachment(
                AttachmentKind::Document,
                &doc.document.file.id.0,
                doc.document.mime_type.as_ref().map(|m| m.to_string()),
            ),
            MediaKind::Voice(voice) => attachment(
                AttachmentKind::Voice,
                &voice.voice.file.id.0,
                voice.voice.mime_type.as_ref().map(|m| m.to_string()),
            ),
            MediaKind::Audio(audio) => attachment(
                AttachmentKind::Audio,
                &audio.audio.file.id.0,
                audio.audio.mime_type.as_ref().map(|m| m.to_string()),
            ),
            MediaKind::Video(video) => attachment(
                AttachmentKind::Video,
                &video.video.file.id.0,
                video.video.mime_type.as_ref().map(|m| m.to_string()),
            ),
            MediaKind::Location(location) => InputKind::Location {
                latitude: location.location.latitude,
                longitude: location.location.longitude,
            },
            _ => InputKind::Unsupported,
        };
    }
    InputKind::Unsupported
}

/// `/start [payload]`, `/menu`, `/bahasa`, `/status CODE`; any other text (and unknown commands) is
/// passed on as typed. A `@BotName` suffix on the command is ignored.
pub fn command_or_text(text: &str) -> InputKind {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix('/') else {
        return InputKind::Text(text.to_string());
    };
    let (head, args) = match rest.split_once(char::is_whitespace) {
        Some((head, args)) => (head, args.trim()),
        None => (rest, ""),
    };
    let command = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
    match command.as_str() {
        "start" => InputKind::Start {
            payload: (!args.is_empty()).then(|| args.to_string()),
        },
        "menu" => InputKind::Text("menu".into()),
        "bahasa" | "language" => InputKind::Text("bahasa".into()),
        "status" if args.is_empty() => InputKind::Text("status".into()),
        "status" => InputKind::Text(format!("status {args}")),
        _ => InputKind::Text(text.to_string()),
    }
}

fn callback_action(update_id: u32, query: &CallbackQuery, staff_chat_id: i64, now: u64) -> Action {
    let Some(message) = query.message.as_ref() else {
        return Action::Skip("callback_without_message");
    };
    let chat = message.chat();
    if staff_chat_id != 0 && chat.id.0 == staff_chat_id {
        return Action::Skip("staff_chat_callback");
    }
    if !chat.is_private() {
        return Action::Skip("not_private_chat");
    }
    let Some(data) = query.data.as_ref() else {
        return Action::Skip("callback_without_data");
    };
    Action::Dialog(inbound(
        update_id,
        chat,
        Some(&query.from),
        InputKind::Choice(data.clone()),
        now,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    // From text, as on the wire (teloxide's update parser needs borrowed keys).
    fn update(value: serde_json::Value) -> Update {
        serde_json::from_str(&value.to_string()).unwrap()
    }

    fn message(update_id: u32, chat: i64, extra: serde_json::Value) -> Update {
        let mut msg = json!({
            "message_id": 7,
            "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Siti"},
            "from": {"id": chat, "is_bot": false, "first_name": "Siti", "language_code": "en-US"},
        });
        for (k, v) in extra.as_object().unwrap() {
            msg[k] = v.clone();
        }
        update(json!({"update_id": update_id, "message": msg}))
    }

    fn dialog(c: Converted) -> Inbound {
        match c.action {
            Action::Dialog(inbound) => inbound,
            other => panic!("expected dialog input, got {other:?}"),
        }
    }

    #[test]
    fn text_commands_and_media_map_to_inputs() {
        let c = convert(&message(10, 55, json!({"text": "halo"})), 0, 1);
        assert_eq!(c.update_id, 10);
        let i = dialog(c);
        assert_eq!(i.message_id, "10");
        assert_eq!(i.user, UserKey::new(Channel::Telegram, "55"));
        assert_eq!(i.input.kind, InputKind::Text("halo".into()));
        assert_eq!(i.input.at, 1_700_000_000);
        assert_eq!(i.lang_hint, Some(Lang::En));

        let i = dialog(convert(
            &message(11, 55, json!({"text": "/start@PanduBot lapor"})),
            0,
            1,
        ));
        assert_eq!(
            i.input.kind,
            InputKind::Start {
                payload: Some("lapor".into())
            }
        );
        assert_eq!(
            command_or_text("/start"),
            InputKind::Start { payload: None }
        );
        assert_eq!(command_or_text("/menu"), InputKind::Text("menu".into()));
        assert_eq!(command_or_text("/bahasa"), InputKind::Text("bahasa".into()));
        assert_eq!(
            command_or_text("/status PKL-7KQ2MX"),
            InputKind::Text("status PKL-7KQ2MX".into())
        );
        assert_eq!(command_or_text("/foo"), InputKind::Text("/foo".into()));

        let photo = json!({"photo": [
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
            {"file_id": "big", "file_unique_id": "b", "width": 900, "height": 900, "file_size": 100}
        ]});
        let i = dialog(convert(&message(12, 55, photo), 0, 1));
        match i.input.kind {
            InputKind::Attachment(a) => {
                assert_eq!(a.kind, AttachmentKind::Photo);
                assert_eq!(a.reference, "big");
            }
            other => panic!("{other:?}"),
        }
        let voice = json!({"voice": {"file_id": "v1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}});
        let i = dialog(convert(&message(13, 55, voice), 0, 1));
        match i.input.kind {
            InputKind::Attachment(a) => {
                assert_eq!(a.kind, AttachmentKind::Voice);
                assert_eq!(a.reference, "v1");
                assert_eq!(a.mime.as_deref(), Some("audio/ogg"));
            }
            other => panic!("{other:?}"),
        }
        let loc = json!({"location": {"latitude": -6.9, "longitude": 109.67}});
        let i = dialog(convert(&message(14, 55, loc), 0, 1));
        assert_eq!(
            i.input.kind,
            InputKind::Location {
                latitude: -6.9,
                longitude: 109.67
            }
        );
        let sticker = json!({"sticker": {"file_id": "st", "file_unique_id": "st", "width": 1, "height": 1,
            "is_animated": false, "is_video": false, "type": "regular"}});
        let i = dialog(convert(&message(15, 55, sticker), 0, 1));
        assert_eq!(i.input.kind, InputKind::Unsupported);
    }

    #[test]
    fn callback_is_a_choice_and_is_answered() {
        let u = update(json!({"update_id": 20, "callback_query": {
            "id": "cb1", "chat_instance": "x", "data": "main/start/1",
            "from": {"id": 55, "is_bot": false, "first_name": "Siti", "language_code": "jv"},
            "message": {"message_id": 3, "date": 1, "chat": {"id": 55, "type": "private"}, "text": "menu"}
        }}));
        let c = convert(&u, 0, 99);
        assert_eq!(c.callback, Some(CallbackQueryId("cb1".into())));
        let i = dialog(c);
        assert_eq!(i.input.kind, InputKind::Choice("main/start/1".into()));
        assert_eq!(i.input.at, 99);
        assert_eq!(i.lang_hint, Some(Lang::Jv));
    }

    #[test]
    fn staff_chat_groups_and_unknown_kinds_are_not_dialog_input() {
        let u = update(json!({"update_id": 30, "message": {
            "message_id": 1, "date": 1, "text": "/kasus PKL-1",
            "chat": {"id": -100, "type": "supergroup", "title": "Staf"},
            "from": {"id": 77, "is_bot": false, "first_name": "Petugas"}
        }}));
        let c = convert(&u, -100, 1);
        assert!(
            matches!(&c.action, Action::Staff { from, text } if from == "77" && text == "/kasus PKL-1")
        );
        // The same group message without a staff chat configured is skipped.
        assert!(matches!(
            convert(&u, 0, 1).action,
            Action::Skip("not_private_chat")
        ));
        let poll = update(
            json!({"update_id": 31, "poll_answer": {"poll_id": "p", "option_ids": [0],
            "user": {"id": 5, "is_bot": false, "first_name": "A"}}}),
        );
        assert!(matches!(convert(&poll, 0, 1).action, Action::Skip(_)));
        let weird = update(json!({"update_id": 32, "brand_new_kind": {"x": 1}}));
        let c = convert(&weird, 0, 1);
        assert_eq!(c.update_id, 32);
        assert!(matches!(c.action, Action::Skip(_)));
    }
}
