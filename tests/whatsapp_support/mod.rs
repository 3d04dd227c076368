#![allow(dead_code)]
pub mod app;
pub mod dialogs;
pub mod graph_api;
pub mod payloads;
