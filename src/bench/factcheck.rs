//! `bench factcheck`: the fact-checker's throughput on one thread. The corpus is real: for the
//! demo customers of each language, the ground and draft stages write the replies to a
//! question of each intent (and to an emergency) from the embedded reply templates, and each
//! draft is checked against the facts it was written from, as the pipeline does before it
//! decides and again before it sends.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::config::Settings;
use crate::connectors::Connectors;
use crate::connectors::cis::Customer;
use crate::connectors::demo_data::DemoData;
use crate::domain::{Fact, Intent, Language, Urgency};
use crate::pipeline::classify::Classification;
use crate::pipeline::classify::entities::{Entities, ReadingMention};
use crate::pipeline::draft::{self, DraftInput, Templates};
use crate::pipeline::factcheck::{self, Allowlist};
use crate::pipeline::identify::Identity;
use crate::pipeline::{LocalClock, ground, parse};

pub struct Options {
    pub drafts: usize,
    /// Check every draft written, not only those stating as many figures as a reply the
    /// issue describes.
    pub all: bool,
    pub json: bool,
}

/// One draft and the facts it was written from.
struct Case {
    language: Language,
    text: String,
    facts: Vec<Fact>,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub drafts: usize,
    /// CPU time of the checking thread: what one core does, whatever else the machine runs.
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    /// Per CPU second of the checking thread.
    pub drafts_per_second: f64,
    pub drafts_per_wall_second: f64,
    pub claims_per_second: f64,
    pub mb_per_second: f64,
    /// Share of the claims checked that matched a fact or the allowlist.
    pub verified_share: f64,
    /// Share of the drafts checked whose every claim matched.
    pub drafts_verified_share: f64,
    pub corpus_drafts: usize,
    pub mean_draft_bytes: f64,
    pub mean_claims: f64,
    pub mean_facts: f64,
}

/// Demo customers per language in the corpus: the named ones, then generated ones.
const CUSTOMERS_PER_LANGUAGE: usize = 12;

/// The drafts benchmarked state this many figures: a reply as the issue sizes it. Shorter
/// ones (a complaint acknowledged, a contract explained) are cheaper to check.
const CLAIMS: std::ops::RangeInclusive<usize> = 10..=30;

pub async fn run(settings: &Settings, o: &Options) -> anyhow::Result<()> {
    let allowlist = Allowlist::from_settings(settings);
    let written = corpus(settings).await?;
    let total = written.len();
    let corpus: Vec<Case> = written
        .into_iter()
        .filter(|c| o.all || CLAIMS.contains(&factcheck::extract(&c.text, c.language).len()))
        .collect();
    anyhow::ensure!(
        !corpus.is_empty(),
        "none of the {total} drafts written has {CLAIMS:?} claims"
    );
    // Once over the corpus first: the patterns are compiled and their caches warm, as in a
    // worker that has been running.
    for case in &corpus {
        std::hint::black_box(factcheck::run(
            &case.text,
            &case.facts,
            &allowlist,
            case.language,
        ));
    }
    let (mut claims, mut verified, mut drafts_verified, mut bytes) =
        (0usize, 0usize, 0usize, 0usize);
    let (wall, cpu) = (Instant::now(), thread_cpu_seconds()?);
    for case in corpus.iter().cycle().take(o.drafts) {
        let check = factcheck::run(&case.text, &case.facts, &allowlist, case.language);
        claims += check.claims.len();
        let ok = check.claims.iter().filter(|c| c.is_verified()).count();
        verified += ok;
        drafts_verified += usize::from(ok == check.claims.len());
        bytes += case.text.len();
        std::hint::black_box(check);
    }
    let cpu_seconds = thread_cpu_seconds()? - cpu;
    let wall_seconds = wall.elapsed().as_secs_f64();
    let (n, drafts) = (corpus.len() as f64, o.drafts.max(1) as f64);
    let f = Figures {
        drafts: o.drafts,
        cpu_seconds,
        wall_seconds,
        drafts_per_second: drafts / cpu_seconds,
        drafts_per_wall_second: drafts / wall_seconds,
        claims_per_second: claims as f64 / cpu_seconds,
        mb_per_second: bytes as f64 / 1e6 / cpu_seconds,
        verified_share: verified as f64 / claims.max(1) as f64,
        drafts_verified_share: drafts_verified as f64 / drafts,
        corpus_drafts: corpus.len(),
        mean_draft_bytes: corpus.iter().map(|c| c.text.len()).sum::<usize>() as f64 / n,
        mean_claims: claims as f64 / drafts,
        mean_facts: corpus.iter().map(|c| c.facts.len()).sum::<usize>() as f64 / n,
    };
    if o.json {
        println!("{}", serde_json::to_string(&f)?);
        return Ok(());
    }
    println!(
        "{} drafts fact-checked on one thread in {:.2} s of CPU ({:.2} s wall): {:.0} drafts/s, {:.0} claims/s, {:.1} MB/s ({:.0} drafts/s wall)",
        f.drafts,
        f.cpu_seconds,
        f.wall_seconds,
        f.drafts_per_second,
        f.claims_per_second,
        f.mb_per_second,
        f.drafts_per_wall_second
    );
    println!(
        "verified: {:.1}% of claims, {:.1}% of drafts fully",
        f.verified_share * 100.0,
        f.drafts_verified_share * 100.0
    );
    let selection = if o.all {
        "all".to_string()
    } else {
        format!("those stating {}-{} claims", CLAIMS.start(), CLAIMS.end())
    };
    println!(
        "corpus: {} of {total} drafts written from the reply templates (it, es, fr, en), {selection}; mean {:.0} bytes, {:.1} claims, {:.1} facts",
        f.corpus_drafts, f.mean_draft_bytes, f.mean_claims, f.mean_facts
    );
    Ok(())
}

