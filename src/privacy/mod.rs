//! Privacy by design around the pipeline: consent records that every outbound path respects
//! (delivery of replies, approval in the web queue and the API, the support paragraph of
//! drafts), the retention period that purges old messages, erasure and access requests.
//!
//! The audit trail never holds personal data (hashes, codes and pseudonyms only), so purging
//! and erasing touch only the other tables and the Maildir folders, and the chain still
//! verifies afterwards. The SQL side is in `store/sqlite/privacy.rs`.

pub mod access;
pub mod files;
#[cfg(test)]
mod store_tests;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{AccountId, EmailAddress};
use crate::store::StoreError;
use crate::store::sqlite::SqliteStore;

/// Messages purged per transaction: the worker shares the database, so no transaction holds
/// it for long.
const PURGE_BATCH: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` is not a customer: give an account number (8 digits starting with 4) or an e-mail address")]
    BadSubject(String),
    #[error("`{0}` is not a consent channel: expected email or whatsapp")]
    BadChannel(String),
    #[error("`{0}` is not a consent purpose: expected service or assistance_info")]
    BadPurpose(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot remove the Maildir files of purged messages ({0}); the next purge tries again")]
    Files(std::io::Error),
}

/// Whom a consent record, an erasure or an access request is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Subject {
    /// A customer of the CIS, by account number.
    Account(String),
    /// Whoever writes from this address (identified or not).
    Email(String),
}

impl Subject {
    pub fn account(raw: &str) -> Result<Self, PrivacyError> {
        AccountId::parse(raw).map(|a| Subject::Account(a.as_str().to_string())).ok_or_else(|| PrivacyError::BadSubject(raw.to_string()))
    }

    pub fn email(raw: &str) -> Result<Self, PrivacyError> {
        EmailAddress::parse(raw).map(|e| Subject::Email(e.as_str().to_string())).map_err(|_| PrivacyError::BadSubject(raw.to_string()))
    }

    /// `--customer` or `--email`, exactly one (clap enforces it; this says what went wrong).
    pub fn from_args(customer: Option<&str>, email: Option<&str>) -> Result<Self, PrivacyError> {
        match (customer, email) {
            (Some(c), None) => Self::account(c),
            (None, Some(e)) => Self::email(e),
            _ => Err(PrivacyError::Invalid("give either --customer ACCOUNT or --email ADDRESS".into())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Account(_) => "account",
            Subject::Email(_) => "email",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Subject::Account(v) | Subject::Email(v) => v,
        }
    }

    pub fn audit_kind(&self) -> crate::audit::SubjectKind {
        match self {
            Subject::Account(_) => crate::audit::SubjectKind::Account,
            Subject::Email(_) => crate::audit::SubjectKind::Email,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Account(a) => write!(f, "account {a}"),
            Subject::Email(e) => write!(f, "{e}"),
        }
    }
}

/// The channel a consent covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Whatsapp => "whatsapp",
        }
    }

    /// The consent channel of a store channel (`maildir:inbox`, `imap:support`, `whatsapp:…`).
    pub fn of(store_channel: &str) -> Self {
        if store_channel.starts_with("whatsapp") { Channel::Whatsapp } else { Channel::Email }
    }
}

impl FromStr for Channel {
    type Err = PrivacyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" | "e-mail" => Ok(Channel::Email),
            "whatsapp" => Ok(Channel::Whatsapp),
            _ => Err(PrivacyError::BadChannel(s.to_string())),
        }
    }
}

/// What a consent is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Answers to the customer's own messages.
    Service,
    /// The paragraph about support programmes (social tariffs, hardship funds) in replies.
    AssistanceInfo,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Service => "service",
            Purpose::AssistanceInfo => "assistance_info",
        }
    }
}

impl FromStr for Purpose {
    type Err = PrivacyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "service" => Ok(Purpose::Service),
            "assistance_info" => Ok(Purpose::AssistanceInfo),
            _ => Err(PrivacyError::BadPurpose(s.to_string())),
        }
    }
}

/// A consent given or withdrawn, to record.
#[derive(Debug, Clone)]
pub struct NewConsent {
    pub subject: Subject,
    pub channel: Channel,
    pub purpose: Purpose,
    pub granted: bool,
    pub source: String,
    pub by: String,
}

/// A consent record as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsentRecord {
    pub id: i64,
    pub subject: Subject,
    pub channel: Channel,
    pub purpose: Purpose,
    pub granted: bool,
    pub source: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

impl ConsentRecord {
    /// Why a message was not sent, in words a person can act on.
    pub fn refusal(&self) -> String {
        format!(
            "not sent: {} withdrew consent to {} by {} on {} (recorded by {}, source: {}); answer another way, or record \
             a new opt-in with `switchyard consent record … --opt-in` if they give it again",
            self.subject,
            match self.purpose {
                Purpose::Service => "being answered",
                Purpose::AssistanceInfo => "being told about support programmes",
            },
            self.channel.as_str(),
            self.recorded_at.format("%Y-%m-%d"),
            self.recorded_by,
            self.source,
        )
    }
}

/// What delivery and approval ask: may this reply to `recipient` about `message` go out?
/// The decision's customer (account) is looked up from the message.
#[derive(Debug, Clone)]
pub struct ConsentQuery<'a> {
    pub message: i64,
    pub recipient: &'a str,
    pub channel: Channel,
    pub purpose: Purpose,
}

/// The subjects whose latest record for one purpose withdraws it, by channel: read once per
/// batch by the pipeline, so drafting needs no query per message.
#[derive(Debug, Clone, Default)]
pub struct Withdrawn {
    pub(crate) entries: HashSet<(Channel, Subject)>,
}

impl Withdrawn {
    pub fn new(entries: impl IntoIterator<Item = (Channel, Subject)>) -> Self {
        Self { entries: entries.into_iter().collect() }
    }

    /// Whether the customer (by account) or the sender (by address) withdrew it on `channel`.
    pub fn any(&self, channel: Channel, account: Option<&str>, email: Option<&str>) -> bool {
        let by_account = account.is_some_and(|a| self.entries.contains(&(channel, Subject::Account(a.to_string()))));
        let by_email = email.is_some_and(|e| self.entries.contains(&(channel, Subject::Email(e.to_lowercase()))));
        by_account || by_email
    }
}

/// The view key the reply templates read: `assistance_consent` comes from the CIS, and a
/// withdrawal recorded here overrides it (`assistance_withdrawn` leaves the paragraph out).
pub fn apply_withdrawal(view: &mut serde_json::Value, withdrawn: bool) {
    if let Some(map) = view.as_object_mut().filter(|_| withdrawn) {
        map.insert("assistance_consent".into(), false.into());
        map.insert("assistance_withdrawn".into(), true.into());
    }
}

/// `text` with every e-mail address replaced by `<address>`: for errors from other systems
/// (an SMTP server's "550 <someone@example> unknown") that are logged above debug, where no
/// personal data may go (see src/telemetry.rs).
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    static ADDRESS: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+").expect("valid pattern"));
    ADDRESS.replace_all(text, "<address>")
}

/// Where retention cuts: messages whose last activity is before this are purged.
pub fn retention_cutoff(retention_days: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (retention_days > 0).then(|| now - chrono::Duration::days(i64::from(retention_days)))
}

/// `--before`: a date (midnight UTC) or an RFC 3339 time.
pub fn parse_before(text: &str) -> Result<DateTime<Utc>, PrivacyError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| PrivacyError::Invalid(format!("`{text}` is not a date: expected e.g. 2025-01-31 or 2025-01-31T00:00:00Z")))
}

/// What a purge (retention) removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PurgeReport {
    pub cutoff: Option<DateTime<Utc>>,
    pub messages: u64,
    pub outbox_rows: u64,
    pub approvals: u64,
    pub staff_actions: u64,
    /// Maildir files removed (inbox, outbox, drafts, review).
    pub files: u64,
    /// Messages purged whose mail came from IMAP: the copies on the server are not ours to delete.
    pub imap_messages: u64,
}

/// What an erasure request removed, and what it could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErasureReport {
    pub subject: Option<Subject>,
    pub messages: u64,
    /// Replies not yet sent, cancelled (marked failed).
    pub cancelled_replies: u64,
    /// Drafts still waiting for a person, discarded.
    pub discarded_drafts: u64,
    pub consents: u64,
    /// The pseudonyms whose keys were deleted.
    pub forgotten: Vec<String>,
    pub files: u64,
    /// IMAP mailboxes (channel names) the erased messages came from, with how many each.
    pub imap: Vec<(String, u64)>,
}

/// Messages selected for a purge batch or an erasure, and the Maildir files they left.
#[derive(Debug, Clone, Default)]
pub struct Scrubbed {
    pub messages: Vec<i64>,
    pub outbox_rows: u64,
    pub approvals: u64,
    pub staff_actions: u64,
    pub imap: Vec<(String, u64)>,
}

/// Purges every message whose last activity is before `cutoff` and that nobody is working on,
/// a batch per transaction, then removes their Maildir files.
pub async fn purge(store: &SqliteStore, folders: &files::Folders, cutoff: DateTime<Utc>) -> Result<PurgeReport, PrivacyError> {
    let mut report = PurgeReport { cutoff: Some(cutoff), ..PurgeReport::default() };
    loop {
        let batch = store.purge_batch(cutoff, PURGE_BATCH).await?;
        if batch.messages.is_empty() {
            break;
        }
        report.messages += batch.messages.len() as u64;
        report.outbox_rows += batch.outbox_rows;
        report.approvals += batch.approvals;
        report.staff_actions += batch.staff_actions;
        report.imap_messages += batch.imap.iter().map(|(_, n)| n).sum::<u64>();
    }
    report.files = remove_files(store, folders).await?;
    Ok(report)
}

/// Erases `subject` (see [`SqliteStore::erase`]) and removes their Maildir files.
pub async fn erase(store: &SqliteStore, folders: &files::Folders, subject: &Subject, by: &str, reason: &str) -> Result<ErasureReport, PrivacyError> {
    if reason.trim().is_empty() {
        return Err(PrivacyError::Invalid("give the reason for the erasure (--reason), e.g. \"GDPR Art. 17 request of 2026-11-20, ticket 1234\"".into()));
    }
    let mut report = store.erase(subject, by, reason).await?;
    report.files = remove_files(store, folders).await?;
    Ok(report)
}

/// Removes the Maildir files of every purged or erased message that still has some, and
/// records that they are gone; returns how many files were removed.
pub async fn remove_files(store: &SqliteStore, folders: &files::Folders) -> Result<u64, PrivacyError> {
    let mut removed = 0;
    loop {
        let (ids, targets) = store.files_left(PURGE_BATCH).await?;
        if ids.is_empty() {
            return Ok(removed);
        }
        let folders = folders.clone();
        removed += tokio::task::spawn_blocking(move || files::remove(&folders, &targets))
            .await
            .map_err(|e| PrivacyError::Files(std::io::Error::other(e)))?
            .map_err(PrivacyError::Files)?;
        store.files_removed(&ids).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_parsed_and_normalised() {
        assert_eq!(Subject::account("4000 0001").unwrap(), Subject::Account("40000001".into()));
        assert_eq!(Subject::email("Giulia.Rossi@Posta.example").unwrap(), Subject::Email("giulia.rossi@posta.example".into()));
        assert!(matches!(Subject::account("123"), Err(PrivacyError::BadSubject(_))));
        assert!(Subject::from_args(None, None).is_err());
        assert_eq!("WhatsApp".parse::<Channel>().unwrap(), Channel::Whatsapp);
        assert_eq!("assistance-info".parse::<Purpose>().unwrap(), Purpose::AssistanceInfo);
        assert!("sms".parse::<Channel>().unwrap_err().to_string().contains("email or whatsapp"));
    }

    #[test]
    fn a_withdrawal_matches_by_account_or_address_on_its_channel() {
        let w = Withdrawn::new([(Channel::Email, Subject::Account("40000001".into())), (Channel::Whatsapp, Subject::Email("a@b.example".into()))]);
        assert!(w.any(Channel::Email, Some("40000001"), None));
        assert!(!w.any(Channel::Whatsapp, Some("40000001"), None));
        assert!(w.any(Channel::Whatsapp, None, Some("A@B.example")));
        assert!(!w.any(Channel::Email, None, Some("a@b.example")));
        let mut view = serde_json::json!({"assistance_consent": true});
        apply_withdrawal(&mut view, false);
        assert_eq!(view["assistance_consent"], true);
        apply_withdrawal(&mut view, true);
        assert_eq!((view["assistance_consent"].as_bool(), view["assistance_withdrawn"].as_bool()), (Some(false), Some(true)));
    }

    #[test]
    fn addresses_are_redacted_from_errors() {
        let e = "550 5.1.1 <Giulia.Rossi@posta.example>: Recipient address rejected; also a.b@c.example.";
        assert_eq!(redact(e), "550 5.1.1 <<address>>: Recipient address rejected; also <address>.");
        assert_eq!(redact("connection refused"), "connection refused");
    }

    #[test]
    fn retention_and_before_dates() {
        let now = "2026-11-20T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(retention_cutoff(0, now), None);
        assert_eq!(retention_cutoff(30, now).unwrap().to_rfc3339(), "2026-10-21T10:00:00+00:00");
        assert_eq!(parse_before("2025-01-31").unwrap().to_rfc3339(), "2025-01-31T00:00:00+00:00");
        assert!(parse_before("yesterday").unwrap_err().to_string().contains("2025-01-31"));
    }
}
