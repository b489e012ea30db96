//! The audit trail: an append-only log of everything that happens to every message — received,
//! classified, identified, grounded, drafted, fact-checked, decided, sent, approved, rejected,
//! corrected, quarantined — and to the configuration and the accounts. Each entry is chained to
//! the one before by SHA-256, and the chain's head is signed with Ed25519 from time to time
//! ([`sign`]), so an edited, deleted, inserted, reordered or cut-off entry shows ([`verify`]).
//!
//! Entries hold hashes, fact keys, codes and pseudonyms, never message bodies or personal data:
//! those stay in the other tables, where retention and erasure remove them while the chain
//! still verifies. A customer is named only by a keyed pseudonym with a key of its own
//! ([`pseudonym`]); erasing the customer deletes the key.

pub mod entries;
pub mod export;
pub mod format;
pub mod manifest;
pub mod report;
pub mod sign;
#[cfg(test)]
pub(crate) mod test_trail;
pub mod verify;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection};

use crate::store::StoreError;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it when no person did.
pub const SYSTEM: &str = "switchyard";

/// An entry to append. `data` must not carry personal data: hash it ([`sha256_hex`]) or name it
/// by pseudonym.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub kind: &'static str,
    pub message: Option<i64>,
    pub actor: String,
    pub subject: Option<String>,
    pub mailbox: Option<String>,
    pub intent: Option<String>,
    pub decision: Option<String>,
    pub data: serde_json::Value,
}

impl NewEntry {
    pub fn new(kind: &'static str, message: Option<i64>, data: serde_json::Value) -> Self {
        Self { kind, message, actor: SYSTEM.into(), subject: None, mailbox: None, intent: None, decision: None, data }
    }

    pub fn by(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }
}

/// An entry as stored: every field that is hashed, exactly as it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub message: Option<i64>,
    pub actor: String,
    pub subject: Option<String>,
    pub mailbox: Option<String>,
    pub intent: Option<String>,
    pub decision: Option<String>,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// SHA-256 over every field but `hash`, each length-prefixed so no two different entries
    /// have the same bytes (a field cannot borrow from its neighbour).
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |v: Option<&str>| match v {
            None => h.update(b"-;"),
            Some(v) => {
                h.update(v.len().to_string().as_bytes());
                h.update(b":");
                h.update(v.as_bytes());
                h.update(b";");
            }
        };
        field(Some(&self.seq.to_string()));
        field(Some(&self.at));
        field(Some(&self.kind));
        field(self.message.map(|m| m.to_string()).as_deref());
        field(Some(&self.actor));
        field(self.subject.as_deref());
        field(self.mailbox.as_deref());
        field(self.intent.as_deref());
        field(self.decision.as_deref());
        field(Some(&self.data));
        field(Some(&self.prev_hash));
        hex(&h.finalize())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    // One allocation: verification hashes every entry, and a String per byte showed up there.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// How times are stored in the trail (and hashed): fixed width, so text order is time order.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Appends `entries` after the current head, inside the caller's transaction, so an entry
/// commits with the fact it records or not at all. SQLite has one writer, so the head read
/// here is still the head when the transaction commits.
pub async fn append(conn: &mut SqliteConnection, entries: &[NewEntry], at: DateTime<Utc>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *conn).await?;
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_string()));
    let at = timestamp(at);
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let mut entry = Entry {
            seq,
            at: at.clone(),
            kind: e.kind.to_string(),
            message: e.message,
            actor: e.actor.clone(),
            subject: e.subject.clone(),
            mailbox: e.mailbox.clone(),
            intent: e.intent.clone(),
            decision: e.decision.clone(),
            data: e.data.to_string(),
            prev_hash: prev,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        prev = entry.hash.clone();
        rows.push(entry);
    }
    // Multi-row inserts: one statement per 64 entries.
    for chunk in rows.chunks(64) {
        let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO audit_log (seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash) VALUES {placeholders}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.seq)
                .bind(&e.at)
                .bind(&e.kind)
                .bind(e.message)
                .bind(&e.actor)
                .bind(&e.subject)
                .bind(&e.mailbox)
                .bind(&e.intent)
                .bind(&e.decision)
                .bind(&e.data)
                .bind(&e.prev_hash)
                .bind(&e.hash);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// What a pseudonym stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Account,
    Email,
    Phone,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Account => "account",
            SubjectKind::Email => "email",
            SubjectKind::Phone => "phone",
        }
    }
}

