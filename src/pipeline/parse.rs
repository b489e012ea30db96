//! Stage 1, parse: raw bytes → an owned [`ParsedMessage`]. Text is taken from the text part
//! or converted from HTML; HTML is kept only after ammonia has sanitized it; quoted history
//! and signatures are split off so later stages read what the customer wrote now.

use chrono::{DateTime, Utc};
use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use crate::domain::{EmailAddress, MessageId, Reason, ReasonCode};

/// Why a message cannot be processed. Each one quarantines the message with its reason.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("message is {bytes} bytes, over the {limit}-byte limit (worker.max_message_bytes)")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("not an e-mail: no RFC 5322 header fields found")]
    Unparseable,
    #[error("no usable From address{}", .0.as_ref().map(|f| format!(" (found `{f}`)")).unwrap_or_default())]
    NoFrom(Option<String>),
    #[error("MIME structure is truncated: closing boundary `--{0}--` is missing")]
    TruncatedMime(String),
}

impl ParseError {
    pub fn reason(&self) -> Reason {
        let code = match self {
            ParseError::TooLarge { .. } => ReasonCode::TooLarge,
            ParseError::Unparseable => ReasonCode::Unparseable,
            ParseError::NoFrom(_) => ReasonCode::NoFrom,
            ParseError::TruncatedMime(_) => ReasonCode::TruncatedMime,
        };
        Reason::new(code, self.to_string())
    }
}

/// The headers the guard needs to recognise machine mail (RFC 3834 and de-facto ones).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MachineSignals {
    pub auto_submitted: Option<String>,
    pub null_return_path: bool,
    pub precedence: Option<String>,
    /// Which List-* fields are present.
    pub list_fields: Vec<&'static str>,
    pub auto_response_suppress: Option<String>,
    /// `X-Autoreply`, `X-Autorespond` and similar vendor markers.
    pub vendor_auto_reply: Option<&'static str>,
    /// multipart/report, message/delivery-status or message/disposition-notification.
    pub report_content: bool,
    /// Our own loop marker.
    pub switchyard_reply: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

/// An inbound message reduced to what the pipeline reads. Owns its data.
#[derive(Debug, Clone, Serialize)]
pub struct ParsedMessage {
    pub message_id: Option<MessageId>,
    pub from: EmailAddress,
    pub from_name: Option<String>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    /// Message-IDs this message refers to (References, then In-Reply-To), oldest first.
    pub references: Vec<MessageId>,
    pub content_language: Option<String>,
    pub signals: MachineSignals,
    /// What the sender wrote in this message, without quoted history or signature.
    pub text: String,
    pub quoted: Option<String>,
    pub signature: Option<String>,
    /// Sanitized HTML body (ammonia), for people to look at; never used for decisions.
    pub safe_html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Parts whose text could not be decoded cleanly (bad or unknown charset).
    pub decoding_problems: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
}

/// Parses `raw`. `stored_len` is the size of the original message when the channel stored only
/// a prefix of an oversized one.
pub fn run(raw: &[u8], stored_len: u64, limits: Limits) -> Result<ParsedMessage, ParseError> {
    let size = stored_len.max(raw.len() as u64);
    if size > limits.max_bytes {
        return Err(ParseError::TooLarge { bytes: size, limit: limits.max_bytes });
    }
    let message = MessageParser::default().parse(raw).ok_or(ParseError::Unparseable)?;
    if !looks_like_mail(&message) {
        return Err(ParseError::Unparseable);
    }
    let from = sender(message.from())?;
    check_mime_complete(&message, raw)?;

    let (full_text, decoding_problems) = body_text(&message);
    let split = split_text(&full_text);
    Ok(ParsedMessage {
        message_id: message.message_id().and_then(|m| MessageId::parse(m).ok()),
        from: from.0,
        from_name: from.1,
        subject: message.subject().unwrap_or_default().trim().to_string(),
        date: message.date().and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        references: references(&message),
        content_language: message
            .header_raw("Content-Language")
            .map(|l| l.trim().to_ascii_lowercase()),
        signals: signals(&message),
        text: split.text,
        quoted: split.quoted,
        signature: split.signature,
        safe_html: message.body_html(0).map(|h| ammonia::clean(&h)),
        attachments: attachments(&message),
        decoding_problems,
    })
}

