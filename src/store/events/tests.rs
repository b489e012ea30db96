use super::*;
use crate::domain::{Intent, Language, MessageId, Reason, ReasonCode, Urgency};
use crate::pipeline::act::{Outgoing, OutgoingKind};
use crate::store::{NewMessage, Store};
use crate::testing::{email, temp_dir};

pub(crate) const SENDER: &str = "giulia.rossi@posta.example";

pub(crate) async fn store(name: &str) -> SqliteStore {
    SqliteStore::open(&temp_dir(name).join("s.db")).await.unwrap()
}

/// Stores `n` messages and returns their ids.
pub(crate) async fn messages(s: &SqliteStore, n: usize) -> Vec<i64> {
    let raws: Vec<String> = (0..n).map(|i| format!("From: {SENDER}\r\n\r\nmessage {i}")).collect();
    let refs: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let new: Vec<NewMessage> = raws
        .iter()
        .zip(&refs)
        .map(|(raw, r)| NewMessage { channel: "test", channel_ref: r, raw: raw.as_bytes(), stored_len: raw.len() as u64 })
        .collect();
    s.ingest(&new, None).await.unwrap();
    s.pending(n as u32).await.unwrap().iter().map(|m| m.id).collect()
}

fn outgoing(kind: OutgoingKind, mid: &str) -> Outgoing {
    Outgoing { kind, message_id: MessageId::parse(mid).unwrap(), recipient: email(SENDER), raw: b"raw".to_vec() }
}

/// A decision as the pipeline makes it, full of personal data the events must not carry.
pub(crate) fn outcome(message: i64, decision: Decision, outgoing: Vec<Outgoing>) -> Outcome {
    Outcome {
        message,
        channel: "test".into(),
        source: "test/1".into(),
        message_id: Some(format!("m{message}@posta.example")),
        from: Some(SENDER.into()),
        subject: Some("Bolletta di Giulia Rossi".into()),
        customer: Some("40000001".into()),
        language: Some(Language::It),
        intent: Some(Intent::Billing),
        urgency: Some(Urgency::Normal),
        confidence: Some(0.9),
        decision,
        reasons: vec![Reason::new(ReasonCode::CustomerVerified, format!("sender is {SENDER}, account 40000001"))],
        policy_version: "p1".into(),
        model: None,
        decided_by: None,
        llm: None,
        facts: Vec::new(),
        claims: Vec::new(),
        draft: None,
        outgoing,
    }
}

async fn events(s: &SqliteStore) -> Vec<(String, i64, serde_json::Value)> {
    sqlx::query_as::<_, (String, i64, String)>("SELECT kind, message, payload FROM events ORDER BY id")
        .fetch_all(&s.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, m, p)| (k, m, serde_json::from_str(&p).unwrap()))
        .collect()
}

#[tokio::test]
async fn record_writes_a_triaged_event_per_decision_and_pending_ones_for_people() {
    let s = store("events-record").await;
    let ids = messages(&s, 3).await;
    s.record(&[
        outcome(ids[0], Decision::AutoSend, vec![outgoing(OutgoingKind::Reply, "r0@x")]),
        outcome(ids[1], Decision::Approve, vec![outgoing(OutgoingKind::Draft, "d1@x")]),
        outcome(ids[2], Decision::Escalate, vec![outgoing(OutgoingKind::Reply, "r2@x"), outgoing(OutgoingKind::Alert, "a2@x")]),
    ])
    .await
    .unwrap();
    let got = events(&s).await;
    let kinds: Vec<(&str, i64)> = got.iter().map(|(k, m, _)| (k.as_str(), *m)).collect();
    assert_eq!(
        kinds,
        [
            ("message.triaged", ids[0]),
            ("message.triaged", ids[1]),
            ("draft.pending", ids[1]),
            ("message.triaged", ids[2]),
            ("draft.pending", ids[2]),
        ]
    );
    assert_eq!(
        got[1].2,
        serde_json::json!({"message": ids[1], "channel": "test", "intent": "billing", "urgency": "normal", "language": "it",
                           "decision": "approve", "reasons": ["customer_verified"], "policy_version": "p1"})
    );
    let text = serde_json::to_string(&got).unwrap();
    for personal in [SENDER, "40000001", "posta.example"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
}

#[tokio::test]
async fn events_roll_back_with_the_decision() {
    let s = store("events-rollback").await;
    let ids = messages(&s, 1).await;
    // The last statement of record fails, after the events were written.
    sqlx::query("CREATE TRIGGER poison BEFORE UPDATE OF state ON messages BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
        .execute(&s.pool)
        .await
        .unwrap();
    assert!(s.record(&[outcome(ids[0], Decision::Approve, Vec::new())]).await.is_err());
    assert!(events(&s).await.is_empty(), "no event without its decision");
    assert_eq!(s.counts().await.unwrap().decisions, 0);
}

#[tokio::test]
async fn reply_sent_is_written_once_and_only_for_replies() {
    let s = store("events-sent").await;
    let ids = messages(&s, 2).await;
    let items = s
        .record(&[
            outcome(ids[0], Decision::Escalate, vec![outgoing(OutgoingKind::Reply, "r0@x"), outgoing(OutgoingKind::Alert, "a0@x")]),
            outcome(ids[1], Decision::Approve, vec![outgoing(OutgoingKind::Draft, "d1@x"), outgoing(OutgoingKind::Note, "n1@x")]),
        ])
        .await
        .unwrap();
    let all: Vec<i64> = items.iter().map(|i| i.id).collect();
    let at = Utc::now();
    s.mark_sent(&all, at).await.unwrap();
    s.mark_sent(&all, at).await.unwrap();
    let sent: Vec<_> = events(&s).await.into_iter().filter(|(k, ..)| k == "reply.sent").collect();
    let reply = items.iter().find(|i| i.kind == OutgoingKind::Reply).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].2,
        serde_json::json!({"message": ids[0], "outbox": reply.id, "channel": "test",
                           "sent_at": at.to_rfc3339_opts(SecondsFormat::Millis, true)})
    );
}