/// The pseudonym of a customer (by account number, e-mail address or phone), made on first
/// use: `HMAC-SHA256(key, value)` with a random key of its own, 32 hex digits. The trail names
/// customers only this way; [`forget`] deletes the key.
pub async fn pseudonym(conn: &mut SqliteConnection, kind: SubjectKind, value: &str) -> Result<String, StoreError> {
    let value = value.trim().to_lowercase();
    let found: Option<String> = sqlx::query_scalar("SELECT ref FROM privacy_subjects WHERE kind = ? AND value = ?")
        .bind(kind.as_str())
        .bind(&value)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(r) = found {
        return Ok(r);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StoreError::Corrupt(format!("no random source for a pseudonym key: {e}")))?;
    let reference = keyed_ref(&key, &value);
    sqlx::query("INSERT INTO privacy_subjects (ref, kind, value, key, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&reference)
        .bind(kind.as_str())
        .bind(&value)
        .bind(hex(&key))
        .bind(Utc::now())
        .execute(&mut *conn)
        .await?;
    Ok(reference)
}

/// The pseudonym of a customer if one was ever made (for export filters).
pub async fn existing_pseudonym(conn: &mut SqliteConnection, kind: SubjectKind, value: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT ref FROM privacy_subjects WHERE kind = ? AND value = ?")
        .bind(kind.as_str())
        .bind(value.trim().to_lowercase())
        .fetch_optional(&mut *conn)
        .await?)
}

/// Deletes the keys of these pseudonyms: the trail's entries stay and still verify, but
/// nothing links them back to the person any more.
pub async fn forget(conn: &mut SqliteConnection, refs: &[String]) -> Result<u64, StoreError> {
    let mut n = 0;
    for r in refs {
        n += sqlx::query("DELETE FROM privacy_subjects WHERE ref = ?").bind(r).execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

fn keyed_ref(key: &[u8], value: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())[..32].to_string()
}

/// The last entry's sequence number and hash.
pub async fn head(conn: &mut SqliteConnection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *conn).await?)
}

pub(crate) fn entry_from_row(r: &sqlx::sqlite::SqliteRow) -> Entry {
    Entry {
        seq: r.get("seq"),
        at: r.get("at"),
        kind: r.get("kind"),
        message: r.get("message"),
        actor: r.get("actor"),
        subject: r.get("subject"),
        mailbox: r.get("mailbox"),
        intent: r.get("intent"),
        decision: r.get("decision"),
        data: r.get("data"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

pub const ENTRY_COLUMNS: &str = "seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash";

/// Reads the entries with `after < seq <= until` in sequence order, a page at a time, so a
/// trail of millions of entries never sits in memory at once. Paging on `seq > after` also
/// catches rows whose seq was rewritten.
pub struct Pages {
    after: i64,
    until: i64,
}

impl Pages {
    const SIZE: i64 = 2_000;

    pub fn new(after: i64, until: i64) -> Self {
        Self { after, until }
    }

    /// The next page; empty when there is none.
    ///
    /// A page comes back as one row holding a JSON array of entries (each an array of its
    /// fields in [`Entry`]'s order): sqlx's SQLite driver hands every row across threads and
    /// copies every value twice, which held verification and export under 100,000 entries
    /// per second; one row per page moves the cost to SQLite's JSON writer and serde's reader.
    /// Text round-trips exactly, so the hashes are computed over the bytes stored.
    pub async fn next(&mut self, conn: &mut SqliteConnection) -> Result<Vec<Entry>, StoreError> {
        let json: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash))
             FROM (SELECT * FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?)",
        )
        .bind(self.after)
        .bind(self.until)
        .bind(Self::SIZE)
        .fetch_one(&mut *conn)
        .await?;
        let mut page: Vec<Entry> = serde_json::from_str(&json).map_err(|_| unreadable(&json))?;
        // The subquery is in seq order and SQLite aggregates in that order; sorting what is
        // already sorted costs one pass and keeps the walk from depending on it. (An ORDER BY
        // inside the aggregate sorts through a temporary b-tree: 1.6 times slower here.)
        page.sort_by_key(|e| e.seq);
        if let Some(last) = page.last() {
            self.after = last.seq;
        }
        Ok(page)
    }
}

