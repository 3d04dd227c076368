//! The HTTP server of `pandu serve`: health, and the channels' webhooks.
