//! The worker loop: collect from the source, triage pending messages in batches, record each
//! batch's decisions with their outbox rows in one transaction, deliver, report. Stops on the
//! cancellation token; with `once` it stops when the inbox and the pipeline are drained.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use tokio::sync::Notify;

use crate::channels::{DeliveryError, Presence, Sink};
use crate::domain::{MessageId, Reason, ReasonCode};
use crate::pipeline::act::OutgoingKind;
use crate::pipeline::{Outcome, Pipeline};
use crate::privacy::{Channel, ConsentQuery, ConsentRecord, Purpose};
use crate::report::Reporter;
use crate::store::{OutboxItem, Store, StoreError, StoredMessage};

pub struct Worker {
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<dyn Store>,
    pub sink: Arc<dyn Sink>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    pub processed: usize,
    pub failed: usize,
}

/// What a delivery round did.
struct Delivered {
    sent: HashMap<(i64, OutgoingKind), MessageId>,
    rebuilt: HashMap<i64, Outcome>,
    /// Inbound messages whose reply was withheld: the recipient withdrew consent.
    withheld: HashSet<i64>,
}

/// After a batch in which nothing could be processed, wait this long before trying again.
const FAILURE_PAUSE: Duration = Duration::from_millis(500);

impl Worker {
    /// Decides and delivers until `cancel` (or, with `once`, until nothing is pending). Sources
    /// run elsewhere and call `wake` when they stored something; `rescan` is the backstop.
    pub async fn run(
        &mut self,
        once: bool,
        cancel: &CancellationToken,
        reporter: &mut Reporter,
        wake: &Notify,
        rescan: Duration,
    ) -> Result<RunStats, StoreError> {
        let mut stats = RunStats::default();
        // Deliveries left over from a previous run (crash or transient failure) go first.
        self.deliver_due().await?;
        loop {
            self.drain(cancel, reporter, &mut stats).await?;
            self.deliver_due().await?;
            if once || cancel.is_cancelled() {
                return Ok(stats);
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(stats),
                () = wake.notified() => {}
                () = tokio::time::sleep(rescan) => {}
            }
        }
    }

    /// Triages pending messages, a batch at a time, until none is left or shutdown is asked.
    async fn drain(&mut self, cancel: &CancellationToken, reporter: &mut Reporter, stats: &mut RunStats) -> Result<(), StoreError> {
        let settings = &self.pipeline.settings.worker;
        let (batch_size, max_attempts) = (settings.batch_size, settings.max_attempts);
        // After a failed batch, its messages go one at a time: only the one that fails is
        // charged with the failure (and quarantined after `max_attempts`).
        let mut singles_left = 0usize;
        while !cancel.is_cancelled() {
            let limit = if singles_left > 0 { 1 } else { batch_size };
            let pending = self.store.pending(limit).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let decided = match self.pipeline.triage(&pending, self.store.as_ref()).await {
                Ok(outcomes) => self.store.record(&outcomes).await.map(|items| (outcomes, items)),
                Err(e) => Err(e),
            };
            let (outcomes, items) = match decided {
                Ok(d) => d,
                Err(e) if pending.len() > 1 => {
                    tracing::warn!(error = %e, "a batch failed; retrying its messages one at a time");
                    singles_left = pending.len();
                    continue;
                }
                Err(e) => {
                    stats.failed += 1;
                    if self.failed(&pending[0], &e, max_attempts).await? {
                        singles_left = singles_left.saturating_sub(1);
                    }
                    tokio::time::sleep(FAILURE_PAUSE).await;
                    continue;
                }
            };
            singles_left = singles_left.saturating_sub(1);
            crate::crashpoint!("after_record");
            let Delivered { sent, mut rebuilt, withheld } = self.deliver(items).await?;
            for outcome in outcomes {
                // A reply rebuilt before sending reports its new decision.
                let mut outcome = rebuilt.remove(&outcome.message).unwrap_or(outcome);
                let reply = sent.get(&(outcome.message, OutgoingKind::Reply));
                if withheld.contains(&outcome.message) {
                    outcome.reasons.push(Reason::new(ReasonCode::ConsentWithdrawn, "reply not sent: the recipient withdrew consent (switchyard status)"));
                } else if reply.is_none() && outcome.outgoing.iter().any(|o| o.kind == OutgoingKind::Reply) {
                    outcome.reasons.push(Reason::new(ReasonCode::ReplyPending, "reply queued; delivery will be retried"));
                }
                reporter.report(&outcome, reply);
                stats.processed += 1;
            }
        }
        Ok(())
    }

