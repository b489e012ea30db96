//! `switchyard audit …`: verify the trail (in the database or an export), export it, report on
//! one case, sign its head, make a signing key.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::audit::export::{self, Filters, Range, Request};
use crate::audit::format::Format;
use crate::audit::verify::ExportReport;
use crate::audit::{self, sign::Signer};
use crate::cli::AuditCommand;
use crate::commands::open_store;
use crate::config::Settings;

/// Runs one audit command; `Ok(false)` when verification found the trail altered.
pub async fn run(settings: &Settings, data_dir: &Path, command: AuditCommand) -> anyhow::Result<bool> {
    match command {
        AuditCommand::Verify { public_key, export: Some(dir), json } => Ok(verify_export(settings, &dir, public_key, json)),
        AuditCommand::Verify { public_key, export: None, json } => verify_database(settings, data_dir, public_key, json).await,
        AuditCommand::Export { from, to, format, out, customer, email, mailbox, intent, decision, actor, json } => {
            let filters = Filters {
                customer,
                email,
                mailbox,
                intent: intent.map(|i| i.as_str().to_string()),
                decision: decision.map(|d| d.as_str().to_string()),
                actor: actor.map(|a| a.trim().to_lowercase()),
            };
            export_trail(settings, data_dir, &from, &to, format, out, filters, json).await?;
            Ok(true)
        }
        AuditCommand::Report { message, out, public_key } => report(settings, data_dir, message, out.as_deref(), public_key).await,
        AuditCommand::Sign => {
            let store = open_store(settings, data_dir).await?;
            let (signer, _) = audit::signer(settings, data_dir).context("cannot load the audit signing key ([audit])")?;
            match store.sign_audit_head(&signer).await? {
                Some(h) => println!("signed the head at entry {}: {}", h.seq, h.hash),
                None => println!("nothing new to sign"),
            }
            Ok(true)
        }
        AuditCommand::Keygen => {
            let (signer, seed) = Signer::generate();
            println!("{seed}");
            eprintln!("public key: {}  (set audit.public_key to it where verification runs; keep the line above secret)", signer.public_hex());
            Ok(true)
        }
    }
}

/// The key signatures are checked against: given, else `audit.public_key`, else the local
/// signing key's public half (said on stderr, since it proves less).
fn database_key(settings: &Settings, data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(k) = given.or_else(|| settings.audit.public_key.clone()) {
        return Ok(k);
    }
    let (signer, _) = audit::signer(settings, data_dir).context("no public key given, and the signing key cannot be read")?;
    eprintln!("checking signatures against the local signing key's public half; give --public-key (or audit.public_key) to check against a key kept elsewhere");
    Ok(signer.public_hex().to_string())
}

async fn verify_database(settings: &Settings, data_dir: &Path, public_key: Option<String>, json: bool) -> anyhow::Result<bool> {
    let key = database_key(settings, data_dir, public_key)?;
    let store = open_store(settings, data_dir).await?;
    let report = store.verify_audit(&key).await?;
    if json {
        println!("{}", serde_json::json!({"intact": report.intact(), "report": report, "public_key": key}));
    } else {
        match &report.problem {
            None => println!(
                "audit trail intact: {} entries, head {} at entry {}, {} signed heads, {} entries after the last signed head",
                report.entries, report.last_hash, report.last_seq, report.signed_heads, report.unsigned_tail
            ),
            Some(p) => println!("audit trail NOT intact: first bad entry {}: {}", p.seq, p.what),
        }
    }
    Ok(report.intact())
}

/// Offline: no database is opened. The key is given, else `audit.public_key`, else the one the
/// manifest names.
fn verify_export(settings: &Settings, dir: &Path, public_key: Option<String>, json: bool) -> bool {
    let key = public_key.or_else(|| settings.audit.public_key.clone());
    let report = audit::verify::export(dir, key.as_deref());
    if json {
        println!("{}", serde_json::json!({"intact": report.intact(), "report": report}));
    } else {
        print_export_report(&report);
    }
    if report.key_from_export {
        eprintln!(
            "warning: no public key given (--public-key or audit.public_key), so the export was checked against the key its own manifest names: \
             this proves the files are intact and consistent, not who made them. Check against the audit key kept elsewhere to prove origin."
        );
    }
    report.intact()
}

fn print_export_report(r: &ExportReport) {
    if !r.intact() {
        println!("export {} NOT intact:", r.dir);
        r.problems.iter().for_each(|p| println!("  {p}"));
        return;
    }
    let span = match (r.first_seq, r.last_seq) {
        (Some(a), Some(b)) => format!("entries {a} to {b}, {}", if r.contiguous { "contiguous" } else { "filtered, links checked between neighbours" }),
        _ => "no entries".into(),
    };
    println!("export {} intact: {} entries ({span}), {}", r.dir, r.entries, r.format);
    println!("  manifest signed by {} ({})", r.public_key, if r.key_from_export { "the key the manifest names" } else { "the audit key given" });
    println!(
        "  {} verified, {} matched to exported entries; {} after the last of them pinned by the manifest's signature alone",
        plural(r.heads, "signed head"),
        r.heads_matched,
        plural(r.unsigned_tail as usize, "exported entry")
    );
    if let Some(h) = &r.head_after {
        println!("  the head signed at {} covers up to entry {} (past the export; `audit verify` on the database checks the link)", h.signed_at, h.seq);
    }
}

#[allow(clippy::too_many_arguments)]
async fn export_trail(
    settings: &Settings,
    data_dir: &Path,
    from: &str,
    to: &str,
    format: Format,
    out: Option<PathBuf>,
    filters: Filters,
    json: bool,
) -> anyhow::Result<()> {
    let range = Range::parse(from, to)?;
    let (signer, _) = audit::signer(settings, data_dir).context("cannot load the audit signing key ([audit]): the manifest must be signed")?;
    let out = out.unwrap_or_else(|| data_dir.join("exports").join(format!("audit-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"))));
    let store = open_store(settings, data_dir).await?;
    let mut conn = store.pool.acquire().await?;
    let request = Request { range, filters, format, out: out.clone() };
    let m = export::export(&mut conn, &request, &signer).await.with_context(|| format!("cannot export the audit trail to {}", out.display()))?;
    if json {
        println!("{}", serde_json::json!({"dir": out, "manifest": m}));
        return Ok(());
    }
    println!("{}", out.display());
    let span = match (m.first_seq, m.last_seq) {
        (Some(a), Some(b)) => format!("entries {a} to {b}{}", if m.contiguous { ", contiguous" } else { ", not contiguous" }),
        _ => "nothing in that range".into(),
    };
    println!(
        "exported {} ({span}) from {} to {} as {}, {}, manifest signed by {}",
        plural(m.count as usize, "entry"),
        m.range.from,
        m.range.to,
        m.format,
        plural(m.heads.len(), "signed head"),
        m.public_key
    );
    Ok(())
}

/// Writes the page (or prints it); `Ok(false)` when the chain check for the case failed.
async fn report(settings: &Settings, data_dir: &Path, message: i64, out: Option<&Path>, public_key: Option<String>) -> anyhow::Result<bool> {
    let key = database_key(settings, data_dir, public_key)?;
    let store = open_store(settings, data_dir).await?;
    let mut conn = store.pool.acquire().await?;
    let case = audit::report::build(&mut conn, message, &key).await?;
    let html = audit::report::render(&case)?;
    match out {
        Some(path) => {
            std::fs::write(path, &html).with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", path.display());
            println!("{}", case.summary());
        }
        None => print!("{html}"),
    }
    Ok(case.chain.intact)
}

fn plural(n: usize, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}
