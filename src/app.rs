//! Builds the store, channels, connectors and pipeline from the settings and runs the worker
//! until it is done (`--once`) or asked to stop (Ctrl-C, SIGTERM): one cancellation token.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Local, NaiveTime};
use tokio_util::sync::CancellationToken;

use crate::channels::maildir::{self, MaildirSink, MaildirSource};
use crate::config::Settings;
use crate::connectors::Connectors;
use crate::connectors::demo_data::DemoData;
use crate::pipeline::classify::rules::RulesModel;
use crate::pipeline::draft::Templates;
use crate::pipeline::{LocalClock, Pipeline};
use crate::report::Reporter;
use crate::store::sqlite::SqliteStore;
use crate::worker::{RunStats, Worker};

pub struct RunOptions {
    pub once: bool,
    pub json: bool,
    pub seed: bool,
}

pub async fn run(settings: Settings, data_dir: &Path, options: RunOptions) -> anyhow::Result<RunStats> {
    let settings = Arc::new(settings);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let inbox = data_dir.join(&settings.maildir.inbox);
    if !inbox.exists() && options.seed {
        let n = seed_inbox(&inbox).with_context(|| format!("cannot seed {}", inbox.display()))?;
        tracing::info!(inbox = %inbox.display(), messages = n, "new inbox seeded with the sample mailbox");
    }
    let db = data_dir.join(&settings.store.sqlite_file);
    let store = SqliteStore::open(&db)
        .await
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    let (connectors, clock) = demo_connectors(&settings);
    let templates = Templates::embedded().context("the embedded templates are broken")?;
    let pipeline = Pipeline::new(settings.clone(), connectors, Arc::new(RulesModel), Arc::new(templates), clock);
    let source = MaildirSource::open(&inbox, settings.worker.max_message_bytes, settings.worker.batch_size as usize)
        .with_context(|| format!("cannot open the inbox {}", inbox.display()))?;
    let sink = MaildirSink::open(&data_dir.join(&settings.maildir.outbox), &data_dir.join(&settings.maildir.drafts))
        .context("cannot open the outbox and drafts folders")?;
    let mut worker = Worker { pipeline, store: Arc::new(store), source: Box::new(source), sink: Arc::new(sink) };

    let cancel = CancellationToken::new();
    tokio::spawn(stop_on_signal(cancel.clone()));
    let mut reporter = Reporter::stdout(options.json);
    tracing::info!(data_dir = %data_dir.display(), once = options.once, "switchyard running");
    let stats = worker.run(options.once, &cancel, &mut reporter).await?;
    reporter.finish();
    Ok(stats)
}

/// The demo CIS/OMS and the clock they are consistent with: a fixed `as_of` pins "now" to
/// 10:00 that day so runs are reproducible; otherwise the real local time.
pub fn demo_connectors(settings: &Settings) -> (Connectors, LocalClock) {
    let demo = &settings.connectors.demo;
    let (as_of, clock) = match demo.as_of {
        Some(d) => (d, LocalClock::Fixed(d.and_time(NaiveTime::from_hms_opt(10, 0, 0).expect("valid")))),
        None => (Local::now().date_naive(), LocalClock::System),
    };
    let now = clock.now().local_now;
    let data = DemoData::generate(as_of, now, demo.customers);
    (Connectors::demo(Arc::new(data)), clock)
}

/// Writes the bundled sample mailbox into `inbox/new`.
pub fn seed_inbox(inbox: &Path) -> std::io::Result<usize> {
    maildir::ensure(inbox)?;
    for (name, bytes) in crate::embedded::SAMPLE_MAILBOX {
        std::fs::write(inbox.join("new").join(name), bytes)?;
    }
    Ok(crate::embedded::SAMPLE_MAILBOX.len())
}

async fn stop_on_signal(cancel: CancellationToken) {
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
    tracing::info!("stopping after the current message");
    cancel.cancel();
}
