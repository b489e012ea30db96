//! Switchyard: triage of a utility's customer messages. See README.md and DESIGN.md.

pub mod app;
pub mod approvals;
pub mod bench;
pub mod channels;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod domain;
pub mod embedded;
pub mod llm;
pub mod locale;
pub mod pipeline;
pub mod report;
pub mod secret;
pub mod store;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod training;
pub mod web;
pub mod worker;
