//! End-to-end tests against real Dovecot (IMAP, LMTP) and Postfix (SMTP), started on loopback
//! by scripts/mail-stack.sh in a temporary directory per test.

mod approvals;
mod delivery;
mod outages;
mod sending;
pub mod stack;
