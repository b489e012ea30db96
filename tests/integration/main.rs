//! Integration tests: the real binary over real Maildir folders and a fresh SQLite database
//! in a temporary directory each.

mod config;
mod helpers;
mod mail;
mod restart;
mod samples;
mod watch;
