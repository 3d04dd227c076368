//! A small dialog set for unit tests (compiled only for tests).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::actions::{Action, ActionCall, ActionResult, Actions};
use super::loader::{Diagnostic, LoadOptions, load};
use super::model::Bot;
use crate::time::Date;

pub const BOT: &str = r#"
start: main
staff_flow: main
languages: { id: Bahasa Indonesia, en: English }
keywords:
  menu: [menu, "0", kembali]
  language: [bahasa, language]
  staff: [petugas]
  stop: [stop]
  resume: [lanjut]
  skip: [lewati, tidak tahu]
  yes: [ya, iya, ok, oke, y]
  cancel: [batal, gak jadi, cancel]
texts:
  fallback: { id: "Maaf, belum mengerti.", en: "Sorry, not understood." }
  not_text: { id: "Mohon ketik.", en: "Please type." }
  welcome_back: { id: "Selamat datang kembali.", en: "Welcome back." }
  resume_offer: { id: "Kembali ke pertanyaan tadi?", en: "Back to the question?" }
  resume_label: { id: Lanjutkan, en: Continue }
  restart_label: { id: Menu utama, en: Main menu }
  flow_end_hint: { id: "Ketik 0 untuk menu.", en: "Type 0 for the menu." }
  stopped: { id: "Dihentikan.", en: "Stopped." }
  language_prompt: { id: "Pilih bahasa:", en: "Choose a language:" }
  language_set: { id: "Bahasa Indonesia dipilih.", en: "English chosen." }
  retries_exhausted: { id: "Terlalu banyak salah.", en: "Too many tries." }
  skipped: { id: "Dilewati.", en: "Skipped." }
  attachment_saved: { id: "File diterima.", en: "File received." }
  photo_reading: { id: "Gambar sedang dibaca.", en: "Reading the picture." }
  photo_unreadable: { id: "Gambar tidak terbaca; ketik teksnya.", en: "Cannot read it; type the text." }
  emergency: { id: "DARURAT {emergency_contacts}", en: "EMERGENCY {emergency_contacts}" }
  emergency_in_report: { id: "DARURAT {emergency_contacts}; laporan tetap tersimpan.", en: "EMERGENCY {emergency_contacts}; the report is kept." }
  story_kept: { id: "Dicatat sebagai cerita. Jawab dulu:", en: "Noted as the story. Now answer:" }
  cancel_confirm: { id: "Batalkan laporan?", en: "Cancel the report?" }
  cancel_yes_label: { id: "Ya, batalkan", en: "Yes, cancel" }
  cancelled: { id: "Laporan dibatalkan.", en: "Report cancelled." }
  leave_confirm: { id: "Ke menu? Laporan disimpan.", en: "To the menu? The report is kept." }
  leave_yes_label: { id: "Ya, ke menu", en: "Yes, to the menu" }
  report_kept: { id: "Laporan disimpan; ketik lanjut.", en: "Report kept; type lanjut." }
  out_of_range: { id: "Tidak ada nomor {_number}; pilih 1-{_choices}.", en: "No number {_number}; choose 1-{_choices}." }
"#;

pub const MAIN: &str = r#"
flow: main
nodes:
  start:
    say: { id: "Menu utama", en: "Main menu" }
    choices:
      - label: { id: Syarat, en: Requirements }
        goto: info
      - label: { id: Lapor, en: Report }
        goto: lapor
"#;

pub const INFO: &str = r#"
flow: info
triggers:
  - '\bsyarat\b'
nodes:
  start:
    say: { id: "Syarat: umur 18.", en: "Requirements: age 18." }
    fact: { source: "UU 18/2017", verified: 2026-01-01, confidence: H }
"#;

pub const LAPOR: &str = r#"
flow: lapor
triggers:
  - '\blapor\b'
nodes:
  nama:
    ask: { id: "Siapa nama PMI?", en: "Name of the worker?" }
    save: nama
    next: umur
  umur:
    ask: { id: "Umur {nama}?", en: "Age of {nama}?" }
    save: umur
    pattern: '^\d{1,2}$'
    retry: { id: "Tulis angka umur.", en: "Write the age as a number." }
    retries: 3
    next: foto
  foto:
    ask: { id: "Kirim foto, atau ketik lewati.", en: "Send a photo, or type skip." }
    save: foto
    skip: true
    attachments: true
    next: buka
  buka:
    action: test.open
    outcomes:
      opened: selesai
  selesai:
    say: { id: "Kode {code} untuk {nama}.", en: "Code {code} for {nama}." }
    end: true
"#;

pub const EMERGENCY: &str = r#"
categories:
  - name: kekerasan
    priority: P1
    patterns: ['\b(dipukul|disiksa)\b']
  - name: gaji
    priority: P3
    patterns: ['\bgaji\b']
"#;

/// An action that "opens" something and returns a code derived from the seed.
pub struct TestOpen;

impl Action for TestOpen {
    fn outcomes(&self) -> &'static [&'static str] {
        &["opened"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["code"]
    }
    fn run(&self, call: &ActionCall<'_>) -> ActionResult {
        ActionResult::outcome("opened").var("code", format!("T{}", call.seed % 1000))
    }
}

/// An action that finds several candidates, as a numbered list in `daftar`.
pub struct TestList;

