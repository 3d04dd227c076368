//! The agency registry end to end: import files into a real sled store, search them the way users type,
//! and run the `agency.check` action as a dialog would.
#![allow(clippy::unwrap_used)]

#[path = "engine_support/mod.rs"]
mod engine_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pandu::dialog::{Action, ActionCall, ActionResult, Lang};
use pandu::registry::{
    AgencyCheck, AgencyLabels, ImportError, Problem, Registry, RegistryError, SnapshotMeta,
    StaffText, Status, Verdict,
};
use pandu::storage::agencies::AgencyStore;
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};
use pandu::time::Date;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn labels() -> AgencyLabels {
    AgencyLabels::load(&repo("config/agencies.toml")).unwrap()
}

const HEADER: &str =
    "name,licence_number,status,office_type,address,city,province,licence_date,phone";

/// A small registry with the names the tests need, and some neighbours to make search realistic.
fn listing() -> String {
    let rows = [
        "PT Sukses Mandiri Utama,KEP.77/2019,aktif,kantor pusat,Jl. Merdeka 1,Kota Jakarta Timur,DKI Jakarta,2019-03-15,021-1",
        "PT Sukses Mandiri Utama,KEP 77 / 2019,aktif,kantor cabang,Jl. Pemuda 2,Kota Semarang,Jawa Tengah,2019-03-15,024-2",
        "PT Sukses Mandiri Utama,Kep-77/2019,aktif,kantor cabang,Jl. Hayam Wuruk 3,Kota Pekalongan,Jawa Tengah,2019-03-15,0285-3",
        "PT Sukses Makmur Jaya,KEP.78/2019,aktif,kantor pusat,Jl. A,Kota Surabaya,Jawa Timur,2019-04-01,031-4",
        "PT Bina Insani Utama,KEP.12/2020,dicabut,kantor pusat,Jl. B,Kota Bandung,Jawa Barat,2020-01-05,022-5",
        "PT Harapan Bangsa Sejahtera,KEP.13/2020,dibekukan,kantor pusat,Jl. C,Kota Medan,Sumatera Utara,2020-02-06,061-6",
        "PT Lintas Samudra Raya,KEP.14/2017,tidak diperpanjang,kantor pusat,Jl. D,Kota Tangerang,Banten,2017-02-06,021-7",
        "PT Karya Putra Mandiri,KEP.15/2021,aktif,kantor pusat,Jl. E,Kota Cirebon,Jawa Barat,2021-05-05,0231-8",
        "PT Karya Putri Mandiri,KEP.16/2021,aktif,kantor pusat,Jl. F,Kota Malang,Jawa Timur,2021-05-06,0341-9",
        "PT Jaya Abadi Sentosa,KEP.17/2021,aktif,kantor pusat,Jl. G,Kabupaten Batang,Jawa Tengah,2021-05-07,0285-10",
        "PT Duta Jaya Perkasa,KEP.18/2021,aktif,kantor pusat,Jl. H,Kota Solo,Jawa Tengah,2021-05-08,0271-11",
        "PT Mitra Karya Indonesia,KEP.19/2021,aktif,kantor pusat,Jl. I,Kota Bogor,Jawa Barat,2021-05-09,0251-12",
    ];
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

struct World {
    dir: tempfile::TempDir,
    data: PathBuf,
    files: PathBuf,
    store: Store,
    registry: Registry,
}

impl World {
    /// An empty database: the demo data is served.
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let store = Store::open(&data, DEFAULT_CACHE_BYTES).unwrap();
        let registry = Registry::load(&store, &repo("config/agencies.sample.csv")).unwrap();
        World {
            dir,
            data,
            files,
            store,
            registry,
        }
    }

    fn with_listing() -> World {
        let world = World::new();
        world.import("listing.csv", &listing()).unwrap();
        world
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.files.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn import(&self, name: &str, text: &str) -> Result<pandu::registry::ImportReport, ImportError> {
        let path = self.file(name, text);
        self.registry.import_csv(
            &self.store,
            &path,
            Some("SISKOP2MI".into()),
            Date::parse("2026-11-20"),
            &mut |_, _| {},
        )
    }

    fn check(&self) -> AgencyCheck {
        AgencyCheck::new(self.registry.clone(), labels())
    }
}

fn run(check: &AgencyCheck, vars: &BTreeMap<String, String>, lang: Lang) -> ActionResult {
    let user = pandu::storage::UserKey::new(pandu::storage::Channel::Console, "t");
    check.run(&ActionCall {
        user: &user,
        vars,
        attachments: &[],
        lang,
        now: 0,
        seed: 0,
    })
}

fn ask(check: &AgencyCheck, query: &str) -> ActionResult {
    let vars = BTreeMap::from([("agency_query".to_string(), query.to_string())]);
    run(check, &vars, Lang::Id)
}

fn var<'a>(result: &'a ActionResult, name: &str) -> &'a str {
    result
        .vars
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{name} not set"))
}

fn best_name(registry: &Registry, query: &str) -> (Verdict, Vec<String>) {
    let index = registry.current();
    let result = index.search(query);
    (
        result.verdict,
        result
            .candidates
            .iter()
            .map(|c| c.company.name.clone())
            .collect(),
    )
}

#[test]
fn licence_numbers_are_found_in_any_spelling() {
    let world = World::with_listing();
    for query in [
        "KEP.77/2019",
        "kep 77 / 2019",
        "Kep-77/2019",
        "kep77/2019",
        "KEP. 077 TAHUN 2019",
        "77/2019",
    ] {
        let (verdict, names) = best_name(&world.registry, query);
        assert_eq!(verdict, Verdict::Match, "{query}");
        assert_eq!(names[0], "PT Sukses Mandiri Utama", "{query}");
    }
    let (verdict, _) = best_name(&world.registry, "KEP.99/2019");
    assert!(matches!(verdict, Verdict::NotFound(_)));
}

#[test]
fn a_registered_name_is_a_match_in_any_case_spacing_punctuation_or_prefix() {
    let world = World::with_listing();
    for query in [
        "PT Sukses Mandiri Utama",
        "P.T. SUKSES MANDIRI UTAMA",
        "pt. sukses-mandiri  utama",
        "sukses mandiri utamaaa",
        "Sukses Mandiri Utama, PT",
    ] {
        let (verdict, names) = best_name(&world.registry, query);
        assert_eq!(verdict, Verdict::Match, "{query}");
        assert_eq!(names, ["PT Sukses Mandiri Utama"], "{query}");
    }
}

#[test]
fn typos_missing_and_swapped_words_find_the_company_but_never_as_a_match() {
    let world = World::with_listing();
    let cases = [
        ("pt sukses mandri utma", "PT Sukses Mandiri Utama"),
        ("suksess mandiri utama", "PT Sukses Mandiri Utama"),
        ("sukses utama", "PT Sukses Mandiri Utama"),
        ("utama mandiri sukses", "PT Sukses Mandiri Utama"),
        ("mandiri sukses utma", "PT Sukses Mandiri Utama"),
        ("sukses makmur jya", "PT Sukses Makmur Jaya"),
        ("harapan bangsa sejahtra", "PT Harapan Bangsa Sejahtera"),
        ("Lintas Samudera Raya", "PT Lintas Samudra Raya"),
        ("jaya sentosa abadi", "PT Jaya Abadi Sentosa"),
    ];
    for (query, want) in cases {
        let (verdict, names) = best_name(&world.registry, query);
        assert_eq!(verdict, Verdict::Close, "{query}: {names:?}");
        assert_eq!(names[0], want, "{query}");
    }
    // A registered name with a word added is not that company.
    let (verdict, names) = best_name(&world.registry, "PT Sukses Mandiri Utama Jaya");
    assert_eq!(verdict, Verdict::Close);
    assert_eq!(names[0], "PT Sukses Mandiri Utama");
}

