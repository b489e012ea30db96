//! The outcome of the pipeline for one message and the reasons that explain it.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The reply is sent without a person.
    AutoSend,
    /// A draft waits for a person.
    Approve,
    /// Emergency: the safety reply is sent and people are alerted at once.
    Escalate,
    /// Machine mail or a duplicate: never answered.
    Ignore,
    /// Cannot be processed safely; kept with its reason for a person.
    Quarantine,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::AutoSend => "auto_send",
            Decision::Approve => "approve",
            Decision::Escalate => "escalate",
            Decision::Ignore => "ignore",
            Decision::Quarantine => "quarantine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auto_send" => Decision::AutoSend,
            "approve" => Decision::Approve,
            "escalate" => Decision::Escalate,
            "ignore" => Decision::Ignore,
            "quarantine" => Decision::Quarantine,
            _ => return None,
        })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! reason_codes {
    ($($variant:ident = $code:literal),+ $(,)?) => {
        /// Stable reason codes (used in expected-outcome files, the API and the audit trail).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ReasonCode { $($variant),+ }

        impl ReasonCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ReasonCode::$variant => $code),+ }
            }
        }
    };
}

reason_codes! {
    // parse → quarantine
    NoFrom = "no_from",
    TruncatedMime = "truncated_mime",
    TooLarge = "too_large",
    Unparseable = "unparseable",
    CharsetUndecodable = "charset_undecodable",
    // guard → ignore
    AutoSubmitted = "auto_submitted",
    NullReturnPath = "null_return_path",
    DeliveryReport = "delivery_report",
    MailingList = "mailing_list",
    BulkPrecedence = "bulk_precedence",
    NoreplySender = "noreply_sender",
    OwnMessage = "own_message",
    DuplicateMessageId = "duplicate_message_id",
    // guard → approve
    AutoResponseSuppressed = "auto_response_suppressed",
    SenderReplyLimit = "sender_reply_limit",
    // classify
    SafetyOverride = "safety_override",
    LowConfidence = "low_confidence",
    LanguageUnsupported = "language_unsupported",
    // identify
    CustomerVerified = "customer_verified",
    SenderUnverified = "sender_unverified",
    SenderMismatch = "sender_mismatch",
    // ground
    ConnectorUnavailable = "connector_unavailable",
    NoKnownOutage = "no_known_outage",
    ReadingImplausible = "reading_implausible",
    PlanHandover = "plan_handover",
    // factcheck
    ClaimsVerified = "claims_verified",
    UnverifiedClaim = "unverified_claim",
    // policy
    EmergencyEscalated = "emergency_escalated",
    IntentRequiresApproval = "intent_requires_approval",
    UrgencyRequiresApproval = "urgency_requires_approval",
    VulnerableCustomer = "vulnerable_customer",
    Disconnection = "disconnection",
    RoutedToTeam = "routed_to_team",
    DraftUnavailable = "draft_unavailable",
    AutoSendAllowed = "auto_send_allowed",
    // worker
    ProcessingFailed = "processing_failed",
    ReplyPending = "reply_pending",
    ConsentWithdrawn = "consent_withdrawn",
    FactsChanged = "facts_changed",
    LlmDraftFallback = "llm_draft_fallback",
}

/// One reason behind a decision: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub detail: String,
}

impl Reason {
    pub fn new(code: ReasonCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}
