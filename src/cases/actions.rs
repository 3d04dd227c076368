//! The dialog actions of reports. They only read the store; every write is an [`Effect`] that the
//! engine applies in the commit of the reply (see [`super::effects`]).
//!
//! | action | reads | sets | outcomes |
//! |---|---|---|---|
//! | `case.open` | the intake variables (`izin` must be `bagi` or `dinas`) | `case_code`, `case_target` | `opened`, `no_consent`, `error` |
//! | `case.status` | `kode` | `case_code`, `case_status`, `case_updated`, `staff_message`, `_case_lookups` (kept by `stop`, so it cannot be reset) | `found`, `found_own`, `not_found`, `limited`, `ask` |
//! | `case.status_typed` | `_trigger_text` (the message that opened the flow) | as `case.status` | as `case.status`; `ask` when no code was typed |
//! | `case.append` | `tambahan` | `case_code` | `appended`, `no_case` |
//! | `emergency.contacts` | `negara`, `kota` (optional) | `emergency_contacts` | `ok` |
//! | `case.kategori` | `kategori_teks` | `kategori`, `kategori_label` | `ok`, `unknown` |
//! | `case.kat.<key>` (one per category) | | `kategori`, `kategori_label` | `ok` |
//! | `case.pick.<var>.<value>` (from `picks` in `_cases.yaml`) | | `<var>`, `<var>_label` | `ok` |
//! | `case.story.<field>` (one per `intake_fields` entry; `dialog::actions::StoryTold`) | `<field>` | | `told`, `missing` |
//!
//! Invariants: a code is offered only if the store does not hold it; `case.status` tells another chat
//! the status and nothing else, and stops answering after [`MAX_FAILED_LOOKUPS`] misses an hour.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::contacts::Contacts;
use super::texts::{CaseTexts, fill};
use super::{Case, PendingEmergency, Priority, code};
use crate::config::Config;
use crate::dialog::{Action, ActionCall, ActionResult, Actions, Effect};
use crate::storage::Store;
use crate::time::Date;

/// The most characters of the latest staff message shown in a status answer (`{staff_message}`).
pub const STAFF_MESSAGE_SHOWN: usize = 450;

/// Failed code lookups allowed per user per hour (someone guessing codes).
pub const MAX_FAILED_LOOKUPS: u32 = 5;
const LOOKUP_WINDOW_SECS: u64 = 3600;

/// The variables `case.pick.*` may set, with their `_label` companions (the checker needs them
/// `'static`).
const PICK_VARS: &[(&str, &[&str])] = &[
    ("pelapor", &["pelapor", "pelapor_label"]),
    ("aman", &["aman", "aman_label"]),
    ("izin", &["izin", "izin_label"]),
];

pub(crate) fn register(
    registry: &mut Actions,
    store: Store,
    config: &Config,
    texts: Arc<CaseTexts>,
    contacts: Arc<Contacts>,
) {
    let prefix = config.cases.code_prefix.clone();
    registry.register(
        "case.open",
        Arc::new(OpenCase {
            store: store.clone(),
            prefix: prefix.clone(),
            texts: texts.clone(),
            config: config.clone(),
        }),
    );
    for (name, typed) in [("case.status", false), ("case.status_typed", true)] {
        registry.register(
            name,
            Arc::new(CaseStatus {
                store: store.clone(),
                prefix: prefix.clone(),
                texts: texts.clone(),
                typed,
            }),
        );
    }
    registry.register(
        "case.open_exists",
        Arc::new(OpenCaseExists {
            store: store.clone(),
        }),
    );
    registry.register(
        "case.append",
        Arc::new(AppendToCase {
            store: store.clone(),
        }),
    );
    registry.register("case.agency_from_check", Arc::new(AgencyFromCheck));
    registry.register("case.negara", Arc::new(CountryLabel));
    registry.register(
        "case.negara_told",
        Arc::new(CountryTold {
            contacts: contacts.clone(),
        }),
    );
    registry.register(
        "emergency.contacts",
        Arc::new(EmergencyContacts {
            contacts,
            store: store.clone(),
        }),
    );
    registry.register(
        "case.kategori",
        Arc::new(ClassifyCategory {
            texts: texts.clone(),
        }),
    );
    for category in &texts.categories {
        registry.register(
            &format!("case.kat.{}", category.key),
            Arc::new(PickCategory {
                key: category.key.clone(),
                texts: texts.clone(),
            }),
        );
    }
    // `case.story.<field>`: has the report's story (or another field) been told already?
    for field in &texts.intake_fields {
        registry.register(
            &format!("{}{field}", crate::dialog::runtime::STORY_ACTION),
            Arc::new(crate::dialog::actions::StoryTold::new(field)),
        );
    }
    // `case.known.aman`: is the safety answer known already (a death: "aman: meninggal")? The report
    // then does not ask "is the worker safe now?" (found by playing families, stop 20: asked after
    // "Meninggal dunia"). Not `case.story.aman`: a report's `case.story.*` node names its story.
    registry.register(
        "case.known.aman",
        Arc::new(crate::dialog::actions::StoryTold::with_companions(
            "aman",
            &["aman_label"],
        )),
    );
    for (var, values) in &texts.picks {
        let Some((_, sets)) = PICK_VARS.iter().find(|(v, _)| v == var) else {
            continue; // refused by CaseTexts::load
        };
        for (value, label) in values {
            registry.register(
                &format!("case.pick.{var}.{value}"),
                Arc::new(Pick {
                    var: var.clone(),
                    value: value.clone(),
                    label: label.clone(),
                    sets,
                }),
            );
        }
    }
}

