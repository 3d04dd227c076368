//! Emergency contacts by destination country, from `config/contacts.yaml`: each number with its source,
//! the date it was last confirmed and a confidence (H/M/L), plus the numbers shown for every country
//! (the ministry's call centre, the foreign ministry's hotline).
//!
//! Invariants: numbers live only in the file (they change); every number shown carries its source and
//! date; an unknown country still gets the numbers that always apply.

use std::path::Path;

use serde::Deserialize;

use super::CaseError;
use super::texts::{LangText, fill};
use crate::dialog::Lang;
use crate::dialog::normalize::basic;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Confidence {
    H,
    M,
    L,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: LangText,
    pub number: String,
    /// Short, readable source name shown to users ("merdeka.com, Apr 2025").
    pub source: String,
    /// The full source address, for staff.
    #[serde(default)]
    pub url: String,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`: the newest date a source confirmed the number; empty when unknown.
    #[serde(default)]
    pub verified: String,
    pub confidence: Confidence,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Country {
    /// A short key stored in cases and shown to staff (`malaysia`).
    pub key: String,
    /// Names and spellings users type, cities included ("kl", "johor", "jeddah").
    pub names: Vec<String>,
    /// Names that are also common chat words ("kl" is "kalau" as often as Kuala Lumpur): they name
    /// this country only when no other country is named ("kl sy lapor skrg, anak sy di taiwan
    /// dipukuli" is Taiwan; found by playing the bot as a family).
    #[serde(default)]
    pub weak_names: Vec<String>,
    pub contacts: Vec<Contact>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// One line per number: `{name}`, `{number}`, `{source}`, `{verified}`, `{note}`.
    pub line: LangText,
    /// `{note}` for numbers of confidence L (old or single unofficial source).
    pub low_confidence: LangText,
    /// `{verified}` when the date is unknown.
    pub unknown_date: LangText,
    /// Shown before the general numbers when the country is unknown or has no numbers of its own.
    pub no_country: LangText,
    /// Shown after `no_country` when no country is named: the trouble may be at home (a recruiter's
    /// shelter in Indonesia: stop 20, a worker locked in one got only "no embassy number yet").
    #[serde(default)]
    pub domestic: Vec<Contact>,
    /// Shown for every country, last.
    pub always: Vec<Contact>,
    pub countries: Vec<Country>,
}

impl Contacts {
    pub fn load(path: &Path) -> Result<Contacts, CaseError> {
        let err = |message: String| CaseError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let contacts: Contacts = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        contacts.check().map_err(err)?;
        Ok(contacts)
    }

    fn check(&self) -> Result<(), String> {
        if self.always.is_empty() {
            return Err("`always` must list at least the ministry's call centre".into());
        }
        let date = regex::Regex::new(r"^\d{4}(-\d{2}){0,2}$").map_err(|e| e.to_string())?;
        let all = self
            .always
            .iter()
            .chain(self.domestic.iter())
            .chain(self.countries.iter().flat_map(|c| c.contacts.iter()));
        for contact in all {
            if contact.source.trim().is_empty() {
                return Err(format!("{}: a number needs a source", contact.number));
            }
            if !contact.verified.is_empty() && !date.is_match(&contact.verified) {
                return Err(format!(
                    "{}: verified {:?} is not YYYY, YYYY-MM or YYYY-MM-DD",
                    contact.number, contact.verified
                ));
            }
        }
        Ok(())
    }

    /// The country a user typed ("Malaysia", "di KL", "hongkong"), if known.
    pub fn country(&self, text: &str) -> Option<&Country> {
        let text = basic(text);
        if text.is_empty() {
            return None;
        }
        let squeezed = text.replace(' ', "");
        let padded = format!(" {text} ");
        let named = |names: &[String]| {
            names.iter().any(|name| {
                let name = basic(name);
                !name.is_empty()
                    && (padded.contains(&format!(" {name} ")) || squeezed == name.replace(' ', ""))
            })
        };
        self.countries
            .iter()
            .find(|country| named(&country.names))
            .or_else(|| self.countries.iter().find(|c| named(&c.weak_names)))
    }

    /// The numbers to show for what the user typed as the country (may be empty), in `lang`.
    pub fn render(&self, country_text: &str, lang: Lang) -> String {
        self.render_for(self.country(country_text), lang)
    }

    /// The country of `key` (`malaysia`), as stored in a case.
    pub fn by_key(&self, key: &str) -> Option<&Country> {
        self.countries.iter().find(|c| c.key == key)
    }

    /// The numbers to show for `country` (unknown: the general ones), in `lang`.
    pub fn render_for(&self, country: Option<&Country>, lang: Lang) -> String {
        let mut lines = Vec::new();
        match country {
            Some(c) if !c.contacts.is_empty() => {
                lines.extend(c.contacts.iter().map(|x| self.line(x, lang)));
            }
            Some(_) => lines.push(self.no_country.get(lang).to_string()),
            None => {
                lines.push(self.no_country.get(lang).to_string());
                lines.extend(self.domestic.iter().map(|x| self.line(x, lang)));
            }
        }
        lines.extend(self.always.iter().map(|x| self.line(x, lang)));
        lines.join("\n")
    }

    fn line(&self, contact: &Contact, lang: Lang) -> String {
        let verified = if contact.verified.is_empty() {
            self.unknown_date.get(lang)
        } else {
            contact.verified.as_str()
        };
        let note = match contact.confidence {
            Confidence::L => self.low_confidence.get(lang),
            _ => "",
        };
        fill(
            self.line.get(lang),
            &[
                ("name", contact.name.get(lang)),
                ("number", &contact.number),
                ("source", &contact.source),
                ("verified", verified),
                ("note", note),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn contacts() -> Contacts {
        Contacts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/contacts.yaml")).unwrap()
    }

    #[test]
    fn countries_are_recognised_as_typed() {
        let c = contacts();
        for (typed, key) in [
            ("Malaysia", "malaysia"),
            ("di KL", "malaysia"),
            ("hongkong", "hong_kong"),
            ("Hong Kong", "hong_kong"),
            ("arab saudi", "saudi"),
            // "Arab" is how families name Saudi Arabia (found by playing the bot as a family, stop
            // 18: "anak sy di arab dipukulin majikan" got no embassy number); the UAE is not Saudi.
            ("anak sy di arab dipukulin majikan", "saudi"),
            ("TOLONG ANAK SAYA DIPUKUL MAJIKAN DI ARAB", "saudi"),
            ("adik sy di uni emirat arab", "uae"),
            ("kerja di dubai", "uae"),
            ("Taiwan", "taiwan"),
            // "kl" is also "kalau": a country named outright wins over it.
            ("kl sy lapor skrg gmn, anak sy di taiwan dipukuli", "taiwan"),
            (
                "kakak sy di kamboja disuruh nipu online, dipukul kl ga capai target",
                "cambodia",
            ),
            ("dipukul majikan di kl", "malaysia"),
        ] {
            assert_eq!(
                c.country(typed).map(|x| x.key.as_str()),
                Some(key),
                "{typed}"
            );
        }
        assert!(c.country("").is_none());
        assert!(c.country("pekalongan").is_none());
    }

    #[test]
    fn without_a_country_the_police_number_for_home_is_shown() {
        let c = contacts();
        // A worker locked in a recruiter's shelter at home names no country (stop 20).
        let home = c.render("tolong sy dikurung di penampungan PT, dipukul", Lang::Id);
        assert!(home.contains("110") && home.contains("Polisi"), "{home}");
        assert!(home.contains("0800-1000"), "{home}");
        let abroad = c.render("anak sy dipukul majikan di malaysia", Lang::Id);
        assert!(!abroad.contains("Polisi"), "{abroad}");
    }

    #[test]
    fn numbers_carry_source_and_date_and_the_call_centre_is_always_there() {
        let c = contacts();
        let hk = c.render("hong kong", Lang::Id);
        assert!(hk.contains("+852 6773 0466"), "{hk}");
        assert!(hk.contains("0800-1000"), "{hk}");
        let unknown = c.render("", Lang::En);
        assert!(unknown.contains("0800-1000"), "{unknown}");
        assert!(!unknown.contains("+852"), "{unknown}");
        for line in hk.lines().filter(|l| l.contains('+')) {
            assert!(line.contains("20"), "no date in {line}");
        }
    }
}
