//! IMAP: connecting (TLS, STARTTLS, or plain on loopback only), authenticating (LOGIN, PLAIN,
//! XOAUTH2), finding the Sent and Drafts folders, and the commands the source and the mailbox
//! sink share. Every command has a timeout, so a silent server cannot stall a mailbox forever.

pub mod source;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::oauth::{OAuthError, TokenSource, xoauth2_response};
use super::tls::{self, TlsError};
use crate::config::{AuthMethod, ImapSettings, Security};

/// How long any single IMAP command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {host}:{port}: {message}")]
    Connect { host: String, port: u16, message: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("TLS handshake with {host} failed: {message}")]
    Handshake { host: String, message: String },
    #[error("{host} refused the login of {user}: {message} (check imap.username and the password or token)")]
    Auth { host: String, user: String, message: String },
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error("{host}: {command} failed: {message}")]
    Command { host: String, command: String, message: String },
    #[error("{host}: {command} got no answer within {seconds} s")]
    Timeout { host: String, command: String, seconds: u64 },
    #[error("{host} has no folder {folder}")]
    NoFolder { host: String, folder: String },
}

/// A connection that is TLS or, on loopback only, plain.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type ImapSession = Session<Stream>;

/// A logged-in session and what the server can do.
pub struct Connection {
    pub session: ImapSession,
    pub capabilities: Vec<String>,
    pub host: String,
}

impl Connection {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.eq_ignore_ascii_case(capability))
    }

    /// Runs one command future with the command timeout, naming it in errors.
    pub async fn run<T, E: std::fmt::Display>(
        &mut self,
        command: &str,
        f: impl AsyncFnOnce(&mut ImapSession) -> Result<T, E>,
    ) -> Result<T, ImapError> {
        let host = self.host.clone();
        let result = tokio::time::timeout(COMMAND_TIMEOUT, f(&mut self.session)).await;
        // Unsolicited responses (EXISTS, EXPUNGE, FETCH) pile up in a bounded channel and are
        // dropped when it is full; nothing here needs them, IDLE reads its own.
        while self.session.unsolicited_responses.try_recv().is_ok() {}
        match result {
            Err(_) => Err(ImapError::Timeout { host, command: command.into(), seconds: COMMAND_TIMEOUT.as_secs() }),
            Ok(Err(e)) => Err(ImapError::Command { host, command: command.into(), message: e.to_string() }),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

struct Sasl(String);

impl async_imap::Authenticator for Sasl {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.0.clone()
    }
}

/// Connects, secures and logs in.
pub async fn connect(s: &ImapSettings, tokens: &TokenSource) -> Result<Connection, ImapError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((s.host.as_str(), s.port)))
        .await
        .map_err(|_| ImapError::Connect { host: s.host.clone(), port: s.port, message: "timed out".into() })?
        .map_err(|e| ImapError::Connect { host: s.host.clone(), port: s.port, message: e.to_string() })?;
    tcp.set_nodelay(true).ok();
    let client = match s.security {
        Security::Tls => greeted(Client::new(Stream::Tls(Box::new(handshake(s, tcp).await?))), &s.host).await?,
        Security::Plain => {
            // Configuration validation refuses plain for anything but loopback; check again
            // here, where the password would otherwise go out in clear.
            if !crate::config::is_loopback(&s.host) {
                return Err(ImapError::Connect { host: s.host.clone(), port: s.port, message: "plain IMAP is only allowed on loopback".into() });
            }
            greeted(Client::new(Stream::Plain(tcp)), &s.host).await?
        }
        Security::Starttls => {
            let mut plain = greeted(Client::new(Stream::Plain(tcp)), &s.host).await?;
            tokio::time::timeout(COMMAND_TIMEOUT, plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| timeout(&s.host, "STARTTLS"))?
                .map_err(|e| command(&s.host, "STARTTLS", e))?;
            let Stream::Plain(tcp) = plain.into_inner() else { unreachable!("STARTTLS starts from a plain stream") };
            Client::new(Stream::Tls(Box::new(handshake(s, tcp).await?)))
        }
    };
    let login = async {
        match s.auth {
            AuthMethod::Login => {
                let password = s.password.as_ref().map(|p| p.expose()).unwrap_or_default();
                client.login(&s.username, password).await.map_err(|(e, _)| e)
            }
            AuthMethod::Plain => {
                let password = s.password.as_ref().map(|p| p.expose()).unwrap_or_default();
                let sasl = Sasl(format!("\0{}\0{password}", s.username));
                client.authenticate("PLAIN", sasl).await.map_err(|(e, _)| e)
            }
            AuthMethod::Xoauth2 => {
                let token = tokens.bearer().await.map_err(|e| async_imap::error::Error::Bad(e.to_string()))?;
                let sasl = Sasl(xoauth2_response(&s.username, &token));
                client.authenticate("XOAUTH2", sasl).await.map_err(|(e, _)| e)
            }
        }
    };
    let mut session = match tokio::time::timeout(COMMAND_TIMEOUT, login).await {
        Err(_) => return Err(timeout(&s.host, "LOGIN")),
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            if s.auth == AuthMethod::Xoauth2 {
                // The token may have been revoked: fetch a fresh one next time.
                tokens.invalidate().await;
            }
            return Err(ImapError::Auth { host: s.host.clone(), user: s.username.clone(), message: e.to_string() });
        }
    };
    let capabilities = tokio::time::timeout(COMMAND_TIMEOUT, session.capabilities())
        .await
        .map_err(|_| timeout(&s.host, "CAPABILITY"))?
        .map_err(|e| command(&s.host, "CAPABILITY", e))?
        .iter()
        .map(|c| match c {
            async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
            async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
            async_imap::types::Capability::Atom(a) => a.to_string(),
        })
        .collect();
    Ok(Connection { session, capabilities, host: s.host.clone() })
}

