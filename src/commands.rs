//! The commands besides `run`: what the store holds (`status`, `approvals`), the classifier
//! (`train`, `eval`, `classify`, `correct`) and the classifier's and fact-checker's benchmarks.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::config::Settings;
use crate::connectors::cis::CustomerKey;
use crate::domain::{AccountId, Language};
use crate::pipeline::classify;
use crate::pipeline::parse;
use crate::store::sqlite::SqliteStore;
use crate::store::{Correction, Store};
use crate::training::{self, Example, TrainConfig};

pub(crate) async fn open_store(settings: &Settings, data_dir: &Path) -> anyhow::Result<SqliteStore> {
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


/// `switchyard factcheck`: every claim in a text checked against one customer's live facts.
pub struct FactcheckOptions {
    pub customer: String,
    pub json: bool,
    /// How numbers are read (decimal comma or point); default the customer's language.
    pub language: Option<Language>,
}

/// Prints each claim and what it matched; returns whether every claim is verified.
pub async fn factcheck(settings: &Settings, o: &FactcheckOptions) -> anyhow::Result<bool> {
    let account = AccountId::parse(&o.customer)
        .with_context(|| format!("`{}` is not an account number (eight digits starting with 4)", o.customer))?;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read the draft from standard input")?;
    let (connectors, clock) = crate::app::connectors(settings).context("cannot set up the CIS and OMS connectors")?;
    let live = connectors.live();
    let customer = live
        .cis
        .find_customer(&CustomerKey::Account(account.clone()))
        .await
        .context("the CIS cannot be asked about the customer")?
        .with_context(|| format!("no customer with account {account} in the CIS"))?;
    let lang = o.language.unwrap_or(customer.language);
    let grounding = crate::pipeline::ground::all_facts(&customer, &live, &clock.now(), lang, &settings.installments)
        .await
        .context("the customer's facts cannot be read")?;
    let check = crate::pipeline::factcheck::run(&text, &grounding.facts, &crate::pipeline::factcheck::Allowlist::from_settings(settings), lang);
    let fact = |key: &Option<String>| key.as_ref().and_then(|k| grounding.facts.iter().find(|f| &f.key == k));
    if o.json {
        let claims: Vec<serde_json::Value> = check
            .claims
            .iter()
            .map(|c| {
                serde_json::json!({
                    "kind": c.kind.as_str(),
                    "text": c.text,
                    "verified": c.is_verified(),
                    "matched": c.matched,
                    "fact": fact(&c.matched).map(|f| serde_json::json!({
                        "key": f.key,
                        "value": crate::locale::format_fact(&f.value, lang),
                        "source": f.source,
                        "fetched_at": f.fetched_at,
                    })),
                })
            })
            .collect();
        let out = serde_json::json!({
            "customer": account.as_str(),
            "language": lang.as_str(),
            "verified": check.all_verified(),
            "claims": claims,
            "unverified": check.unverified().count(),
        });
        println!("{out}");
    } else {
        for c in &check.claims {
            let what = match (&c.matched, fact(&c.matched)) {
                (Some(_), Some(f)) => format!("= {} ({}, {})", f.key, crate::locale::format_fact(&f.value, lang), f.source),
                (Some(entry), None) => format!("= {entry}"),
                (None, _) => "NOT VERIFIED: matches no fact of this customer".to_string(),
            };
            println!("{:<12} {:<11} {:<30} {what}", if c.is_verified() { "verified" } else { "UNVERIFIED" }, c.kind.as_str(), c.text);
        }
        println!("{} claims, {} unverified", check.claims.len(), check.unverified().count());
    }
    Ok(check.all_verified())
}

/// Serves the demo CIS and OMS (the worker's data set, from `[connectors.demo]`) over the HTTP
/// contract until Ctrl-C or SIGTERM; prints the address it listens on.
pub async fn demo_cis(settings: &Settings, listen: std::net::SocketAddr, token_env: Option<&str>) -> anyhow::Result<()> {
    let token = match token_env {
        Some(var) => {
            let value = std::env::var(var).ok().filter(|v| !v.is_empty());
            Some(crate::secret::Secret::new(value.with_context(|| format!("--token-env {var}: the variable is not set or empty"))?))
        }
        None => None,
    };
    let data = crate::app::demo_data(settings, crate::app::demo_clock(settings));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    println!("listening on http://{address}");
    tracing::info!(%address, token = token.is_some(), "demo CIS and OMS serving the contract in openapi/utility-systems.json");
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::app::stop_on_signal(cancel.clone(), "stopping the demo server"));
    let app = crate::connectors::serve::router(data, token);
    crate::connectors::serve::serve(listener, app, cancel).await.context("the demo server failed")
}

/// Fact-checking throughput on one core: drafts from the reply templates for the demo
/// customers of every language, cycled (see [`crate::bench::factcheck`]).
pub async fn bench_factcheck(settings: &Settings, drafts: usize, all: bool, json: bool) -> anyhow::Result<()> {
    crate::bench::factcheck::run(settings, &crate::bench::factcheck::Options { drafts, all, json }).await
}
