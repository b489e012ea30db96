//! The commands besides `run`: what the store holds (`status`, `approvals`), the classifier
//! (`train`, `eval`, `classify`, `correct`) and the classifier's and fact-checker's benchmarks.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::config::Settings;
use crate::pipeline::classify;
use crate::pipeline::parse;
use crate::store::sqlite::SqliteStore;
use crate::store::{Correction, Store};
use crate::training::{self, Example, TrainConfig};

async fn open_store(settings: &Settings, data_dir: &Path) -> anyhow::Result<SqliteStore> {
    let db = data_dir.join(&settings.store.sqlite_file);
    SqliteStore::open(&db).await.with_context(|| format!("cannot open the database {}", db.display()))
}

/// Prints what the store holds and what needs a person: failed deliveries, quarantined mail.
pub async fn status(settings: &Settings, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    let counts = store.counts().await?;
    let problems = store.problems(200).await?;
    let waiting = store.approvals().await?.into_iter().filter(|a| a.state == "waiting").count();
    if json {
        println!("{}", serde_json::json!({"counts": counts, "drafts_waiting": waiting, "problems": problems}));
        return Ok(());
    }
    println!(
        "messages {} (pending {}), decisions {}, outbox: {} sent, {} pending, {} failed; drafts waiting for a person: {}",
        counts.messages, counts.pending, counts.decisions, counts.outbox_sent, counts.outbox_pending, counts.outbox_failed, waiting
    );
    if counts.llm_calls > 0 {
        println!(
            "LLM classification: {} messages asked, {} answers used, {} tokens in, {} tokens out, cost {:.4} {}",
            counts.llm_calls, counts.llm_accepted, counts.llm_tokens_in, counts.llm_tokens_out, counts.llm_cost, settings.llm.currency
        );
    }
    for p in &problems {
        println!("{:<16} message {:<6} {} {}: {}", p.kind, p.message, p.at, p.address.as_deref().unwrap_or("-"), p.detail);
    }
    Ok(())
}

/// Prints the drafts left for people and what became of them.
pub async fn list_approvals(settings: &Settings, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    for a in store.approvals().await? {
        if json {
            println!("{}", serde_json::to_string(&a)?);
        } else {
            let changed = a.diff.as_deref().map_or(0, |d| d.lines().count());
            println!(
                "{:>6} {:<14} {:<24} {:<34} {:<26} changed lines: {:<3} unverified figures: {}",
                a.message,
                a.channel,
                a.state,
                a.customer,
                a.sent_by.as_deref().unwrap_or("-"),
                changed,
                a.unverified_claims.map_or("-".to_string(), |n| n.to_string()),
            );
        }
    }
    Ok(())
}

pub struct TrainOptions {
    pub data: PathBuf,
    pub dev: Option<PathBuf>,
    pub out: PathBuf,
    /// Learn from the corrections staff made too, when the store under `--data-dir` exists.
    pub corrections: bool,
}

/// Trains the classifier, writes the model file and scores it on the development split.
pub async fn train(settings: &Settings, data_dir: &Path, o: &TrainOptions) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut examples = training::load_dir(&o.data)?;
    let from_files = examples.len();
    if o.corrections && data_dir.join(&settings.store.sqlite_file).exists() {
        let store = open_store(settings, data_dir).await?;
        for c in store.corrected_messages().await? {
            let p = match parse::run(&c.raw, 0, parse::Limits { max_bytes: u64::MAX }) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(message = c.message, error = %e, "a corrected message cannot be parsed; left out of training");
                    continue;
                }
            };
            examples.push(Example {
                subject: p.subject,
                body: p.text,
                intent: c.intent.parse()?,
                urgency: c.urgency.parse()?,
                language: c.language.parse()?,
            });
        }
    }
    let model = training::train(&examples, &TrainConfig::default())?;
    if let Some(parent) = o.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let bytes = model.to_bytes();
    std::fs::write(&o.out, &bytes).with_context(|| format!("cannot write {}", o.out.display()))?;
    println!(
        "trained on {} messages ({} from {}, {} corrections) in {:.2} s: {} ({:.1} MiB) written to {}",
        examples.len(),
        from_files,
        o.data.display(),
        examples.len() - from_files,
        start.elapsed().as_secs_f64(),
        classify::Model::version(&model),
        bytes.len() as f64 / 1_048_576.0,
        o.out.display()
    );
    if let Some(dev) = o.dev.as_ref().filter(|d| d.exists()) {
        let report = training::evaluate(&training::load_dir(dev)?, &model, &settings.classify.stage());
        println!(
            "development split ({}): intent macro-F1 {:.3}, urgency macro-F1 {:.3}, emergency recall {:.3}, language accuracy {:.3}",
            report.n, report.intent.macro_f1, report.urgency.macro_f1, report.emergency_recall, report.language.accuracy
        );
    }
    Ok(())
}

