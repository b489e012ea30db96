//! Integration tests: the real binary over real Maildir folders and a fresh SQLite database
//! in a temporary directory each.

mod audit;
mod browser;
mod classifier;
mod config;
mod drafting;
mod connectors;
mod fake_llm;
mod helpers;
mod llm;
mod mail;
mod privacy;
mod restart;
mod samples;
mod web;
mod watch;
mod webhooks;
