//! Drafts in the staff's own mailbox: what they see, and what Switchyard records when they send,
//! edit, discard or ignore a draft.

use std::path::Path;

use super::stack::{MailStack, SUPPORT, sample};
use crate::helpers::{TestDir, header};

const MARCO: &str = "marco.bianchi@posta.example";

fn run_once(dir: &TestDir, config: &Path) -> Vec<serde_json::Value> {
    let out = dir.command().arg("--config").arg(config).args(["run", "--once", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn approvals(dir: &TestDir, config: &Path) -> Vec<serde_json::Value> {
    let out = dir.command().arg("--config").arg(config).args(["approvals", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A mailbox with Marco's instalment request triaged, with a policy that reviews instalment
/// replies: a draft waits in Drafts.
fn drafted(name: &str) -> (MailStack, TestDir, std::path::PathBuf, Vec<u8>) {
    let stack = MailStack::start(name, &[MARCO]);
    let dir = TestDir::new(name);
    let config = dir.path.join("switchyard.toml");
    let text = stack.config("", "").replacen("idle_renew_seconds = 60", "idle_renew_seconds = 60\ninitial_sync = \"all\"", 1);
    // Instalment simulations are sent automatically by default; these tests need a draft.
    std::fs::write(&config, format!("{text}\n[policy]\nauto_send_intents = [\"billing\"]\n")).unwrap();
    let inbound = sample("002");
    stack.send(MARCO, SUPPORT, &inbound);
    stack.wait_for("delivery", || !stack.messages(SUPPORT, "").is_empty());
    let outcomes = run_once(&dir, &config);
    assert_eq!(outcomes[0]["decision"], "approve");
    (stack, dir, config, inbound)
}

/// Puts a message into a folder the way a mail client's copy lands there.
fn file_into(stack: &MailStack, folder: &str, name: &str, raw: &[u8]) {
    std::fs::write(stack.folder(SUPPORT, folder).join("new").join(name), raw).unwrap();
}

#[test]
fn the_draft_waits_in_drafts_with_its_review_note_and_sending_it_is_recorded() {
    let (stack, dir, config, inbound) = drafted("mail-approve");
    let drafts = stack.messages(SUPPORT, "Drafts");
    assert_eq!(drafts.len(), 1);
    let (name, draft) = drafts.into_iter().next().unwrap();
    assert!(name.contains(":2,") && name.rsplit(":2,").next().unwrap().contains('D'), "\\Draft flag: {name}");
    let inbound_id = header(&inbound, "Message-ID").unwrap();
    assert_eq!(header(&draft, "To").map(|t| t.contains(MARCO)), Some(true));
    assert_eq!(header(&draft, "In-Reply-To").as_deref(), Some(inbound_id.as_str()));
    assert_eq!(header(&draft, "Auto-Submitted"), None, "a person sends it");
    let draft_text = String::from_utf8_lossy(&draft).to_string();
    assert!(!draft_text.contains("SWITCHYARD REVIEW") && !draft_text.contains("installment_plan"), "the explanation is not in the draft");

    // Why approval is needed, and the facts, in a note of its own beside the customer's thread.
    let notes = stack.messages(SUPPORT, "Switchyard Review");
    assert_eq!(notes.len(), 1);
    let note = notes.values().next().unwrap();
    assert_eq!(header(note, "To").as_deref(), Some(SUPPORT));
    assert_eq!(header(note, "In-Reply-To").as_deref(), Some(inbound_id.as_str()));
    let note_text = mail_parser::MessageParser::default().parse(note).unwrap().body_text(0).unwrap().into_owned();
    assert!(note_text.contains("WHY A PERSON MUST APPROVE") && note_text.contains("intent_requires_approval"), "{note_text}");
    assert!(note_text.contains("212,75 €") && note_text.contains("balance"), "{note_text}");

    // A member of staff edits a figure and adds a line, sends it, and the draft leaves Drafts.
    let body = mail_parser::MessageParser::default().parse(&draft).unwrap().body_text(0).unwrap().into_owned();
    let edited = body.replacen("70,91 €", "70,90 €", 1) + "\nUn saluto, Paola\n";
    let sent = format!(
        "From: Aurora Utilities <{SUPPORT}>\r\nSender: Paola Neri <paola.neri@aurora.example>\r\nTo: {MARCO}\r\n\
         Subject: Re: rateizzazione\r\nMessage-ID: <sent-1@aurora.example>\r\nIn-Reply-To: {inbound_id}\r\n\
         Date: Sat, 21 Nov 2026 11:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        edited.replace('\n', "\r\n")
    );
    file_into(&stack, "Sent", "1795300000.sent1.host", sent.as_bytes());
    std::fs::remove_file(stack.folder(SUPPORT, "Drafts").join("cur").join(&name)).unwrap();

    run_once(&dir, &config);
    let records = approvals(&dir, &config);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["state"], "sent_edited");
    assert_eq!(r["sent_by"], "paola.neri@aurora.example");
    assert!(r["sent_at"].as_str().unwrap().starts_with("2026-11-21"));
    let diff = r["diff"].as_str().unwrap();
    assert!(diff.contains("- - 3 rate da 70,91 €") && diff.contains("+ - 3 rate da 70,90 €") && diff.contains("+ Un saluto, Paola"), "{diff}");
    assert_eq!(r["unverified_claims"], 1, "the figure typed by staff is flagged");
}

#[test]
fn a_discarded_draft_and_an_answer_without_the_draft_are_recorded() {
    let (stack, dir, config, _) = drafted("mail-discard");
    let (name, _) = stack.messages(SUPPORT, "Drafts").into_iter().next().unwrap();
    std::fs::remove_file(stack.folder(SUPPORT, "Drafts").join("cur").join(name)).unwrap();
    run_once(&dir, &config); // notices the draft is gone
    run_once(&dir, &config); // the grace period (0 s here) has passed
    assert_eq!(approvals(&dir, &config)[0]["state"], "discarded");

    let (stack, dir, config, inbound) = drafted("mail-elsewhere");
    let reply = format!(
        "From: {SUPPORT}\r\nTo: {MARCO}\r\nSubject: Re: x\r\nMessage-ID: <own-words@aurora.example>\r\n\
         In-Reply-To: {}\r\nDate: Sat, 21 Nov 2026 12:00:00 +0100\r\n\r\nLa richiamiamo oggi.\r\n",
        header(&inbound, "Message-ID").unwrap()
    );
    file_into(&stack, "Sent", "1795300001.sent2.host", reply.as_bytes());
    run_once(&dir, &config);
    let r = &approvals(&dir, &config)[0];
    assert_eq!(r["state"], "answered_without_draft");
    assert_eq!(r["sent_by"], SUPPORT);
}
