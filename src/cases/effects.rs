//! [`CaseEffects`]: the engine's [`EffectHandler`] for reports. It runs inside the engine's commit, so
//! everything it writes lands in the same atomic batch and flush as the replies of the step.
//!
//! - `OpenCase`: stores the case (opening record, reporter index, first event), announces it to the
//!   staff chat (code, priority, category, country; nothing personal). A code that already exists, on
//!   disk or earlier in the same batch, fails the commit: nothing is acknowledged and nothing is
//!   overwritten.
//! - `Emergency`: raises the priority of the case the conversation is about (and tells the staff chat
//!   when it becomes P1): during a report intake (`intake_flows` in `_cases.yaml`) that is the report
//!   being taken, even when the reporter has an older case; otherwise the case just filed or looked up
//!   (`case_code`), else the reporter's newest open case. With no case yet, the emergency is remembered
//!   (`cp:` record) and applied when the case is opened. It never fails the intake for a reason of its own.
//! - `AppendToCase`: adds the reporter's message and attachments to their case.
//!
//! Invariant: never logs a field, a name, a number or message text; only codes, kinds and priorities.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::actions::initial_priority;
use super::contacts::Contacts;
use super::texts::CaseTexts;
use super::{
    Case, CaseError, CaseRecord, Event, EventKind, PendingEmergency, Priority, announcement,
    open_case_of, staff_chat,
};
use crate::config::Config;
use crate::dialog::{Effect, Reply};
use crate::engine::{EffectContext, EffectHandler, EngineError, Outgoing};
use crate::storage::{OutboxKind, UserKey};

/// An emergency remembered for a case not yet opened is applied if the case follows within this time.
pub const PENDING_EMERGENCY_SECS: u64 = 24 * 3600;

pub struct CaseEffects {
    config: Config,
    texts: Arc<CaseTexts>,
    contacts: Arc<Contacts>,
    /// Emergency category → priority, from `dialogs/_emergency.yaml`; an unknown category is P1.
    emergency: BTreeMap<String, Priority>,
    /// State of writes not yet visible in the store (they sit in the engine's current batch).
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    /// Codes this handler wrote: guards against a duplicate within one batch.
    codes: HashSet<String>,
    /// The case each reporter opened last, with its priority, for an emergency in the same batch.
    opened: HashMap<UserKey, (String, Priority)>,
    /// Emergencies not yet attached to a case.
    pending: HashMap<UserKey, PendingEmergency>,
}

#[derive(Deserialize)]
struct EmergencyFile {
    #[serde(default)]
    categories: Vec<EmergencyCategory>,
}

#[derive(Deserialize)]
struct EmergencyCategory {
    name: String,
    #[serde(default)]
    priority: Option<String>,
}

