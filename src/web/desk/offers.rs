//! The desk's page of reported job offers (`/staff/offers`): each reported offer's verdict and findings,
//! and the phone numbers, bank accounts and company names that recur across them, with counts and the
//! cases they came from, so the dinas sees a recruiter network early. The same computation as `pandu
//! cases offers` ([`crate::offer::patterns::compute`] over [`crate::cases::Desk::reported_offers`]).
//!
//! Invariants: shows no reporter's details (name, contact, story): only what the offer itself says and
//! what the check found; headings of the patterns come from `staff_patterns` in
//! `dialogs/_offer_rules.yaml`, like the CLI's; read-only, for every role.

use askama::Template;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Frame, html, technical};
use super::{DeskState, Staff};
use crate::offer::patterns::{Row, compute};

/// At most this many reported offers are listed (newest first); the patterns count all of them.
pub const MAX_LISTED: usize = 50;
/// The offer's text is shown up to this many characters.
pub const EXCERPT_CHARS: usize = 240;

pub struct OfferView {
    pub code: String,
    pub opened: String,
    pub status: &'static str,
    pub verdict: String,
    pub findings: Vec<String>,
    pub excerpt: String,
}

pub struct Group {
    pub heading: String,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "desk/offers.html")]
struct OffersPage {
    frame: Frame,
    head: String,
    none: String,
    total: usize,
    groups: Vec<Group>,
    offers: Vec<OfferView>,
}

pub async fn offers_page(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
) -> Response {
    let (rules, offers) = match state.inner.desk.reported_offers() {
        Ok(r) => r,
        Err(e) => return technical(e),
    };
    tracing::info!(
        actor = staff.name(),
        count = offers.len(),
        "staff read offer patterns"
    );
    let cases: Vec<(String, String)> = offers
        .iter()
        .map(|o| (o.code.clone(), o.text.clone()))
        .collect();
    let patterns = compute(&rules, &cases);
    let t = &rules.staff_patterns;
    let groups = vec![
        Group {
            heading: t.phones.clone(),
            rows: patterns.phones,
        },
        Group {
            heading: t.accounts.clone(),
            rows: patterns.accounts,
        },
        Group {
            heading: t.companies.clone(),
            rows: patterns.companies,
        },
    ];
    let listed = offers
        .into_iter()
        .take(MAX_LISTED)
        .map(|o| {
            let mut excerpt: String = o.text.chars().take(EXCERPT_CHARS).collect();
            if o.text.chars().count() > EXCERPT_CHARS {
                excerpt.push('…');
            }
            OfferView {
                opened: crate::time::Date::from_unix(o.opened_at).to_string(),
                status: o.status.as_str(),
                verdict: o.verdict.replace('*', ""),
                findings: o
                    .findings
                    .lines()
                    .map(|l| l.replace('*', ""))
                    .filter(|l| !l.trim().is_empty())
                    .collect(),
                excerpt,
                code: o.code,
            }
        })
        .collect();
    let page = OffersPage {
        frame: Frame::of(&staff, None, "offers"),
        head: crate::cases::texts::fill(&t.head, &[("n", &patterns.cases.to_string())]),
        none: t.none.clone(),
        total: patterns.cases,
        groups,
        offers: listed,
    };
    html(StatusCode::OK, &page)
}
