//! Events for outgoing webhooks: written by [`emit`] inside the transaction that commits the
//! fact they report (a decision, a reply sent), then fanned out into one delivery row per
//! subscribing webhook, which the dispatcher in [`crate::webhooks`] POSTs. Payloads carry ids,
//! codes and times only, never personal data (no addresses, names, subjects or text).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};
use tokio::sync::Notify;

use super::StoreError;
use super::sqlite::SqliteStore;
use crate::domain::Decision;
use crate::pipeline::Outcome;

/// What an event reports. The wire name (`message.triaged`) is used in payloads, headers and
/// the `events` list of `[[webhooks]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A decision was recorded (every decision, including ignore and quarantine).
    #[serde(rename = "message.triaged")]
    MessageTriaged,
    /// A decision leaves work for a person: `approve` or `escalate`.
    #[serde(rename = "draft.pending")]
    DraftPending,
    /// An outbox row of kind `reply` was marked sent.
    #[serde(rename = "reply.sent")]
    ReplySent,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [EventKind::MessageTriaged, EventKind::DraftPending, EventKind::ReplySent];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageTriaged => "message.triaged",
            EventKind::DraftPending => "draft.pending",
            EventKind::ReplySent => "reply.sent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event to write: its kind, the message it is about, and the payload's `data` object.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub message: i64,
    pub data: serde_json::Value,
}

/// `data` of `message.triaged` and `draft.pending`.
#[derive(Debug, Serialize)]
pub struct DecisionData<'a> {
    pub message: i64,
    pub channel: &'a str,
    pub intent: Option<&'a str>,
    pub urgency: Option<&'a str>,
    pub language: Option<&'a str>,
    pub decision: &'a str,
    /// Reason codes only: the sentences beside them can quote the customer.
    pub reasons: Vec<&'a str>,
    pub policy_version: &'a str,
}

/// `data` of `reply.sent`.
#[derive(Debug, Serialize)]
pub struct ReplySentData<'a> {
    pub message: i64,
    pub outbox: i64,
    pub channel: &'a str,
    pub sent_at: String,
}

/// Writes one event inside the caller's transaction (pass `&mut tx`), so it commits or rolls
/// back with the fact it reports. Returns its id. After the commit, wake the dispatcher with
/// [`EventStore::event_signal`] (otherwise it finds the event on its next poll).
pub async fn emit(conn: &mut SqliteConnection, kind: EventKind, message: i64, data: serde_json::Value) -> Result<i64, StoreError> {
    let id = sqlx::query_scalar("INSERT INTO events (kind, message, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id")
        .bind(kind.as_str())
        .bind(message)
        .bind(data.to_string())
        .bind(Utc::now())
        .fetch_one(conn)
        .await?;
    Ok(id)
}

/// Writes many events in one statement (a batch of decisions), inside the caller's transaction.
pub async fn emit_all(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // One JSON array instead of one placeholder per value: no limit on the batch size.
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::json!({"kind": e.kind.as_str(), "message": e.message, "payload": e.data.to_string()}))
        .collect();
    sqlx::query(
        "INSERT INTO events (kind, message, payload, created_at)
         SELECT value ->> 'kind', value ->> 'message', value ->> 'payload', ?1 FROM json_each(?2) ORDER BY key",
    )
    .bind(Utc::now())
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// The events a recorded decision produces: `message.triaged` always, and `draft.pending`
/// when a person has work to do.
pub fn decision_events(o: &Outcome) -> Vec<NewEvent> {
    let data = DecisionData {
        message: o.message,
        channel: &o.channel,
        intent: o.intent.map(|i| i.as_str()),
        urgency: o.urgency.map(|u| u.as_str()),
        language: o.language.map(|l| l.as_str()),
        decision: o.decision.as_str(),
        reasons: o.reasons.iter().map(|r| r.code.as_str()).collect(),
        policy_version: &o.policy_version,
    };
    let data = to_value(&data);
    let mut events = vec![NewEvent { kind: EventKind::MessageTriaged, message: o.message, data: data.clone() }];
    if matches!(o.decision, Decision::Approve | Decision::Escalate) {
        events.push(NewEvent { kind: EventKind::DraftPending, message: o.message, data });
    }
    events
}

/// Our own plain structs always serialise.
pub(crate) fn to_value<T: Serialize>(data: &T) -> serde_json::Value {
    serde_json::to_value(data).expect("event data is plain data")
}

/// An event as stored, and as delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: EventKind,
    pub message: i64,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl StoredEvent {
    /// The POST body: `{"id", "type", "created_at", "data"}`. Built from the row alone, so
    /// every attempt sends the same bytes.
    pub fn body(&self) -> Vec<u8> {
        let envelope = serde_json::json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        });
        envelope.to_string().into_bytes()
    }
}

/// Which events one webhook wants.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub webhook: String,
    pub kinds: Vec<EventKind>,
}

/// A delivery that is due: one event for one webhook.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook: String,
    /// Sent as `X-Switchyard-Delivery`; the same on every attempt.
    pub delivery_id: String,
    /// Attempts recorded so far.
    pub attempts: u32,
    pub event: StoredEvent,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered { status: u16 },
    /// Try again at `at`.
    Retry { status: Option<u16>, error: String, at: DateTime<Utc> },
    /// Given up: no retry can help, or the attempts are used up.
    Failed { status: Option<u16>, error: String },
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery: i64,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
}