impl CaseEffects {
    /// Loads `_cases.yaml`, `_emergency.yaml` (optional) and the contacts file named in `config`.
    pub fn new(config: &Config) -> Result<CaseEffects, CaseError> {
        let texts = Arc::new(CaseTexts::load(config)?);
        let contacts = Arc::new(Contacts::load(&config.cases.contacts_file)?);
        let path = config.dialogs.dir.join("_emergency.yaml");
        let emergency = match std::fs::read_to_string(&path) {
            Ok(text) => {
                // The dialog checker reports a broken file; here it only means "every category is
                // P1", which never under-rates an emergency.
                let file: EmergencyFile = serde_saphyr::from_str(&text).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "_emergency.yaml unreadable: emergencies count as P1");
                    EmergencyFile {
                        categories: Vec::new(),
                    }
                });
                file.categories
                    .into_iter()
                    .map(|c| {
                        let p = c
                            .priority
                            .as_deref()
                            .and_then(|p| Priority::parse(p).ok())
                            .unwrap_or(Priority::P1);
                        (c.name, p)
                    })
                    .collect()
            }
            Err(_) => BTreeMap::new(),
        };
        Ok(CaseEffects {
            config: config.clone(),
            texts,
            contacts,
            emergency,
            recent: Mutex::new(Recent::default()),
        })
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        match self.recent.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn notify_staff(&self, ctx: &mut EffectContext<'_>, code: &str, text: String) -> bool {
        let Some(staff) = staff_chat(&self.config) else {
            return false;
        };
        ctx.outgoing.push(Outgoing {
            user: staff,
            reply: Reply {
                text,
                choices: Vec::new(),
            },
            kind: OutboxKind::Update {
                case: code.to_string(),
            },
        });
        true
    }

    fn event(
        &self,
        ctx: &mut EffectContext<'_>,
        code: &str,
        actor: &str,
        kind: EventKind,
    ) -> Result<(), EngineError> {
        let seq = ctx.store.next_seq()?;
        let event = Event {
            at: ctx.now,
            actor: actor.to_string(),
            kind,
        };
        ctx.batch.put_case_event(code, seq, &event)?;
        Ok(())
    }

    fn open(
        &self,
        ctx: &mut EffectContext<'_>,
        code: &str,
        fields: &BTreeMap<String, String>,
        attachments: &[crate::dialog::Attachment],
    ) -> Result<(), EngineError> {
        if self.recent().codes.contains(code) || ctx.store.case_code_taken(code)? {
            tracing::error!(case = %code, "ticket code already taken; the commit is refused");
            return Err(EngineError::Commit(format!(
                "case code {code} already exists"
            )));
        }
        let pending = match self.recent().pending.remove(ctx.user) {
            Some(p) => Some(p),
            None => ctx.store.pending_emergency(ctx.user)?,
        }
        .filter(|p| ctx.now.saturating_sub(p.at) <= PENDING_EMERGENCY_SECS);
        let (priority, reason) = initial_priority(&self.texts, fields, pending.as_ref());
        let country = fields
            .get("negara")
            .and_then(|n| self.contacts.country(n))
            .or_else(|| fields.get("kota").and_then(|k| self.contacts.country(k)))
            .map(|c| c.key.clone())
            .unwrap_or_default();
        let category = fields
            .get("kategori")
            .filter(|k| self.texts.category(k).is_some())
            .cloned()
            .unwrap_or_else(|| "umum".into());
        let record = CaseRecord {
            code: code.to_string(),
            reporter: ctx.user.clone(),
            lang: ctx.session.lang,
            opened_at: ctx.now,
            category,
            country,
            priority,
            share_consent: fields.get("izin").map(String::as_str) == Some("bagi"),
            fields: fields.clone(),
            attachments: attachments.to_vec(),
        };
        ctx.batch.put_case(&record)?;
        ctx.batch.remove_pending_emergency(ctx.user);
        self.event(
            ctx,
            code,
            "reporter",
            EventKind::Opened {
                priority,
                reason: reason.clone(),
            },
        )?;
        let case = Case::fold(record, Vec::new());
        if self.notify_staff(
            ctx,
            code,
            announcement(&case, &self.config, &self.texts, false),
        ) {
            self.event(
                ctx,
                code,
                "system",
                EventKind::StaffNotified { reminder: false },
            )?;
        }
        let mut recent = self.recent();
        recent.codes.insert(code.to_string());
        recent
            .opened
            .insert(ctx.user.clone(), (code.to_string(), priority));
        tracing::info!(case = %code, priority = priority.as_str(), %reason, "case opened");
        Ok(())
    }

    fn emergency(&self, ctx: &mut EffectContext<'_>, category: &str) -> Result<(), EngineError> {
        let priority = self
            .emergency
            .get(category)
            .copied()
            .unwrap_or(Priority::P1);
        // The case the conversation is about. A report being taken is a new case: the emergency waits
        // for it, whatever the reporter filed before. Otherwise the case just filed or looked up in
        // this conversation (`case_code`), else the reporter's newest open case, on disk or opened
        // earlier in this very batch.
        let in_intake = ctx
            .session
            .position
            .as_ref()
            .is_some_and(|p| self.texts.intake_flows.contains(&p.flow));
        let named = ctx
            .session
            .vars
            .get("case_code")
            .filter(|_| !in_intake)
            .map(|code| super::load(ctx.store, code))
            .transpose()
            .ok()
            .flatten()
            .flatten()
            .filter(|case| case.record.reporter == *ctx.user && case.status.is_open())
            .map(|case| (case.code().to_string(), case.priority));
        let open = if in_intake {
            None
        } else if named.is_some() {
            named
        } else {
            match open_case_of(ctx.store, ctx.user) {
                Ok(Some(case)) => Some((case.code().to_string(), case.priority)),
                Ok(None) => None,
                Err(CaseError::Storage(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the reporter's case");
                    None
                }
            }
            .or_else(|| self.recent().opened.get(ctx.user).cloned())
        };
        let Some((code, current)) = open else {
            // No case yet (the emergency came during the intake): remember it for the case.
            let keep = {
                let mut recent = self.recent();
                let earlier = match recent.pending.get(ctx.user) {
                    Some(p) => Some(p.clone()),
                    None => ctx.store.pending_emergency(ctx.user)?,
                };
                let keep = match earlier {
                    Some(e) if e.priority <= priority => e,
                    _ => PendingEmergency {
                        category: category.to_string(),
                        priority,
                        at: ctx.now,
                    },
                };
                let now = ctx.now;
                recent
                    .pending
                    .retain(|_, p| now.saturating_sub(p.at) <= PENDING_EMERGENCY_SECS);
                recent.pending.insert(ctx.user.clone(), keep.clone());
                keep
            };
            ctx.batch.put_pending_emergency(ctx.user, &keep)?;
            tracing::info!(
                priority = priority.as_str(),
                "emergency before a case: remembered"
            );
            return Ok(());
        };
        self.event(
            ctx,
            &code,
            "reporter",
            EventKind::Emergency {
                category: category.to_string(),
            },
        )?;
        if priority < current {
            self.event(
                ctx,
                &code,
                "system",
                EventKind::PriorityChanged {
                    from: current,
                    to: priority,
                    reason: super::texts::fill(
                        &self.texts.staff.reason_emergency,
                        &[("category", self.texts.emergency_words(category))],
                    ),
                },
            )?;
            if let Some(entry) = self.recent().opened.get_mut(ctx.user)
                && entry.0 == code
            {
                entry.1 = priority;
            }
            let text = super::texts::fill(
                &self.texts.staff.raised,
                &[
                    ("code", &code),
                    ("from", current.as_str()),
                    ("to", priority.as_str()),
                    ("category", self.texts.emergency_words(category)),
                ],
            );
            self.notify_staff(ctx, &code, text);
            tracing::info!(case = %code, priority = priority.as_str(), "case priority raised");
        }
        Ok(())
    }

    fn append(
        &self,
        ctx: &mut EffectContext<'_>,
        code: &str,
        text: &Option<String>,
        attachments: &[crate::dialog::Attachment],
    ) -> Result<(), EngineError> {
        let owner = ctx.store.case_record(code)?.map(|r| r.reporter);
        if owner.as_ref() != Some(ctx.user) {
            // Only the reporter's own case, and only one that exists; never fail the reply for it.
            tracing::warn!(case = %code, "append to a case that is not the sender's: ignored");
            return Ok(());
        }
        self.event(
            ctx,
            code,
            "reporter",
            EventKind::ReporterMessage {
                text: text.clone(),
                attachments: attachments.to_vec(),
            },
        )?;
        let note = super::texts::fill(
            &self.texts.staff.new_info,
            &[("code", code), ("n", &attachments.len().to_string())],
        );
        self.notify_staff(ctx, code, note);
        Ok(())
    }
}

