//! `switchyard privacy …` (purge, erase, export) and `switchyard consent …` (record, list):
//! the commands a data-protection officer or the service desk runs.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::{ConsentCommand, PrivacyCommand, Who};
use crate::commands::open_store;
use crate::config::Settings;
use crate::privacy::{self, ConsentRecord, ErasureReport, NewConsent, PurgeReport, Subject, files::Folders};

fn subject(who: &Who) -> anyhow::Result<Subject> {
    Ok(Subject::from_args(who.customer.as_deref(), who.email.as_deref())?)
}

pub async fn privacy(settings: &Settings, data_dir: &Path, command: PrivacyCommand) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    let folders = Folders::of(settings, data_dir);
    match command {
        PrivacyCommand::Purge { before, json } => {
            let cutoff = match before {
                Some(date) => privacy::parse_before(&date)?,
                None => match privacy::retention_cutoff(settings.privacy.retention_days, chrono::Utc::now()) {
                    Some(c) => c,
                    None => bail!("nothing to purge: privacy.retention_days is 0 (keep for ever); give --before DATE to purge up to a date"),
                },
            };
            let report = privacy::purge(&store, &folders, cutoff).await.context("the purge stopped; what was purged so far stays purged")?;
            print_purge(&report, json)
        }
        PrivacyCommand::Erase { who, reason, by, json } => {
            let subject = subject(&who)?;
            let report = privacy::erase(&store, &folders, &subject, &by, &reason).await?;
            print_erasure(&report, json)
        }
        PrivacyCommand::Export { who } => {
            let data = store.access(&subject(&who)?).await?;
            println!("{}", serde_json::to_string_pretty(&privacy::access::document(&data, chrono::Utc::now()))?);
            Ok(())
        }
    }
}

fn print_purge(r: &PurgeReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let cutoff = r.cutoff.map(|c| c.to_rfc3339()).unwrap_or_default();
    println!(
        "purged {} messages untouched since before {cutoff}: {} replies, drafts, notes and alerts, {} queue items, {} staff actions, {} Maildir files",
        r.messages, r.outbox_rows, r.approvals, r.staff_actions, r.files
    );
    if r.imap_messages > 0 {
        println!("{} of them came from IMAP mailboxes: their copies on the mail server are not deleted by Switchyard", r.imap_messages);
    }
    Ok(())
}

fn print_erasure(r: &ErasureReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let who = r.subject.as_ref().map(ToString::to_string).unwrap_or_default();
    println!("erased {who}:");
    println!("  {} messages: their text, subject, sender and customer, drafts, replies, notes and staff comments", r.messages);
    println!("  {} replies not yet sent, cancelled; {} drafts waiting for a person, discarded", r.cancelled_replies, r.discarded_drafts);
    println!("  {} consent records; {} pseudonym keys ({})", r.consents, r.forgotten.len(), r.forgotten.join(", "));
    println!("  {} Maildir files (inbox, outbox, drafts, review)", r.files);
    println!("kept: each message's decision codes, intent, urgency, policy version and times, and the audit trail, which holds");
    println!("  only hashes and the pseudonyms whose keys are now deleted (`switchyard audit verify` still passes)");
    println!("NOT erased by Switchyard (do it where the data is):");
    for (channel, n) in &r.imap {
        let mailbox = channel.strip_prefix("imap:").unwrap_or(channel);
        println!("  - {n} messages came from the IMAP mailbox `{mailbox}`: the originals on the mail server, the replies in Sent");
        println!("    and any drafts in Drafts stay there; delete them in the mailbox");
    }
    println!("  - backups of the database and of the data directory made before now");
    println!("  - the customer's record in the CIS and anything other systems received (webhooks carry ids and codes only)");
    Ok(())
}

pub async fn consent(settings: &Settings, data_dir: &Path, command: ConsentCommand) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    match command {
        ConsentCommand::Record { who, channel, purpose, opt_in, opt_out: _, source, by } => {
            if source.trim().is_empty() {
                bail!("give the source of the consent (--source), e.g. \"phone call\" or \"web form\"");
            }
            let new = NewConsent { subject: subject(&who)?, channel, purpose, granted: opt_in, source: source.trim().to_string(), by };
            let r = store.record_consent(&new).await?;
            println!("recorded: {}", describe(&r));
            Ok(())
        }
        ConsentCommand::List { who, json } => {
            let records = store.consents(&[subject(&who)?]).await?;
            let mut seen = HashSet::new();
            for r in &records {
                let holds = seen.insert((r.channel, r.purpose));
                if json {
                    let mut v = serde_json::to_value(r)?;
                    v["holds"] = holds.into();
                    println!("{v}");
                } else {
                    println!("{}  {}", describe(r), if holds { "(holds)" } else { "(superseded)" });
                }
            }
            if records.is_empty() && !json {
                println!("no consent records: the CIS's consent flags apply");
            }
            Ok(())
        }
    }
}

fn describe(r: &ConsentRecord) -> String {
    format!(
        "{}  {}  {:<8} {:<15} {:<9}  source: {}  by {}",
        r.recorded_at.format("%Y-%m-%d %H:%M"),
        r.subject,
        r.channel.as_str(),
        r.purpose.as_str(),
        if r.granted { "granted" } else { "withdrawn" },
        r.source,
        r.recorded_by
    )
}
