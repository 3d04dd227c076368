//! Registry benchmark: a generated listing of 10,000 offices (4,000 companies, head offices and
//! branches). Measures the import (parse, check, store, switch) and search latency over a mixed query
//! set: exact licence numbers in several spellings, exact names, names with typos or swapped words, a
//! licence number typed with another company's name, and unknown names. Prints p50/p99/max per query
//! kind and how often the verdict was the right one: a match for the exact forms, the right company
//! listed first (never a match) for typos, "the number is another company's" for a borrowed number.
//!
//! Targets: import under 2 s; search p99 under 1 ms. Run: `cargo bench --bench registry`.

#[path = "../tests/rng_support/mod.rs"]
mod rng;
use rng::Rng;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use pandu::registry::{Registry, Verdict};
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};

const COMPANIES: usize = 4_000;

const COMMON: &[&str] = &[
    "sukses",
    "mandiri",
    "utama",
    "jaya",
    "abadi",
    "sentosa",
    "karya",
    "bina",
    "mitra",
    "harapan",
    "bangsa",
    "sejahtera",
    "lintas",
    "samudra",
    "raya",
    "putra",
    "duta",
    "perkasa",
    "indonesia",
    "makmur",
    "anugerah",
    "berkah",
    "cahaya",
    "global",
    "nusantara",
    "insani",
    "mulia",
    "prima",
    "gemilang",
    "sarana",
];
const SYLLABLES: &[&str] = &[
    "ka", "ri", "ma", "su", "to", "la", "na", "di", "wa", "sa", "ga", "ra", "ta", "ni", "ba", "de",
    "pu", "jo", "an", "in", "gu", "me", "so", "ha",
];
const CITIES: &[&str] = &[
    "Kota Jakarta Timur",
    "Kota Semarang",
    "Kota Pekalongan",
    "Kabupaten Batang",
    "Kota Surabaya",
    "Kota Bandung",
    "Kota Medan",
    "Kabupaten Cirebon",
    "Kota Malang",
    "Kabupaten Indramayu",
];
const STATUSES: &[&str] = &[
    "aktif",
    "aktif",
    "aktif",
    "aktif",
    "aktif",
    "aktif",
    "dibekukan",
    "dicabut",
    "tidak diperpanjang",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    (0..n)
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect()
}