impl Action for TestList {
    fn outcomes(&self) -> &'static [&'static str] {
        &["ok"]
    }
    fn sets(&self) -> &'static [&'static str] {
        &["daftar"]
    }
    fn run(&self, _call: &ActionCall<'_>) -> ActionResult {
        ActionResult::outcome("ok").var("daftar", "1. PT Satu *Jaya*\n2) PT Dua Karya\n")
    }
}

/// A flow whose question offers the list `daftar` as choices (`options:`).
pub const PILIH: &str = r#"
flow: pilih
triggers:
  - '\bpilih pt\b'
nodes:
  cari:
    action: test.list
    outcomes: { ok: mana }
  mana:
    ask: { id: "Ada yang mirip:\n{daftar}\nKetik nomornya.", en: "Similar:\n{daftar}\nType its number." }
    save: nomor
    options: daftar
    next: hasil
  hasil:
    say: { id: "Anda memilih {nomor}.", en: "You chose {nomor}." }
"#;

/// A flow that asks whether to check a pasted text, or for the text, and takes a photo of it at both
/// (`photo:`), for the OCR tests.
pub const TAWAR: &str = r#"
flow: tawar
triggers:
  - '\blowongan\b'
nodes:
  tanya:
    say: { id: "Periksa lowongan ini?", en: "Check this offer?" }
    photo: minta
    choices:
      - label: { id: "Ya, periksa", en: "Yes, check it" }
        goto: minta
      - label: { id: "Tidak", en: "No" }
        goto: main
  minta:
    ask: { id: "Tempel teks lowongannya.", en: "Paste the offer's text." }
    save: teks
    photo: minta
    next: hasil
  hasil:
    say: { id: "Diperiksa: {teks}", en: "Checked: {teks}" }
"#;

/// A report intake (a flow with `case.open`): who reports (a menu), the name, the age, what happened
/// (found through `case.story.cerita`), then the code. For the safe-intake tests: emergencies, cancel,
/// leaving for the menu and coming back.
pub const LAPOR_INTAKE: &str = r#"
flow: lapor
triggers:
  - '\blapor\b'
nodes:
  siapa:
    say: { id: "Siapa yang melapor?", en: "Who is reporting?" }
    choices:
      - label: { id: "Saya sendiri", en: "Myself" }
        goto: nama
      - label: { id: "Keluarga", en: "Family" }
        goto: nama
  nama:
    ask: { id: "Siapa nama PMI?", en: "Name of the worker?" }
    save: nama
    next: umur
  umur:
    ask: { id: "Umur {nama}?", en: "Age of {nama}?" }
    save: umur
    pattern: '^\d{1,2}$'
    retry: { id: "Tulis angka umur.", en: "Write the age as a number." }
    next: cerita_ada
  cerita_ada:
    action: case.story.cerita
    outcomes: { told: sudah, missing: cerita }
  sudah:
    say: { id: "Ceritanya sudah dicatat.", en: "The story is noted." }
    next: harapan
  cerita:
    ask: { id: "Apa yang terjadi?", en: "What happened?" }
    save: cerita
    pattern: '\w'
    retry: { id: "Tulis ceritanya.", en: "Write what happened." }
    next: harapan
  harapan:
    ask: { id: "Apa harapan Anda?", en: "What do you hope for?" }
    save: harapan
    pattern: '\w'
    retry: { id: "Tulis harapannya.", en: "Write what you hope for." }
    next: buka
  buka:
    action: case.open
    outcomes:
      opened: selesai
  selesai:
    say: { id: "Kode {code}: {nama}, {umur}. Cerita: {cerita}", en: "Code {code}: {nama}, {umur}. Story: {cerita}" }
    end: true
"#;

pub fn actions() -> Actions {
    let mut actions = Actions::new();
    actions.register("test.open", std::sync::Arc::new(TestOpen));
    actions.register("test.list", std::sync::Arc::new(TestList));
    actions.register("case.open", std::sync::Arc::new(TestOpen));
    actions.register(
        "case.story.cerita",
        std::sync::Arc::new(super::actions::StoryTold::new("cerita")),
    );
    actions
}

pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

pub fn standard_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("_bot.yaml", BOT),
        ("_emergency.yaml", EMERGENCY),
        ("main.yaml", MAIN),
        ("info.yaml", INFO),
        ("lapor.yaml", LAPOR),
    ]
}

pub fn options() -> LoadOptions {
    LoadOptions {
        today: Date::parse("2026-06-01").unwrap(),
        ..LoadOptions::default()
    }
}

/// Loads the standard fixture with some files replaced or added.
pub fn load_with(replace: &[(&str, &str)]) -> Result<(Bot, Vec<Diagnostic>), Vec<Diagnostic>> {
    let dir = tempfile::tempdir().unwrap();
    let mut files = standard_files();
    for (name, text) in replace {
        files.retain(|(n, _)| n != name);
        files.push((name, text));
    }
    write(dir.path(), &files);
    load(dir.path(), &actions(), &options())
}

pub fn bot() -> Bot {
    match load_with(&[]) {
        Ok((bot, _)) => bot,
        Err(diags) => panic!("fixture does not load: {diags:#?}"),
    }
}
