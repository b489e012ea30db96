//! Stage 9, act: turns a decision into the messages to deliver — the reply (RFC 5322, threaded,
//! `Auto-Submitted: auto-replied`), the draft for a person, the alert to the on-call team. They
//! are written to the outbox in the same transaction as the decision; delivery happens after.

use std::time::SystemTime;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::draft::Draft;
use super::parse::ParsedMessage;
use crate::config::BrandSettings;
use crate::domain::{EmailAddress, MessageId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutgoingKind {
    /// To the customer, sent now.
    Reply,
    /// To the customer, but held for a person to approve.
    Draft,
    /// To staff on call.
    Alert,
}

impl OutgoingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutgoingKind::Reply => "reply",
            OutgoingKind::Draft => "draft",
            OutgoingKind::Alert => "alert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reply" => OutgoingKind::Reply,
            "draft" => OutgoingKind::Draft,
            "alert" => OutgoingKind::Alert,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Outgoing {
    pub kind: OutgoingKind,
    /// Derived from the inbound message, so a crash never produces a second, different reply.
    pub message_id: MessageId,
    pub recipient: EmailAddress,
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("cannot build the {kind} message: {message}")]
    Compose { kind: &'static str, message: String },
}

/// What the outgoing messages are made of.
pub struct Plan<'a> {
    pub message: &'a ParsedMessage,
    /// Identifies the inbound message when it has no Message-ID (SHA-256 of the raw bytes).
    pub raw_sha256: &'a str,
    pub reply: Option<&'a Draft>,
    pub draft: Option<&'a Draft>,
    pub alert: Option<(&'a Draft, &'a [EmailAddress])>,
}

pub fn compose(plan: &Plan<'_>, brand: &BrandSettings) -> Result<Vec<Outgoing>, ActError> {
    let mut out = Vec::new();
    let to = plan.message.from.clone();
    if let Some(reply) = plan.reply {
        out.push(build(plan, brand, OutgoingKind::Reply, "r", &to, reply)?);
    }
    if let Some(draft) = plan.draft {
        out.push(build(plan, brand, OutgoingKind::Draft, "d", &to, draft)?);
    }
    if let Some((alert, recipients)) = plan.alert {
        for (i, rcpt) in recipients.iter().enumerate() {
            out.push(build(plan, brand, OutgoingKind::Alert, &format!("a{i}"), rcpt, alert)?);
        }
    }
    Ok(out)
}

/// `<prefix>.<hash>@<domain>`: the same inbound message always yields the same ids.
pub fn derived_message_id(plan: &Plan<'_>, prefix: &str, domain: &str) -> MessageId {
    let key = match &plan.message.message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{}", plan.raw_sha256),
    };
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    MessageId::parse(&format!("{prefix}.{hex}@{domain}")).expect("derived ids are well formed")
}

fn build(
    plan: &Plan<'_>,
    brand: &BrandSettings,
    kind: OutgoingKind,
    prefix: &str,
    to: &EmailAddress,
    draft: &Draft,
) -> Result<Outgoing, ActError> {
    let err = |message: String| ActError::Compose { kind: kind.as_str(), message };
    let message_id = derived_message_id(plan, prefix, &brand.message_id_domain);
    let from: Mailbox = format!("{} <{}>", brand.from_name, brand.from_address)
        .parse()
        .map_err(|e| err(format!("brand.from_name/from_address: {e}")))?;
    let to_box: Mailbox = match (kind, &plan.message.from_name) {
        (OutgoingKind::Alert, _) | (_, None) => Mailbox::new(None, to.as_str().parse().map_err(|e| err(format!("{e}")))?),
        (_, Some(name)) => Mailbox::new(Some(name.clone()), to.as_str().parse().map_err(|e| err(format!("{e}")))?),
    };
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to_box)
        .subject(draft.subject.clone())
        .date(SystemTime::now())
        .message_id(Some(message_id.bracketed()))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Switchyard-Reply"), kind.as_str().into()));
    if kind != OutgoingKind::Alert {
        if let Some(inbound) = &plan.message.message_id {
            let mut refs: Vec<String> = plan.message.references.iter().map(MessageId::bracketed).collect();
            refs.push(inbound.bracketed());
            builder = builder.in_reply_to(inbound.bracketed()).references(refs.join(" "));
        }
    }
    // RFC 3834 §5: automatic replies say so; a draft sent by a person is not automatic.
    let auto = match kind {
        OutgoingKind::Reply => Some("auto-replied"),
        OutgoingKind::Alert => Some("auto-generated"),
        OutgoingKind::Draft => None,
    };
    if let Some(value) = auto {
        builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), value.into()));
    }
    let message = builder.body(draft.body.clone()).map_err(|e| err(e.to_string()))?;
    Ok(Outgoing { kind, message_id, recipient: to.clone(), raw: message.formatted() })
}
