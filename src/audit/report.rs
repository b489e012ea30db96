//! `audit report --message ID`: one case told to a compliance reviewer. Every entry of the
//! message, and of the other messages of the same customer (the conversation), in order and
//! in plain words; beside them what the database still holds — the message, the decision's
//! reasons, the draft, what was sent — each checked against the hash the trail recorded, or
//! marked erased; and the chain checked for those entries up to the nearest signed head.

use crate::text::error_chain as chain;
use std::collections::{BTreeSet, HashMap};

use mail_parser::MessageParser;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::sign::{self, Head};
use super::verify::Walk;
use super::{Entry, GENESIS, Pages, entry_from_row, sha256_hex};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the audit trail has no entry for message {0}: check the id (`switchyard run --json` prints it as store_id)")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot render the report template: {0}")]
    Template(String),
}

/// Everything the page shows.
#[derive(Debug, Serialize)]
pub struct Case {
    pub message: i64,
    pub generated_at: String,
    /// The customer's pseudonym, when the trail names one.
    pub subject: Option<String>,
    pub messages: Vec<MessageView>,
    pub timeline: Vec<Line>,
    pub chain: Chain,
}

impl Case {
    /// One line for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "message {}: {} entries over {} messages of this customer; chain {}",
            self.message,
            self.timeline.len(),
            self.messages.len(),
            if self.chain.intact { "intact" } else { "NOT intact" }
        )
    }
}

/// One entry, told.
#[derive(Debug, Serialize)]
pub struct Line {
    pub seq: i64,
    pub at: String,
    pub message: Option<i64>,
    /// Of the case's own message (the others are its conversation).
    pub own: bool,
    pub actor: String,
    pub kind: String,
    pub text: String,
    pub hash: String,
    /// The entry re-hashes to its hash, and its prev_hash is the hash of the entry before.
    pub hash_ok: bool,
    pub link_ok: bool,
}

#[derive(Debug, Serialize)]
pub struct Chain {
    pub intact: bool,
    pub verdict: String,
    pub first_seq: i64,
    pub last_seq: i64,
    /// Entries walked: from the one before the first of the case to the head that pins it.
    pub walked: u64,
    pub head: Option<HeadView>,
    pub public_key: String,
}

#[derive(Debug, Serialize)]
pub struct HeadView {
    pub seq: i64,
    pub signed_at: String,
    pub hash: String,
    pub signature_valid: bool,
}

/// What the database holds of one message.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub own: bool,
    pub received_at: Option<String>,
    pub channel: Option<String>,
    pub from: Held,
    pub subject: Held,
    /// The stored message (its text shown), checked against `message.received`'s hash.
    pub text: Held,
    pub decision: Option<String>,
    pub reasons: Vec<ReasonView>,
    pub draft: Held,
    pub approval: Option<String>,
    pub approved_text: Held,
    pub outgoing: Vec<OutgoingView>,
}

#[derive(Debug, Serialize)]
pub struct ReasonView {
    pub code: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct OutgoingView {
    pub kind: String,
    pub id: String,
    pub state: String,
    pub sent_at: Option<String>,
    pub text: Held,
}

/// A piece of data the database holds, or held until it was erased, and whether it is still
/// what the trail recorded.
#[derive(Debug, Serialize)]
pub struct Held {
    /// `held`, `erased` (the trail shows it existed) or `none` (there never was one).
    pub state: &'static str,
    pub value: Option<String>,
    /// A sentence on the check against the trail's hash, when the trail recorded one.
    pub trail: Option<String>,
    pub trail_ok: Option<bool>,
}

impl Held {
    fn of(value: Option<String>, existed: bool) -> Self {
        let state = match &value {
            Some(v) if !v.is_empty() => "held",
            _ if existed => "erased",
            _ => "none",
        };
        Self { state, value: value.filter(|v| !v.is_empty()), trail: None, trail_ok: None }
    }