/// The store side of webhook delivery, kept apart from the big [`super::Store`] trait.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Notified after every commit that wrote events; the dispatcher waits on it.
    fn event_signal(&self) -> Arc<Notify>;

    /// Webhooks seen for the first time start after the latest event: a new webhook receives
    /// what happens from now on, not the history.
    async fn register_webhooks(&self, names: &[String]) -> Result<(), StoreError>;

    /// Creates a delivery row for every event after each webhook's cursor that it subscribes
    /// to, and moves the cursors, in one transaction. Returns the rows created.
    async fn fan_out(&self, subscriptions: &[Subscription]) -> Result<u64, StoreError>;

    /// Pending deliveries of `webhooks` due at `now`, the longest waiting first.
    async fn due_deliveries(&self, webhooks: &[String], now: DateTime<Utc>, limit: u32) -> Result<Vec<DueDelivery>, StoreError>;

    /// When the next pending delivery of `webhooks` falls due, if any is pending.
    async fn next_due(&self, webhooks: &[String]) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records what attempts came to, in one transaction.
    async fn record_attempts(&self, attempts: &[Attempt]) -> Result<(), StoreError>;
}

fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).expect("strings serialise")
}

#[async_trait]
impl EventStore for SqliteStore {
    fn event_signal(&self) -> Arc<Notify> {
        self.events_written.clone()
    }

    async fn register_webhooks(&self, names: &[String]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_cursors (webhook, last_event)
             SELECT n.value, (SELECT COALESCE(MAX(id), 0) FROM events) FROM json_each(?) n WHERE true
             ON CONFLICT (webhook) DO NOTHING",
        )
        .bind(names_json(names))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn fan_out(&self, subscriptions: &[Subscription]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events").fetch_one(&mut *tx).await?;
        let now = Utc::now();
        let mut created = 0;
        for s in subscriptions {
            let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
            // randomblob: a delivery id no receiver has seen, even from another installation
            // or after the database was recreated and event ids started again at 1.
            created += sqlx::query(
                "INSERT INTO webhook_deliveries (event, webhook, delivery_id, next_attempt_at, created_at)
                 SELECT e.id, ?1, lower(hex(randomblob(16))), ?2, ?2 FROM events e
                 WHERE e.id > (SELECT last_event FROM webhook_cursors WHERE webhook = ?1) AND e.id <= ?3
                   AND e.kind IN (SELECT value FROM json_each(?4))
                 ORDER BY e.id",
            )
            .bind(&s.webhook)
            .bind(now)
            .bind(last)
            .bind(serde_json::to_string(&kinds).expect("strings serialise"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE webhook_cursors SET last_event = ? WHERE webhook = ? AND last_event < ?")
                .bind(last)
                .bind(&s.webhook)
                .bind(last)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn due_deliveries(&self, webhooks: &[String], now: DateTime<Utc>, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook, d.delivery_id, d.attempts, e.id AS event, e.kind, e.message, e.payload, e.created_at
             FROM webhook_deliveries d JOIN events e ON e.id = d.event
             WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND d.webhook IN (SELECT value FROM json_each(?))
             ORDER BY d.next_attempt_at, d.id LIMIT ?",
        )
        .bind(now)
        .bind(names_json(webhooks))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(due_delivery).collect()
    }

    async fn next_due(&self, webhooks: &[String]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries
             WHERE state = 'pending' AND webhook IN (SELECT value FROM json_each(?))",
        )
        .bind(names_json(webhooks))
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }

    async fn record_attempts(&self, attempts: &[Attempt]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for a in attempts {
            let (state, status, error, retry_at, delivered_at) = match &a.outcome {
                AttemptOutcome::Delivered { status } => ("delivered", Some(*status), None, None, Some(a.at)),
                AttemptOutcome::Retry { status, error, at } => ("pending", *status, Some(error.as_str()), Some(*at), None),
                AttemptOutcome::Failed { status, error } => ("failed", *status, Some(error.as_str()), None, None),
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
                    last_attempt_at = ?, next_attempt_at = COALESCE(?, next_attempt_at), delivered_at = ?
                 WHERE id = ?",
            )
            .bind(state)
            .bind(status.map(i64::from))
            .bind(error)
            .bind(a.at)
            .bind(retry_at)
            .bind(delivered_at)
            .bind(a.delivery)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn due_delivery(r: &sqlx::sqlite::SqliteRow) -> Result<DueDelivery, StoreError> {
    let event: i64 = r.get("event");
    let kind: String = r.get("kind");
    let payload: String = r.get("payload");
    let corrupt = |what: String| StoreError::Corrupt(format!("event {event}: {what}"));
    Ok(DueDelivery {
        id: r.get("id"),
        webhook: r.get("webhook"),
        delivery_id: r.get("delivery_id"),
        attempts: u32::try_from(r.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
        event: StoredEvent {
            id: event,
            kind: EventKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
            message: r.get("message"),
            data: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload is not JSON: {e}")))?,
            created_at: r.get("created_at"),
        },
    })
}

/// Also shared with the dispatcher's tests.
#[cfg(test)]
pub(crate) mod tests;