#[test]
fn a_name_not_registered_lists_the_closest_and_a_pick_shows_both_names() {
    let world = World::with_listing();
    let check = world.check();
    let result = ask(&check, "karya putr mandiri");
    assert_eq!(result.outcome, "close");
    assert_eq!(var(&result, "agency_typed"), "karya putr mandiri");
    let list = var(&result, "agency_candidates");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("1. PT Karya Put"), "{list}");
    assert!(lines[1].starts_with("2. PT Karya Put"), "{list}");
    // Each line: name, city, licence number, status.
    assert!(lines[0].contains("Izin KEP.1"), "{list}");
    assert!(list.contains("aktif (izin berlaku)"), "{list}");
    assert!(
        list.contains("Kota Malang") && list.contains("Kota Cirebon"),
        "{list}"
    );
    assert_eq!(var(&result, "agency_name"), "");
    assert!(var(&result, "agency_pick_2").starts_with("2. PT Karya Put"));
    assert_eq!(var(&result, "agency_pick_3"), "");

    // The dialog keeps the action's variables in the session; the user answers "2" to the list.
    let mut vars = result.vars.clone();
    vars.insert("agency_pick".into(), "2".into());
    let picked = run(&check, &vars, Lang::Id);
    assert_eq!(picked.outcome, "picked");
    let second = lines[1].trim_start_matches("2. ");
    assert!(second.starts_with(var(&picked, "agency_name")), "{second}");
    assert_eq!(var(&picked, "agency_typed"), "karya putr mandiri");
    assert_eq!(var(&picked, "agency_candidates"), "");
    assert_eq!(var(&picked, "agency_candidate_keys"), "");
    assert_eq!(var(&picked, "agency_pick"), "");

    // A number typed to the plain question later is not a pick from that old list.
    let mut later = picked.vars.clone();
    later.insert("agency_query".into(), "2".into());
    assert_eq!(run(&check, &later, Lang::Id).outcome, "not_found");

    // Text typed at the list is a new name.
    vars.insert("agency_pick".into(), "PT Karya Putri Mandiri".into());
    let typed = run(&check, &vars, Lang::Id);
    assert_eq!(typed.outcome, "licensed");
    assert_eq!(var(&typed, "agency_query"), "PT Karya Putri Mandiri");

    // Typed exactly, a name is not a guess even when a sibling name is close.
    let exact = ask(&check, "PT Karya Putra Mandiri");
    assert_eq!(exact.outcome, "licensed");
    assert_eq!(var(&exact, "agency_name"), "PT Karya Putra Mandiri");
}

#[test]
fn outcomes_follow_the_licence_status() {
    let world = World::with_listing();
    let check = world.check();
    let cases = [
        ("KEP.77/2019", "licensed", Status::Active),
        ("bina insani utama", "revoked", Status::Revoked),
        (
            "PT Harapan Bangsa Sejahtera",
            "suspended",
            Status::Suspended,
        ),
        ("lintas samudra raya", "not_renewed", Status::NotRenewed),
    ];
    for (query, outcome, status) in cases {
        let result = ask(&check, query);
        assert_eq!(result.outcome, outcome, "{query}");
        assert_eq!(var(&result, "agency_status_code"), status.code());
        assert!(!var(&result, "agency_status").is_empty());
        assert_eq!(var(&result, "agency_snapshot_date"), "2026-11-20");
        assert_eq!(var(&result, "agency_source"), "SISKOP2MI");
        assert_eq!(var(&result, "agency_demo"), "");
    }
    let revoked = ask(&check, "bina insani utama");
    assert!(var(&revoked, "agency_status").contains("dicabut"));
    let english = run(
        &check,
        &BTreeMap::from([("agency_query".into(), "bina insani utama".into())]),
        Lang::En,
    );
    assert!(var(&english, "agency_status").contains("revoked"));
}

#[test]
fn head_office_and_branches_are_one_company_and_the_pekalongan_branch_is_shown() {
    let world = World::with_listing();
    let index = world.registry.current();
    let company = index.by_licence("kep 77/2019").unwrap();
    assert_eq!(company.offices.len(), 3);
    assert_eq!(index.companies().len(), 10);

    let check = world.check();
    let result = ask(&check, "sukses mandiri utama");
    assert_eq!(result.outcome, "licensed");
    assert_eq!(var(&result, "agency_licence"), "KEP.77/2019");
    assert_eq!(var(&result, "agency_licence_date"), "2019-03-15");
    assert_eq!(
        var(&result, "agency_branch"),
        "Jl. Hayam Wuruk 3, Kota Pekalongan, Jawa Tengah"
    );
    assert_eq!(var(&result, "agency_branch_type"), "kantor cabang");
    assert_eq!(var(&result, "agency_phone"), "0285-3");

    // Near Pekalongan counts too; otherwise the head office.
    let batang = ask(&check, "jaya abadi sentosa");
    assert!(var(&batang, "agency_branch").contains("Kabupaten Batang"));
    let far = ask(&check, "sukses makmur jaya");
    assert_eq!(
        var(&far, "agency_branch"),
        "Jl. A, Kota Surabaya, Jawa Timur"
    );
    assert_eq!(var(&far, "agency_branch_type"), "kantor pusat");
}

#[test]
fn a_registered_name_with_a_word_added_is_never_licensed() {
    let world = World::with_listing();
    let check = world.check();
    let exact = ask(&check, "PT Sukses Mandiri Utama");
    assert_eq!(exact.outcome, "licensed");
    for query in [
        "PT Sukses Mandiri Utama Jaya",
        "sukses mandri utma",
        "PT Mandiri Sukses Utama",
        "PT Sukses Mandiri",
    ] {
        let close = ask(&check, query);
        assert_eq!(close.outcome, "close", "{query}");
        assert_eq!(var(&close, "agency_name"), "", "{query}");
        assert!(
            var(&close, "agency_candidates").starts_with("1. PT Sukses Mandiri Utama,"),
            "{query}: {}",
            var(&close, "agency_candidates")
        );
        assert_eq!(var(&close, "agency_typed"), query.trim());
    }
}

#[test]
fn a_licence_number_with_another_name_says_the_number_is_someone_elses() {
    let world = World::with_listing();
    let check = world.check();
    for query in [
        "PT ABC KEP.77/2019",
        "pt abc no izin kep 77/2019",
        "KEP.77/2019 PT Sukses Mandiri Utama Jaya",
        "PT Karya Putri Mandiri 77/2019",
    ] {
        let result = ask(&check, query);
        assert_eq!(result.outcome, "licence_other", "{query}");
        assert_eq!(var(&result, "agency_name"), "PT Sukses Mandiri Utama");
        assert_eq!(var(&result, "agency_licence"), "KEP.77/2019");
        assert!(!var(&result, "agency_typed").is_empty(), "{query}");
    }
    assert_eq!(
        var(&ask(&check, "PT ABC KEP.77/2019"), "agency_typed"),
        "PT ABC"
    );
    // The right name with its number, or the number alone, is the company.
    for query in [
        "PT Sukses Mandiri Utama KEP.77/2019",
        "p.t. sukses mandiri utama, no. izin KEP 77 / 2019",
        "izin 77/2019",
    ] {
        assert_eq!(ask(&check, query).outcome, "licensed", "{query}");
    }
    // Same digits under another prefix: not the number, shown to compare.
    assert_eq!(ask(&check, "B.77/2019").outcome, "close");
    // Letters the registered number does not have, or lacks ("KEP.101/2019" on a flyer when the
    // licence is "KEP.101/PPTKIS/2019"): the digits agree, the number does not; never "licensed".
    for query in ["KEP.77/PPTKIS/2019", "kep 77 pptkis 2019", "SIUP B 77/2019"] {
        let result = ask(&check, query);
        assert_eq!(result.outcome, "close", "{query}");
        assert_eq!(
            var(&result, "agency_name"),
            "",
            "{query}: no answer names a company"
        );
    }
}

