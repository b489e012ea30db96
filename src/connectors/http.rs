//! The HTTP plumbing under the CIS and OMS clients (grounding data from the utility's systems
//! over `openapi/utility-systems.json`): one reqwest client per system, a per-attempt timeout
//! inside an overall deadline, short retries where a retry can help, the bearer token, and a
//! short cache of GET answers that the live twin (the check before a send) never uses.

use crate::text::error_chain as chain;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::ConnectorError;
use crate::config::HttpConnectorSettings;

/// The HTTP client of a system cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("{section}.base_url: expected the URL of the system (http chosen, but no base_url)")]
    NoBaseUrl { section: &'static str },
    #[error("{section}.base_url: `{url}` cannot be a base URL: {message}")]
    BadUrl { section: &'static str, url: String, message: String },
    #[error("{section}.token: the token cannot be sent in an HTTP header (control characters?)")]
    BadToken { section: &'static str },
    #[error("{section}.ca_file: cannot read CA certificates from {path}: {message}")]
    CaFile { section: &'static str, path: String, message: String },
    #[error("{section}: the HTTP client cannot be built: {message}")]
    Client { section: &'static str, message: String },
}

/// A connector with a cache and its uncached twin over the same HTTP client.
pub struct Twins<T> {
    pub cached: T,
    /// Reads the system every time: for the check right before a reply is sent.
    pub live: T,
}

/// Bodies larger than this are refused: a bill PDF is far smaller, and a runaway answer must
/// not fill the worker's memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The cache never holds more than this many bytes of answers, whatever `cache_entries` says.
const MAX_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Answers larger than this are not cached (a long statement is a few kilobytes).
const MAX_CACHED_ANSWER_BYTES: usize = 1024 * 1024;
/// The first retry waits this long, each further one twice as long (plus up to half again).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One system over HTTP: where it is, how to reach it, and how long to wait for it.
#[derive(Clone)]
pub(crate) struct HttpSystem {
    /// Recorded as the source of facts and named in errors (`cis.http`).
    pub system: &'static str,
    /// The settings section, named in errors so people know what to check.
    section: &'static str,
    http: reqwest::Client,
    base: Url,
    /// `Bearer <token>`, marked sensitive so it never shows in debug output.
    auth: Option<HeaderValue>,
    timeout: Duration,
    deadline: Duration,
    retries: u32,
    cache: Option<Arc<Cache>>,
}

/// One request of the contract.
pub(crate) struct Call<'a> {
    /// What is asked, for errors and logs (`customer lookup`); never the URL, which carries
    /// personal data (e-mail addresses, account numbers) in its path or query.
    pub endpoint: &'static str,
    method: Method,
    path: &'a [&'a str],
    query: Option<(&'a str, &'a str)>,
    accept: &'static str,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&'a str>,
    cacheable: bool,
}

impl<'a> Call<'a> {
    /// A GET of JSON, cached when the system has a cache.
    pub fn get(endpoint: &'static str, path: &'a [&'a str]) -> Self {
        Call { endpoint, method: Method::GET, path, query: None, accept: "application/json", body: None, idempotency_key: None, cacheable: true }
    }

    /// A GET of a document (a bill PDF): large and asked once per reply, so never cached.
    pub fn document(endpoint: &'static str, path: &'a [&'a str], accept: &'static str) -> Self {
        Call { accept, cacheable: false, ..Call::get(endpoint, path) }
    }

    /// A POST of JSON that the system deduplicates by `key`, so a retry cannot act twice.
    pub fn idempotent_post(endpoint: &'static str, path: &'a [&'a str], body: Vec<u8>, key: &'a str) -> Self {
        Call { method: Method::POST, body: Some(body), idempotency_key: Some(key), cacheable: false, ..Call::get(endpoint, path) }
    }

    pub fn query(mut self, name: &'a str, value: &'a str) -> Self {
        self.query = Some((name, value));
        self
    }
}

/// An answer the caller decides about: a 2xx, or a 404 (which means "none" for some calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn not_found(&self) -> bool {
        self.status == 404
    }
}

impl HttpSystem {
    /// The cached system and its live twin, sharing one reqwest client (one connection pool).
    pub fn twins(system: &'static str, section: &'static str, s: &HttpConnectorSettings) -> Result<Twins<Self>, HttpSetupError> {
        let raw = s.base_url.as_deref().filter(|u| !u.trim().is_empty()).ok_or(HttpSetupError::NoBaseUrl { section })?;
        let base = base_url(raw).map_err(|message| HttpSetupError::BadUrl { section, url: raw.to_string(), message })?;
        let auth = match &s.token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| HttpSetupError::BadToken { section })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let live = HttpSystem {
            system,
            section,
            http: client(section, s)?,
            base,
            auth,
            timeout: Duration::from_millis(s.timeout_ms.max(1)),
            deadline: Duration::from_millis(s.total_timeout_ms.max(1)),
            retries: s.retries,
            cache: None,
        };
        let cache = (s.cache_seconds > 0 && s.cache_entries > 0)
            .then(|| Arc::new(Cache::new(Duration::from_secs(s.cache_seconds), s.cache_entries, MAX_CACHE_BYTES)));
        Ok(Twins { cached: HttpSystem { cache, ..live.clone() }, live })
    }

    /// Sends `call` and returns a 2xx or 404 answer; anything else is an error. GETs are
    /// answered from the cache while fresh, and concurrent identical GETs share one request.
    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, ConnectorError> {
        let started = Instant::now();
        let url = self.url(call);
        let Some(cache) = self.cache.as_ref().filter(|_| call.cacheable) else {
            return self.fetch(call, &url, started).await;
        };
        let key = url.as_str();
        if let Some(hit) = cache.get(key, Instant::now()) {
            return Ok(hit);
        }
        // Whoever asks first fetches; the others wait for the answer it caches.
        let _flight = cache.board(key).await;
        if let Some(hit) = cache.get(key, Instant::now()) {
            return Ok(hit);
        }
        let reply = self.fetch(call, &url, started).await?;
        if reply.status == 200 || reply.not_found() {
            cache.put(key, reply.clone(), Instant::now());
        }
        Ok(reply)
    }

    /// Decodes a JSON answer; the error names the field that does not fit the contract.
    pub fn json<T: DeserializeOwned>(&self, call: &Call<'_>, reply: &Reply) -> Result<T, ConnectorError> {
        let off_contract = |text: String| self.invalid(call, format!("{text} (HTTP {}, {})", reply.status, content_type(reply)));
        let mut de = serde_json::Deserializer::from_slice(&reply.body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let field = if at == "." { String::new() } else { format!("`{at}`: ") };
            off_contract(format!("{field}{}", e.inner()))
        })?;
        de.end().map_err(|e| off_contract(e.to_string()))?;
        Ok(value)
    }

    /// A 404 where the contract has no "none" answer: the account (or the path) is unknown.
    pub fn not_found(&self, call: &Call<'_>, reply: &Reply) -> ConnectorError {
        ConnectorError::Rejected {
            system: self.system,
            status: 404,
            detail: format!(
                "{}: {}; the system does not know what was asked (check {}.base_url if every request gets 404)",
                call.endpoint,
                error_text(&reply.body),
                self.section
            ),
        }
    }

    pub fn invalid(&self, call: &Call<'_>, detail: String) -> ConnectorError {
        ConnectorError::Invalid { system: self.system, detail: format!("{}: {detail}", call.endpoint) }
    }

    fn url(&self, call: &Call<'_>) -> Url {
        let mut url = self.base.clone();
        // `base_url` checked that the URL can have path segments, so this cannot fail.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(call.path);
        }
        if let Some((name, value)) = call.query {
            url.query_pairs_mut().append_pair(name, value);
        }
        url
    }

    /// Attempts until an answer, a failure retrying cannot fix, the last retry or the deadline.
    async fn fetch(&self, call: &Call<'_>, url: &Url, started: Instant) -> Result<Reply, ConnectorError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                // Only after waiting for a request in flight elsewhere (see `send`).
                return Err(self.give_up(call, Failure::TimedOut, attempt - 1, started.elapsed()));
            }
            let limit = self.timeout.min(remaining);
            let failure = match tokio::time::timeout(limit, self.attempt(call, url)).await {
                Err(_) => Failure::TimedOut,
                Ok(Err(failure)) => failure,
                Ok(Ok(answer)) => match classify(answer.status) {
                    Class::Answer => return Ok(answer.reply),
                    Class::Refused => return Err(self.rejected(call, &answer)),
                    Class::Retry => Failure::Status { retry_after: answer.retry_after, reply: answer.reply },
                },
            };
            tracing::debug!(system = self.system, endpoint = call.endpoint, url = %url, attempt, failure = %failure.summary(), "attempt failed");
            let left = self.deadline.saturating_sub(started.elapsed());
            let wait = match failure.retry_after() {
                Some(asked) => asked.max(backoff(attempt)),
                None => backoff(attempt),
            };
            if !failure.retryable() || attempt > self.retries || wait >= left {
                tracing::warn!(system = self.system, endpoint = call.endpoint, attempts = attempt, failure = %failure.summary(), "giving up");
                return Err(self.give_up(call, failure, attempt, started.elapsed()));
            }
            tracing::info!(system = self.system, endpoint = call.endpoint, attempt, failure = %failure.summary(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP exchange, the whole body read (up to `MAX_BODY_BYTES`).
    async fn attempt(&self, call: &Call<'_>, url: &Url) -> Result<Attempt, Failure> {
        let mut request = self.http.request(call.method.clone(), url.clone()).header(header::ACCEPT, call.accept);
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        if let Some(key) = call.idempotency_key {
            request = request.header(HeaderName::from_static("idempotency-key"), key);
        }
        if let Some(body) = &call.body {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let mut response = request.send().await.map_err(Failure::from_transport)?;
        let status = response.status().as_u16();
        let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::from_transport)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Failure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Attempt { reply: Reply { status, content_type, body }, retry_after, status })
    }

    fn rejected(&self, call: &Call<'_>, attempt: &Attempt) -> ConnectorError {
        let status = attempt.status;
        let server = error_text(&attempt.reply.body);
        let hint = match status {
            401 => format!("the token was not accepted: check {}.token", self.section),
            403 => "the token is not allowed to read this: check its permissions in the system".to_string(),
            300..=399 => format!("the system redirects elsewhere: check {}.base_url (https? the path prefix?)", self.section),
            _ => "the system reads this request differently from the contract: check its version against openapi/utility-systems.json".to_string(),
        };
        ConnectorError::Rejected { system: self.system, status, detail: format!("{}: {server}; {hint}", call.endpoint) }
    }

    /// The error for the last failure, once no further attempt will be made, `elapsed` after
    /// the call began.
    fn give_up(&self, call: &Call<'_>, failure: Failure, attempts: u32, elapsed: Duration) -> ConnectorError {
        let tries = if attempts == 1 { "1 attempt".to_string() } else { format!("{attempts} attempts") };
        let detail = match failure {
            Failure::TimedOut => {
                // Scheduling can overshoot the deadline by a hair; the deadline is what was allowed.
                let millis = elapsed.min(self.deadline).as_millis() as u64;
                return ConnectorError::Timeout { system: self.system, millis, attempts };
            }
            Failure::TooLarge => {
                return self.invalid(call, format!("the answer is larger than {} MiB", MAX_BODY_BYTES >> 20));
            }
            Failure::Unsendable(e) => format!("{}: the request cannot be built ({e})", call.endpoint),
            Failure::Connect(e) => format!("{}: cannot connect ({e}) after {tries}; check {}.base_url and that the system is running", call.endpoint, self.section),
            Failure::Transport(e) => format!("{}: the exchange failed ({e}) after {tries}", call.endpoint),
            Failure::Status { reply, .. } if reply.status == 429 => {
                format!("{}: too many requests (HTTP 429: {}) after {tries}; the system asks us to slow down", call.endpoint, error_text(&reply.body))
            }
            Failure::Status { reply, .. } => format!("{}: HTTP {} ({}) after {tries}", call.endpoint, reply.status, error_text(&reply.body)),
        };
        ConnectorError::Unavailable { system: self.system, detail }
    }
}

/// The answer of one attempt, with what the retry logic needs from its headers.
struct Attempt {
    reply: Reply,
    status: u16,
    retry_after: Option<Duration>,
}

/// What an HTTP status means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 2xx, or 404 (the caller decides whether it means "none").
    Answer,
    /// 429 and 5xx: the system is overloaded or failing; another attempt may succeed.
    Retry,
    /// Every other status: the same request would get the same answer.
    Refused,
}

