//! `bench audit`: the audit trail's throughput. A temporary database is filled with entries
//! shaped like the pipeline's (each message's story: received, classified, identified, facts
//! used, drafted, checked, decided, then sent or approved by a person), appended in batches
//! through `audit::append` with heads signed as the worker signs them; then verify (database),
//! export (JSON Lines, CSV) and verify --export (offline) are timed over all of it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, TimeZone, Utc};
use serde::Serialize;
use serde_json::json;

use crate::audit::export::{self, Filters, Range, Request};
use crate::audit::format::Format;
use crate::audit::sign::Signer;
use crate::audit::{self, NewEntry, sha256_hex};
use crate::store::sqlite::SqliteStore;

pub struct Options {
    pub entries: usize,
    /// Keep the data directory (a database and key `switchyard --data-dir` can use, and the
    /// exports) and print where it is.
    pub keep: bool,
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub entries: u64,
    pub mean_entry_bytes: f64,
    pub append_per_second: f64,
    pub verify_database_per_second: f64,
    pub export_jsonl_per_second: f64,
    pub export_csv_per_second: f64,
    pub verify_export_jsonl_per_second: f64,
    pub verify_export_csv_per_second: f64,
    pub jsonl_mib: f64,
    pub csv_mib: f64,
}

/// Entries per append (one transaction), as a busy worker writes them.
const BATCH: usize = 1_000;
/// A head is signed every this many batches, and at the end.
const SIGN_EVERY: usize = 20;

pub async fn run(o: &Options) -> anyhow::Result<()> {
    let dir = crate::bench::scratch_dir("audit")?;
    let result = measure(o, &dir).await;
    if o.keep {
        eprintln!("data directory kept: {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let f = result?;
    if o.json {
        println!("{}", serde_json::to_string(&f)?);
        return Ok(());
    }
    println!("{} entries ({:.0} bytes each on average), appended at {:.0} entries/s", f.entries, f.mean_entry_bytes, f.append_per_second);
    println!("verify (database):        {:>10.0} entries/s", f.verify_database_per_second);
    println!("export jsonl:             {:>10.0} entries/s ({:.1} MiB)", f.export_jsonl_per_second, f.jsonl_mib);
    println!("export csv:               {:>10.0} entries/s ({:.1} MiB)", f.export_csv_per_second, f.csv_mib);
    println!("verify --export (jsonl):  {:>10.0} entries/s", f.verify_export_jsonl_per_second);
    println!("verify --export (csv):    {:>10.0} entries/s", f.verify_export_csv_per_second);
    Ok(())
}

async fn measure(o: &Options, dir: &Path) -> anyhow::Result<Figures> {
    // Laid out as a data directory, so a kept one can be checked with the commands.
    let store = SqliteStore::open(&dir.join("switchyard.db")).await?;
    let (signer, seed) = Signer::generate();
    std::fs::write(dir.join("audit.key"), format!("{seed}\n")).context("cannot write the benchmark's key")?;
    let started = Instant::now();
    fill(&store, o.entries, &signer).await?;
    let append = started.elapsed().as_secs_f64();
    let key = signer.public_hex().to_string();
    let n = o.entries as f64;

    let started = Instant::now();
    let report = store.verify_audit(&key).await?;
    let verify_database = started.elapsed().as_secs_f64();
    if let Some(p) = report.problem {
        bail!("the generated trail does not verify: entry {}: {}", p.seq, p.what);
    }
    let (jsonl, jsonl_bytes) = export_timed(&store, &signer, Format::Jsonl, &dir.join("jsonl")).await?;
    let (csv, csv_bytes) = export_timed(&store, &signer, Format::Csv, &dir.join("csv")).await?;
    let verify_jsonl = verify_timed(&dir.join("jsonl"), &key)?;
    let verify_csv = verify_timed(&dir.join("csv"), &key)?;
    Ok(Figures {
        entries: report.entries,
        mean_entry_bytes: jsonl_bytes as f64 / n,
        append_per_second: n / append,
        verify_database_per_second: n / verify_database,
        export_jsonl_per_second: n / jsonl,
        export_csv_per_second: n / csv,
        verify_export_jsonl_per_second: n / verify_jsonl,
        verify_export_csv_per_second: n / verify_csv,
        jsonl_mib: jsonl_bytes as f64 / 1_048_576.0,
        csv_mib: csv_bytes as f64 / 1_048_576.0,
    })
}

async fn export_timed(store: &SqliteStore, signer: &Signer, format: Format, out: &Path) -> anyhow::Result<(f64, u64)> {
    let range = Range::parse("2000-01-01", "2999-12-31")?;
    let request = Request { range, filters: Filters::default(), format, out: out.to_path_buf() };
    let mut conn = store.pool.acquire().await?;
    let started = Instant::now();
    let manifest = export::export(&mut conn, &request, signer).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((seconds, manifest.files.values().map(|f| f.bytes).sum()))
}

fn verify_timed(dir: &Path, key: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let report = audit::verify::export(dir, Some(key));
    let seconds = started.elapsed().as_secs_f64();
    if let Some(p) = report.problems.first() {
        bail!("the export in {} does not verify: {p}", dir.display());
    }
    Ok(seconds)
}

/// Appends `n` entries in batches, signing a head every few batches and at the end.
async fn fill(store: &SqliteStore, n: usize, signer: &Signer) -> anyhow::Result<()> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).single().context("a valid time")?;
    let mut message = 0i64;
    let mut written = 0usize;
    let mut batch_no = 0usize;
    while written < n {
        let mut batch = Vec::with_capacity(BATCH + 10);
        while batch.len() < BATCH.min(n - written) {
            message += 1;
            batch.extend(story(message));
        }
        batch.truncate(n - written);
        let mut tx = store.pool.begin().await?;
        audit::append(&mut tx, &batch, start + Duration::seconds(batch_no as i64 * 30)).await?;
        tx.commit().await?;
        written += batch.len();
        batch_no += 1;
        if batch_no.is_multiple_of(SIGN_EVERY) || written == n {
            store.sign_audit_head(signer).await?;
        }
    }
    Ok(())
}

