//! Without --once the worker keeps watching: a file dropped into inbox/new is triaged, and
//! SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::{TestDir, samples_dir};

#[test]
fn a_dropped_file_is_triaged_while_watching() {
    let dir = TestDir::new("watch");
    let mut child = dir
        .command()
        .args(["run", "--json", "--no-seed"])
        .env("SWITCHYARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    // Wait until the worker says it is running, so the file is dropped into a watched folder.
    loop {
        let line = lines.next().expect("worker exited early").unwrap();
        if line.contains("switchyard running") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    // Deliver the way an MTA does: write to tmp/, then rename into new/.
    let sample = std::fs::read(samples_dir().join("004-luca-senza-luce.eml")).unwrap();
    let tmp = dir.path.join("inbox/tmp/1700000000.test.host");
    std::fs::write(&tmp, sample).unwrap();
    std::fs::rename(&tmp, dir.path.join("inbox/new/1700000000.test.host")).unwrap();

    // A generous deadline: this checks that the file is picked up at all, not how fast.
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("the dropped file was not triaged");
    let outcome: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(outcome["decision"], "auto_send");
    assert_eq!(outcome["intent"], "outage");

    sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "worker did not stop cleanly: {status}");
}

fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    assert!(status.success());
}
