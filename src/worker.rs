//! The worker loop: collect from the source, triage every pending message, record each
//! decision with its outbox rows, deliver, report. Stops on the cancellation token; with
//! `once` it stops when the inbox and the pipeline are drained.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::channels::{DeliveryError, Sink, Source};
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

impl Worker {
    pub async fn run(
        &mut self,
        once: bool,
        cancel: &CancellationToken,
        reporter: &mut Reporter,
    ) -> Result<RunStats, StoreError> {
        let rescan = Duration::from_millis(self.pipeline.settings.worker.rescan_interval_ms);
        let mut stats = RunStats::default();
        // Deliveries left over from a previous run (crash or transient failure) go first.
        self.deliver_due(None).await?;
        loop {
            if let Err(e) = self.source.collect(self.store.as_ref()).await {
                tracing::error!(source = self.source.name(), error = %e, "collecting new messages failed");
                if once {
                    return Err(match e {
                        crate::channels::SourceError::Store(s) => s,
                        other => StoreError::Corrupt(other.to_string()),
                    });
                }
            }
            self.drain(cancel, reporter, &mut stats).await?;
            self.deliver_due(None).await?;
            if once || cancel.is_cancelled() {
                return Ok(stats);
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(stats),
                () = self.source.changed(rescan) => {}
            }
        }
    }

    /// Triages pending messages until none is left (or shutdown is requested).
    async fn drain(&mut self, cancel: &CancellationToken, reporter: &mut Reporter, stats: &mut RunStats) -> Result<(), StoreError> {
        let batch = self.pipeline.settings.worker.batch_size;
        let max_attempts = self.pipeline.settings.worker.max_attempts;
        loop {
            let pending = self.store.pending(batch).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let mut progressed = false;
            for stored in pending {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                crate::crashpoint!("before_triage");
                let result = match self.pipeline.triage(&stored, self.store.as_ref()).await {
                    Ok(outcome) => self.store.record(&outcome).await.map(|()| outcome),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(mut outcome) => {
                        crate::crashpoint!("after_record");
                        let sent = self.deliver_due(Some(outcome.message)).await?;
                        let reply = sent.into_iter().find(|(k, _)| *k == OutgoingKind::Reply).map(|(_, id)| id);
                        let expects_reply = outcome.outgoing.iter().any(|o| o.kind == OutgoingKind::Reply);
                        if expects_reply && reply.is_none() {
                            outcome.reasons.push(Reason::new(ReasonCode::ReplyPending, "reply queued; delivery will be retried"));
                        }
                        reporter.report(&outcome, reply.as_ref());
                        stats.processed += 1;
                        progressed = true;
                    }
                    Err(e) => {
                        stats.failed += 1;
                        tracing::error!(message = stored.id, error = %e, "processing failed");
                        if self.store.record_failure(stored.id, &e.to_string(), max_attempts).await? {
                            tracing::error!(message = stored.id, "quarantined after {max_attempts} failed attempts");
                            progressed = true;
                        }
                    }
                }
            }
            if !progressed {
                // Everything in this batch failed: wait before trying again instead of spinning.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Delivers outbox rows that are due (those of one message, or all). Returns what was
    /// delivered now.
    async fn deliver_due(&self, message: Option<i64>) -> Result<Vec<(OutgoingKind, MessageId)>, StoreError> {
        let mut sent = Vec::new();
        loop {
            let due = self.store.due_outbox(Utc::now(), message, 256).await?;
            if due.is_empty() {
                return Ok(sent);
            }
            let mut progressed = false;
            for item in due {
                if let Some(kind) = self.deliver(&item).await? {
                    sent.push((kind, item.rfc_message_id.clone()));
                }
                progressed = true;
            }
            if !progressed || message.is_some() {
                return Ok(sent);
            }
        }
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<Option<OutgoingKind>, StoreError> {
        let max_attempts = self.pipeline.settings.worker.max_attempts;
        // A previous attempt may have delivered it before the process died: check, never resend.
        let outcome = if item.attempts > 0 {
            match self.sink.delivered(item).await {
                Ok(true) => Ok(()),
                Ok(false) => self.attempt(item).await,
                Err(e) => Err(e),
            }
        } else {
            self.attempt(item).await
        };
        match outcome {
            Ok(()) => {
                self.store.mark_sent(item.id, Utc::now()).await?;
                Ok(Some(item.kind))
            }
            Err(DeliveryError::Transient(e)) if item.attempts + 1 < max_attempts => {
                let delay = chrono::Duration::seconds(5 * 2i64.pow(item.attempts.min(10)));
                tracing::warn!(outbox = item.id, error = %e, "delivery failed; retrying");
                self.store.mark_delivery_failed(item.id, &e, Some(Utc::now() + delay)).await?;
                Ok(None)
            }
            Err(e) => {
                tracing::error!(outbox = item.id, error = %e, "delivery failed for good");
                self.store.mark_delivery_failed(item.id, &e.to_string(), None).await?;
                Ok(None)
            }
        }
    }

    async fn attempt(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        self.store.begin_delivery(item.id).await.map_err(|e| DeliveryError::Transient(e.to_string()))?;
        crate::crashpoint!("before_sink_write");
        let result = self.sink.deliver(item).await;
        crate::crashpoint!("after_sink_write");
        result
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
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::LazyLock;
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
