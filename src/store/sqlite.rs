//! The SQLite store (WAL): the embedded default, one file under the data directory.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlSafeStr, SqlitePool};

use super::events::{self, EventKind};
use super::{RecordedDecision, 
    ApprovalRecord, CorrectedMessage, Correction, Counts, Ingested, NewMessage, OutboxItem, Problem, Resolution, SenderLookup, Store, StoreError, StoredMessage, SyncCursor,
    WaitingApproval,
};
use crate::domain::{Decision, EmailAddress, MessageId};
use crate::pipeline::Outcome;
use crate::pipeline::act::{Outgoing, OutgoingKind};
use crate::pipeline::guard::SenderHistory;

mod privacy;
mod staff;

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// Notified after a commit that wrote events, to wake the webhook dispatcher.
    pub(crate) events_written: std::sync::Arc<tokio::sync::Notify>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash; only power loss can lose the last
            // commits, and then the inbox files and the outbox check recover them.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // 16 MiB of page cache keeps the indexes the guard reads in memory.
            .pragma("cache_size", "-16384")
            // Checkpoint every 32 MiB of WAL rather than 4: fewer fsyncs under a burst of mail.
            .pragma("wal_autocheckpoint", "8192")
            // Deleted and rewritten content is overwritten with zeros, so what retention and
            // erasure remove (and the old versions of rows updated before) does not linger in
            // free pages of the file. Freed pages are mostly reused at once, so it costs little.
            .pragma("secure_delete", "ON")
            .foreign_keys(true);
        // One writer connection: SQLite serialises writes anyway, and one connection keeps the
        // read-your-writes order the pipeline relies on.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        migrator().run(&pool).await?;
        Ok(Self { pool, events_written: Default::default() })
    }
}

