//! Durable state: the inbox (every message stored before it is processed), decisions and the
//! outbox, behind one [`Store`] trait so SQLite (the embedded default) and PostgreSQL (several
//! workers) can both sit under it. A decision and its outbox rows commit together.

pub mod events;
pub mod sqlite;
pub mod staff;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{EmailAddress, MessageId};
use crate::pipeline::Outcome;
use crate::pipeline::act::OutgoingKind;
use crate::pipeline::guard::SenderHistory;
use crate::privacy::{ConsentQuery, ConsentRecord, Purpose, Withdrawn};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    /// The change lost a race or repeats one already made (a name taken, an item resolved).
    #[error("{0}")]
    Conflict(String),
}

/// A message as a channel hands it over.
pub struct NewMessage<'a> {
    pub channel: &'a str,
    /// Unique within the channel (file name, UID); the same ref is never stored twice.
    pub channel_ref: &'a str,
    pub raw: &'a [u8],
    /// The original size when `raw` is only a prefix of an oversized message.
    pub stored_len: u64,
}

impl NewMessage<'_> {
    /// The Message-ID header, read straight from the header block (no full parse).
    pub fn header_message_id(&self) -> Option<String> {
        header_message_id(self.raw)
    }
}

/// Finds the Message-ID header in a raw message and returns it without angle brackets.
pub fn header_message_id(raw: &[u8]) -> Option<String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n")).unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split('\n').peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if !name.eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
            value.push_str(next.trim());
            lines.next();
        }
        return crate::domain::MessageId::parse(&value).ok().map(|m| m.to_string());
    }
    None
}

/// How far an IMAP folder has been read: saved with the messages it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCursor {
    pub channel: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// What the guard asks the store about one message.
pub struct SenderLookup<'a> {
    pub message: i64,
    pub message_id: Option<&'a MessageId>,
    pub sender: &'a EmailAddress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    New(i64),
    AlreadyStored,
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: i64,
    pub channel: String,
    /// Where it came from: `<channel>/<channel ref>`.
    pub source: String,
    pub raw: Vec<u8>,
    pub raw_sha256: String,
    pub stored_len: u64,
    pub received_at: DateTime<Utc>,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message: i64,
    /// The channel that delivers it (the one the inbound message came from).
    pub channel: String,
    pub kind: OutgoingKind,
    pub rfc_message_id: MessageId,
    pub recipient: EmailAddress,
    pub raw: Vec<u8>,
    pub attempts: u32,
}

/// A draft left for a person that has not been resolved yet.
#[derive(Debug, Clone)]
pub struct WaitingApproval {
    pub message: i64,
    pub channel: String,
    pub inbound_message_id: Option<String>,
    pub draft_message_id: String,
    pub customer: String,
    pub proposal: String,
    pub language: Option<String>,
    /// The facts the draft was built from.
    pub facts: Vec<crate::domain::Fact>,
    pub missing_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Waiting,
    /// Sent as proposed.
    Sent,
    /// Sent after a person changed it.
    SentEdited,
    /// The customer was answered by another message; the draft stayed in Drafts.
    AnsweredWithoutDraft,
    /// The draft left Drafts and no reply appeared.
    Discarded,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Waiting => "waiting",
            ApprovalState::Sent => "sent",
            ApprovalState::SentEdited => "sent_edited",
            ApprovalState::AnsweredWithoutDraft => "answered_without_draft",
            ApprovalState::Discarded => "discarded",
        }
    }
}

/// What became of a draft, as seen in the mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub state: ApprovalState,
    pub sent_message_id: Option<String>,
    /// Sender (who sent on behalf of the mailbox) or From of the message that went out.
    pub sent_by: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub sent_text: Option<String>,
    /// Line diff of the proposal against what was sent (`-` removed, `+` added).
    pub diff: Option<String>,
    /// The sent text fact-checked against the facts of the draft.
    pub claims: Vec<crate::domain::Claim>,
    pub unverified_claims: usize,
}

