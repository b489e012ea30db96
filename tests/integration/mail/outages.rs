//! The mail server goes away and comes back; its UIDs are reset: nothing is missed, nothing is
//! answered twice.

use std::collections::BTreeSet;

use super::stack::{MailStack, SUPPORT, Worker};
use crate::helpers::{TestDir, count, header};

const CUSTOMER: &str = "giulia.rossi@posta.example";

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Giulia Rossi <{CUSTOMER}>\r\nTo: {SUPPORT}\r\nSubject: Bolletta {i}\r\nMessage-ID: <outage-{i}@posta.example>\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0100\r\n\r\nBuongiorno, vorrei sapere l'importo della mia ultima bolletta ({i}).\r\n"
    )
    .into_bytes()
}

#[test]
fn fifty_messages_that_arrive_while_dovecot_is_down_are_processed_exactly_once() {
    let stack = MailStack::start("down", &[CUSTOMER]);
    let dir = TestDir::new("mail-down");
    let config_file = dir.path.join("switchyard.toml");
    std::fs::write(&config_file, stack.config("", "")).unwrap();
    let worker = Worker::start(&dir, &config_file);
    stack.wait_for("the IMAP connection", || worker.log_contains("IMAP connected"));

    stack.stop_dovecot();
    for i in 0..50 {
        stack.send(CUSTOMER, SUPPORT, &message(i));
    }
    // Postfix holds them while LMTP is down; the worker keeps retrying its connection.
    stack.start_dovecot();
    stack.flush();
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let outcome = worker.next();
        assert!(seen.insert(outcome["message_id"].as_str().unwrap().to_string()), "processed twice: {outcome}");
    }
    assert_eq!(seen.len(), 50);
    stack.wait_for("all 50 replies", || stack.messages(CUSTOMER, "").len() >= 50);
    worker.stop();
    assert_eq!(stack.messages(CUSTOMER, "").len(), 50, "one reply each, none twice");
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM messages"), 50);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND state = 'sent'"), 50);
}

#[test]
fn a_uidvalidity_change_does_not_answer_old_mail_again() {
    let stack = MailStack::start("uidvalidity", &[CUSTOMER]);
    let dir = TestDir::new("mail-uidvalidity");
    let config_file = dir.path.join("switchyard.toml");
    let config = stack.config("", "").replacen("idle_renew_seconds = 60", "idle_renew_seconds = 60\ninitial_sync = \"all\"", 1);
    std::fs::write(&config_file, config).unwrap();
    for i in 0..3 {
        stack.send(CUSTOMER, SUPPORT, &message(i));
    }
    stack.wait_for("delivery", || stack.messages(SUPPORT, "").len() == 3);
    let run = || {
        let out = dir.command().arg("--config").arg(&config_file).args(["run", "--once", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(run().len(), 3);
    stack.wait_for("three replies", || stack.messages(CUSTOMER, "").len() == 3);

    // The server forgets its UIDs (a restored backup, a migrated mailbox).
    let status = stack.doveadm(&["mailbox", "status", "-u", SUPPORT, "uidvalidity", "INBOX"]);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    let old: u32 = text.split("uidvalidity=").nth(1).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{text}"));
    let changed = stack.doveadm(&["mailbox", "update", "-u", SUPPORT, "--uid-validity", &(old + 1000).to_string(), "INBOX"]);
    assert!(changed.status.success(), "{}", String::from_utf8_lossy(&changed.stderr));
    stack.send(CUSTOMER, SUPPORT, &message(99));
    stack.wait_for("delivery", || stack.messages(SUPPORT, "").len() == 4);

    let second = run();
    assert_eq!(second.len(), 1, "only the new message is taken: {second:?}");
    assert_eq!(second[0]["message_id"], "outage-99@posta.example");
    stack.wait_for("the fourth reply", || stack.messages(CUSTOMER, "").len() == 4);
    let replied_to: BTreeSet<String> = stack.messages(CUSTOMER, "").values().filter_map(|m| header(m, "In-Reply-To")).collect();
    assert_eq!(replied_to.len(), 4, "no message was answered twice");
}
