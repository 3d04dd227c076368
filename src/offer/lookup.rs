//! The one place the offer check meets the agency registry: [`Lookup`] for [`Index`], using only its
//! public search API and the agency check's verdicts (`Match`: the exact registered name or licence;
//! `Close`: a look-alike, never a pass; `SameName`: the exact name registered more than once).

use super::analyse::{Hit, Lookup};
use crate::registry::{Company, Index, Status, Verdict};

fn hit(company: &Company, exact: bool) -> Hit {
    let name = company.name.clone();
    let licence = company.licence.clone();
    if !exact {
        return Hit::LookAlike { name, licence };
    }
    match company.status {
        Status::Active => Hit::Licensed { name, licence },
        other => Hit::NotAllowed {
            name,
            licence,
            status: other.code().to_string(),
        },
    }
}

impl Lookup for Index {
    fn by_name(&self, name: &str) -> Hit {
        let found = self.search(name);
        let first = found.candidates.first();
        match (found.verdict, first) {
            (Verdict::Match, Some(c)) => hit(c.company, true),
            // The exact name, registered more than once (a new licence after a revoked one): licensed
            // if one of them is active, else what the first says.
            (Verdict::SameName, Some(c)) => {
                let active = found
                    .candidates
                    .iter()
                    .find(|c| c.company.status == Status::Active);
                hit(active.unwrap_or(c).company, true)
            }
            // Not a registered name: the closest is for comparing, never a pass.
            (Verdict::Close | Verdict::LicenceOther, Some(c)) => hit(c.company, false),
            _ => Hit::NotFound,
        }
    }

    fn by_licence(&self, licence: &str) -> Hit {
        match Index::by_licence(self, licence) {
            Some(company) => hit(company, true),
            None => Hit::NotFound,
        }
    }

    fn as_of(&self) -> String {
        self.meta().as_of.to_string()
    }

    fn source(&self) -> String {
        self.meta().source.clone()
    }
}
