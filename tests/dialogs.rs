//! The shipped dialogs: they load without errors, every conversation test in `dialogs/tests/` passes,
//! and the phrasing corpus reaches the right flow often enough. This is `pandu check` as a test.

#![allow(clippy::unwrap_used)]

use pandu::config::Config;
use pandu::dialog::transcript::{self, PHRASING_TARGET};

#[test]
fn shipped_dialogs_pass_the_checker_and_their_tests() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let config = Config::load(None, &|_| None).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = pandu::storage::Store::open(data.path(), 1 << 20).unwrap();
    let actions = pandu::app::actions(&config, &store);
    let (bot, _warnings) = match pandu::app::load_bot(&config, &actions) {
        Ok(ok) => ok,
        Err(diags) => {
            let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("the dialogs do not load:\n{}", text.join("\n"));
        }
    };
    let report = transcript::run_dir(&config.dialogs.dir.join("tests"), &bot, &actions);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let failures: Vec<String> = report
        .transcripts
        .iter()
        .filter(|t| !t.failures.is_empty())
        .map(|t| {
            format!(
                "{} ({}):\n{}",
                t.name,
                t.file.display(),
                t.failures.join("\n")
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    if let Some(p) = &report.phrasing {
        println!(
            "phrasing corpus: {}/{} = {:.1}%",
            p.correct,
            p.total,
            p.accuracy() * 100.0
        );
        for (text, want, got) in &p.misses {
            println!("  miss: {text:?} -> {got} (want {want})");
        }
        assert!(
            p.accuracy() >= PHRASING_TARGET,
            "phrasing accuracy {:.1}% is under {:.0}%",
            p.accuracy() * 100.0,
            PHRASING_TARGET * 100.0
        );
    }
    let emergency = report
        .emergency
        .as_ref()
        .expect("dialogs/tests/emergency.yaml labels messages emergency / not");
    assert!(
        emergency.emergencies + emergency.others >= 200,
        "the labelled emergency set has {} messages, fewer than 200",
        emergency.emergencies + emergency.others
    );
    assert!(
        emergency.passed(),
        "emergency words: missed {:?}; false alarms {:?}",
        emergency.missed,
        emergency.false_alarms
    );
}
