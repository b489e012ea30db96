//! SQLite side of privacy: consent records and their checks, the retention purge, erasure and
//! the rows of an access request. Purging and erasing rewrite the rows that hold personal data
//! and never touch `audit_log`: the trail holds only hashes, codes and pseudonyms, so it still
//! verifies afterwards.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, json};
use crate::audit::{self, NewEntry};
use crate::privacy::access::{AccessData, MessageRows, OutboxRow};
use crate::privacy::files::Targets;
use crate::privacy::{ConsentQuery, ConsentRecord, ErasureReport, NewConsent, Purpose, Scrubbed, Subject, Withdrawn};
use crate::store::{OutboxItem, StoreError};

const CONSENT_COLUMNS: &str = "c.id, c.subject_kind, c.subject, c.channel, c.purpose, c.granted, c.source, c.recorded_at, c.recorded_by";

/// The latest record of each (subject, channel, purpose): the one that holds.
const LATEST: &str = "c.id = (SELECT c2.id FROM consents c2 WHERE c2.subject_kind = c.subject_kind AND c2.subject = c.subject
                       AND c2.channel = c.channel AND c2.purpose = c.purpose ORDER BY c2.recorded_at DESC, c2.id DESC LIMIT 1)";

fn consent(r: &SqliteRow) -> Result<ConsentRecord, StoreError> {
    let corrupt = |e: crate::privacy::PrivacyError| StoreError::Corrupt(format!("consent record {}: {e}", r.get::<i64, _>("id")));
    let value: String = r.get("subject");
    let subject = match r.get::<String, _>("subject_kind").as_str() {
        "account" => Subject::Account(value),
        _ => Subject::Email(value),
    };
    Ok(ConsentRecord {
        id: r.get("id"),
        subject,
        channel: r.get::<String, _>("channel").parse().map_err(corrupt)?,
        purpose: r.get::<String, _>("purpose").parse().map_err(corrupt)?,
        granted: r.get::<i64, _>("granted") != 0,
        source: r.get("source"),
        recorded_at: r.get("recorded_at"),
        recorded_by: r.get("recorded_by"),
    })
}