fn classify(status: u16) -> Class {
    match status {
        200..=299 | 404 => Class::Answer,
        429 | 500..=599 => Class::Retry,
        _ => Class::Refused,
    }
}

/// Why an attempt failed.
enum Failure {
    /// No answer within the attempt's time.
    TimedOut,
    Connect(String),
    /// The connection broke or the answer could not be read.
    Transport(String),
    /// 429 or 5xx.
    Status { reply: Reply, retry_after: Option<Duration> },
    /// An answer over `MAX_BODY_BYTES`: not the contract's, and it would be again.
    TooLarge,
    /// The request itself cannot be sent (a header value with control characters).
    Unsendable(String),
}

impl Failure {
    fn from_transport(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return Failure::TimedOut;
        }
        let (connect, builder) = (e.is_connect(), e.is_builder());
        let text = chain(&e.without_url());
        match (connect, builder) {
            (_, true) => Failure::Unsendable(text),
            (true, _) => Failure::Connect(text),
            _ => Failure::Transport(text),
        }
    }

    /// Every call we make is safe to repeat (GETs, and POSTs carrying an idempotency key), so
    /// any failure of the exchange is worth another attempt while time is left.
    fn retryable(&self) -> bool {
        !matches!(self, Failure::TooLarge | Failure::Unsendable(_))
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// For logs: what went wrong, without the body (it may name a customer).
    fn summary(&self) -> String {
        match self {
            Failure::TimedOut => "timeout".into(),
            Failure::Connect(e) => format!("cannot connect: {e}"),
            Failure::Transport(e) => format!("transport: {e}"),
            Failure::Status { reply, .. } => format!("HTTP {}", reply.status),
            Failure::TooLarge => "answer too large".into(),
            Failure::Unsendable(e) => format!("cannot build the request: {e}"),
        }
    }
}


