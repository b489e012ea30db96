//! Crash safety: the process is killed at every point where a crash could lose a message or
//! send a reply twice, then started again; nothing is lost and nothing is sent twice.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{TestDir, count, header};

/// Invariants after a run that completed: every stored message has exactly one decision,
/// every outbox row was delivered exactly once, no inbound message got two replies.
fn assert_consistent(dir: &TestDir, expected_messages: i64) {
    let db = dir.db();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages"), expected_messages, "messages stored");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages WHERE state <> 'done'"), 0, "messages left pending");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM decisions"), expected_messages, "one decision per message");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox WHERE state <> 'sent'"), 0, "undelivered outbox rows");
    let inbox_new = std::fs::read_dir(dir.path.join("inbox/new")).unwrap().count();
    assert_eq!(inbox_new, 0, "files left in inbox/new");

    let outbox = dir.maildir_files("outbox");
    let replies: Vec<&Vec<u8>> = outbox.iter().filter(|(n, _)| n.starts_with("r.")).map(|(_, r)| r).collect();
    let alerts = outbox.keys().filter(|n| n.starts_with('a')).count() as i64;
    assert_eq!(replies.len() as i64, count(&db, "SELECT COUNT(*) FROM outbox WHERE kind = 'reply'"));
    assert_eq!(alerts, count(&db, "SELECT COUNT(*) FROM outbox WHERE kind = 'alert'"));
    assert_eq!(dir.maildir_files("drafts").len() as i64, count(&db, "SELECT COUNT(*) FROM outbox WHERE kind = 'draft'"));
    let mut parents = BTreeSet::new();
    for raw in replies {
        let parent = header(raw, "In-Reply-To").unwrap_or_else(|| header(raw, "Message-ID").unwrap());
        assert!(parents.insert(parent.clone()), "two replies to {parent}");
    }
    let answered = count(&db, "SELECT COUNT(*) FROM decisions WHERE decision IN ('auto_send', 'escalate')");
    let replied = count(&db, "SELECT COUNT(DISTINCT message) FROM outbox WHERE kind = 'reply'");
    assert!(replied <= answered);
}

#[test]
fn a_crash_at_any_point_loses_nothing_and_sends_nothing_twice() {
    // Small batches and chunks, so a crash can fall between two of them as well as in one.
    let points = [
        "after_ingest:1",
        "after_ingest:3",
        "before_triage:1",
        "before_triage:30",
        "after_record:1",
        "after_record:3",
        "before_sink_write:1",
        "before_sink_write:3",
        "after_sink_item:1",
        "after_sink_item:20",
        "after_sink_write:1",
        "after_sink_write:3",
    ];
    for point in points {
        let dir = TestDir::new("crash");
        let crashed = dir
            .command()
            .env("SWITCHYARD_CRASHPOINT", point)
            .env("SWITCHYARD__WORKER__BATCH_SIZE", "16")
            .args(["run", "--once", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{point}: the crash point was never reached");
        assert!(String::from_utf8_lossy(&crashed.stderr).contains("crashpoint"), "{point}: did not abort at the crash point");
        let (_, out) = dir.run_once(&[]);
        assert!(out.status.success(), "{point}: restart failed: {}", String::from_utf8_lossy(&out.stderr));
        let samples = std::fs::read_dir(crate::helpers::samples_dir())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "eml"))
            .count();
        assert_consistent(&dir, samples as i64);
    }
}

#[test]
fn killed_repeatedly_mid_run_then_completes_exactly_once() {
    let dir = TestDir::new("kill");
    let n = 600;
    switchyard::channels::maildir::ensure(&dir.path.join("inbox")).unwrap();
    switchyard::bench::generate(n, &dir.path.join("inbox/new")).unwrap();
    // Different kill points on each round; the invariants, not the timing, are what is checked.
    for delay_ms in [120, 260, 80, 400, 170] {
        let mut child = dir
            .command()
            .args(["run", "--once", "--no-seed"])
            .env("SWITCHYARD__GUARD__MAX_AUTO_REPLIES_PER_SENDER", "100000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = dir
        .command()
        .args(["run", "--once", "--no-seed"])
        .env("SWITCHYARD__GUARD__MAX_AUTO_REPLIES_PER_SENDER", "100000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_consistent(&dir, n as i64);
}
