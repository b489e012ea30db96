//! Builds the store, channels, connectors and pipeline from the settings and runs the worker
//! until it is done (`--once`) or asked to stop (Ctrl-C, SIGTERM): one cancellation token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{Local, NaiveTime};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channels::imap::source::ImapSource;
use crate::channels::mailbox::MailboxSink;
use crate::channels::maildir::{self, MaildirSink, MaildirSource};
use crate::approvals::ApprovalWatcher;
use crate::channels::{self, Router, Sink, Source};
use crate::config::Settings;
use crate::connectors::demo_data::{DemoData, SharedDemo};
use crate::connectors::{Connectors, HttpSetupError};
use crate::pipeline::classify;
use crate::pipeline::draft::Templates;
use crate::pipeline::{LocalClock, Pipeline};
use crate::report::Reporter;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::webhooks::Dispatcher;
use crate::worker::{RunStats, Worker};

pub struct RunOptions {
    pub once: bool,
    pub json: bool,
    pub seed: bool,
}

/// What a run did, for the exit status.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub stats: RunStats,
    /// Sources that could not be read in a `--once` run.
    pub source_failures: usize,
}

pub async fn run(settings: Settings, data_dir: &Path, options: RunOptions) -> anyhow::Result<RunSummary> {
    let settings = Arc::new(settings);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let db = data_dir.join(&settings.store.sqlite_file);
    let sqlite = Arc::new(SqliteStore::open(&db).await.with_context(|| format!("cannot open the database {}", db.display()))?);
    let store: Arc<dyn Store> = sqlite.clone();
    let signer = Arc::new(audit_signer(&settings, data_dir, &sqlite).await?);
    let folders = crate::privacy::files::Folders::of(&settings, data_dir);
    purge_expired(&sqlite, &folders, settings.privacy.retention_days).await;
    // Before anything is recorded: a webhook configured for this run gets this run's events.
    let webhooks = Dispatcher::start(&settings, sqlite.clone()).await.context("cannot set up the webhooks ([[webhooks]])")?;
    let (connectors, clock) = connectors(&settings).context("cannot set up the CIS and OMS connectors ([connectors])")?;
    let templates = Templates::embedded().context("the embedded templates are broken")?;
    let model = classify::load_model(&settings.classify.model).context("cannot load the classifier (classify.model)")?;
    let llm = classify::llm::LlmClassifier::configured(&settings).context("cannot set up LLM classification ([llm] and classify.llm)")?;
    let drafter = crate::pipeline::draft::llm::LlmDrafter::configured(&settings).context("cannot set up LLM drafting ([llm] and draft.mode)")?;
    let pipeline = Pipeline::new(settings.clone(), connectors, model, Arc::new(templates), clock).with_llm(llm).with_drafter(drafter);

    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let mut sinks: HashMap<String, Arc<dyn Sink>> = HashMap::new();
    if settings.maildir.enabled {
        let inbox = data_dir.join(&settings.maildir.inbox);
        if !inbox.exists() && options.seed {
            let n = seed_inbox(&inbox).with_context(|| format!("cannot seed {}", inbox.display()))?;
            tracing::info!(inbox = %inbox.display(), messages = n, "new inbox seeded with the sample mailbox");
        }
        let rescan = Duration::from_millis(settings.worker.rescan_interval_ms);
        let source = MaildirSource::open(&inbox, settings.worker.max_message_bytes, settings.worker.batch_size as usize, rescan)
            .with_context(|| format!("cannot open the inbox {}", inbox.display()))?;
        let m = &settings.maildir;
        let sink = MaildirSink::open(&data_dir.join(&m.outbox), &data_dir.join(&m.drafts), &data_dir.join(&m.review))
            .context("cannot open the outbox, drafts and review folders")?;
        sinks.insert(source.name().to_string(), Arc::new(sink));
        sources.push(Box::new(source));
    }
    for mailbox in &settings.mailboxes {
        let source = ImapSource::new(mailbox.clone(), settings.worker.max_message_bytes);
        let sink = MailboxSink::new(mailbox.clone()).with_context(|| format!("mailbox {}: SMTP settings", mailbox.name))?;
        sinks.insert(source.name().to_string(), Arc::new(sink));
        sources.push(Box::new(source));
    }
    let mut watchers: Vec<ApprovalWatcher> =
        settings.mailboxes.iter().map(|m| ApprovalWatcher::new(m.clone(), pipeline.allowlist.clone())).collect();
    let pipeline = Arc::new(pipeline);
    let mut worker = Worker { pipeline: pipeline.clone(), store: store.clone(), sink: Arc::new(Router::new(sinks)) };

    let cancel = CancellationToken::new();
    tokio::spawn(stop_on_signal(cancel.clone(), "stopping after the current message"));
    let wake = Arc::new(Notify::new());
    let rescan = Duration::from_millis(settings.worker.rescan_interval_ms);
    let mut reporter = Reporter::stdout(options.json);
    tracing::info!(data_dir = %data_dir.display(), once = options.once, sources = sources.len(), "switchyard running");
    let mut summary = RunSummary::default();
    if options.once {
        for source in &mut sources {
            if let Err(e) = source.collect(store.as_ref()).await {
                tracing::error!(source = source.name(), error = %e, "cannot read mail");
                summary.source_failures += 1;
            }
        }
        summary.stats = worker.run(true, &cancel, &mut reporter, &wake, rescan).await?;
        for watcher in &mut watchers {
            if let Err(e) = watcher.check(store.as_ref()).await {
                tracing::error!(error = %e, "cannot check drafts and sent mail");
                summary.source_failures += 1;
            }
        }
        if let Some(webhooks) = &webhooks {
            // One pass: each delivery due now is attempted once; retries wait for a later run.
            tokio::select! {
                () = cancel.cancelled() => {}
                pass = webhooks.pass() => match pass {
                    Ok(p) => tracing::info!(delivered = p.delivered, retrying = p.retrying, failed = p.failed, "webhook deliveries"),
                    Err(e) => tracing::error!(error = %e, "webhook deliveries: the store failed; they are attempted on the next run"),
                },
            }
        }
    } else {
        let mut web_task = None;
        if settings.web.enabled {
            let state = crate::web::WebState::new(sqlite.clone(), pipeline.clone(), wake.clone()).context("the web page templates are broken")?;
            web_task = Some(crate::web::start(Arc::new(state), data_dir, cancel.clone()).await?.1);
        }
        let mut tasks: Vec<_> = sources
            .into_iter()
            .map(|s| tokio::spawn(channels::drive(s, store.clone(), wake.clone(), cancel.clone())))
            .collect();
        tasks.extend(watchers.into_iter().map(|w| tokio::spawn(w.run(store.clone(), cancel.clone()))));
        let every = Duration::from_secs(settings.audit.sign_interval_seconds);
        tasks.push(tokio::spawn(sign_periodically(sqlite.clone(), signer.clone(), every, cancel.clone())));
        tasks.push(tokio::spawn(purge_daily(sqlite.clone(), folders, settings.privacy.retention_days, cancel.clone())));
        tasks.extend(webhooks.map(|w| tokio::spawn(w.run(cancel.clone()))));
        summary.stats = worker.run(false, &cancel, &mut reporter, &wake, rescan).await?;
        cancel.cancel();
        for task in tasks.into_iter().chain(web_task) {
            let _ = task.await;
        }
    }
    // The last entries of this run are covered by a signed head before it ends.
    if let Err(e) = sqlite.sign_audit_head(&signer).await {
        tracing::error!(error = %e, "cannot sign the audit trail's head");
    }
    reporter.finish();
    Ok(summary)
}

