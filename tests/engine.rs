//! The engine's promises: a message handled once however often it arrives, a group commit that keeps
//! each user's order, and nothing acknowledged lost when the process goes away.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, RwLock};

use pandu::dialog::{Actions, Input, InputKind, load_dir};
use pandu::engine::{Engine, EngineConfig, IgnoreEffects, Inbound};
use pandu::storage::{Channel, DEFAULT_CACHE_BYTES, Store, UserKey};

fn write_dialogs(dir: &std::path::Path) {
    std::fs::write(dir.join("_bot.yaml"), include_str!("fixtures/_bot.yaml")).unwrap();
    std::fs::write(
        dir.join("main.yaml"),
        r#"
flow: main
nodes:
  start:
    ask: { id: "Nama?", en: "Name?" }
    save: nama
    next: halo
  halo:
    say: { id: "Halo {nama}.", en: "Hello {nama}." }
"#,
    )
    .unwrap();
}

fn start(store: &Store, dialogs: &std::path::Path) -> (Engine, tokio::task::JoinHandle<()>) {
    let actions = Actions::new();
    let (bot, _) = load_dir(dialogs, &actions).unwrap();
    Engine::start(
        store.clone(),
        Arc::new(RwLock::new(Arc::new(bot))),
        actions,
        Arc::new(IgnoreEffects),
        EngineConfig {
            idle_secs: 3600,
            max_batch: 64,
        },
    )
}

fn text(user: &UserKey, id: &str, text: &str) -> Inbound {
    Inbound {
        user: user.clone(),
        message_id: id.into(),
        input: Input {
            kind: InputKind::Text(text.into()),
            at: 0,
        },
        lang_hint: None,
    }
}

#[tokio::test]
async fn a_message_delivered_twice_is_answered_once() {
    let data = tempfile::tempdir().unwrap();
    let dialogs = tempfile::tempdir().unwrap();
    write_dialogs(dialogs.path());
    let store = Store::open(data.path(), DEFAULT_CACHE_BYTES).unwrap();
    let (engine, _writer) = start(&store, dialogs.path());
    let user = UserKey::new(Channel::Telegram, "1");
    let first = engine.handle(text(&user, "u-1", "hai")).await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.replies.len(), 1);
    let again = engine.handle(text(&user, "u-1", "hai")).await.unwrap();
    assert!(again.duplicate);
    assert!(again.replies.is_empty());
    // Twice inside one batch, too.
    let acks = engine
        .handle_batch(
            vec![text(&user, "u-2", "Siti"), text(&user, "u-2", "Siti")],
            vec![],
        )
        .await
        .unwrap();
    assert!(!acks[0].duplicate && acks[1].duplicate);
    assert_eq!(
        store.outbox_pending(Channel::Telegram, 100).unwrap().len(),
        2
    );
}

#[tokio::test]
async fn messages_of_one_user_in_one_batch_see_each_other() {
    let data = tempfile::tempdir().unwrap();
    let dialogs = tempfile::tempdir().unwrap();
    write_dialogs(dialogs.path());
    let store = Store::open(data.path(), DEFAULT_CACHE_BYTES).unwrap();
    let (engine, _writer) = start(&store, dialogs.path());
    let user = UserKey::new(Channel::Whatsapp, "62");
    let acks = engine
        .handle_batch(
            vec![text(&user, "a", "hai"), text(&user, "b", "Siti")],
            vec![("poller.offset".into(), b"7".to_vec())],
        )
        .await
        .unwrap();
    assert_eq!(acks[0].replies[0].reply.text, "Nama?");
    assert!(acks[1].replies[0].reply.text.starts_with("Halo Siti."));
    assert!(
        acks[0].replies[0].seq < acks[1].replies[0].seq,
        "the outbox keeps arrival order"
    );
    assert_eq!(store.meta("poller.offset").unwrap(), Some(b"7".to_vec()));
}

#[tokio::test]
async fn everything_acknowledged_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dialogs = tempfile::tempdir().unwrap();
    write_dialogs(dialogs.path());
    let user = UserKey::new(Channel::Telegram, "9");
    {
        let store = Store::open(data.path(), DEFAULT_CACHE_BYTES).unwrap();
        let (engine, writer) = start(&store, dialogs.path());
        engine.handle(text(&user, "1", "hai")).await.unwrap();
        // Abort the writer instead of a clean stop: what was acknowledged must already be on disk.
        writer.abort();
        let _ = writer.await;
        drop(engine);
    }
    let store = Store::open(data.path(), DEFAULT_CACHE_BYTES).unwrap();
    assert!(store.seen(Channel::Telegram, "1").unwrap());
    assert_eq!(
        store.outbox_pending(Channel::Telegram, 10).unwrap().len(),
        1
    );
    let (engine, _writer) = start(&store, dialogs.path());
    let ack = engine.handle(text(&user, "2", "Budi")).await.unwrap();
    assert!(
        ack.replies[0].reply.text.starts_with("Halo Budi."),
        "the session resumed"
    );
}

#[tokio::test]
async fn bot_initiated_messages_are_queued_durably_in_order() {
    let data = tempfile::tempdir().unwrap();
    let dialogs = tempfile::tempdir().unwrap();
    write_dialogs(dialogs.path());
    let store = Store::open(data.path(), DEFAULT_CACHE_BYTES).unwrap();
    let (engine, _writer) = start(&store, dialogs.path());
    let user = UserKey::new(Channel::Whatsapp, "1");
    let entries = engine
        .send(
            ["satu", "dua"]
                .iter()
                .map(|t| pandu::engine::Outgoing {
                    user: user.clone(),
                    reply: pandu::dialog::Reply {
                        text: t.to_string(),
                        choices: vec![],
                    },
                    kind: pandu::storage::OutboxKind::Update {
                        case: "PKL-X".into(),
                    },
                })
                .collect(),
        )
        .await
        .unwrap();
    let pending = store.outbox_for(&user).unwrap();
    assert_eq!(pending, entries);
    assert_eq!(pending[0].reply.text, "satu");
}
