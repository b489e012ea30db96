//! The audit trail end to end: the sample mailbox run through the real binary, the trail
//! verified, exported in both formats and verified offline, tampered with in the database
//! directly and found out, and one case told as an HTML report.

use std::path::Path;
use std::process::Output;

use crate::helpers::{TestDir, query};

fn run(dir: &TestDir, args: &[&str]) -> Output {
    dir.command().args(args).output().expect("run switchyard")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn show(out: &Output) -> String {
    format!("status {:?}\nstdout: {}\nstderr: {}", out.status.code(), stdout(out), String::from_utf8_lossy(&out.stderr))
}

/// Changes the database as someone with write access to the file could.
fn tamper(db: &Path, sql: &'static str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rw", db.display())).await.expect("open db");
        let done = sqlx::query(sql).execute(&mut conn).await.expect("tamper");
        assert_eq!(done.rows_affected(), 1, "{sql}");
    });
}

/// Exports in `format` (with `extra` filters) to a new directory; verifies it offline.
fn export_and_verify(dir: &TestDir, name: &str, format: &str, extra: &[&str], key: &str) -> std::path::PathBuf {
    let out_dir = dir.path.join(name);
    let out_arg = out_dir.display().to_string();
    let mut args = vec!["audit", "export", "--from", "2000-01-01", "--to", "2999-12-31", "--format", format, "--out", &out_arg];
    args.extend_from_slice(extra);
    let out = run(dir, &args);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out).lines().next(), Some(out_arg.as_str()), "the directory first");
    assert!(out_dir.join("manifest.json").exists() && out_dir.join(format!("entries.{format}")).exists());
    let out = run(dir, &["audit", "verify", "--export", &out_arg, "--public-key", key]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).contains("intact"), "{}", show(&out));
    out_dir
}

#[test]
fn the_trail_verifies_exports_reports_and_shows_tampering() {
    let dir = TestDir::new("audit");
    let (lines, out) = dir.run_once(&[]);
    assert!(out.status.success() && !lines.is_empty(), "{}", show(&out));

    let out = run(&dir, &["audit", "verify", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let verified: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(verified["intact"], true);
    let key = verified["public_key"].as_str().expect("the key checked against").to_string();

    let whole = export_and_verify(&dir, "export-jsonl", "jsonl", &[], &key);
    export_and_verify(&dir, "export-csv", "csv", &[], &key);
    export_and_verify(&dir, "export-billing", "csv", &["--intent", "billing", "--decision", "auto_send"], &key);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(whole.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["contiguous"], true);
    assert_eq!(manifest["count"], verified["report"]["entries"]);

    // Without a key the export is checked against its own, and the command says what that proves.
    let out = run(&dir, &["audit", "verify", "--export", &whole.display().to_string()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not who made them"), "{}", show(&out));

    let case = query(&dir.db(), "SELECT message FROM audit_log WHERE kind = 'message.decided' AND intent = 'billing' ORDER BY seq LIMIT 1");
    let message = case[0][0].clone().expect("a billing message");
    let page = dir.path.join("case.html");
    let out = run(&dir, &["audit", "report", "--message", &message, "--out", &page.display().to_string()]);
    assert!(out.status.success(), "{}", show(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    for told in ["Chain check: intact", "Classified as billing", "Received via", "Decided: auto_send", "Sent reply", "matches the SHA-256 recorded at entry"] {
        assert!(html.contains(told), "the report tells `{told}`");
    }
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="), "nothing runs, nothing loads");

    tamper(&dir.db(), "UPDATE audit_log SET actor = 'mallory' WHERE seq = 10");
    let out = run(&dir, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stdout(&out).contains("NOT intact: first bad entry 10:"), "{}", show(&out));

    // The export made before holds what the trail held then, and still proves it offline.
    let out = run(&dir, &["audit", "verify", "--export", &whole.display().to_string(), "--public-key", &key]);
    assert!(out.status.success(), "{}", show(&out));
    // What the tampering changed no longer matches it.
    let changed = dir.path.join("export-after");
    let out = run(&dir, &["audit", "export", "--from", "2000-01-01", "--to", "2999-12-31", "--format", "jsonl", "--out", &changed.display().to_string()]);
    assert!(out.status.success(), "{}", show(&out));
    let out = run(&dir, &["audit", "verify", "--export", &changed.display().to_string(), "--public-key", &key]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stdout(&out).contains("first bad entry 10 (entries.jsonl line 10)"), "{}", show(&out));
}
