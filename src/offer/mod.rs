//! "Cek tawaran kerja": read a job offer someone pasted or forwarded and list the warning signs, each
//! with why it matters and its source, and a verdict in plain words (never "safe").
//!
//! - [`rules`]: the signs, their words and sources, from `dialogs/_offer_rules.yaml`;
//! - [`analyse`]: the pure analyser (text in, findings and verdict out), bounded by `max_chars`;
//! - [`lookup`]: the thin seam to the agency registry (its public search, the agency check's verdicts);
//! - [`action`]: the dialog actions `offer.detect`, `offer.check`, `offer.report`;
//! - [`patterns`]: numbers, accounts and company names recurring across reported offers (staff);
//! - [`corpus`]: the labelled offers in `dialogs/tests/offers/`, recall and precision per sign.
//!
//! Invariants: no user-facing word in Rust; a look-alike company is a warning, never a pass; the
//! analyser does no IO.

pub mod action;
pub mod analyse;
pub mod corpus;
pub mod lookup;
pub mod ocr;
pub mod patterns;
pub mod rules;

pub use action::register_actions;
pub use analyse::{Analysis, Finding, Hit, Level, Lookup, analyse, looks_like_offer};
pub use rules::{OfferRules, RULES_FILE, RulesError, Weight};