    /// Compares `bytes` (what the database holds) with the hash entry `seq` recorded.
    fn checked(mut self, bytes: Option<&[u8]>, recorded: Option<(&str, i64)>) -> Self {
        if let (Some(bytes), Some((sha, seq))) = (bytes.filter(|b| !b.is_empty()), recorded) {
            let ok = sha256_hex(bytes) == sha;
            self.trail_ok = Some(ok);
            self.trail = Some(if ok {
                format!("matches the SHA-256 recorded at entry {seq}")
            } else {
                format!("does NOT match the SHA-256 recorded at entry {seq}: it was changed after it was recorded")
            });
        }
        self
    }
}

/// Gathers the case of `message`, checking signatures against `public_key`.
pub async fn build(conn: &mut SqliteConnection, message: i64, public_key: &str) -> Result<Case, ReportError> {
    let own = entries_of(conn, message).await?;
    if own.is_empty() {
        return Err(ReportError::NotFound(message));
    }
    let subject = own.iter().find_map(|e| e.subject.clone());
    let mut ids: BTreeSet<i64> = BTreeSet::from([message]);
    if let Some(s) = &subject {
        let others: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT message FROM audit_log WHERE subject = ? AND message IS NOT NULL")
            .bind(s)
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        ids.extend(others);
    }
    let mut entries = Vec::new();
    let mut messages = Vec::new();
    for &id in &ids {
        let of = if id == message { own.clone() } else { entries_of(conn, id).await? };
        messages.push(message_view(conn, id, id == message, &of).await?);
        entries.extend(of);
    }
    entries.sort_by_key(|e| e.seq);
    let (chain, checks) = check_chain(conn, &entries, public_key).await?;
    let timeline = entries.iter().map(|e| line(e, message, checks.get(&e.seq).copied().unwrap_or_default())).collect();
    Ok(Case { message, generated_at: super::timestamp(chrono::Utc::now()), subject, messages, timeline, chain })
}

async fn entries_of(conn: &mut SqliteConnection, message: i64) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash
         FROM audit_log WHERE message = ? ORDER BY seq",
    )
    .bind(message)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(entry_from_row).collect())
}

/// Walks the chain from the entry before the case's first to the signed head at or after its
/// last (or to its last, when no head covers it yet), so every entry shown is linked to a
/// signature. Returns the verdict and, per entry of the case, (re-hashes, links).
async fn check_chain(conn: &mut SqliteConnection, entries: &[Entry], public_key: &str) -> Result<(Chain, HashMap<i64, (bool, bool)>), StoreError> {
    let wanted: BTreeSet<i64> = entries.iter().map(|e| e.seq).collect();
    let (first, last) = (entries[0].seq, entries[entries.len() - 1].seq);
    let heads = sign::heads(conn).await?;
    let head = heads.iter().find(|h| h.seq >= last).cloned();
    let until = head.as_ref().map_or(last, |h| h.seq);
    let within: Vec<Head> = heads.into_iter().filter(|h| h.seq >= first && h.seq <= until).collect();
    let (mut walk, mut prev_hash) = start(conn, first, &within).await?;
    let mut checks = HashMap::new();
    let mut pages = Pages::new(first - 1, until);
    loop {
        let page = pages.next(conn).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if wanted.contains(&e.seq) {
                checks.insert(e.seq, (e.compute_hash() == e.hash, e.prev_hash == prev_hash));
            }
            prev_hash.clone_from(&e.hash);
            walk.entry(e);
        }
    }
    let signature = head.as_ref().map(|h| h.signature_valid(public_key));
    let report = walk.finish(within.len()).with(super::verify::check_signatures(&within, public_key));
    let chain = Chain {
        intact: report.intact(),
        verdict: verdict(&report, head.as_ref(), signature, first, until),
        first_seq: first,
        last_seq: last,
        walked: report.entries,
        head: head.map(|h| HeadView { seq: h.seq, signed_at: h.signed_at, hash: h.hash, signature_valid: signature.unwrap_or(false) }),
        public_key: public_key.to_string(),
    };
    Ok((chain, checks))
}

/// The walk starts after the entry before the case's first, itself re-hashed: a changed
/// predecessor would otherwise lend the case a link it does not have.
async fn start(conn: &mut SqliteConnection, first: i64, heads: &[Head]) -> Result<(Walk, String), StoreError> {
    if first <= 1 {
        return Ok((Walk::new(heads), GENESIS.to_string()));
    }
    let row = sqlx::query(
        "SELECT seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash FROM audit_log WHERE seq = ?",
    )
    .bind(first - 1)
    .fetch_optional(&mut *conn)
    .await?;
    let before = row.as_ref().map(entry_from_row);
    let hash = match &before {
        Some(b) if b.compute_hash() == b.hash => b.hash.clone(),
        // Missing or changed: start from nothing, so the first link fails and is named.
        _ => String::new(),
    };
    Ok((Walk::starting_after(first - 1, &hash, heads), hash))
}