/// The embedded migrations of migrations/sqlite, numbered by their file-name prefix.
fn migrator() -> Migrator {
    let migrations = crate::embedded::SQLITE_MIGRATIONS
        .iter()
        .map(|(name, sql)| {
            let (version, description) = name.trim_end_matches(".sql").split_once('_').unwrap_or((name, name));
            let sql = std::str::from_utf8(sql).expect("migrations are UTF-8");
            Migration::new(
                version.parse().expect("migration names start with a number"),
                Cow::Owned(description.replace('_', " ")),
                MigrationType::Simple,
                sqlx::AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows per multi-row statement: 17 columns × 512 rows stays under SQLite's 32,766 variables.
const MAX_ROWS: usize = 512;

/// `<head> (?, …), (?, …) <tail>`: one statement for many rows. Only the number of
/// placeholders varies, never anything taken from data.
fn multi_row(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} {} {tail}", vec![row; rows].join(", "))
}

fn outbox_item(r: &sqlx::sqlite::SqliteRow) -> Result<OutboxItem, StoreError> {
    let kind: String = r.get("kind");
    let mid: String = r.get("rfc_message_id");
    let rcpt: String = r.get("recipient");
    Ok(OutboxItem {
        id: r.get("id"),
        message: r.get("message"),
        channel: r.get("channel"),
        kind: OutgoingKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("outbox kind `{kind}`")))?,
        rfc_message_id: MessageId::parse(&mid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        recipient: EmailAddress::parse(&rcpt).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        raw: r.get("raw"),
        attempts: r.get::<i64, _>("attempts") as u32,
    })
}

async fn save_cursor(tx: &mut sqlx::SqliteConnection, c: &SyncCursor) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_cursors (channel, folder, uidvalidity, last_uid) VALUES (?, ?, ?, ?)
         ON CONFLICT (channel, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
    )
    .bind(&c.channel)
    .bind(&c.folder)
    .bind(i64::from(c.uidvalidity))
    .bind(i64::from(c.last_uid))
    .execute(tx)
    .await?;
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialisable")
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, messages: &[NewMessage<'_>], cursor: Option<&SyncCursor>) -> Result<Vec<Ingested>, StoreError> {
        let now = Utc::now();
        let mut ids = std::collections::HashMap::new();
        let mut tx = self.pool.begin().await?;
        for chunk in messages.chunks(MAX_ROWS) {
            // One statement per chunk: each statement is a round trip to SQLite's thread.
            let sql = multi_row(
                "INSERT INTO messages (channel, channel_ref, header_message_id, raw, raw_sha256, stored_len, received_at) VALUES",
                7,
                chunk.len(),
                "ON CONFLICT (channel, channel_ref) DO NOTHING RETURNING channel_ref, id",
            );
            let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(m.channel)
                    .bind(m.channel_ref)
                    .bind(m.header_message_id())
                    .bind(m.raw)
                    .bind(sha256_hex(m.raw))
                    .bind(m.stored_len as i64)
                    .bind(now);
            }
            ids.extend(q.fetch_all(&mut *tx).await?);
        }
        let received: Vec<crate::audit::NewEntry> = messages
            .iter()
            .filter_map(|m| ids.get(m.channel_ref).map(|&id| crate::audit::entries::received(id, m.channel, m.raw, m.stored_len)))
            .collect();
        crate::audit::append(&mut tx, &received, now).await?;
        if let Some(c) = cursor {
            save_cursor(&mut tx, c).await?;
        }
        tx.commit().await?;
        Ok(messages
            .iter()
            .map(|m| ids.get(m.channel_ref).map_or(Ingested::AlreadyStored, |&id| Ingested::New(id)))
            .collect())
    }

    async fn sync_cursor(&self, channel: &str, folder: &str) -> Result<Option<SyncCursor>, StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT uidvalidity, last_uid FROM sync_cursors WHERE channel = ? AND folder = ?")
                .bind(channel)
                .bind(folder)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(v, u)| SyncCursor { channel: channel.into(), folder: folder.into(), uidvalidity: v as u32, last_uid: u as u32 }))
    }

    async fn save_cursor(&self, cursor: &SyncCursor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        save_cursor(&mut tx, cursor).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn known_message_ids(&self, channel: &str, message_ids: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
        let known: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT header_message_id FROM messages
             WHERE channel = ? AND header_message_id IN (SELECT value FROM json_each(?))",
        )
        .bind(channel)
        .bind(json(&message_ids))
        .fetch_all(&self.pool)
        .await?;
        Ok(known.into_iter().map(|(m,)| m).collect())
    }

    async fn pending(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, channel_ref, raw, raw_sha256, stored_len, received_at, attempts FROM messages
             WHERE state = 'pending' ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stored_message).collect())
    }

    async fn sender_histories(&self, lookups: &[SenderLookup<'_>], since: DateTime<Utc>) -> Result<Vec<SenderHistory>, StoreError> {
        if lookups.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<serde_json::Value> = lookups
            .iter()
            .map(|l| serde_json::json!({"id": l.message, "mid": l.message_id.map(MessageId::as_str), "from": l.sender.as_str()}))
            .collect();
        let found: Vec<(i64, bool, bool, i64)> = sqlx::query_as(
            "SELECT j.key,
                    EXISTS (SELECT 1 FROM decisions d WHERE d.header_message_id = j.value ->> 'mid'
                            AND d.message <> j.value ->> 'id'),
                    EXISTS (SELECT 1 FROM messages m JOIN decisions d ON d.message = m.id
                            WHERE m.raw_sha256 = (SELECT raw_sha256 FROM messages WHERE id = j.value ->> 'id')
                            AND m.id <> j.value ->> 'id'),
                    (SELECT COUNT(*) FROM outbox o WHERE o.kind = 'reply' AND o.recipient = j.value ->> 'from'
                            AND o.created_at >= ?1)
             FROM json_each(?2) j ORDER BY j.key",
        )
        .bind(since)
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&self.pool)
        .await?;
        if found.len() != lookups.len() {
            return Err(StoreError::Corrupt(format!("{} sender histories for {} messages", found.len(), lookups.len())));
        }
        Ok(found
            .into_iter()
            .map(|(_, seen, same_bytes, replies)| SenderHistory {
                message_id_seen: seen,
                content_seen: same_bytes,
                recent_auto_replies: replies as u32,
            })
            .collect())
    }

    async fn record(&self, outcomes: &[Outcome]) -> Result<Vec<OutboxItem>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let items = record_in(&mut tx, outcomes).await?;
        tx.commit().await?;
        self.events_written.notify_one();
        Ok(items)
    }

    async fn redecide(&self, outcome: &Outcome) -> Result<Option<Vec<OutboxItem>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Only rows never handed to a channel are replaced: anything attempted may be out.
        let attempted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE message = ? AND attempts > 0")
            .bind(outcome.message)
            .fetch_one(&mut *tx)
            .await?;
        if attempted > 0 {
            return Ok(None);
        }
        for sql in ["DELETE FROM outbox WHERE message = ?", "DELETE FROM approvals WHERE message = ?", "DELETE FROM decisions WHERE message = ?"] {
            sqlx::query(sql).bind(outcome.message).execute(&mut *tx).await?;
        }
        let items = record_in(&mut tx, std::slice::from_ref(outcome)).await?;
        sqlx::query("UPDATE decisions SET redecided_at = ? WHERE message = ?").bind(Utc::now()).bind(outcome.message).execute(&mut *tx).await?;
        tx.commit().await?;
        self.events_written.notify_one();
        Ok(Some(items))
    }

    async fn recorded_decision(&self, message: i64) -> Result<Option<(StoredMessage, RecordedDecision)>, StoreError> {
        let row = sqlx::query(
            "SELECT m.id, m.channel, m.channel_ref, m.raw, m.raw_sha256, m.stored_len, m.received_at, m.attempts,
                    d.intent, d.urgency, d.language, d.confidence, d.facts, d.claims
             FROM messages m JOIN decisions d ON d.message = m.id WHERE m.id = ?",
        )
        .bind(message)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let label = |col: &str| row.get::<Option<String>, _>(col);
        let corrupt = |col: &str, e: serde_json::Error| StoreError::Corrupt(format!("decisions.{col} of message {message}: {e}"));
        let decision = RecordedDecision {
            intent: label("intent").and_then(|s| s.parse().ok()),
            urgency: label("urgency").and_then(|s| s.parse().ok()),
            language: label("language").and_then(|s| s.parse().ok()),
            confidence: row.get::<Option<f64>, _>("confidence").map(|c| c as f32),
            facts: serde_json::from_str(&row.get::<String, _>("facts")).map_err(|e| corrupt("facts", e))?,
            claims: serde_json::from_str(&row.get::<String, _>("claims")).map_err(|e| corrupt("claims", e))?,
        };
        Ok(Some((stored_message(&row), decision)))
    }

    async fn record_failure(&self, message: i64, error: &str, max_attempts: u32) -> Result<bool, StoreError> {
        let attempts: i64 = sqlx::query_scalar(
            "UPDATE messages SET attempts = attempts + 1, last_error = ? WHERE id = ? RETURNING attempts",
        )
        .bind(error)
        .bind(message)
        .fetch_one(&self.pool)
        .await?;
        if attempts < i64::from(max_attempts) {
            return Ok(false);
        }
        let reasons = json(&[crate::domain::Reason::new(
            crate::domain::ReasonCode::ProcessingFailed,
            format!("processing failed {attempts} times, last error: {error}"),
        )]);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO decisions (message, decision, reasons, policy_version, facts, claims, decided_at)
             VALUES (?, 'quarantine', ?, 'worker', '[]', '[]', ?)",
        )
        .bind(message)
        .bind(reasons)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?;
        let channel: String = sqlx::query_scalar("UPDATE messages SET state = 'done' WHERE id = ? RETURNING channel")
            .bind(message)
            .fetch_one(&mut *tx)
            .await?;
        let data = events::DecisionData {
            message,
            channel: &channel,
            intent: None,
            urgency: None,
            language: None,
            decision: crate::domain::Decision::Quarantine.as_str(),
            reasons: vec![crate::domain::ReasonCode::ProcessingFailed.as_str()],
            policy_version: "worker",
        };
        events::emit(&mut tx, EventKind::MessageTriaged, message, events::to_value(&data)).await?;
        crate::audit::append(&mut tx, &[crate::audit::entries::quarantined(message, &channel, attempts, error)], Utc::now()).await?;
        tx.commit().await?;
        self.events_written.notify_one();
        Ok(true)
    }

    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message, channel, kind, rfc_message_id, recipient, raw, attempts FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_item).collect()
    }

    async fn begin_delivery(&self, outbox: &[i64]) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json(&outbox))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_sent(&self, outbox: &[i64], at: DateTime<Utc>) -> Result<(), StoreError> {
        if outbox.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // Only rows not already sent: a reply is reported sent once.
        let sent: Vec<(i64, i64, String, String, String, Vec<u8>)> = sqlx::query_as(
            "UPDATE outbox SET state = 'sent', sent_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state <> 'sent'
             RETURNING id, message, channel, kind, rfc_message_id, raw",
        )
        .bind(at)
        .bind(json(&outbox))
        .fetch_all(&mut *tx)
        .await?;
        let audit: Vec<crate::audit::NewEntry> =
            sent.iter().map(|(id, message, channel, kind, mid, raw)| crate::audit::entries::sent(*message, *id, channel, kind, mid, raw)).collect();
        crate::audit::append(&mut tx, &audit, at).await?;
        let sent: Vec<(i64, i64, String, String)> = sent.into_iter().map(|(id, message, channel, kind, ..)| (id, message, channel, kind)).collect();
        let sent_at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let replies: Vec<events::NewEvent> = sent
            .iter()
            .filter(|(.., kind)| kind == OutgoingKind::Reply.as_str())
            .map(|(id, message, channel, _)| events::NewEvent {
                kind: EventKind::ReplySent,
                message: *message,
                data: events::to_value(&events::ReplySentData { message: *message, outbox: *id, channel, sent_at: sent_at.clone() }),
            })
            .collect();
        events::emit_all(&mut tx, &replies).await?;
        tx.commit().await?;
        if !replies.is_empty() {
            self.events_written.notify_one();
        }
        Ok(())
    }

    async fn mark_delivery_failed(&self, outbox: i64, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        let state = if retry_at.is_some() { "pending" } else { "failed" };
        sqlx::query(
            "UPDATE outbox SET state = ?, last_error = ?,
                next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
        )
        .bind(state)
        .bind(error)
        .bind(retry_at)
        .bind(outbox)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM messages),
                    (SELECT COUNT(*) FROM messages WHERE state = 'pending'),
                    (SELECT COUNT(*) FROM decisions),
                    (SELECT COUNT(*) FROM outbox WHERE state = 'pending'),
                    (SELECT COUNT(*) FROM outbox WHERE state = 'sent'),
                    (SELECT COUNT(*) FROM outbox WHERE state = 'failed'),
                    (SELECT COUNT(*) FROM decisions WHERE llm_outcome IS NOT NULL AND llm_outcome NOT LIKE 'skipped%'),
                    (SELECT COUNT(*) FROM decisions WHERE llm_outcome = 'accepted'),
                    (SELECT COALESCE(SUM(llm_tokens_in), 0) FROM decisions),
                    (SELECT COALESCE(SUM(llm_tokens_out), 0) FROM decisions),
                    (SELECT COALESCE(SUM(llm_cost), 0.0) FROM decisions)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts {
            messages: row.get(0),
            pending: row.get(1),
            decisions: row.get(2),
            outbox_pending: row.get(3),
            outbox_sent: row.get(4),
            outbox_failed: row.get(5),
            llm_calls: row.get(6),
            llm_accepted: row.get(7),
            llm_tokens_in: row.get(8),
            llm_tokens_out: row.get(9),
            llm_cost: row.get(10),
        })
    }

    async fn waiting_approvals(&self, channel: &str) -> Result<Vec<WaitingApproval>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.message, a.channel, a.inbound_message_id, a.draft_message_id, a.customer, a.proposal,
                    a.missing_since, d.language, d.facts
             FROM approvals a JOIN decisions d ON d.message = a.message
             WHERE a.state = 'waiting' AND a.draft_message_id IS NOT NULL AND a.channel = ? ORDER BY a.message",
        )
        .bind(channel)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let facts: String = r.get("facts");
                Ok(WaitingApproval {
                    message: r.get("message"),
                    channel: r.get("channel"),
                    inbound_message_id: r.get("inbound_message_id"),
                    draft_message_id: r.get("draft_message_id"),
                    customer: r.get("customer"),
                    proposal: r.get("proposal"),
                    language: r.get("language"),
                    facts: serde_json::from_str(&facts).map_err(|e| StoreError::Corrupt(format!("facts of message {}: {e}", r.get::<i64, _>("message"))))?,
                    missing_since: r.get("missing_since"),
                })
            })
            .collect()
    }

    async fn resolve_approval(&self, message: i64, r: &Resolution) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE approvals SET state = ?, sent_message_id = ?, sent_by = ?, sent_at = ?, sent_text = ?, diff = ?,
                claims = ?, unverified_claims = ?, missing_since = NULL, updated_at = ?
             WHERE message = ? AND state = 'waiting'",
        )
        .bind(r.state.as_str())
        .bind(&r.sent_message_id)
        .bind(&r.sent_by)
        .bind(r.sent_at)
        .bind(&r.sent_text)
        .bind(&r.diff)
        .bind(json(&r.claims))
        .bind(r.unverified_claims as i64)
        .bind(Utc::now())
        .bind(message)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            // Staff sent (or discarded) the draft from their own mailbox: who, and what, by hash.
            let data = serde_json::json!({
                "state": r.state.as_str(),
                "via": "mailbox",
                "sent_message_id": r.sent_message_id,
                "text_sha256": r.sent_text.as_deref().map(|t| crate::audit::sha256_hex(t.as_bytes())),
                "diff_sha256": r.diff.as_deref().map(|d| crate::audit::sha256_hex(d.as_bytes())),
                "unverified_claims": r.unverified_claims,
            });
            let actor = r.sent_by.as_deref().unwrap_or(crate::audit::SYSTEM);
            crate::audit::append(&mut tx, &[crate::audit::NewEntry::new("draft.resolved", Some(message), data).by(actor)], Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn draft_missing_since(&self, message: i64, since: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        sqlx::query("UPDATE approvals SET missing_since = ?, updated_at = ? WHERE message = ?")
            .bind(since)
            .bind(Utc::now())
            .bind(message)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn problems(&self, limit: u32) -> Result<Vec<Problem>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (
                SELECT 'delivery_failed' AS kind, o.message, m.channel || '/' || m.channel_ref AS source,
                       o.recipient AS address, o.kind || ': ' || COALESCE(o.last_error, '') AS detail, o.created_at AS at
                FROM outbox o JOIN messages m ON m.id = o.message WHERE o.state = 'failed'
                UNION ALL
                SELECT 'quarantined', d.message, m.channel || '/' || m.channel_ref, d.sender, d.reasons, d.decided_at
                FROM decisions d JOIN messages m ON m.id = d.message WHERE d.decision = 'quarantine'
                UNION ALL
                SELECT 'webhook_failed', e.message, m.channel || '/' || m.channel_ref, 'webhook ' || w.webhook,
                       e.kind || ' (event ' || e.id || ', delivery ' || w.delivery_id || '): ' || COALESCE(w.last_error, ''),
                       w.last_attempt_at
                FROM webhook_deliveries w JOIN events e ON e.id = w.event JOIN messages m ON m.id = e.message
                WHERE w.state = 'failed'
             ) ORDER BY at DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let kind: String = r.get("kind");
                let detail: String = r.get("detail");
                // Quarantine reasons are stored as JSON; show their sentences.
                let detail = serde_json::from_str::<Vec<crate::domain::Reason>>(&detail)
                    .map(|rs| rs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
                    .unwrap_or(detail);
                Problem {
                    kind: match kind.as_str() {
                        "delivery_failed" => "delivery_failed",
                        "webhook_failed" => "webhook_failed",
                        _ => "quarantined",
                    },
                    message: r.get("message"),
                    source: r.get("source"),
                    address: r.get("address"),
                    detail,
                    at: r.get("at"),
                }
            })
            .collect())
    }

    async fn correct(&self, c: &Correction) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        staff::correct_in(&mut tx, c.message, c.intent, c.urgency, &c.by).await?;
        let data = serde_json::json!({"intent": c.intent, "urgency": c.urgency, "via": "cli"});
        crate::audit::append(&mut tx, &[crate::audit::NewEntry::new("message.corrected", Some(c.message), data).by(&c.by)], Utc::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn corrected_messages(&self) -> Result<Vec<CorrectedMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.message, m.raw, COALESCE(c.intent, d.intent) AS intent, COALESCE(c.urgency, d.urgency) AS urgency, d.language
             FROM corrections c JOIN messages m ON m.id = c.message JOIN decisions d ON d.message = c.message
             WHERE m.purged_at IS NULL ORDER BY c.message",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| CorrectedMessage { message: r.get("message"), raw: r.get("raw"), intent: r.get("intent"), urgency: r.get("urgency"), language: r.get("language") })
            .collect())
    }

    async fn latest_consents(&self, queries: &[crate::privacy::ConsentQuery<'_>]) -> Result<Vec<Option<crate::privacy::ConsentRecord>>, StoreError> {
        privacy::latest_consents(&mut *self.pool.acquire().await?, queries).await
    }

    async fn withdrawn(&self, purpose: crate::privacy::Purpose) -> Result<crate::privacy::Withdrawn, StoreError> {
        privacy::withdrawn(&mut *self.pool.acquire().await?, purpose).await
    }

    async fn withhold(&self, item: &OutboxItem, record: &crate::privacy::ConsentRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        privacy::withhold(&mut tx, item, record).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn approvals(&self) -> Result<Vec<ApprovalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT message, channel, customer, state, sent_by, sent_at, diff, unverified_claims, created_at, updated_at
             FROM approvals ORDER BY message",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ApprovalRecord {
                message: r.get("message"),
                channel: r.get("channel"),
                customer: r.get("customer"),
                state: r.get("state"),
                sent_by: r.get("sent_by"),
                sent_at: r.get("sent_at"),
                diff: r.get("diff"),
                unverified_claims: r.get("unverified_claims"),
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
            })
            .collect())
    }
}