/// The latest record that applies to each query: by the recipient's address or by the
/// decision's customer, whichever was recorded last. In the order given.
pub(super) async fn latest_consents(conn: &mut SqliteConnection, queries: &[ConsentQuery<'_>]) -> Result<Vec<Option<ConsentRecord>>, StoreError> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let input: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| json!({"message": q.message, "recipient": q.recipient.to_lowercase(), "channel": q.channel.as_str(), "purpose": q.purpose.as_str()}))
        .collect();
    let rows = sqlx::query(
        "SELECT j.key AS idx, c.id, c.subject_kind, c.subject, c.channel, c.purpose, c.granted, c.source, c.recorded_at, c.recorded_by
         FROM json_each(?1) j JOIN consents c ON c.id = (
            SELECT c2.id FROM consents c2
            WHERE c2.channel = j.value ->> 'channel' AND c2.purpose = j.value ->> 'purpose'
              AND ((c2.subject_kind = 'email' AND c2.subject = j.value ->> 'recipient')
                OR (c2.subject_kind = 'account' AND c2.subject = (SELECT customer FROM decisions WHERE message = j.value ->> 'message')))
            ORDER BY c2.recorded_at DESC, c2.id DESC LIMIT 1)",
    )
    .bind(serde_json::Value::Array(input).to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = vec![None; queries.len()];
    for r in &rows {
        out[r.get::<i64, _>("idx") as usize] = Some(consent(r)?);
    }
    Ok(out)
}

/// Everyone whose latest record withdraws `purpose`.
pub(super) async fn withdrawn(conn: &mut SqliteConnection, purpose: Purpose) -> Result<Withdrawn, StoreError> {
    let sql = format!("SELECT {CONSENT_COLUMNS} FROM consents c WHERE c.purpose = ? AND c.granted = 0 AND {LATEST}");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(purpose.as_str()).fetch_all(&mut *conn).await?;
    let records = rows.iter().map(consent).collect::<Result<Vec<_>, _>>()?;
    Ok(Withdrawn::new(records.into_iter().map(|r| (r.channel, r.subject))))
}

/// A reply not sent because consent was withdrawn: failed for good, and the trail says so.
pub(super) async fn withhold(conn: &mut SqliteConnection, item: &OutboxItem, record: &ConsentRecord) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ? AND state = 'pending'")
        .bind(record.refusal())
        .bind(item.id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(());
    }
    let subject = audit::pseudonym(conn, record.subject.audit_kind(), record.subject.value()).await?;
    let data = json!({"outbox": item.id, "kind": item.kind.as_str(), "why": "consent_withdrawn", "consent": record.id,
                      "channel": record.channel.as_str(), "purpose": record.purpose.as_str()});
    let mut entry = NewEntry::new("reply.withheld", Some(item.message), data);
    (entry.subject, entry.mailbox) = (Some(subject), Some(item.channel.clone()));
    audit::append(conn, &[entry], Utc::now()).await
}

impl SqliteStore {
    /// Records a consent given or withdrawn, with `consent.recorded` in the trail.
    pub async fn record_consent(&self, c: &NewConsent) -> Result<ConsentRecord, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "INSERT INTO consents (subject_kind, subject, channel, purpose, granted, source, recorded_at, recorded_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {}",
            CONSENT_COLUMNS.replace("c.", "")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(c.subject.kind())
            .bind(c.subject.value())
            .bind(c.channel.as_str())
            .bind(c.purpose.as_str())
            .bind(c.granted)
            .bind(&c.source)
            .bind(now)
            .bind(&c.by)
            .fetch_one(&mut *tx)
            .await?;
        let record = consent(&row)?;
        let subject = audit::pseudonym(&mut tx, c.subject.audit_kind(), c.subject.value()).await?;
        let data = json!({"consent": record.id, "channel": c.channel.as_str(), "purpose": c.purpose.as_str(), "granted": c.granted,
                          "source_sha256": audit::sha256_hex(c.source.as_bytes())});
        let mut entry = NewEntry::new("consent.recorded", None, data).by(&c.by);
        entry.subject = Some(subject);
        audit::append(&mut tx, &[entry], now).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Every consent record of these subjects, newest first.
    pub async fn consents(&self, subjects: &[Subject]) -> Result<Vec<ConsentRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        consents_of(&mut conn, subjects).await
    }

    /// Purges up to `limit` messages whose last activity is before `cutoff` and that nobody is
    /// still working on, with `privacy.purged` in the trail, in one transaction. An empty
    /// result means nothing is left to purge.
    pub async fn purge_batch(&self, cutoff: DateTime<Utc>, limit: u32) -> Result<Scrubbed, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let ids = purgeable(&mut tx, cutoff, limit).await?;
        if ids.is_empty() {
            return Ok(Scrubbed::default());
        }
        let scrubbed = scrub(&mut tx, &ids, "retention", now).await?;
        let data = json!({
            "cutoff": audit::timestamp(cutoff), "messages": ids.len(), "message_ids": ids, "outbox_rows": scrubbed.outbox_rows,
            "approvals": scrubbed.approvals, "staff_actions": scrubbed.staff_actions,
        });
        audit::append(&mut tx, &[NewEntry::new("privacy.purged", None, data)], now).await?;
        tx.commit().await?;
        Ok(scrubbed)
    }

    /// Erases everything of `subject`: their messages lose their personal data (and their
    /// link to the customer), unsent replies are cancelled and waiting drafts discarded, their
    /// consent records and pseudonym keys are deleted; `privacy.erased` in the trail. One
    /// transaction; the store zeroes what it deletes (`secure_delete`) and the WAL is emptied
    /// after it, so nothing is left in the files either.
    pub async fn erase(&self, subject: &Subject, by: &str, reason: &str) -> Result<ErasureReport, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let report = erase_in(&mut tx, subject, now).await?;
        let data = json!({
            "forgotten": report.forgotten, "messages": report.messages, "cancelled_replies": report.cancelled_replies,
            "discarded_drafts": report.discarded_drafts, "consents": report.consents, "reason_sha256": audit::sha256_hex(reason.as_bytes()),
        });
        audit::append(&mut tx, &[NewEntry::new("privacy.erased", None, data).by(by)], now).await?;
        tx.commit().await?;
        checkpoint(&mut *self.pool.acquire().await?).await;
        Ok(report)
    }

    /// Purged messages whose Maildir files are not known to be gone yet (at most `limit`).
    pub async fn files_left(&self, limit: u32) -> Result<(Vec<i64>, Targets), StoreError> {
        let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT m.id, m.channel, m.channel_ref, o.rfc_message_id FROM messages m LEFT JOIN outbox o ON o.message = m.id
             WHERE m.id IN (SELECT id FROM messages WHERE files_left = 1 ORDER BY id LIMIT ?)",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut targets = Targets::default();
        let mut ids = Vec::new();
        for (id, channel, channel_ref, rfc) in rows {
            if channel == crate::channels::maildir::CHANNEL {
                targets.inbox_refs.insert(channel_ref);
            }
            targets.outgoing_ids.extend(rfc);
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
        Ok((ids, targets))
    }

    pub async fn files_removed(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET files_left = 0 WHERE id IN (SELECT value FROM json_each(?))").bind(json(&ids)).execute(&self.pool).await?;
        Ok(())
    }

    /// Everything held about `subject`, for an access request.
    pub async fn access(&self, subject: &Subject) -> Result<AccessData, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let selection = select(&mut conn, subject, Scope::Access).await?;
        let mut messages = Vec::with_capacity(selection.ids.len());
        for &id in &selection.ids {
            messages.push(message_rows(&mut conn, id).await?);
        }
        let subjects = selection.subjects(subject);
        let consents = consents_of(&mut conn, &subjects).await?;
        let mut pseudonyms = Vec::new();
        for s in &subjects {
            pseudonyms.extend(audit::existing_pseudonym(&mut conn, s.audit_kind(), s.value()).await?);
        }
        let audit = audit_entries(&mut conn, &pseudonyms, &selection.ids).await?;
        Ok(AccessData { subject: subject.clone(), accounts: selection.accounts, emails: selection.emails, pseudonyms, messages, consents, audit })
    }
}