fn verdict(report: &super::verify::Report, head: Option<&Head>, signature: Option<bool>, first: i64, until: i64) -> String {
    if let Some(p) = &report.problem {
        return format!("NOT intact: first bad entry {}: {}", p.seq, p.what);
    }
    let walked = format!("entries {first} to {until} re-hashed and linked ({} entries)", report.entries);
    match (head, signature) {
        (Some(h), Some(true)) => format!("intact: {walked}, up to the head signed at {} at entry {}, whose signature is valid", h.signed_at, h.seq),
        _ => format!(
            "intact as far as the chain goes: {walked}; no signed head covers entry {until} yet, so nothing pins them to a signature (`switchyard audit sign` signs the head now)"
        ),
    }
}

fn line(e: &Entry, message: i64, (hash_ok, link_ok): (bool, bool)) -> Line {
    Line {
        seq: e.seq,
        at: when(&e.at),
        message: e.message,
        own: e.message == Some(message),
        actor: e.actor.clone(),
        kind: e.kind.clone(),
        text: describe(e),
        hash: e.hash.clone(),
        hash_ok,
        link_ok,
    }
}

/// A stored time as people read it, to the second (UTC, as the page says).
fn when(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at).map(|t| t.to_utc().format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|_| at.to_string())
}

/// What an entry says, in a sentence. Unknown kinds show their data as recorded (which holds
/// codes and hashes only).
pub fn describe(e: &Entry) -> String {
    let d: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    let n = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
    match e.kind.as_str() {
        "message.received" => format!("Received via {} ({} bytes, SHA-256 {}…)", e.mailbox.as_deref().unwrap_or("?"), n("bytes"), short(&s("raw_sha256"))),
        "message.classified" => classified(&d),
        "customer.identified" => match d.get("verified").and_then(Value::as_bool) {
            Some(true) => format!("Sender identified as a verified customer (sender pseudonym {})", s("sender")),
            _ => format!("Sender not matched to a customer account: unverified, no account data used (sender pseudonym {})", s("sender")),
        },
        "facts.used" => facts(&d),
        "reply.drafted" => drafted(&d),
        "reply.checked" => checked(&d),
        "message.decided" => decided(&d),
        "message.sent" => format!("Sent {} {} (outbox {})", s("kind"), s("id"), n("outbox")),
        "message.quarantined" => format!("Quarantined after {} failed attempts", n("attempts")),
        "draft.approved" => approved(e, &d),
        "draft.rejected" => format!("Rejected by {}{}{}", e.actor, via(&d), if d.get("reason_sha256").is_some() { ", with a reason (kept in the queue's records)" } else { "" }),
        "draft.resolved" => resolved(e, &d),
        "draft.edited" => format!("Edit saved by {}{} ({} characters)", e.actor, via(&d), n("chars")),
        "item.escalated" => format!("Escalated by {}{}", e.actor, via(&d)),
        "item.reassigned" => format!("Reassigned to {} by {}{}", d.get("to").and_then(Value::as_str).unwrap_or("nobody"), e.actor, via(&d)),
        "message.corrected" => corrected(e, &d),
        "config.changed" => format!("Configuration in force changed (fingerprint {}…, policy {})", short(&s("fingerprint")), s("policy_version")),
        _ => format!("{}: {}", e.kind, e.data),
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

fn via(d: &Value) -> String {
    d.get("via").and_then(Value::as_str).map(|v| format!(" via {v}")).unwrap_or_default()
}

fn classified(d: &Value) -> String {
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("?");
    let confidence = d.get("confidence").and_then(Value::as_f64).map(|c| format!("confidence {c:.2}, ")).unwrap_or_default();
    let mut out = format!("Classified as {} / {} in {} ({confidence}model {}", s("intent"), s("urgency"), s("language"), s("model"));
    if let Some(llm) = d.get("llm").filter(|l| !l.is_null()) {
        let l = |k: &str| llm.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        out.push_str(&format!("; LLM {} with prompt {}: {}", l("model"), l("prompt"), l("outcome")));
    }
    out.push_str(&format!("; the {} reading stands)", s("decided_by")));
    out
}

fn facts(d: &Value) -> String {
    let facts = d.get("facts").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut sources: Vec<String> = facts.iter().filter_map(|f| f.get("source").and_then(Value::as_str).map(String::from)).collect();
    sources.dedup();
    let keys: Vec<&str> = facts.iter().filter_map(|f| f.get("key").and_then(Value::as_str)).collect();
    format!("Used {} facts from {}: {}", facts.len(), sources.join(", "), keys.join(", "))
}

fn drafted(d: &Value) -> String {
    let attachments = d.get("attachments").and_then(Value::as_u64).unwrap_or(0);
    let with = if attachments > 0 { format!(", {attachments} attachment(s)") } else { String::new() };
    match d.get("llm").filter(|l| !l.is_null()) {
        Some(llm) => format!(
            "Reply drafted by LLM {} with prompt {} (template {}){with}",
            llm.get("model").and_then(Value::as_str).unwrap_or("?"),
            llm.get("prompt").and_then(Value::as_str).unwrap_or("?"),
            d.get("template").and_then(Value::as_str).unwrap_or("?")
        ),
        None => format!("Reply drafted from template {}{with}", d.get("template").and_then(Value::as_str).unwrap_or("?")),
    }
}

fn checked(d: &Value) -> String {
    let claims = d.get("claims").and_then(Value::as_array).cloned().unwrap_or_default();
    let unverified: Vec<&str> = claims.iter().filter(|c| c.get("matched").is_none_or(Value::is_null)).filter_map(|c| c.get("kind").and_then(Value::as_str)).collect();
    if unverified.is_empty() {
        format!("Fact-checked {} claims: every one matched a fact or the allowlist", claims.len())
    } else {
        format!("Fact-checked {} claims: {} unverified ({})", claims.len(), unverified.len(), unverified.join(", "))
    }
}

fn decided(d: &Value) -> String {
    let codes: Vec<&str> = d.get("reasons").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.get("code").and_then(Value::as_str)).collect();
    let outgoing: Vec<String> = d
        .get("outgoing")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| format!("{} {}", o.get("kind").and_then(Value::as_str).unwrap_or("?"), o.get("id").and_then(Value::as_str).unwrap_or("?")))
        .collect();
    let mut out = format!(
        "Decided: {} because {} (policy {})",
        d.get("decision").and_then(Value::as_str).unwrap_or("?"),
        if codes.is_empty() { "(no reasons recorded)".to_string() } else { codes.join(", ") },
        d.get("policy_version").and_then(Value::as_str).unwrap_or("?")
    );
    if !outgoing.is_empty() {
        out.push_str(&format!("; queued {}", outgoing.join(", ")));
    }
    out
}