/// The audit trail's signing key (made on the first run when none is configured), and the
/// configuration recorded in the trail when it changed since the last run.
async fn audit_signer(settings: &Settings, data_dir: &Path, store: &SqliteStore) -> anyhow::Result<crate::audit::sign::Signer> {
    let (signer, created) = crate::audit::signer(settings, data_dir).context("cannot load the audit signing key ([audit])")?;
    if created {
        tracing::warn!(
            file = %data_dir.join(&settings.audit.key_file).display(),
            public_key = signer.public_hex(),
            "made a new audit signing key; keep its public key somewhere else (audit.public_key) to verify the trail against"
        );
    }
    if store.record_configuration(&crate::audit::config_fingerprint(settings), &settings.policy.version).await? {
        tracing::info!("configuration recorded in the audit trail (changed since the last run)");
    }
    Ok(signer)
}

/// Signs the chain head every `every` while entries are being added, until `cancel`.
async fn sign_periodically(store: Arc<SqliteStore>, signer: Arc<crate::audit::sign::Signer>, every: Duration, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = store.sign_audit_head(&signer).await {
            tracing::error!(error = %e, "cannot sign the audit trail's head");
        }
    }
}

/// Purges the messages older than the retention period (`privacy.retention_days`; 0 keeps
/// them). A failure is logged and the worker goes on: the next purge catches up.
async fn purge_expired(store: &SqliteStore, folders: &crate::privacy::files::Folders, retention_days: u32) {
    let Some(cutoff) = crate::privacy::retention_cutoff(retention_days, chrono::Utc::now()) else { return };
    match crate::privacy::purge(store, folders, cutoff).await {
        Ok(r) if r.messages > 0 || r.files > 0 => {
            tracing::info!(messages = r.messages, files = r.files, retention_days, "purged messages past the retention period")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot purge messages past the retention period; trying again tomorrow"),
    }
}

/// Purges once a day while the worker runs (the first purge ran at start).
async fn purge_daily(store: Arc<SqliteStore>, folders: crate::privacy::files::Folders, retention_days: u32, cancel: CancellationToken) {
    if retention_days == 0 {
        return;
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
        }
        purge_expired(&store, &folders, retention_days).await;
    }
}