/// Names the first row of a page that is not an entry (a field of the wrong type, written
/// outside switchyard): only reached when the page as a whole does not read.
fn unreadable(page: &str) -> StoreError {
    let rows: Vec<serde_json::Value> = serde_json::from_str(page).unwrap_or_default();
    for row in rows {
        if let Err(e) = serde_json::from_value::<Entry>(row.clone()) {
            let seq = row.get(0).map(ToString::to_string).unwrap_or_default();
            return StoreError::Corrupt(format!("audit entry {seq} is not an entry any more ({e}): its row was altered outside switchyard"));
        }
    }
    StoreError::Corrupt("a page of audit entries cannot be read: the table was altered outside switchyard".into())
}

/// The signing key the settings name: `audit.signing_key`, else the key file in the data
/// directory, made when absent (the second value says so).
pub fn signer(settings: &crate::config::Settings, data_dir: &std::path::Path) -> Result<(sign::Signer, bool), sign::KeyError> {
    match &settings.audit.signing_key {
        Some(secret) => Ok((sign::Signer::from_seed_hex(secret.expose())?, false)),
        None => sign::Signer::from_file_or_create(&data_dir.join(&settings.audit.key_file)),
    }
}

/// The public key signatures are checked against: `audit.public_key`, else the signer's own.
pub fn expected_public_key(settings: &crate::config::Settings, signer: &sign::Signer) -> String {
    settings.audit.public_key.clone().unwrap_or_else(|| signer.public_hex().to_string())
}

impl crate::store::sqlite::SqliteStore {
    /// Signs the chain head if entries were added since the last signed one.
    pub async fn sign_audit_head(&self, signer: &sign::Signer) -> Result<Option<sign::Head>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sign::sign_head(&mut conn, signer).await
    }

    pub async fn verify_audit(&self, public_key: &str) -> Result<verify::Report, StoreError> {
        let mut conn = self.pool.acquire().await?;
        verify::database(&mut conn, public_key).await
    }

    /// Records the configuration the worker starts with when it differs from the last one
    /// recorded (`config.changed`, with its fingerprint: a hash, secrets excluded).
    pub async fn record_configuration(&self, fingerprint: &str, policy_version: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let last: Option<String> = sqlx::query_scalar(
            "SELECT json_extract(data, '$.fingerprint') FROM audit_log WHERE kind = 'config.changed' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        if last.as_deref() == Some(fingerprint) {
            return Ok(false);
        }
        let data = serde_json::json!({"fingerprint": fingerprint, "policy_version": policy_version, "previous": last});
        append(&mut tx, &[NewEntry::new("config.changed", None, data)], Utc::now()).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// A fingerprint of the effective settings: secrets print as `***`, so they do not enter it
/// (a rotated password is not a configuration change the trail can show).
pub fn config_fingerprint(settings: &crate::config::Settings) -> String {
    sha256_hex(format!("{settings:?}").as_bytes())
}

#[cfg(test)]
mod tests;