/// A CV is not the PT of the same name (found by playing the bot as a user, stop 18: "CV Bina Karya
/// Mandiri Sejahtera" was answered "licensed, exact match" for the PT): the closest, never an answer.
#[test]
fn another_legal_form_is_another_company() {
    let world = World::with_listing();
    let check = world.check();
    for query in [
        "CV Sukses Mandiri Utama",
        "cv. sukses mandiri utama",
        "Sukses Mandiri Utama, CV",
    ] {
        let result = ask(&check, query);
        assert_eq!(result.outcome, "close", "{query}");
        assert_eq!(
            var(&result, "agency_name"),
            "",
            "{query}: no answer names a company"
        );
    }
    // The PT itself, with or without its form, is still the company.
    for query in [
        "PT Sukses Mandiri Utama",
        "Sukses Mandiri Utama",
        "P.T. SUKSES MANDIRI UTAMA",
    ] {
        assert_eq!(ask(&check, query).outcome, "licensed", "{query}");
    }
}

#[test]
fn unknown_and_unusable_queries_get_an_honest_answer_quickly() {
    let world = World::with_listing();
    let check = world.check();
    let unknown = ask(&check, "PT Rejeki Nomplok Internasional");
    assert_eq!(unknown.outcome, "not_found");
    assert_eq!(var(&unknown, "agency_hint"), "");
    assert_eq!(var(&unknown, "agency_snapshot_date"), "2026-11-20");

    let huge = "sukses ".repeat(800);
    let gibberish: String = "xq".repeat(2_500);
    for query in [
        "a",
        "PT",
        "!!!",
        "   ",
        "🙂🙂",
        "",
        huge.as_str(),
        gibberish.as_str(),
    ] {
        let started = Instant::now();
        let result = ask(&check, query);
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{query:.20}"
        );
        assert_eq!(result.outcome, "not_found", "{query:.20}");
        assert!(!var(&result, "agency_hint").is_empty(), "{query:.20}");
    }
    // No query at all (the variable was never set) is not a crash either.
    let none = run(&check, &BTreeMap::new(), Lang::Id);
    assert_eq!(none.outcome, "not_found");
}

#[test]
fn the_demo_data_is_served_until_a_listing_is_imported() {
    let world = World::new();
    let check = world.check();
    let demo = ask(&check, "PT Contoh Sejahtera Abadi (DEMO)");
    assert_eq!(demo.outcome, "licensed");
    assert_eq!(var(&demo, "agency_demo"), "1");
    assert_eq!(var(&demo, "agency_snapshot_date"), "2026-11-01");
    assert!(var(&demo, "agency_source").contains("fiktif"));
    assert!(var(&demo, "agency_branch").contains("Kota Pekalongan"));
    assert_eq!(ask(&check, "contoh dana perkasa demo").outcome, "revoked");
    assert_eq!(
        ask(&check, "contoh harapan samudra demo").outcome,
        "suspended"
    );
    assert_eq!(
        ask(&check, "contoh lintas negeri (demo)").outcome,
        "not_renewed"
    );
    let similar = ask(&check, "contoh mitra");
    assert_eq!(similar.outcome, "close");
    assert_eq!(var(&similar, "agency_candidates").lines().count(), 2);
    // One letter more or less lists the nearer name first, never as a match.
    let sentosa = ask(&check, "mitra sentoza");
    assert_eq!(sentosa.outcome, "close");
    assert!(
        var(&sentosa, "agency_candidates").starts_with("1. PT Contoh Mitra Sentosa (DEMO),"),
        "{}",
        var(&sentosa, "agency_candidates")
    );
    let staff = labels();
    let demo_line = staff.staff().text(StaffText::StatsDemo);
    assert!(world.registry.stats_text(&staff).contains(&demo_line));

    world.import("listing.csv", &listing()).unwrap();
    // The same action handle sees the new index at once.
    let real = ask(&check, "sukses mandiri utama");
    assert_eq!(var(&real, "agency_demo"), "");
    assert_eq!(
        ask(&check, "PT Contoh Sejahtera Abadi (DEMO)").outcome,
        "not_found"
    );
}

