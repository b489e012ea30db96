//! A real SQLite store with a trail appended through [`super::append`], for the tests of
//! verification, export and reports.

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::sign::{Head, Signer, sign_head};
use super::{Entry, NewEntry, SubjectKind, pseudonym};
use crate::store::sqlite::SqliteStore;

pub struct Trail {
    pub store: SqliteStore,
    pub signer: Signer,
    /// The last entry's seq.
    pub last: i64,
    /// Signed heads: one after half of the messages, one at the end.
    pub heads: Vec<Head>,
}

/// The customer of message `m` (five customers share the messages).
pub fn account(m: i64) -> String {
    format!("4000000{}", m % 5)
}

pub fn intent(m: i64) -> &'static str {
    ["billing", "payment", "outage"][m as usize % 3]
}

/// `messages` stories of 7 or 8 entries each (every fourth approved by `sara`), one
/// transaction per message, on 2026-11-20 from 08:00, a minute apart.
pub async fn build(messages: i64) -> Trail {
    let store = SqliteStore::open(&crate::testing::temp_dir("audit-trail").join("t.db")).await.unwrap();
    let (signer, _) = Signer::generate();
    let mut heads = Vec::new();
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    for m in 1..=messages {
        let mut tx = store.pool.begin().await.unwrap();
        let subject = pseudonym(&mut tx, SubjectKind::Account, &account(m)).await.unwrap();
        let entries = story(m, &subject);
        super::append(&mut tx, &entries, start + Duration::minutes(m)).await.unwrap();
        tx.commit().await.unwrap();
        if m == messages / 2 || m == messages {
            let mut conn = store.pool.acquire().await.unwrap();
            heads.push(sign_head(&mut conn, &signer).await.unwrap().expect("new entries to sign"));
        }
    }
    let last = heads.last().map_or(0, |h| h.seq);
    Trail { store, signer, last, heads }
}

fn story(m: i64, subject: &str) -> Vec<NewEntry> {
    let tag = |mut e: NewEntry| {
        e.subject = Some(subject.to_string());
        e.mailbox = Some(if m % 2 == 0 { "imap:INBOX" } else { "maildir:inbox" }.into());
        e.intent = Some(intent(m).into());
        e.decision = Some(if m % 4 == 0 { "approve" } else { "auto_send" }.into());
        e
    };
    let h = |what: &str| super::sha256_hex(format!("{what}{m}").as_bytes());
    let mut received = NewEntry::new("message.received", Some(m), json!({"raw_sha256": h("raw"), "bytes": 900 + m}));
    received.mailbox = Some("maildir:inbox".into());
    let mut out = vec![
        received,
        tag(NewEntry::new("message.classified", Some(m), json!({"intent": intent(m), "urgency": "normal", "language": "it", "confidence": 0.93, "model": "linear-test", "decided_by": "local", "llm": null}))),
        tag(NewEntry::new("customer.identified", Some(m), json!({"verified": true, "sender": h("sender")}))),
        tag(NewEntry::new("facts.used", Some(m), json!({"facts": [{"key": "balance", "source": "cis.demo", "fetched_at": "2026-11-20T08:00:00Z", "value_sha256": h("balance")}]}))),
        tag(NewEntry::new("reply.drafted", Some(m), json!({"template": "replies/billing.it.txt", "body_sha256": h("body"), "attachments": 0, "llm": null}))),
        tag(NewEntry::new("message.decided", Some(m), json!({"decision": "auto_send", "reasons": [{"code": "claims_verified", "detail_sha256": h("r")}], "policy_version": "t", "outgoing": []}))),
    ];
    if m % 4 == 0 {
        out.push(NewEntry::new("draft.approved", Some(m), json!({"state": "approved", "unverified_claims": 0, "reply": format!("r.{m}@x.example"), "via": "web"})).by("sara"));
    }
    out.push(NewEntry::new("message.sent", Some(m), json!({"outbox": m, "kind": "reply", "id": format!("r.{m}@x.example"), "sha256": h("out")})));
    out
}

impl Trail {
    pub async fn exec(&self, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&self.store.pool).await.unwrap();
    }

    pub async fn entry(&self, seq: i64) -> Entry {
        let mut conn = self.store.pool.acquire().await.unwrap();
        let mut pages = super::Pages::new(seq - 1, seq);
        pages.next(&mut conn).await.unwrap().pop().expect("the entry exists")
    }

    /// Stores `e` over whatever entry has its seq, every column.
    pub async fn put(&self, e: &Entry) {
        sqlx::query(
            "INSERT OR REPLACE INTO audit_log (seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.seq)
        .bind(&e.at)
        .bind(&e.kind)
        .bind(e.message)
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(&e.mailbox)
        .bind(&e.intent)
        .bind(&e.decision)
        .bind(&e.data)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&self.store.pool)
        .await
        .unwrap();
    }

    pub fn public_key(&self) -> String {
        self.signer.public_hex().to_string()
    }

    pub async fn verify(&self) -> super::verify::Report {
        self.store.verify_audit(self.signer.public_hex()).await.unwrap()
    }
}