/// The wait before retry `attempt` + 1: doubling from `FIRST_BACKOFF`, capped, with jitter so
/// several workers do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(8)).min(MAX_BACKOFF);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// `Retry-After` in seconds (the HTTP-date form is not worth a date parser here).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The server's `{"error": "..."}` text, or the start of whatever it sent, on one line.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => e.error,
        Err(_) if body.is_empty() => return "no error text".into(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = clean.trim();
    match clean.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &clean[..cut]),
        None => clean.to_string(),
    }
}

fn content_type(reply: &Reply) -> String {
    reply.content_type.as_deref().map_or_else(|| "no content-type".to_string(), |t| format!("content-type {t}"))
}

/// The base URL with a path the contract's paths can be appended to.
fn base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("expected an http:// or https:// URL".into());
    }
    if url.cannot_be_a_base() || url.query().is_some() {
        return Err("expected a URL without ?query".into());
    }
    Ok(url)
}

fn client(section: &'static str, s: &HttpConnectorSettings) -> Result<reqwest::Client, HttpSetupError> {
    // reqwest is built without a crypto provider of its own: ring must be the one it finds.
    crate::channels::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(s.timeout_ms.max(1)))
        // A contract endpoint never redirects; following one would carry the token elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &s.ca_file {
        let err = |message: String| HttpSetupError::CaFile { section, path: path.display().to_string(), message };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("no certificate found".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpSetupError::Client { section, message: chain(&e) })
}

