//! The bundled sample mailbox: every message's outcome matches the expected file beside it,
//! machine mail is never answered, and replies carry the threading and RFC 3834 headers.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{TestDir, count, header, query, samples_dir};

/// Runs the seeded sample mailbox once; outcomes by sample file name.
fn run_samples(dir: &TestDir) -> BTreeMap<String, Value> {
    let (lines, out) = dir.run_once(&[]);
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    lines
        .into_iter()
        .map(|l| {
            let source = l["source"].as_str().expect("source").to_string();
            let name = source.rsplit('/').next().expect("file name").to_string();
            (name, l)
        })
        .collect()
}

fn expected_files() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(samples_dir())
        .expect("samples/mailbox")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let eml = name.strip_suffix(".expected.json")?.to_string() + ".eml";
            let expected = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some((eml, expected))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    for key in ["decision", "intent", "urgency", "language", "customer"] {
        if expected[key] != actual[key] {
            diffs.push(format!("{key}: expected {} got {}", expected[key], actual[key]));
        }
    }
    let replied = !actual["reply_message_id"].is_null();
    if expected["reply"].as_bool() != Some(replied) {
        diffs.push(format!("reply: expected {} got {replied}", expected["reply"]));
    }
    let codes: Vec<String> = actual["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().split(':').next().unwrap_or_default().to_string())
        .collect();
    for want in expected["reasons"].as_array().expect("expected reasons") {
        let want = want.as_str().expect("reason code");
        if !codes.iter().any(|c| c == want) {
            diffs.push(format!("reason {want} missing (got {})", codes.join(", ")));
        }
    }
    diffs
}