/// One approval as listed by `switchyard approvals`.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRecord {
    pub message: i64,
    pub channel: String,
    pub customer: String,
    pub state: String,
    pub sent_by: Option<String>,
    pub sent_at: Option<String>,
    pub diff: Option<String>,
    pub unverified_claims: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// Something a person must look at: a delivery that failed for good, or a message quarantined.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `delivery_failed`, `quarantined` or `webhook_failed`.
    pub kind: &'static str,
    pub message: i64,
    pub source: String,
    /// The recipient of a failed delivery, the sender of a quarantined message, the webhook
    /// (`webhook <name>`) of a failed webhook delivery.
    pub address: Option<String>,
    pub detail: String,
    pub at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub messages: i64,
    pub pending: i64,
    pub decisions: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
    /// Messages the LLM was asked about, how many of its answers were used, and what it took.
    pub llm_calls: i64,
    pub llm_accepted: i64,
    pub llm_tokens_in: i64,
    pub llm_tokens_out: i64,
    pub llm_cost: f64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Stores inbound messages in one transaction, together with the folder's new cursor when
    /// given; a repeated (channel, ref) is not stored again. Returns, in order, whether each
    /// one was new.
    async fn ingest(&self, messages: &[NewMessage<'_>], cursor: Option<&SyncCursor>) -> Result<Vec<Ingested>, StoreError>;

    async fn sync_cursor(&self, channel: &str, folder: &str) -> Result<Option<SyncCursor>, StoreError>;

    async fn save_cursor(&self, cursor: &SyncCursor) -> Result<(), StoreError>;

    /// Which of `message_ids` were already stored from `channel`.
    async fn known_message_ids(&self, channel: &str, message_ids: &[String]) -> Result<std::collections::HashSet<String>, StoreError>;

    /// Up to `limit` messages not yet decided, oldest first.
    async fn pending(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError>;

    /// For each message: whether another message with its Message-ID was decided, and how
    /// many automatic replies went to its sender since `since`. In the order given.
    async fn sender_histories(&self, lookups: &[SenderLookup<'_>], since: DateTime<Utc>) -> Result<Vec<SenderHistory>, StoreError>;

    /// Writes each decision with its outbox rows and marks its message done, all in one
    /// transaction. Returns the outbox rows created, ready for delivery.
    async fn record(&self, outcomes: &[Outcome]) -> Result<Vec<OutboxItem>, StoreError>;
    /// Replaces a message's decision and its outbox rows (a reply rebuilt because a fact
    /// changed before it was sent), in one transaction. `None`, and nothing changed, when one
    /// of its rows was already handed to a channel.
    async fn redecide(&self, outcome: &Outcome) -> Result<Option<Vec<OutboxItem>>, StoreError>;
    /// A decided message and what its decision was based on, for the check before sending.
    async fn recorded_decision(&self, message: i64) -> Result<Option<(StoredMessage, RecordedDecision)>, StoreError>;

    /// Counts a failed attempt; after `max_attempts` the message is quarantined with `error`.
    /// Returns true when it was quarantined.
    async fn record_failure(&self, message: i64, error: &str, max_attempts: u32) -> Result<bool, StoreError>;

    /// Outbox rows due for delivery, oldest first.
    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxItem>, StoreError>;

    /// Counts a delivery attempt before it starts, so after a crash a pending row with
    /// attempts > 0 is known to have an unknown outcome and is checked, not re-sent.
    async fn begin_delivery(&self, outbox: &[i64]) -> Result<(), StoreError>;

    async fn mark_sent(&self, outbox: &[i64], at: DateTime<Utc>) -> Result<(), StoreError>;

    /// A failed delivery: retried at `retry_at`, or failed for good when `None`.
    async fn mark_delivery_failed(&self, outbox: i64, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<(), StoreError>;

    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Drafts of `channel` still waiting for a person.
    async fn waiting_approvals(&self, channel: &str) -> Result<Vec<WaitingApproval>, StoreError>;

    async fn resolve_approval(&self, message: i64, resolution: &Resolution) -> Result<(), StoreError>;

    /// Records since when the draft is missing from Drafts (or clears it with `None`).
    async fn draft_missing_since(&self, message: i64, since: Option<DateTime<Utc>>) -> Result<(), StoreError>;

    async fn approvals(&self) -> Result<Vec<ApprovalRecord>, StoreError>;

    /// Failed deliveries (outbox and webhooks) and quarantined messages, newest first.
    async fn problems(&self, limit: u32) -> Result<Vec<Problem>, StoreError>;

    /// Records a person's correction of a message's intent or urgency (the latest wins).
    async fn correct(&self, correction: &Correction) -> Result<(), StoreError>;

    /// Every corrected message with its labels (corrected, else as decided), for training.
    async fn corrected_messages(&self) -> Result<Vec<CorrectedMessage>, StoreError>;

    /// The consent record that holds for each query (the latest one by the recipient's address
    /// or by the message's customer), in the order given; `None` where nothing was recorded.
    async fn latest_consents(&self, queries: &[ConsentQuery<'_>]) -> Result<Vec<Option<ConsentRecord>>, StoreError>;

    /// Everyone whose latest record withdraws `purpose`, by channel.
    async fn withdrawn(&self, purpose: Purpose) -> Result<Withdrawn, StoreError>;

    /// A reply withheld because `record` withdrew consent: failed for good with a reason a
    /// person can act on (`switchyard status`), and `reply.withheld` in the audit trail.
    async fn withhold(&self, item: &OutboxItem, record: &ConsentRecord) -> Result<(), StoreError>;
}

#[derive(Debug, Clone)]
pub struct Correction {
    pub message: i64,
    pub intent: Option<crate::domain::Intent>,
    pub urgency: Option<crate::domain::Urgency>,
    pub by: String,
}

#[derive(Debug, Clone)]
pub struct CorrectedMessage {
    pub message: i64,
    pub raw: Vec<u8>,
    pub intent: String,
    pub urgency: String,
    pub language: String,
}

/// What a recorded decision said, as far as the check before sending needs it.
#[derive(Debug, Clone)]
pub struct RecordedDecision {
    pub intent: Option<crate::domain::Intent>,
    pub urgency: Option<crate::domain::Urgency>,
    pub language: Option<crate::domain::Language>,
    pub confidence: Option<f32>,
    pub facts: Vec<crate::domain::Fact>,
    pub claims: Vec<crate::domain::Claim>,
}