fn approved(e: &Entry, d: &Value) -> String {
    let mut out = format!("Approved by {}{}", e.actor, via(d));
    if d.get("state").and_then(Value::as_str) == Some("approved_edited") {
        out.push_str(", edited");
    }
    let unverified = d.get("unverified_claims").and_then(Value::as_i64).unwrap_or(0);
    if unverified > 0 {
        let overridden = d.get("override_reason_sha256").is_some_and(|v| !v.is_null());
        out.push_str(&format!(", {unverified} unverified claim{} sent{}", if unverified == 1 { "" } else { "s" }, if overridden { " with an override" } else { "" }));
    }
    if let Some(reply) = d.get("reply").and_then(Value::as_str) {
        out.push_str(&format!("; reply {reply}"));
    }
    out
}

fn resolved(e: &Entry, d: &Value) -> String {
    let state = d.get("state").and_then(Value::as_str).unwrap_or("?");
    let what = match state {
        "sent" => "Draft sent unchanged from the mailbox",
        "sent_edited" => "Draft edited and sent from the mailbox",
        "answered_without_draft" => "Answered from the mailbox without the draft",
        "discarded" => "Draft discarded in the mailbox",
        _ => "Draft resolved in the mailbox",
    };
    format!("{what} by {}", e.actor)
}

fn corrected(e: &Entry, d: &Value) -> String {
    let axes: Vec<String> = ["intent", "urgency"]
        .iter()
        .filter_map(|k| d.get(*k).and_then(Value::as_str).map(|v| format!("{k} → {v}")))
        .collect();
    format!("Classification corrected by {}{}: {}", e.actor, via(d), axes.join(", "))
}