/// mail-parser accepts anything; real mail has at least one of these fields.
pub(crate) fn looks_like_mail(message: &mail_parser::Message<'_>) -> bool {
    const FIELDS: [&str; 6] = ["From", "To", "Subject", "Date", "Message-ID", "Received"];
    FIELDS.iter().any(|f| message.header_raw(*f).is_some())
}

fn sender(from: Option<&Address<'_>>) -> Result<(EmailAddress, Option<String>), ParseError> {
    let addr = from.and_then(|a| a.first()).ok_or(ParseError::NoFrom(None))?;
    // "From: not an address" parses as a display name without an address.
    let raw = addr.address().or(addr.name()).unwrap_or_default();
    let email = EmailAddress::parse(raw)
        .map_err(|_| ParseError::NoFrom((!raw.is_empty()).then(|| raw.to_string())))?;
    let name = addr.name().map(str::trim).filter(|n| !n.is_empty()).map(String::from);
    Ok((email, name))
}

/// A multipart whose closing delimiter never comes was cut off in transit or on disk: its last
/// part is incomplete, so reading it could mislead.
fn check_mime_complete(message: &mail_parser::Message<'_>, raw: &[u8]) -> Result<(), ParseError> {
    for part in &message.parts {
        let Some(ct) = part.content_type() else { continue };
        if !ct.ctype().eq_ignore_ascii_case("multipart") {
            continue;
        }
        if let Some(boundary) = ct.attribute("boundary") {
            let closing = format!("--{boundary}--");
            if !contains(raw, closing.as_bytes()) {
                return Err(ParseError::TruncatedMime(boundary.to_string()));
            }
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn body_text(message: &mail_parser::Message<'_>) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    for (i, part) in message.parts.iter().enumerate() {
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t,
            _ => continue,
        };
        if text.contains('\u{FFFD}') {
            let charset = part
                .content_type()
                .and_then(|ct| ct.attribute("charset"))
                .unwrap_or("(none declared)");
            problems.push(format!("part {i}: text not decodable as charset `{charset}`"));
        }
    }
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default()
        .replace("\r\n", "\n");
    (text, problems)
}

fn references(message: &mail_parser::Message<'_>) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = Vec::new();
    for value in [message.references(), message.in_reply_to()] {
        let list = match value {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        for id in list.iter().filter_map(|t| MessageId::parse(t).ok()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

fn signals(message: &mail_parser::Message<'_>) -> MachineSignals {
    let raw = |name: &str| message.header_raw(name).map(|v| v.trim().to_string());
    const LIST_FIELDS: [&str; 6] =
        ["List-Id", "List-Unsubscribe", "List-Post", "List-Help", "List-Subscribe", "List-Owner"];
    const VENDOR: [&str; 4] = ["X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-AutoReply-From"];
    let report_content = message.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| {
            let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
            (ct.ctype().eq_ignore_ascii_case("multipart") && sub == "report")
                || (ct.ctype().eq_ignore_ascii_case("message")
                    && (sub == "delivery-status" || sub == "disposition-notification"))
        })
    });
    MachineSignals {
        auto_submitted: raw("Auto-Submitted").map(|v| v.to_ascii_lowercase()),
        null_return_path: raw("Return-Path").is_some_and(|v| {
            let inner: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            inner == "<>" || inner.is_empty()
        }),
        precedence: raw("Precedence").map(|v| v.to_ascii_lowercase()),
        list_fields: LIST_FIELDS.into_iter().filter(|f| message.header_raw(*f).is_some()).collect(),
        auto_response_suppress: raw("X-Auto-Response-Suppress"),
        vendor_auto_reply: VENDOR.into_iter().find(|f| message.header_raw(*f).is_some()),
        report_content,
        switchyard_reply: message.header_raw("X-Switchyard-Reply").is_some(),
    }
}

pub(crate) fn attachments(message: &mail_parser::Message<'_>) -> Vec<Attachment> {
    message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().map(String::from),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase(),
            size: part.len(),
        })
        .collect()
}