/// The variable names `case.pick.<var>` may use.
pub fn pick_vars() -> impl Iterator<Item = &'static str> {
    PICK_VARS.iter().map(|(v, _)| *v)
}

/// The priority of a new case and why: the category's, raised to P1 when the worker is not safe now,
/// raised by emergency words seen during the intake.
pub fn initial_priority(
    texts: &CaseTexts,
    fields: &BTreeMap<String, String>,
    pending: Option<&PendingEmergency>,
) -> (Priority, String) {
    let category = fields.get("kategori").map(String::as_str).unwrap_or("");
    let mut priority = texts
        .category(category)
        .map(|c| c.priority)
        .unwrap_or(Priority::P4);
    let mut reason = fill(
        &texts.staff.reason_category,
        &[(
            "category",
            if category.is_empty() {
                &texts.staff.unknown
            } else {
                category
            },
        )],
    );
    // Not safe, or nobody knows: both are P1 (the reporter was shown the emergency numbers).
    let safety = match fields.get("aman").map(String::as_str) {
        Some("tidak") => Some(&texts.staff.reason_not_safe),
        Some("tidak_tahu") => Some(&texts.staff.reason_safety_unknown),
        _ => None,
    };
    if let Some(why) = safety
        && priority > Priority::P1
    {
        priority = Priority::P1;
        reason = why.clone();
    }
    if let Some(p) = pending
        && p.priority < priority
    {
        priority = p.priority;
        reason = fill(
            &texts.staff.reason_emergency,
            &[("category", texts.emergency_words(&p.category))],
        );
    }
    (priority, reason)
}

/// `case.open`: picks a free code and asks for the case to be stored with the reply.
struct OpenCase {
    store: Store,
    prefix: String,
    texts: Arc<CaseTexts>,
    config: Config,
}

impl Action for OpenCase {
    fn outcomes(&self) -> &'static [&'static str] {
        &["opened", "no_consent", "error"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["case_code", "case_target"]
    }
    fn reads(&self) -> &'static [&'static str] {
        &["kategori", "cerita"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        // UU 27/2022: no case without the reporter's consent to be contacted (`izin`: `bagi` shares
        // with BP3MI/KP2MI/embassy, `dinas` keeps it within the dinas).
        let consent = call.vars.get("izin").map(String::as_str);
        if !matches!(consent, Some("bagi" | "dinas")) {
            return ActionResult::outcome("no_consent");
        }
        let code = match code::unique(&self.prefix, call.seed, |c| self.store.case_code_taken(c)) {
            Ok(Some(code)) => code,
            Ok(None) => {
                tracing::error!("no free ticket code after many attempts");
                return ActionResult::outcome("error");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check ticket codes");
                return ActionResult::outcome("error");
            }
        };
        let fields: BTreeMap<String, String> = self
            .texts
            .intake_fields
            .iter()
            .filter_map(|name| {
                let value = call.vars.get(name)?.trim();
                (!value.is_empty()).then(|| (name.clone(), value.to_string()))
            })
            .collect();
        let pending = self.store.pending_emergency(call.user).ok().flatten();
        let (priority, _) = initial_priority(&self.texts, &fields, pending.as_ref());
        let target = self
            .texts
            .target(priority.target_hours(&self.config), call.lang);
        ActionResult::outcome("opened")
            .var("case_code", code.clone())
            .var("case_target", target)
            .effect(Effect::OpenCase {
                code,
                fields,
                attachments: call.attachments.to_vec(),
            })
    }
}

