//! Switchyard: triage of a utility's customer messages. See README.md and DESIGN.md.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod audit_cli;
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
pub mod privacy;
pub mod privacy_cli;
pub mod report;
pub mod secret;
pub mod store;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod training;
pub mod web;
pub mod webhooks;
pub mod worker;
