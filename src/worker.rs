//! The worker loop: collect from the source, triage pending messages in batches, record each
//! batch's decisions with their outbox rows in one transaction, deliver, report. Stops on the
//! cancellation token; with `once` it stops when the inbox and the pipeline are drained.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::channels::{DeliveryError, Sink, Source, SourceError};
use crate::domain::{MessageId, Reason, ReasonCode};
use crate::pipeline::act::OutgoingKind;
use crate::pipeline::Pipeline;
use crate::report::Reporter;
use crate::store::{OutboxItem, Store, StoreError};

pub struct Worker {
    pub pipeline: Pipeline,
    pub store: Arc<dyn Store>,
    pub source: Box<dyn Source>,
    pub sink: Arc<dyn Sink>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    pub processed: usize,
    pub failed: usize,
}

/// After a batch in which nothing could be processed, wait this long before trying again.
const FAILURE_PAUSE: Duration = Duration::from_millis(500);

impl Worker {
    pub async fn run(&mut self, once: bool, cancel: &CancellationToken, reporter: &mut Reporter) -> Result<RunStats, StoreError> {
        let rescan = Duration::from_millis(self.pipeline.settings.worker.rescan_interval_ms);
        let mut stats = RunStats::default();
        // Deliveries left over from a previous run (crash or transient failure) go first.
        self.deliver_due().await?;
        loop {
            match self.source.collect(self.store.as_ref()).await {
                Ok(_) => {}
                Err(SourceError::Store(e)) if once => return Err(e),
                Err(e) => tracing::error!(source = self.source.name(), error = %e, "collecting new messages failed"),
            }
            self.drain(cancel, reporter, &mut stats).await?;
            self.deliver_due().await?;
            if once || cancel.is_cancelled() {
                return Ok(stats);
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(stats),
                () = self.source.changed(rescan) => {}
            }
        }
    }

    /// Triages pending messages, a batch at a time, until none is left or shutdown is asked.
    async fn drain(&mut self, cancel: &CancellationToken, reporter: &mut Reporter, stats: &mut RunStats) -> Result<(), StoreError> {
        let settings = &self.pipeline.settings.worker;
        let (batch_size, max_attempts) = (settings.batch_size, settings.max_attempts);
        while !cancel.is_cancelled() {
            let pending = self.store.pending(batch_size).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let outcomes = match self.pipeline.triage(&pending, self.store.as_ref()).await {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    stats.failed += pending.len();
                    for m in &pending {
                        self.failed(m.id, &e, max_attempts).await?;
                    }
                    tokio::time::sleep(FAILURE_PAUSE).await;
                    continue;
                }
            };
            let items = match self.store.record(&outcomes).await {
                Ok(items) => items,
                Err(e) => {
                    stats.failed += outcomes.len();
                    for o in &outcomes {
                        self.failed(o.message, &e, max_attempts).await?;
                    }
                    tokio::time::sleep(FAILURE_PAUSE).await;
                    continue;
                }
            };
            crate::crashpoint!("after_record");
            let sent = self.deliver(items).await?;
            for mut outcome in outcomes {
                let reply = sent.get(&(outcome.message, OutgoingKind::Reply));
                if reply.is_none() && outcome.outgoing.iter().any(|o| o.kind == OutgoingKind::Reply) {
                    outcome.reasons.push(Reason::new(ReasonCode::ReplyPending, "reply queued; delivery will be retried"));
                }
                reporter.report(&outcome, reply);
                stats.processed += 1;
            }
        }
        Ok(())
    }

    async fn failed(&self, message: i64, error: &StoreError, max_attempts: u32) -> Result<bool, StoreError> {
        tracing::error!(message, %error, "processing failed");
        let quarantined = self.store.record_failure(message, &error.to_string(), max_attempts).await?;
        if quarantined {
            tracing::error!(message, "quarantined after {max_attempts} failed attempts");
        }
        Ok(quarantined)
    }

    /// Delivers every outbox row that is due (retries and leftovers of a previous run).
    async fn deliver_due(&self) -> Result<(), StoreError> {
        loop {
            let due = self.store.due_outbox(Utc::now(), 256).await?;
            if due.is_empty() {
                return Ok(());
            }
            // Each row is now sent, rescheduled for later or failed: the next query moves on.
            self.deliver(due).await?;
        }
    }

    /// Delivers `items`; returns the Message-IDs delivered, by (inbound message, kind).
    async fn deliver(&self, items: Vec<OutboxItem>) -> Result<HashMap<(i64, OutgoingKind), MessageId>, StoreError> {
        let mut done = Vec::new();
        let mut todo = Vec::new();
        for item in items {
            // A previous attempt may have delivered it before the process died: check, never resend.
            match item.attempts {
                0 => todo.push(item),
                _ => match self.sink.delivered(&item).await {
                    Ok(true) => done.push(item),
                    Ok(false) => todo.push(item),
                    Err(e) => self.delivery_failed(&item, e).await?,
                },
            }
        }
        if !todo.is_empty() {
            let ids: Vec<i64> = todo.iter().map(|i| i.id).collect();
            self.store.begin_delivery(&ids).await?;
            crate::crashpoint!("before_sink_write");
            let results = self.sink.deliver(&todo).await;
            crate::crashpoint!("after_sink_write");
            for (item, result) in todo.into_iter().zip(results) {
                match result {
                    Ok(()) => done.push(item),
                    Err(e) => self.delivery_failed(&item, e).await?,
                }
            }
        }
        let ids: Vec<i64> = done.iter().map(|i| i.id).collect();
        self.store.mark_sent(&ids, Utc::now()).await?;
        Ok(done.into_iter().map(|i| ((i.message, i.kind), i.rfc_message_id)).collect())
    }

    async fn delivery_failed(&self, item: &OutboxItem, error: DeliveryError) -> Result<(), StoreError> {
        let max_attempts = self.pipeline.settings.worker.max_attempts;
        match error {
            DeliveryError::Transient(e) if item.attempts + 1 < max_attempts => {
                let delay = chrono::Duration::seconds(5 * 2i64.pow(item.attempts.min(10)));
                tracing::warn!(outbox = item.id, error = %e, "delivery failed; retrying");
                self.store.mark_delivery_failed(item.id, &e, Some(Utc::now() + delay)).await
            }
            e => {
                tracing::error!(outbox = item.id, error = %e, "delivery failed for good");
                self.store.mark_delivery_failed(item.id, &e.to_string(), None).await
            }
        }
    }
}

/// For tests of crash safety: `SWITCHYARD_CRASHPOINT=name:N` aborts the process the N-th time
/// the named point is reached. Compiled only into debug builds.
#[macro_export]
macro_rules! crashpoint {
    ($name:literal) => {
        #[cfg(debug_assertions)]
        $crate::worker::crash_if_requested($name);
    };
}

#[cfg(debug_assertions)]
pub fn crash_if_requested(name: &str) {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static TARGET: LazyLock<Option<(String, u64)>> = LazyLock::new(|| {
        let spec = std::env::var("SWITCHYARD_CRASHPOINT").ok()?;
        let (name, n) = spec.split_once(':')?;
        Some((name.to_string(), n.parse().ok()?))
    });
    static HITS: AtomicU64 = AtomicU64::new(0);
    if let Some((target, n)) = TARGET.as_ref() {
        if target == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            eprintln!("crashpoint {name} reached: aborting");
            std::process::abort();
        }
    }
}