/// `case.status`: the status of a case by its code, from any chat; the staff's latest message only in
/// the reporter's own chat.
struct CaseStatus {
    store: Store,
    prefix: String,
    texts: Arc<CaseTexts>,
    /// `case.status_typed`: read the message that opened the flow (`_trigger_text`, consumed), and
    /// answer `ask` when it holds no code; `case.status`: read the answer `kode`.
    typed: bool,
}

impl CaseStatus {
    fn find(&self, typed: &str) -> Result<Option<Case>, super::CaseError> {
        let candidates = code::candidates(&self.prefix, typed);
        // The code as typed wins; otherwise a single look-alike match (two would be a guess).
        if let Some(first) = candidates.first()
            && let Some(case) = super::load(&self.store, first)?
        {
            return Ok(Some(case));
        }
        let mut found = Vec::new();
        for candidate in candidates.iter().skip(1) {
            if let Some(case) = super::load(&self.store, candidate)? {
                found.push(case);
            }
        }
        Ok(if found.len() == 1 { found.pop() } else { None })
    }
}

fn lookups(vars: &BTreeMap<String, String>, now: u64) -> (u32, u64) {
    let parsed = vars.get("_case_lookups").and_then(|v| {
        let (count, start) = v.split_once(':')?;
        Some((count.parse::<u32>().ok()?, start.parse::<u64>().ok()?))
    });
    match parsed {
        Some((count, start)) if now.saturating_sub(start) < LOOKUP_WINDOW_SECS => (count, start),
        _ => (0, now),
    }
}

impl Action for CaseStatus {
    fn outcomes(&self) -> &'static [&'static str] {
        &["found", "found_own", "not_found", "limited", "ask"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &[
            "case_code",
            "case_status",
            "case_updated",
            "staff_message",
            "_case_lookups",
        ]
    }
    // `kode` is optional (the typed variant reads the trigger message), so nothing is required.
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let var = |name: &str| call.vars.get(name).map(String::as_str).unwrap_or("");
        let typed = if self.typed {
            let text = var("_trigger_text");
            // A code typed with the request has the prefix or a digit ("cek status PKL-7KQ2MX",
            // "status 7kq2mx"); a word alone is the request itself ("status" is six code-like
            // letters: it was answered "code not found", found by playing the bot, stop 18).
            let has_prefix = text
                .to_ascii_uppercase()
                .contains(&self.prefix.to_ascii_uppercase());
            if code::candidates(&self.prefix, text).is_empty()
                || !(has_prefix || text.chars().any(|c| c.is_ascii_digit()))
            {
                return ActionResult::outcome("ask").var("_trigger_text", "");
            }
            text
        } else {
            var("kode")
        };
        let (failed, start) = lookups(call.vars, call.now);
        if failed >= MAX_FAILED_LOOKUPS {
            return ActionResult::outcome("limited").var("_trigger_text", "");
        }
        let case = match self.find(typed) {
            Ok(case) => case,
            Err(e) => {
                tracing::warn!(error = %e, "case lookup failed");
                None
            }
        };
        let Some(case) = case else {
            return ActionResult::outcome("not_found")
                .var("_trigger_text", "")
                .var("_case_lookups", format!("{}:{start}", failed + 1))
                .var("case_status", "")
                .var("staff_message", "");
        };
        let own = case.record.reporter == *call.user;
        let status = self.texts.status(case.status, case.referred_to, call.lang);
        let updated = Date::from_unix(case.updated_at).to_string();
        let result = ActionResult::outcome(if own { "found_own" } else { "found" })
            .var("_trigger_text", "")
            .var("case_code", case.code())
            .var("case_status", status)
            .var("case_updated", updated);
        if own {
            // The whole message reached the reporter when staff sent it (in pieces if it was long);
            // here it is cut so the status answer fits a phone screen.
            let message = case
                .last_staff_reply()
                .map(|m| {
                    let m = m.trim();
                    if m.chars().nth(STAFF_MESSAGE_SHOWN).is_some() {
                        m.chars().take(STAFF_MESSAGE_SHOWN).chain(['…']).collect()
                    } else {
                        m.to_string()
                    }
                })
                .unwrap_or_else(|| self.texts.no_staff_message.get(call.lang).to_string());
            result.var("staff_message", message)
        } else {
            result.var("staff_message", "")
        }
    }
}