    /// Counts a failed attempt; the message is quarantined once it has failed `max_attempts`
    /// times, so one bad message cannot stall the inbox forever.
    /// Returns true when the message was quarantined.
    async fn failed(&self, message: &StoredMessage, error: &StoreError, max_attempts: u32) -> Result<bool, StoreError> {
        tracing::error!(message = message.id, %error, "processing failed");
        let quarantined = self.store.record_failure(message.id, &error.to_string(), max_attempts).await?;
        if quarantined {
            tracing::error!(message = message.id, "quarantined after {max_attempts} failed attempts");
        }
        Ok(quarantined)
    }

    /// Delivers every outbox row that is due (retries and leftovers of a previous run).
    pub async fn deliver_due(&self) -> Result<(), StoreError> {
        loop {
            let due = self.store.due_outbox(Utc::now(), 256).await?;
            if due.is_empty() {
                return Ok(());
            }
            // Each row is now sent, rescheduled for later or failed: the next query moves on.
            self.deliver(due).await?;
        }
    }

    /// Replies never attempted are checked against live facts first (see
    /// [`crate::pipeline::recheck`]): a reply whose facts changed is replaced by its rebuilt
    /// decision's messages before anything goes out.
    async fn recheck(&self, items: Vec<OutboxItem>) -> Result<(Vec<OutboxItem>, HashMap<i64, Outcome>), StoreError> {
        let mut out = Vec::with_capacity(items.len());
        let mut rebuilt = HashMap::new();
        let mut replaced = std::collections::HashSet::new();
        let mut stale = std::collections::HashSet::new();
        for item in &items {
            // A reply a person approved was checked against live facts at approval.
            let approved = crate::pipeline::act::is_approved_reply(&item.rfc_message_id);
            if item.kind != OutgoingKind::Reply || item.attempts != 0 || approved || replaced.contains(&item.message) {
                continue;
            }
            let Some(outcome) = self.pipeline.recheck(item.message, self.store.as_ref()).await? else { continue };
            match self.store.redecide(&outcome).await? {
                Some(items) => {
                    out.extend(items);
                    replaced.insert(item.message);
                    rebuilt.insert(item.message, outcome);
                }
                None => {
                    // Part of this decision is already out: the stale reply is not sent either.
                    let why = "facts changed before sending while other messages of this decision were under way: a person must reply";
                    tracing::error!(outbox = item.id, "{why}");
                    self.store.mark_delivery_failed(item.id, why, None).await?;
                    stale.insert(item.id);
                }
            }
        }
        out.extend(items.into_iter().filter(|i| !replaced.contains(&i.message) && !stale.contains(&i.id)));
        Ok((out, rebuilt))
    }

    /// Delivers `items`; returns the Message-IDs delivered, by (inbound message, kind), and
    /// the decisions rebuilt because a fact changed before sending.
    async fn deliver(&self, items: Vec<OutboxItem>) -> Result<Delivered, StoreError> {
        let (items, rebuilt) = self.recheck(items).await?;
        let mut done = Vec::new();
        let mut todo = Vec::new();
        for item in items {
            // A previous attempt may have delivered it before the process died: check, never resend.
            match item.attempts {
                0 => todo.push(item),
                _ => match self.sink.delivered(&item).await {
                    Ok(Presence::Delivered) => done.push(item),
                    Ok(Presence::NotDelivered) => todo.push(item),
                    Ok(Presence::Unknown) => {
                        let why = "interrupted during the SMTP transaction and not found in Sent: it may or may not \
                                   have reached the recipient, so it is not sent again; check with the recipient";
                        tracing::error!(outbox = item.id, "delivery outcome unknown; not resent");
                        self.store.mark_delivery_failed(item.id, why, None).await?;
                    }
                    Err(e) => self.delivery_failed(&item, e).await?,
                },
            }
        }
        let (todo, withheld) = self.without_consent(todo).await?;
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
        let sent = done.into_iter().map(|i| ((i.message, i.kind), i.rfc_message_id)).collect();
        Ok(Delivered { sent, rebuilt, withheld })
    }

