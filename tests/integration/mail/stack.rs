//! A private mail stack for one test, and the little a test needs to use it: submitting mail
//! over SMTP, reading mailboxes straight from Dovecot's Maildir, a switchyard configuration.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const SUPPORT: &str = "assistenza@aurora.example";
pub const PASSWORD: &str = "secret";

pub struct MailStack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub ca_file: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mail-stack.sh")
}

impl MailStack {
    /// Starts Dovecot and Postfix with the support mailbox and `customers` (all with `PASSWORD`).
    pub fn start(name: &str, customers: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("switchyard-mail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let users: Vec<String> = std::iter::once(SUPPORT).chain(customers.iter().copied()).map(|u| format!("{u}:{PASSWORD}")).collect();
        let out = Command::new("bash").arg(script()).arg("start").arg(&dir).args(&users).output().expect("run mail-stack.sh");
        assert!(out.status.success(), "mail stack did not start:\n{}", String::from_utf8_lossy(&out.stderr));
        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let port = |k: &str| vars.get(k).unwrap_or_else(|| panic!("no {k} in {vars:?}")).parse().unwrap();
        MailStack {
            imap_port: port("IMAP_PORT"),
            imaps_port: port("IMAPS_PORT"),
            smtp_port: port("SMTP_PORT"),
            ca_file: PathBuf::from(&vars["CA_FILE"]),
            dir,
        }
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new("bash").arg(script()).args(args).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "mail-stack.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn stop_dovecot(&self) {
        self.script(&["stop-dovecot"]);
    }

    pub fn start_dovecot(&self) {
        self.script(&["start-dovecot"]);
    }

    /// Asks Postfix to retry its deferred queue now.
    pub fn flush(&self) {
        self.script(&["flush"]);
    }

    /// Whether Postfix has nothing left to deliver (so no further message is on its way).
    pub fn queue_empty(&self) -> bool {
        let out = Command::new("postqueue").arg("-c").arg(self.dir.join("postfix")).arg("-p").output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty")
    }

    pub fn doveadm(&self, args: &[&str]) -> std::process::Output {
        Command::new("doveadm").arg("-c").arg(self.dir.join("dovecot.conf")).args(args).output().unwrap()
    }

    /// Submits `raw` over SMTP from `from` to `to`.
    pub fn send(&self, from: &str, to: &str, raw: &[u8]) {
        switchyard::bench::mail::submit(self.smtp_port, from, to, raw).expect("submit to Postfix");
    }

    /// The Maildir folder of `user`: "" is INBOX, "Sent", "Drafts", "Switchyard Review"…
    pub fn folder(&self, user: &str, folder: &str) -> PathBuf {
        let base = self.dir.join("mail").join(user);
        if folder.is_empty() { base } else { base.join(format!(".{folder}")) }
    }

    /// The messages in a folder, read from disk, by file name.
    pub fn messages(&self, user: &str, folder: &str) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.folder(user, folder).join(sub)) else { continue };
            for e in entries.flatten() {
                out.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap());
            }
        }
        out
    }

    /// Waits until `f` holds, up to a generous deadline (this checks that something happens,
    /// not how fast).
    pub fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f() {
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A switchyard configuration for the support mailbox (Maildir channel off).
    pub fn config(&self, extra_mailbox_keys: &str, extra: &str) -> String {
        format!(
            r#"[maildir]
enabled = false

[guard]
max_auto_replies_per_sender = 1000

[[mailboxes]]
name = "support"
address = "{SUPPORT}"
{extra_mailbox_keys}
[mailboxes.imap]
host = "127.0.0.1"
port = {imap}
security = "starttls"
ca_file = "{ca}"
username = "{SUPPORT}"
password = "{PASSWORD}"
idle_renew_seconds = 60
poll_seconds = 2
[mailboxes.smtp]
host = "127.0.0.1"
port = {smtp}
security = "starttls"
ca_file = "{ca}"
[mailboxes.folders]
check_seconds = 1
discard_grace_seconds = 0

{extra}
"#,
            imap = self.imap_port,
            smtp = self.smtp_port,
            ca = self.ca_file.display()
        )
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg(&self.dir).output();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("mail stack kept in {}", self.dir.display());
        }
    }
}

/// The sample with this file-name prefix, e.g. "001".
pub fn sample(prefix: &str) -> Vec<u8> {
    let dir = crate::helpers::samples_dir();
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(prefix) && n.ends_with(".eml"))
        .unwrap_or_else(|| panic!("no sample {prefix}"));
    std::fs::read(dir.join(name)).unwrap()
}

/// A `switchyard run` in watch mode whose JSON lines can be read as they come.
pub struct Worker {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Worker {
    pub fn start(dir: &crate::helpers::TestDir, config: &Path) -> Self {
        let mut child = dir
            .command()
            .arg("--config")
            .arg(config)
            .args(["run", "--json"])
            .env("SWITCHYARD_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).expect("JSON line"));
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Worker { child, lines, stderr }
    }

    /// The next processed message, waiting up to a generous deadline.
    pub fn next(&self) -> serde_json::Value {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no outcome in time; worker log:\n{}", self.stderr.lock().unwrap()))
    }

    pub fn log_contains(&self, text: &str) -> bool {
        self.stderr.lock().unwrap().contains(text)
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "worker did not stop cleanly: {status}\n{}", self.stderr.lock().unwrap());
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
