//! The one place the offer check meets the agency registry: [`Lookup`] for [`Index`], using only its
//! public search API and the agency check's verdicts (an exact registered name or licence is a match; a
//! close name, or several, is a look-alike and never a pass).

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
        match (found.verdict, found.candidates.first()) {
            (Verdict::Match, Some(best)) => hit(best.company, best.exact()),
            // Several close names: the user must compare; for the offer it is a look-alike.
            (Verdict::Ambiguous, Some(best)) => hit(best.company, false),
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