/// Recent GET answers by URL, for `ttl`; at most `max_entries` answers and `max_bytes` bytes,
/// the oldest evicted first. With one TTL for all, the oldest stored is also the first to
/// expire, so a queue in storing order serves both expiry and eviction.
pub(crate) struct Cache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<CacheInner>,
    /// Requests in flight by URL: a second asker waits for the first one's answer.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, (Reply, Instant)>,
    /// Keys in storing order, with when they were stored (an older duplicate of a key that
    /// was stored again is skipped when it comes up).
    order: VecDeque<(String, Instant)>,
    bytes: usize,
}

/// Holds a URL's flight until dropped; the last one out removes it from the board.
pub(crate) struct Flight<'a> {
    cache: &'a Cache,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        let lock = tokio::sync::OwnedMutexGuard::mutex(&guard).clone();
        drop(guard);
        let mut flights = self.cache.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Held by the board and by `lock` alone: nobody else is waiting.
        if Arc::strong_count(&lock) <= 2 {
            flights.remove(&self.key);
        }
    }
}

impl Cache {
    pub fn new(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        Self { ttl, max_entries, max_bytes, inner: Mutex::default(), flights: Mutex::default() }
    }

    /// A poisoned lock only means another task panicked mid-update; the map is still sound.
    fn inner(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str, now: Instant) -> Option<Reply> {
        let mut inner = self.inner();
        let (reply, stored) = inner.entries.get(key)?;
        if now.saturating_duration_since(*stored) < self.ttl {
            return Some(reply.clone());
        }
        let size = reply.body.len();
        inner.entries.remove(key);
        inner.bytes -= size;
        None
    }

