//! Stage 9, act: turns a decision into the messages to deliver — the reply (RFC 5322, threaded,
//! `Auto-Submitted: auto-replied`), the draft for a person, the alert to the on-call team. They
//! are written to the outbox in the same transaction as the decision; delivery happens after.

use std::time::SystemTime;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::draft::Draft;
use super::parse::ParsedMessage;
use crate::domain::{EmailAddress, MessageId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutgoingKind {
    /// To the customer, sent now.
    Reply,
    /// To the customer, but held for a person to approve.
    Draft,
    /// To staff: why a draft needs approval and the facts it relies on. Filed next to the
    /// draft, never sent to the customer.
    Note,
    /// To staff on call.
    Alert,
}

impl OutgoingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutgoingKind::Reply => "reply",
            OutgoingKind::Draft => "draft",
            OutgoingKind::Note => "note",
            OutgoingKind::Alert => "alert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reply" => OutgoingKind::Reply,
            "draft" => OutgoingKind::Draft,
            "note" => OutgoingKind::Note,
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

/// Who the messages come from: the mailbox the inbound message arrived at.
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub address: EmailAddress,
    /// Right-hand side of the Message-IDs we generate.
    pub message_id_domain: String,
}

/// What the outgoing messages are made of.
pub struct Plan<'a> {
    pub message: &'a ParsedMessage,
    /// Identifies the inbound message when it has no Message-ID (SHA-256 of the raw bytes).
    pub raw_sha256: &'a str,
    pub reply: Option<&'a Draft>,
    pub draft: Option<&'a Draft>,
    /// The review note filed beside the draft, for the staff of the mailbox.
    pub note: Option<&'a Draft>,
    /// The team the note is routed to (`[routing]`); the mailbox itself when none is.
    pub note_to: Option<&'a EmailAddress>,
    pub alert: Option<(&'a Draft, &'a [EmailAddress])>,
}

pub fn compose(plan: &Plan<'_>, sender: &Sender) -> Result<Vec<Outgoing>, ActError> {
    let mut out = Vec::new();
    let customer = plan.message.from.clone();
    if let Some(reply) = plan.reply {
        out.push(build(plan, sender, OutgoingKind::Reply, "r", &customer, reply)?);
    }
    if let Some(draft) = plan.draft {
        out.push(build(plan, sender, OutgoingKind::Draft, "d", &customer, draft)?);
    }
    if let Some(note) = plan.note {
        out.push(build(plan, sender, OutgoingKind::Note, "n", plan.note_to.unwrap_or(&sender.address), note)?);
    }
    if let Some((alert, recipients)) = plan.alert {
        for (i, rcpt) in recipients.iter().enumerate() {
            out.push(build(plan, sender, OutgoingKind::Alert, &format!("a{i}"), rcpt, alert)?);
        }
    }
    Ok(out)
}

/// The reply a person approved in the web queue or through the API. Its own id prefix (`p`)
/// keeps it apart from an automatic reply to the same message (an emergency's safety reply),
/// and it is not marked automatic: a person sent it (RFC 3834).
pub fn approved_reply(message: &ParsedMessage, raw_sha256: &str, draft: &Draft, sender: &Sender) -> Result<Outgoing, ActError> {
    let plan = Plan { message, raw_sha256, reply: Some(draft), draft: None, note: None, note_to: None, alert: None };
    build(&plan, sender, OutgoingKind::Reply, APPROVED_PREFIX, &message.from, draft)
}

const APPROVED_PREFIX: &str = "p";

/// Whether an outbox row is a reply a person approved (it was checked against live facts at
/// approval, so the worker does not check it again).
pub fn is_approved_reply(id: &MessageId) -> bool {
    id.as_str().starts_with("p.")
}

/// `<prefix>.<hash>@<domain>`: the same inbound message always yields the same ids.
pub fn derived_message_id(plan: &Plan<'_>, prefix: &str, domain: &str) -> MessageId {
    let hex = reference(plan.message.message_id.as_ref(), plan.raw_sha256);
    MessageId::parse(&format!("{prefix}.{hex}@{domain}")).expect("derived ids are well formed")
}

