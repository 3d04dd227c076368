//! Reports and escalations: intake, ticket codes, triage, staff actions.