/// Splits a body into what was written now, the quoted history and the signature.
pub fn split_body(full: &str) -> (String, Option<String>, Option<String>) {
    let s = split_text(full);
    (s.text, s.quoted, s.signature)
}

struct SplitText {
    text: String,
    quoted: Option<String>,
    signature: Option<String>,
}

/// Lines that open quoted history in the four languages and in Outlook's reply header.
fn is_quote_header(line: &str, next: Option<&str>) -> bool {
    let l = crate::text::fold(line.trim());
    let wrote = [" wrote:", "ha scritto:", "escribio:", "a ecrit :", "a ecrit:", "scrisse:"];
    let banner = [
        "-----original message-----",
        "-----messaggio originale-----",
        "-----mensaje original-----",
        "-------- message d'origine --------",
        "-----message d'origine-----",
        "-------- original message --------",
        "-------- messaggio originale --------",
        "-------- mensaje original --------",
        "________________________________",
    ];
    if wrote.iter().any(|w| l.ends_with(w)) || banner.iter().any(|b| l.starts_with(b)) {
        return true;
    }
    // Outlook: "From: X" / "Da: X" / "De : X" followed by "Sent:" / "Inviato:" / "Enviado:" / "Envoye :".
    let from_like = ["from:", "da:", "de:", "de :"].iter().any(|p| l.starts_with(p));
    let sent_like = next.map(|n| crate::text::fold(n.trim())).is_some_and(|n| {
        ["sent:", "inviato:", "enviado:", "envoye :", "envoye:", "date:", "data:", "fecha:"]
            .iter()
            .any(|p| n.starts_with(p))
    });
    from_like && sent_like
}

fn is_signature_start(line: &str) -> bool {
    let l = crate::text::fold(line.trim_end());
    if line.trim_end() == "--" || line == "-- " {
        return true;
    }
    let mobile = [
        "sent from my",
        "inviato da",
        "enviado desde",
        "envoye de mon",
        "envoye depuis",
        "get outlook for",
        "scarica outlook",
        "obtener outlook",
        "telecharger outlook",
    ];
    mobile.iter().any(|m| l.trim_start().starts_with(m))
}

