//! Sending through SMTP when things go wrong: a refused recipient, and the process dying
//! around the SMTP transaction. Nothing is sent twice; what failed is visible.

use std::process::Stdio;

use super::stack::{MailStack, SUPPORT, sample};
use crate::helpers::{TestDir, count, header};

const GIULIA: &str = "giulia.rossi@posta.example";

fn setup(name: &str) -> (MailStack, TestDir, std::path::PathBuf) {
    let stack = MailStack::start(name, &[GIULIA]);
    let dir = TestDir::new(name);
    let config = dir.path.join("switchyard.toml");
    std::fs::write(&config, stack.config("", "").replacen("idle_renew_seconds = 60", "idle_renew_seconds = 60\ninitial_sync = \"all\"", 1)).unwrap();
    (stack, dir, config)
}

fn status(dir: &TestDir, config: &std::path::Path) -> serde_json::Value {
    let out = dir.command().arg("--config").arg(config).args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_refused_recipient_is_a_permanent_failure_that_stays_visible() {
    let (stack, dir, config) = setup("mail-refused");
    let stranger = b"From: refused@posta.example\r\nTo: assistenza@aurora.example\r\nSubject: Bolletta\r\n\
        Message-ID: <refused-1@posta.example>\r\n\r\nBuongiorno, quanto devo pagare per la bolletta?\r\n";
    stack.send("refused@posta.example", SUPPORT, stranger);
    stack.wait_for("delivery", || !stack.messages(SUPPORT, "").is_empty());
    let out = dir.command().arg("--config").arg(&config).args(["run", "--once", "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["decision"], "auto_send");
    assert!(lines[0]["reply_message_id"].is_null(), "the reply did not go out");
    let s = status(&dir, &config);
    assert_eq!(s["counts"]["outbox_failed"], 1);
    let problem = &s["problems"][0];
    assert_eq!(problem["kind"], "delivery_failed");
    assert_eq!(problem["address"], "refused@posta.example");
    assert!(problem["detail"].as_str().unwrap().contains("550"), "{problem}");
    // A permanent failure is not retried: running again sends nothing.
    dir.command().arg("--config").arg(&config).args(["run", "--once"]).output().unwrap();
    assert_eq!(count(&dir.db(), "SELECT attempts FROM outbox"), 1);
}

/// Runs once with a crash point, then again normally.
fn crash_then_restart(dir: &TestDir, config: &std::path::Path, point: &str) {
    let crashed = dir
        .command()
        .arg("--config")
        .arg(config)
        .env("SWITCHYARD_CRASHPOINT", point)
        .args(["run", "--once"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&crashed.stderr).contains("crashpoint"), "{point} not reached: {}", String::from_utf8_lossy(&crashed.stderr));
    let out = dir.command().arg("--config").arg(config).args(["run", "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_crash_after_the_reply_was_filed_in_sent_is_resolved_from_sent() {
    let (stack, dir, config) = setup("mail-crash-sent");
    stack.send(GIULIA, SUPPORT, &sample("001"));
    stack.wait_for("delivery", || !stack.messages(SUPPORT, "").is_empty());
    crash_then_restart(&dir, &config, "after_sink_write:1");
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM outbox WHERE state = 'sent'"), 1, "found in Sent, so marked sent");
    stack.wait_for("the reply", || !stack.messages(GIULIA, "").is_empty());
    stack.wait_for("Postfix to finish", || stack.queue_empty());
    assert_eq!(stack.messages(GIULIA, "").len(), 1, "sent exactly once");
}

#[test]
fn a_crash_between_smtp_and_the_sent_copy_is_never_resent() {
    let (stack, dir, config) = setup("mail-crash-smtp");
    stack.send(GIULIA, SUPPORT, &sample("001"));
    stack.wait_for("delivery", || !stack.messages(SUPPORT, "").is_empty());
    crash_then_restart(&dir, &config, "after_smtp_send:1");
    stack.wait_for("the reply", || !stack.messages(GIULIA, "").is_empty());
    stack.wait_for("Postfix to finish", || stack.queue_empty());
    assert_eq!(stack.messages(GIULIA, "").len(), 1, "the customer got it once; it was not sent again");
    let s = status(&dir, &config);
    let problem = &s["problems"][0];
    assert_eq!(problem["kind"], "delivery_failed");
    assert!(problem["detail"].as_str().unwrap().contains("not sent again"), "{problem}");
    let reply = stack.messages(GIULIA, "").into_values().next().unwrap();
    assert_eq!(header(&reply, "Auto-Submitted").as_deref(), Some("auto-replied"));
}