/// One message's entries, shaped and sized like the pipeline's.
fn story(message: i64) -> Vec<NewEntry> {
    let h = |what: &str| sha256_hex(format!("{what}/{message}").as_bytes());
    let customer = format!("{:032x}", (message % 997) * 7_919 + 1);
    let mailbox = if message % 3 == 0 { "imap:INBOX" } else { "maildir:inbox" };
    let (intent, decision) = [("billing", "auto_send"), ("payment", "auto_send"), ("meter_reading", "approve"), ("outage", "auto_send")][message as usize % 4];
    let tag = |mut e: NewEntry| {
        e.subject = Some(customer.clone());
        e.mailbox = Some(mailbox.to_string());
        e.intent = Some(intent.to_string());
        e.decision = Some(decision.to_string());
        e
    };
    let m = Some(message);
    let facts: Vec<_> = ["customer.account", "balance", "invoice.number", "invoice.due_date", "invoice.amount", "payment.0.date", "payment.0.amount", "supply.0.id"]
        .iter()
        .map(|k| json!({"key": k, "source": "cis.demo", "fetched_at": "2026-01-01T08:00:00.123456789Z", "value_sha256": h(k)}))
        .collect();
    let claims: Vec<_> = ["money", "date", "identifier", "money", "phone", "url"].iter().enumerate().map(|(i, k)| json!({"kind": k, "matched": format!("fact.{i}"), "text_sha256": h(&format!("claim{i}"))})).collect();
    let reply = format!("r.{:024x}@switchyard.aurora.example", message);
    let mut received = NewEntry::new("message.received", m, json!({"raw_sha256": h("raw"), "bytes": 1200 + message % 3000}));
    received.mailbox = Some(mailbox.to_string());
    let mut out = vec![
        received,
        tag(NewEntry::new("message.classified", m, json!({"intent": intent, "urgency": "normal", "language": "it", "confidence": 0.93, "model": "linear-0e8dfe48286e", "decided_by": "local", "llm": null}))),
        tag(NewEntry::new("customer.identified", m, json!({"verified": true, "sender": format!("{:032x}", message * 31)}))),
        tag(NewEntry::new("facts.used", m, json!({"facts": facts}))),
        tag(NewEntry::new("reply.drafted", m, json!({"template": format!("replies/{intent}.it.txt"), "body_sha256": h("body"), "attachments": 0, "llm": null}))),
        tag(NewEntry::new("reply.checked", m, json!({"claims": claims, "unverified": 0}))),
        tag(NewEntry::new("message.decided", m, json!({"decision": decision, "reasons": [{"code": "customer_verified", "detail_sha256": h("r1")}, {"code": "claims_verified", "detail_sha256": h("r2")}], "policy_version": "default-3", "outgoing": [{"kind": "reply", "id": reply, "sha256": h("out")}]}))),
    ];
    if decision == "approve" {
        out.push(NewEntry::new("draft.approved", m, json!({"state": "approved", "unverified_claims": 0, "override_reason_sha256": null, "reply": reply, "via": "web"})).by("sara"));
    }
    out.push(NewEntry::new("message.sent", m, json!({"outbox": message, "kind": "reply", "id": reply, "sha256": h("out")})));
    out
}

