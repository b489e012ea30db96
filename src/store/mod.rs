//! Durable state: the inbox (every message stored before it is processed), decisions and the
//! outbox, behind one [`Store`] trait so SQLite (the embedded default) and PostgreSQL (several
//! workers) can both sit under it. A decision and its outbox rows commit together.

pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{EmailAddress, MessageId};
use crate::pipeline::Outcome;
use crate::pipeline::act::OutgoingKind;
use crate::pipeline::guard::SenderHistory;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// A message as a channel hands it over.
pub struct NewMessage<'a> {
    pub channel: &'a str,
    /// Unique within the channel (file name, UID); the same ref is never stored twice.
    pub channel_ref: &'a str,
    pub raw: &'a [u8],
    /// The original size when `raw` is only a prefix of an oversized message.
    pub stored_len: u64,
}

/// What the guard asks the store about one message.
pub struct SenderLookup<'a> {
    pub message: i64,
    pub message_id: Option<&'a MessageId>,
    pub sender: &'a EmailAddress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    New(i64),
    AlreadyStored,
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: i64,
    /// Where it came from: `<channel>/<channel ref>`.
    pub source: String,
    pub raw: Vec<u8>,
    pub raw_sha256: String,
    pub stored_len: u64,
    pub received_at: DateTime<Utc>,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message: i64,
    pub kind: OutgoingKind,
    pub rfc_message_id: MessageId,
    pub recipient: EmailAddress,
    pub raw: Vec<u8>,
    pub attempts: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub messages: i64,
    pub pending: i64,
    pub decisions: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Stores inbound messages in one transaction; a repeated (channel, ref) is not stored
    /// again. Returns, in order, whether each one was new.
    async fn ingest(&self, messages: &[NewMessage<'_>]) -> Result<Vec<Ingested>, StoreError>;

    /// Up to `limit` messages not yet decided, oldest first.
    async fn pending(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError>;

    /// For each message: whether another message with its Message-ID was decided, and how
    /// many automatic replies went to its sender since `since`. In the order given.
    async fn sender_histories(&self, lookups: &[SenderLookup<'_>], since: DateTime<Utc>) -> Result<Vec<SenderHistory>, StoreError>;

    /// Writes each decision with its outbox rows and marks its message done, all in one
    /// transaction. Returns the outbox rows created, ready for delivery.
    async fn record(&self, outcomes: &[Outcome]) -> Result<Vec<OutboxItem>, StoreError>;

    /// Counts a failed attempt; after `max_attempts` the message is quarantined with `error`.
    /// Returns true when it was quarantined.
    async fn record_failure(&self, message: i64, error: &str, max_attempts: u32) -> Result<bool, StoreError>;

    /// Outbox rows due for delivery, oldest first.
    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxItem>, StoreError>;

    /// Counts a delivery attempt before it starts, so after a crash a pending row with
    /// attempts > 0 is known to have an unknown outcome and is checked, not re-sent.
    async fn begin_delivery(&self, outbox: &[i64]) -> Result<(), StoreError>;

    async fn mark_sent(&self, outbox: &[i64], at: DateTime<Utc>) -> Result<(), StoreError>;

    /// A failed delivery: retried at `retry_at`, or failed for good when `None`.
    async fn mark_delivery_failed(&self, outbox: i64, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<(), StoreError>;

    async fn counts(&self) -> Result<Counts, StoreError>;
}