    /// Replies whose recipient withdrew consent to be answered on that channel (by address, or
    /// as the decision's customer) are not sent: they fail for good with the reason, shown by
    /// `switchyard status`, and the trail records `reply.withheld`. Alerts, review notes and
    /// drafts go to our own staff, not to the customer, and are not asked about.
    async fn without_consent(&self, items: Vec<OutboxItem>) -> Result<(Vec<OutboxItem>, HashSet<i64>), StoreError> {
        let replies: Vec<&OutboxItem> = items.iter().filter(|i| i.kind == OutgoingKind::Reply).collect();
        if replies.is_empty() {
            return Ok((items, HashSet::new()));
        }
        let queries: Vec<ConsentQuery<'_>> = replies
            .iter()
            .map(|i| ConsentQuery { message: i.message, recipient: i.recipient.as_str(), channel: Channel::of(&i.channel), purpose: Purpose::Service })
            .collect();
        let answers = self.store.latest_consents(&queries).await?;
        let mut refused: HashMap<i64, ConsentRecord> =
            replies.iter().zip(answers).filter_map(|(i, r)| r.filter(|r| !r.granted).map(|r| (i.id, r))).collect();
        let (mut keep, mut withheld) = (Vec::with_capacity(items.len()), HashSet::new());
        for item in items {
            match refused.remove(&item.id) {
                Some(record) => {
                    tracing::warn!(outbox = item.id, message = item.message, "reply withheld: the recipient withdrew consent (see switchyard status)");
                    self.store.withhold(&item, &record).await?;
                    withheld.insert(item.message);
                }
                None => keep.push(item),
            }
        }
        Ok((keep, withheld))
    }