/// The CIS and OMS the settings choose (the demo or HTTP, each) and the worker's clock.
pub fn connectors(settings: &Settings) -> Result<(Connectors, LocalClock), HttpSetupError> {
    let clock = demo_clock(settings);
    let connectors = Connectors::configured(&settings.connectors, || demo_data(settings, clock))?;
    Ok((connectors, clock))
}

/// A fixed `connectors.demo.as_of` pins "now" to 10:00 that day so runs are reproducible;
/// otherwise the real local time.
pub fn demo_clock(settings: &Settings) -> LocalClock {
    match settings.connectors.demo.as_of {
        Some(d) => LocalClock::Fixed(d.and_time(NaiveTime::from_hms_opt(10, 0, 0).expect("valid"))),
        None => LocalClock::System,
    }
}

/// The demo data set of `[connectors.demo]`, consistent with `clock`: the same for the worker
/// and for `switchyard demo-cis`.
pub fn demo_data(settings: &Settings, clock: LocalClock) -> SharedDemo {
    let demo = &settings.connectors.demo;
    let as_of = demo.as_of.unwrap_or_else(|| Local::now().date_naive());
    let data = DemoData::generate(as_of, clock.now().local_now, demo.customers);
    Arc::new(std::sync::RwLock::new(data))
}

/// Writes the bundled sample mailbox into `inbox/new`.
pub fn seed_inbox(inbox: &Path) -> std::io::Result<usize> {
    maildir::ensure(inbox)?;
    for (name, bytes) in crate::embedded::SAMPLE_MAILBOX {
        std::fs::write(inbox.join("new").join(name), bytes)?;
    }
    Ok(crate::embedded::SAMPLE_MAILBOX.len())
}

/// Cancels `cancel` on Ctrl-C or SIGTERM, saying `what` happens next.
pub(crate) async fn stop_on_signal(cancel: CancellationToken, what: &'static str) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                cancel.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("{what}");
    cancel.cancel();
}