/// Moves the WAL into the database and empties it, so the old pages written before the
/// erasure leave the WAL file too. Best effort: a reader in another process can hold it back,
/// and then the next checkpoint does it.
async fn checkpoint(conn: &mut SqliteConnection) {
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await {
        tracing::warn!(error = %e, "cannot checkpoint the WAL after an erasure; the next checkpoint empties it");
    }
}

async fn erase_in(tx: &mut SqliteConnection, subject: &Subject, now: DateTime<Utc>) -> Result<ErasureReport, StoreError> {
    let selection = select(tx, subject, Scope::Erasure).await?;
    let ids = &selection.ids;
    let scrubbed = scrub(tx, ids, "erasure", now).await?;
    let (cancelled_replies, discarded_drafts) = cancel_pending(tx, ids, now).await?;
    unlink(tx, ids).await?;
    let (forget_accounts, forget_emails) = forgettable(tx, subject, &selection).await?;
    let consents = delete_consents(tx, &forget_accounts, &forget_emails).await?;
    let forgotten = forget(tx, &forget_accounts, &forget_emails).await?;
    Ok(ErasureReport {
        subject: Some(subject.clone()),
        messages: ids.len() as u64,
        cancelled_replies,
        discarded_drafts,
        consents,
        forgotten,
        files: 0,
        imap: scrubbed.imap,
    })
}

async fn consents_of(conn: &mut SqliteConnection, subjects: &[Subject]) -> Result<Vec<ConsentRecord>, StoreError> {
    let keys: Vec<serde_json::Value> = subjects.iter().map(|s| json!([s.kind(), s.value()])).collect();
    let sql = format!(
        "SELECT {CONSENT_COLUMNS} FROM consents c JOIN json_each(?) j ON c.subject_kind = j.value ->> 0 AND c.subject = j.value ->> 1
         ORDER BY c.recorded_at DESC, c.id DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serde_json::Value::Array(keys).to_string()).fetch_all(&mut *conn).await?;
    rows.iter().map(consent).collect()
}

