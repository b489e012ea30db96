//! Privacy through the real binary: logs at info carry none of the sample mailbox's personal
//! data (and the same check finds it at trace, so it can fail), consents stop replies, and
//! `privacy erase`, `privacy export` and `privacy purge` do what they say while
//! `audit verify` still passes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use regex::Regex;
use serde_json::{Value, json};
use switchyard::connectors::demo_data::DemoData;
use switchyard::domain::EmailAddress;

use crate::helpers::{AS_OF, TestDir, count, samples_dir};
use crate::web::{WebWorker, add_token, add_user, wait_until_triaged};

const GIULIA: &str = "giulia.rossi@posta.example";

/// Everything personal in the sample mailbox: each sender's address and name, subject lines,
/// body lines, and the account numbers, supply points and phone numbers they write or the
/// demo CIS holds for them. Our own brand and addresses are left out: they are not personal.
fn personal_data() -> BTreeSet<String> {
    let as_of = NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    let cis = DemoData::generate(as_of, as_of.and_hms_opt(10, 0, 0).unwrap(), 520);
    let numbers = Regex::new(r"\b(4\d{7}|IT\d{3}E\d{8}|ES\d{16}[A-Z]{2}|\d{11,14}|\+?\d{2,3}[ \d]{7,12}\d)\b").unwrap();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(samples_dir()).unwrap().flatten() {
        if entry.path().extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(entry.path()).unwrap();
        let Some(m) = mail_parser::MessageParser::default().parse(&raw) else { continue };
        let from = m.from().and_then(|a| a.first());
        let address = from.and_then(|a| a.address()).map(str::to_lowercase);
        if address.as_deref().is_some_and(|a| a.ends_with("@aurora.example")) {
            continue;
        }
        out.extend(address.clone());
        out.extend(from.and_then(|a| a.name()).map(|n| n.trim().to_string()));
        out.extend(m.subject().map(|s| s.trim().to_string()));
        let text = m.body_text(0).unwrap_or_default().into_owned();
        out.extend(text.lines().map(str::trim).filter(|l| l.chars().count() >= 12).map(String::from));
        out.extend(numbers.find_iter(&text).map(|n| n.as_str().trim().to_string()));
        if let Some(c) = address.and_then(|a| EmailAddress::parse(&a).ok()).and_then(|a| cis.by_email(&a).cloned()) {
            out.extend([c.account.to_string(), c.full_name(), c.address.street.clone()]);
            out.extend(c.phone.map(|p| p.to_string()));
            out.extend(c.supply_points.iter().map(|s| s.id.to_string()));
        }
    }
    out.retain(|s| s.chars().count() >= 6);
    out
}

/// The personal data found in `log`.
fn leaks<'a>(log: &str, data: &'a BTreeSet<String>) -> Vec<&'a String> {
    data.iter().filter(|d| log.contains(d.as_str())).collect()
}

