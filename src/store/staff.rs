//! What the web queue and the API keep: staff accounts, sessions and tokens
//! ([`AccountStore`]), and the queue of work for people with everything staff do to it
//! ([`QueueStore`]). Every change to an item writes its `staff_actions` row in the same
//! transaction, and only a `waiting` item can be resolved, so two people cannot both send.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Claim, Fact, Intent, Language, Reason, Role, Urgency, Username};
use crate::pipeline::act::Outgoing;
use crate::store::{OutboxItem, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    pub username: Username,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// Failed sign-ins within the throttling window.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginFailures {
    pub for_user: u32,
    pub from_client: u32,
    /// The oldest failure counted: the window reopens after it.
    pub oldest: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the name is taken. Every change to accounts and
    /// tokens is recorded in the audit trail with `by`, who made it.
    async fn add_user(&self, username: &Username, role: Role, password_hash: &str, by: &str) -> Result<User, StoreError>;
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// The user and their password hash, for signing in.
    async fn user_for_login(&self, username: &Username) -> Result<Option<(User, String)>, StoreError>;
    async fn set_password(&self, username: &Username, password_hash: &str, by: &str) -> Result<(), StoreError>;
    /// Changing a role or disabling a user ends their sessions.
    async fn set_role(&self, username: &Username, role: Role, by: &str) -> Result<(), StoreError>;
    async fn set_disabled(&self, username: &Username, disabled: bool, by: &str) -> Result<(), StoreError>;

    async fn create_session(&self, user: i64, token_sha256: &str, csrf: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// The live session for a cookie token, its idle clock restarted; `None` (and the row
    /// removed) when it is unknown, expired, idle since before `idle_since` or its user disabled.
    async fn session(&self, token_sha256: &str, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<Option<Session>, StoreError>;
    async fn end_session(&self, token_sha256: &str) -> Result<(), StoreError>;

    async fn add_token(&self, username: &Username, name: &str, token_sha256: &str, by: &str) -> Result<(), StoreError>;
    /// The user a bearer token acts for: `None` when unknown, revoked or the user is disabled.
    async fn token_user(&self, token_sha256: &str, now: DateTime<Utc>) -> Result<Option<User>, StoreError>;
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    async fn revoke_token(&self, username: &Username, name: &str, by: &str) -> Result<(), StoreError>;

    async fn login_failures(&self, username: &str, client: &str, since: DateTime<Utc>) -> Result<LoginFailures, StoreError>;
    async fn record_login_failure(&self, username: &str, client: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError>;
}

/// Which items a queue listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    /// Waiting for a person (escalated ones included).
    #[default]
    Open,
    /// Waiting and escalated.
    Escalated,
    /// Resolved one way or another.
    Done,
    All,
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub state: StateFilter,
    pub intent: Option<Intent>,
    pub language: Option<Language>,
    /// The channel: `maildir:…` or `imap:<mailbox name>`.
    pub mailbox: Option<String>,
    pub assignee: Option<String>,
    pub offset: u32,
    pub limit: u32,
}

/// One line of the queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub message: i64,
    pub received_at: DateTime<Utc>,
    pub mailbox: String,
    pub sender: Option<String>,
    pub customer: Option<String>,
    pub subject: Option<String>,
    pub intent: Option<String>,
    pub urgency: Option<String>,
    pub language: Option<String>,
    pub confidence: Option<f64>,
    pub decision: String,
    pub state: String,
    pub assignee: Option<String>,
    pub escalated: bool,
    pub has_draft: bool,
    pub unverified_claims: i64,
}

/// Queue sizes, for the queue header, the API and /metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStats {
    pub open: i64,
    pub escalated: i64,
    /// Open items by urgency, most urgent first.
    pub open_by_urgency: Vec<(String, i64)>,
    pub open_by_intent: Vec<(String, i64)>,
    pub resolved_by_state: Vec<(String, i64)>,
    /// Age of the oldest open item, in seconds.
    pub oldest_open_seconds: Option<i64>,
    pub mailboxes: Vec<String>,
}

