//! The registry of licensed placement companies (P3MI): import, normalised search, the `agency.check`
//! action.