/// Messages decided, resolved, delivered and untouched since before `cutoff`: nobody is
/// waiting on them and no reply of theirs is still to be sent.
async fn purgeable(conn: &mut SqliteConnection, cutoff: DateTime<Utc>, limit: u32) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT m.id FROM messages m LEFT JOIN decisions d ON d.message = m.id LEFT JOIN approvals a ON a.message = m.id
         WHERE m.purged_at IS NULL AND m.state = 'done' AND julianday(m.received_at) < julianday(?1)
           AND (d.decided_at IS NULL OR julianday(d.decided_at) < julianday(?1))
           AND (d.redecided_at IS NULL OR julianday(d.redecided_at) < julianday(?1))
           AND (a.message IS NULL OR (a.state <> 'waiting' AND julianday(a.updated_at) < julianday(?1)))
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message = m.id
                           AND (o.state = 'pending' OR julianday(COALESCE(o.sent_at, o.created_at)) >= julianday(?1)))
           AND NOT EXISTS (SELECT 1 FROM staff_actions s WHERE s.message = m.id AND julianday(s.at) >= julianday(?1))
         ORDER BY m.id LIMIT ?2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Removes the bodies and personal data of `ids` from every table but the trail: what stays
/// is codes, times and the decision (intent, urgency, decision, reason codes, policy version).
async fn scrub(conn: &mut SqliteConnection, ids: &[i64], why: &str, now: DateTime<Utc>) -> Result<Scrubbed, StoreError> {
    let ids_json = json(&ids);
    let imap: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel, COUNT(*) FROM messages WHERE id IN (SELECT value FROM json_each(?)) AND channel LIKE 'imap:%' GROUP BY channel ORDER BY channel",
    )
    .bind(&ids_json)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE messages SET raw = x'', last_error = NULL, state = 'done', purged_at = ?1, purge_reason = ?2,
            files_left = (channel LIKE 'maildir:%') WHERE id IN (SELECT value FROM json_each(?3))",
    )
    .bind(now)
    .bind(why)
    .bind(&ids_json)
    .execute(&mut *conn)
    .await?;
    // Reason details, fact values and claim texts quote the customer's data; the trail keeps
    // their keys and hashes. An LLM fallback keeps its kind, not its explanation.
    sqlx::query(
        "UPDATE decisions SET subject = NULL, draft_subject = NULL, draft_body = NULL, facts = '[]', claims = '[]',
            reasons = (SELECT json_group_array(json_object('code', r.value ->> 'code', 'detail', '')) FROM json_each(decisions.reasons) r),
            llm_outcome = CASE WHEN instr(llm_outcome, ':') > 0 THEN substr(llm_outcome, 1, instr(llm_outcome, ':') - 1) ELSE llm_outcome END,
            draft_llm = CASE WHEN draft_llm IS NULL THEN NULL
                ELSE json_set(draft_llm, '$.outcome', CASE WHEN instr(draft_llm ->> 'outcome', ':') > 0
                    THEN substr(draft_llm ->> 'outcome', 1, instr(draft_llm ->> 'outcome', ':') - 1) ELSE draft_llm ->> 'outcome' END) END
         WHERE message IN (SELECT value FROM json_each(?))",
    )
    .bind(&ids_json)
    .execute(&mut *conn)
    .await?;
    let approvals = sqlx::query(
        "UPDATE approvals SET proposal = '', sent_text = NULL, diff = NULL, edited_text = NULL, claims = NULL, facts = NULL, reason = NULL
         WHERE message IN (SELECT value FROM json_each(?))",
    )
    .bind(&ids_json)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let outbox_rows = sqlx::query("UPDATE outbox SET raw = x'', last_error = NULL WHERE message IN (SELECT value FROM json_each(?))")
        .bind(&ids_json)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let staff_actions = sqlx::query(
        "UPDATE staff_actions SET detail = json_remove(detail, '$.reason', '$.note', '$.diff', '$.override_reason')
         WHERE message IN (SELECT value FROM json_each(?))",
    )
    .bind(&ids_json)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let imap = imap.into_iter().map(|(c, n)| (c, n as u64)).collect();
    Ok(Scrubbed { messages: ids.to_vec(), outbox_rows, approvals, staff_actions, imap })
}