/// Everything the message page shows about one item.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub item: QueueItem,
    #[serde(skip)]
    pub raw: Vec<u8>,
    pub stored_len: u64,
    pub source: String,
    pub reasons: Vec<Reason>,
    pub facts: Vec<Fact>,
    pub claims: Vec<Claim>,
    pub policy_version: String,
    pub model: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub draft_subject: Option<String>,
    /// The reply the decision wrote (sent, or held as the draft).
    pub reply_body: Option<String>,
    pub proposal: String,
    pub edited_text: Option<String>,
    pub edited_by: Option<String>,
    pub escalated_by: Option<String>,
    /// Who resolved it and how (mailbox, web, api), when it is resolved.
    pub resolved_by: Option<String>,
    pub resolved_via: Option<String>,
    pub resolved_at: Option<String>,
    pub sent_text: Option<String>,
    pub diff: Option<String>,
    pub resolution_reason: Option<String>,
    pub correction: Option<CorrectionRecord>,
    pub outbox: Vec<OutboxRecord>,
    pub actions: Vec<StaffAction>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorrectionRecord {
    pub intent: Option<String>,
    pub urgency: Option<String>,
    pub by: String,
    pub at: String,
}

/// What a decision sent or filed, and how far delivery got.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaffAction {
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
    pub at: String,
}

/// Another message of the same sender or customer.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub message: i64,
    pub received_at: DateTime<Utc>,
    pub subject: Option<String>,
    pub intent: Option<String>,
    pub decision: Option<String>,
    pub state: Option<String>,
}

/// One decision as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    pub message: i64,
    pub decided_at: DateTime<Utc>,
    pub mailbox: String,
    pub decision: String,
    pub intent: Option<String>,
    pub urgency: Option<String>,
    pub language: Option<String>,
    pub confidence: Option<f64>,
    pub reasons: Vec<Reason>,
    pub policy_version: String,
    pub decided_by: Option<String>,
}

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Web,
    Api,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Web => "web",
            Via::Api => "api",
        }
    }
}

/// A person approved the reply: it is queued for sending with what it was checked against.
#[derive(Debug, Clone)]
pub struct Approval {
    pub message: i64,
    pub by: Username,
    pub via: Via,
    pub text: String,
    /// Whether the text differs from the proposal.
    pub edited: bool,
    pub diff: Option<String>,
    pub claims: Vec<Claim>,
    pub facts: Vec<Fact>,
    /// Why unverified claims were sent anyway (an override), when there are any.
    pub override_reason: Option<String>,
    pub channel: String,
    pub reply: Outgoing,
}

/// A change to an item other than approving it.
#[derive(Debug, Clone)]
pub enum ItemChange {
    Reject { reason: String },
    Escalate { note: String },
    Reassign { to: Option<Username> },
    SaveEdit { text: String },
    Correct { intent: Option<Intent>, urgency: Option<Urgency> },
}

impl ItemChange {
    pub fn action(&self) -> &'static str {
        match self {
            ItemChange::Reject { .. } => "reject",
            ItemChange::Escalate { .. } => "escalate",
            ItemChange::Reassign { .. } => "reassign",
            ItemChange::SaveEdit { .. } => "edit",
            ItemChange::Correct { .. } => "correct",
        }
    }
}

#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Items sorted by urgency (emergency first), then age (oldest first).
    async fn queue(&self, filter: &QueueFilter) -> Result<Vec<QueueItem>, StoreError>;
    async fn queue_stats(&self) -> Result<QueueStats, StoreError>;
    async fn case(&self, message: i64) -> Result<Option<Case>, StoreError>;
    /// Other messages from the same sender or customer, newest first.
    async fn history(&self, message: i64, limit: u32) -> Result<Vec<HistoryEntry>, StoreError>;
    /// Decisions in the order they were taken, after `since` (exclusive).
    async fn decisions(&self, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<DecisionRecord>, StoreError>;
    /// Resolves a waiting item as approved and queues its reply, in one transaction.
    /// [`StoreError::Conflict`] when the item is no longer waiting.
    async fn approve(&self, approval: &Approval) -> Result<OutboxItem, StoreError>;
    /// Applies `change`; resolving changes (reject) and edits need a waiting item.
    async fn change_item(&self, message: i64, by: &Username, via: Via, change: &ItemChange) -> Result<(), StoreError>;
}
