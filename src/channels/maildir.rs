//! The embedded default channel: a Maildir inbox watched for new files (inotify, with a
//! periodic rescan as backstop), and Maildir folders for the outbox (replies and alerts) and
//! drafts. Processed mail moves from new/ to cur/; customer mail is never deleted.
//!
//! File work runs on the blocking pool, one task per chunk of messages rather than one per
//! file operation: hand-offs between threads, not the disk, are what costs here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{DeliveryError, Presence, Sink, Source, SourceError};
use crate::pipeline::act::OutgoingKind;
use crate::store::{Ingested, NewMessage, OutboxItem, Store};

/// The channel name of the embedded Maildir (stored with every message it brings).
pub const CHANNEL: &str = "maildir:inbox";

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
    /// Files read and stored per transaction.
    chunk: usize,
    /// Rescan this often even without a file-system event.
    rescan: Duration,
    events: mpsc::Receiver<()>,
    /// Kept alive for as long as the source: dropping it stops the notifications.
    _watcher: Option<notify::RecommendedWatcher>,
}

/// A file read from new/: its name, its bytes (at most the size limit plus one) and its size.
struct Arrival {
    name: String,
    raw: Vec<u8>,
    len: u64,
}

impl MaildirSource {
    pub fn open(dir: &Path, max_bytes: u64, chunk: usize, rescan: Duration) -> std::io::Result<Self> {
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
        Ok(Self { name: CHANNEL.to_string(), dir: dir.to_path_buf(), max_bytes, chunk: chunk.max(1), rescan, events, _watcher: watcher })
    }

    fn io_error(&self, what: &str, e: impl std::fmt::Display) -> SourceError {
        SourceError::Io { channel: self.name.clone(), message: format!("{what}: {e}") }
    }
}

/// Names in new/, oldest first where they are Maildir's time-based names, else by name.
fn list_new(new_dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(new_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// Reads a chunk of files. An oversized file is read only up to the limit plus one byte and
/// stored with its real size, so the parse stage quarantines it. Unreadable files stay in new/
/// and are retried at the next scan: nothing is dropped.
fn read_chunk(new_dir: &Path, names: &[String], max_bytes: u64) -> Vec<Arrival> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let path = new_dir.join(name);
        let read = std::fs::File::open(&path).and_then(|f| {
            let len = f.metadata()?.len();
            let mut raw = Vec::with_capacity(len.min(max_bytes + 1) as usize);
            f.take(max_bytes + 1).read_to_end(&mut raw)?;
            Ok((raw, len))
        });
        match read {
            Ok((raw, len)) => out.push(Arrival { name: name.clone(), raw, len }),
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot read inbox file; will retry"),
        }
    }
    out
}

/// The Maildir unique part of a file name, without the `:2,flags` suffix.
fn base_name(name: &str) -> &str {
    name.split(":2,").next().unwrap_or(name)
}

#[async_trait]
impl Source for MaildirSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn collect(&mut self, store: &dyn Store) -> Result<usize, SourceError> {
        let new_dir = self.dir.join("new");
        let listing = new_dir.clone();
        let names = tokio::task::spawn_blocking(move || list_new(&listing))
            .await
            .map_err(|e| self.io_error("listing new/", e))?
            .map_err(|e| self.io_error("listing new/", e))?;
        let mut stored = 0;
        for chunk in names.chunks(self.chunk) {
            let (dir, chunk_names, max) = (new_dir.clone(), chunk.to_vec(), self.max_bytes);
            let arrivals = tokio::task::spawn_blocking(move || read_chunk(&dir, &chunk_names, max))
                .await
                .map_err(|e| self.io_error("reading new/", e))?;
            let messages: Vec<NewMessage<'_>> = arrivals
                .iter()
                .map(|a| NewMessage { channel: &self.name, channel_ref: base_name(&a.name), raw: &a.raw, stored_len: a.len })
                .collect();
            let results = store.ingest(&messages, None).await?;
            stored += results.iter().filter(|r| matches!(r, Ingested::New(_))).count();
            crate::crashpoint!("after_ingest");
            // Only now, with the messages stored, are they acknowledged by moving them to cur/.
            let (dir, done): (PathBuf, Vec<String>) = (self.dir.clone(), arrivals.into_iter().map(|a| a.name).collect());
            tokio::task::spawn_blocking(move || {
                for name in done {
                    let target = dir.join("cur").join(format!("{}:2,S", base_name(&name)));
                    if let Err(e) = std::fs::rename(dir.join("new").join(&name), target) {
                        tracing::warn!(file = %name, error = %e, "stored but cannot move to cur/; it will be skipped as already stored");
                    }
                }
            })
            .await
            .map_err(|e| self.io_error("moving to cur/", e))?;
        }
        Ok(stored)
    }

    async fn changed(&mut self) {
        let _ = tokio::time::timeout(self.rescan, self.events.recv()).await;
        while self.events.try_recv().is_ok() {}
    }
}

pub struct MaildirSink {
    outbox: PathBuf,
    drafts: PathBuf,
    review: PathBuf,
}

impl MaildirSink {
    pub fn open(outbox: &Path, drafts: &Path, review: &Path) -> std::io::Result<Self> {
        for dir in [outbox, drafts, review] {
            ensure(dir)?;
        }
        Ok(Self { outbox: outbox.to_path_buf(), drafts: drafts.to_path_buf(), review: review.to_path_buf() })
    }

    fn folder(&self, kind: OutgoingKind) -> &Path {
        match kind {
            OutgoingKind::Draft => &self.drafts,
            OutgoingKind::Note => &self.review,
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
            kind => self.folder(kind).join("new").join(name),
        }
    }
}