/// Writes decisions, their outbox rows, approvals and events, and marks the messages done,
/// inside the caller's transaction.
async fn record_in(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, outcomes: &[Outcome]) -> Result<Vec<OutboxItem>, StoreError> {
    let now = Utc::now();
    let outgoing: Vec<(&Outcome, &Outgoing)> =
        outcomes.iter().flat_map(|o| o.outgoing.iter().map(move |out| (o, out))).collect();
    let mut ids = std::collections::HashMap::new();
    for chunk in outcomes.chunks(MAX_ROWS) {
        let sql = multi_row(
            "INSERT INTO decisions (message, header_message_id, sender, customer, language, intent, urgency,
                confidence, decision, reasons, policy_version, model, facts, claims, draft_subject, draft_body, decided_at,
                decided_by, llm_model, llm_prompt, llm_outcome, llm_tokens_in, llm_tokens_out, llm_cost,
                draft_template, draft_llm, draft_llm_prompt, subject) VALUES",
            28,
            chunk.len(),
            "",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for o in chunk {
            q = q
                .bind(o.message)
                .bind(&o.message_id)
                .bind(&o.from)
                .bind(&o.customer)
                .bind(o.language.map(|l| l.as_str()))
                .bind(o.intent.map(|i| i.as_str()))
                .bind(o.urgency.map(|u| u.as_str()))
                .bind(o.confidence)
                .bind(o.decision.as_str())
                .bind(json(&o.reasons))
                .bind(&o.policy_version)
                .bind(&o.model)
                .bind(json(&o.facts))
                .bind(json(&o.claims))
                .bind(o.draft.as_ref().map(|d| d.subject.as_str()))
                .bind(o.draft.as_ref().map(|d| d.body.as_str()))
                .bind(now)
                .bind(&o.decided_by)
                .bind(o.llm.as_ref().map(|l| l.model.as_str()))
                .bind(o.llm.as_ref().map(|l| l.prompt.as_str()))
                .bind(o.llm.as_ref().map(|l| l.outcome.to_string()))
                .bind(o.llm.as_ref().map(|l| l.usage.prompt_tokens))
                .bind(o.llm.as_ref().map(|l| l.usage.completion_tokens))
                .bind(o.llm.as_ref().map(|l| l.usage.cost))
                .bind(o.draft.as_ref().map(|d| d.template.as_str()))
                .bind(o.draft.as_ref().and_then(|d| d.llm.as_ref()).map(json))
                .bind(o.draft.as_ref().and_then(|d| d.llm.as_ref()).map(|l| l.prompt.as_str()))
                .bind(&o.subject);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in outgoing.chunks(MAX_ROWS) {
        let sql = multi_row(
            "INSERT INTO outbox (message, channel, kind, rfc_message_id, recipient, raw, next_attempt_at, created_at) VALUES",
            8,
            chunk.len(),
            "RETURNING rfc_message_id, id",
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
        for (o, out) in chunk {
            q = q
                .bind(o.message)
                .bind(&o.channel)
                .bind(out.kind.as_str())
                .bind(out.message_id.as_str())
                .bind(out.recipient.as_str())
                .bind(&out.raw)
                .bind(now)
                .bind(now);
        }
        ids.extend(q.fetch_all(&mut **tx).await?);
    }
    // Every decision that leaves work for a person is a queue item, with its draft when one
    // was written (a person writes the reply when none was).
    for o in outcomes.iter().filter(|o| matches!(o.decision, Decision::Approve | Decision::Escalate)) {
        let draft = o.outgoing.iter().find(|out| out.kind == OutgoingKind::Draft);
        sqlx::query(
            "INSERT INTO approvals (message, channel, inbound_message_id, draft_message_id, customer, proposal, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(o.message)
        .bind(&o.channel)
        .bind(&o.message_id)
        .bind(draft.map(|d| d.message_id.as_str()))
        .bind(draft.map(|d| d.recipient.as_str()).or(o.from.as_deref()).unwrap_or_default())
        .bind(draft.and(o.draft.as_ref()).map(|d| d.body.as_str()).unwrap_or_default())
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let events: Vec<events::NewEvent> = outcomes.iter().flat_map(events::decision_events).collect();
    events::emit_all(tx, &events).await?;
    let mut trail = Vec::new();
    for o in outcomes {
        trail.extend(crate::audit::entries::decided(tx, o).await?);
    }
    crate::audit::append(tx, &trail, now).await?;
    let done: Vec<i64> = outcomes.iter().map(|o| o.message).collect();
    sqlx::query("UPDATE messages SET state = 'done' WHERE id IN (SELECT value FROM json_each(?))")
        .bind(json(&done))
        .execute(&mut **tx)
        .await?;

    outgoing
        .into_iter()
        .map(|(o, out)| {
            let id = *ids
                .get(out.message_id.as_str())
                .ok_or_else(|| StoreError::Corrupt(format!("outbox row for {} was not created", out.message_id)))?;
            Ok(OutboxItem {
                id,
                message: o.message,
                channel: o.channel.clone(),
                kind: out.kind,
                rfc_message_id: out.message_id.clone(),
                recipient: out.recipient.clone(),
                raw: out.raw.clone(),
                attempts: 0,
            })
        })
        .collect()
}

fn stored_message(r: &sqlx::sqlite::SqliteRow) -> StoredMessage {
    StoredMessage {
        id: r.get("id"),
        channel: r.get("channel"),
        source: format!("{}/{}", r.get::<String, _>("channel"), r.get::<String, _>("channel_ref")),
        raw: r.get("raw"),
        raw_sha256: r.get("raw_sha256"),
        stored_len: r.get::<i64, _>("stored_len") as u64,
        received_at: r.get("received_at"),
        attempts: r.get::<i64, _>("attempts") as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, Reason, ReasonCode};
    use crate::pipeline::act::{Outgoing, OutgoingKind};
    use crate::testing::{email, temp_dir};

    async fn store() -> SqliteStore {
        SqliteStore::open(&temp_dir("store").join("s.db")).await.unwrap()
    }

    fn new_message<'a>(r: &'a str, raw: &'a [u8]) -> NewMessage<'a> {
        NewMessage { channel: "test", channel_ref: r, raw, stored_len: raw.len() as u64 }
    }

    fn outcome(message: i64, mid: &str, decision: Decision, reply_to: Option<&str>) -> Outcome {
        Outcome {
            message,
            channel: "test".into(),
            source: "test".into(),
            message_id: Some(mid.into()),
            from: reply_to.map(String::from),
            subject: None,
            customer: None,
            language: None,
            intent: None,
            urgency: None,
            confidence: None,
            decision,
            reasons: vec![Reason::new(ReasonCode::AutoSendAllowed, "test")],
            policy_version: "t".into(),
            model: None,
            decided_by: None,
            llm: None,
            facts: Vec::new(),
            claims: Vec::new(),
            draft: None,
            outgoing: reply_to
                .map(|to| Outgoing {
                    kind: OutgoingKind::Reply,
                    message_id: MessageId::parse(&format!("r.{mid}")).unwrap(),
                    recipient: email(to),
                    raw: b"raw reply".to_vec(),
                })
                .into_iter()
                .collect(),
        }
    }

    #[tokio::test]
    async fn ingest_is_idempotent_per_channel_ref() {
        let s = store().await;
        let first = s.ingest(&[new_message("a", b"one"), new_message("b", b"two")], None).await.unwrap();
        assert!(matches!(first[..], [Ingested::New(_), Ingested::New(_)]));
        let again = s.ingest(&[new_message("a", b"one"), new_message("c", b"three")], None).await.unwrap();
        assert!(matches!(again[..], [Ingested::AlreadyStored, Ingested::New(_)]));
        let pending = s.pending(10).await.unwrap();
        assert_eq!(pending.iter().map(|m| m.raw.as_slice()).collect::<Vec<_>>(), [&b"one"[..], b"two", b"three"]);
        assert_eq!(pending[0].source, "test/a");
    }

    #[tokio::test]
    async fn a_decision_and_its_outbox_rows_commit_together() {
        let s = store().await;
        s.ingest(&[new_message("a", b"one"), new_message("b", b"two")], None).await.unwrap();
        let ids: Vec<i64> = s.pending(10).await.unwrap().iter().map(|m| m.id).collect();
        let items = s
            .record(&[outcome(ids[0], "m1@x", Decision::AutoSend, Some("c@x.example")), outcome(ids[1], "m2@x", Decision::Ignore, None)])
            .await
            .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].recipient, email("c@x.example"));
        assert!(s.pending(10).await.unwrap().is_empty());
        let c = s.counts().await.unwrap();
        assert_eq!((c.decisions, c.outbox_pending), (2, 1));
        // A second decision for the same message violates the key and changes nothing.
        assert!(s.record(&[outcome(ids[0], "m1@x", Decision::AutoSend, Some("c@x.example"))]).await.is_err());
        assert_eq!(s.counts().await.unwrap().outbox_pending, 1);
    }

    #[tokio::test]
    async fn sender_histories_see_duplicates_and_recent_replies() {
        let s = store().await;
        s.ingest(&[new_message("a", b"1"), new_message("b", b"2")], None).await.unwrap();
        let ids: Vec<i64> = s.pending(10).await.unwrap().iter().map(|m| m.id).collect();
        s.record(&[outcome(ids[0], "m1@x", Decision::AutoSend, Some("c@x.example"))]).await.unwrap();
        let (mid, other) = (MessageId::parse("m1@x").unwrap(), MessageId::parse("m9@x").unwrap());
        let (c, d) = (email("c@x.example"), email("d@x.example"));
        let lookups = [
            SenderLookup { message: ids[1], message_id: Some(&mid), sender: &c },
            SenderLookup { message: ids[1], message_id: Some(&other), sender: &d },
            SenderLookup { message: ids[0], message_id: Some(&mid), sender: &c },
        ];
        let h = s.sender_histories(&lookups, Utc::now() - chrono::Duration::hours(1)).await.unwrap();
        assert_eq!((h[0].message_id_seen, h[0].recent_auto_replies), (true, 1));
        assert_eq!((h[1].message_id_seen, h[1].recent_auto_replies), (false, 0));
        assert!(!h[2].message_id_seen, "a message is not a duplicate of itself");
        assert!(!h[0].content_seen, "different bytes");
        let later = s.sender_histories(&lookups[..1], Utc::now() + chrono::Duration::hours(1)).await.unwrap();
        assert_eq!(later[0].recent_auto_replies, 0, "replies outside the window do not count");
    }

    #[tokio::test]
    async fn deliveries_are_counted_before_they_start_and_retried_or_failed() {
        let s = store().await;
        s.ingest(&[new_message("a", b"1")], None).await.unwrap();
        let id = s.pending(1).await.unwrap()[0].id;
        let items = s.record(&[outcome(id, "m1@x", Decision::AutoSend, Some("c@x.example"))]).await.unwrap();
        s.begin_delivery(&[items[0].id]).await.unwrap();
        let due = s.due_outbox(Utc::now(), 10).await.unwrap();
        assert_eq!(due[0].attempts, 1, "an attempt in progress is visible after a crash");
        s.mark_delivery_failed(items[0].id, "busy", Some(Utc::now() + chrono::Duration::minutes(5))).await.unwrap();
        assert!(s.due_outbox(Utc::now(), 10).await.unwrap().is_empty(), "not due before its retry time");
        s.mark_sent(&[items[0].id], Utc::now()).await.unwrap();
        assert_eq!(s.counts().await.unwrap().outbox_sent, 1);
    }

    #[tokio::test]
    async fn repeated_failures_quarantine_the_message() {
        let s = store().await;
        s.ingest(&[new_message("a", b"1")], None).await.unwrap();
        let id = s.pending(1).await.unwrap()[0].id;
        assert!(!s.record_failure(id, "boom", 2).await.unwrap());
        assert_eq!(s.pending(1).await.unwrap()[0].attempts, 1);
        assert!(s.record_failure(id, "boom", 2).await.unwrap());
        assert!(s.pending(1).await.unwrap().is_empty());
        assert_eq!(s.counts().await.unwrap().decisions, 1);
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;
    use crate::testing::temp_dir;

    #[tokio::test]
    async fn a_cursor_commits_with_its_messages_and_message_ids_are_kept() {
        let s = SqliteStore::open(&temp_dir("cursor").join("s.db")).await.unwrap();
        assert_eq!(s.sync_cursor("imap:a", "INBOX").await.unwrap(), None);
        let raw = b"Message-ID: <abc@x.example>\r\nFrom: a@b.example\r\n\r\nhi";
        let cursor = SyncCursor { channel: "imap:a".into(), folder: "INBOX".into(), uidvalidity: 7, last_uid: 42 };
        s.ingest(&[NewMessage { channel: "imap:a", channel_ref: "7:42", raw, stored_len: raw.len() as u64 }], Some(&cursor)).await.unwrap();
        assert_eq!(s.sync_cursor("imap:a", "INBOX").await.unwrap(), Some(cursor));
        let known = s.known_message_ids("imap:a", &["abc@x.example".into(), "other@x.example".into()]).await.unwrap();
        assert_eq!(known.into_iter().collect::<Vec<_>>(), ["abc@x.example"]);
        assert!(s.known_message_ids("imap:b", &["abc@x.example".into()]).await.unwrap().is_empty());
    }
}