fn split_text(full: &str) -> SplitText {
    let lines: Vec<&str> = full.lines().collect();
    let mut quote_at = None;
    for (i, line) in lines.iter().enumerate() {
        if is_quote_header(line, lines.get(i + 1).copied()) {
            quote_at = Some(i);
            break;
        }
        // A run of `>` lines after some text of our own is quoted history without a header.
        if line.trim_start().starts_with('>') && lines[..i].iter().any(|l| !l.trim().is_empty()) {
            quote_at = Some(i);
            break;
        }
    }
    let (own, quoted) = match quote_at {
        Some(i) => (&lines[..i], Some(lines[i..].join("\n"))),
        None => (&lines[..], None),
    };
    let sig_at = own.iter().position(|l| is_signature_start(l));
    let (text_lines, signature) = match sig_at {
        Some(i) if i > 0 => (&own[..i], Some(own[i..].join("\n").trim().to_string())),
        _ => (own, None),
    };
    SplitText {
        text: text_lines.join("\n").trim().to_string(),
        quoted: quoted.map(|q| q.trim().to_string()).filter(|q| !q.is_empty()),
        signature: signature.filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 1 << 20 };

    fn parse(raw: &str) -> Result<ParsedMessage, ParseError> {
        run(raw.as_bytes(), 0, LIMITS)
    }

    #[test]
    fn plain_message_with_quote_and_signature() {
        let m = parse(
            "From: Giulia Rossi <Giulia.Rossi@posta.example>\r\nTo: assistenza@aurora.example\r\n\
             Subject: Bolletta\r\nMessage-ID: <a1@posta.example>\r\nIn-Reply-To: <r0@aurora.example>\r\n\r\n\
             Buongiorno, la bolletta e' troppo alta.\r\n\r\nInviato da iPhone\r\n\r\n\
             Il giorno 3 nov 2026, alle 10:00, Aurora ha scritto:\r\n> Gentile cliente\r\n",
        )
        .unwrap();
        assert_eq!(m.from.as_str(), "giulia.rossi@posta.example");
        assert_eq!(m.from_name.as_deref(), Some("Giulia Rossi"));
        assert_eq!(m.text, "Buongiorno, la bolletta e' troppo alta.");
        assert_eq!(m.signature.as_deref(), Some("Inviato da iPhone"));
        assert!(m.quoted.unwrap().contains("> Gentile cliente"));
        assert_eq!(m.message_id.unwrap().as_str(), "a1@posta.example");
        assert_eq!(m.references[0].as_str(), "r0@aurora.example");
    }

    #[test]
    fn html_only_is_converted_and_sanitized() {
        let m = parse(
            "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
             <p>No tengo <b>luz</b></p><script>alert(1)</script><img src=x onerror=alert(2)>",
        )
        .unwrap();
        assert!(m.text.contains("No tengo luz"), "{}", m.text);
        let html = m.safe_html.unwrap();
        assert!(!html.contains("script") && !html.contains("onerror"), "{html}");
    }

    #[test]
    fn outlook_reply_header_starts_quote() {
        let m = parse(
            "From: a@b.example\r\nSubject: RE: x\r\n\r\nMerci.\r\n\r\nDe : Aurora\r\nEnvoyé : lundi\r\nObjet : x\r\n",
        )
        .unwrap();
        assert_eq!(m.text, "Merci.");
        assert!(m.quoted.unwrap().starts_with("De : Aurora"));
    }

    #[test]
    fn missing_from_is_an_error() {
        assert_eq!(parse("To: x@y.example\r\nSubject: hi\r\n\r\nbody").unwrap_err(), ParseError::NoFrom(None));
        assert!(matches!(parse("From: not an address\r\n\r\nbody"), Err(ParseError::NoFrom(Some(_)))));
    }

    #[test]
    fn garbage_is_unparseable() {
        assert_eq!(parse("{\"json\": true, \"not\": \"mail\"}\n").unwrap_err(), ParseError::Unparseable);
        assert_eq!(run(&[0xff, 0xfe, 0x00, 0x01], 0, LIMITS).unwrap_err(), ParseError::Unparseable);
    }

    #[test]
    fn truncated_multipart_is_detected() {
        let err = parse(
            "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--XYZ\r\nContent-Type: application/pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK",
        )
        .unwrap_err();
        assert_eq!(err, ParseError::TruncatedMime("XYZ".into()));
    }

    #[test]
    fn oversized_is_rejected_before_parsing() {
        let err = run(b"From: a@b.example\r\n\r\nx", 5_000_000, LIMITS).unwrap_err();
        assert!(matches!(err, ParseError::TooLarge { bytes: 5_000_000, .. }));
    }

    #[test]
    fn undecodable_charset_is_reported() {
        let mut raw = b"From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\nperch".to_vec();
        raw.push(0xe9);
        let m = run(&raw, 0, LIMITS).unwrap();
        assert_eq!(m.decoding_problems.len(), 1, "{:?}", m.decoding_problems);
        assert!(m.decoding_problems[0].contains("x-bogus"));
    }

    #[test]
    fn machine_signals_are_collected() {
        let m = parse(
            "From: MAILER-DAEMON@mx.example\r\nReturn-Path: <>\r\nAuto-Submitted: auto-replied\r\n\
             Precedence: Bulk\r\nList-Id: <x.lists.example>\r\nContent-Type: multipart/report; \
             report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfail\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n",
        )
        .unwrap();
        let s = &m.signals;
        assert!(s.null_return_path && s.report_content);
        assert_eq!(s.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(s.precedence.as_deref(), Some("bulk"));
        assert_eq!(s.list_fields, ["List-Id"]);
    }

    #[test]
    fn attachments_are_listed() {
        let m = parse(
            "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nfoto contatore\r\n--b\r\nContent-Type: image/jpeg; name=\"meter.jpg\"\r\n\
             Content-Disposition: attachment; filename=\"meter.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             /9j/4AAQSkZJRgABAQ==\r\n--b--\r\n",
        )
        .unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].name.as_deref(), Some("meter.jpg"));
        assert_eq!(m.attachments[0].content_type, "image/jpeg");
        assert!(m.attachments[0].size > 0);
    }
}