fn run_with_log(dir: &TestDir, level: &str) -> String {
    let out = dir.command().args(["run", "--once", "--json"]).env("SWITCHYARD_LOG", level).output().unwrap();
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn logs_at_info_carry_no_personal_data_and_the_check_sees_it_at_trace() {
    let data = personal_data();
    assert!(data.len() > 300, "the sample mailbox has plenty to look for: {}", data.len());
    assert!(data.contains(GIULIA) && data.contains("Giulia Rossi") && data.contains("40000001") && data.contains("IT001E00012345"));

    let info = run_with_log(&TestDir::new("privacy-log-info"), "info");
    assert!(info.contains("switchyard running"), "the log was captured: {info}");
    let found = leaks(&info, &data);
    assert!(found.is_empty(), "personal data in the info log: {found:?}\n{info}");

    // The same check over a trace log finds what debug logging carries: it can fail.
    let trace = run_with_log(&TestDir::new("privacy-log-trace"), "trace");
    let found = leaks(&trace, &data);
    assert!(found.len() > 50 && found.contains(&&GIULIA.to_string()), "the check should see personal data at trace: {found:?}");
}

#[tokio::test]
async fn logs_at_info_carry_no_personal_data_on_the_web_path_either() {
    switchyard::channels::tls::install_crypto_provider();
    let data = personal_data();
    let dir = TestDir::new("privacy-log-web");
    add_user(&dir, "sara", "supervisor");
    let token = add_token(&dir, "sara", "crm");
    let worker = WebWorker::start(&dir, &[("SWITCHYARD_LOG", "info")]);
    let http = reqwest::Client::new();
    wait_until_triaged(&http, &worker.url, &token).await;
    let list: Value = http.get(format!("{}/api/messages?intent=billing", worker.url)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let id = list["items"].as_array().unwrap().iter().find(|i| i["has_draft"] == true && i["escalated"] == false).expect("a billing draft")["message"]
        .as_i64()
        .unwrap();
    let approve = |text: Option<&str>| {
        let body = text.map_or(json!({}), |t| json!({"text": t}));
        http.post(format!("{}/api/messages/{id}/draft/approve", worker.url)).bearer_auth(&token).json(&body).send()
    };
    // Held (an invented amount), then approved as proposed and delivered.
    assert_eq!(approve(Some("Il saldo è di 999,99 €.")).await.unwrap().status(), 422);
    assert_eq!(approve(None).await.unwrap().status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.maildir_files("outbox").keys().any(|n| n.starts_with("p.")) {
        assert!(Instant::now() < deadline, "the approved reply was not delivered; log:\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = worker.log();
    worker.stop();
    assert!(log.contains("reply approved"), "{log}");
    let found = leaks(&log, &data);
    assert!(found.is_empty(), "personal data in the info log: {found:?}\n{log}");
}

fn switchyard(dir: &TestDir, args: &[&str]) -> (bool, String, String) {
    let out = dir.command().args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn verify(dir: &TestDir) {
    let (ok, stdout, stderr) = switchyard(dir, &["audit", "verify"]);
    assert!(ok, "audit verify failed: {stdout}{stderr}");
}

/// Every value of every table as text, one string per row (blobs read as UTF-8, lossily).
fn every_row(db: &Path) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display())).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut conn).await.unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)").bind(&table).fetch_all(&mut conn).await.unwrap();
            let concat = columns.iter().map(|c| format!("COALESCE(CAST(\"{c}\" AS BLOB), x'')")).collect::<Vec<_>>().join(" || x'7c' || ");
            let sql = format!("SELECT CAST('{table}|' || {concat} AS BLOB) FROM \"{table}\"");
            let found: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap();
            rows.extend(found.iter().map(|b| String::from_utf8_lossy(b).into_owned()));
        }
        rows
    })
}

fn maildir_text(dir: &TestDir) -> Vec<(String, String)> {
    ["inbox", "outbox", "drafts", "review"]
        .iter()
        .flat_map(|f| dir.maildir_files(f).into_iter().map(move |(name, bytes)| (format!("{f}/{name}"), String::from_utf8_lossy(&bytes).into_owned())))
        .collect()
}

#[test]
fn a_customer_who_withdrew_consent_gets_no_reply_and_status_says_why() {
    let dir = TestDir::new("privacy-consent");
    let record = ["consent", "record", "--customer", "40000001", "--channel", "email", "--purpose", "service", "--opt-out", "--source", "phone call", "--by", "anna"];
    let (ok, stdout, stderr) = switchyard(&dir, &record);
    assert!(ok && stdout.contains("withdrawn"), "{stdout}{stderr}");
    let (ok, _, stderr) = switchyard(&dir, &["consent", "record", "--customer", "40000001", "--channel", "email", "--purpose", "service", "--source", "x"]);
    assert!(!ok && stderr.contains("--opt-in"), "one of --opt-in and --opt-out is required: {stderr}");

    let (lines, out) = dir.run_once(&[]);
    assert!(out.status.success());
    let giulia: Vec<&Value> = lines.iter().filter(|l| l["from"] == GIULIA).collect();
    let withheld = giulia.iter().find(|l| l["decision"] == "auto_send").expect("her billing question is answered automatically");
    assert!(withheld["reply_message_id"].is_null(), "{withheld}");
    assert!(withheld["reasons"].to_string().contains("consent_withdrawn"), "{withheld}");
    assert!(!dir.maildir_files("outbox").values().any(|m| String::from_utf8_lossy(m).contains(GIULIA)), "nothing was sent to her");
    assert!(dir.maildir_files("outbox").len() > 5, "others were answered");

    let (_, status, _) = switchyard(&dir, &["status", "--json"]);
    let status: Value = serde_json::from_str(&status).unwrap();
    let problem = status["problems"].as_array().unwrap().iter().find(|p| p["address"] == GIULIA).expect("the withheld reply is a problem");
    assert_eq!(problem["kind"], "delivery_failed");
    assert!(problem["detail"].as_str().unwrap().contains("withdrew consent to being answered by email"), "{problem}");

    let (_, listed, _) = switchyard(&dir, &["consent", "list", "--customer", "40000001", "--json"]);
    let record: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!((record["granted"].as_bool(), record["holds"].as_bool(), record["source"].as_str()), (Some(false), Some(true), Some("phone call")));
    verify(&dir);
}

