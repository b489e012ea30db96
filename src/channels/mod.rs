//! Channels: where messages come from ([`Source`]) and where replies, drafts and alerts go
//! ([`Sink`]). The embedded default is a Maildir on disk; IMAP/SMTP, Graph and WhatsApp follow
//! the same two traits.

pub mod maildir;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::{OutboxItem, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{channel}: {message}")]
    Io { channel: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait Source: Send {
    fn name(&self) -> &str;
    /// Stores every message that arrived since the last call (idempotently) and returns how
    /// many were new. A message is acknowledged to the channel only after it is stored.
    async fn collect(&mut self, store: &dyn Store) -> Result<usize, SourceError>;
    /// Returns when something may have arrived, or after `timeout`.
    async fn changed(&mut self, timeout: Duration);
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later (disk full, server busy).
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help (rejected recipient, invalid message).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Delivers each item; the results are in the same order.
    async fn deliver(&self, items: &[OutboxItem]) -> Vec<Result<(), DeliveryError>>;
    /// Whether `item` was already delivered: used when a previous attempt's outcome is
    /// unknown, so nothing is sent twice.
    async fn delivered(&self, item: &OutboxItem) -> Result<bool, DeliveryError>;
}
