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
    json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": contacts.iter().map(|c| contact(c)).collect::<Vec<_>>(),
        "messages": messages
    })
}

pub fn text_message(from: &str, wamid: &str, ts: u64, body: &str) -> Value {
    json!({
        "from": from,
        "id": wamid,
        "timestamp": ts.to_string(),
        "type": "text",
        "text": { "body": body }
    })
}

pub fn text(from: &str, wamid: &str, ts: u64, body: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![text_message(from, wamid, ts, body)],
    ))
}

pub fn button_reply(from: &str, wamid: &str, ts: u64, id: &str, title: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "context": {
                "from": "15550783881",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
            },
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": { "id": id, "title": title }
            }
        })],
    ))
}

pub fn list_reply(from: &str, wamid: &str, ts: u64, id: &str, title: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "context": {
                "from": "15550783881",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
            },
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": { "id": id, "title": title, "description": "Next Day to 2 Days" }
            }
        })],
    ))
}

pub fn image(from: &str, wamid: &str, ts: u64, media_id: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "type": "image",
            "image": {
                "caption": "foto paspor",
                "mime_type": "image/jpeg",
                "sha256": "ilNNsA6tBzOkMXRjpfzCwdtIfhH4jcxITn7B2HLbI8A=",
                "id": media_id
            }
        })],
    ))
}

pub fn voice(from: &str, wamid: &str, ts: u64, media_id: &str) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "type": "audio",
            "audio": {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "2W3H2VF0bOqTsLPSI6dIhZlWrnmRC1NOnG2AIlgiUBo=",
                "id": media_id,
                "voice": true
            }
        })],
    ))
}

pub fn location(from: &str, wamid: &str, ts: u64) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "location": {
                "address": "Jl. Sriwijaya No.44, Pekalongan",
                "latitude": -6.8886,
                "longitude": 109.6753,
                "name": "Dinperinaker Kota Pekalongan",
                "url": "https://pekalongankota.go.id/"
            },
            "type": "location"
        })],
    ))
}

/// What Meta sends for a message type the Cloud API does not support.
pub fn unsupported(from: &str, wamid: &str, ts: u64) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "errors": [
                {
                    "code": 131051,
                    "details": "Message type is not currently supported",
                    "title": "Unsupported message type"
                }
            ],
            "type": "unsupported"
        })],
    ))
}

pub fn sticker(from: &str, wamid: &str, ts: u64) -> Value {
    notification(messages_value(
        &[from],
        vec![json!({
            "from": from,
            "id": wamid,
            "timestamp": ts.to_string(),
            "type": "sticker",
            "sticker": {
                "mime_type": "image/webp",
                "sha256": "Wkv1kSHyRBj4w3wmk3mSkmIyD+w5QvJB+DT2K7UXyBE=",
                "id": "1017744690143546",
                "animated": false
            }
        })],
    ))
}

/// A status update for a message we sent.
pub fn status(wamid: &str, recipient: &str, status: &str, ts: u64) -> Value {
    notification(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [
            {
                "id": wamid,
                "status": status,
                "timestamp": ts.to_string(),
                "recipient_id": recipient,
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
            }
        ]
    }))
}

/// A `failed` status: the message could not be delivered.
pub fn failed_status(wamid: &str, recipient: &str, code: i64, title: &str, ts: u64) -> Value {
    notification(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [
            {
                "id": wamid,
                "status": "failed",
                "timestamp": ts.to_string(),
                "recipient_id": recipient,
                "errors": [
                    {
                        "code": code,
                        "title": title,
                        "message": title,
                        "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." },
                        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                    }
                ]
            }
        ]
    }))
}
