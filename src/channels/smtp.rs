//! SMTP out (lettre): TLS, STARTTLS, or plain on loopback; PLAIN, LOGIN or XOAUTH2. The raw
//! message composed by the act stage is sent as is, so its threading and Auto-Submitted
//! headers reach the recipient unchanged.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Mutex;

use super::DeliveryError;
use super::oauth::TokenSource;
use super::tls;
use crate::config::{AuthMethod, Security, SmtpSettings};
use crate::domain::EmailAddress;

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("SMTP TLS settings for {host}: {message}")]
    Params { host: String, message: String },
}

pub struct SmtpSender {
    settings: SmtpSettings,
    tls: Tls,
    /// The transport, rebuilt when an XOAUTH2 token changes (lettre fixes credentials at build).
    transport: Mutex<Option<(String, AsyncSmtpTransport<Tokio1Executor>)>>,
}

impl SmtpSender {
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpSetupError> {
        let params = || -> Result<TlsParameters, SmtpSetupError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(ca) = &settings.ca_file {
                for der in tls::der_certificates(ca)? {
                    let cert = Certificate::from_der(der)
                        .map_err(|e| SmtpSetupError::Params { host: settings.host.clone(), message: e.to_string() })?;
                    builder = builder.add_root_certificate(cert);
                }
            }
            builder.build_rustls().map_err(|e| SmtpSetupError::Params { host: settings.host.clone(), message: e.to_string() })
        };
        let tls = match settings.security {
            Security::Tls => Tls::Wrapper(params()?),
            Security::Starttls => Tls::Required(params()?),
            Security::Plain => Tls::None,
        };
        Ok(Self { settings: settings.clone(), tls, transport: Mutex::new(None) })
    }

    /// Sends `raw` from `from` to `to`. A 5xx answer is permanent; everything else (4xx,
    /// timeouts, connection failures) is worth retrying.
    pub async fn send(&self, tokens: &TokenSource, from: &EmailAddress, to: &EmailAddress, raw: &[u8]) -> Result<(), DeliveryError> {
        let transport = self.transport(tokens).await?;
        let envelope = Envelope::new(
            Some(from.as_str().parse().map_err(|e| DeliveryError::Permanent(format!("sender {from}: {e}")))?),
            vec![to.as_str().parse().map_err(|e| DeliveryError::Permanent(format!("recipient {to}: {e}")))?],
        )
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        match transport.send_raw(&envelope, raw).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!("{}: {e}", self.settings.host))),
            Err(e) => {
                if self.settings.auth == AuthMethod::Xoauth2 {
                    tokens.invalidate().await;
                }
                *self.transport.lock().await = None;
                Err(DeliveryError::Transient(format!("{}: {e}", self.settings.host)))
            }
        }
    }

    async fn transport(&self, tokens: &TokenSource) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        let s = &self.settings;
        let secret = match (&s.username, s.auth) {
            (None, _) => String::new(),
            (Some(_), AuthMethod::Xoauth2) => tokens.bearer().await.map_err(|e| DeliveryError::Transient(e.to_string()))?.expose().to_string(),
            (Some(_), _) => s.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default(),
        };
        let mut cached = self.transport.lock().await;
        if let Some((key, transport)) = cached.as_ref() {
            if *key == secret {
                return Ok(transport.clone());
            }
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(self.tls.clone())
            .timeout(Some(Duration::from_secs(s.timeout_seconds)));
        if let Some(user) = &s.username {
            let mechanism = match s.auth {
                AuthMethod::Login => Mechanism::Login,
                AuthMethod::Plain => Mechanism::Plain,
                AuthMethod::Xoauth2 => Mechanism::Xoauth2,
            };
            builder = builder.credentials(Credentials::new(user.clone(), secret.clone())).authentication(vec![mechanism]);
        }
        let transport = builder.build();
        *cached = Some((secret, transport.clone()));
        Ok(transport)
    }
}