/// CPU time of the calling thread.
fn thread_cpu_seconds() -> anyhow::Result<f64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass, which lives on our stack.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        anyhow::bail!(
            "cannot read the thread's CPU time: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

/// Every intent, and an emergency, for the first demo customers of each language.
async fn corpus(settings: &Settings) -> anyhow::Result<Vec<Case>> {
    let as_of = settings
        .connectors
        .demo
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let now = as_of
        .and_hms_opt(10, 0, 0)
        .context("10:00 is a valid time")?;
    let data = Arc::new(std::sync::RwLock::new(DemoData::generate(
        as_of,
        now,
        settings.connectors.demo.customers.max(200),
    )));
    let connectors = Connectors::demo(data.clone());
    let all_customers: Vec<_> = data.read().expect("demo data lock").customers().to_vec();
    let clock = LocalClock::Fixed(now).now();
    let templates = Templates::embedded().context("the embedded templates are broken")?;
    let mut cases = Vec::new();
    for lang in Language::SUPPORTED {
        let customers = all_customers
            .iter()
            .filter(|c| c.language == lang && c.email.is_some())
            .take(CUSTOMERS_PER_LANGUAGE);
        for customer in customers {
            // Every intent as an ordinary message, and an emergency (the safety reply).
            let readings = Intent::ALL.iter().map(|&i| (i, Urgency::Normal)).chain([(Intent::Outage, Urgency::Emergency)]);
            for (intent, urgency) in readings {
                cases.push(case(settings, &connectors, &clock, &templates, customer, intent, urgency).await?);
            }
        }
    }
    Ok(cases)
}

async fn case(
    settings: &Settings,
    connectors: &Connectors,
    clock: &ground::Clock,
    templates: &Templates,
    customer: &Customer,
    intent: Intent,
    urgency: Urgency,
) -> anyhow::Result<Case> {
    let lang = customer.language;
    let email = customer
        .email
        .as_ref()
        .context("the customer has an e-mail address")?;
    let raw = format!(
        "From: {email}\r\nSubject: {}\r\n\r\n{}\r\n",
        intent.as_str(),
        intent.as_str()
    );
    let message = parse::run(raw.as_bytes(), 0, parse::Limits { max_bytes: 1 << 20 })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The reading a customer would send: a plausible step from the last one.
    let readings = customer
        .supply_points
        .iter()
        .find_map(|sp| sp.last_reading.as_ref())
        .map(|r| {
            vec![ReadingMention {
                milli: r.milli + 150_000,
                unit: None,
            }]
        })
        .unwrap_or_default();
    let classification = Classification {
        intent,
        urgency,
        language: lang,
        confidence: 0.9,
        alternatives: Vec::new(),
        safety: None,
        entities: Entities {
            readings,
            ..Entities::default()
        },
        model: "bench".into(),
        llm: None,
    };
    let identity = Identity {
        customer: Some(customer.clone()),
        reasons: Vec::new(),
    };
    let ground_input = ground::GroundInput {
        classification: &classification,
        identity: &identity,
        lang,
        reference: "bench",
        channel: "email",
        installments: &settings.installments,
    };
    let grounding = ground::run(&ground_input, connectors, clock).await;
    let input = DraftInput {
        message: &message,
        classification: &classification,
        identity: &identity,
        grounding: &grounding,
        brand: &settings.brand,
        language: lang,
    };
    let draft = draft::run(&input, templates)?;
    Ok(Case {
        language: lang,
        text: draft.body,
        facts: grounding.facts,
    })
}