#[test]
fn every_sample_outcome_matches_its_expected_file() {
    let dir = TestDir::new("samples");
    let actual = run_samples(&dir);
    let expected = expected_files();
    assert!(expected.len() >= 60, "the sample mailbox must hold at least 60 messages");
    let report_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sample-outcomes");
    let _ = std::fs::remove_dir_all(&report_dir);
    let mut failures = Vec::new();
    for (eml, want) in &expected {
        let Some(got) = actual.get(eml) else {
            failures.push(format!("{eml}: no outcome"));
            continue;
        };
        let diffs = differences(want, got);
        if !diffs.is_empty() {
            std::fs::create_dir_all(&report_dir).expect("report dir");
            let path = report_dir.join(eml.replace(".eml", ".actual.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(got).expect("json")).expect("write actual");
            failures.push(format!("{eml}: {}", diffs.join("; ")));
        }
    }
    assert_eq!(actual.len(), expected.len(), "one outcome per sample message");
    assert!(
        failures.is_empty(),
        "{} of {} samples differ (actual outcomes written to {}):\n{}",
        failures.len(),
        expected.len(),
        report_dir.display(),
        failures.join("\n")
    );
    // Every decision is explained.
    for (name, o) in &actual {
        assert!(!o["reasons"].as_array().expect("reasons").is_empty(), "{name} has no reasons");
    }
}

#[test]
fn machine_mail_is_never_answered_and_replies_are_threaded() {
    let dir = TestDir::new("replies");
    let actual = run_samples(&dir);
    let by_reply_id: BTreeMap<String, &Value> = actual
        .values()
        .filter_map(|o| Some((format!("<{}>", o["reply_message_id"].as_str()?), o)))
        .collect();
    let outbox = dir.maildir_files("outbox");
    let replies: Vec<&Vec<u8>> = outbox.iter().filter(|(n, _)| n.starts_with("r.")).map(|(_, raw)| raw).collect();
    assert_eq!(replies.len(), by_reply_id.len(), "one reply file per answered message");
    let mut seen_inbound = std::collections::BTreeSet::new();
    for raw in replies {
        let mid = header(raw, "Message-ID").expect("Message-ID");
        assert!(mid.ends_with("@switchyard.aurora.example>"), "{mid}");
        let inbound = by_reply_id.get(&mid).unwrap_or_else(|| panic!("reply {mid} belongs to no outcome"));
        let decision = inbound["decision"].as_str().unwrap();
        assert!(decision == "auto_send" || decision == "escalate", "{} was {decision} but got a reply", inbound["source"]);
        let parent = format!("<{}>", inbound["message_id"].as_str().expect("answered mail has a Message-ID"));
        assert_eq!(header(raw, "In-Reply-To").as_deref(), Some(parent.as_str()));
        assert!(seen_inbound.insert(parent.clone()), "two replies to {parent}");
        let references = header(raw, "References").expect("References");
        assert!(references.ends_with(&parent), "References must end with the parent: {references}");
        assert_eq!(header(raw, "Auto-Submitted").as_deref(), Some("auto-replied"));
        let to = header(raw, "To").expect("To");
        assert!(to.contains(inbound["from"].as_str().unwrap()), "reply goes to the sender: {to}");
    }
    for o in actual.values() {
        let d = o["decision"].as_str().unwrap();
        if d == "ignore" || d == "quarantine" || d == "approve" {
            assert!(o["reply_message_id"].is_null(), "{} was {d} but answered", o["source"]);
        }
    }
}

#[test]
fn emergencies_alert_staff_and_approvals_leave_drafts() {
    let dir = TestDir::new("alerts");
    let actual = run_samples(&dir);
    let outbox = dir.maildir_files("outbox");
    let alerts: Vec<&Vec<u8>> = outbox.iter().filter(|(n, _)| n.starts_with("a0.")).map(|(_, r)| r).collect();
    let escalated = actual.values().filter(|o| o["decision"] == "escalate").count();
    assert!(escalated >= 6);
    assert_eq!(alerts.len(), escalated, "one alert per emergency");
    for raw in alerts {
        assert_eq!(header(raw, "To").as_deref(), Some("pronto-intervento@aurora.example"));
        assert!(header(raw, "Subject").unwrap().starts_with("[EMERGENCY]"));
    }
    let drafts = dir.maildir_files("drafts");
    let approvals = actual.values().filter(|o| o["decision"] == "approve").count();
    assert_eq!(drafts.len(), approvals, "every approval leaves a draft");
    assert!(drafts.keys().all(|n| n.ends_with(":2,D")), "drafts carry the Maildir D flag");
    for raw in drafts.values() {
        assert!(header(raw, "Auto-Submitted").is_none(), "a draft is sent by a person, not automatically");
    }
    let db = dir.db();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox WHERE state <> 'sent'"), 0);
}

#[test]
fn running_again_processes_nothing_twice() {
    let dir = TestDir::new("rerun");
    let first = run_samples(&dir);
    let outbox_before = dir.maildir_files("outbox").len();
    let (second, out) = dir.run_once(&[]);
    assert!(out.status.success());
    assert!(second.is_empty(), "second run processed {} messages", second.len());
    assert_eq!(dir.maildir_files("outbox").len(), outbox_before);
    let db = dir.db();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM decisions"), first.len() as i64);
    // The same file delivered again under another name is a duplicate by Message-ID.
    let sample = std::fs::read(samples_dir().join("001-giulia-bolletta-alta.eml")).unwrap();
    std::fs::write(dir.path.join("inbox/new/redelivered.eml"), sample).unwrap();
    let (third, _) = dir.run_once(&[]);
    assert_eq!(third.len(), 1);
    assert_eq!(third[0]["decision"], "ignore");
    assert!(third[0]["reasons"][0].as_str().unwrap().starts_with("duplicate_message_id"));
    assert_eq!(dir.maildir_files("outbox").len(), outbox_before);
}

#[test]
fn no_seed_starts_with_an_empty_inbox() {
    let dir = TestDir::new("noseed");
    let (lines, out) = dir.run_once(&["--no-seed"]);
    assert!(out.status.success());
    assert!(lines.is_empty());
    assert!(dir.path.join("inbox/new").is_dir() && dir.path.join("inbox/cur").is_dir());
}

#[test]
fn no_reply_with_an_unverified_claim_is_ever_sent() {
    let dir = TestDir::new("samples-claims");
    let outcomes = run_samples(&dir);
    let sent = query(
        &dir.db(),
        "SELECT d.message, d.claims FROM decisions d JOIN outbox o ON o.message = d.message AND o.kind = 'reply' AND o.state = 'sent'",
    );
    assert!(sent.len() >= 30, "the sample mailbox sends replies: {} of {}", sent.len(), outcomes.len());
    for row in &sent {
        let claims: Vec<Value> = serde_json::from_str(row[1].as_deref().unwrap_or("[]")).expect("claims JSON");
        let unverified: Vec<&Value> = claims.iter().filter(|c| c["matched"].is_null()).collect();
        assert!(unverified.is_empty(), "message {:?} was sent with unverified claims: {unverified:#?}", row[0]);
    }
    // And every reply that was sent states at least one checked figure or reference.
    let with_claims = sent.iter().filter(|r| r[1].as_deref().is_some_and(|c| c != "[]")).count();
    assert_eq!(with_claims, sent.len(), "every sent reply carries checked claims (at least the brand's phone)");
}
