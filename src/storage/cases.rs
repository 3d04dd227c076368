//! Persistence of cases (see `cases`).