/// A stable reference for an inbound message (24 hex digits): from its Message-ID, or from
/// its content when it has none. Used for our Message-IDs and as the idempotency key of
/// requests to other systems, so a retried message never acts twice.
pub fn reference(message_id: Option<&MessageId>, raw_sha256: &str) -> String {
    let key = match message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{raw_sha256}"),
    };
    Sha256::digest(key.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn build(
    plan: &Plan<'_>,
    sender: &Sender,
    kind: OutgoingKind,
    prefix: &str,
    to: &EmailAddress,
    draft: &Draft,
) -> Result<Outgoing, ActError> {
    let err = |message: String| ActError::Compose { kind: kind.as_str(), message };
    let message_id = derived_message_id(plan, prefix, &sender.message_id_domain);
    let from_address = sender.address.as_str().parse().map_err(|e| err(format!("sender address: {e}")))?;
    let from = Mailbox::new(Some(sender.name.clone()), from_address);
    let to_address = to.as_str().parse().map_err(|e| err(format!("{e}")))?;
    let to_box = match (kind, &plan.message.from_name) {
        (OutgoingKind::Reply | OutgoingKind::Draft, Some(name)) => Mailbox::new(Some(name.clone()), to_address),
        _ => Mailbox::new(None, to_address),
    };
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to_box)
        .subject(draft.subject.clone())
        .date(SystemTime::now())
        .message_id(Some(message_id.bracketed()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Switchyard-Reply"), kind.as_str().into()));
    // Replies, drafts and notes belong to the customer's thread; alerts stand alone.
    if kind != OutgoingKind::Alert {
        if let Some(inbound) = &plan.message.message_id {
            let mut refs: Vec<String> = plan.message.references.iter().map(MessageId::bracketed).collect();
            refs.push(inbound.bracketed());
            builder = builder.in_reply_to(inbound.bracketed()).references(refs.join(" "));
        }
    }
    // RFC 3834 §5: automatic replies say so; a draft sent by a person is not automatic.
    let auto = match kind {
        OutgoingKind::Reply if prefix == APPROVED_PREFIX => None,
        OutgoingKind::Reply => Some("auto-replied"),
        OutgoingKind::Alert | OutgoingKind::Note => Some("auto-generated"),
        OutgoingKind::Draft => None,
    };
    if let Some(value) = auto {
        builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), value.into()));
    }
    let message = if draft.attachments.is_empty() {
        builder.header(ContentType::TEXT_PLAIN).body(draft.body.clone())
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(draft.body.clone()));
        for a in &draft.attachments {
            let content_type = ContentType::parse(&a.content_type).map_err(|e| err(format!("attachment {}: {e}", a.filename)))?;
            parts = parts.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type));
        }
        builder.multipart(parts)
    }
    .map_err(|e| err(e.to_string()))?;
    Ok(Outgoing { kind, message_id, recipient: to.clone(), raw: message.formatted() })
}

#[cfg(test)]
mod tests {
    use super::*;
        use crate::domain::Language;
    use crate::pipeline::draft::DraftKind;
    use crate::pipeline::parse::{self, Limits};
    use crate::testing::email;

    fn parsed(headers: &str) -> ParsedMessage {
        let raw = format!("From: Giulia Rossi <giulia.rossi@posta.example>\r\nSubject: Bolletta\r\n{headers}\r\nciao");
        parse::run(raw.as_bytes(), 0, Limits { max_bytes: 1 << 20 }).unwrap()
    }

    fn sender() -> Sender {
        Sender { name: "Aurora Utilities".into(), address: email("assistenza@aurora.example"), message_id_domain: "switchyard.aurora.example".into() }
    }

    fn draft() -> Draft {
        Draft { kind: DraftKind::Reply, language: Language::It, template: "t".into(), subject: "Re: Bolletta".into(), body: "Gentile cliente, è tutto a posto.\n".into(), attachments: Vec::new(), llm: None }
    }