/// `case.open_exists`: whether this chat has an open case, before anything is asked for it (found by
/// playing families, stop 19: "Tulis informasi tambahan" was asked after the case was closed, and
/// what was written was then not stored).
struct OpenCaseExists {
    store: Store,
}

impl Action for OpenCaseExists {
    fn outcomes(&self) -> &'static [&'static str] {
        &["open", "no_case"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["case_code"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        match open_case(&self.store, call.user) {
            Some(case) => ActionResult::outcome("open").var("case_code", case.code()),
            None => ActionResult::outcome("no_case"),
        }
    }
}

/// The reporter's newest open case; a storage error counts as none (logged, without the user).
fn open_case(store: &Store, user: &crate::storage::UserKey) -> Option<super::Case> {
    super::open_case_of(store, user).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot find the reporter's case");
        None
    })
}

/// `case.append`: adds what the reporter wrote (and new attachments) to their open case.
struct AppendToCase {
    store: Store,
}

impl Action for AppendToCase {
    fn outcomes(&self) -> &'static [&'static str] {
        &["appended", "no_case"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["case_code"]
    }
    fn reads(&self) -> &'static [&'static str] {
        &["tambahan"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let Some(case) = open_case(&self.store, call.user) else {
            return ActionResult::outcome("no_case");
        };
        // The session keeps every attachment it received; send only those the case does not hold.
        let mut known: Vec<&str> = case
            .record
            .attachments
            .iter()
            .map(|a| a.reference.as_str())
            .collect();
        for event in &case.timeline {
            if let super::EventKind::ReporterMessage { attachments, .. } = &event.kind {
                known.extend(attachments.iter().map(|a| a.reference.as_str()));
            }
        }
        let attachments: Vec<_> = call
            .attachments
            .iter()
            .filter(|a| !known.contains(&a.reference.as_str()))
            .cloned()
            .collect();
        // A question that accepts files saves their count as its answer; that number is not a message.
        let text = call
            .vars
            .get("tambahan")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .filter(|t| t.parse::<usize>().ok() != Some(call.attachments.len()));
        ActionResult::outcome("appended")
            .var("case_code", case.code())
            .effect(Effect::AppendToCase {
                code: case.code().to_string(),
                text,
                attachments,
            })
    }
}

/// `emergency.contacts`: the numbers for the destination country the reporter gave (or the general
/// ones), always with the ministry's call centre.
struct EmergencyContacts {
    contacts: Arc<Contacts>,
    store: Store,
}

impl Action for EmergencyContacts {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &[
            "emergency_contacts",
            crate::dialog::runtime::EMERGENCY_PLACE,
        ]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let var = |name: &str| call.vars.get(name).map(String::as_str).unwrap_or("");
        // The country answer first; a city ("Johor", "Jeddah") also names one; else the emergency
        // message itself ("anak saya dipukul di Malaysia").
        let typed = [
            "negara",
            "kota",
            crate::dialog::runtime::EMERGENCY_TEXT,
            "_trigger_text",
        ]
        .into_iter()
        .map(var)
        .find(|t| self.contacts.country(t).is_some())
        .unwrap_or("");
        // Named nowhere in this conversation: the country of the reporter's open case ("dia dipukul
        // lagi" added to a report about Taiwan got no Taiwan numbers; found by playing families,
        // stop 20).
        let country = self.contacts.country(typed).or_else(|| {
            open_case(&self.store, call.user)
                .and_then(|case| self.contacts.by_key(&case.record.country))
        });
        let place = country.map(|c| c.key.clone()).unwrap_or_default();
        ActionResult::outcome("ok")
            .var(
                "emergency_contacts",
                self.contacts.render_for(country, call.lang),
            )
            .var(crate::dialog::runtime::EMERGENCY_PLACE, place)
    }
}

