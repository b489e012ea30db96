//! Drafts left in a staff mailbox, followed to their end. The watcher looks in Sent for a reply
//! to the customer's message and in Drafts for the draft: a reply with the draft gone is the
//! draft sent (as proposed or edited: who, when, a diff, and the sent text fact-checked, with
//! figures staff typed flagged, never blocked); a reply with the draft still there is the
//! customer answered without it; no draft and no reply, after a grace period, is a discard.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;

use crate::channels::imap::{self, Connection, ImapError, ImapSession, Special};
use crate::channels::oauth::TokenSource;
use crate::config::MailboxSettings;
use crate::domain::Language;
use crate::pipeline::factcheck::{self, Allowlist};
use crate::pipeline::parse;
use crate::store::{ApprovalState, Resolution, Store, StoreError, WaitingApproval};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct ApprovalWatcher {
    channel: String,
    mailbox: MailboxSettings,
    tokens: TokenSource,
    allowlist: Allowlist,
    conn: Option<Connection>,
}

/// What the mailbox shows about one draft.
struct Seen {
    reply: Option<SentReply>,
    draft_present: bool,
}

struct SentReply {
    message_id: Option<String>,
    sent_by: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    text: String,
}

impl ApprovalWatcher {
    pub fn new(mailbox: MailboxSettings, allowlist: Allowlist) -> Self {
        Self {
            channel: format!("imap:{}", mailbox.name),
            tokens: TokenSource::new(mailbox.oauth.clone()),
            mailbox,
            allowlist,
            conn: None,
        }
    }