    async fn delivery_failed(&self, item: &OutboxItem, error: DeliveryError) -> Result<(), StoreError> {
        let max_attempts = self.pipeline.settings.worker.max_attempts;
        match error {
            DeliveryError::Transient(e) if item.attempts + 1 < max_attempts => {
                let delay = chrono::Duration::seconds(5 * 2i64.pow(item.attempts.min(10)));
                tracing::warn!(outbox = item.id, error = %crate::privacy::redact(&e), "delivery failed; retrying");
                self.store.mark_delivery_failed(item.id, &e, Some(Utc::now() + delay)).await
            }
            e => {
                // Servers quote the recipient in their errors: the log gets them without it.
                tracing::error!(outbox = item.id, error = %crate::privacy::redact(&e.to_string()), "delivery failed for good");
                self.store.mark_delivery_failed(item.id, &e.to_string(), None).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Source;
    use crate::channels::maildir::{MaildirSink, MaildirSource};
    use crate::config::Settings;
    use crate::pipeline::LocalClock;
    use crate::pipeline::classify::rules::RulesModel;
    use crate::pipeline::draft::Templates;
    use crate::store::sqlite::SqliteStore;
    use crate::testing::{clock, demo, temp_dir};

    #[tokio::test]
    async fn a_message_that_keeps_failing_is_quarantined_alone() {
        let dir = temp_dir("worker");
        let store = Arc::new(SqliteStore::open(&dir.join("s.db")).await.unwrap());
        let inbox = dir.join("inbox");
        let mut source = MaildirSource::open(&inbox, 1 << 20, 16, Duration::from_secs(1)).unwrap();
        for i in 0..5 {
            let raw = format!("From: c{i}@x.example\r\nSubject: bill\r\nMessage-ID: <m{i}@x.example>\r\n\r\nmy bill please");
            std::fs::write(inbox.join("new").join(format!("{i}.eml")), raw).unwrap();
        }
        source.collect(store.as_ref()).await.unwrap();
        let third = store.pending(5).await.unwrap()[2].id;
        // A real database failure for one message: its decision cannot be written.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER poison BEFORE INSERT ON decisions WHEN NEW.message = {third} AND NEW.decision <> 'quarantine'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )))
        .execute(&store.pool)
        .await
        .unwrap();

        let mut settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        settings.worker.max_attempts = 2;
        let pipeline = Pipeline::new(
            Arc::new(settings),
            demo(),
            Arc::new(RulesModel),
            Arc::new(Templates::embedded().unwrap()),
            LocalClock::Fixed(clock().local_now),
        );
        let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
        let mut worker = Worker { pipeline: Arc::new(pipeline), store: store.clone(), sink: Arc::new(sink) };
        let mut reporter = Reporter::new(true, Box::new(std::io::sink()));
        worker.drain(&CancellationToken::new(), &mut reporter, &mut RunStats::default()).await.unwrap();

        let c = store.counts().await.unwrap();
        assert_eq!((c.messages, c.pending, c.decisions), (5, 0, 5));
        let rows = sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT m.id, d.decision, m.attempts FROM messages m JOIN decisions d ON d.message = m.id ORDER BY m.id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        for (id, decision, attempts) in rows {
            if id == third {
                assert_eq!((decision.as_str(), attempts), ("quarantine", 2));
            } else {
                assert_ne!(decision, "quarantine");
                assert_eq!(attempts, 0, "message {id} was charged for another's failure");
            }
        }
    }

    /// A worker over a temp store and Maildir with one message from Giulia Rossi (40000001)
    /// decided and recorded but not yet delivered; the demo data it read is returned to change.
    async fn decided_not_sent(name: &str, body: &str, settings: Settings) -> (Worker, Arc<SqliteStore>, crate::connectors::demo_data::SharedDemo, std::path::PathBuf) {
        let dir = temp_dir(name);
        let store = Arc::new(SqliteStore::open(&dir.join("s.db")).await.unwrap());
        let inbox = dir.join("inbox");
        let mut source = MaildirSource::open(&inbox, 1 << 20, 16, Duration::from_secs(1)).unwrap();
        let raw = format!("From: giulia.rossi@posta.example\r\nSubject: Bolletta\r\nMessage-ID: <g1@posta.example>\r\n\r\n{body}");
        std::fs::write(inbox.join("new").join("1.eml"), raw).unwrap();
        source.collect(store.as_ref()).await.unwrap();
        let data = crate::testing::demo_data();
        let model = crate::pipeline::classify::load_model("embedded").unwrap();
        let pipeline = Pipeline::new(
            Arc::new(settings),
            crate::connectors::Connectors::demo(data.clone()),
            model,
            Arc::new(Templates::embedded().unwrap()),
            LocalClock::Fixed(clock().local_now),
        );
        let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
        let worker = Worker { pipeline: Arc::new(pipeline), store: store.clone(), sink: Arc::new(sink) };
        let pending = store.pending(10).await.unwrap();
        let outcomes = worker.pipeline.triage(&pending, store.as_ref()).await.unwrap();
        assert_eq!(outcomes[0].decision, crate::domain::Decision::AutoSend, "{:?}", outcomes[0].reasons);
        store.record(&outcomes).await.unwrap();
        (worker, store, data, dir)
    }

    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
        out
    }

    async fn decision_row(store: &SqliteStore) -> (String, String, Option<String>) {
        sqlx::query_as::<_, (String, String, Option<String>)>("SELECT decision, reasons, redecided_at FROM decisions")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    const BILL_QUESTION: &str = "Buongiorno, potete spiegarmi l'ultima bolletta? Quanto devo pagare?";

    #[tokio::test]
    async fn a_payment_that_arrives_before_sending_rebuilds_the_reply() {
        let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        let (worker, store, data, dir) = decided_not_sent("recheck-rebuild", BILL_QUESTION, settings).await;
        let account = crate::domain::AccountId::parse("40000001").unwrap();
        let today = clock().local_now.date();
        data.write().unwrap().record_payment(&account, crate::domain::Money(12_840), today).unwrap();

        worker.deliver_due().await.unwrap();
        let (decision, reasons, redecided) = decision_row(&store).await;
        assert_eq!(decision, "auto_send", "{reasons}");
        assert!(redecided.is_some());
        assert!(reasons.contains("facts_changed") && reasons.contains("balance: €128.40 → €0.00"), "{reasons}");
        let sent = files(&dir.join("outbox"));
        assert_eq!(sent.len(), 1, "one reply, the rebuilt one");
        // The bill is now paid and nothing is outstanding: the reply says so, not the old balance.
        assert!(!sent[0].contains("Saldo da pagare") && !sent[0].contains("Importo da pagare: 128,40"), "{}", sent[0]);
    }

    #[tokio::test]
    async fn with_on_fact_change_approve_a_changed_reply_goes_to_a_person() {
        let mut settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        settings.policy.on_fact_change = crate::config::FactChange::Approve;
        let (worker, store, data, dir) = decided_not_sent("recheck-approve", BILL_QUESTION, settings).await;
        let account = crate::domain::AccountId::parse("40000001").unwrap();
        data.write().unwrap().record_payment(&account, crate::domain::Money(12_840), clock().local_now.date()).unwrap();

        worker.deliver_due().await.unwrap();
        let (decision, reasons, _) = decision_row(&store).await;
        assert_eq!(decision, "approve");
        assert!(reasons.contains("facts_changed"), "{reasons}");
        let sent = files(&dir.join("outbox"));
        assert!(sent.is_empty(), "nothing was sent: {sent:?}");
        assert_eq!(files(&dir.join("drafts")).len(), 1);
    }

    fn opt_out(subject: crate::privacy::Subject, channel: Channel) -> crate::privacy::NewConsent {
        crate::privacy::NewConsent { subject, channel, purpose: Purpose::Service, granted: false, source: "phone call".into(), by: "anna".into() }
    }

    #[tokio::test]
    async fn a_reply_to_a_customer_who_withdrew_service_consent_is_withheld() {
        let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        let (worker, store, _data, dir) = decided_not_sent("consent-withheld", BILL_QUESTION, settings).await;
        let account = crate::privacy::Subject::account("40000001").unwrap();
        // Withdrawn on WhatsApp only: no effect on e-mail. Then withdrawn for e-mail.
        store.record_consent(&opt_out(account.clone(), Channel::Whatsapp)).await.unwrap();
        store.record_consent(&opt_out(account, Channel::Email)).await.unwrap();

        worker.deliver_due().await.unwrap();
        assert!(files(&dir.join("outbox")).is_empty(), "nothing reached the customer");
        let problems = store.problems(10).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].kind, "delivery_failed");
        assert!(problems[0].detail.contains("withdrew consent to being answered by email") && problems[0].detail.contains("phone call"), "{}", problems[0].detail);
        let withheld: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE kind = 'reply.withheld' AND subject IS NOT NULL")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(withheld, 1);
        assert!(store.verify_audit(&"0".repeat(64)).await.unwrap().intact());
        worker.deliver_due().await.unwrap();
        assert!(files(&dir.join("outbox")).is_empty(), "a withheld reply is never retried");
    }

    #[tokio::test]
    async fn a_withdrawal_by_address_holds_too_and_a_later_opt_in_lets_replies_go() {
        let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        let (worker, store, _data, dir) = decided_not_sent("consent-opt-in", BILL_QUESTION, settings).await;
        let address = crate::privacy::Subject::email("Giulia.Rossi@posta.example").unwrap();
        store.record_consent(&opt_out(address.clone(), Channel::Email)).await.unwrap();
        store.record_consent(&crate::privacy::NewConsent { granted: true, ..opt_out(address, Channel::Email) }).await.unwrap();
        worker.deliver_due().await.unwrap();
        assert_eq!(files(&dir.join("outbox")).len(), 1, "the opt-in recorded last holds");
    }

    #[tokio::test]
    async fn unchanged_facts_send_the_reply_as_decided() {
        let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
        let (worker, store, _data, dir) = decided_not_sent("recheck-same", BILL_QUESTION, settings).await;
        worker.deliver_due().await.unwrap();
        let (decision, reasons, redecided) = decision_row(&store).await;
        assert_eq!((decision.as_str(), redecided), ("auto_send", None));
        assert!(!reasons.contains("facts_changed"));
        let sent = files(&dir.join("outbox"));
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("128,40"), "{}", sent[0]);
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
