//! Stage 2, guard: never answer a machine, never answer twice, never flood one sender.
//! Machine mail (RFC 3834 and its de-facto companions) and duplicates stop here; human mail
//! that must not get an automatic answer passes with a caution the policy turns into approval.

use serde::Serialize;

use super::parse::ParsedMessage;
use crate::domain::{EmailAddress, Reason, ReasonCode};

/// What the store knows about this sender and this Message-ID.
#[derive(Debug, Clone, Copy, Default)]
pub struct SenderHistory {
    /// Another message with the same Message-ID was already decided.
    pub message_id_seen: bool,
    /// A message with exactly the same bytes was already decided (re-delivery, or a folder
    /// whose UIDs were reset).
    pub content_seen: bool,
    /// Automatic replies sent to this sender within the window.
    pub recent_auto_replies: u32,
}

pub struct GuardRules<'a> {
    pub own_addresses: &'a [EmailAddress],
    /// The domain of our own Message-IDs.
    pub own_message_id_domain: &'a str,
    pub max_auto_replies: u32,
}

/// Human mail that may go on, with cautions that forbid an automatic reply.
#[derive(Debug, Clone, Serialize)]
pub struct Admitted {
    pub message: ParsedMessage,
    pub cautions: Vec<Reason>,
}

pub enum Verdict {
    Admit(Admitted),
    /// Ignore: machine mail, our own mail or a duplicate. Every applicable reason is listed.
    Stop(Vec<Reason>),
}

const NOREPLY_MARKERS: [&str; 12] = [
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "nepasrepondre",
    "ne-pas-repondre",
    "nonrispondere",
    "non-rispondere",
    "noresponder",
    "no-responder",
];

pub fn run(message: ParsedMessage, history: SenderHistory, rules: &GuardRules<'_>) -> Verdict {
    let stops = machine_reasons(&message, history, rules);
    if !stops.is_empty() {
        return Verdict::Stop(stops);
    }
    let mut cautions = Vec::new();
    if let Some(v) = &message.signals.auto_response_suppress {
        let v = v.to_ascii_lowercase();
        if ["all", "autoreply", "oof"].iter().any(|k| v.contains(k)) {
            cautions.push(Reason::new(
                ReasonCode::AutoResponseSuppressed,
                format!("sender asked for no automatic replies (X-Auto-Response-Suppress: {v})"),
            ));
        }
    }
    if history.recent_auto_replies >= rules.max_auto_replies {
        cautions.push(Reason::new(
            ReasonCode::SenderReplyLimit,
            format!(
                "{} automatic replies already sent to this sender in the window (limit {})",
                history.recent_auto_replies, rules.max_auto_replies
            ),
        ));
    }
    if !message.decoding_problems.is_empty() {
        cautions.push(Reason::new(
            ReasonCode::CharsetUndecodable,
            message.decoding_problems.join("; "),
        ));
    }
    Verdict::Admit(Admitted { message, cautions })
}

