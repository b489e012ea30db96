//! The IMAP source: reads one mailbox folder by UID. New messages are stored together with the
//! folder's cursor (UIDVALIDITY and last UID) in one transaction, so after a disconnect of any
//! length every message that arrived meanwhile is taken exactly once. When the server resets
//! UIDVALIDITY, messages already stored (by Message-ID) are skipped instead of answered again.
//! Between syncs the source waits in IDLE (re-issued before 29 minutes) or polls.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;

use super::{Connection, ImapError, ImapSession, connect};
use crate::channels::oauth::TokenSource;
use crate::channels::{Source, SourceError};
use crate::config::{InitialSync, MailboxSettings, MarkProcessed};
use crate::store::{NewMessage, Store, SyncCursor, header_message_id};

pub struct ImapSource {
    channel: String,
    mailbox: MailboxSettings,
    tokens: TokenSource,
    max_bytes: u64,
    conn: Option<Connection>,
}

impl ImapSource {
    pub fn new(mailbox: MailboxSettings, max_bytes: u64) -> Self {
        Self {
            channel: format!("imap:{}", mailbox.name),
            tokens: TokenSource::new(mailbox.oauth.clone()),
            mailbox,
            max_bytes,
            conn: None,
        }
    }

    async fn connection(&mut self) -> Result<&mut Connection, ImapError> {
        if self.conn.is_none() {
            let conn = connect(&self.mailbox.imap, &self.tokens).await?;
            tracing::info!(mailbox = %self.mailbox.name, idle = conn.has("IDLE"), "IMAP connected");
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    async fn sync(&mut self, store: &dyn Store) -> Result<usize, SourceError> {
        let folder = self.mailbox.imap.folder.clone();
        let (channel, settings) = (self.channel.clone(), self.mailbox.imap.clone());
        let max_bytes = self.max_bytes;
        let conn = self.connection().await.map_err(|e| SourceError::Io { channel: channel.clone(), message: e.to_string() })?;
        let selected = conn.run("SELECT", async |s: &mut ImapSession| s.select(&folder).await).await.map_err(io(&channel))?;
        let uidvalidity = selected
            .uid_validity
            .ok_or_else(|| SourceError::Io { channel: channel.clone(), message: "the server reports no UIDVALIDITY".into() })?;
        let uid_next = selected.uid_next.unwrap_or(1);
        let cursor = store.sync_cursor(&channel, &folder).await?;
        let last_uid = match cursor {
            Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
            Some(c) => {
                tracing::warn!(mailbox = %channel, old = c.uidvalidity, new = uidvalidity, "UIDVALIDITY changed: resynchronising by Message-ID");
                return resync(conn, store, &channel, &folder, uidvalidity, max_bytes, &settings.mark).await;
            }
            None if settings.initial_sync == InitialSync::New => {
                // Going live on a mailbox must not answer its history: start after the last UID.
                let start = SyncCursor { channel: channel.clone(), folder: folder.clone(), uidvalidity, last_uid: uid_next.saturating_sub(1) };
                store.save_cursor(&start).await?;
                tracing::info!(mailbox = %channel, from_uid = uid_next, "first connection: taking mail from now on");
                return Ok(0);
            }
            None => 0,
        };
        let query = format!("UID {}:*", last_uid + 1);
        let found = conn.run("UID SEARCH", async |s: &mut ImapSession| s.uid_search(&query).await).await.map_err(io(&channel))?;
        // "n:*" always matches the highest UID, even below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last_uid).collect();
        uids.sort_unstable();
        let stored = fetch_and_store(conn, store, &channel, &folder, uidvalidity, &uids, settings.fetch_batch, max_bytes)
            .await?;
        // One STORE for the whole pass: marking is cosmetic bookkeeping, and per-chunk STOREs
        // cost as much as the fetches. A crash before it leaves stored mail unmarked, never lost.
        mark(conn, &uids, &settings.mark).await.map_err(io(&channel))?;
        Ok(stored)
    }
}

/// Fetches `uids` in batches and stores each batch with the folder's cursor. The store of one
/// batch runs while the next is being fetched: the network and the database work in parallel.
#[allow(clippy::too_many_arguments)]
async fn fetch_and_store(
    conn: &mut Connection,
    store: &dyn Store,
    channel: &str,
    folder: &str,
    uidvalidity: u32,
    uids: &[u32],
    batch: u32,
    max_bytes: u64,
) -> Result<usize, SourceError> {
    let save = async |messages: Vec<Fetched>| -> Result<usize, SourceError> {
        let Some(last) = messages.last().map(|m| m.uid) else { return Ok(0) };
        let refs: Vec<String> = messages.iter().map(|m| format!("{uidvalidity}:{}", m.uid)).collect();
        let new: Vec<NewMessage<'_>> =
            messages.iter().zip(&refs).map(|(m, r)| NewMessage { channel, channel_ref: r, raw: &m.raw, stored_len: m.size }).collect();
        let cursor = SyncCursor { channel: channel.into(), folder: folder.into(), uidvalidity, last_uid: last };
        let ingested = store.ingest(&new, Some(&cursor)).await?;
        crate::crashpoint!("after_ingest");
        Ok(ingested.iter().filter(|i| matches!(i, crate::store::Ingested::New(_))).count())
    };
    let mut stored = 0;
    let mut previous: Vec<Fetched> = Vec::new();
    for chunk in uids.chunks(batch.max(1) as usize) {
        let (fetched, saved) = tokio::join!(fetch(conn, chunk, max_bytes), save(std::mem::take(&mut previous)));
        stored += saved?;
        previous = fetched.map_err(io(channel))?;
    }
    stored += save(previous).await?;
    Ok(stored)
}

fn io(channel: &str) -> impl Fn(ImapError) -> SourceError + '_ {
    move |e| SourceError::Io { channel: channel.to_string(), message: e.to_string() }
}

struct Fetched {
    uid: u32,
    raw: Vec<u8>,
    size: u64,
}

/// Fetches messages with their size in one round trip. The body is capped at `max_bytes + 1`:
/// an oversized message is never downloaded whole, and the parse stage quarantines it.
async fn fetch(conn: &mut Connection, uids: &[u32], max_bytes: u64) -> Result<Vec<Fetched>, ImapError> {
    let set = uid_set(uids);
    let query = format!("(UID RFC822.SIZE BODY.PEEK[]<0.{}>)", max_bytes.saturating_add(1).min(u64::from(u32::MAX)));
    let mut out: Vec<Fetched> = conn
        .run("UID FETCH", async |s: &mut ImapSession| {
            let fetches: Vec<_> = s.uid_fetch(&set, &query).await?.try_collect().await?;
            Ok::<_, async_imap::error::Error>(
                fetches
                    .iter()
                    .filter_map(|f| {
                        let raw = f.body()?.to_vec();
                        let size = f.size.map_or(raw.len() as u64, u64::from);
                        Some(Fetched { uid: f.uid?, raw, size })
                    })
                    .collect(),
            )
        })
        .await?;
    out.sort_by_key(|f| f.uid);
    Ok(out)
}

/// Marks stored messages as the mailbox is configured to: a flag, a keyword, or a move.
async fn mark(conn: &mut Connection, uids: &[u32], how: &MarkProcessed) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    match how {
        MarkProcessed::None => Ok(()),
        MarkProcessed::Seen => store_flags(conn, &set, "\\Seen").await,
        MarkProcessed::Keyword(k) => store_flags(conn, &set, k).await,
        MarkProcessed::Move(folder) => {
            if conn.has("MOVE") {
                conn.run("UID MOVE", async |s: &mut ImapSession| s.uid_mv(&set, folder).await).await
            } else {
                conn.run("UID COPY", async |s: &mut ImapSession| s.uid_copy(&set, folder).await).await?;
                store_flags(conn, &set, "\\Deleted").await?;
                conn.run("UID EXPUNGE", async |s: &mut ImapSession| {
                    let expunged: Vec<_> = s.uid_expunge(&set).await?.try_collect().await?;
                    Ok::<_, async_imap::error::Error>(expunged.len())
                })
                .await
                .map(|_| ())
            }
        }
    }
}