    fn header(raw: &[u8], name: &str) -> Option<String> {
        let m = mail_parser::MessageParser::default().parse(raw).unwrap();
        m.header_raw(name).map(|v| v.trim().to_string())
    }

    #[test]
    fn a_reply_is_threaded_and_marked_automatic() {
        let m = parsed("Message-ID: <m2@posta.example>\r\nReferences: <m0@x.example> <m1@x.example>\r\nIn-Reply-To: <m1@x.example>\r\n");
        let d = draft();
        let plan = Plan { message: &m, raw_sha256: "ab", reply: Some(&d), draft: None, note: None, note_to: None, alert: None };
        let out = compose(&plan, &sender()).unwrap();
        assert_eq!(out.len(), 1);
        let raw = &out[0].raw;
        assert_eq!(header(raw, "In-Reply-To").as_deref(), Some("<m2@posta.example>"));
        assert_eq!(header(raw, "References").as_deref(), Some("<m0@x.example> <m1@x.example> <m2@posta.example>"));
        assert_eq!(header(raw, "Auto-Submitted").as_deref(), Some("auto-replied"));
        assert_eq!(header(raw, "X-Switchyard-Reply").as_deref(), Some("reply"));
        assert!(header(raw, "To").unwrap().contains("giulia.rossi@posta.example"));
        assert_eq!(out[0].recipient, email("giulia.rossi@posta.example"));
        let body = mail_parser::MessageParser::default().parse(raw).unwrap().body_text(0).unwrap().into_owned();
        assert!(body.contains("è tutto a posto"));
    }

    #[test]
    fn ids_are_derived_so_a_retry_produces_the_same_reply() {
        let m = parsed("Message-ID: <m2@posta.example>\r\n");
        let d = draft();
        let plan = Plan { message: &m, raw_sha256: "ab", reply: Some(&d), draft: Some(&d), note: None, note_to: None, alert: None };
        let a = compose(&plan, &sender()).unwrap();
        let b = compose(&plan, &sender()).unwrap();
        assert_eq!(a[0].message_id, b[0].message_id);
        assert_ne!(a[0].message_id, a[1].message_id, "reply and draft need their own ids");
        assert!(a[0].message_id.as_str().ends_with("@switchyard.aurora.example"));
        // Without a Message-ID the raw bytes' hash identifies the message.
        let anonymous = parsed("");
        let p1 = Plan { message: &anonymous, raw_sha256: "aa", reply: Some(&d), draft: None, note: None, note_to: None, alert: None };
        let p2 = Plan { message: &anonymous, raw_sha256: "bb", reply: Some(&d), draft: None, note: None, note_to: None, alert: None };
        assert_ne!(derived_message_id(&p1, "r", "x.example"), derived_message_id(&p2, "r", "x.example"));
    }

    #[test]
    fn drafts_are_not_automatic_and_alerts_go_to_every_recipient() {
        let m = parsed("Message-ID: <m2@posta.example>\r\n");
        let d = draft();
        let on_call = [email("a@aurora.example"), email("b@aurora.example")];
        let plan = Plan { message: &m, raw_sha256: "ab", reply: None, draft: Some(&d), note: Some(&d), note_to: None, alert: Some((&d, &on_call)) };
        let out = compose(&plan, &sender()).unwrap();
        let kinds: Vec<OutgoingKind> = out.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, [OutgoingKind::Draft, OutgoingKind::Note, OutgoingKind::Alert, OutgoingKind::Alert]);
        assert_eq!(header(&out[0].raw, "Auto-Submitted"), None);
        assert_eq!(out[1].recipient, email("assistenza@aurora.example"), "the note goes to the mailbox, never the customer");
        assert_eq!(header(&out[1].raw, "In-Reply-To").as_deref(), Some("<m2@posta.example>"), "the note sits in the customer's thread");
        assert_eq!(header(&out[2].raw, "Auto-Submitted").as_deref(), Some("auto-generated"));
        assert_eq!(out[3].recipient, email("b@aurora.example"));
        assert_eq!(header(&out[2].raw, "In-Reply-To"), None, "alerts are not part of the customer's thread");
    }
}