#[tokio::test]
async fn a_message_quarantined_after_failures_is_reported_triaged() {
    let s = store("events-quarantine").await;
    let ids = messages(&s, 1).await;
    assert!(s.record_failure(ids[0], "boom", 1).await.unwrap());
    let got = events(&s).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "message.triaged");
    assert_eq!(got[0].2["decision"], "quarantine");
    assert_eq!(got[0].2["reasons"], serde_json::json!(["processing_failed"]));
}

#[tokio::test]
async fn emit_from_another_transaction_commits_or_rolls_back_with_it() {
    let s = store("events-emit").await;
    let ids = messages(&s, 1).await;
    let mut tx = s.pool.begin().await.unwrap();
    let id = emit(&mut tx, EventKind::DraftPending, ids[0], serde_json::json!({"message": ids[0]})).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(events(&s).await.is_empty());
    let mut tx = s.pool.begin().await.unwrap();
    let again = emit(&mut tx, EventKind::DraftPending, ids[0], serde_json::json!({"message": ids[0]})).await.unwrap();
    tx.commit().await.unwrap();
    assert!(again >= id);
    assert_eq!(events(&s).await.len(), 1);
}

fn subscription(webhook: &str, kinds: &[EventKind]) -> Subscription {
    Subscription { webhook: webhook.into(), kinds: kinds.to_vec() }
}

#[tokio::test]
async fn deliveries_are_created_per_subscribing_webhook_from_registration_on() {
    let s = store("events-fanout").await;
    let ids = messages(&s, 3).await;
    s.record(&[outcome(ids[0], Decision::Approve, Vec::new())]).await.unwrap();
    let subs = [subscription("all", &EventKind::ALL), subscription("pending", &[EventKind::DraftPending])];
    s.register_webhooks(&["all".into(), "pending".into()]).await.unwrap();
    assert_eq!(s.fan_out(&subs).await.unwrap(), 0, "events before a webhook was configured are not sent to it");

    s.record(&[outcome(ids[1], Decision::Approve, Vec::new()), outcome(ids[2], Decision::Ignore, Vec::new())]).await.unwrap();
    assert_eq!(s.fan_out(&subs).await.unwrap(), 3 + 1);
    assert_eq!(s.fan_out(&subs).await.unwrap(), 0, "each event once per webhook");
    // Registering again (a restart) moves nothing.
    s.register_webhooks(&["all".into()]).await.unwrap();
    assert_eq!(s.fan_out(&subs).await.unwrap(), 0);

    let names = ["all".to_string(), "pending".to_string()];
    let due = s.due_deliveries(&names, Utc::now(), 100).await.unwrap();
    assert_eq!(due.len(), 4);
    let ids: std::collections::HashSet<&str> = due.iter().map(|d| d.delivery_id.as_str()).collect();
    assert_eq!(ids.len(), 4, "delivery ids are unique");
    assert!(due.iter().all(|d| d.delivery_id.len() == 32 && d.delivery_id.chars().all(|c| c.is_ascii_hexdigit())));
    let pending: Vec<_> = due.iter().filter(|d| d.webhook == "pending").collect();
    assert_eq!((pending.len(), pending[0].event.kind), (1, EventKind::DraftPending));
    assert!(s.due_deliveries(&["other".into()], Utc::now(), 100).await.unwrap().is_empty(), "only configured webhooks");
}

#[tokio::test]
async fn attempts_are_recorded_and_failures_are_problems() {
    let s = store("events-attempts").await;
    let ids = messages(&s, 1).await;
    let names = vec!["crm".to_string()];
    s.register_webhooks(&names).await.unwrap();
    s.record(&[outcome(ids[0], Decision::Approve, Vec::new())]).await.unwrap();
    s.fan_out(&[subscription("crm", &EventKind::ALL)]).await.unwrap();
    let now = Utc::now();
    let due = s.due_deliveries(&names, now, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    let later = now + chrono::Duration::minutes(5);
    s.record_attempts(&[
        Attempt { delivery: due[0].id, at: now, outcome: AttemptOutcome::Delivered { status: 204 } },
        Attempt { delivery: due[1].id, at: now, outcome: AttemptOutcome::Retry { status: Some(503), error: "HTTP 503".into(), at: later } },
    ])
    .await
    .unwrap();
    assert!(s.due_deliveries(&names, now, 10).await.unwrap().is_empty(), "the retry is not due yet");
    assert_eq!(s.next_due(&names).await.unwrap(), Some(later));
    let retry = s.due_deliveries(&names, later, 10).await.unwrap();
    assert_eq!((retry.len(), retry[0].attempts, &retry[0].delivery_id), (1, 1, &due[1].delivery_id), "same delivery id on retry");

    s.record_attempts(&[Attempt { delivery: due[1].id, at: later, outcome: AttemptOutcome::Failed { status: Some(410), error: "HTTP 410: refused".into() } }])
        .await
        .unwrap();
    assert_eq!(s.next_due(&names).await.unwrap(), None);
    let problems = s.problems(10).await.unwrap();
    let p = problems.iter().find(|p| p.kind == "webhook_failed").expect("a webhook problem");
    assert_eq!((p.message, p.address.as_deref()), (ids[0], Some("webhook crm")));
    assert!(p.detail.contains("draft.pending") && p.detail.contains(&due[1].delivery_id) && p.detail.contains("HTTP 410"), "{}", p.detail);
}