async fn store_flags(conn: &mut Connection, set: &str, flag: &str) -> Result<(), ImapError> {
    let query = format!("+FLAGS.SILENT ({flag})");
    conn.run("UID STORE", async |s: &mut ImapSession| {
        let _: Vec<_> = s.uid_store(set, &query).await?.try_collect().await?;
        Ok::<_, async_imap::error::Error>(())
    })
    .await
}

/// After a UIDVALIDITY change every UID is new. Messages whose Message-ID was already stored
/// from this mailbox are skipped; the others are fetched and stored (and the guard still drops
/// exact duplicates by content).
async fn resync(
    conn: &mut Connection,
    store: &dyn Store,
    channel: &str,
    folder: &str,
    uidvalidity: u32,
    max_bytes: u64,
    how: &MarkProcessed,
) -> Result<usize, SourceError> {
    let headers: Vec<(u32, Option<String>)> = conn
        .run("UID FETCH (Message-ID)", async |s: &mut ImapSession| {
            let fetches: Vec<_> = s.uid_fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])").await?.try_collect().await?;
            Ok::<_, async_imap::error::Error>(
                fetches.iter().filter_map(|f| Some((f.uid?, f.header().and_then(header_message_id)))).collect(),
            )
        })
        .await
        .map_err(io(channel))?;
    let ids: Vec<String> = headers.iter().filter_map(|(_, m)| m.clone()).collect();
    let known = store.known_message_ids(channel, &ids).await?;
    let last_uid = headers.iter().map(|(u, _)| *u).max().unwrap_or(0);
    let mut unknown: Vec<u32> = headers.iter().filter(|(_, m)| m.as_ref().is_none_or(|m| !known.contains(m))).map(|(u, _)| *u).collect();
    unknown.sort_unstable();
    tracing::warn!(mailbox = %channel, known = headers.len() - unknown.len(), new = unknown.len(), "UIDVALIDITY resynchronised");
    let mut stored = 0;
    for chunk in unknown.chunks(500) {
        let messages = fetch(conn, chunk, max_bytes).await.map_err(io(channel))?;
        let refs: Vec<String> = messages.iter().map(|m| format!("{uidvalidity}:{}", m.uid)).collect();
        let new: Vec<NewMessage<'_>> =
            messages.iter().zip(&refs).map(|(m, r)| NewMessage { channel, channel_ref: r, raw: &m.raw, stored_len: m.size }).collect();
        let ingested = store.ingest(&new, None).await?;
        stored += ingested.iter().filter(|i| matches!(i, crate::store::Ingested::New(_))).count();
        mark(conn, chunk, how).await.map_err(io(channel))?;
    }
    store.save_cursor(&SyncCursor { channel: channel.into(), folder: folder.into(), uidvalidity, last_uid }).await?;
    Ok(stored)
}