/// Why a message must not be answered at all (machine mail, our own, a duplicate); empty for human mail.
pub fn machine_reasons(m: &ParsedMessage, history: SenderHistory, rules: &GuardRules<'_>) -> Vec<Reason> {
    let s = &m.signals;
    let local = m.from.local_part().to_ascii_lowercase();
    let mut out = Vec::new();
    let mut stop = |code, detail: String| out.push(Reason::new(code, detail));

    if let Some(v) = s.auto_submitted.as_deref().filter(|v| !v.starts_with("no")) {
        stop(ReasonCode::AutoSubmitted, format!("Auto-Submitted: {v} (RFC 3834)"));
    }
    if let Some(field) = s.vendor_auto_reply {
        stop(ReasonCode::AutoSubmitted, format!("{field} header marks an automatic reply"));
    }
    if s.null_return_path {
        stop(ReasonCode::NullReturnPath, "Return-Path is empty (<>): a bounce or notification".into());
    }
    if s.report_content || local == "mailer-daemon" || local == "postmaster" {
        stop(ReasonCode::DeliveryReport, "delivery or disposition report".into());
    }
    if !s.list_fields.is_empty() || s.precedence.as_deref() == Some("list") {
        let what = if s.list_fields.is_empty() { "Precedence: list".to_string() } else { s.list_fields.join(", ") };
        stop(ReasonCode::MailingList, format!("mailing-list post ({what})"));
    }
    if let Some(p) = s.precedence.as_deref().filter(|p| *p == "bulk" || *p == "junk") {
        stop(ReasonCode::BulkPrecedence, format!("Precedence: {p}"));
    }
    if NOREPLY_MARKERS.iter().any(|n| local.contains(n)) {
        stop(ReasonCode::NoreplySender, format!("sender {} does not accept replies", m.from));
    }
    let own_id = m
        .message_id
        .as_ref()
        .is_some_and(|id| id.as_str().ends_with(&format!("@{}", rules.own_message_id_domain)));
    if s.switchyard_reply || own_id || rules.own_addresses.contains(&m.from) {
        stop(ReasonCode::OwnMessage, "sent by Switchyard or from one of our own addresses".into());
    }
    if history.message_id_seen {
        let id = m.message_id.as_ref().map(|i| i.to_string()).unwrap_or_default();
        stop(ReasonCode::DuplicateMessageId, format!("Message-ID <{id}> was already processed"));
    } else if history.content_seen {
        stop(ReasonCode::DuplicateMessageId, "the same message (byte for byte) was already processed".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::parse::{self, Limits};

    fn msg(headers: &str) -> ParsedMessage {
        let raw = format!("{headers}Subject: hi\r\nMessage-ID: <m1@x.example>\r\n\r\nHello, my bill please.\r\n");
        parse::run(raw.as_bytes(), 0, Limits { max_bytes: 1 << 20 }).unwrap()
    }

    fn codes(v: Verdict) -> Vec<&'static str> {
        match v {
            Verdict::Stop(r) => r.iter().map(|r| r.code.as_str()).collect(),
            Verdict::Admit(a) => a.cautions.iter().map(|r| r.code.as_str()).collect(),
        }
    }

    fn rules(own: &[EmailAddress]) -> GuardRules<'_> {
        GuardRules { own_addresses: own, own_message_id_domain: "sy.example", max_auto_replies: 3 }
    }

    fn check(headers: &str) -> Vec<&'static str> {
        codes(run(msg(headers), SenderHistory::default(), &rules(&[])))
    }

    #[test]
    fn human_mail_passes_without_cautions() {
        assert!(matches!(
            run(msg("From: a@b.example\r\n"), SenderHistory::default(), &rules(&[])),
            Verdict::Admit(a) if a.cautions.is_empty()
        ));
    }

    #[test]
    fn rfc3834_and_friends_stop() {
        assert_eq!(check("From: a@b.example\r\nAuto-Submitted: auto-replied\r\n"), ["auto_submitted"]);
        assert_eq!(check("From: a@b.example\r\nAuto-Submitted: no\r\n"), Vec::<&str>::new());
        assert_eq!(check("From: a@b.example\r\nX-Autoreply: yes\r\n"), ["auto_submitted"]);
        assert_eq!(check("From: a@b.example\r\nReturn-Path: <>\r\n"), ["null_return_path"]);
        assert_eq!(check("From: MAILER-DAEMON@b.example\r\n"), ["delivery_report"]);
        assert_eq!(check("From: a@b.example\r\nList-Unsubscribe: <mailto:u@b.example>\r\n"), ["mailing_list"]);
        assert_eq!(check("From: a@b.example\r\nPrecedence: list\r\n"), ["mailing_list"]);
        assert_eq!(check("From: a@b.example\r\nPrecedence: junk\r\n"), ["bulk_precedence"]);
        assert_eq!(check("From: No-Reply@bank.example\r\n"), ["noreply_sender"]);
        assert_eq!(check("From: ne-pas-repondre@edf.example\r\n"), ["noreply_sender"]);
        assert_eq!(check("From: a@b.example\r\nX-Switchyard-Reply: yes\r\n"), ["own_message"]);
    }

    #[test]
    fn every_applicable_reason_is_listed() {
        let got = check("From: noreply@b.example\r\nAuto-Submitted: auto-generated\r\nPrecedence: bulk\r\n");
        assert_eq!(got, ["auto_submitted", "bulk_precedence", "noreply_sender"]);
    }

    #[test]
    fn own_address_and_duplicates_stop() {
        let own = [EmailAddress::parse("assistenza@aurora.example").unwrap()];
        let v = run(msg("From: assistenza@aurora.example\r\n"), SenderHistory::default(), &rules(&own));
        assert_eq!(codes(v), ["own_message"]);
        let dup = SenderHistory { message_id_seen: true, ..SenderHistory::default() };
        assert_eq!(codes(run(msg("From: a@b.example\r\n"), dup, &rules(&[]))), ["duplicate_message_id"]);
    }

    #[test]
    fn suppression_and_reply_limit_are_cautions() {
        assert_eq!(check("From: a@b.example\r\nX-Auto-Response-Suppress: All\r\n"), ["auto_response_suppressed"]);
        let busy = SenderHistory { recent_auto_replies: 3, ..SenderHistory::default() };
        assert_eq!(codes(run(msg("From: a@b.example\r\n"), busy, &rules(&[]))), ["sender_reply_limit"]);
    }
}
