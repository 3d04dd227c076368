//! Pandu: a guidance and case bot for prospective migrant workers and their families, for the labour
//! office (Dinperinaker) of Kota Pekalongan, on WhatsApp and Telegram.
//!
//! The binary (`src/main.rs`) only parses the command line; everything lives in this library:
//! - [`dialog`]: the dialog model, loader, checker and the pure step function;
//! - [`engine`]: the single writer that turns inbound messages into durable commits;
//! - [`storage`]: everything sled;
//! - [`channels`]: console, Telegram, WhatsApp;
//! - [`registry`]: the P3MI agency licence registry; [`cases`]: reports and escalations;
//! - [`web`]: the HTTP server (health, webhooks); [`cli`]: the commands.

pub mod admin;
pub mod app;
pub mod cases;
pub mod channels;
pub mod cli;
pub mod cli_help;
pub mod config;
pub mod dialog;
pub mod engine;
pub mod log_bridge;
pub mod metrics;
pub mod offer;
pub mod registry;
pub mod serve;
pub mod storage;
pub mod time;
pub mod web;