async fn handshake(s: &ImapSettings, tcp: TcpStream) -> Result<TlsStream<TcpStream>, ImapError> {
    let config = tls::client_config(s.ca_file.as_deref())?;
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(tls::server_name(&s.host)?, tcp))
        .await
        .map_err(|_| ImapError::Handshake { host: s.host.clone(), message: "timed out".into() })?
        .map_err(|e| ImapError::Handshake { host: s.host.clone(), message: e.to_string() })
}

/// Reads the server greeting, which async-imap leaves to the caller.
async fn greeted(mut client: Client<Stream>, host: &str) -> Result<Client<Stream>, ImapError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, client.read_response()).await {
        Err(_) => Err(timeout(host, "greeting")),
        Ok(Err(e)) => Err(command(host, "greeting", e)),
        Ok(Ok(None)) => Err(command(host, "greeting", "connection closed")),
        Ok(Ok(Some(_))) => Ok(client),
    }
}

fn timeout(host: &str, command: &str) -> ImapError {
    ImapError::Timeout { host: host.into(), command: command.into(), seconds: COMMAND_TIMEOUT.as_secs() }
}

fn command(host: &str, cmd: &str, e: impl std::fmt::Display) -> ImapError {
    ImapError::Command { host: host.into(), command: cmd.into(), message: e.to_string() }
}

/// Which special folder to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Sent,
    Drafts,
}

/// Usual names when the server does not announce SPECIAL-USE (RFC 6154), in the four
/// languages and for the big providers.
fn usual_names(special: Special) -> &'static [&'static str] {
    match special {
        Special::Sent => &[
            "Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail", "INBOX.Sent", "INBOX/Sent",
            "Posta inviata", "Elementi inviati", "Inviata", "Inviati", "Enviados", "Elementos enviados",
            "Correo enviado", "Éléments envoyés", "Envoyés", "Messages envoyés",
        ],
        Special::Drafts => &["Drafts", "[Gmail]/Drafts", "INBOX.Drafts", "INBOX/Drafts", "Bozze", "Borradores", "Brouillons"],
    }
}

/// Finds the Sent or Drafts folder: by SPECIAL-USE attribute first, then by usual name.
pub async fn find_special(conn: &mut Connection, special: Special) -> Result<String, ImapError> {
    let folders: Vec<(String, bool)> = conn
        .run("LIST", async |s: &mut ImapSession| {
            let names: Vec<_> = s.list(Some(""), Some("*")).await?.try_collect().await?;
            Ok::<_, async_imap::error::Error>(
                names
                    .iter()
                    .map(|n| {
                        let marked = n.attributes().iter().any(|a| {
                            matches!(
                                (special, a),
                                (Special::Sent, async_imap::types::NameAttribute::Sent)
                                    | (Special::Drafts, async_imap::types::NameAttribute::Drafts)
                            )
                        });
                        (n.name().to_string(), marked)
                    })
                    .collect(),
            )
        })
        .await?;
    if let Some((name, _)) = folders.iter().find(|(_, marked)| *marked) {
        return Ok(name.clone());
    }
    for usual in usual_names(special) {
        if let Some((name, _)) = folders.iter().find(|(n, _)| n.eq_ignore_ascii_case(usual)) {
            return Ok(name.clone());
        }
    }
    Err(ImapError::NoFolder { host: conn.host.clone(), folder: format!("{special:?} (no SPECIAL-USE attribute, no usual name)") })
}

/// Quotes a string for an IMAP command (RFC 3501 quoted string).
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// UIDs of messages in the selected folder whose Message-ID header is `message_id`.
pub async fn find_by_message_id(conn: &mut Connection, message_id: &str) -> Result<Vec<u32>, ImapError> {
    let query = format!("HEADER Message-ID {}", quoted(&format!("<{message_id}>")));
    let uids = conn.run("UID SEARCH", async |s: &mut ImapSession| s.uid_search(&query).await).await?;
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Appends `raw` to `folder` with `flags` (e.g. `(\Seen)`), creating the folder if it does not
/// exist yet (review notes go to a folder of our own).
pub async fn append(conn: &mut Connection, folder: &str, flags: &str, raw: &[u8], create: bool) -> Result<(), ImapError> {
    let first = conn.run("APPEND", async |s: &mut ImapSession| s.append(folder, Some(flags), None, raw).await).await;
    match first {
        Err(ImapError::Command { .. }) if create => {
            conn.run("CREATE", async |s: &mut ImapSession| s.create(folder).await).await?;
            let _ = conn.run("SUBSCRIBE", async |s: &mut ImapSession| s.subscribe(folder).await).await;
            conn.run("APPEND", async |s: &mut ImapSession| s.append(folder, Some(flags), None, raw).await).await
        }
        other => other,
    }
}