/// The handler used when cases cannot be loaded: it refuses to open a case (so the commit fails and no
/// code is ever shown) and lets everything else through.
pub struct Unavailable;

impl EffectHandler for Unavailable {
    fn apply(&self, effect: &Effect, _ctx: &mut EffectContext<'_>) -> Result<(), EngineError> {
        match effect {
            Effect::OpenCase { .. } | Effect::AppendToCase { .. } => Err(EngineError::Commit(
                "cases are not available (see the startup log)".into(),
            )),
            _ => Ok(()),
        }
    }
}

impl EffectHandler for CaseEffects {
    fn apply(&self, effect: &Effect, ctx: &mut EffectContext<'_>) -> Result<(), EngineError> {
        match effect {
            Effect::OpenCase {
                code,
                fields,
                attachments,
            } => self.open(ctx, code, fields, attachments),
            Effect::AppendToCase {
                code,
                text,
                attachments,
            } => self.append(ctx, code, text, attachments),
            Effect::Emergency { category } => self.emergency(ctx, category),
            Effect::Handoff { .. } => {
                tracing::debug!("handoff effect: not a case matter");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cases::fixture;
    use crate::cases::{Status, load};
    use crate::dialog::Session;
    use crate::storage::{Channel, Store, WriteBatch};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        effects: CaseEffects,
    }

    fn fixture() -> Fixture {
        let (dir, store) = fixture::temp_store();
        let mut config = fixture::shipped_config();
        config.telegram.staff_chat_id = -100;
        Fixture {
            _dir: dir,
            store,
            effects: CaseEffects::new(&config).unwrap(),
        }
    }

    /// Applies effects as the engine does: one batch, then apply.
    fn apply(f: &Fixture, user: &UserKey, effects: &[Effect]) -> Result<Vec<Outgoing>, String> {
        apply_in(f, user, &Session::default(), effects)
    }

    /// [`apply`] with the session the step left (where the conversation stands).
    fn apply_in(
        f: &Fixture,
        user: &UserKey,
        session: &Session,
        effects: &[Effect],
    ) -> Result<Vec<Outgoing>, String> {
        let mut batch = WriteBatch::default();
        let mut outgoing = Vec::new();
        for effect in effects {
            let mut ctx = EffectContext {
                store: &f.store,
                batch: &mut batch,
                user,
                session,
                now: 1_000,
                outgoing: &mut outgoing,
            };
            f.effects
                .apply(effect, &mut ctx)
                .map_err(|e| e.to_string())?;
        }
        f.store.apply(batch).unwrap();
        Ok(outgoing)
    }

    fn open(code: &str, fields: &[(&str, &str)]) -> Effect {
        Effect::OpenCase {
            code: code.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            attachments: vec![],
        }
    }

    #[test]
    fn a_case_is_stored_and_announced_without_personal_data() {
        let f = fixture();
        let user = UserKey::new(Channel::Whatsapp, "6281234567890");
        let out = apply(
            &f,
            &user,
            &[open(
                "PKL-7KQ2MX",
                &[
                    ("kategori", "gaji"),
                    ("negara", "Malaysia"),
                    ("nama_pmi", "Siti Aminah"),
                    ("cerita", "majikan tidak bayar, hp 0812345"),
                    ("izin", "bagi"),
                ],
            )],
        )
        .unwrap();
        let case = load(&f.store, "PKL-7KQ2MX").unwrap().unwrap();
        assert_eq!(case.status, Status::New);
        assert_eq!(case.priority, Priority::P3);
        assert_eq!(case.record.country, "malaysia");
        assert!(case.record.share_consent);
        assert_eq!(case.record.reporter, user);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].user, UserKey::new(Channel::Telegram, "-100"));
        let text = &out[0].reply.text;
        assert!(text.contains("PKL-7KQ2MX") && text.contains("P3") && text.contains("gaji"));
        for secret in ["Siti", "0812", "6281234567890", "majikan"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn a_taken_code_fails_the_commit_on_disk_and_within_a_batch() {
        let f = fixture();
        let user = UserKey::new(Channel::Telegram, "5");
        let twice = apply(
            &f,
            &user,
            &[open("PKL-22222A", &[]), open("PKL-22222A", &[])],
        );
        assert!(twice.unwrap_err().contains("already exists"));
        apply(&f, &user, &[open("PKL-33333B", &[])]).unwrap();
        let again = apply(&f, &user, &[open("PKL-33333B", &[("kategori", "gaji")])]);
        assert!(again.is_err());
        // The first record is intact.
        let case = load(&f.store, "PKL-33333B").unwrap().unwrap();
        assert_eq!(case.record.category, "umum");
    }

    #[test]
    fn an_emergency_during_intake_makes_the_new_case_p1() {
        let f = fixture();
        let user = UserKey::new(Channel::Whatsapp, "1");
        apply(
            &f,
            &user,
            &[Effect::Emergency {
                category: "kekerasan".into(),
            }],
        )
        .unwrap();
        assert!(f.store.pending_emergency(&user).unwrap().is_some());
        apply(&f, &user, &[open("PKL-44444C", &[("kategori", "gaji")])]).unwrap();
        let case = load(&f.store, "PKL-44444C").unwrap().unwrap();
        assert_eq!(case.priority, Priority::P1);
        assert!(f.store.pending_emergency(&user).unwrap().is_none());
    }

    #[test]
    fn emergency_words_in_a_new_report_raise_that_report_not_the_older_case() {
        let f = fixture();
        let user = UserKey::new(Channel::Telegram, "77");
        apply(&f, &user, &[open("PKL-66666E", &[("kategori", "gaji")])]).unwrap();
        // "paspor saya ditahan agen, gaji dipotong terus" started a new report (the intake flow).
        let mut session = Session {
            position: Some(crate::dialog::Position::new("lapor", "pelapor")),
            ..Session::default()
        };
        let emergency = Effect::Emergency {
            category: "dokumen_ditahan".into(),
        };
        let out = apply_in(&f, &user, &session, std::slice::from_ref(&emergency)).unwrap();
        assert!(out.is_empty(), "{out:?}");
        let old = load(&f.store, "PKL-66666E").unwrap().unwrap();
        assert_eq!(old.priority, Priority::P3);
        assert!(
            !old.timeline
                .iter()
                .any(|e| matches!(e.kind, EventKind::Emergency { .. })),
            "{:?}",
            old.timeline
        );
        // It waits for the report being taken, and goes with it when it is sent.
        assert!(f.store.pending_emergency(&user).unwrap().is_some());
        apply(&f, &user, &[open("PKL-77777F", &[("kategori", "gaji")])]).unwrap();
        let new = load(&f.store, "PKL-77777F").unwrap().unwrap();
        assert!(new.priority < Priority::P3, "{:?}", new.priority);
        // Outside an intake, the case the conversation is about (just looked up) is the one raised.
        session.position = None;
        session.vars.insert("case_code".into(), "PKL-66666E".into());
        apply_in(&f, &user, &session, &[emergency]).unwrap();
        let old = load(&f.store, "PKL-66666E").unwrap().unwrap();
        assert!(old.priority < Priority::P3);
    }

    #[test]
    fn an_emergency_after_opening_raises_the_open_case_and_tells_staff() {
        let f = fixture();
        let user = UserKey::new(Channel::Whatsapp, "2");
        apply(&f, &user, &[open("PKL-55555D", &[("kategori", "gaji")])]).unwrap();
        let out = apply(
            &f,
            &user,
            &[Effect::Emergency {
                category: "meninggal".into(),
            }],
        )
        .unwrap();
        let case = load(&f.store, "PKL-55555D").unwrap().unwrap();
        assert_eq!(case.priority, Priority::P1);
        assert!(out[0].reply.text.contains("P3 → P1"), "{:?}", out);
        // Someone else's emergency leaves the case alone.
        let other = UserKey::new(Channel::Whatsapp, "3");
        apply(
            &f,
            &other,
            &[Effect::AppendToCase {
                code: "PKL-55555D".into(),
                text: Some("bukan saya".into()),
                attachments: vec![],
            }],
        )
        .unwrap();
        let case = load(&f.store, "PKL-55555D").unwrap().unwrap();
        assert!(!case.timeline.iter().any(|e| matches!(
            &e.kind,
            EventKind::ReporterMessage { text: Some(t), .. } if t == "bukan saya"
        )));
    }
}
