//! `audit export`: the entries of a period — all of them, or the whole stories of the
//! messages a filter selects — written as JSON Lines or CSV beside a signed manifest that
//! `audit verify --export` checks offline, with no database.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::SqliteConnection;

use super::format::{EntryWriter, Format};
use super::manifest::{self, FileDigest, Manifest};
use super::sign::{Head, Signer};
use super::{Entry, Pages, SubjectKind, existing_pseudonym, timestamp};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("`{0}` is not a date: give a day (2026-11-20, UTC) or an RFC 3339 time (2026-11-20T08:00:00Z)")]
    Date(String),
    #[error("--from ({from}) is after --to ({to}): swap them")]
    Order { from: String, to: String },
    #[error("{0} already holds files: give --out a new or empty directory (an export is never overwritten)")]
    NotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An inclusive time range, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// A day covers all of it: `--from 2026-11-01 --to 2026-11-30` is the whole of November.
    pub fn parse(from: &str, to: &str) -> Result<Self, ExportError> {
        let range = Self { from: bound(from, false)?, to: bound(to, true)? };
        if range.from > range.to {
            return Err(ExportError::Order { from: timestamp(range.from), to: timestamp(range.to) });
        }
        Ok(range)
    }
}

fn bound(s: &str, end_of_day: bool) -> Result<DateTime<Utc>, ExportError> {
    let s = s.trim();
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let time = if end_of_day { NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999) } else { Some(NaiveTime::MIN) };
        return Ok(day.and_time(time.expect("a valid time")).and_utc());
    }
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| ExportError::Date(s.to_string()))
}

/// What to export besides the range. The story filters select messages; `actor` selects
/// entries.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// An account number.
    pub customer: Option<String>,
    pub email: Option<String>,
    pub mailbox: Option<String>,
    pub intent: Option<String>,
    pub decision: Option<String>,
    pub actor: Option<String>,
}

impl Filters {
    fn selects_stories(&self) -> bool {
        self.customer.is_some() || self.email.is_some() || self.mailbox.is_some() || self.intent.is_some() || self.decision.is_some()
    }
}

pub struct Request {
    pub range: Range,
    pub filters: Filters,
    pub format: Format,
    pub out: PathBuf,
}

/// Writes the export; returns its manifest (as written, signed).
pub async fn export(conn: &mut SqliteConnection, req: &Request, signer: &Signer) -> Result<Manifest, ExportError> {
    let (selection, filters) = Selection::resolve(conn, &req.filters).await?;
    prepare(&req.out)?;
    let data_path = req.out.join(req.format.file_name());
    let write_err = |source| ExportError::Write { path: data_path.clone(), source };
    let writer = Background::start(EntryWriter::create(&data_path, req.format).map_err(write_err)?);
    let read = write_entries(conn, &req.range, &selection, &writer).await;
    // A failed write stops the reading early: its error is the one to report.
    let digest = writer.finish().map_err(write_err)?;
    let tally = read?;
    let heads = match (tally.first_seq, tally.last_seq) {
        (Some(first), Some(last)) => heads_pinning(conn, first, last).await?,
        _ => Vec::new(),
    };
    let mut manifest = tally.manifest(req, filters, heads, signer.public_hex(), digest);
    manifest.sign(signer);
    write_manifest(&req.out, &manifest)?;
    Ok(manifest)
}

/// The messages the story filters select (`None`: no such filter), and the entry filter.
struct Selection {
    messages: Option<HashSet<i64>>,
    actor: Option<String>,
}

impl Selection {
    async fn resolve(conn: &mut SqliteConnection, f: &Filters) -> Result<(Self, manifest::Filters), StoreError> {
        let customer = match &f.customer {
            Some(account) => Some(existing_pseudonym(conn, SubjectKind::Account, account).await?),
            None => None,
        };
        let email = match &f.email {
            Some(address) => Some(existing_pseudonym(conn, SubjectKind::Email, address).await?),
            None => None,
        };
        let messages = if f.selects_stories() { Some(story_messages(conn, f, &customer, &email).await?) } else { None };
        // A customer the trail never named is recorded as such, not in clear.
        let named = |p: Option<Option<String>>| p.map(|r| r.unwrap_or_else(|| "(none: never recorded)".into()));
        let recorded = manifest::Filters {
            customer_pseudonym: named(customer),
            email_pseudonym: named(email),
            mailbox: f.mailbox.clone(),
            intent: f.intent.clone(),
            decision: f.decision.clone(),
            actor: f.actor.clone(),
        };
        Ok((Self { messages, actor: f.actor.clone() }, recorded))
    }

