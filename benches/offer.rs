//! Offer-check benchmark: the pure analyser on a 2,000-character forwarded offer (a WhatsApp broadcast
//! with company names, a licence number, phone numbers, an account and many signs) against the
//! 8-company test registry of `dialogs/tests/offers/`, and on a 10,000-character paste (cut at
//! `max_chars`). Also `looks_like_offer` (run on every message that opens the flow).
//!
//! Target: under 1 ms for the 2,000-character offer. Run: `cargo bench --bench offer`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use pandu::offer::{Lookup, OfferRules, analyse, looks_like_offer};
use pandu::registry::Registry;
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};

const OFFER: &str = "🔥🔥 *LOWONGAN KERJA LUAR NEGERI* 🔥🔥\n\
Dibutuhkan segera admin customer service untuk perusahaan di Kamboja (Phnom Penh), gaji 15 juta/bulan, \
tanpa pengalaman, mess dan makan gratis. Berangkat minggu depan, proses cepat.\n\
PT Sinar Contoh Mandiri Jaya (SIP3MI No. KEP.UJI-101/2022) bekerja sama dengan sponsor Pak Fulan.\n\
Biaya proses 5.000.000, DP 1.500.000 transfer ke rekening BRI 0000-01-000001-50-1 a.n. Bpk Fulan.\n\
Syarat: pria/wanita usia 18-35, KTP, KK, ijazah SD boleh. Visa kunjungan dulu, nanti di sana diurus.\n\
Hubungi WA 0812-0000-0001 atau 0813-0000-0002 (japri).\n";

fn offer_2000() -> String {
    let mut text = String::new();
    while text.chars().count() < 2_000 {
        text.push_str(OFFER);
    }
    text.chars().take(2_000).collect()
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = OfferRules::load(&root.join("dialogs").join(pandu::offer::RULES_FILE))
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("pandu-bench-offer-{}", std::process::id()));
    let store = Store::open(&dir, DEFAULT_CACHE_BYTES).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::load(&store, &root.join("dialogs/tests/offers/registry.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let index = registry.current();
    let lookup: &dyn Lookup = &*index;
    let text = offer_2000();
    let huge = text.repeat(6);
    let a = analyse(&rules, Some(lookup), &text);
    println!(
        "2,000-char offer: verdict {}, {} findings",
        a.level().code(),
        a.findings.len()
    );
    c.bench_function("offer analyse 2000 chars", |b| {
        b.iter(|| analyse(&rules, Some(lookup), black_box(&text)))
    });
    c.bench_function("offer analyse 12000-char paste (cut at 10000)", |b| {
        b.iter(|| analyse(&rules, Some(lookup), black_box(&huge)))
    });
    c.bench_function("offer looks_like_offer 2000 chars", |b| {
        b.iter(|| looks_like_offer(&rules, black_box(&text)))
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