    pub fn put(&self, key: &str, reply: Reply, now: Instant) {
        let size = reply.body.len();
        if size > MAX_CACHED_ANSWER_BYTES || size > self.max_bytes {
            return;
        }
        let mut inner = self.inner();
        if let Some((old, _)) = inner.entries.remove(key) {
            inner.bytes -= old.body.len();
        }
        self.expire(&mut inner, now);
        while inner.entries.len() >= self.max_entries || inner.bytes + size > self.max_bytes {
            if !Self::evict_oldest(&mut inner) {
                break;
            }
        }
        inner.bytes += size;
        inner.entries.insert(key.to_string(), (reply, now));
        inner.order.push_back((key.to_string(), now));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    /// Drops the answers that have expired (they are at the front of the queue).
    fn expire(&self, inner: &mut CacheInner, now: Instant) {
        while inner.order.front().is_some_and(|(_, at)| now.saturating_duration_since(*at) >= self.ttl) {
            Self::evict_oldest(inner);
        }
    }

    /// Removes the oldest queued answer; false when the queue is empty.
    fn evict_oldest(inner: &mut CacheInner) -> bool {
        let Some((key, at)) = inner.order.pop_front() else { return false };
        // A key stored again since is queued again further back: only its latest entry counts.
        let current = inner.entries.get(&key).is_some_and(|(_, stored)| *stored == at);
        if current && let Some((old, _)) = inner.entries.remove(&key) {
            inner.bytes -= old.body.len();
        }
        true
    }

    /// Waits until no other request for `key` is in flight, and holds the flight until the
    /// returned value is dropped.
    pub async fn board(&self, key: &str) -> Flight<'_> {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(key.to_string()).or_default().clone()
        };
        Flight { cache: self, key: key.to_string(), guard: Some(lock.lock_owned().await) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &str) -> Reply {
        Reply { status: 200, content_type: Some("application/json".into()), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn a_cached_answer_expires_after_its_ttl() {
        let cache = Cache::new(Duration::from_secs(30), 10, 1 << 20);
        let t0 = Instant::now();
        cache.put("a", reply("1"), t0);
        assert_eq!(cache.get("a", t0 + Duration::from_secs(29)), Some(reply("1")));
        assert_eq!(cache.get("a", t0 + Duration::from_secs(30)), None);
        assert_eq!(cache.len(), 0, "an expired answer is dropped when seen");
    }

    #[test]
    fn the_cache_keeps_at_most_its_entries_and_bytes_oldest_out_first() {
        let cache = Cache::new(Duration::from_secs(30), 3, 1 << 20);
        let t0 = Instant::now();
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            cache.put(key, reply(key), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", t0), None);
        assert!(cache.get("d", t0).is_some());
        // Storing a key again refreshes it: it is no longer the oldest.
        cache.put("b", reply("b2"), t0 + Duration::from_millis(10));
        cache.put("e", reply("e"), t0 + Duration::from_millis(11));
        assert_eq!(cache.get("b", t0), Some(reply("b2")));
        assert_eq!(cache.get("c", t0), None);

        let small = Cache::new(Duration::from_secs(30), 100, 10);
        small.put("x", reply("12345"), t0);
        small.put("y", reply("123456"), t0);
        assert_eq!((small.get("x", t0), small.len()), (None, 1), "over the byte budget the oldest goes");
        small.put("z", reply("12345678901"), t0);
        assert_eq!(small.get("z", t0), None, "an answer larger than the whole budget is not kept");
    }

    #[test]
    fn expired_answers_make_room_before_live_ones_are_evicted() {
        let cache = Cache::new(Duration::from_secs(1), 2, 1 << 20);
        let t0 = Instant::now();
        cache.put("old", reply("o"), t0);
        cache.put("new", reply("n"), t0 + Duration::from_millis(900));
        cache.put("newer", reply("m"), t0 + Duration::from_millis(1500));
        assert!(cache.get("new", t0 + Duration::from_millis(1500)).is_some());
        assert!(cache.get("newer", t0 + Duration::from_millis(1500)).is_some());
    }

    #[test]
    fn retries_happen_on_429_and_5xx_only() {
        for status in [200, 201, 204, 404] {
            assert_eq!(classify(status), Class::Answer, "{status}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(classify(status), Class::Retry, "{status}");
        }
        for status in [301, 302, 400, 401, 403, 405, 409, 415, 422] {
            assert_eq!(classify(status), Class::Refused, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 1..=12 {
            let base = FIRST_BACKOFF.saturating_mul(1 << (attempt - 1).min(8)).min(MAX_BACKOFF);
            let wait = backoff(attempt);
            assert!(wait >= base && wait <= base + base / 2, "attempt {attempt}: {wait:?}");
        }
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    }

    fn system(base: &str) -> HttpSystem {
        let settings = HttpConnectorSettings {
            base_url: Some(base.into()),
            token: Some(crate::secret::Secret::new("s3cret-token")),
            ..HttpConnectorSettings::default()
        };
        HttpSystem::twins("cis.http", "connectors.cis_http", &settings).unwrap().cached
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_what_they_carry() {
        let s = system("https://cis.utility.example/api/");
        let call = Call::get("customer lookup", &["cis", "v1", "customers"]).query("phone", "+39 333 1234567");
        assert_eq!(s.url(&call).as_str(), "https://cis.utility.example/api/cis/v1/customers?phone=%2B39+333+1234567");
        let s = system("http://127.0.0.1:8081");
        let call = Call::get("invoice PDF", &["cis", "v1", "accounts", "40000001", "invoices", "F/1 2", "pdf"]);
        assert_eq!(s.url(&call).as_str(), "http://127.0.0.1:8081/cis/v1/accounts/40000001/invoices/F%2F1%202/pdf");
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let s = system("https://cis.utility.example");
        let auth = s.auth.as_ref().unwrap();
        assert!(auth.is_sensitive());
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn setup_errors_name_the_key() {
        let mut settings = HttpConnectorSettings::default();
        let err = |s: &HttpConnectorSettings| HttpSystem::twins("oms.http", "connectors.oms_http", s).err().unwrap().to_string();
        assert!(err(&settings).contains("connectors.oms_http.base_url"));
        settings.base_url = Some("https://oms.utility.example".into());
        settings.ca_file = Some("/nonexistent/ca.pem".into());
        let e = err(&settings);
        assert!(e.contains("connectors.oms_http.ca_file") && e.contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn errors_say_what_failed_and_what_to_check() {
        let s = system("https://cis.utility.example");
        let call = Call::get("statement", &["cis", "v1", "accounts", "40000001", "statement"]);
        let answer = |status: u16, body: &str| Attempt { reply: Reply { status, content_type: None, body: body.as_bytes().to_vec() }, status, retry_after: None };
        let e = s.rejected(&call, &answer(401, r#"{"error": "bad token"}"#)).to_string();
        assert_eq!(e, "cis.http refused the request with HTTP 401: statement: bad token; the token was not accepted: check connectors.cis_http.token");
        let e = s.rejected(&call, &answer(400, "")).to_string();
        assert!(e.contains("HTTP 400: statement: no error text;") && e.contains("openapi/utility-systems.json"), "{e}");
        let e = s.give_up(&call, Failure::Connect("connection refused".into()), 3, Duration::from_millis(400)).to_string();
        assert_eq!(
            e,
            "cis.http is unavailable: statement: cannot connect (connection refused) after 3 attempts; check connectors.cis_http.base_url and that the system is running"
        );
        let busy = Failure::Status { reply: Reply { status: 503, content_type: None, body: b"<html>\n busy\n</html>".to_vec() }, retry_after: None };
        assert_eq!(
            s.give_up(&call, busy, 1, Duration::from_millis(30)).to_string(),
            "cis.http is unavailable: statement: HTTP 503 (<html>  busy </html>) after 1 attempt"
        );
        let e = s.give_up(&call, Failure::TimedOut, 3, Duration::from_millis(5_003));
        assert_eq!(e, ConnectorError::Timeout { system: "cis.http", millis: 5_000, attempts: 3 });
        assert_eq!(
            e.to_string(),
            "cis.http did not answer within 5000 ms (3 attempts); check that it is up and reachable, or raise [connectors.cis_http] total_timeout_ms"
        );
        let e = s.give_up(&call, Failure::TimedOut, 1, Duration::from_millis(2_001));
        assert_eq!(e, ConnectorError::Timeout { system: "cis.http", millis: 2_001, attempts: 1 });
        assert!(e.to_string().contains("(1 attempt)"), "{e}");
        let long = "x".repeat(500);
        assert_eq!(error_text(long.as_bytes()).chars().count(), 201);
    }

    #[test]
    fn an_answer_off_the_contract_names_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            items: Vec<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            amount: i64,
        }
        let s = system("https://cis.utility.example");
        let call = Call::get("statement", &["x"]);
        let r = |body: &str| Reply { status: 200, content_type: Some("application/json".into()), body: body.as_bytes().to_vec() };
        let e = s.json::<T>(&call, &r(r#"{"items": [{"amount": 1}, {"amount": "12.50"}]}"#)).unwrap_err().to_string();
        assert!(e.starts_with("cis.http answered with something the contract does not describe: statement: `items[1].amount`: invalid type: string"), "{e}");
        assert!(e.contains("content-type application/json"), "{e}");
        let e = s.json::<T>(&call, &r("<html>login</html>")).unwrap_err().to_string();
        assert!(e.contains("expected value at line 1 column 1"), "{e}");
        let e = s.json::<T>(&call, &r(r#"{"items": []} trailing"#)).unwrap_err().to_string();
        assert!(e.contains("trailing characters"), "{e}");
        assert!(s.json::<T>(&call, &r(r#"{"items": []}"#)).is_ok());
    }
}