    fn selects(&self, e: &Entry) -> bool {
        let story = match &self.messages {
            None => true,
            Some(set) => e.message.is_some_and(|m| set.contains(&m)),
        };
        story && self.actor.as_ref().is_none_or(|a| *a == e.actor)
    }
}

/// The messages every story filter matches, over the whole trail: a billing message decided
/// last month and approved today belongs to today's `--intent billing` export.
async fn story_messages(
    conn: &mut SqliteConnection,
    f: &Filters,
    customer: &Option<Option<String>>,
    email: &Option<Option<String>>,
) -> Result<HashSet<i64>, StoreError> {
    let mut sets: Vec<HashSet<i64>> = Vec::new();
    for (column, value) in [("intent", &f.intent), ("decision", &f.decision), ("mailbox", &f.mailbox)] {
        if let Some(v) = value {
            sets.push(messages_where(conn, column, v).await?);
        }
    }
    if let Some(r) = customer {
        sets.push(match r {
            Some(r) => messages_where(conn, "subject", r).await?,
            None => HashSet::new(),
        });
    }
    if let Some(r) = email {
        sets.push(match r {
            Some(r) => messages_of_sender(conn, r).await?,
            None => HashSet::new(),
        });
    }
    let mut sets = sets.into_iter();
    let first = sets.next().unwrap_or_default();
    Ok(sets.fold(first, |acc, s| acc.intersection(&s).copied().collect()))
}

async fn messages_where(conn: &mut SqliteConnection, column: &str, value: &str) -> Result<HashSet<i64>, StoreError> {
    let sql = match column {
        "intent" => "SELECT DISTINCT message FROM audit_log WHERE intent = ? AND message IS NOT NULL",
        "decision" => "SELECT DISTINCT message FROM audit_log WHERE decision = ? AND message IS NOT NULL",
        "mailbox" => "SELECT DISTINCT message FROM audit_log WHERE mailbox = ? AND message IS NOT NULL",
        _ => "SELECT DISTINCT message FROM audit_log WHERE subject = ? AND message IS NOT NULL",
    };
    let ids: Vec<i64> = sqlx::query_scalar(sql).bind(value).fetch_all(&mut *conn).await?;
    Ok(ids.into_iter().collect())
}

/// An address names a story as its subject (an unidentified sender) or as the sender an
/// identified customer wrote from.
async fn messages_of_sender(conn: &mut SqliteConnection, pseudonym: &str) -> Result<HashSet<i64>, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT message FROM audit_log WHERE message IS NOT NULL
            AND (subject = ? OR (kind = 'customer.identified' AND json_extract(data, '$.sender') = ?))",
    )
    .bind(pseudonym)
    .bind(pseudonym)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().collect())
}

fn prepare(dir: &Path) -> Result<(), ExportError> {
    let err = |source| ExportError::Write { path: dir.to_path_buf(), source };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(ExportError::NotEmpty(dir.to_path_buf())),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir).map_err(err),
        Err(e) => Err(err(e)),
    }
}

/// What was written: counts and both ends.
#[derive(Default)]
struct Tally {
    count: u64,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    start_hash: Option<String>,
    end_hash: Option<String>,
    gaps: bool,
}

impl Tally {
    fn add(&mut self, e: &Entry) {
        if self.first_seq.is_none() {
            self.first_seq = Some(e.seq);
            self.start_hash = Some(e.prev_hash.clone());
        }
        self.gaps |= self.last_seq.is_some_and(|l| e.seq != l + 1);
        self.count += 1;
        self.last_seq = Some(e.seq);
        self.end_hash.get_or_insert_with(String::new).clone_from(&e.hash);
    }