/// Writes to tmp/ and renames into place: rename() is atomic, so a reader sees the whole
/// message or none of it, and an existing file is never written twice.
fn write_once(tmp: &Path, target: &Path, raw: &[u8]) -> Result<(), DeliveryError> {
    if target.exists() {
        return Ok(());
    }
    std::fs::write(tmp, raw).and_then(|()| std::fs::rename(tmp, target)).map_err(|e| DeliveryError::Transient(e.to_string()))
}

#[async_trait]
impl Sink for MaildirSink {
    async fn deliver(&self, items: &[OutboxItem]) -> Vec<Result<(), DeliveryError>> {
        let jobs: Vec<(PathBuf, PathBuf, Vec<u8>)> = items
            .iter()
            .map(|i| (self.folder(i.kind).join("tmp").join(Self::file_name(i)), self.final_path(i), i.raw.clone()))
            .collect();
        let n = jobs.len();
        tokio::task::spawn_blocking(move || {
            jobs.iter()
                .map(|(tmp, target, raw)| {
                    let r = write_once(tmp, target, raw);
                    crate::crashpoint!("after_sink_item");
                    r
                })
                .collect()
        })
        .await
        .unwrap_or_else(|e| (0..n).map(|_| Err(DeliveryError::Transient(format!("writer task failed: {e}")))).collect())
    }

    async fn delivered(&self, item: &OutboxItem) -> Result<Presence, DeliveryError> {
        let (name, target, cur) = (Self::file_name(item), self.final_path(item), self.folder(item.kind).join("cur"));
        tokio::task::spawn_blocking(move || {
            if target.exists() {
                return Ok(Presence::Delivered);
            }
            // A mail client may have moved it to cur/ and added flags.
            let found = std::fs::read_dir(&cur)?.filter_map(|e| e.ok()).any(|e| {
                let file = e.file_name();
                let file = file.to_string_lossy();
                file == name || file.starts_with(&format!("{name}:"))
            });
            // A Maildir delivery is one rename: if the file is not there, it never happened.
            Ok(if found { Presence::Delivered } else { Presence::NotDelivered })
        })
        .await
        .map_err(|e| DeliveryError::Transient(e.to_string()))?
        .map_err(|e: std::io::Error| DeliveryError::Transient(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageId;
    use crate::store::sqlite::SqliteStore;
    use crate::testing::{email, temp_dir};

    #[tokio::test]
    async fn collected_mail_is_stored_then_moved_to_cur() {
        let dir = temp_dir("maildir-src");
        let store = SqliteStore::open(&dir.join("s.db")).await.unwrap();
        let mut source = MaildirSource::open(&dir.join("inbox"), 10, 2, Duration::from_secs(1)).unwrap();
        std::fs::write(dir.join("inbox/new/1.a"), b"From: a@b.example\r\n\r\nhi").unwrap();
        std::fs::write(dir.join("inbox/new/2.b"), b"From: a@b.example\r\n\r\nhello").unwrap();
        std::fs::write(dir.join("inbox/new/3.c:2,"), b"x").unwrap();
        assert_eq!(source.collect(&store).await.unwrap(), 3);
        assert_eq!(std::fs::read_dir(dir.join("inbox/new")).unwrap().count(), 0);
        assert!(dir.join("inbox/cur/1.a:2,S").exists() && dir.join("inbox/cur/3.c:2,S").exists());
        let pending = store.pending(10).await.unwrap();
        assert_eq!(pending.len(), 3);
        // Over the 10-byte limit: stored as a prefix with its real size, for the parser to quarantine.
        assert_eq!(pending[0].raw.len(), 11);
        assert_eq!(pending[0].stored_len, b"From: a@b.example\r\n\r\nhi".len() as u64);
        assert_eq!(source.collect(&store).await.unwrap(), 0);
    }

    fn item(kind: OutgoingKind, id: &str) -> OutboxItem {
        OutboxItem {
            id: 1,
            message: 1,
            channel: "maildir:test".into(),
            kind,
            rfc_message_id: MessageId::parse(id).unwrap(),
            recipient: email("c@x.example"),
            raw: b"Subject: hi\r\n\r\nbody".to_vec(),
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn delivery_writes_once_and_is_found_again_after_a_client_moves_it() {
        let dir = temp_dir("maildir-sink");
        let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
        let (reply, draft) = (item(OutgoingKind::Reply, "r.1@sy.example"), item(OutgoingKind::Draft, "d.1@sy.example"));
        assert_eq!(sink.delivered(&reply).await.unwrap(), Presence::NotDelivered);
        let results = sink.deliver(&[reply.clone(), draft.clone()]).await;
        assert!(results.iter().all(Result::is_ok));
        assert!(dir.join("outbox/new/r.1@sy.example").exists());
        assert!(dir.join("drafts/cur/d.1@sy.example:2,D").exists());
        assert_eq!(std::fs::read_dir(dir.join("outbox/tmp")).unwrap().count(), 0);
        // A mail client reads it: moved to cur/ with flags. Still known as delivered.
        std::fs::rename(dir.join("outbox/new/r.1@sy.example"), dir.join("outbox/cur/r.1@sy.example:2,S")).unwrap();
        assert_eq!(sink.delivered(&reply).await.unwrap(), Presence::Delivered);
        assert_eq!(sink.delivered(&draft).await.unwrap(), Presence::Delivered);
    }

    #[tokio::test]
    async fn a_missing_folder_is_a_transient_failure() {
        let dir = temp_dir("maildir-broken");
        let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
        std::fs::remove_dir_all(dir.join("outbox")).unwrap();
        let results = sink.deliver(&[item(OutgoingKind::Reply, "r.2@sy.example")]).await;
        assert!(matches!(results[0], Err(DeliveryError::Transient(_))));
    }
}
