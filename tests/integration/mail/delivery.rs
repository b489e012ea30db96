//! Mail in through Postfix and Dovecot, triaged, and the reply out the same way.

use super::stack::{MailStack, SUPPORT, Worker, sample};
use crate::helpers::{TestDir, header};

const GIULIA: &str = "giulia.rossi@posta.example";

#[test]
fn a_customer_mail_is_answered_through_postfix_and_dovecot() {
    let stack = MailStack::start("answer", &[GIULIA]);
    let dir = TestDir::new("mail-answer");
    // IMAP over implicit TLS here; the other tests use STARTTLS.
    let config = stack
        .config("", "")
        .replacen("idle_renew_seconds = 60", "idle_renew_seconds = 60\nmark = \"keyword:$Switchyard\"", 1)
        .replace(&format!("port = {}\nsecurity = \"starttls\"", stack.imap_port), &format!("port = {}\nsecurity = \"tls\"", stack.imaps_port));
    let config_file = dir.path.join("switchyard.toml");
    std::fs::write(&config_file, config).unwrap();
    let worker = Worker::start(&dir, &config_file);
    stack.wait_for("the IMAP connection", || worker.log_contains("IMAP connected"));

    let inbound = sample("001");
    stack.send(GIULIA, SUPPORT, &inbound);
    let outcome = worker.next();
    assert_eq!(outcome["decision"], "auto_send");
    assert_eq!(outcome["customer"], "40000001");
    let reply_id = format!("<{}>", outcome["reply_message_id"].as_str().expect("a reply was sent"));

    stack.wait_for("the reply in the customer's mailbox", || !stack.messages(GIULIA, "").is_empty());
    let received = stack.messages(GIULIA, "");
    let raw = received.values().next().unwrap();
    let inbound_id = header(&inbound, "Message-ID").unwrap();
    assert_eq!(header(raw, "Message-ID").as_deref(), Some(reply_id.as_str()));
    assert_eq!(header(raw, "In-Reply-To").as_deref(), Some(inbound_id.as_str()));
    assert!(header(raw, "References").unwrap().ends_with(&inbound_id));
    assert_eq!(header(raw, "Auto-Submitted").as_deref(), Some("auto-replied"));
    assert!(header(raw, "From").unwrap().contains(SUPPORT));
    assert!(header(raw, "Subject").unwrap().starts_with("Re: "));
    // The copy in Sent, and the customer's mail marked as taken.
    stack.wait_for("the copy in Sent", || stack.messages(SUPPORT, "Sent").values().any(|m| header(m, "Message-ID").as_deref() == Some(reply_id.as_str())));
    let inbox = stack.messages(SUPPORT, "");
    assert_eq!(inbox.len(), 1);
    assert!(inbox.keys().next().unwrap().contains(":2,"), "processed mail carries the configured keyword");
    worker.stop();
}

#[test]
fn a_wrong_password_is_a_clear_error_and_the_other_mailboxes_keep_working() {
    let stack = MailStack::start("password", &[GIULIA, "ops@aurora.example"]);
    let dir = TestDir::new("mail-password");
    let broken = format!(
        r#"
[[mailboxes]]
name = "ops"
address = "ops@aurora.example"
[mailboxes.imap]
host = "127.0.0.1"
port = {imap}
security = "plain"
username = "ops@aurora.example"
password = "not-the-password"
[mailboxes.smtp]
host = "127.0.0.1"
port = {smtp}
security = "plain"
"#,
        imap = stack.imap_port,
        smtp = stack.smtp_port
    );
    // The support mailbox takes all its mail, so a single --once run sees the message.
    let config = stack.config("", &broken).replacen("idle_renew_seconds = 60", "idle_renew_seconds = 60\ninitial_sync = \"all\"", 1);
    let config_file = dir.path.join("switchyard.toml");
    std::fs::write(&config_file, config).unwrap();
    stack.send(GIULIA, SUPPORT, &sample("001"));
    stack.wait_for("delivery", || !stack.messages(SUPPORT, "").is_empty());

    let out = dir.command().arg("--config").arg(&config_file).args(["run", "--once", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a mailbox that cannot be read makes the run incomplete\n{stderr}");
    assert!(stderr.contains("imap:ops") && stderr.contains("refused the login of ops@aurora.example"), "{stderr}");
    assert!(stderr.contains("check imap.username"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "secrets never reach the logs");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "the support mailbox still worked");
    assert_eq!(lines[0]["decision"], "auto_send");
}

#[test]
fn an_idle_connection_dropped_by_the_server_is_resumed() {
    let stack = MailStack::start("idle", &[GIULIA]);
    let dir = TestDir::new("mail-idle");
    let config_file = dir.path.join("switchyard.toml");
    std::fs::write(&config_file, stack.config("", "")).unwrap();
    let worker = Worker::start(&dir, &config_file);
    stack.wait_for("the IMAP connection", || worker.log_contains("IMAP connected"));
    stack.wait_for("IDLE", || {
        let out = stack.doveadm(&["who", SUPPORT]);
        String::from_utf8_lossy(&out.stdout).contains("imap")
    });
    // The server drops every connection of the mailbox, as on a restart or an idle timeout.
    let kicked = stack.doveadm(&["kick", SUPPORT]);
    assert!(kicked.status.success(), "{}", String::from_utf8_lossy(&kicked.stderr));
    stack.wait_for("the lost connection to be noticed", || worker.log_contains("IDLE connection lost"));

    stack.send(GIULIA, SUPPORT, &sample("001"));
    let outcome = worker.next();
    assert_eq!(outcome["decision"], "auto_send");
    stack.wait_for("the reply", || !stack.messages(GIULIA, "").is_empty());
    worker.stop();
}
