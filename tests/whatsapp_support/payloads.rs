//! Webhook bodies in the shape of the examples in Meta's WhatsApp Cloud API documentation
//! (`messages` webhook reference: text, interactive button/list replies, image, audio, location,
//! unsupported, statuses), with the ids and timestamps a test needs filled in.

#![allow(dead_code)]

use serde_json::{Value, json};

pub const WABA_ID: &str = "102290129340398";

/// The envelope around one `value` of the `messages` field.
pub fn notification(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [ { "value": value, "field": "messages" } ]
            }
        ]
    })
}

fn metadata() -> Value {
    json!({ "display_phone_number": "15550783881", "phone_number_id": "106540352242922" })
}

fn contact(wa_id: &str) -> Value {
    json!({ "profile": { "name": "Sheena Nelson" }, "wa_id": wa_id })
}

/// A `value` carrying these messages from these senders.
pub fn messages_value(contacts: &[&str], messages: Vec<Value>) -> Value {
    value_with(contacts.iter().map(|c| contact(c)).collect(), messages)
}

/// A `value` with these contact entries and messages as they are (for unusual senders).
pub fn value_with(contacts: Vec<Value>, messages: Vec<Value>) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": contacts,
        "messages": messages
    })
}

/// One message: the fields every message has (`from`, `id`, `timestamp`, `type`) and `fields`,
/// an object holding what its type adds.
pub fn message(from: &str, wamid: &str, ts: u64, kind: &str, fields: Value) -> Value {
    let common = json!({
        "from": from,
        "id": wamid,
        "timestamp": ts.to_string(),
        "type": kind
    });
    with_fields(common, fields)
}

/// `base` (an object) with the entries of `fields` (an object) added.
fn with_fields(mut base: Value, fields: Value) -> Value {
    if let (Some(base), Value::Object(fields)) = (base.as_object_mut(), fields) {
        base.extend(fields);
    }
    base
}

/// A notification carrying one message from `from`.
fn single(from: &str, wamid: &str, ts: u64, kind: &str, fields: Value) -> Value {
    notification(messages_value(
        &[from],
        vec![message(from, wamid, ts, kind, fields)],
    ))
}

/// What a tap on an interactive message we sent refers back to.
fn context() -> Value {
    json!({
        "from": "15550783881",
        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
    })
}

pub fn text_message(from: &str, wamid: &str, ts: u64, body: &str) -> Value {
    message(from, wamid, ts, "text", json!({ "text": { "body": body } }))
}

pub fn text(from: &str, wamid: &str, ts: u64, body: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![text_message(from, wamid, ts, body)],
    ))
}

pub fn button_reply(from: &str, wamid: &str, ts: u64, id: &str, title: &str) -> Value {
    let interactive = json!({
        "type": "button_reply",
        "button_reply": { "id": id, "title": title }
    });
    let fields = json!({ "context": context(), "interactive": interactive });
    single(from, wamid, ts, "interactive", fields)
}

pub fn list_reply(from: &str, wamid: &str, ts: u64, id: &str, title: &str) -> Value {
    let interactive = json!({
        "type": "list_reply",
        "list_reply": { "id": id, "title": title, "description": "Next Day to 2 Days" }
    });
    let fields = json!({ "context": context(), "interactive": interactive });
    single(from, wamid, ts, "interactive", fields)
}

pub fn image(from: &str, wamid: &str, ts: u64, media_id: &str) -> Value {
    let image = json!({
        "caption": "foto paspor",
        "mime_type": "image/jpeg",
        "sha256": "ilNNsA6tBzOkMXRjpfzCwdtIfhH4jcxITn7B2HLbI8A=",
        "id": media_id
    });
    single(from, wamid, ts, "image", json!({ "image": image }))
}

pub fn voice(from: &str, wamid: &str, ts: u64, media_id: &str) -> Value {
    let audio = json!({
        "mime_type": "audio/ogg; codecs=opus",
        "sha256": "2W3H2VF0bOqTsLPSI6dIhZlWrnmRC1NOnG2AIlgiUBo=",
        "id": media_id,
        "voice": true
    });
    single(from, wamid, ts, "audio", json!({ "audio": audio }))
}

pub fn location(from: &str, wamid: &str, ts: u64) -> Value {
    let location = json!({
        "address": "Jl. Sriwijaya No.44, Pekalongan",
        "latitude": -6.8886,
        "longitude": 109.6753,
        "name": "Dinperinaker Kota Pekalongan",
        "url": "https://pekalongankota.go.id/"
    });
    single(from, wamid, ts, "location", json!({ "location": location }))
}

/// What Meta sends for a message type the Cloud API does not support.
pub fn unsupported(from: &str, wamid: &str, ts: u64) -> Value {
    let errors = json!([
        {
            "code": 131051,
            "details": "Message type is not currently supported",
            "title": "Unsupported message type"
        }
    ]);
    single(from, wamid, ts, "unsupported", json!({ "errors": errors }))
}

pub fn sticker(from: &str, wamid: &str, ts: u64) -> Value {
    let sticker = json!({
        "mime_type": "image/webp",
        "sha256": "Wkv1kSHyRBj4w3wmk3mSkmIyD+w5QvJB+DT2K7UXyBE=",
        "id": "1017744690143546",
        "animated": false
    });
    single(from, wamid, ts, "sticker", json!({ "sticker": sticker }))
}

/// A notification with one status of a message we sent: the fields every status has and `fields`.
fn single_status(wamid: &str, recipient: &str, status: &str, ts: u64, fields: Value) -> Value {
    let common = json!({
        "id": wamid,
        "status": status,
        "timestamp": ts.to_string(),
        "recipient_id": recipient
    });
    let entry = with_fields(common, fields);
    notification(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [entry]
    }))
}

/// A status update for a message we sent.
pub fn status(wamid: &str, recipient: &str, status: &str, ts: u64) -> Value {
    let fields = json!({
        "conversation": {
            "id": "6ceb9d929c9f3d2f2c9ad1d3f5b0a7a8",
            "origin": { "type": "service" }
        },
        "pricing": {
            "billable": false,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service"
        }
    });
    single_status(wamid, recipient, status, ts, fields)
}

/// A `failed` status: the message could not be delivered.
pub fn failed_status(wamid: &str, recipient: &str, code: i64, title: &str, ts: u64) -> Value {
    let errors = json!([
        {
            "code": code,
            "title": title,
            "message": title,
            "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." },
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
        }
    ]);
    single_status(wamid, recipient, "failed", ts, json!({ "errors": errors }))
}