    fn manifest(self, req: &Request, filters: manifest::Filters, heads: Vec<Head>, public_key: &str, digest: FileDigest) -> Manifest {
        Manifest {
            kind: manifest::KIND.into(),
            format_version: manifest::FORMAT_VERSION,
            created_at: timestamp(Utc::now()),
            range: manifest::Range { from: timestamp(req.range.from), to: timestamp(req.range.to) },
            filters,
            format: req.format.as_str().into(),
            count: self.count,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            contiguous: self.count > 0 && !self.gaps,
            start_hash: self.start_hash,
            end_hash: self.end_hash,
            heads,
            public_key: public_key.into(),
            files: [(req.format.file_name().to_string(), digest)].into(),
            signature: None,
        }
    }
}

/// Pages through the entries between the first and the last written in the range, in
/// sequence order, handing what is selected to the writer. The range is checked on each entry
/// as well: times come from the clock, and an entry whose time is out of order is left out
/// rather than pulled in.
async fn write_entries(conn: &mut SqliteConnection, range: &Range, sel: &Selection, out: &Background) -> Result<Tally, StoreError> {
    let (from, to) = (timestamp(range.from), timestamp(range.to));
    let bounds: (Option<i64>, Option<i64>) = sqlx::query_as("SELECT MIN(seq), MAX(seq) FROM audit_log WHERE at >= ? AND at <= ?")
        .bind(&from)
        .bind(&to)
        .fetch_one(&mut *conn)
        .await?;
    let mut tally = Tally::default();
    let (Some(lo), Some(hi)) = bounds else { return Ok(tally) };
    let mut pages = Pages::new(lo - 1, hi);
    loop {
        let mut page = pages.next(conn).await?;
        if page.is_empty() {
            return Ok(tally);
        }
        page.retain(|e| e.at >= from && e.at <= to && sel.selects(e));
        page.iter().for_each(|e| tally.add(e));
        if !out.send(page) {
            return Ok(tally);
        }
    }
}

/// Serialises, hashes and writes the entries on a thread of its own, so that half of the work
/// runs beside the database's instead of after it (an export is otherwise two sequential
/// halves of about the same cost on a machine with cores to spare).
struct Background {
    pages: std::sync::mpsc::SyncSender<Vec<Entry>>,
    thread: std::thread::JoinHandle<std::io::Result<FileDigest>>,
}

impl Background {
    fn start(mut writer: EntryWriter) -> Self {
        // Two pages in flight: enough to keep both sides busy, little memory.
        let (pages, incoming) = std::sync::mpsc::sync_channel::<Vec<Entry>>(2);
        let thread = std::thread::spawn(move || {
            for page in incoming {
                page.iter().try_for_each(|e| writer.write(e))?;
            }
            writer.finish()
        });
        Self { pages, thread }
    }

    /// Queues a page; false when the writer has stopped (on an error `finish` returns).
    /// Blocking here is fine: the database work runs on sqlx's own thread.
    fn send(&self, page: Vec<Entry>) -> bool {
        self.pages.send(page).is_ok()
    }

    fn finish(self) -> std::io::Result<FileDigest> {
        drop(self.pages);
        self.thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the export's writer thread panicked")))
    }
}

/// The signed heads within `first..=last`, and the first one after `last`, which pins the
/// last entries exported to a signature made when they were already written.
async fn heads_pinning(conn: &mut SqliteConnection, first: i64, last: i64) -> Result<Vec<Head>, StoreError> {
    let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT seq, hash, signed_at, public_key, signature FROM audit_heads WHERE seq >= ? AND seq <= ?
         UNION ALL
         SELECT * FROM (SELECT seq, hash, signed_at, public_key, signature FROM audit_heads WHERE seq > ? ORDER BY seq LIMIT 1)
         ORDER BY seq",
    )
    .bind(first)
    .bind(last)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(seq, hash, signed_at, public_key, signature)| Head { seq, hash, signed_at, public_key, signature }).collect())
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), ExportError> {
    let path = dir.join(manifest::FILE);
    let text = serde_json::to_string_pretty(manifest).expect("a manifest is plain data") + "\n";
    std::fs::write(&path, text).map_err(|source| ExportError::Write { path, source })
}

#[cfg(test)]
mod tests;
