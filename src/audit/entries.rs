//! The entries each fact of the pipeline and of the people working the queue adds to the
//! trail: what is recorded, and in what form (hashes, keys, codes and pseudonyms only).

use serde_json::json;
use sqlx::SqliteConnection;

use super::{NewEntry, SubjectKind, pseudonym, sha256_hex};
use crate::pipeline::Outcome;
use crate::store::StoreError;

/// The customer's pseudonym for a decision: by account when identified, else by address.
async fn subject_of(conn: &mut SqliteConnection, o: &Outcome) -> Result<Option<String>, StoreError> {
    Ok(match (&o.customer, &o.from) {
        (Some(account), _) => Some(pseudonym(conn, SubjectKind::Account, account).await?),
        (None, Some(from)) => Some(pseudonym(conn, SubjectKind::Email, from).await?),
        (None, None) => None,
    })
}

/// Everything a decision rests on, in the order it happened: classified, identified, facts
/// used, drafted, fact-checked, decided.
pub async fn decided(conn: &mut SqliteConnection, o: &Outcome) -> Result<Vec<NewEntry>, StoreError> {
    let subject = subject_of(conn, o).await?;
    let tag = |mut e: NewEntry| {
        e.subject = subject.clone();
        e.mailbox = Some(o.channel.clone());
        e.intent = o.intent.map(|i| i.as_str().to_string());
        e.decision = Some(o.decision.as_str().to_string());
        e
    };
    let m = Some(o.message);
    let mut out = Vec::new();
    if let Some(intent) = o.intent {
        let llm = o.llm.as_ref().map(|l| json!({"model": l.model, "prompt": l.prompt, "outcome": l.outcome.to_string()}));
        out.push(tag(NewEntry::new(
            "message.classified",
            m,
            json!({
                "intent": intent.as_str(),
                "urgency": o.urgency.map(|u| u.as_str()),
                "language": o.language.map(|l| l.as_str()),
                "confidence": o.confidence,
                "model": o.model,
                "decided_by": o.decided_by,
                "llm": llm,
            }),
        )));
    }
    if let Some(from) = &o.from {
        let sender = pseudonym(conn, SubjectKind::Email, from).await?;
        out.push(tag(NewEntry::new("customer.identified", m, json!({"verified": o.customer.is_some(), "sender": sender}))));
    }
    if !o.facts.is_empty() {
        let facts: Vec<_> = o
            .facts
            .iter()
            .map(|f| json!({"key": f.key, "source": f.source, "fetched_at": f.fetched_at, "value_sha256": sha256_hex(serde_json::to_string(&f.value).unwrap_or_default().as_bytes())}))
            .collect();
        out.push(tag(NewEntry::new("facts.used", m, json!({ "facts": facts }))));
    }
    if let Some(d) = &o.draft {
        let llm = d.llm.as_ref().map(|l| json!({"model": l.model, "prompt": l.prompt}));
        out.push(tag(NewEntry::new(
            "reply.drafted",
            m,
            json!({"template": d.template, "body_sha256": sha256_hex(d.body.as_bytes()), "attachments": d.attachments.len(), "llm": llm}),
        )));
    }
    if !o.claims.is_empty() {
        let claims: Vec<_> = o.claims.iter().map(|c| json!({"kind": c.kind.as_str(), "matched": c.matched, "text_sha256": sha256_hex(c.text.as_bytes())})).collect();
        let unverified = o.claims.iter().filter(|c| c.matched.is_none()).count();
        out.push(tag(NewEntry::new("reply.checked", m, json!({"claims": claims, "unverified": unverified}))));
    }
    let reasons: Vec<_> = o.reasons.iter().map(|r| json!({"code": r.code.as_str(), "detail_sha256": sha256_hex(r.detail.as_bytes())})).collect();
    let outgoing: Vec<_> = o.outgoing.iter().map(|x| json!({"kind": x.kind.as_str(), "id": x.message_id.as_str(), "sha256": sha256_hex(&x.raw)})).collect();
    out.push(tag(NewEntry::new(
        "message.decided",
        m,
        json!({"decision": o.decision.as_str(), "reasons": reasons, "policy_version": o.policy_version, "outgoing": outgoing}),
    )));
    Ok(out)
}

/// A message stored from a channel.
pub fn received(message: i64, channel: &str, raw: &[u8], stored_len: u64) -> NewEntry {
    let mut e = NewEntry::new("message.received", Some(message), json!({"raw_sha256": sha256_hex(raw), "bytes": stored_len.max(raw.len() as u64)}));
    e.mailbox = Some(channel.to_string());
    e
}

/// A message that kept failing, quarantined.
pub fn quarantined(message: i64, channel: &str, attempts: i64, error: &str) -> NewEntry {
    let mut e = NewEntry::new("message.quarantined", Some(message), json!({"attempts": attempts, "error_sha256": sha256_hex(error.as_bytes())}));
    e.mailbox = Some(channel.to_string());
    e.decision = Some("quarantine".into());
    e
}

/// An outbox row handed to its channel.
pub fn sent(message: i64, outbox: i64, channel: &str, kind: &str, rfc_message_id: &str, raw: &[u8]) -> NewEntry {
    let mut e = NewEntry::new(
        "message.sent",
        Some(message),
        json!({"outbox": outbox, "kind": kind, "id": rfc_message_id, "sha256": sha256_hex(raw)}),
    );
    e.mailbox = Some(channel.to_string());
    e
}
