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

/// A config over a copy of the shipped dialogs and a fresh data folder.
fn app_config(tmp: &Path) -> pandu::config::Config {
    let dialogs = tmp.join("dialogs");
    std::fs::create_dir_all(&dialogs).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(root().join("dialogs")).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if let (true, Some(name)) = (path.is_file(), path.file_name()) {
            std::fs::copy(&path, dialogs.join(name)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let mut config = pandu::config::Config {
        data_dir: tmp.join("data"),
        ..pandu::config::Config::default()
    };
    config.dialogs.dir = dialogs;
    config.dialogs.facts_file = root().join("config/facts.yaml");
    config.cases.contacts_file = root().join("config/contacts.yaml");
    config.agencies.sample_file = root().join("config/agencies.sample.csv");
    config.agencies.labels_file = root().join("config/agencies.toml");
    config
}

async fn say(
    engine: &pandu::engine::Engine,
    user: &pandu::storage::UserKey,
    id: &str,
    text: &str,
) -> String {
    let ack = engine
        .handle(pandu::engine::Inbound {
            user: user.clone(),
            message_id: id.to_string(),
            input: pandu::dialog::Input {
                kind: pandu::dialog::InputKind::Text(text.to_string()),
                at: 0,
            },
            lang_hint: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let texts: Vec<&str> = ack.replies.iter().map(|e| e.reply.text.as_str()).collect();
    texts.join("\n---\n")
}

/// Forwards an offer, checks it, reports the recruiter; returns the ticket code shown.
async fn report_offer(engine: &pandu::engine::Engine, who: &str, offer: &str) -> String {
    let user = pandu::storage::UserKey::new(pandu::storage::Channel::Console, who);
    let steps = [
        "halo",
        offer,
        "1",                                   // yes, check it
        "1",                                   // report the recruiter
        "dpt dr grup fb, adik sy udah tf 2jt", // where it came from
        "lewati",                              // name
        "1",                                   // consent: share
    ];
    let mut last = String::new();
    for (i, text) in steps.iter().enumerate() {
        last = say(engine, &user, &format!("{who}-{i}"), text).await;
    }
    assert!(last.contains("Ringkasan laporan"), "{last}");
    let done = say(engine, &user, &format!("{who}-send"), "1").await;
    assert!(done.contains("tersimpan"), "{done}");
    let re = regex::Regex::new(r"PKL-[2-9A-HJKMNP-Z]{6}").unwrap_or_else(|e| panic!("{e}"));
    re.find(&done)
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| panic!("no code in {done}"))
}

#[tokio::test]
async fn a_reported_offer_shows_its_findings_to_staff_and_recurring_numbers_are_counted() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = app_config(tmp.path());
    let store = pandu::app::open_store(&config).unwrap_or_else(|e| panic!("{e}"));
    let running = pandu::app::start_engine(&config, &store).unwrap_or_else(|e| panic!("{e}"));
    let engine = running.engine.clone();
    let first = report_offer(
        &engine,
        "ani",
        "LOKER KAMBOJA!! dibutuhkan admin, gaji 15jt ga perlu pengalaman, berangkat minggu depan. \
         biaya proses 5jt transfer ke rek BRI 0000000301 an Bpk Fulan. minat wa 0812-0000-0301",
    )
    .await;
    let second = report_offer(
        &engine,
        "budi",
        "Dicari pekerja pabrik Malaysia, gaji 9 juta bersih, uang admin 1,5jt dibayar di muka. \
         Lowongan terbatas, yg minat hubungi +62 812 0000 0301 (Pak Contoh), proses cepat",
    )
    .await;
    assert_ne!(first, second);
    let desk = pandu::cases::Desk::new(engine.clone(), &config).unwrap_or_else(|e| panic!("{e}"));
    let shown = desk
        .show("cli:test", &first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for want in [
        "Temuan pada tawaran:",
        "[KUAT] Tujuan yang dikenal untuk penipuan online",
        "[KUAT] Transfer ke rekening pribadi",
        "biaya proses 5jt",
        "Penilaian tawaran kerja: Ada *tanda kuat*",
        "Teks tawaran (seperti ditempel): LOKER KAMBOJA",
        "adik sy udah tf 2jt",
        "(tawaran)",
    ] {
        assert!(shown.contains(want), "{want:?} not in\n{shown}");
    }
    let patterns = desk
        .offer_patterns("cli:test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line = patterns
        .lines()
        .find(|l| l.contains("081200000301"))
        .unwrap_or_else(|| panic!("{patterns}"));
    assert!(
        line.contains("×2") && line.contains(&first) && line.contains(&second),
        "{patterns}"
    );
    assert!(patterns.contains("0000000301"), "{patterns}");
    drop(engine);
    drop(running);
}

#[derive(serde::Deserialize)]
struct CorpusFile {
    offers: Vec<CorpusOffer>,
}

#[derive(serde::Deserialize)]
struct CorpusOffer {
    id: String,
    text: String,
}

/// What one step shows: every reply's text, and the labels of the last reply's buttons.
async fn step(
    engine: &pandu::engine::Engine,
    user: &pandu::storage::UserKey,
    id: &str,
    text: &str,
    lang: pandu::dialog::Lang,
) -> (Vec<String>, Vec<String>) {
    let ack = engine
        .handle(pandu::engine::Inbound {
            user: user.clone(),
            message_id: id.to_string(),
            input: pandu::dialog::Input {
                kind: pandu::dialog::InputKind::Text(text.to_string()),
                at: 0,
            },
            lang_hint: Some(lang),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let texts = ack.replies.iter().map(|e| e.reply.text.clone()).collect();
    let labels = ack
        .replies
        .last()
        .map(|e| e.reply.choices.iter().map(|c| c.label.clone()).collect())
        .unwrap_or_default();
    (texts, labels)
}

/// Every offer of the corpus, in each language: the result and every "Selengkapnya" page fit one phone
/// screen, the pages together show every finding with its source, and reporting stays one choice away.
#[tokio::test]
async fn every_result_and_every_page_of_findings_fits_a_phone_screen() {
    use pandu::dialog::{Lang, REPLY_MAX_CHARS};
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = app_config(tmp.path());
    let store = pandu::app::open_store(&config).unwrap_or_else(|e| panic!("{e}"));
    let running = pandu::app::start_engine(&config, &store).unwrap_or_else(|e| panic!("{e}"));
    let engine = running.engine.clone();
    let mut offers = Vec::new();
    for file in ["ilegal_panjang.yaml", "ilegal_pendek.yaml", "resmi.yaml"] {
        let text = std::fs::read_to_string(root().join("dialogs/tests/offers").join(file))
            .unwrap_or_else(|e| panic!("{e}"));
        let parsed: CorpusFile = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        offers.extend(parsed.offers);
    }
    assert!(offers.len() >= 80);
    let mut most_pages = 0;
    // A pasted offer in Indonesian may switch the reply language back to Indonesian: any language's
    // labels count.
    let report = |l: &String| {
        [
            "Laporkan perekrut",
            "Report the recruiter",
            "Laporke perekrut",
        ]
        .contains(&l.as_str())
    };
    let more = |l: &String| l.starts_with("Selengkapnya") || l.starts_with("More details");
    for (lang, switch) in [
        (Lang::Id, "halo"),
        (Lang::En, "english"),
        (Lang::Jv, "boso jowo"),
    ] {
        for offer in &offers {
            let who = format!("{}-{}", lang.code(), offer.id);
            let user = pandu::storage::UserKey::new(pandu::storage::Channel::Console, &who);
            let fits = |texts: &[String], at: &str| {
                for t in texts {
                    let n = t.chars().count();
                    assert!(
                        n <= REPLY_MAX_CHARS,
                        "{who} {at}: a reply of {n} characters:\n{t}"
                    );
                }
            };
            step(&engine, &user, &format!("{who}-0"), switch, lang).await;
            step(&engine, &user, &format!("{who}-menu"), "menu", lang).await;
            step(&engine, &user, &format!("{who}-1"), "8", lang).await;
            let (mut texts, mut labels) =
                step(&engine, &user, &format!("{who}-2"), &offer.text, lang).await;
            if labels.len() == 2 {
                // Read as a pasted offer from another place: "check it?" first.
                fits(&texts, "question");
                (texts, labels) = step(&engine, &user, &format!("{who}-yes"), "1", lang).await;
            }
            fits(&texts, "result");
            assert!(
                labels.iter().any(report) && labels.iter().any(more),
                "{who}: {labels:?}"
            );
            // Type "2" (the result and every page but the last put "Selengkapnya" second) until
            // the last page.
            let mut pages = 0;
            loop {
                let (texts, labels) =
                    step(&engine, &user, &format!("{who}-more-{pages}"), "2", lang).await;
                fits(&texts, &format!("page {}", pages + 1));
                pages += 1;
                assert!(
                    labels.iter().any(report),
                    "{who}: no report choice on page {pages}: {labels:?}"
                );
                assert!(
                    texts
                        .iter()
                        .any(|t| t.contains("Sumber:") || t.contains("Source:")),
                    "{who}: page {pages} without a source: {texts:?}"
                );
                if !labels.iter().any(more) || pages >= 12 {
                    break;
                }
            }
            assert!(pages < 12, "{who}: {pages} pages");
            most_pages = most_pages.max(pages);
        }
    }
    println!("most pages of findings: {most_pages}");
    drop(engine);
    drop(running);
}

/// One word per licence status (issue 13): what the offer check says of a company's status is the word
/// the company check and staff use, in every language.
#[test]
fn a_licence_status_has_one_word_in_the_offer_check_and_the_company_check() {
    let (_tmp, _store, rules) = setup();
    let labels = pandu::registry::AgencyLabels::load(&root().join("config/agencies.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    use pandu::registry::Status;
    for status in [Status::Suspended, Status::Revoked, Status::NotRenewed] {
        for lang in pandu::dialog::Lang::ALL {
            assert_eq!(
                rules.statuses[status.code()].get(lang),
                labels.status(status, lang),
                "{status:?} in {lang:?}"
            );
        }
    }
}