/// What the database holds of message `id`, checked against the hashes in its entries.
async fn message_view(conn: &mut SqliteConnection, id: i64, own: bool, entries: &[Entry]) -> Result<MessageView, StoreError> {
    let recorded = |kind: &str, key: &str| -> Option<(String, i64)> {
        entries.iter().filter(|e| e.kind == kind).find_map(|e| data(e).get(key).and_then(Value::as_str).map(|h| (h.to_string(), e.seq)))
    };
    let received = recorded("message.received", "raw_sha256");
    let row = sqlx::query("SELECT channel, raw, received_at FROM messages WHERE id = ?").bind(id).fetch_optional(&mut *conn).await?;
    let raw: Option<Vec<u8>> = row.as_ref().map(|r| r.get("raw"));
    let parsed = raw.as_deref().and_then(|r| MessageParser::default().parse(r));
    let existed = received.is_some() || row.is_some();
    let from = parsed.as_ref().and_then(|m| m.from()).and_then(|a| a.first()).map(|a| match (a.name(), a.address()) {
        (Some(n), Some(addr)) => format!("{n} <{addr}>"),
        (_, addr) => addr.unwrap_or_default().to_string(),
    });
    let text = Held::of(parsed.as_ref().map(|m| m.body_text(0).unwrap_or_default().into_owned()), existed)
        .checked(raw.as_deref(), received.as_ref().map(|(h, s)| (h.as_str(), *s)));
    let (decision, reasons, draft) = decision_view(conn, id, entries).await?;
    let (approval, approved_text) = approval_view(conn, id, entries).await?;
    Ok(MessageView {
        id,
        own,
        received_at: row.as_ref().map(|r| when(&r.get::<String, _>("received_at"))),
        channel: row.as_ref().map(|r| r.get("channel")),
        from: Held::of(from, existed),
        subject: Held::of(parsed.as_ref().map(|m| m.subject().unwrap_or("(no subject)").to_string()), existed),
        text,
        decision,
        reasons,
        draft,
        approval,
        approved_text,
        outgoing: outgoing_views(conn, id, entries).await?,
    })
}

fn data(e: &Entry) -> Value {
    serde_json::from_str(&e.data).unwrap_or(Value::Null)
}

async fn decision_view(conn: &mut SqliteConnection, id: i64, entries: &[Entry]) -> Result<(Option<String>, Vec<ReasonView>, Held), StoreError> {
    let row = sqlx::query("SELECT decision, reasons, draft_body FROM decisions WHERE message = ?").bind(id).fetch_optional(&mut *conn).await?;
    let drafted = entries.iter().find(|e| e.kind == "reply.drafted");
    let recorded = drafted.and_then(|e| data(e).get("body_sha256").and_then(Value::as_str).map(|h| (h.to_string(), e.seq)));
    let Some(row) = row else { return Ok((None, Vec::new(), Held::of(None, drafted.is_some()))) };
    let reasons: Vec<Value> = serde_json::from_str(&row.get::<String, _>("reasons")).unwrap_or_default();
    let reasons = reasons
        .iter()
        .map(|r| ReasonView {
            code: r.get("code").and_then(Value::as_str).unwrap_or("?").to_string(),
            detail: match r.get("detail").and_then(Value::as_str) {
                Some(d) if !d.is_empty() => d.to_string(),
                _ => "(detail erased)".to_string(),
            },
        })
        .collect();
    let body: Option<String> = row.get("draft_body");
    let draft = Held::of(body.clone(), drafted.is_some()).checked(body.as_deref().map(str::as_bytes), recorded.as_ref().map(|(h, s)| (h.as_str(), *s)));
    Ok((Some(row.get("decision")), reasons, draft))
}

async fn approval_view(conn: &mut SqliteConnection, id: i64, entries: &[Entry]) -> Result<(Option<String>, Held), StoreError> {
    let row = sqlx::query("SELECT state, sent_by, resolved_via, sent_text FROM approvals WHERE message = ?").bind(id).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok((None, Held::of(None, false))) };
    let state: String = row.get("state");
    let by: Option<String> = row.get("sent_by");
    let via: Option<String> = row.get("resolved_via");
    let mut summary = state.replace('_', " ");
    if let Some(by) = by {
        summary.push_str(&format!(" by {by}"));
    }
    if let Some(via) = via {
        summary.push_str(&format!(" via {via}"));
    }
    let resolved = entries.iter().filter(|e| e.kind == "draft.resolved").find_map(|e| data(e).get("text_sha256").and_then(Value::as_str).map(|h| (h.to_string(), e.seq)));
    let text: Option<String> = row.get("sent_text");
    let sent = !matches!(state.as_str(), "waiting" | "rejected" | "discarded");
    let held = Held::of(text.clone(), sent).checked(text.as_deref().map(str::as_bytes), resolved.as_ref().map(|(h, s)| (h.as_str(), *s)));
    Ok((Some(summary), held))
}