#[test]
fn a_bad_file_reports_every_bad_row_and_changes_nothing() {
    let world = World::with_listing();
    let bad = format!(
        "{HEADER}\n\
         PT Baru Satu,KEP.1/2024,aktif,kantor pusat,Jl. 1,Kota Semarang,Jawa Tengah,2024-01-01,1\n\
         PT Baru Dua,KEP.2/2024,aktif,kantor pusat,Jl. 2,Kota Semarang,Jawa Tengah,31/02/2024,2\n\
         PT Baru Tiga,KEP.3/2024,beku,kantor pusat,Jl. 3,Kota Semarang,Jawa Tengah,2024-01-03,3\n\
         ,KEP.4/2024,aktif,kantor pusat,Jl. 4,Kota Semarang,Jawa Tengah,2024-01-04,4\n\
         PT Baru Lima,KEP.1/2024,aktif,kantor cabang,Jl. 5,Kota Batang,Jawa Tengah,2024-01-01,5\n"
    );
    let err = world.import("bad.csv", &bad).unwrap_err();
    let ImportError::Rows { errors, .. } = &err else {
        panic!("{err}");
    };
    let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert_eq!(
        errors[3].problems,
        vec![Problem::LicenceTaken {
            licence: "KEP.1/2024".into(),
            name: "PT Baru Satu".into(),
            line: 2
        }]
    );
    // Staff read every row with its line, in the words of config/agencies.toml.
    let staff = labels();
    let texts = staff.staff();
    let message = err.describe(texts);
    let count_line = texts.fill(
        StaffText::FileRows,
        &[
            ("file", world.files.join("bad.csv").display().to_string()),
            ("count", "4".into()),
            ("rows", String::new()),
        ],
    );
    assert!(message.starts_with(count_line.trim_end()), "{message}");
    let row6 = texts.fill(
        StaffText::Row,
        &[
            ("line", "6".into()),
            ("problems", errors[3].problems[0].describe(texts)),
        ],
    );
    assert!(message.contains(&row6), "{message}");

    let missing_column = "nama,nomor_izin,status,kota\nPT X,KEP.1/2024,aktif,Semarang\n";
    let err = world.import("cols.csv", missing_column).unwrap_err();
    assert!(
        matches!(&err, ImportError::Header { line: 1, problems, .. }
            if matches!(problems.as_slice(), [Problem::MissingColumns { .. }])),
        "{err}"
    );
    assert!(err.describe(texts).contains("jenis_kantor"), "{err}");

    let binary = world.files.join("listing.xlsx");
    std::fs::write(&binary, b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00").unwrap();
    let err = world
        .registry
        .import_csv(&world.store, &binary, None, None, &mut |_, _| {})
        .unwrap_err();
    assert!(matches!(err, ImportError::Binary { line: 1, .. }), "{err}");

    // Still the old listing, in memory and on disk.
    assert_eq!(world.registry.current().companies().len(), 10);
    assert!(world.registry.current().by_licence("KEP.1/2024").is_none());
    drop(world.registry);
    let store = world.store.clone();
    let reloaded = Registry::load(&store, &repo("config/agencies.sample.csv")).unwrap();
    assert_eq!(reloaded.current().companies().len(), 10);
}

/// Opens the database again after the last handle was dropped (`Store::open` waits for the lock
/// that sled's workers still hold for a moment).
fn reopen(data: &Path) -> Store {
    Store::open(data, DEFAULT_CACHE_BYTES).unwrap()
}

#[test]
fn a_crash_between_writing_and_switching_keeps_the_old_snapshot() {
    let world = World::with_listing();
    let old_id = world.registry.current().meta().id;
    // Write a complete new snapshot but "crash" before the pointer moves.
    {
        let agencies = AgencyStore::open(&world.store).unwrap();
        let id = agencies.new_id().unwrap();
        let parsed = pandu::registry::import::parse_bytes(
            Path::new("new.csv"),
            format!("{HEADER}\nPT Hantu,KEP.9/2025,aktif,kantor pusat,Jl. X,Kota Y,Prov Z,2025-01-01,0\n")
                .as_bytes(),
            &mut |_, _| {},
        )
        .unwrap();
        let meta = SnapshotMeta {
            id,
            source: "crash".into(),
            as_of: Date::parse("2026-12-01").unwrap(),
            imported_at: 0,
            file: "new.csv".into(),
            demo: false,
            offices: 1,
            companies: 1,
        };
        agencies.write_snapshot(id, &meta, &parsed.offices).unwrap();
    }
    let World {
        dir,
        data,
        store,
        registry,
        ..
    } = world;
    drop(registry);
    drop(store);
    let store = reopen(&data);
    let registry = Registry::load(&store, &repo("config/agencies.sample.csv")).unwrap();
    let index = registry.current();
    assert_eq!(index.meta().id, old_id);
    assert!(index.by_licence("KEP.9/2025").is_none());
    assert!(index.by_licence("KEP.77/2019").is_some());
    // The orphan is cleaned up by the next successful import.
    let agencies = AgencyStore::open(&store).unwrap();
    assert_eq!(agencies.snapshot_ids().unwrap().len(), 2);
    let path = dir.path().join("again.csv");
    std::fs::write(&path, listing()).unwrap();
    registry
        .import_csv(&store, &path, None, None, &mut |_, _| {})
        .unwrap();
    assert_eq!(agencies.snapshot_ids().unwrap().len(), 2);
}

#[test]
fn an_import_reports_changes_and_can_be_rolled_back() {
    let world = World::with_listing();
    let first = world.registry.current().meta().clone();
    let changed = listing()
        .replace(
            "PT Sukses Makmur Jaya,KEP.78/2019,aktif",
            "PT Sukses Makmur Jaya,KEP.78/2019,dicabut",
        )
        .replace(
            "PT Mitra Karya Indonesia,KEP.19/2021,aktif,kantor pusat,Jl. I,Kota Bogor,Jawa Barat,2021-05-09,0251-12\n",
            "PT Anugerah Baru,KEP.20/2026,aktif,kantor pusat,Jl. J,Kota Pekalongan,Jawa Tengah,2026-01-01,0285-13\n",
        );
    let mut calls = Vec::new();
    let path = world.file("second.csv", &changed);
    let report = world
        .registry
        .import_csv(&world.store, &path, None, None, &mut |done, total| {
            calls.push((done, total))
        })
        .unwrap();
    let last = calls.last().copied().unwrap();
    assert_eq!(last.0, last.1);
    assert_eq!(report.added, vec!["PT Anugerah Baru".to_string()]);
    assert_eq!(report.removed, vec!["PT Mitra Karya Indonesia".to_string()]);
    assert_eq!(
        report.status_changed,
        vec![(
            "PT Sukses Makmur Jaya".to_string(),
            Status::Active,
            Status::Revoked
        )]
    );
    assert_eq!(report.snapshot.source, "SISKOP2MI");
    assert_eq!(report.snapshot.as_of, Date::today());
    let staff = labels();
    let texts = staff.staff();
    let summary = report.describe(texts);
    let one = [("n", "1".to_string())];
    assert!(
        summary.contains(&texts.fill(StaffText::ImportAdded, &one)),
        "{summary}"
    );
    assert!(
        summary.contains("PT Sukses Makmur Jaya: aktif -> dicabut"),
        "{summary}"
    );
    assert!(
        summary.contains(&texts.fill(StaffText::ImportRemoved, &one)),
        "{summary}"
    );

    let check = world.check();
    assert_eq!(ask(&check, "sukses makmur jaya").outcome, "revoked");
    let kept = texts.fill(
        StaffText::StatsPrevious,
        &[("snapshot", texts.snapshot(&first))],
    );
    let stats = world.registry.stats_text(&staff);
    assert!(stats.contains(&kept), "{stats}");

    let back = world.registry.rollback(&world.store).unwrap();
    assert_eq!(back.id, first.id);
    assert_eq!(ask(&check, "sukses makmur jaya").outcome, "licensed");
    assert_eq!(ask(&check, "anugerah baru").outcome, "not_found");
    // Survives a restart.
    let reloaded = Registry::load(&world.store, &repo("config/agencies.sample.csv")).unwrap();
    assert_eq!(reloaded.current().meta().id, first.id);
}

#[test]
fn rollback_with_nothing_to_roll_back_is_refused() {
    let world = World::new();
    assert!(matches!(
        world.registry.rollback(&world.store),
        Err(RegistryError::NoPrevious)
    ));
    world.import("one.csv", &listing()).unwrap();
    assert!(matches!(
        world.registry.rollback(&world.store),
        Err(RegistryError::NoPrevious)
    ));
}

#[test]
fn staff_search_and_stats_are_printable() {
    let world = World::with_listing();
    let staff = labels();
    let texts = staff.staff();
    // Staff see the verdict users get, in the same words.
    let exact = world
        .registry
        .search_text("p.t. sukses mandiri utama", &staff);
    let lines: Vec<&str> = exact.lines().collect();
    assert_eq!(lines[1], texts.text(StaffText::SearchMatch), "{exact}");
    assert!(
        lines[2].contains(&texts.text(StaffText::KindExactName)),
        "{exact}"
    );
    assert!(lines[2].ends_with("| aktif"), "{exact}");
    let text = world.registry.search_text("sukses mandri utma", &staff);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], texts.text(StaffText::SearchClose), "{text}");
    assert!(
        lines[2].contains(&texts.text(StaffText::KindName)),
        "{text}"
    );
    assert!(text.contains("PT Sukses Mandiri Utama"), "{text}");
    assert!(text.contains("Kota Pekalongan"), "{text}");
    let other = world.registry.search_text("PT ABC KEP.77/2019", &staff);
    assert_eq!(
        other.lines().nth(1),
        Some(
            texts
                .fill(StaffText::SearchLicenceOther, &[("typed", "PT ABC".into())])
                .as_str()
        ),
        "{other}"
    );
    let unknown = world.registry.search_text("x", &staff);
    assert_eq!(
        unknown.lines().nth(1),
        Some(
            texts
                .fill(
                    StaffText::SearchNotFound,
                    &[(
                        "hint",
                        staff.hint(pandu::registry::Hint::TooShort, Lang::Id).into()
                    )]
                )
                .as_str()
        ),
        "{unknown}"
    );
    let stats = world.registry.stats_text(&staff);
    assert!(
        stats.contains("7 aktif, 1 dibekukan, 1 dicabut, 1 tidak diperpanjang"),
        "{stats}"
    );
    let offices = texts.fill(
        StaffText::StatsOffices,
        &[("heads", "10".into()), ("branches", "2".into())],
    );
    assert!(stats.contains(&offices), "{stats}");
}

#[test]
fn a_missing_demo_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
    let err = Registry::load(&store, &dir.path().join("nope.csv"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("demo registry") && err.contains("nope.csv"),
        "{err}"
    );
}

#[test]
fn two_licences_under_one_name_are_both_shown() {
    let world = World::new();
    let text = format!(
        "{HEADER}\n\
         PT Kembar Jaya,KEP.1/2015,dicabut,kantor pusat,Jl. Lama,Kota Semarang,Jawa Tengah,2015-01-01,1\n\
         PT. KEMBAR JAYA,KEP.9/2024,aktif,kantor pusat,Jl. Baru,Kota Semarang,Jawa Tengah,2024-01-01,2\n"
    );
    world.import("twins.csv", &text).unwrap();
    let result = ask(&world.check(), "pt kembar jaya");
    assert_eq!(result.outcome, "same_name");
    let list = var(&result, "agency_candidates");
    assert!(list.contains("dicabut") && list.contains("aktif"), "{list}");
}

// ---- End to end through the dialog runtime: a question saves `agency_query`, the action branches. ----

struct Chat {
    bot: pandu::dialog::Bot,
    actions: pandu::dialog::Actions,
    session: pandu::dialog::Session,
    user: pandu::storage::UserKey,
    now: u64,
}

impl Chat {
    fn new(world: &World) -> Chat {
        let dir = world.files.join("dialogs");
        engine_support::write_dialogs(&dir, "registry");
        let mut actions = pandu::dialog::Actions::new();
        let registry = pandu::registry::check::register_action(
            &mut actions,
            &world.store,
            &repo("config/agencies.sample.csv"),
            &repo("config/agencies.toml"),
        )
        .unwrap();
        // The registered action answers from the same store the world imported into.
        assert_eq!(
            registry.current().meta().id,
            world.registry.current().meta().id
        );
        let (bot, _warnings) = match pandu::dialog::load_dir(&dir, &actions) {
            Ok(loaded) => loaded,
            Err(diags) => panic!("{diags:#?}"),
        };
        Chat {
            bot,
            actions,
            session: pandu::dialog::Session::default(),
            user: pandu::storage::UserKey::new(pandu::storage::Channel::Console, "e2e"),
            now: 1_800_000_000,
        }
    }

