#![allow(dead_code)]
pub mod app;
pub mod graph_api;
pub mod payloads;