/// The messages of a subject and the accounts and addresses they involve.
#[derive(Debug, Default)]
struct Selection {
    ids: Vec<i64>,
    accounts: Vec<String>,
    emails: Vec<String>,
}

impl Selection {
    /// The subject and every account and address it involves.
    fn subjects(&self, subject: &Subject) -> Vec<Subject> {
        let mut out = vec![subject.clone()];
        out.extend(self.accounts.iter().map(|a| Subject::Account(a.clone())));
        out.extend(self.emails.iter().map(|e| Subject::Email(e.clone())));
        out.sort_by(|a, b| (a.kind(), a.value()).cmp(&(b.kind(), b.value())));
        out.dedup();
        out
    }
}

/// Which messages of a subject: an erasure also takes unidentified messages that quote the
/// customer's account number (their data, in someone else's message); an access request does
/// not hand those over (they are another person's mail, GDPR Art. 15(4)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Erasure,
    Access,
}

/// Every message of `subject`. A customer (account): the messages identified as theirs and
/// the other messages from the addresses they wrote from (and, for an erasure, unidentified
/// messages quoting the account number). An address: the messages from it. Either way also
/// messages whose sender could not be read (quarantined) that carry the address.
async fn select(conn: &mut SqliteConnection, subject: &Subject, scope: Scope) -> Result<Selection, StoreError> {
    let (match_accounts, emails, accounts) = match subject {
        Subject::Account(a) => {
            let emails: Vec<String> = sqlx::query_scalar("SELECT DISTINCT sender FROM decisions WHERE customer = ? AND sender IS NOT NULL ORDER BY 1")
                .bind(a)
                .fetch_all(&mut *conn)
                .await?;
            (vec![a.clone()], emails, vec![a.clone()])
        }
        Subject::Email(e) => {
            let accounts: Vec<String> = sqlx::query_scalar("SELECT DISTINCT customer FROM decisions WHERE sender = ? AND customer IS NOT NULL ORDER BY 1")
                .bind(e)
                .fetch_all(&mut *conn)
                .await?;
            (Vec::new(), vec![e.clone()], accounts)
        }
    };
    let quoted = if scope == Scope::Erasure { match_accounts.clone() } else { Vec::new() };
    let ids = sqlx::query_scalar(
        "SELECT m.id FROM messages m LEFT JOIN decisions d ON d.message = m.id
         WHERE d.customer IN (SELECT value FROM json_each(?1))
            OR d.sender IN (SELECT value FROM json_each(?2))
            OR EXISTS (SELECT 1 FROM approvals a WHERE a.message = m.id AND a.customer IN (SELECT value FROM json_each(?2)))
            OR EXISTS (SELECT 1 FROM outbox o WHERE o.message = m.id AND o.kind IN ('reply', 'draft')
                       AND o.recipient IN (SELECT value FROM json_each(?2)))
            OR (d.customer IS NULL AND EXISTS (SELECT 1 FROM json_each(?3) n WHERE instr(CAST(m.raw AS TEXT), n.value) > 0))
            OR (d.sender IS NULL AND EXISTS (SELECT 1 FROM json_each(?2) n WHERE instr(lower(CAST(m.raw AS TEXT)), n.value) > 0))
         ORDER BY m.id",
    )
    .bind(json(&match_accounts))
    .bind(json(&emails))
    .bind(json(&quoted))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Selection { ids, accounts, emails })
}

const CANCELLED: &str = "cancelled: the customer's data was erased at their request (switchyard privacy erase)";