    /// Runs until `cancel`, checking every `folders.check_seconds`.
    pub async fn run(mut self, store: std::sync::Arc<dyn Store>, cancel: tokio_util::sync::CancellationToken) {
        let every = Duration::from_secs(self.mailbox.folders.check_seconds.max(1));
        loop {
            if let Err(e) = self.check(store.as_ref()).await {
                tracing::warn!(mailbox = %self.channel, error = %crate::privacy::redact(&e.to_string()), "cannot check drafts and sent mail");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass over the drafts still waiting; returns how many were resolved.
    pub async fn check(&mut self, store: &dyn Store) -> Result<usize, WatchError> {
        let waiting = store.waiting_approvals(&self.channel).await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let result = self.check_all(store, &waiting).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn check_all(&mut self, store: &dyn Store, waiting: &[WaitingApproval]) -> Result<usize, WatchError> {
        if self.conn.is_none() {
            self.conn = Some(imap::connect(&self.mailbox.imap, &self.tokens).await?);
        }
        let (conn, allowlist) = (self.conn.as_mut().expect("connected"), &self.allowlist);
        let sent = folder(conn, &self.mailbox.folders.sent, Special::Sent).await?;
        let drafts = folder(conn, &self.mailbox.folders.drafts, Special::Drafts).await?;
        let grace = chrono::Duration::seconds(self.mailbox.folders.discard_grace_seconds as i64);
        let mut resolved = 0;
        for w in waiting {
            let seen = look(conn, &sent, &drafts, w).await?;
            let resolution = match (seen.reply, seen.draft_present) {
                (Some(reply), true) => Some(resolution(w, ApprovalState::AnsweredWithoutDraft, reply, allowlist)),
                (Some(reply), false) => {
                    let state = if same_text(&w.proposal, &reply.text) { ApprovalState::Sent } else { ApprovalState::SentEdited };
                    Some(resolution(w, state, reply, allowlist))
                }
                (None, true) => {
                    if w.missing_since.is_some() {
                        store.draft_missing_since(w.message, None).await?;
                    }
                    None
                }
                (None, false) => match w.missing_since {
                    None => {
                        store.draft_missing_since(w.message, Some(Utc::now())).await?;
                        None
                    }
                    Some(since) if Utc::now() - since >= grace => Some(Resolution {
                        state: ApprovalState::Discarded,
                        sent_message_id: None,
                        sent_by: None,
                        sent_at: None,
                        sent_text: None,
                        diff: None,
                        claims: Vec::new(),
                        unverified_claims: 0,
                    }),
                    Some(_) => None,
                },
            };
            if let Some(r) = resolution {
                tracing::info!(mailbox = %self.channel, message = w.message, state = r.state.as_str(), unverified = r.unverified_claims, "draft resolved");
                store.resolve_approval(w.message, &r).await?;
                resolved += 1;
            }
        }
        Ok(resolved)
    }

}

/// A reply was sent: record it with its diff and the figures in it checked.
fn resolution(w: &WaitingApproval, state: ApprovalState, reply: SentReply, allowlist: &Allowlist) -> Resolution {
    let lang = w.language.as_deref().and_then(|l| l.parse().ok()).unwrap_or(Language::En);
    let check = factcheck::run(&reply.text, &w.facts, allowlist, lang);
    let diff = (state != ApprovalState::Sent).then(|| line_diff(&w.proposal, &reply.text));
    Resolution {
        state,
        sent_message_id: reply.message_id,
        sent_by: reply.sent_by,
        sent_at: reply.sent_at,
        unverified_claims: check.unverified().count(),
        claims: check.claims,
        diff,
        sent_text: Some(reply.text),
    }
}

async fn folder(conn: &mut Connection, configured: &str, special: Special) -> Result<String, ImapError> {
    match configured {
        "auto" | "none" => imap::find_special(conn, special).await,
        name => Ok(name.to_string()),
    }
}

/// Looks in Sent for the newest reply to the customer's message and in Drafts for the draft
/// (or a re-saved version of it, which keeps replying to the same message).
async fn look(conn: &mut Connection, sent: &str, drafts: &str, w: &WaitingApproval) -> Result<Seen, ImapError> {
    let mut reply = None;
    if let Some(inbound) = &w.inbound_message_id {
        let query = format!("HEADER In-Reply-To {}", imap::quoted(&format!("<{inbound}>")));
        conn.run("EXAMINE", async |s: &mut ImapSession| s.examine(sent).await).await?;
        let found = conn.run("UID SEARCH", async |s: &mut ImapSession| s.uid_search(&query).await).await?;
        if let Some(uid) = found.into_iter().max() {
            let set = uid.to_string();
            let raw = conn
                .run("UID FETCH", async |s: &mut ImapSession| {
                    use futures_util::TryStreamExt;
                    let f: Vec<_> = s.uid_fetch(&set, "(UID BODY.PEEK[])").await?.try_collect().await?;
                    Ok::<_, async_imap::error::Error>(f.first().and_then(|f| f.body().map(<[u8]>::to_vec)))
                })
                .await?;
            reply = raw.as_deref().and_then(sent_reply);
        }
    }
    conn.run("EXAMINE", async |s: &mut ImapSession| s.examine(drafts).await).await?;
    let mut draft_present = !imap::find_by_message_id(conn, &w.draft_message_id).await?.is_empty();
    if !draft_present && reply.is_none() {
        if let Some(inbound) = &w.inbound_message_id {
            let query = format!("HEADER In-Reply-To {}", imap::quoted(&format!("<{inbound}>")));
            draft_present = !conn.run("UID SEARCH", async |s: &mut ImapSession| s.uid_search(&query).await).await?.is_empty();
        }
    }
    Ok(Seen { reply, draft_present })
}

/// The reply as sent: who (Sender, else From), when (Date) and the text written now, without
/// quoted history or signature.
fn sent_reply(raw: &[u8]) -> Option<SentReply> {
    let message = MessageParser::default().parse(raw)?;
    let address = |a: Option<&mail_parser::Address<'_>>| a.and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_lowercase);
    let parsed = parse::run(raw, 0, parse::Limits { max_bytes: u64::MAX }).ok()?;
    Some(SentReply {
        message_id: message.message_id().map(String::from),
        sent_by: address(message.sender()).or_else(|| address(message.from())),
        sent_at: message.date().and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        text: parsed.text,
    })
}

fn normalise(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect()
}

pub(crate) fn same_text(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

/// A line diff (longest common subsequence): `- ` lines only in `old`, `+ ` lines only in
/// `new`; unchanged lines are left out.
pub fn line_diff(old: &str, new: &str) -> String {
    let (a, b) = (normalise(old), normalise(new));
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_only_changes() {
        let old = "Gentile cliente,\nla bolletta è di 128,40 €.\nCordiali saluti";
        let new = "Gentile cliente,\nla bolletta è di 128,40 €, scade il 5 dicembre.\nCordiali saluti\nMarco";
        assert_eq!(
            line_diff(old, new),
            "- la bolletta è di 128,40 €.\n+ la bolletta è di 128,40 €, scade il 5 dicembre.\n+ Marco"
        );
        assert_eq!(line_diff(old, old), "");
        assert!(same_text("a  b\n\nc", "a b\nc"));
    }

    #[test]
    fn a_sent_reply_is_read_without_its_quote() {
        let raw = b"From: Support <assistenza@aurora.example>\r\nSender: Paola Neri <paola.neri@aurora.example>\r\n\
            Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x1@aurora.example>\r\nSubject: Re: x\r\n\r\n\
            Gentile cliente, ecco.\r\n\r\nIl giorno 20 nov 2026 Marco ha scritto:\r\n> domanda\r\n";
        let r = sent_reply(raw).unwrap();
        assert_eq!(r.sent_by.as_deref(), Some("paola.neri@aurora.example"));
        assert_eq!(r.text, "Gentile cliente, ecco.");
        assert_eq!(r.message_id.as_deref(), Some("x1@aurora.example"));
        assert!(r.sent_at.is_some());
    }
}
