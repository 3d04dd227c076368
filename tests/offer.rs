//! The offer check against its labelled corpus (`dialogs/tests/offers/`) and its own test registry:
//! the two rules `pandu check` enforces (every illegal offer gets at least "some signs"; no legitimate
//! offer gets "strong signs"), and the registry verdicts as a user would see them.

use std::path::Path;

use pandu::offer::corpus::{self, REGISTRY_FILE};
use pandu::offer::{Level, Lookup, OfferRules, RULES_FILE, analyse};
use pandu::registry::Registry;
use pandu::storage::{DEFAULT_CACHE_BYTES, Store};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn setup() -> (tempfile::TempDir, Store, OfferRules) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap_or_else(|e| panic!("{e}"));
    let rules = OfferRules::load(&root().join("dialogs").join(RULES_FILE))
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, store, rules)
}

fn registry(store: &Store) -> Registry {
    Registry::load(
        store,
        &root().join("dialogs/tests/offers").join(REGISTRY_FILE),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_corpus_keeps_its_two_rules_and_has_eighty_offers() {
    let (_dir, store, rules) = setup();
    let registry = registry(&store);
    let report = corpus::run(
        &rules,
        &*registry.current(),
        &root().join("dialogs/tests/offers"),
    );
    println!("{}", report.table());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.offers >= 80, "{} offers", report.offers);
    assert!(report.legit >= 30 && report.illegal >= 40);
}

#[test]
fn registry_verdicts_reach_the_user_honestly() {
    let (_dir, store, rules) = setup();
    let registry = registry(&store);
    let index = registry.current();
    let lookup: &dyn Lookup = &*index;
    // One letter off a licensed name: a warning, never the licensed answer.
    let a = analyse(
        &rules,
        Some(lookup),
        "pt cahaya contoh persadaa buka loker pabrik malaysia, kantor jl melati 3",
    );
    assert!(a.has("company_lookalike"), "{:?}", a.findings);
    assert!(!a.has("company_licensed"));
    assert!(a.level() >= Level::Some);
    // A revoked company recruiting: strong, whatever else the text says.
    let a = analyse(
        &rules,
        Some(lookup),
        "PT Elang Contoh Perkasa (KEP.UJI-105/2019) membuka lowongan Taiwan sesuai job order, tanpa biaya. Kantor Jl. Contoh Lama No. 50 Surabaya, telp (031) 000-1050.",
    );
    assert!(a.has("company_not_allowed"), "{:?}", a.findings);
    assert_eq!(a.level(), Level::Strong);
    // Nothing found is still only "no signs", and the findings say the data's date.
    let a = analyse(
        &rules,
        Some(lookup),
        "PT Duta Contoh Samudera (KEP.UJI-104/2020) job order ABK Taiwan, tanpa biaya penempatan, kantor Jl. Contoh Bahari No. 40 Tegal (0283) 000-1040",
    );
    assert_eq!(a.level(), Level::None, "{:?}", a.findings);
    assert_eq!(a.as_of, "2026-11-01");
}