/// `case.agency_from_check`: the company of the user's last agency check in this conversation, offered
/// as the report's agency ("Laporkan perekrut" after a check). Outcome `known` (sets `agensi` to the
/// registered name, or to what the user typed when it was not found) or `unknown`. The dialog asks the
/// user to confirm it; it is never used silently.
struct AgencyFromCheck;

impl Action for AgencyFromCheck {
    fn outcomes(&self) -> &'static [&'static str] {
        &["known", "unknown"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["agensi"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let var = |name: &str| {
            call.vars
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        match var("agency_name").or_else(|| var("agency_query")) {
            Some(name) => ActionResult::outcome("known").var("agensi", name),
            None => ActionResult::outcome("unknown").var("agensi", ""),
        }
    }
}

/// `case.negara`: the country as the summary shows it (`negara_label`): what the user typed, with each
/// word that was typed all in lower case capitalised ("malaysia" → "Malaysia", "hong kong" → "Hong
/// Kong"); words with capitals ("KSA", "Hongkong") stay as typed.
/// `case.negara_told`: the country the emergency message named, minutes ago, as the report's
/// country (`negara`, its first name in config/contacts.yaml): outcome `told`, or `missing` (asked).
/// A country already answered stays. Found by the verification play (stop 20): "suami sy meninggal di
/// arab saudi" showed Saudi's numbers, then the report asked the country again and, skipped, the
/// summary said "Negara: (tidak diisi)".
struct CountryTold {
    contacts: Arc<Contacts>,
}

/// How long after the emergency message its country is taken for the report.
const ALARM_COUNTRY_SECS: u64 = 600;

impl Action for CountryTold {
    fn outcomes(&self) -> &'static [&'static str] {
        &["told", "missing"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["negara"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let var = |name: &str| call.vars.get(name).map(|v| v.trim()).unwrap_or("");
        if !var("negara").is_empty() {
            return ActionResult::outcome("told");
        }
        let recent = var("_emergency_at")
            .parse::<u64>()
            .is_ok_and(|at| call.now.saturating_sub(at) < ALARM_COUNTRY_SECS);
        let named = self
            .contacts
            .by_key(var(crate::dialog::runtime::EMERGENCY_PLACE))
            .and_then(|c| c.names.first());
        match named {
            Some(name) if recent => ActionResult::outcome("told").var("negara", name.clone()),
            _ => ActionResult::outcome("missing"),
        }
    }
}

struct CountryLabel;

impl Action for CountryLabel {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["negara_label"]
    }
    fn reads(&self) -> &'static [&'static str] {
        &["negara"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let typed = call.vars.get("negara").map(String::as_str).unwrap_or("");
        ActionResult::outcome("ok").var("negara_label", capitalise_words(typed))
    }
}

/// Capitalises each word typed all in lower case; the rest stays as typed.
pub fn capitalise_words(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            if word.chars().any(char::is_uppercase) {
                return word.to_string();
            }
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `case.kategori`: the category a reporter described in their own words.
struct ClassifyCategory {
    texts: Arc<CaseTexts>,
}

impl Action for ClassifyCategory {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok", "unknown"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["kategori", "kategori_label"]
    }
    fn reads(&self) -> &'static [&'static str] {
        &["kategori_teks"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let typed = call
            .vars
            .get("kategori_teks")
            .map(String::as_str)
            .unwrap_or("");
        match self.texts.classify(typed) {
            Some(category) => ActionResult::outcome("ok")
                .var("kategori", category.key.clone())
                .var("kategori_label", category.label.get(call.lang)),
            None => ActionResult::outcome("unknown"),
        }
    }
}

/// `case.kat.<key>`: a category chosen from the menu.
struct PickCategory {
    key: String,
    texts: Arc<CaseTexts>,
}

impl Action for PickCategory {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["kategori", "kategori_label"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        let label = self
            .texts
            .category(&self.key)
            .map(|c| c.label.get(call.lang).to_string())
            .unwrap_or_default();
        ActionResult::outcome("ok")
            .var("kategori", self.key.clone())
            .var("kategori_label", label)
    }
}

/// `case.pick.<var>.<value>`: an answer chosen from a menu (who reports, safe now, consent).
struct Pick {
    var: String,
    value: String,
    label: super::texts::LangText,
    sets: &'static [&'static str],
}

impl Action for Pick {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }
    fn sets(&self) -> &'static [&'static str] {
        self.sets
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        ActionResult::outcome("ok")
            .var(&self.var, self.value.clone())
            .var(&format!("{}_label", self.var), self.label.get(call.lang))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cases::fixture;
    use crate::cases::{CaseRecord, Event, EventKind};
    use crate::dialog::Lang;
    use crate::storage::{Channel, UserKey, WriteBatch};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        actions: Actions,
    }

    fn fixture() -> Fixture {
        let (dir, store) = fixture::temp_store();
        let config = fixture::shipped_config();
        let mut actions = Actions::new();
        crate::cases::register_actions(&mut actions, store.clone(), &config).unwrap();
        Fixture {
            _dir: dir,
            store,
            actions,
        }
    }

    fn run(
        f: &Fixture,
        name: &str,
        user: &UserKey,
        vars: &BTreeMap<String, String>,
        now: u64,
    ) -> ActionResult {
        let call = ActionCall {
            vars,
            attachments: &[],
            lang: Lang::Id,
            now,
            seed: 7,
            user,
        };
        f.actions.get(name).unwrap().run(&call)
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn store_case(store: &Store, code: &str, reporter: &UserKey) {
        let mut batch = WriteBatch::default();
        batch
            .put_case(&CaseRecord {
                code: code.into(),
                reporter: reporter.clone(),
                lang: Lang::Id,
                opened_at: 100,
                category: "gaji".into(),
                country: "malaysia".into(),
                priority: Priority::P3,
                share_consent: true,
                fields: vars(&[("nama_pmi", "Siti Aminah")]),
                attachments: vec![],
            })
            .unwrap();
        store.apply(batch).unwrap();
        store
            .add_case_event(
                code,
                &Event {
                    at: 200,
                    actor: "cli:budi".into(),
                    kind: EventKind::StaffReply {
                        text: "Kami sudah hubungi agensi.".into(),
                    },
                },
            )
            .unwrap();
    }

    #[test]
    fn open_skips_a_code_that_is_taken_and_emits_the_case() {
        let f = fixture();
        let user = UserKey::new(Channel::Whatsapp, "62811");
        let none = run(&f, "case.open", &user, &vars(&[("kategori", "gaji")]), 1000);
        assert_eq!(none.outcome, "no_consent");
        assert!(none.effects.is_empty());
        let v = vars(&[
            ("kategori", "meninggal"),
            ("cerita", "..."),
            ("izin", "dinas"),
            ("bukan_field", "x"),
        ]);
        let first = run(&f, "case.open", &user, &v, 1000);
        assert_eq!(first.outcome, "opened");
        let code = first.vars["case_code"].clone();
        assert!(first.vars["case_target"].contains("jam"));
        match &first.effects[..] {
            [
                Effect::OpenCase {
                    code: c, fields, ..
                },
            ] => {
                assert_eq!(c, &code);
                assert!(!fields.contains_key("bukan_field"));
                assert_eq!(fields["kategori"], "meninggal");
            }
            other => panic!("{other:?}"),
        }
        // Same seed, but the code now exists: another one is offered.
        store_case(&f.store, &code, &user);
        let second = run(&f, "case.open", &user, &v, 1000);
        assert_ne!(second.vars["case_code"], code);
    }

    #[test]
    fn status_from_another_chat_shows_the_status_only() {
        let f = fixture();
        let reporter = UserKey::new(Channel::Whatsapp, "62811");
        let stranger = UserKey::new(Channel::Telegram, "99");
        store_case(&f.store, "PKL-7KQ2MX", &reporter);
        let own = run(
            &f,
            "case.status",
            &reporter,
            &vars(&[("kode", "pkl 7kq2mx")]),
            300,
        );
        assert_eq!(own.outcome, "found_own");
        assert_eq!(own.vars["staff_message"], "Kami sudah hubungi agensi.");
        let other = run(
            &f,
            "case.status",
            &stranger,
            &vars(&[("kode", "PKL-7KQ2MX")]),
            300,
        );
        assert_eq!(other.outcome, "found");
        assert_eq!(other.vars["staff_message"], "");
        for value in other.vars.values() {
            assert!(
                !value.contains("Siti") && !value.contains("agensi"),
                "{value}"
            );
        }
        // One look-alike is tolerated.
        let typo = run(
            &f,
            "case.status",
            &stranger,
            &vars(&[("kode", "PKL-1KQ2MX")]),
            300,
        );
        assert_eq!(typo.vars["case_code"], "PKL-7KQ2MX");
    }

    #[test]
    fn guessing_codes_is_stopped_after_five_misses_an_hour() {
        let f = fixture();
        let reporter = UserKey::new(Channel::Whatsapp, "62811");
        let guesser = UserKey::new(Channel::Telegram, "13");
        store_case(&f.store, "PKL-7KQ2MX", &reporter);
        let mut v = vars(&[("kode", "PKL-AAAAAA")]);
        for _ in 0..MAX_FAILED_LOOKUPS {
            let r = run(&f, "case.status", &guesser, &v, 5000);
            assert_eq!(r.outcome, "not_found");
            v.extend(r.vars);
        }
        // Even the right code is refused now...
        v.insert("kode".into(), "PKL-7KQ2MX".into());
        assert_eq!(
            run(&f, "case.status", &guesser, &v, 5100).outcome,
            "limited"
        );
        // ...until the hour has passed.
        assert_eq!(
            run(&f, "case.status", &guesser, &v, 5000 + 3600).outcome,
            "found"
        );
    }

    #[test]
    fn contacts_follow_the_country_and_categories_are_picked() {
        let f = fixture();
        let user = UserKey::new(Channel::Console, "x");
        let r = run(
            &f,
            "emergency.contacts",
            &user,
            &vars(&[("negara", "Hongkong")]),
            1,
        );
        assert!(r.vars["emergency_contacts"].contains("+852"));
        let r = run(&f, "emergency.contacts", &user, &vars(&[]), 1);
        assert!(r.vars["emergency_contacts"].contains("0800-1000"));
        assert!(!r.vars["emergency_contacts"].contains("+60"));
        // A panicked first message names the country itself: its embassy comes first.
        let r = run(
            &f,
            "emergency.contacts",
            &user,
            &vars(&[(
                crate::dialog::runtime::EMERGENCY_TEXT,
                "anak saya dipukul majikan di malaysia",
            )]),
            1,
        );
        assert!(r.vars["emergency_contacts"].contains("+60"));
        assert!(r.vars["emergency_contacts"].contains("0800-1000"));
        let r = run(&f, "case.kat.gaji", &user, &vars(&[]), 1);
        assert_eq!(r.vars["kategori"], "gaji");
        let r = run(
            &f,
            "case.kategori",
            &user,
            &vars(&[("kategori_teks", "dia disiksa")]),
            1,
        );
        assert_eq!(r.vars["kategori"], "kekerasan");
        let r = run(&f, "case.pick.aman.tidak", &user, &vars(&[]), 1);
        assert_eq!(r.vars["aman"], "tidak");
    }

    #[test]
    fn the_summary_shows_a_country_typed_in_lower_case_capitalised() {
        assert_eq!(capitalise_words("malaysia"), "Malaysia");
        assert_eq!(capitalise_words("  hong   kong "), "Hong Kong");
        assert_eq!(capitalise_words("KSA riyadh"), "KSA Riyadh");
        assert_eq!(capitalise_words(""), "");
    }

    #[test]
    fn not_safe_or_emergency_words_make_a_case_p1() {
        let f = fixture();
        let texts = CaseTexts::load_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs/_cases.yaml"),
        )
        .unwrap();
        drop(f);
        let gaji = vars(&[("kategori", "gaji")]);
        assert_eq!(initial_priority(&texts, &gaji, None).0, Priority::P3);
        let unsafe_ = vars(&[("kategori", "gaji"), ("aman", "tidak")]);
        assert_eq!(initial_priority(&texts, &unsafe_, None).0, Priority::P1);
        let unknown = vars(&[("kategori", "gaji"), ("aman", "tidak_tahu")]);
        let (priority, reason) = initial_priority(&texts, &unknown, None);
        assert_eq!(priority, Priority::P1);
        assert_eq!(reason, texts.staff.reason_safety_unknown);
        let pending = PendingEmergency {
            category: "kekerasan".into(),
            priority: Priority::P1,
            at: 1,
        };
        assert_eq!(
            initial_priority(&texts, &gaji, Some(&pending)).0,
            Priority::P1
        );
    }
}