async fn outgoing_views(conn: &mut SqliteConnection, id: i64, entries: &[Entry]) -> Result<Vec<OutgoingView>, StoreError> {
    let rows = sqlx::query("SELECT id, kind, rfc_message_id, raw, state, sent_at FROM outbox WHERE message = ? ORDER BY id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let sent: HashMap<i64, (String, i64)> = entries
        .iter()
        .filter(|e| e.kind == "message.sent")
        .filter_map(|e| {
            let d = data(e);
            Some((d.get("outbox")?.as_i64()?, (d.get("sha256")?.as_str()?.to_string(), e.seq)))
        })
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let raw: Vec<u8> = r.get("raw");
            let text = MessageParser::default().parse(&raw).map(|m| m.body_text(0).unwrap_or_default().into_owned());
            let recorded = sent.get(&r.get::<i64, _>("id"));
            OutgoingView {
                kind: r.get("kind"),
                id: r.get("rfc_message_id"),
                state: r.get("state"),
                sent_at: r.get::<Option<String>, _>("sent_at").map(|t| when(&t)),
                text: Held::of(text, true).checked(Some(&raw), recorded.map(|(h, s)| (h.as_str(), *s))),
            }
        })
        .collect())
}

/// The page, from `templates/audit/report.html` (compiled in, autoescaped).
pub fn render(case: &Case) -> Result<String, ReportError> {
    const NAME: &str = "audit/report.html";
    let source = crate::embedded::TEMPLATES
        .iter()
        .find(|(name, _)| *name == NAME)
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .ok_or_else(|| ReportError::Template(format!("{NAME} is not compiled in")))?;
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_template(NAME, &source).map_err(|e| ReportError::Template(chain(&e)))?;
    let context = tera::Context::from_serialize(case).map_err(|e| ReportError::Template(chain(&e)))?;
    tera.render(NAME, &context).map_err(|e| ReportError::Template(chain(&e)))
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_trail::build;
    use crate::audit::{NewEntry, append};

    #[tokio::test]
    async fn a_case_tells_the_conversation_and_checks_its_chain() {
        let t = build(20).await;
        // Data that looks like markup is shown, never run.
        let mut tx = t.store.pool.begin().await.unwrap();
        let odd = NewEntry::new("x.custom", Some(4), serde_json::json!({"note": "<script>alert(1)</script>"}));
        append(&mut tx, &[odd], chrono::Utc::now()).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = t.store.pool.acquire().await.unwrap();
        let case = build_case(&mut conn, 4, &t.public_key()).await;
        assert_eq!(case.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![4, 9, 14, 19], "the customer's messages");
        assert!(case.chain.intact, "{}", case.chain.verdict);
        assert!(case.timeline.iter().all(|l| l.hash_ok && l.link_ok));
        assert!(case.timeline.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
        assert_eq!(case.messages[0].text.state, "erased", "the trail shows a message the database no longer holds");
        let html = render(&case).unwrap();
        assert!(html.contains("Approved by sara via web; reply r.4@x.example"), "{html}");
        assert!(html.contains("Classified as payment &#x2F; normal in it (confidence 0.93, model linear-test"), "{html}");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script"), "escaped");

        let seq = case.timeline.iter().find(|l| l.kind == "draft.approved").unwrap().seq;
        sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?").bind(seq).execute(&mut *conn).await.unwrap();
        let case = build_case(&mut conn, 4, &t.public_key()).await;
        assert!(!case.chain.intact);
        assert!(case.chain.verdict.contains(&format!("first bad entry {seq}")), "{}", case.chain.verdict);
        assert!(!case.timeline.iter().find(|l| l.seq == seq).unwrap().hash_ok);
    }

    async fn build_case(conn: &mut SqliteConnection, message: i64, key: &str) -> Case {
        super::build(conn, message, key).await.unwrap()
    }

    #[tokio::test]
    async fn an_unknown_message_is_an_error_that_says_what_to_do() {
        let t = build(2).await;
        let mut conn = t.store.pool.acquire().await.unwrap();
        let err = super::build(&mut conn, 999, &t.public_key()).await.unwrap_err();
        assert!(err.to_string().contains("no entry for message 999"), "{err}");
    }
}
