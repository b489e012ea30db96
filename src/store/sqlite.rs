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

use super::{Counts, Ingested, NewMessage, OutboxItem, Store, StoreError, StoredMessage};
use crate::domain::{EmailAddress, MessageId};
use crate::pipeline::Outcome;
use crate::pipeline::act::OutgoingKind;
use crate::pipeline::guard::SenderHistory;

pub struct SqliteStore {
    pool: SqlitePool,
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
            .foreign_keys(true);
        // One writer connection: SQLite serialises writes anyway, and one connection keeps the
        // read-your-writes order the pipeline relies on.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        migrator().run(&pool).await?;
        Ok(Self { pool })
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

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialisable")
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, m: NewMessage<'_>) -> Result<Ingested, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO messages (channel, channel_ref, raw, raw_sha256, stored_len, received_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, channel_ref) DO NOTHING RETURNING id",
        )
        .bind(m.channel)
        .bind(m.channel_ref)
        .bind(m.raw)
        .bind(sha256_hex(m.raw))
        .bind(m.stored_len as i64)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(Ingested::New(row.get(0)));
        }
        let id: i64 = sqlx::query_scalar("SELECT id FROM messages WHERE channel = ? AND channel_ref = ?")
            .bind(m.channel)
            .bind(m.channel_ref)
            .fetch_one(&self.pool)
            .await?;
        Ok(Ingested::AlreadyStored(id))
    }

    async fn pending(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, channel_ref, raw, raw_sha256, stored_len, received_at, attempts FROM messages
             WHERE state = 'pending' ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredMessage {
                id: r.get("id"),
                source: format!("{}/{}", r.get::<String, _>("channel"), r.get::<String, _>("channel_ref")),
                raw: r.get("raw"),
                raw_sha256: r.get("raw_sha256"),
                stored_len: r.get::<i64, _>("stored_len") as u64,
                received_at: r.get("received_at"),
                attempts: r.get::<i64, _>("attempts") as u32,
            })
            .collect())
    }

    async fn sender_history(
        &self,
        message: i64,
        message_id: Option<&MessageId>,
        sender: &EmailAddress,
        since: DateTime<Utc>,
    ) -> Result<SenderHistory, StoreError> {
        let message_id_seen = match message_id {
            Some(mid) => sqlx::query("SELECT 1 FROM decisions WHERE header_message_id = ? AND message <> ? LIMIT 1")
                .bind(mid.as_str())
                .bind(message)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
            None => false,
        };
        let replies: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND recipient = ? AND created_at >= ?",
        )
        .bind(sender.as_str())
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(SenderHistory { message_id_seen, recent_auto_replies: replies as u32 })
    }

    async fn record(&self, o: &Outcome) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO decisions (message, header_message_id, sender, customer, language, intent, urgency,
                confidence, decision, reasons, policy_version, model, facts, claims, draft_subject, draft_body, decided_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
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
        .execute(&mut *tx)
        .await?;
        for out in &o.outgoing {
            sqlx::query(
                "INSERT INTO outbox (message, kind, rfc_message_id, recipient, raw, next_attempt_at, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(o.message)
            .bind(out.kind.as_str())
            .bind(out.message_id.as_str())
            .bind(out.recipient.as_str())
            .bind(&out.raw)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE messages SET state = 'done' WHERE id = ?").bind(o.message).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
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
        sqlx::query("UPDATE messages SET state = 'done' WHERE id = ?").bind(message).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn due_outbox(&self, now: DateTime<Utc>, message: Option<i64>, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message, kind, rfc_message_id, recipient, raw, attempts FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ? AND (? IS NULL OR message = ?)
             ORDER BY id LIMIT ?",
        )
        .bind(now)
        .bind(message)
        .bind(message)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let kind: String = r.get("kind");
                let mid: String = r.get("rfc_message_id");
                let rcpt: String = r.get("recipient");
                Ok(OutboxItem {
                    id: r.get("id"),
                    message: r.get("message"),
                    kind: OutgoingKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("outbox kind `{kind}`")))?,
                    rfc_message_id: MessageId::parse(&mid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    recipient: EmailAddress::parse(&rcpt).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    raw: r.get("raw"),
                    attempts: r.get::<i64, _>("attempts") as u32,
                })
            })
            .collect()
    }

    async fn begin_delivery(&self, outbox: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?").bind(outbox).execute(&self.pool).await?;
        Ok(())
    }

    async fn mark_sent(&self, outbox: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET state = 'sent', sent_at = ? WHERE id = ?")
            .bind(at)
            .bind(outbox)
            .execute(&self.pool)
            .await?;
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
                    (SELECT COUNT(*) FROM outbox WHERE state = 'failed')",
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
        })
    }
}