/// Replies not yet sent are cancelled and drafts still waiting are discarded: there is nothing
/// left to send them with.
async fn cancel_pending(conn: &mut SqliteConnection, ids: &[i64], now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
    let ids = json(&ids);
    let cancelled = sqlx::query(
        "UPDATE outbox SET state = 'failed', last_error = ?1 WHERE state = 'pending' AND kind = 'reply' AND message IN (SELECT value FROM json_each(?2))",
    )
    .bind(CANCELLED)
    .bind(&ids)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("UPDATE outbox SET state = 'failed', last_error = ?1 WHERE state = 'pending' AND message IN (SELECT value FROM json_each(?2))")
        .bind(CANCELLED)
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    let discarded = sqlx::query("UPDATE approvals SET state = 'discarded', updated_at = ? WHERE state = 'waiting' AND message IN (SELECT value FROM json_each(?))")
        .bind(now)
        .bind(&ids)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok((cancelled, discarded))
}

/// Beyond a purge, erasure removes who the messages were from and to.
async fn unlink(conn: &mut SqliteConnection, ids: &[i64]) -> Result<(), StoreError> {
    let ids = json(&ids);
    for sql in [
        "UPDATE decisions SET sender = NULL, customer = NULL WHERE message IN (SELECT value FROM json_each(?))",
        "UPDATE approvals SET customer = '' WHERE message IN (SELECT value FROM json_each(?))",
        "UPDATE outbox SET recipient = '' WHERE kind IN ('reply', 'draft') AND message IN (SELECT value FROM json_each(?))",
    ] {
        sqlx::query(sql).bind(&ids).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The accounts and addresses whose consents and pseudonyms go: the subject's own, and every
/// other one involved that no remaining message refers to (a shared account keeps its key
/// while another person's messages still name it).
async fn forgettable(conn: &mut SqliteConnection, subject: &Subject, s: &Selection) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut accounts = Vec::new();
    for a in &s.accounts {
        let own = matches!(subject, Subject::Account(x) if x == a);
        if own || !still_named(conn, "SELECT COUNT(*) FROM decisions WHERE customer = ?", a).await? {
            accounts.push(a.clone());
        }
    }
    let mut emails = Vec::new();
    for e in &s.emails {
        let own = matches!(subject, Subject::Email(x) if x == e);
        if own || !still_named(conn, "SELECT COUNT(*) FROM decisions WHERE sender = ?", e).await? {
            emails.push(e.clone());
        }
    }
    Ok((accounts, emails))
}

async fn still_named(conn: &mut SqliteConnection, sql: &'static str, value: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(sql).bind(value).fetch_one(&mut *conn).await?;
    Ok(n > 0)
}

async fn delete_consents(conn: &mut SqliteConnection, accounts: &[String], emails: &[String]) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM consents WHERE (subject_kind = 'account' AND subject IN (SELECT value FROM json_each(?1)))
            OR (subject_kind = 'email' AND subject IN (SELECT value FROM json_each(?2)))",
    )
    .bind(json(&accounts))
    .bind(json(&emails))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes the pseudonym keys: the trail's entries stay and verify, but nothing links them to
/// the person any more.
async fn forget(conn: &mut SqliteConnection, accounts: &[String], emails: &[String]) -> Result<Vec<String>, StoreError> {
    let mut refs = Vec::new();
    let subjects = accounts.iter().map(|a| (audit::SubjectKind::Account, a)).chain(emails.iter().map(|e| (audit::SubjectKind::Email, e)));
    for (kind, value) in subjects {
        refs.extend(audit::existing_pseudonym(conn, kind, value).await?);
    }
    audit::forget(conn, &refs).await?;
    Ok(refs)
}

