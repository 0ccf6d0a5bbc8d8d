//! The integration tests: one binary (as ripgrep has it), so the shared helpers in
//! `common` compile once. Every test runs the real `wabot` binary on temp directories.

mod common;

mod agent;
mod config;
mod conformance_exports;
mod control;
mod docs;
mod export;
mod first_hour;
mod hardening;
mod import;
mod json_docs;
mod llm;
mod maintenance;
mod mcp;
mod providers;
mod reading;
mod smoke;
mod store;
mod sync;
mod voice;
mod webhooks;
mod whatsapp;
