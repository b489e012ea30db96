//! Outgoing webhooks: after the pipeline has committed a fact and its event (see
//! [`crate::store::events`]), the dispatcher POSTs the event, signed, to every `[[webhooks]]`
//! receiver that wants it, retrying with backoff up to `max_attempts`. It runs beside the
//! worker and never holds it up; what it has done lives in the store, so a crash loses nothing.

mod attempt;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

pub use signature::{SignatureError, sign, verify};

use crate::config::{Settings, WebhookSettings};
use crate::secret::Secret;
use crate::store::StoreError;
use crate::store::events::{Attempt, AttemptOutcome, DueDelivery, EventKind, EventStore, Subscription};
use attempt::RetryRule;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhooks[{index}].url: {message}")]
    Url { index: usize, message: String },
    #[error("the HTTP client for webhooks cannot be built: {0}")]
    Client(String),
    #[error("cannot register the webhooks in the store: {0}")]
    Store(#[from] StoreError),
}

/// One configured receiver, ready to POST to.
pub(crate) struct Hook {
    pub name: String,
    pub url: reqwest::Url,
    pub secret: Secret,
    pub kinds: Vec<EventKind>,
    pub timeout: Duration,
    pub max_attempts: u32,
}

impl Hook {
    fn new(index: usize, w: &WebhookSettings) -> Result<Self, WebhookError> {
        let url = crate::config::webhook_url(&w.url).map_err(|message| WebhookError::Url { index, message })?;
        if url.scheme() == "http" && !url.host_str().is_some_and(|h| crate::config::is_loopback(h.trim_matches(['[', ']']))) {
            // Payloads hold no personal data and are signed, but they can be read on the way.
            tracing::warn!(webhook = %w.name, "webhook url is plain http: events travel unencrypted; prefer https");
        }
        Ok(Hook {
            name: w.name.clone(),
            url,
            secret: w.secret.clone(),
            kinds: w.events.clone(),
            timeout: Duration::from_millis(w.timeout_ms.max(1)),
            max_attempts: w.max_attempts.max(1),
        })
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Due deliveries taken from the store at a time.
const BATCH: u32 = 64;

pub struct Dispatcher {
    store: Arc<dyn EventStore>,
    hooks: HashMap<String, Hook>,
    names: Vec<String>,
    subscriptions: Vec<Subscription>,
    http: reqwest::Client,
    retry_base: Duration,
    retry_max: Duration,
    poll: Duration,
    concurrency: usize,
}

impl Dispatcher {
    /// The dispatcher of the configured webhooks, registered in the store (a new webhook gets
    /// the events from now on); `None` when there are none. Call before the worker records
    /// anything, so a `--once` run's own events reach a webhook configured for it.
    pub async fn start(settings: &Settings, store: Arc<dyn EventStore>) -> Result<Option<Self>, WebhookError> {
        if settings.webhooks.is_empty() {
            return Ok(None);
        }
        let hooks = settings.webhooks.iter().enumerate().map(|(i, w)| Hook::new(i, w)).collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = hooks.iter().map(|h| h.name.clone()).collect();
        store.register_webhooks(&names).await?;
        let subscriptions = hooks.iter().map(|h| Subscription { webhook: h.name.clone(), kinds: h.kinds.clone() }).collect();
        let d = &settings.webhook_delivery;
        Ok(Some(Dispatcher {
            store,
            hooks: hooks.into_iter().map(|h| (h.name.clone(), h)).collect(),
            names,
            subscriptions,
            http: client()?,
            retry_base: Duration::from_millis(d.retry_base_ms.max(1)),
            retry_max: Duration::from_millis(d.retry_max_ms.max(1)),
            poll: Duration::from_millis(d.poll_ms.max(1)),
            concurrency: d.concurrency.max(1),
        }))
    }

    /// Creates the deliveries of new events, then attempts each delivery due when the pass
    /// starts, once. Retries scheduled during the pass wait for a later one.
    pub async fn pass(&self) -> Result<PassStats, StoreError> {
        self.store.fan_out(&self.subscriptions).await?;
        // After the fan-out, so the deliveries it just created are due in this pass.
        let started = Utc::now();
        let mut stats = PassStats::default();
        loop {
            let due = self.store.due_deliveries(&self.names, started, BATCH).await?;
            if due.is_empty() {
                return Ok(stats);
            }
            let attempts: Vec<Attempt> =
                futures_util::stream::iter(due).map(|d| self.attempt(d)).buffer_unordered(self.concurrency).collect().await;
            // Posted, not yet recorded: after a crash here they are posted again, with the same
            // delivery ids (receivers deduplicate on X-Switchyard-Delivery).
            crate::crashpoint!("after_webhook_post");
            for a in &attempts {
                match a.outcome {
                    AttemptOutcome::Delivered { .. } => stats.delivered += 1,
                    AttemptOutcome::Retry { .. } => stats.retrying += 1,
                    AttemptOutcome::Failed { .. } => stats.failed += 1,
                }
            }
            // Each row is now delivered, failed or due after `started`: the next query moves on.
            self.store.record_attempts(&attempts).await?;
        }
    }

    /// Passes until `cancel`: woken by new events, when the next retry falls due, and every
    /// `poll_ms` in any case. A store error is logged and tried again later; it never ends
    /// the worker.
    pub async fn run(self, cancel: CancellationToken) {
        let signal = self.store.event_signal();
        tracing::info!(webhooks = self.names.len(), "webhook dispatcher running");
        loop {
            let pass = tokio::select! {
                () = cancel.cancelled() => return,
                pass = self.pass() => pass,
            };
            let wait = match pass {
                Ok(_) => self.until_next_due().await,
                Err(e) => {
                    tracing::error!(error = %e, "webhook deliveries: the store failed; trying again in poll_ms");
                    self.poll
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = signal.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        match self.store.next_due(&self.names).await {
            Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(self.poll),
            Ok(None) => self.poll,
            Err(e) => {
                tracing::error!(error = %e, "webhook deliveries: cannot read when the next one is due");
                self.poll
            }
        }
    }

    async fn attempt(&self, d: DueDelivery) -> Attempt {
        let number = d.attempts.saturating_add(1);
        let outcome = match self.hooks.get(&d.webhook) {
            Some(hook) => {
                let answer = attempt::post(&self.http, hook, &d).await;
                let rule = RetryRule { base: self.retry_base, max: self.retry_max, max_attempts: hook.max_attempts };
                attempt::outcome(answer, number, rule, Utc::now())
            }
            // due_deliveries only returns configured webhooks; kept safe all the same.
            None => AttemptOutcome::Failed { status: None, error: format!("webhook `{}` is no longer configured", d.webhook) },
        };
        log(&d, number, &outcome);
        Attempt { delivery: d.id, at: Utc::now(), outcome }
    }
}

fn log(d: &DueDelivery, attempt: u32, outcome: &AttemptOutcome) {
    let (webhook, event, delivery, kind) = (&d.webhook, d.event.id, &d.delivery_id, d.event.kind.as_str());
    match outcome {
        AttemptOutcome::Delivered { status } => tracing::debug!(webhook, event, delivery, kind, attempt, status, "webhook delivered"),
        AttemptOutcome::Retry { error, at, .. } => {
            tracing::warn!(webhook, event, delivery, kind, attempt, %error, retry_at = %at, "webhook delivery failed; will retry");
        }
        AttemptOutcome::Failed { error, .. } => {
            tracing::error!(webhook, event, delivery, kind, attempt, %error, "webhook delivery failed for good (see switchyard status)");
        }
    }
}

fn client() -> Result<reqwest::Client, WebhookError> {
    // reqwest is built without a crypto provider of its own: ring must be the one it finds.
    crate::channels::tls::install_crypto_provider();
    reqwest::Client::builder()
        // A redirect is answered as a failure: following it would send events somewhere the
        // configuration does not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| WebhookError::Client(e.to_string()))
}

#[cfg(test)]
mod tests;