    fn say(&mut self, text: &str) -> String {
        self.send(pandu::dialog::InputKind::Text(text.to_string()))
            .0
    }

    /// Any input; the replies' text and the buttons of the last reply (id, label).
    fn send(&mut self, kind: pandu::dialog::InputKind) -> (String, Vec<(String, String)>) {
        self.now += 5;
        let input = pandu::dialog::Input { kind, at: self.now };
        let env = pandu::dialog::StepEnv {
            now: self.now,
            seed: 7,
            idle_secs: 3600,
            user: &self.user,
        };
        let step = pandu::dialog::step(
            &self.bot,
            &self.actions,
            std::mem::take(&mut self.session),
            &input,
            &env,
        );
        self.session = step.session;
        let buttons = step
            .replies
            .last()
            .map(|r| {
                r.choices
                    .iter()
                    .map(|c| (c.id.clone(), c.label.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let text = step
            .replies
            .iter()
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join("\n");
        (text, buttons)
    }
}

#[test]
fn a_user_checks_companies_through_a_dialog() {
    let world = World::with_listing();
    let mut chat = Chat::new(&world);
    chat.say("halo");
    assert!(chat.say("cek perusahaan").contains("Ketik nama perusahaan"));
    // A typo finds the company, but as a name to compare, not as "licensed".
    let answer = chat.say("pt sukses mandri utma");
    assert!(
        answer.starts_with("TIDAK TERDAFTAR PERSIS: pt sukses mandri utma"),
        "{answer}"
    );
    assert!(!answer.contains("BERIZIN"), "{answer}");
    assert!(answer.contains("1. PT Sukses Mandiri Utama,"), "{answer}");
    // Picking it shows the record with both names.
    let answer = chat.say("1");
    assert!(
        answer
            .starts_with("DATA UNTUK PT Sukses Mandiri Utama; ANDA MENGETIK pt sukses mandri utma"),
        "{answer}"
    );

    chat.say("cek");
    let answer = chat.say("PT SUKSES-MANDIRI UTAMA");
    assert!(
        answer.contains("BERIZIN: PT Sukses Mandiri Utama (aktif)"),
        "{answer}"
    );
    assert!(
        answer.contains("kantor cabang: Jl. Hayam Wuruk 3, Kota Pekalongan"),
        "{answer}"
    );
    assert!(answer.contains("Data SISKOP2MI per 2026-11-20"), "{answer}");

    chat.say("cek");
    let answer = chat.say("karya putr mandiri");
    assert!(answer.contains("1. PT Karya Put"), "{answer}");
    assert!(answer.contains("2. PT Karya Put"), "{answer}");
    // Not a number: a new name.
    let answer = chat.say("karya putra mandiri");
    assert!(answer.starts_with("BERIZIN: PT Karya Putra"), "{answer}");

    chat.say("cek");
    assert!(
        chat.say("kep 12 / 2020")
            .contains("DICABUT: PT Bina Insani Utama")
    );
    chat.say("cek");
    assert!(chat.say("PT Bina Insani Jaya kep 12 / 2020").contains(
        "NOMOR MILIK LAIN: KEP.12/2020 milik PT Bina Insani Utama, bukan PT Bina Insani Jaya"
    ));
    chat.say("cek");
    let answer = chat.say("x");
    assert!(
        answer.contains("TIDAK ADA di daftar SISKOP2MI per 2026-11-20"),
        "{answer}"
    );
    assert!(answer.contains("terlalu pendek"), "{answer}");
    chat.say("cek");
    let answer = chat.say(&"PT Palsu Sekali ".repeat(400));
    assert!(answer.contains("terlalu panjang"), "{answer}");
}

#[test]
fn the_closest_names_come_as_buttons_that_work_only_while_the_list_is_open() {
    let world = World::with_listing();
    let mut chat = Chat::new(&world);
    chat.say("halo");
    chat.say("cek perusahaan");
    let (answer, buttons) = chat.send(pandu::dialog::InputKind::Text("karya putr mandiri".into()));
    assert!(answer.starts_with("TIDAK TERDAFTAR PERSIS"), "{answer}");
    // One button per company listed, numbered like the list; none for the empty slots.
    assert_eq!(buttons.len(), 2, "{buttons:?}");
    assert_eq!(buttons[0].0, "cek/mirip/1");
    assert!(buttons[1].1.starts_with("2. PT Karya Put"), "{buttons:?}");
    let second = buttons[1].1.trim_start_matches("2. ").to_string();
    // Pressing a button (Telegram callback, WhatsApp reply) picks that company.
    let (answer, _) = chat.send(pandu::dialog::InputKind::Choice(buttons[1].0.clone()));
    assert!(
        answer.starts_with(&format!(
            "DATA UNTUK {second}; ANDA MENGETIK karya putr mandiri"
        )),
        "{answer}"
    );
    // The same button pressed later, when the list is gone, picks nothing.
    chat.say("cek");
    let (answer, _) = chat.send(pandu::dialog::InputKind::Choice(buttons[0].0.clone()));
    assert!(!answer.contains("DATA UNTUK"), "{answer}");
}

/// The whole path a user and a staff member see: the bot (real engine, shipped dialogs) answers from the
/// demo list and says so; staff import the official list with `pandu agencies import` (the same code a
/// forwarded command runs inside `pandu serve`); the very next question is answered from the new list,
/// with its date, and the demo warning is gone.
#[tokio::test]
async fn a_staff_import_is_what_the_running_bot_answers_next() {
    use pandu::admin::{AgenciesCommand, StaffCommand, StaffContext};
    use pandu::dialog::{Input, InputKind};
    use pandu::engine::Inbound;
    use pandu::storage::{Channel, UserKey};

    let dir = tempfile::tempdir().unwrap();
    let mut config = pandu::config::Config {
        data_dir: dir.path().join("data"),
        ..pandu::config::Config::default()
    };
    config.dialogs.dir = repo("dialogs");
    config.dialogs.facts_file = repo("config/facts.yaml");
    config.cases.contacts_file = repo("config/contacts.yaml");
    config.agencies.sample_file = repo("config/agencies.sample.csv");
    config.agencies.labels_file = repo("config/agencies.toml");
    let store = pandu::app::open_store(&config).unwrap();
    let running = pandu::app::start_engine(&config, &store).unwrap();
    let user = UserKey::new(Channel::Console, "calon-pmi");
    let mut n = 0;
    let mut say = async |text: &str| {
        n += 1;
        let ack = running
            .engine
            .handle(Inbound {
                user: user.clone(),
                message_id: format!("m{n}"),
                input: Input {
                    kind: InputKind::Text(text.into()),
                    at: 0,
                },
                lang_hint: None,
            })
            .await
            .unwrap();
        ack.replies
            .iter()
            .map(|e| e.reply.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };

    say("halo").await;
    say("cek perusahaan").await;
    let before = say("PT Sukses Mandiri Utama").await;
    assert!(!before.contains("KEP.77/2019"), "{before}");
    assert!(
        before.contains("data contoh"),
        "demo data must say so: {before}"
    );

    let file = dir.path().join("daftar-p3mi.csv");
    std::fs::write(&file, listing()).unwrap();
    let ctx = StaffContext {
        config: config.clone(),
        engine: running.engine.clone(),
        registry: running.registry.clone(),
    };
    let report = pandu::admin::execute(
        &ctx,
        &StaffCommand::Agencies(AgenciesCommand::Import {
            file,
            source: Some("SISKOP2MI".into()),
            as_of: Some("2026-11-20".into()),
        }),
        "test:staff",
    )
    .await
    .unwrap();
    assert!(
        report.contains("12"),
        "the report counts the offices: {report}"
    );

    say("cek perusahaan").await;
    let after = say("PT Sukses Mandiri Utama").await;
    assert!(after.contains("KEP.77/2019"), "{after}");
    assert!(
        after.contains("2026-11-20"),
        "the list's date is shown: {after}"
    );
    assert!(
        after.contains("Kota Pekalongan"),
        "the nearest office: {after}"
    );
    assert!(!after.contains("data contoh"), "{after}");

    // A bad --as-of is refused with a message, and nothing changes.
    let refused = pandu::admin::execute(
        &ctx,
        &StaffCommand::Agencies(AgenciesCommand::Import {
            file: dir.path().join("daftar-p3mi.csv"),
            source: None,
            as_of: Some("20/13/2026".into()),
        }),
        "test:staff",
    )
    .await;
    let staff = labels();
    let texts = staff.staff();
    assert_eq!(
        refused.unwrap_err(),
        texts.failed(texts.fill(StaffText::BadAsOf, &[("value", "20/13/2026".into())]))
    );
    let stats = pandu::admin::execute(
        &ctx,
        &StaffCommand::Agencies(AgenciesCommand::Stats),
        "test:staff",
    )
    .await
    .unwrap();
    assert!(stats.contains("2026-11-20"), "{stats}");
}

// ---- What staff read: `pandu agencies ...` through the real binary, in the words of config/agencies.toml. ----

/// Runs `pandu ARGS` from the repository with its own data folder; (success, stdout, stderr).
fn pandu(data: &Path, labels_file: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pandu"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PANDU_DATA_DIR", data)
        .env("PANDU_LOG", "warn");
    if let Some(file) = labels_file {
        command.env("PANDU_AGENCIES_LABELS_FILE", file);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn staff_read_search_and_stats_in_indonesian() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = labels();
    let texts = staff.staff();

    let (ok, stats, err) = pandu(&data, None, &["agencies", "stats"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = stats.lines().collect();
    // The demo data is served: its snapshot words, and the warning to import the real list.
    let sample = staff_sample_meta(&stats);
    assert_eq!(
        lines[0],
        texts.fill(
            StaffText::StatsServing,
            &[("snapshot", texts.snapshot(&sample))]
        )
    );
    assert_eq!(lines[1], texts.text(StaffText::StatsDemo));
    assert_eq!(lines[5], texts.text(StaffText::StatsNoPrevious));
    // Plain Indonesian, none of the old English words.
    for want in [
        "Daftar yang dipakai bot: DATA CONTOH",
        "Perusahaan per status: 4 aktif, 1 dibekukan, 1 dicabut, 1 tidak diperpanjang",
        "Kantor: 7 kantor pusat, 2 kantor cabang",
        "Kantor per provinsi: Jawa Tengah 5",
    ] {
        assert!(stats.contains(want), "{want} in {stats}");
    }
    for english in [
        "Serving",
        "Companies by status",
        "head offices",
        "Kept for rollback",
    ] {
        assert!(!stats.contains(english), "{english} in {stats}");
    }

    let (ok, search, err) = pandu(&data, None, &["agencies", "search", "contoh mitra"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = search.lines().collect();
    assert_eq!(
        lines[0],
        texts.fill(
            StaffText::SearchHead,
            &[("snapshot", texts.snapshot(&sample))]
        )
    );
    assert_eq!(lines[1], texts.text(StaffText::SearchClose));
    assert!(lines[2].starts_with("1. ["), "{search}");
    assert!(lines[2].contains("| izin KEP.DEMO-00"), "{search}");
    assert!(
        lines[3].trim_start().starts_with("kantor pusat: ") && lines[3].contains("(baris "),
        "{search}"
    );
    for english in [
        "Registry:",
        "Verdict",
        "licence ",
        "head office",
        "(line ",
        "active",
        "ExactName",
        "Name]",
    ] {
        assert!(!search.contains(english), "{english} in {search}");
    }
}

/// The demo snapshot as staff see it: the counts and date come from the shipped sample file.
fn staff_sample_meta(stats: &str) -> SnapshotMeta {
    let parsed =
        pandu::registry::import::read_file(&repo("config/agencies.sample.csv"), &mut |_, _| {})
            .unwrap();
    let companies = pandu::registry::import::group(&parsed.offices).len();
    assert!(stats.contains("agencies.sample.csv"), "{stats}");
    SnapshotMeta {
        id: 0,
        source: parsed.source.unwrap(),
        as_of: parsed.as_of.unwrap(),
        imported_at: 0,
        file: "agencies.sample.csv".into(),
        demo: true,
        offices: parsed.offices.len(),
        companies,
    }
}

#[test]
fn a_bad_csv_row_is_reported_to_staff_in_indonesian_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("daftar.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}\n\
             PT Baru Satu,KEP.1/2024,aktif,kantor pusat,Jl. 1,Kota Semarang,Jawa Tengah,2024-01-01,1\n\
             PT Baru Dua,KEP.2/2024,aktip,kantor pusat,Jl. 2,Kota Semarang,Jawa Tengah,31/02/2024,2\n\
             PT Baru Lima,KEP.1/2024,aktif,kantor cabang,Jl. 5,Kota Batang,Jawa Tengah,2024-01-01,5\n"
        ),
    )
    .unwrap();
    let (ok, out, err) = pandu(
        &data,
        None,
        &[
            "agencies",
            "import",
            file.to_str().unwrap(),
            "--as-of",
            "2026-11-20",
        ],
    );
    assert!(!ok, "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Gagal: {}: 2 baris salah, tidak ada yang diimpor:",
            file.display()
        ),
        "{err}"
    );
    assert_eq!(
        lines[1],
        "  baris 3: status \"aktip\" tidak dikenal; pakai aktif, dibekukan, dicabut atau tidak \
         diperpanjang (atau active, suspended, revoked, not renewed); tanggal izin \"31/02/2024\" \
         bukan tanggal; tulis YYYY-MM-DD atau DD/MM/YYYY",
        "{err}"
    );
    assert_eq!(
        lines[2],
        "  baris 4: nomor izin KEP.1/2024 sudah dipakai \"PT Baru Satu\" di baris 2; satu nomor \
         izin tidak bisa milik dua perusahaan",
        "{err}"
    );
    // The same words as the loaded texts, and nothing was imported.
    let staff = labels();
    assert!(
        err.contains(
            &staff
                .staff()
                .fill(StaffText::ProblemStatus, &[("value", "aktip".into())])
        ),
        "{err}"
    );
    let (_, stats, _) = pandu(&data, None, &["agencies", "stats"]);
    assert!(
        stats.contains(&staff.staff().text(StaffText::StatsDemo)),
        "{stats}"
    );
}

/// The shipped file with one line changed (`None` removes it).
fn with_staff_line(text: &str, key: &str, replacement: Option<&str>) -> String {
    let mut out = String::new();
    let mut found = false;
    for line in text.lines() {
        if line.starts_with(&format!("{key} =")) {
            found = true;
            if let Some(r) = replacement {
                out.push_str(r);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(found, "no {key} in config/agencies.toml");
    out
}

#[test]
fn a_missing_staff_text_is_named_with_its_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("agencies.toml");
    let shipped = std::fs::read_to_string(repo("config/agencies.toml")).unwrap();
    let line_of = |text: &str, start: &str| {
        text.lines()
            .position(|l| l.starts_with(start))
            .map(|i| i + 1)
            .unwrap()
    };

    // The shipped file passes the checker.
    std::fs::write(&file, &shipped).unwrap();
    let (ok, out, _) = pandu(&data, Some(&file), &["check"]);
    assert!(ok, "{out}");
    assert!(!out.contains("agencies.toml"), "{out}");

    // A text removed: `pandu check` fails, naming the file, the [staff] line and the key.
    let missing = with_staff_line(&shipped, "search_match", None);
    std::fs::write(&file, &missing).unwrap();
    let (ok, out, _) = pandu(&data, Some(&file), &["check"]);
    assert!(!ok, "{out}");
    let want = format!(
        "{}:{}: error: staff.search_match is missing",
        file.display(),
        line_of(&missing, "[staff]")
    );
    assert!(
        out.lines().next().unwrap_or_default().starts_with(&want),
        "{out}"
    );
    assert!(
        out.contains(&format!("1 error(s) in {}", file.display())),
        "{out}"
    );
    // The staff command says the same instead of printing a half-translated answer.
    let (ok, _, err) = pandu(&data, Some(&file), &["agencies", "stats"]);
    assert!(!ok);
    assert!(err.contains(&want), "{err}");

    // An empty text and an unknown placeholder: each at its own line, both at once.
    let broken = with_staff_line(&shipped, "row", Some("row = \"  \""));
    let broken = with_staff_line(
        &broken,
        "stats_offices",
        Some("stats_offices = \"Kantor: {heads} pusat, {cabang} cabang\""),
    );
    std::fs::write(&file, &broken).unwrap();
    let (ok, out, _) = pandu(&data, Some(&file), &["check"]);
    assert!(!ok, "{out}");
    for want in [
        format!(
            "{}:{}: error: staff.row is empty",
            file.display(),
            line_of(&broken, "row =")
        ),
        format!(
            "{}:{}: error: staff.stats_offices uses {{cabang}}",
            file.display(),
            line_of(&broken, "stats_offices =")
        ),
    ] {
        assert!(out.contains(&want), "{want} in {out}");
    }
}

// ---- Property: over a generated registry of 10,000+ offices, exactly the registered names are "licensed". ----

#[path = "rng_support/mod.rs"]
mod rng;

/// Words names are made of: common ones (shared by many companies, as in the real listing) and rare
/// made-up ones, so look-alikes differ from real names by as little as real trickery does.
const NAME_WORDS: &[&str] = &[
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
    "putri",
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
    "bahari",
    "tenaga",
    "kerja",
    "internasional",
    "sumber",
];
const SYLLABLES: &[&str] = &[
    "ka", "ri", "ma", "su", "to", "la", "na", "di", "wa", "sa", "ga", "ra", "ta", "ni", "ba", "de",
    "pu", "jo", "an", "in", "gu", "me", "so", "ha",
];

/// The seed of the generated registry and queries; the test prints it with every failure.
const PROPERTY_SEED: u64 = 0x5EED_0A6E_1C1E_2026;

struct Generated {
    csv: String,
    /// (name as registered, status outcome)
    companies: Vec<(String, &'static str)>,
    offices: usize,
}

fn generate_registry(rng: &mut rng::Rng, companies: usize) -> Generated {
    let rare: Vec<String> = (0..1_200)
        .map(|_| {
            (0..2 + rng.below(2))
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Generated {
        csv: format!("{HEADER}\n"),
        companies: Vec::new(),
        offices: 0,
    };
    let statuses = [
        ("aktif", "licensed"),
        ("aktif", "licensed"),
        ("aktif", "licensed"),
        ("aktif", "licensed"),
        ("dibekukan", "suspended"),
        ("dicabut", "revoked"),
        ("tidak diperpanjang", "not_renewed"),
    ];
    while out.companies.len() < companies {
        let n = 2 + rng.below(3);
        let words: Vec<String> = (0..n)
            .map(|_| {
                if rng.below(3) == 0 {
                    rare[rng.below(rare.len())].clone()
                } else {
                    NAME_WORDS[rng.below(NAME_WORDS.len())].to_string()
                }
            })
            .collect();
        let mut dedup = words.clone();
        dedup.sort();
        dedup.dedup();
        if dedup.len() != words.len() {
            continue;
        }
        let name = format!(
            "PT {}",
            words
                .iter()
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !seen.insert(words.join(" ")) {
            continue;
        }
        let i = out.companies.len();
        let (status, outcome) = statuses[rng.below(statuses.len())];
        for b in 0..=(i % 4) {
            let kind = if b == 0 {
                "kantor pusat"
            } else {
                "kantor cabang"
            };
            out.csv.push_str(&format!(
                "{name},KEP.{}/{},{status},{kind},Jl. Raya {i} No. {b},Kota Semarang,Jawa Tengah,2020-01-01,024-{i}{b}\n",
                1000 + i,
                2010 + i % 15
            ));
            out.offices += 1;
        }
        out.companies.push((name, outcome));
    }
    out
}

/// A registered name as people type it: any case, spacing, punctuation, legal-form prefix, a stretched
/// letter.
fn typed_variant(name: &str, rng: &mut rng::Rng) -> String {
    let words: Vec<&str> = name.split(' ').skip(1).collect();
    let prefix = ["", "PT ", "pt ", "PT. ", "P.T. ", "pt.", "Pt "][rng.below(7)];
    let sep = [" ", "  ", "-", " - ", ", ", "."][rng.below(6)];
    let mut text = format!("{prefix}{}", words.join(sep));
    text = match rng.below(4) {
        0 => text.to_uppercase(),
        1 => text.to_lowercase(),
        2 => text
            .chars()
            .map(|c| {
                if rng.below(2) == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect(),
        _ => text,
    };
    if rng.below(3) == 0 {
        // Stretch a letter that stands alone ("utamaaa").
        let chars: Vec<char> = text.chars().collect();
        let alone: Vec<usize> = (0..chars.len())
            .filter(|&i| {
                chars[i].is_alphabetic()
                    && (i == 0 || !chars[i - 1].eq_ignore_ascii_case(&chars[i]))
                    && chars
                        .get(i + 1)
                        .is_none_or(|n| !n.eq_ignore_ascii_case(&chars[i]))
            })
            .collect();
        if !alone.is_empty() {
            let at = alone[rng.below(alone.len())];
            let c = chars[at];
            text = chars[..=at]
                .iter()
                .chain([c, c].iter())
                .chain(chars[at + 1..].iter())
                .collect();
        }
    }
    match rng.below(4) {
        0 => format!("  {text}  "),
        1 => format!("{text}."),
        _ => text,
    }
}

/// A name that is not registered but looks like `names[i]`: a word added or dropped, one letter
/// changed, two words swapped, or two registered names spliced.
fn look_alike(kind: usize, names: &[(String, &str)], rng: &mut rng::Rng) -> String {
    let pick = |rng: &mut rng::Rng| -> Vec<String> {
        names[rng.below(names.len())]
            .0
            .split(' ')
            .skip(1)
            .map(str::to_string)
            .collect()
    };
    let mut words = pick(rng);
    match kind {
        0 => {
            let extra = NAME_WORDS[rng.below(NAME_WORDS.len())];
            let at = rng.below(words.len() + 1);
            words.insert(at, extra[..1].to_uppercase() + &extra[1..]);
        }
        1 => {
            while words.len() < 3 {
                words = pick(rng);
            }
            words.remove(rng.below(words.len()));
        }
        2 => {
            let w = rng.below(words.len());
            let mut chars: Vec<char> = words[w].chars().collect();
            let at = rng.below(chars.len());
            let letters: Vec<char> = "abcdeghijklmnoprstuwy".chars().collect();
            let mut c = letters[rng.below(letters.len())];
            while c.eq_ignore_ascii_case(&chars[at]) {
                c = letters[rng.below(letters.len())];
            }
            chars[at] = c;
            words[w] = chars.into_iter().collect();
        }
        3 => {
            let a = rng.below(words.len());
            let mut b = rng.below(words.len());
            while b == a {
                b = rng.below(words.len());
            }
            words.swap(a, b);
        }
        _ => {
            let other = pick(rng);
            let head = 1 + rng.below(words.len().max(2) - 1);
            let tail = rng.below(other.len());
            words.truncate(head);
            words.extend(other[tail..].iter().cloned());
        }
    }
    format!("PT {}", words.join(" "))
}

#[test]
fn over_ten_thousand_offices_only_registered_names_are_answered_licensed() {
    let seed = PROPERTY_SEED;
    let mut rng = rng::Rng(seed);
    let generated = generate_registry(&mut rng, 5_000);
    assert!(generated.offices >= 10_000, "{} offices", generated.offices);
    let world = World::new();
    world.import("generated.csv", &generated.csv).unwrap();
    let check = world.check();
    let registered: std::collections::HashSet<String> = generated
        .companies
        .iter()
        .map(|(name, _)| pandu::registry::normalize::name_key(name))
        .collect();
    let status_outcomes = ["licensed", "suspended", "revoked", "not_renewed"];

    // Every registered name, typed any way, is the company itself.
    let mut missed = Vec::new();
    for (name, outcome) in &generated.companies {
        let typed = typed_variant(name, &mut rng);
        let result = ask(&check, &typed);
        if result.outcome != *outcome || var(&result, "agency_name") != name {
            missed.push(format!("{typed:?} -> {} (want {name})", result.outcome));
        }
    }
    assert!(
        missed.is_empty(),
        "seed {seed:#x}: {} of {} registered names not recognised, e.g. {:?}",
        missed.len(),
        generated.companies.len(),
        &missed[..missed.len().min(5)]
    );

    // Look-alikes, none of them registered: never answered as a registered company.
    let kinds = [
        "word added",
        "word dropped",
        "letter changed",
        "words swapped",
        "two names spliced",
    ];
    let mut wrong: Vec<(usize, String, String)> = Vec::new();
    let mut tried = [0usize; 5];
    let mut licensed = 0;
    for n in 0..6_000 {
        let kind = n % kinds.len();
        let query = look_alike(kind, &generated.companies, &mut rng);
        if registered.contains(&pandu::registry::normalize::name_key(&query)) {
            continue;
        }
        tried[kind] += 1;
        let result = ask(&check, &query);
        if status_outcomes.contains(&result.outcome.as_str()) {
            if result.outcome == "licensed" {
                licensed += 1;
            }
            wrong.push((kind, query, var(&result, "agency_name").to_string()));
        }
    }
    let per_kind: Vec<String> = (0..kinds.len())
        .map(|k| {
            format!(
                "{}: {}/{}",
                kinds[k],
                wrong.iter().filter(|w| w.0 == k).count(),
                tried[k]
            )
        })
        .collect();
    assert!(
        tried.iter().sum::<usize>() >= 5_000,
        "seed {seed:#x}: too few look-alikes {tried:?}"
    );
    assert!(
        wrong.is_empty(),
        "seed {seed:#x}: {} of {} look-alikes answered as a registered company ({licensed} \"licensed\"); {}; e.g. {:?}",
        wrong.len(),
        tried.iter().sum::<usize>(),
        per_kind.join(", "),
        &wrong[..wrong.len().min(5)]
    );
}

// ---- Every answer of the shipped company check fits a phone screen, whatever the registry holds. ----

/// A listing with the longest values a real one plausibly has: names of 50 to 55 characters, street
/// addresses of 160 (every RT/RW, village and district), a long city name, two phone numbers, five
/// look-alike names, two companies under one name, and every status.
fn long_listing() -> String {
    let address = "Jl. Raya Kalimalang Kav. 12-14 Blok B3 No. 27A RT 003/RW 011, Kelurahan Cipinang Melayu, Kecamatan Makasar, Komplek Pergudangan dan Perkantoran Bina Marga";
    let city = "Kota Administrasi Jakarta Timur";
    let phone = "(021) 8888-7777 / 0812-3456-7890";
    let base = "PT Sumber Rezeki Cahaya Abadi Sentosa";
    let mut rows = Vec::new();
    for (i, (last, status)) in [
        ("Internasional", "aktif"),
        ("Indonesia Raya", "dibekukan"),
        ("Nusantara Jaya", "dicabut"),
        ("Mandiri Perkasa", "tidak diperpanjang"),
        ("Gemilang Utama", "aktif"),
        ("Sejahtera Bersama", "aktif"),
    ]
    .iter()
    .enumerate()
    {
        rows.push(format!(
            "{base} {last},KEP.B-{:03}/KP2MI/PPTKIS/2024,{status},kantor pusat,\"{address}\",{city},DKI Jakarta,2024-01-0{},{phone}",
            100 + i,
            i + 1
        ));
    }
    for licence in ["KEP.B-201/KP2MI/PPTKIS/2019", "KEP.B-202/KP2MI/PPTKIS/2025"] {
        rows.push(format!(
            "PT Bintang Samudera Mitra Sarana Penempatan Tenaga Kerja,{licence},aktif,kantor pusat,\"{address}\",{city},DKI Jakarta,2019-05-05,{phone}"
        ));
    }
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

#[test]
fn every_answer_of_the_company_check_fits_a_phone_screen_with_the_longest_registry_values() {
    let world = World::new();
    let path = world.file("panjang.csv", &long_listing());
    world
        .registry
        .import_csv(
            &world.store,
            &path,
            Some("SISKOP2MI (salinan Dinperinaker Kota Pekalongan)".into()),
            Date::parse("2026-11-20"),
            &mut |_, _| {},
        )
        .unwrap();
    let mut config = pandu::config::Config::default();
    config.dialogs.dir = repo("dialogs");
    config.dialogs.facts_file = repo("config/facts.yaml");
    config.cases.contacts_file = repo("config/contacts.yaml");
    config.agencies.sample_file = repo("config/agencies.sample.csv");
    config.agencies.labels_file = repo("config/agencies.toml");
    let actions = pandu::app::actions(&config, &world.store);
    let (bot, _) = pandu::app::load_bot(&config, &actions).unwrap();
    let user = pandu::storage::UserKey::new(pandu::storage::Channel::Console, "panjang");
    let limit = pandu::dialog::REPLY_MAX_CHARS;
    // What people type, reaching every outcome: licensed, suspended, revoked, not renewed, a list of
    // five look-alikes and a pick from it, a licence number with another name, two companies under
    // one name, nothing found, and a number that is not on the list.
    let paths: &[&[&str]] = &[
        &["PT Sumber Rezeki Cahaya Abadi Sentosa Internasional"],
        &["sumber rezeki cahaya abadi sentosa indonesia raya"],
        &["pt sumber rezeki cahaya abadi sentosa nusantara jaya"],
        &["Sumber Rezeki Cahaya Abadi Sentosa Mandiri Perkasa"],
        &["pt sumber rezeki cahaya abadi sentosa", "9", "3"],
        &["PT Sumber Rejeki Cahaya Abadi Sentosa Internasionall", "1"],
        // A look-alike typed longer than any name (cut where it is echoed), then a pick.
        &[
            "pt sumber rezeki cahaya abadi sentosa internasional group holding cabang jakarta timur",
            "2",
        ],
        &["PT Cahaya Surya Kencana Abadi Mulia no izin KEP.B-100/KP2MI/PPTKIS/2024"],
        &[
            "pt bintang samudera mitra sarana penempatan tenaga kerja",
            "2",
        ],
        &["pt qwerty zxcvb asdfgh abadi jaya sentosa makmur sejahtera"],
    ];
    let mut longest = BTreeMap::new();
    for lang in [Lang::Id, Lang::En, Lang::Jv] {
        for path in paths {
            let mut session = pandu::dialog::Session {
                lang,
                lang_chosen: true,
                ..Default::default()
            };
            let mut now = 1_800_000_000;
            let opening: &[&str] = &["halo", "cek perusahaan"];
            for text in opening.iter().chain(path.iter()) {
                now += 5;
                // Someone who chose the language: the company names typed are not a switch.
                session.lang = lang;
                let step = pandu::dialog::step(
                    &bot,
                    &actions,
                    session,
                    &pandu::dialog::Input {
                        kind: pandu::dialog::InputKind::Text(text.to_string()),
                        at: now,
                    },
                    &pandu::dialog::StepEnv {
                        now,
                        seed: 7,
                        idle_secs: 3600,
                        user: &user,
                    },
                );
                session = step.session;
                for reply in &step.replies {
                    let chars = pandu::dialog::transcript::screen_chars(reply);
                    assert!(
                        chars <= limit,
                        "[{lang:?}] {text:?}: a reply of {chars} characters (limit {limit}):\n{}",
                        reply.text
                    );
                    let slot = longest.entry(lang).or_insert(0);
                    *slot = (*slot).max(chars);
                }
            }
        }
    }
    // The long values did reach the answers (the test measures what it means to).
    assert!(
        longest.len() == 3 && longest.values().all(|&n| n > 500),
        "{longest:?}"
    );
    eprintln!("longest company-check reply per language: {longest:?}");
}
