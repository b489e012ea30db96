//! `switchyard audit …`: verify the trail, sign its head, make a signing key.

use std::path::Path;

use anyhow::Context;

use crate::audit::{self, sign::Signer};
use crate::cli::AuditCommand;
use crate::commands::open_store;
use crate::config::Settings;

/// Runs one audit command; `Ok(false)` when verification found the trail altered.
pub async fn run(settings: &Settings, data_dir: &Path, command: AuditCommand) -> anyhow::Result<bool> {
    match command {
        AuditCommand::Verify { public_key, json } => {
            let store = open_store(settings, data_dir).await?;
            let key = match public_key.or_else(|| settings.audit.public_key.clone()) {
                Some(k) => k,
                None => {
                    let (signer, _) = audit::signer(settings, data_dir).context("no public key given, and the signing key cannot be read")?;
                    eprintln!("checking signatures against the local signing key's public half; give --public-key (or audit.public_key) to check against a key kept elsewhere");
                    signer.public_hex().to_string()
                }
            };
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
