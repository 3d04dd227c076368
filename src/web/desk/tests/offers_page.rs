//! The desk's page of reported job offers: findings, and numbers recurring across reports with their
//! counts and cases; nothing about who reported.

use super::*;

fn offer_case(store: &Store, code: &str, text: &str, reporter_name: &str) {
    let opened = crate::time::now_secs() - 3600;
    let record = CaseRecord {
        code: code.into(),
        reporter: UserKey::new(Channel::Whatsapp, format!("62812{code}")),
        lang: Lang::Id,
        opened_at: opened,
        category: "tawaran".into(),
        country: String::new(),
        priority: Priority::P3,
        share_consent: true,
        fields: BTreeMap::from([
            ("tawaran_teks".to_string(), text.to_string()),
            (
                "tawaran_temuan".to_string(),
                "[KUAT] Tujuan yang dikenal untuk penipuan online (scam) — tertulis: “kamboja”"
                    .to_string(),
            ),
            (
                "tawaran_putusan".to_string(),
                "Ada *tanda kuat* penempatan tidak resmi (ilegal).".to_string(),
            ),
            ("nama_pelapor".to_string(), reporter_name.to_string()),
        ]),
        attachments: Vec::new(),
    };
    let events = [Event {
        at: opened,
        actor: "system".into(),
        kind: EventKind::Opened {
            priority: Priority::P3,
            reason: "tawaran".into(),
        },
    }];
    seed::put_case(store, &record, &events).unwrap();
}

#[tokio::test]
async fn staff_see_reported_offers_and_the_numbers_that_recur_across_them() {
    let server = start().await;
    offer_case(
        &server.store,
        "PKL-AAAAA2",
        "loker kamboja gaji 15jt, tf ke BRI 0000000301, wa 0812-0000-0301",
        "Warsini Contoh",
    );
    offer_case(
        &server.store,
        "PKL-BBBBB3",
        "PT Abal Contoh buka lowongan malaysia, hub +62 812 0000 0301",
        "Darmo Contoh",
    );
    let (mut b, _) = Browser::signed_in(&server, "viewer").await;
    let (status, page) = b.get("/staff/offers").await;
    assert_eq!(status, StatusCode::OK);
    let row = page
        .split("<tr")
        .find(|r| r.contains("081200000301"))
        .unwrap_or_else(|| panic!("no recurring number in\n{page}"));
    assert!(
        row.contains("×2") && row.contains("PKL-AAAAA2") && row.contains("PKL-BBBBB3"),
        "{row}"
    );
    for want in [
        "Pola dari 2 laporan tawaran kerja",
        "0000000301",
        "PT ABAL CONTOH",
        "Tujuan yang dikenal untuk penipuan online",
        "Ada tanda kuat penempatan tidak resmi",
        "loker kamboja gaji 15jt",
        "href=\"/staff/offers\" class=\"here\"",
    ] {
        assert!(page.contains(want), "{want:?} not on the page");
    }
    assert!(
        !page.contains("Warsini") && !page.contains("Darmo"),
        "the page showed who reported"
    );
    // The same computation as `pandu cases offers`.
    let cli = server
        .state
        .inner
        .desk
        .offer_patterns("test")
        .await
        .unwrap();
    assert!(cli.contains("081200000301  ×2  (PKL-"), "{cli}");
}