async fn message_rows(conn: &mut SqliteConnection, id: i64) -> Result<MessageRows, StoreError> {
    let m = sqlx::query("SELECT id, channel, raw, stored_len, received_at, purged_at, purge_reason FROM messages WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let decision = sqlx::query(
        "SELECT decided_at, redecided_at, sender, customer, subject, language, intent, urgency, confidence, decision, reasons,
                policy_version, facts, claims, draft_subject, draft_body FROM decisions WHERE message = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let approval = sqlx::query(
        "SELECT state, customer, proposal, edited_text, sent_by, sent_at, sent_text, diff, reason, resolved_via, created_at, updated_at
         FROM approvals WHERE message = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let outbox = sqlx::query("SELECT id, kind, recipient, state, created_at, sent_at, last_error, raw FROM outbox WHERE message = ? ORDER BY id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let actions = sqlx::query("SELECT actor, action, detail, at FROM staff_actions WHERE message = ? ORDER BY id").bind(id).fetch_all(&mut *conn).await?;
    let correction = sqlx::query("SELECT intent, urgency, corrected_by, corrected_at FROM corrections WHERE message = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(MessageRows {
        id,
        channel: m.get("channel"),
        raw: m.get("raw"),
        stored_len: m.get::<i64, _>("stored_len") as u64,
        received_at: m.get("received_at"),
        purged_at: m.get("purged_at"),
        purge_reason: m.get("purge_reason"),
        decision: decision.as_ref().map(decision_json),
        approval: approval.as_ref().map(approval_json),
        outbox: outbox.iter().map(outbox_row).collect(),
        staff_actions: actions.iter().map(action_json).collect(),
        correction: correction.map(|c| {
            json!({"intent": c.get::<Option<String>, _>("intent"), "urgency": c.get::<Option<String>, _>("urgency"),
                   "by": c.get::<String, _>("corrected_by"), "at": c.get::<String, _>("corrected_at")})
        }),
    })
}

/// A stored JSON column as JSON (a broken one as its text, rather than nothing).
fn json_column(r: &SqliteRow, col: &str) -> serde_json::Value {
    match r.get::<Option<String>, _>(col) {
        None => serde_json::Value::Null,
        Some(t) => serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)),
    }
}

fn decision_json(r: &SqliteRow) -> serde_json::Value {
    let text = |c: &str| r.get::<Option<String>, _>(c);
    json!({
        "decided_at": text("decided_at"), "redecided_at": text("redecided_at"), "sender": text("sender"), "customer": text("customer"),
        "subject": text("subject"), "language": text("language"), "intent": text("intent"), "urgency": text("urgency"),
        "confidence": r.get::<Option<f64>, _>("confidence"), "decision": text("decision"), "reasons": json_column(r, "reasons"),
        "policy_version": text("policy_version"), "facts": json_column(r, "facts"), "claims": json_column(r, "claims"),
        "draft": {"subject": text("draft_subject"), "body": text("draft_body")},
    })
}

fn approval_json(r: &SqliteRow) -> serde_json::Value {
    let text = |c: &str| r.get::<Option<String>, _>(c);
    json!({
        "state": text("state"), "recipient": text("customer"), "proposal": text("proposal"), "edited_text": text("edited_text"),
        "resolved_by": text("sent_by"), "sent_at": text("sent_at"), "sent_text": text("sent_text"), "diff": text("diff"),
        "reason": text("reason"), "resolved_via": text("resolved_via"), "created_at": text("created_at"), "updated_at": text("updated_at"),
    })
}

fn outbox_row(r: &SqliteRow) -> OutboxRow {
    OutboxRow {
        id: r.get("id"),
        kind: r.get("kind"),
        recipient: r.get("recipient"),
        state: r.get("state"),
        created_at: r.get("created_at"),
        sent_at: r.get("sent_at"),
        last_error: r.get("last_error"),
        raw: r.get("raw"),
    }
}

fn action_json(r: &SqliteRow) -> serde_json::Value {
    json!({"actor": r.get::<String, _>("actor"), "action": r.get::<String, _>("action"), "detail": json_column(r, "detail"), "at": r.get::<String, _>("at")})
}

/// The trail's entries about the subject: those naming one of their pseudonyms (as subject or
/// in their data) and those about their messages.
async fn audit_entries(conn: &mut SqliteConnection, refs: &[String], messages: &[i64]) -> Result<Vec<audit::Entry>, StoreError> {
    let sql = format!(
        "SELECT {} FROM audit_log WHERE subject IN (SELECT value FROM json_each(?1)) OR message IN (SELECT value FROM json_each(?2))
            OR EXISTS (SELECT 1 FROM json_each(?1) r WHERE instr(data, r.value) > 0) ORDER BY seq",
        audit::ENTRY_COLUMNS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json(&refs)).bind(json(&messages)).fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(audit::entry_from_row).collect())
}