fn capitalise(w: &str) -> String {
    let mut chars = w.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Data {
    csv: String,
    names: Vec<String>,
    licences: Vec<String>,
    offices: usize,
}

fn generate() -> Data {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rare: Vec<String> = (0..1_500).map(|_| word(&mut rng)).collect();
    let mut csv = String::from(
        "nama_perusahaan;nomor_izin;status;jenis_kantor;alamat;kota;provinsi;tanggal_izin;telepon\n",
    );
    let mut names = Vec::new();
    let mut licences = Vec::new();
    let mut offices = 0;
    let mut seen = std::collections::HashSet::new();
    while names.len() < COMPANIES {
        let words = [
            COMMON[rng.below(COMMON.len())].to_string(),
            rare[rng.below(rare.len())].clone(),
            if rng.below(2) == 0 {
                COMMON[rng.below(COMMON.len())].to_string()
            } else {
                rare[rng.below(rare.len())].clone()
            },
        ];
        let name = format!(
            "PT {}",
            words
                .iter()
                .map(|w| capitalise(w))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !seen.insert(name.to_lowercase()) {
            continue;
        }
        let i = names.len();
        let licence = format!("KEP.{}/{}", 100 + i, 2015 + i % 10);
        let status = STATUSES[rng.below(STATUSES.len())];
        let date = format!("{}-{:02}-{:02}", 2015 + i % 10, 1 + i % 12, 1 + i % 28);
        let branches = i % 4;
        for b in 0..=branches {
            let kind = if b == 0 {
                "kantor pusat"
            } else {
                "kantor cabang"
            };
            let city = CITIES[(i + b) % CITIES.len()];
            csv.push_str(&format!(
                "{name};{licence};{status};{kind};\"Jl. Raya {i} No. {b}\";{city};Jawa Tengah;{date};0285-{i}{b}\n"
            ));
            offices += 1;
        }
        names.push(name);
        licences.push(licence);
    }
    Data {
        csv,
        names,
        licences,
        offices,
    }
}

/// One typo (swap two neighbouring letters, drop one, or double one) in the longest word, and sometimes
/// the first two words swapped.
fn typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').skip(1).map(|w| w.to_lowercase()).collect();
    let longest = (0..words.len())
        .max_by_key(|&i| words[i].len())
        .unwrap_or(0);
    let mut chars: Vec<char> = words[longest].chars().collect();
    if chars.len() >= 4 {
        let at = 1 + rng.below(chars.len() - 2);
        match rng.below(3) {
            0 => chars.swap(at, at + 1),
            1 => {
                chars.remove(at);
            }
            _ => chars.insert(at, chars[at]),
        }
    }
    words[longest] = chars.into_iter().collect();
    if rng.below(2) == 0 {
        words.swap(0, 1);
    }
    format!("pt {}", words.join(" "))
}

struct Query {
    kind: &'static str,
    text: String,
    /// The company the answer must be about, if any.
    want: Option<String>,
    /// The verdict the answer must have.
    verdict: fn(Verdict) -> bool,
}

fn queries(data: &Data) -> Vec<Query> {
    let mut rng = Rng(42);
    let mut out = Vec::new();
    for _ in 0..250 {
        let i = rng.below(data.names.len());
        let spelled = match rng.below(3) {
            0 => data.licences[i].clone(),
            1 => data.licences[i]
                .replace('.', " ")
                .replace('/', " / ")
                .to_lowercase(),
            _ => data.licences[i].replace('.', "-"),
        };
        out.push(Query {
            kind: "licence",
            text: spelled,
            want: Some(data.names[i].clone()),
            verdict: |v| v == Verdict::Match,
        });
    }
    for _ in 0..250 {
        let i = rng.below(data.names.len());
        out.push(Query {
            kind: "exact name",
            text: data.names[i].to_uppercase(),
            want: Some(data.names[i].clone()),
            verdict: |v| v == Verdict::Match,
        });
    }
    for _ in 0..250 {
        let i = rng.below(data.names.len());
        let text = typo(&data.names[i], &mut rng);
        if text.to_lowercase() == data.names[i].to_lowercase() {
            continue;
        }
        out.push(Query {
            kind: "typo",
            text,
            want: Some(data.names[i].clone()),
            verdict: |v| v == Verdict::Close,
        });
    }
    for _ in 0..250 {
        let i = rng.below(data.names.len());
        let j = (i + 1 + rng.below(data.names.len() - 1)) % data.names.len();
        out.push(Query {
            kind: "borrowed",
            text: format!("{} {}", data.names[j], data.licences[i]),
            want: Some(data.names[i].clone()),
            verdict: |v| v == Verdict::LicenceOther,
        });
    }
    for n in 0..250 {
        out.push(Query {
            kind: "unknown",
            text: format!("PT Zeta Qwerty Xylo {n}"),
            want: None,
            verdict: |v| matches!(v, Verdict::NotFound(_)),
        });
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn report(registry: &Registry, queries: &[Query]) {
    let index = registry.current();
    let mut all = Vec::new();
    for kind in ["licence", "exact name", "typo", "borrowed", "unknown"] {
        let mut times = Vec::new();
        let (mut right, mut wrong_match, mut listed, mut total) = (0, 0, 0, 0);
        for q in queries.iter().filter(|q| q.kind == kind) {
            total += 1;
            let result = index.search(&q.text);
            let first = result.candidates.first().map(|c| c.company.name.as_str());
            if (q.verdict)(result.verdict)
                && q.want.as_deref().is_none_or(|want| first == Some(want))
            {
                right += 1;
            } else if result.verdict == Verdict::Match {
                wrong_match += 1;
            } else if let Some(want) = &q.want
                && result.candidates.iter().any(|c| &c.company.name == want)
            {
                listed += 1;
            }
            for _ in 0..20 {
                let started = Instant::now();
                black_box(index.search(black_box(&q.text)));
                times.push(started.elapsed());
            }
        }
        times.sort();
        eprintln!(
            "search {kind:<10}: p50 {:>7.1?}  p99 {:>7.1?}  max {:>7.1?}  | {right}/{total} right, {listed} with the right one listed lower, {wrong_match} wrong matches",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or_default()
        );
        all.extend(times);
    }
    all.sort();
    eprintln!(
        "search all       : p50 {:>7.1?}  p99 {:>7.1?}  max {:>7.1?}  ({} timed searches)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default(),
        all.len()
    );
}

fn benches(c: &mut Criterion) {
    let data = generate();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("p3mi.csv");
    std::fs::write(&file, &data.csv).expect("write listing");
    let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).expect("store");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/agencies.sample.csv");
    let registry = Registry::load(&store, &sample).expect("registry");

    let started = Instant::now();
    let report_text = registry
        .import_csv(&store, &file, None, None, &mut |_, _| {})
        .expect("import");
    eprintln!(
        "first import of {} offices ({} companies, {} KiB): {:.1?}",
        data.offices,
        report_text.snapshot.companies,
        data.csv.len() / 1024,
        started.elapsed()
    );
    let queries = queries(&data);
    report(&registry, &queries);

    let mut group = c.benchmark_group("registry");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("import_10k_offices", |b| {
        b.iter(|| {
            registry
                .import_csv(&store, &file, None, None, &mut |_, _| {})
                .expect("import")
        })
    });
    group.finish();

    let mut n = 0usize;
    c.bench_function("search_mixed_query", |b| {
        b.iter(|| {
            n = (n + 1) % queries.len();
            black_box(
                registry
                    .current()
                    .search(black_box(&queries[n].text))
                    .verdict,
            )
        })
    });
}

criterion_group!(registry_benches, benches);

fn main() {
    registry_benches();
    Criterion::default().configure_from_args().final_summary();
}
