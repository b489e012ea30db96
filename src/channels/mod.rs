//! Channels: where messages come from ([`Source`]) and where replies, drafts and alerts go
//! ([`Sink`]). The embedded default is a Maildir on disk; IMAP/SMTP, Graph and WhatsApp follow
//! the same two traits.

pub mod imap;
pub mod mailbox;
pub mod maildir;
pub mod oauth;
pub mod smtp;
pub mod tls;

use std::collections::HashMap;
use std::sync::Arc;

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
    /// Returns when something may have arrived (a file event, IDLE), or after the source's own
    /// rescan or poll interval.
    async fn changed(&mut self);
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

/// Runs a source until `cancel`: collects, wakes the worker when something was stored, waits
/// for the next change. Errors (a wrong password, a server down) are logged and retried with
/// exponential backoff, one source at a time: the other mailboxes keep working.
pub async fn drive(
    mut source: Box<dyn Source>,
    store: Arc<dyn crate::store::Store>,
    wake: Arc<tokio::sync::Notify>,
    cancel: tokio_util::sync::CancellationToken,
) {
    const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
    const LAST_RETRY: std::time::Duration = std::time::Duration::from_secs(300);
    let mut backoff = FIRST_RETRY;
    loop {
        match source.collect(store.as_ref()).await {
            Ok(stored) => {
                backoff = FIRST_RETRY;
                if stored > 0 {
                    wake.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(source = source.name(), error = %crate::privacy::redact(&e.to_string()), retry_in_s = backoff.as_secs(), "cannot read mail");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(LAST_RETRY);
                continue;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = source.changed() => {}
        }
    }
}

/// Whether an earlier delivery attempt got through, as far as the sink can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Delivered,
    /// Certainly not delivered: safe to deliver again.
    NotDelivered,
    /// Cannot be told (an SMTP transaction interrupted before its answer). Never resent: a
    /// person checks.
    Unknown,
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Delivers each item; the results are in the same order.
    async fn deliver(&self, items: &[OutboxItem]) -> Vec<Result<(), DeliveryError>>;
    /// Whether `item` was already delivered: asked when a previous attempt's outcome is
    /// unknown, so nothing is sent twice.
    async fn delivered(&self, item: &OutboxItem) -> Result<Presence, DeliveryError>;
}

/// Sends each outbox item through the sink of the channel its message came from.
pub struct Router {
    sinks: HashMap<String, Arc<dyn Sink>>,
}

impl Router {
    pub fn new(sinks: HashMap<String, Arc<dyn Sink>>) -> Self {
        Self { sinks }
    }

    fn sink(&self, channel: &str) -> Result<&Arc<dyn Sink>, DeliveryError> {
        self.sinks.get(channel).ok_or_else(|| {
            DeliveryError::Transient(format!("no channel `{channel}` is configured now; the message waits until it is"))
        })
    }
}

#[async_trait]
impl Sink for Router {
    async fn deliver(&self, items: &[OutboxItem]) -> Vec<Result<(), DeliveryError>> {
        let mut results: Vec<Option<Result<(), DeliveryError>>> = (0..items.len()).map(|_| None).collect();
        let mut by_channel: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            by_channel.entry(item.channel.as_str()).or_default().push(i);
        }
        for (channel, indexes) in by_channel {
            match self.sink(channel) {
                Err(e) => indexes.iter().for_each(|&i| results[i] = Some(Err(DeliveryError::Transient(e.to_string())))),
                Ok(sink) => {
                    let batch: Vec<OutboxItem> = indexes.iter().map(|&i| items[i].clone()).collect();
                    for (i, r) in indexes.into_iter().zip(sink.deliver(&batch).await) {
                        results[i] = Some(r);
                    }
                }
            }
        }
        results.into_iter().map(|r| r.expect("every item routed")).collect()
    }

    async fn delivered(&self, item: &OutboxItem) -> Result<Presence, DeliveryError> {
        self.sink(&item.channel)?.delivered(item).await
    }
}
