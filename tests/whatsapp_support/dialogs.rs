//! A small dialog folder written into the test's temp dir, loaded with the real loader.

#![allow(dead_code)]

use std::path::Path;

use pandu::dialog::loader::LoadOptions;
use pandu::dialog::{Actions, Bot, Lang};

const BOT: &str = r#"
start: main
languages: { id: Bahasa Indonesia }
keywords:
  menu: [menu, "0"]
  language: [bahasa]
  staff: [petugas]
  stop: [stop]
  resume: [lanjut]
  skip: [lewati]
texts:
  fallback: { id: "Maaf, saya belum mengerti. Ketik 0 untuk menu." }
  not_text: { id: "Maaf, di sini saya hanya bisa membaca tulisan." }
  welcome_back: { id: "Selamat datang kembali." }
  resume_offer: { id: "Kembali ke pertanyaan tadi?" }
  resume_label: { id: Lanjutkan }
  restart_label: { id: Menu utama }
  flow_end_hint: { id: "Ketik 0 untuk menu utama." }
  stopped: { id: "Percakapan dihentikan." }
  language_prompt: { id: "Pilih bahasa:" }
  language_set: { id: "Bahasa diganti." }
  retries_exhausted: { id: "Kita kembali ke menu." }
  skipped: { id: "Dilewati." }
  attachment_saved: { id: "File sudah kami terima." }
  list_button: { id: "Pilih menu" }
"#;

const MAIN: &str = r#"
flow: main
title: Menu utama
nodes:
  start:
    say: { id: "Halo, saya Pandu. Pilih menu:" }
    choices:
      - label: { id: Info kerja }
        goto: info
      - label: { id: Tanya nama }
        goto: nama
      - label: { id: Topik lain }
        goto: topik
  info:
    say: { id: "Info kerja ke luar negeri." }
    end: true
  nama:
    ask: { id: "Siapa nama Anda?" }
    save: nama
    next: terima
  terima:
    say: { id: "Terima kasih, {nama}." }
    end: true
  topik:
    say: { id: "Pilih topik:" }
    choices:
      - label: { id: Satu }
        goto: info
      - label: { id: Dua }
        goto: info
      - label: { id: Tiga }
        goto: info
      - label: { id: Empat }
        goto: info
      - label: { id: Lima }
        goto: info
"#;

const BUKTI: &str = r#"
flow: bukti
title: Kirim bukti
triggers:
  - '\bbukti\b'
nodes:
  minta:
    ask: { id: "Kirim foto atau pesan suara sebagai bukti, lalu ketik selesai." }
    save: bukti
    attachments: true
    next: selesai
  selesai:
    say: { id: "Bukti dicatat." }
    end: true
"#;

/// Writes the dialogs into `dir/dialogs` and loads them.
pub fn bot(dir: &Path) -> Bot {
    let dialogs = dir.join("dialogs");
    std::fs::create_dir_all(&dialogs).unwrap();
    std::fs::write(dialogs.join("_bot.yaml"), BOT).unwrap();
    std::fs::write(dialogs.join("main.yaml"), MAIN).unwrap();
    std::fs::write(dialogs.join("bukti.yaml"), BUKTI).unwrap();
    let options = LoadOptions {
        languages: vec![Lang::Id],
        ..LoadOptions::default()
    };
    match pandu::dialog::loader::load(&dialogs, &Actions::new(), &options) {
        Ok((bot, _warnings)) => bot,
        Err(errors) => panic!("test dialogs do not load: {errors:#?}"),
    }
}