/// `1,3,5:9`: a compact UID set.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    parts.join(",")
}

#[async_trait]
impl Source for ImapSource {
    fn name(&self) -> &str {
        &self.channel
    }

    async fn collect(&mut self, store: &dyn Store) -> Result<usize, SourceError> {
        let result = self.sync(store).await;
        if result.is_err() {
            // Start from a fresh connection next time: the old one may be half-dead.
            self.conn = None;
        }
        result
    }

    async fn changed(&mut self) {
        let imap = &self.mailbox.imap;
        let (idle, poll) = (imap.idle, imap.poll_seconds);
        let renew = match imap.recheck_ms {
            0 => Duration::from_secs(imap.idle_renew_seconds),
            ms => Duration::from_millis(ms).min(Duration::from_secs(imap.idle_renew_seconds)),
        };
        let Some(conn) = self.conn.take() else {
            tokio::time::sleep(Duration::from_secs(poll)).await;
            return;
        };
        if !(idle && conn.has("IDLE")) {
            self.conn = Some(conn);
            tokio::time::sleep(Duration::from_secs(poll)).await;
            return;
        }
        match wait_in_idle(conn, renew).await {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => {
                // Dropped by the server (restart, timeout, kick): the next collect reconnects
                // and catches up by UID, so nothing that arrived meanwhile is missed.
                tracing::warn!(mailbox = %self.channel, error = %e, "IDLE connection lost; reconnecting");
            }
        }
    }
}

/// Waits in IDLE until the server reports a change or `renew` passes, then ends IDLE.
async fn wait_in_idle(conn: Connection, renew: Duration) -> Result<Connection, ImapError> {
    let Connection { session, capabilities, host } = conn;
    let err = |command: &str, e: async_imap::error::Error| ImapError::Command { host: host.clone(), command: command.into(), message: e.to_string() };
    let mut handle = session.idle();
    handle.init().await.map_err(|e| err("IDLE", e))?;
    // The stop source must stay alive while waiting: dropping it ends the wait at once.
    let (wait, _stop) = handle.wait_with_timeout(renew);
    let outcome = wait.await.map_err(|e| err("IDLE", e))?;
    tracing::debug!(?outcome, "IDLE ended");
    let session = tokio::time::timeout(super::COMMAND_TIMEOUT, handle.done())
        .await
        .map_err(|_| ImapError::Timeout { host: host.clone(), command: "DONE".into(), seconds: super::COMMAND_TIMEOUT.as_secs() })?
        .map_err(|e| err("DONE", e))?;
    let conn = Connection { session, capabilities, host };
    while conn.session.unsolicited_responses.try_recv().is_ok() {}
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10, 7]), "1:3,5,7,9:10");
        assert_eq!(uid_set(&[4]), "4");
    }
}
