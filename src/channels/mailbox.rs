//! The sink of a real mailbox: replies and alerts go out over SMTP and a copy is filed in Sent
//! (unless the provider files it itself); drafts for approval are appended to the staff's own
//! Drafts folder, ready to send, and the review note that explains them to a folder of their
//! own. Whether an interrupted delivery got through is answered from those folders.

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::imap::{self, Connection, ImapError, ImapSession, Special};
use super::oauth::TokenSource;
use super::smtp::{SmtpSender, SmtpSetupError};
use super::{DeliveryError, Presence, Sink};
use crate::config::MailboxSettings;
use crate::pipeline::act::OutgoingKind;
use crate::store::OutboxItem;

pub struct MailboxSink {
    mailbox: MailboxSettings,
    tokens: TokenSource,
    smtp: SmtpSender,
    /// Its own IMAP connection (the source's is busy in IDLE), opened on first use.
    imap: Mutex<Option<Connection>>,
}

impl MailboxSink {
    pub fn new(mailbox: MailboxSettings) -> Result<Self, SmtpSetupError> {
        Ok(Self {
            smtp: SmtpSender::new(&mailbox.smtp)?,
            tokens: TokenSource::new(mailbox.oauth.clone()),
            mailbox,
            imap: Mutex::new(None),
        })
    }

    /// Runs `f` on a connected session; a failed call drops the connection so the next one
    /// starts fresh.
    async fn with_imap<T>(&self, f: impl AsyncFnOnce(&mut Connection) -> Result<T, ImapError>) -> Result<T, ImapError> {
        let mut guard = self.imap.lock().await;
        if guard.is_none() {
            *guard = Some(imap::connect(&self.mailbox.imap, &self.tokens).await?);
        }
        let result = f(guard.as_mut().expect("connected")).await;
        if result.is_err() {
            *guard = None;
        }
        result
    }

    /// The folder for a kind of message, by configuration or discovery. `None` for a Sent
    /// folder the provider fills itself.
    async fn folder(&self, conn: &mut Connection, kind: OutgoingKind, for_search: bool) -> Result<Option<String>, ImapError> {
        let f = &self.mailbox.folders;
        let (configured, special) = match kind {
            OutgoingKind::Reply | OutgoingKind::Alert => (f.sent.as_str(), Special::Sent),
            OutgoingKind::Draft => (f.drafts.as_str(), Special::Drafts),
            OutgoingKind::Note => return Ok(Some(f.review.clone())),
        };
        match configured {
            "none" if !for_search => Ok(None),
            "auto" | "none" => imap::find_special(conn, special).await.map(Some),
            name => Ok(Some(name.to_string())),
        }
    }

    async fn deliver_one(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        match item.kind {
            OutgoingKind::Reply | OutgoingKind::Alert => {
                self.smtp.send(&self.tokens, &self.mailbox.address, &item.recipient, &item.raw).await?;
                crate::crashpoint!("after_smtp_send");
                // The reply is out: a failure to file its copy must not make it look unsent.
                let copy = self
                    .with_imap(async |c| match self.folder(c, item.kind, false).await? {
                        Some(sent) => imap::append(c, &sent, "(\\Seen)", &item.raw, false).await,
                        None => Ok(()),
                    })
                    .await;
                if let Err(e) = copy {
                    tracing::error!(mailbox = %self.mailbox.name, outbox = item.id, error = %crate::privacy::redact(&e.to_string()), "sent, but the copy in Sent could not be filed");
                }
                Ok(())
            }
            OutgoingKind::Draft | OutgoingKind::Note => {
                // A note routed to a team is mailed to it; every note is also filed beside the draft.
                if item.kind == OutgoingKind::Note && item.recipient != self.mailbox.address {
                    self.smtp.send(&self.tokens, &self.mailbox.address, &item.recipient, &item.raw).await?;
                }
                self.file(item).await
            }
        }
    }

    async fn file(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        self.with_imap(async |c| {
            let folder = self.folder(c, item.kind, false).await?.expect("drafts and notes always have a folder");
            let (flags, create) = if item.kind == OutgoingKind::Draft { ("(\\Draft \\Seen)", false) } else { ("()", true) };
            imap::append(c, &folder, flags, &item.raw, create).await
        })
        .await
        .map_err(|e| DeliveryError::Transient(e.to_string()))
    }

}

#[async_trait]
impl Sink for MailboxSink {
    async fn deliver(&self, items: &[OutboxItem]) -> Vec<Result<(), DeliveryError>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.deliver_one(item).await);
        }
        out
    }

    async fn delivered(&self, item: &OutboxItem) -> Result<Presence, DeliveryError> {
        let id = item.rfc_message_id.to_string();
        let found = self
            .with_imap(async |c| {
                let Some(folder) = self.folder(c, item.kind, true).await? else { return Ok(false) };
                let examined = c.run("EXAMINE", async |s: &mut ImapSession| s.examine(&folder).await).await;
                match examined {
                    Ok(_) => Ok(!imap::find_by_message_id(c, &id).await?.is_empty()),
                    // The review folder is created on first use.
                    Err(_) if item.kind == OutgoingKind::Note => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| DeliveryError::Transient(e.to_string()))?;
        Ok(match (found, item.kind) {
            (true, _) => Presence::Delivered,
            // APPEND is atomic: absent means it never happened.
            (false, OutgoingKind::Draft | OutgoingKind::Note) => Presence::NotDelivered,
            // An SMTP transaction cut off before its answer may have gone through.
            (false, OutgoingKind::Reply | OutgoingKind::Alert) => Presence::Unknown,
        })
    }
}