#[test]
fn erasure_export_and_purge_through_the_cli_keep_the_trail_verifiable() {
    let dir = TestDir::new("privacy-cli");
    let (_, out) = dir.run_once(&[]);
    assert!(out.status.success());
    let needles = [GIULIA, "Giulia Rossi", "40000001", "Potete spiegarmi come mai"];

    // Access: her two messages with what was decided and sent, nobody else's.
    let (ok, export, stderr) = switchyard(&dir, &["privacy", "export", "--customer", "40000001"]);
    assert!(ok, "{stderr}");
    let doc: Value = serde_json::from_str(&export).unwrap();
    assert_eq!(doc["messages"].as_array().unwrap().len(), 2, "{doc}");
    assert!(export.contains("Potete spiegarmi come mai") && export.contains("\"reply\""));
    for other in ["marco.bianchi@posta.example", "anna.esposito@posta.example", "40000002", "Marco Bianchi"] {
        assert!(!export.contains(other), "{other} is in Giulia's export");
    }

    // Erasure: nothing of hers is left in any table or Maildir folder; others keep theirs.
    let (ok, erased, stderr) = switchyard(&dir, &["privacy", "erase", "--customer", "40000001", "--reason", "Art. 17 request, ticket 42", "--by", "dpo"]);
    assert!(ok, "{stderr}");
    assert!(erased.contains("2 messages") && erased.contains("NOT erased"), "{erased}");
    let rows = every_row(&dir.db());
    let files = maildir_text(&dir);
    for n in needles {
        let in_rows: Vec<&String> = rows.iter().filter(|r| r.contains(n)).collect();
        assert!(in_rows.is_empty(), "`{n}` is still in the database: {in_rows:?}");
        let in_files: Vec<&String> = files.iter().filter(|(_, t)| t.contains(n)).map(|(f, _)| f).collect();
        assert!(in_files.is_empty(), "`{n}` is still in {in_files:?}");
    }
    assert!(rows.iter().any(|r| r.contains("marco.bianchi@posta.example")) && files.iter().any(|(_, t)| t.contains("Marco Bianchi")));
    verify(&dir);
    let (_, export, _) = switchyard(&dir, &["privacy", "export", "--customer", "40000001"]);
    assert!(!export.contains("Potete"), "nothing left to hand over: {export}");

    // Retention at its default keeps fresh mail; a purge up to tomorrow takes every resolved
    // message, leaves those a person still has to handle, and the trail still verifies.
    let (ok, purged, stderr) = switchyard(&dir, &["privacy", "purge", "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&purged).unwrap()["messages"], 0);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let (ok, purged, stderr) = switchyard(&dir, &["privacy", "purge", "--before", &tomorrow]);
    assert!(ok && purged.starts_with("purged "), "{purged}{stderr}");
    let waiting = count(&dir.db(), "SELECT COUNT(*) FROM approvals WHERE state = 'waiting'");
    let kept = count(&dir.db(), "SELECT COUNT(*) FROM messages WHERE purged_at IS NULL");
    assert!(waiting > 0 && kept == waiting, "only the messages waiting for a person keep their text: {kept} kept, {waiting} waiting");
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM audit_log WHERE kind IN ('privacy.purged', 'privacy.erased')"), 2);
    let outbox_files = count(
        &dir.db(),
        "SELECT COUNT(*) FROM outbox o JOIN messages m ON m.id = o.message WHERE m.purged_at IS NULL AND o.kind IN ('reply', 'alert')",
    );
    assert_eq!(dir.maildir_files("outbox").len() as i64, outbox_files, "the purged messages' replies and alerts went with them");
    verify(&dir);
}
