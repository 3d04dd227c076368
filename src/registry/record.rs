//! The registry's data: an office (one row of the official listing), a company (the offices that share
//! one SIP3MI licence), a licence status, and the facts about a snapshot (source, date).
//!
//! Plain serialisable data. Status and office-type *codes* live here; the words users see for them live
//! in `config/agencies.toml` (see `check`).

use serde::{Deserialize, Serialize};

use crate::dialog::normalize::basic;
use crate::time::Date;

/// A licence status as the registry states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Suspended,
    Revoked,
    /// The SIP3MI was not renewed: the company may no longer place workers.
    NotRenewed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Suspended,
        Status::Revoked,
        Status::NotRenewed,
    ];

    /// The stable code (`active`, `suspended`, `revoked`, `not_renewed`): also the key of its label in
    /// `config/agencies.toml` and, except `active`, the name of the `agency.check` outcome.
    pub fn code(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Revoked => "revoked",
            Status::NotRenewed => "not_renewed",
        }
    }

    /// Reads a status cell in Indonesian or English, any case or punctuation.
    pub fn parse(text: &str) -> Option<Status> {
        match basic(text).as_str() {
            "aktif" | "active" | "berlaku" => Some(Status::Active),
            "dibekukan" | "suspended" | "dihentikan sementara" | "ditangguhkan" => {
                Some(Status::Suspended)
            }
            "dicabut" | "revoked" => Some(Status::Revoked),
            "tidak diperpanjang" | "not renewed" | "expired" | "kedaluwarsa" => {
                Some(Status::NotRenewed)
            }
            _ => None,
        }
    }
}

/// Whether an office is the company's head office or a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficeType {
    Head,
    Branch,
}

impl OfficeType {
    /// The stable code (`head`, `branch`), also the key of its label in `config/agencies.toml`.
    pub fn code(self) -> &'static str {
        match self {
            OfficeType::Head => "head",
            OfficeType::Branch => "branch",
        }
    }

    pub fn parse(text: &str) -> Option<OfficeType> {
        match basic(text).as_str() {
            "kantor pusat" | "pusat" | "head office" | "head" | "headquarters" | "hq" => {
                Some(OfficeType::Head)
            }
            "kantor cabang" | "cabang" | "branch office" | "branch" => Some(OfficeType::Branch),
            _ => None,
        }
    }
}

/// One office as listed: one row of the import file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Office {
    /// The company name as written in the listing.
    pub name: String,
    /// The SIP3MI number as written in the listing.
    pub licence: String,
    pub licence_date: Date,
    pub status: Status,
    pub office_type: OfficeType,
    pub address: String,
    pub city: String,
    pub province: String,
    pub phone: String,
    /// The line of the import file it came from (for staff messages).
    pub line: u64,
}

impl Office {
    /// `address, city, province` without empty parts.
    pub fn place(&self) -> String {
        [&self.address, &self.city, &self.province]
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The offices that share one licence: the head office first, then the branches in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Company {
    pub name: String,
    pub licence: String,
    /// [`super::normalize::licence_key`] of `licence`: the company's identity in the registry.
    pub licence_key: String,
    pub licence_date: Date,
    pub status: Status,
    pub offices: Vec<Office>,
}

impl Company {
    pub fn head_office(&self) -> Option<&Office> {
        self.offices
            .iter()
            .find(|o| o.office_type == OfficeType::Head)
    }

    /// The city of the head office (or of the first office), for candidate lists.
    pub fn city(&self) -> &str {
        self.head_office()
            .or(self.offices.first())
            .map(|o| o.city.as_str())
            .unwrap_or("")
    }
}

/// Facts about one registry snapshot: where it came from and which day it describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Storage id; 0 for the demo data (never stored).
    pub id: u64,
    /// Where the listing came from (e.g. "SISKOP2MI").
    pub source: String,
    /// The day the listing was taken: the bot always says it.
    pub as_of: Date,
    /// Unix seconds of the import.
    pub imported_at: u64,
    /// The file it was imported from (its name only).
    pub file: String,
    /// Whether this is the shipped demo data.
    pub demo: bool,
    pub offices: usize,
    pub companies: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_in_both_languages() {
        let cases = [
            ("aktif", Status::Active),
            ("AKTIF", Status::Active),
            ("Active", Status::Active),
            ("dibekukan", Status::Suspended),
            ("Dihentikan Sementara", Status::Suspended),
            ("suspended", Status::Suspended),
            ("dicabut", Status::Revoked),
            ("revoked", Status::Revoked),
            ("tidak diperpanjang", Status::NotRenewed),
            ("Tidak  Diperpanjang", Status::NotRenewed),
            ("not_renewed", Status::NotRenewed),
            ("not renewed", Status::NotRenewed),
        ];
        for (text, want) in cases {
            assert_eq!(Status::parse(text), Some(want), "{text}");
        }
        assert_eq!(Status::parse("aktip"), None);
        assert_eq!(Status::parse(""), None);
        assert_eq!(OfficeType::parse("Kantor Pusat"), Some(OfficeType::Head));
        assert_eq!(OfficeType::parse("cabang"), Some(OfficeType::Branch));
        assert_eq!(OfficeType::parse("gudang"), None);
    }
}
