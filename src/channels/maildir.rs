//! The embedded default channel: a Maildir inbox watched for new files (inotify, with a
//! periodic rescan as backstop), and Maildir folders for the outbox (replies and alerts) and
//! drafts. Processed mail moves from new/ to cur/; customer mail is never deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use notify::{RecursiveMode, Watcher};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{DeliveryError, Sink, Source, SourceError};
use crate::pipeline::act::OutgoingKind;
use crate::store::{NewMessage, OutboxItem, Store};

/// Creates `dir/{new,cur,tmp}`.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

pub struct MaildirSource {
    name: String,
    dir: PathBuf,
    max_bytes: u64,
    events: mpsc::Receiver<()>,
    /// Kept alive for as long as the source: dropping it stops the notifications.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl MaildirSource {
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        ensure(dir)?;
        let (tx, events) = mpsc::channel(1);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Only arrivals matter: listing new/ ourselves raises access events, and reacting
            // to those would wake the worker forever.
            let arrival = event.is_ok_and(|e| e.kind.is_create() || e.kind.is_modify());
            if arrival {
                // A full channel already holds a wake-up; dropping this one loses nothing.
                let _ = tx.try_send(());
            }
        })
        .and_then(|mut w| w.watch(&dir.join("new"), RecursiveMode::NonRecursive).map(|()| w));
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "file-system notifications unavailable; relying on rescans");
                None
            }
        };
        Ok(Self { name: format!("maildir:{}", dir.display()), dir: dir.to_path_buf(), max_bytes, events, _watcher: watcher })
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> SourceError {
        SourceError::Io { channel: self.name.clone(), message: format!("{what}: {e}") }
    }

    /// Reads a message, but never more than the size limit plus one byte: an oversized file is
    /// stored as a prefix with its real length, and the parse stage quarantines it.
    async fn read_capped(&self, path: &Path) -> std::io::Result<(Vec<u8>, u64)> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let mut buf = Vec::with_capacity(len.min(self.max_bytes + 1) as usize);
        file.take(self.max_bytes + 1).read_to_end(&mut buf).await?;
        Ok((buf, len))
    }
}

#[async_trait]
impl Source for MaildirSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn collect(&mut self, store: &dyn Store) -> Result<usize, SourceError> {
        let new_dir = self.dir.join("new");
        let mut names = Vec::new();
        let mut entries = tokio::fs::read_dir(&new_dir).await.map_err(|e| self.io_error("listing new/", e))?;
        while let Some(entry) = entries.next_entry().await.map_err(|e| self.io_error("listing new/", e))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        // Oldest first where names are Maildir's time-based ones; name order otherwise.
        names.sort();
        let mut stored = 0;
        for name in names {
            let path = new_dir.join(&name);
            let (raw, len) = match self.read_capped(&path).await {
                Ok(r) => r,
                Err(e) => {
                    // Left in new/ and retried at the next scan; nothing is dropped.
                    tracing::warn!(file = %name, error = %e, "cannot read inbox file; will retry");
                    continue;
                }
            };
            let base = name.split(":2,").next().unwrap_or(&name);
            let ingested = store
                .ingest(NewMessage { channel: &self.name, channel_ref: base, raw: &raw, stored_len: len })
                .await?;
            if matches!(ingested, crate::store::Ingested::New(_)) {
                stored += 1;
            }
            crate::crashpoint!("after_ingest");
            let target = self.dir.join("cur").join(format!("{base}:2,S"));
            if let Err(e) = tokio::fs::rename(&path, &target).await {
                tracing::warn!(file = %name, error = %e, "stored but cannot move to cur/; it will be skipped as already stored");
            }
        }
        Ok(stored)
    }

    async fn changed(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.events.recv()).await;
        while self.events.try_recv().is_ok() {}
    }
}

pub struct MaildirSink {
    outbox: PathBuf,
    drafts: PathBuf,
}

impl MaildirSink {
    pub fn open(outbox: &Path, drafts: &Path) -> std::io::Result<Self> {
        ensure(outbox)?;
        ensure(drafts)?;
        Ok(Self { outbox: outbox.to_path_buf(), drafts: drafts.to_path_buf() })
    }

    fn folder(&self, kind: OutgoingKind) -> &Path {
        match kind {
            OutgoingKind::Draft => &self.drafts,
            OutgoingKind::Reply | OutgoingKind::Alert => &self.outbox,
        }
    }

    /// Derived from the Message-ID, so the same reply always lands under the same name.
    fn file_name(item: &OutboxItem) -> String {
        item.rfc_message_id.as_str().replace(['/', ':'], "_")
    }

    /// Where the file ends up: drafts carry the D flag, so they live in cur/.
    fn final_path(&self, item: &OutboxItem) -> PathBuf {
        let name = Self::file_name(item);
        match item.kind {
            OutgoingKind::Draft => self.drafts.join("cur").join(format!("{name}:2,D")),
            _ => self.outbox.join("new").join(name),
        }
    }
}

fn transient(e: std::io::Error) -> DeliveryError {
    DeliveryError::Transient(e.to_string())
}

#[async_trait]
impl Sink for MaildirSink {
    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        if tokio::fs::try_exists(self.final_path(item)).await.map_err(transient)? {
            return Ok(());
        }
        let folder = self.folder(item.kind);
        let tmp = folder.join("tmp").join(Self::file_name(item));
        tokio::fs::write(&tmp, &item.raw).await.map_err(transient)?;
        // rename() is atomic: a reader sees the whole message or none of it.
        tokio::fs::rename(&tmp, self.final_path(item)).await.map_err(transient)
    }

    async fn delivered(&self, item: &OutboxItem) -> Result<bool, DeliveryError> {
        let name = Self::file_name(item);
        if tokio::fs::try_exists(self.final_path(item)).await.map_err(transient)? {
            return Ok(true);
        }
        // A mail client may have moved it to cur/ and added flags.
        let mut entries = tokio::fs::read_dir(self.folder(item.kind).join("cur")).await.map_err(transient)?;
        while let Some(entry) = entries.next_entry().await.map_err(transient)? {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file == name || file.starts_with(&format!("{name}:")) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
