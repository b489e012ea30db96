//! OAuth2 bearer tokens for XOAUTH2 (IMAP and SMTP at Microsoft 365 and Google): a token given
//! in the configuration, or one obtained from the token endpoint with the refresh-token grant
//! (RFC 6749 §6) or the client-credentials grant (§4.4), cached until shortly before it expires.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::OAuthSettings;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("OAuth2 is not configured for this mailbox: add an [oauth] section")]
    NotConfigured,
    #[error("cannot reach the token endpoint {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the token endpoint {url} refused the {grant} grant: {error}{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { url: String, grant: &'static str, error: String, description: Option<String> },
    #[error("the token endpoint {url} answered without an access token: {message}")]
    Malformed { url: String, message: String },
}

/// Tokens are renewed this long before they expire.
const RENEW_MARGIN: Duration = Duration::from_secs(120);

pub struct TokenSource {
    settings: Option<OAuthSettings>,
    http: reqwest::Client,
    cached: Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenSource {
    pub fn new(settings: Option<OAuthSettings>) -> Self {
        // reqwest is built without a provider of its own: make sure ring is the one it finds.
        super::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client with rustls and ring builds");
        Self { settings, http, cached: Mutex::new(None) }
    }

    /// A valid bearer token.
    pub async fn bearer(&self) -> Result<Secret, OAuthError> {
        let settings = self.settings.as_ref().ok_or(OAuthError::NotConfigured)?;
        if let Some(token) = &settings.token {
            return Ok(token.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if Instant::now() + RENEW_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.request(settings).await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Forgets the cached token (after the server rejected it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn request(&self, s: &OAuthSettings) -> Result<(Secret, Duration), OAuthError> {
        let url = s.token_url.clone().ok_or(OAuthError::NotConfigured)?;
        let mut form: Vec<(&str, String)> = Vec::new();
        let grant = match &s.refresh_token {
            Some(rt) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", rt.expose().into()));
                "refresh_token"
            }
            None => {
                form.push(("grant_type", "client_credentials".into()));
                "client_credentials"
            }
        };
        if let Some(id) = &s.client_id {
            form.push(("client_id", id.clone()));
        }
        if let Some(secret) = &s.client_secret {
            form.push(("client_secret", secret.expose().into()));
        }
        if let Some(scope) = &s.scope {
            form.push(("scope", scope.clone()));
        }
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Unreachable { url: url.clone(), message: e.to_string() })?;
        let status = response.status();
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| OAuthError::Malformed { url: url.clone(), message: format!("HTTP {status}: {e}") })?;
        if let Some(error) = body.error {
            return Err(OAuthError::Refused { url, grant, error, description: body.error_description });
        }
        let token = body
            .access_token
            .ok_or_else(|| OAuthError::Malformed { url: url.clone(), message: format!("HTTP {status}, no access_token") })?;
        Ok((Secret::new(token), Duration::from_secs(body.expires_in.unwrap_or(3600))))
    }
}

/// The SASL XOAUTH2 initial response (Google and Microsoft): `user=…^Aauth=Bearer …^A^A`.
pub fn xoauth2_response(user: &str, token: &Secret) -> String {
    format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A token endpoint that follows RFC 6749 §5: answers each request with the next response
    /// and hands the request bodies back for inspection.
    async fn token_endpoint(responses: Vec<(u16, &'static str)>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut bodies = Vec::new();
            for (status, body) in responses {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                loop {
                    read += conn.read(&mut buf[read..]).await.unwrap();
                    let text = String::from_utf8_lossy(&buf[..read]).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                            .unwrap_or(0);
                        if rest.len() >= len {
                            bodies.push(rest.to_string());
                            break;
                        }
                    }
                }
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(reply.as_bytes()).await.unwrap();
            }
            bodies
        });
        (url, task)
    }

    fn settings(url: &str, refresh: Option<&str>) -> OAuthSettings {
        OAuthSettings {
            token: None,
            token_url: Some(url.into()),
            client_id: Some("switchyard".into()),
            client_secret: Some(Secret::new("s3cret")),
            refresh_token: refresh.map(Secret::new),
            scope: Some("https://outlook.office365.com/.default".into()),
        }
    }

    #[tokio::test]
    async fn refresh_token_grant_is_used_and_cached() {
        let (url, server) = token_endpoint(vec![(200, r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600}"#)]).await;
        let source = TokenSource::new(Some(settings(&url, Some("rt-1"))));
        assert_eq!(source.bearer().await.unwrap().expose(), "at-1");
        assert_eq!(source.bearer().await.unwrap().expose(), "at-1", "second call served from the cache");
        let bodies = server.await.unwrap();
        assert_eq!(bodies.len(), 1);
        assert!(bodies[0].contains("grant_type=refresh_token") && bodies[0].contains("refresh_token=rt-1"), "{}", bodies[0]);
    }

    #[tokio::test]
    async fn client_credentials_and_refusals_are_explained() {
        let (url, server) = token_endpoint(vec![
            (400, r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#),
        ])
        .await;
        let source = TokenSource::new(Some(settings(&url, None)));
        let err = source.bearer().await.unwrap_err().to_string();
        assert!(err.contains("client_credentials") && err.contains("invalid_client") && err.contains("Invalid client secret"), "{err}");
        assert!(server.await.unwrap()[0].contains("grant_type=client_credentials"));
    }

    #[tokio::test]
    async fn a_configured_token_is_used_as_is() {
        let s = OAuthSettings { token: Some(Secret::new("fixed")), token_url: None, client_id: None, client_secret: None, refresh_token: None, scope: None };
        assert_eq!(TokenSource::new(Some(s)).bearer().await.unwrap().expose(), "fixed");
        assert!(matches!(TokenSource::new(None).bearer().await, Err(OAuthError::NotConfigured)));
    }

    #[test]
    fn xoauth2_initial_response() {
        assert_eq!(xoauth2_response("a@b.example", &Secret::new("tok")), "user=a@b.example\x01auth=Bearer tok\x01\x01");
    }
}
