//! Benchmarks, each a command that prints figures:
//! - `bench pipeline`: fills a fresh data directory's inbox with generated messages, runs
//!   `switchyard run --once` over them in a child process and prints messages per second and
//!   the child's peak memory (max RSS from wait4);
//! - `bench latency` and `bench backfill` (mail.rs): through a real Dovecot and Postfix;
//! - `bench factcheck` (factcheck.rs): the fact-checker alone, on one thread;
//! - `bench audit` (audit.rs): verify and export of the audit trail, in entries per second.

pub mod audit;
pub mod factcheck;
pub mod mail;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

pub struct Options {
    pub messages: usize,
    /// Runs on a fresh data directory each; the median is reported too.
    pub runs: usize,
    pub keep: bool,
    pub json: bool,
    pub config: Option<PathBuf>,
}

/// One measured run of `switchyard run --once`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Figures {
    pub messages: usize,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub peak_rss_mib: f64,
    pub inbox_mib: f64,
}

pub fn run(o: &Options) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for i in 0..o.runs.max(1) {
        let f = run_once(o)?;
        if o.json {
            println!("{}", serde_json::to_string(&f)?);
        } else {
            println!(
                "run {}: {} messages ({:.1} MiB) in {:.2} s = {:.0} messages/s, peak memory {:.1} MiB",
                i + 1,
                f.messages,
                f.inbox_mib,
                f.seconds,
                f.messages_per_second,
                f.peak_rss_mib
            );
        }
        all.push(f);
    }
    if all.len() > 1 && !o.json {
        let mut rates: Vec<f64> = all.iter().map(|f| f.messages_per_second).collect();
        rates.sort_by(f64::total_cmp);
        let peak = all.iter().map(|f| f.peak_rss_mib).fold(0.0, f64::max);
        println!("median: {:.0} messages/s over {} runs; highest peak memory {:.1} MiB", rates[rates.len() / 2], all.len(), peak);
    }
    Ok(())
}

fn run_once(o: &Options) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let inbox = dir.join("inbox");
    crate::channels::maildir::ensure(&inbox).with_context(|| format!("cannot create {}", inbox.display()))?;
    let bytes = generate(o.messages, &inbox.join("new"))?;
    // Write the generated inbox out now, so the kernel's write-back of it does not compete
    // with the run being measured.
    // SAFETY: sync() takes no arguments and cannot fail.
    unsafe { libc::sync() };

    let mut cmd = Command::new(std::env::current_exe().context("cannot find the switchyard binary")?);
    if let Some(c) = &o.config {
        cmd.arg("--config").arg(c);
    }
    cmd.arg("--data-dir")
        .arg(&dir)
        .args(["run", "--once", "--no-seed", "--json"])
        // The generated mail reuses the sample senders; the per-sender reply limit would turn
        // most of it into approvals, which is not the workload being measured.
        .env("SWITCHYARD__GUARD__MAX_AUTO_REPLIES_PER_SENDER", "1000000000")
        .env("SWITCHYARD_LOG", "error")
        .stdout(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().context("cannot start switchyard run")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let counter = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).count());
    let (status, max_rss_kib) = wait_with_rusage(child.id())?;
    let seconds = start.elapsed().as_secs_f64();
    let processed = counter.join().map_err(|_| anyhow::anyhow!("output reader panicked"))?;
    if status != 0 {
        bail!("switchyard run --once exited with status {status}; data kept in {}", dir.display());
    }
    if processed != o.messages {
        bail!("processed {processed} of {} messages; data kept in {}", o.messages, dir.display());
    }
    if o.keep {
        eprintln!("data directory kept: {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(Figures {
        messages: processed,
        seconds,
        messages_per_second: processed as f64 / seconds,
        peak_rss_mib: max_rss_kib as f64 / 1024.0,
        inbox_mib: bytes as f64 / 1_048_576.0,
    })
}

/// A fresh directory under the system temp dir for one benchmark run.
pub(crate) fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-bench-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Writes `n` messages cycling through the sample mailbox, each with its own Message-ID, into
/// a Maildir `new/` folder. Returns the total size written.
pub fn generate(n: usize, new_dir: &Path) -> anyhow::Result<u64> {
    let samples = crate::embedded::SAMPLE_MAILBOX;
    let mut total = 0u64;
    for i in 0..n {
        let (_, raw) = samples[i % samples.len()];
        let message = with_message_id(raw, &format!("<bench.{i}@bench.switchyard.example>"));
        total += message.len() as u64;
        let path = new_dir.join(format!("{i:09}.bench"));
        std::fs::write(&path, message).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(total)
}

/// Replaces the Message-ID header (or adds one) so generated copies are not duplicates.
fn with_message_id(raw: &[u8], id: &str) -> Vec<u8> {
    let header_end = raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
    let Some(end) = header_end else {
        return raw.to_vec();
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines: Vec<String> = Vec::new();
    let mut replaced = false;
    let mut skipping = false;
    for line in head.split('\n') {
        let line = line.trim_end_matches('\r');
        if skipping && line.starts_with([' ', '\t']) {
            continue;
        }
        skipping = false;
        if line.to_ascii_lowercase().starts_with("message-id:") {
            lines.push(format!("Message-ID: {id}"));
            replaced = true;
            skipping = true;
        } else {
            lines.push(line.to_string());
        }
    }
    if !replaced {
        lines.insert(0, format!("Message-ID: {id}"));
    }
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(&raw[end..]);
    out
}

/// Waits for `pid` and returns its exit status and maximum resident set size in KiB.
fn wait_with_rusage(pid: u32) -> anyhow::Result<(i32, i64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if r < 0 {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage.ru_maxrss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_replaced_or_added() {
        let out = with_message_id(b"From: a@b.example\r\nMessage-ID:\r\n <old@x>\r\nSubject: s\r\n\r\nbody", "<new@y>");
        assert_eq!(String::from_utf8(out).unwrap(), "From: a@b.example\r\nMessage-ID: <new@y>\r\nSubject: s\r\n\r\nbody");
        let out = with_message_id(b"From: a@b.example\n\nbody", "<new@y>");
        assert_eq!(String::from_utf8(out).unwrap(), "Message-ID: <new@y>\r\nFrom: a@b.example\n\nbody");
    }
}
