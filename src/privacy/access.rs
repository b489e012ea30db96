//! An access request (GDPR Art. 15): everything Switchyard holds about one customer as one
//! JSON document — their messages (headers, text, attachments listed), each decision with its
//! reasons and the facts it used, drafts, replies and notes written, what staff did, consents,
//! and the audit entries that name them. Messages purged or erased say so instead.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ConsentRecord, Subject};
use crate::audit::Entry;

/// What the store holds about a subject, as read for an access request.
#[derive(Debug, Clone)]
pub struct AccessData {
    pub subject: Subject,
    /// Accounts and addresses the subject's messages involve.
    pub accounts: Vec<String>,
    pub emails: Vec<String>,
    /// The subject's pseudonyms in the audit trail.
    pub pseudonyms: Vec<String>,
    pub messages: Vec<MessageRows>,
    pub consents: Vec<ConsentRecord>,
    pub audit: Vec<Entry>,
}

/// One message and everything recorded about it.
#[derive(Debug, Clone)]
pub struct MessageRows {
    pub id: i64,
    pub channel: String,
    pub raw: Vec<u8>,
    pub stored_len: u64,
    pub received_at: DateTime<Utc>,
    pub purged_at: Option<DateTime<Utc>>,
    pub purge_reason: Option<String>,
    pub decision: Option<Value>,
    pub approval: Option<Value>,
    pub outbox: Vec<OutboxRow>,
    pub staff_actions: Vec<Value>,
    pub correction: Option<Value>,
}

/// A reply, draft, review note or alert written for a message.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub state: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
    pub raw: Vec<u8>,
}

/// The document handed to the customer.
pub fn document(data: &AccessData, now: DateTime<Utc>) -> Value {
    json!({
        "request": {"subject": data.subject, "generated_at": now, "generator": concat!("switchyard ", env!("CARGO_PKG_VERSION"))},
        "accounts": data.accounts,
        "addresses": data.emails,
        "messages": data.messages.iter().map(message).collect::<Vec<_>>(),
        "consents": data.consents,
        "audit": {
            "pseudonyms": data.pseudonyms,
            "note": "entries of the tamper-evident audit trail about these messages or naming these pseudonyms; they hold hashes and codes, not the texts",
            "entries": data.audit,
        },
    })
}

fn message(m: &MessageRows) -> Value {
    let content = match &m.purged_at {
        Some(at) => json!({"removed": {"at": at, "why": m.purge_reason}}),
        None => mail(&m.raw),
    };
    json!({
        "id": m.id,
        "channel": m.channel,
        "received_at": m.received_at,
        "bytes": m.stored_len,
        "content": content,
        "decision": m.decision,
        "approval": m.approval,
        "written": m.outbox.iter().map(outgoing).collect::<Vec<_>>(),
        "staff_actions": m.staff_actions,
        "correction": m.correction,
    })
}

fn outgoing(o: &OutboxRow) -> Value {
    json!({
        "kind": o.kind,
        "to": o.recipient,
        "state": o.state,
        "created_at": o.created_at,
        "sent_at": o.sent_at,
        "error": o.last_error,
        "content": if o.raw.is_empty() { Value::Null } else { mail(&o.raw) },
    })
}

/// Headers, the text and the attachments of a stored message. A message that is not mail
/// at all is given as its text, so nothing held is left out.
pub fn mail(raw: &[u8]) -> Value {
    let Some(m) = mail_parser::MessageParser::default().parse(raw).filter(crate::pipeline::parse::looks_like_mail) else {
        return json!({"unparsed": String::from_utf8_lossy(raw)});
    };
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<Value> {
        a.map(|a| a.iter().map(|x| json!({"name": x.name(), "address": x.address()})).collect()).unwrap_or_default()
    };
    let attachments: Vec<Value> = crate::pipeline::parse::attachments(&m)
        .into_iter()
        .map(|a| json!({"name": a.name, "content_type": a.content_type, "bytes": a.size}))
        .collect();
    json!({
        "from": addresses(m.from()),
        "to": addresses(m.to()),
        "cc": addresses(m.cc()),
        "reply_to": addresses(m.reply_to()),
        "subject": m.subject(),
        "date": m.date().map(|d| d.to_rfc3339()),
        "message_id": m.message_id(),
        "text": m.body_text(0).map(|t| t.replace("\r\n", "\n")),
        "attachments": attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_gives_headers_text_and_attachments() {
        let raw = "From: Giulia Rossi <giulia.rossi@posta.example>\r\nTo: assistenza@aurora.example\r\nSubject: Lettura\r\n\
                   Message-ID: <a@b.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
                   Content-Type: text/plain\r\n\r\nEcco la foto.\r\n--x\r\nContent-Type: image/jpeg; name=m.jpg\r\n\
                   Content-Disposition: attachment; filename=m.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--x--\r\n";
        let v = mail(raw.as_bytes());
        assert_eq!(v["from"][0]["name"], "Giulia Rossi");
        assert_eq!(v["from"][0]["address"], "giulia.rossi@posta.example");
        assert_eq!(v["subject"], "Lettura");
        assert!(v["text"].as_str().unwrap().contains("Ecco la foto."), "{v}");
        assert_eq!(v["attachments"][0]["name"], "m.jpg");
        assert_eq!(mail(b"not mail at all")["unparsed"], "not mail at all");
    }
}