/// Scores the configured classifier (the LLM too, when classify.llm asks) on a labelled JSON
/// Lines file.
pub async fn eval(settings: &Settings, file: &Path, json: bool) -> anyhow::Result<()> {
    let examples = training::load_jsonl(file)?;
    let model = classify::load_model(&settings.classify.model)?;
    let stage = settings.classify.stage();
    let report = match llm_classifier(settings)? {
        None => training::evaluate(&examples, model.as_ref(), &stage),
        Some(llm) => {
            let start = Instant::now();
            let refined = examples.iter().map(|e| {
                let (text, llm) = (e.text(), &llm);
                let local = classify::classify_text(&e.subject, &text, None, model.as_ref(), &stage);
                async move { llm.refine(&e.subject, &text, local).await }
            });
            let predictions = futures_util::future::join_all(refined).await;
            training::score(&examples, &predictions, start.elapsed().as_secs_f64())
        }
    };
    if json {
        println!("{}", report.to_json());
    } else {
        report.print();
    }
    Ok(())
}

/// Classifies one message read from standard input, with the LLM when the configuration asks.
pub async fn classify(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    std::io::stdin().read_to_end(&mut raw).context("cannot read the message from standard input")?;
    let message = parse::run(&raw, 0, parse::Limits { max_bytes: settings.worker.max_message_bytes })
        .map_err(|e| anyhow::anyhow!("cannot classify: {e}"))?;
    let model = classify::load_model(&settings.classify.model)?;
    let mut c = classify::run(&message, model.as_ref(), &settings.classify.stage());
    if let Some(llm) = llm_classifier(settings)? {
        c = llm.refine(&message.subject, &message.text, c).await;
    }
    if json {
        println!("{}", serde_json::to_string(&c)?);
    } else {
        println!("intent     {} (confidence {:.2})", c.intent, c.confidence);
        for (i, p) in &c.alternatives {
            println!("           or {i} ({p:.2})");
        }
        println!("urgency    {}", c.urgency);
        if let Some(s) = &c.safety {
            println!("safety     {} (\"{}\")", s.hazard.as_str(), s.phrase);
        }
        println!("language   {}", c.language);
        println!("entities   {}", serde_json::to_string(&c.entities)?);
        println!("model      {}", c.model);
        if let Some(l) = &c.llm {
            println!("llm        {} ({}): {}", l.model, l.prompt, l.outcome);
            println!("           {} tokens in, {} out, cost {:.5} {}, {} ms", l.usage.prompt_tokens, l.usage.completion_tokens, l.usage.cost, settings.llm.currency, l.latency_ms);
        }
    }
    Ok(())
}

fn llm_classifier(settings: &Settings) -> anyhow::Result<Option<std::sync::Arc<classify::llm::LlmClassifier>>> {
    classify::llm::LlmClassifier::configured(settings).context("cannot set up LLM classification ([llm] and classify.llm)")
}

/// Records a person's correction; the next `switchyard train` learns from it.
pub async fn correct(settings: &Settings, data_dir: &Path, correction: &Correction) -> anyhow::Result<()> {
    if correction.intent.is_none() && correction.urgency.is_none() {
        bail!("nothing to correct: give --intent, --urgency or both");
    }
    open_store(settings, data_dir).await?.correct(correction).await?;
    println!("message {} corrected by {}", correction.message, correction.by);
    Ok(())
}

/// Local classification throughput on one core: the development split, cycled.
pub fn bench_classify(settings: &Settings, dev: &Path, messages: usize, json: bool) -> anyhow::Result<()> {
    let examples = training::load_dir(dev)?;
    let model = classify::load_model(&settings.classify.model)?;
    let stage = settings.classify.stage();
    let texts: Vec<(String, String)> = examples.iter().map(|e| (e.subject.clone(), e.text())).collect();
    let start = Instant::now();
    let mut emergencies = 0usize;
    for i in 0..messages {
        let (subject, text) = &texts[i % texts.len()];
        let c = classify::classify_text(subject, text, None, model.as_ref(), &stage);
        emergencies += usize::from(c.urgency == crate::domain::Urgency::Emergency);
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = messages as f64 / seconds;
    let model_bytes = match settings.classify.model.as_str() {
        "embedded" => crate::embedded::CLASSIFIER_MODEL.len(),
        "rules" => 0,
        path => std::fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0),
    };
    if json {
        println!("{}", serde_json::json!({"messages": messages, "seconds": seconds, "messages_per_second": rate, "model": model.version(), "model_bytes": model_bytes}));
    } else {
        println!("{messages} messages classified in {seconds:.2} s on one thread: {rate:.0} messages/s ({} emergencies)", emergencies);
        println!("model {} ({:.1} MiB)", model.version(), model_bytes as f64 / 1_048_576.0);
    }
    Ok(())
}


/// Fact-checking throughput on one core: drafts from the reply templates for the demo
/// customers of every language, cycled (see [`crate::bench::factcheck`]).
pub async fn bench_factcheck(settings: &Settings, drafts: usize, all: bool, json: bool) -> anyhow::Result<()> {
    crate::bench::factcheck::run(settings, &crate::bench::factcheck::Options { drafts, all, json }).await
}
