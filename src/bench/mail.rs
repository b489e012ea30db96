//! Benchmarks against a real mail stack started by scripts/mail-stack.sh (scripts/bench-mail
//! does both): delivery-to-reply latency through Postfix → Dovecot → Switchyard → Postfix →
//! Dovecot, and the backfill of a large mailbox beside a plain UID FETCH of the same mailbox.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::TryStreamExt;

use crate::channels::Source;
use crate::channels::imap::source::ImapSource;
use crate::channels::imap::{self, ImapSession};
use crate::channels::oauth::TokenSource;
use crate::config::{ImapSettings, InitialSync, MailboxSettings, Settings};
use crate::store::sqlite::SqliteStore;

pub const SUPPORT: &str = "assistenza@aurora.example";

/// The ports and users of a stack directory made by scripts/mail-stack.sh.
pub struct Stack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub smtp_port: u16,
    pub users: BTreeMap<String, String>,
}

impl Stack {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let ports = std::fs::read_to_string(dir.join("ports"))
            .with_context(|| format!("{} is not a running mail stack (start one with scripts/mail-stack.sh)", dir.display()))?;
        let get = |k: &str| -> anyhow::Result<u16> {
            ports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .with_context(|| format!("no {k} in {}/ports", dir.display()))?
                .parse()
                .with_context(|| format!("{k} in {}/ports", dir.display()))
        };
        let users = std::fs::read_to_string(dir.join("users"))?
            .lines()
            .filter_map(|l| l.split_once(':').map(|(u, p)| (u.to_string(), p.trim_start_matches("{PLAIN}").to_string())))
            .collect();
        Ok(Self { dir: dir.to_path_buf(), imap_port: get("IMAP_PORT")?, smtp_port: get("SMTP_PORT")?, users })
    }

    fn password(&self, user: &str) -> anyhow::Result<&str> {
        self.users.get(user).map(String::as_str).with_context(|| format!("the stack has no user {user}"))
    }

    fn imap(&self, initial_sync: &str) -> anyhow::Result<ImapSettings> {
        let toml = format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"{SUPPORT}\"\npassword = \"{}\"\ninitial_sync = \"{initial_sync}\"\n",
            self.imap_port,
            self.password(SUPPORT)?
        );
        Ok(toml::from_str(&toml)?)
    }

    /// A switchyard configuration reading the support mailbox of this stack.
    fn config(&self) -> anyhow::Result<String> {
        Ok(format!(
            r#"[maildir]
enabled = false
[guard]
max_auto_replies_per_sender = 1000000000
[[mailboxes]]
name = "support"
address = "{SUPPORT}"
[mailboxes.imap]
host = "127.0.0.1"
port = {imap}
security = "plain"
username = "{SUPPORT}"
password = "{password}"
[mailboxes.smtp]
host = "127.0.0.1"
port = {smtp}
security = "plain"
"#,
            imap = self.imap_port,
            smtp = self.smtp_port,
            password = self.password(SUPPORT)?
        ))
    }
}

/// Submits one message over SMTP (a minimal client: the benchmark measures the server path).
pub fn submit(port: u16, from: &str, to: &str, raw: &[u8]) -> anyhow::Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut expect = |code: &str| -> anyhow::Result<()> {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if !line.starts_with(code) {
                bail!("SMTP: expected {code}, got {line:?}");
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    };
    expect("220")?;
    let mut data = Vec::with_capacity(raw.len() + 64);
    for line in String::from_utf8_lossy(raw).replace("\r\n", "\n").lines() {
        if line.starts_with('.') {
            data.push(b'.');
        }
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(b"\r\n");
    }
    for (cmd, code) in [
        ("EHLO bench.example".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        write!(writer, "{cmd}\r\n")?;
        expect(code)?;
    }
    writer.write_all(&data)?;
    writer.write_all(b".\r\n")?;
    expect("250")?;
    write!(writer, "QUIT\r\n")?;
    Ok(())
}

/// Named demo customers with a bill, one per language: their questions are answered at once.
const CUSTOMERS: [(&str, &str, &str); 4] = [
    ("giulia.rossi@posta.example", "Bolletta", "Buongiorno, a quanto ammonta la mia ultima bolletta e quando scade?"),
    ("lucia.garcia@correo.example", "Factura", "Hola, ¿cuál es el importe de mi última factura y cuándo vence?"),
    ("emma.murphy@mail.example", "My bill", "Hello, how much is my latest bill and when is it due?"),
    ("sean.kelly@mail.example", "Bill", "Hi, could you tell me the amount of my last bill please?"),
];

pub fn customers() -> impl Iterator<Item = &'static str> {
    CUSTOMERS.iter().map(|c| c.0)
}

pub struct LatencyOptions {
    pub stack: PathBuf,
    pub messages: usize,
    /// Messages submitted per second.
    pub rate: f64,
    /// `imap.recheck_ms` for the worker (0: IDLE alone).
    pub recheck_ms: u64,
    pub json: bool,
}

/// Delivery-to-reply latency: each message is submitted to Postfix and timed until Switchyard's
/// reply lands in the customer's mailbox in Dovecot.
pub fn latency(o: &LatencyOptions) -> anyhow::Result<()> {
    let stack = Stack::open(&o.stack)?;
    for c in customers() {
        stack.password(c)?;
    }
    let data = std::env::temp_dir().join(format!("switchyard-latency-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let config = data.join("switchyard.toml");
    let recheck = format!("security = \"plain\"\nrecheck_ms = {}", o.recheck_ms);
    std::fs::write(&config, stack.config()?.replacen("security = \"plain\"", &recheck, 1))?;
    let log = data.join("worker.log");
    let mut worker = Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["run", "--json"])
        .env("SWITCHYARD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("cannot start the worker")?;
    let ready = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("IMAP connected") {
        if Instant::now() > ready {
            let _ = worker.kill();
            bail!("the worker did not connect to IMAP: see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Replies are seen where Dovecot delivers them: each customer's Maildir new/.
    let watched: Vec<PathBuf> = customers().map(|c| stack.dir.join("mail").join(c).join("new")).collect();
    let mut seen_files: std::collections::HashSet<PathBuf> = watched.iter().flat_map(|d| list(d)).collect();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut latencies: Vec<Duration> = Vec::with_capacity(o.messages);
    let interval = Duration::from_secs_f64(1.0 / o.rate.max(0.1));
    let start = Instant::now();
    let deadline_after_last = Duration::from_secs(60);
    let mut next_send = start;
    let mut i = 0;
    let mut last_sent = start;
    while latencies.len() < o.messages {
        if i < o.messages && Instant::now() >= next_send {
            let (from, subject, text) = CUSTOMERS[i % CUSTOMERS.len()];
            let id = format!("latency-{i}-{}@bench.example", std::process::id());
            let raw = format!(
                "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject} {i}\r\nMessage-ID: <{id}>\r\nDate: {}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
                chrono::Utc::now().to_rfc2822()
            );
            sent.insert(format!("<{id}>"), Instant::now());
            submit(stack.smtp_port, from, SUPPORT, raw.as_bytes())?;
            last_sent = Instant::now();
            i += 1;
            next_send += interval;
        }
        for dir in &watched {
            for file in list(dir) {
                if !seen_files.insert(file.clone()) {
                    continue;
                }
                let Ok(raw) = std::fs::read(&file) else { continue };
                if let Some(parent) = in_reply_to(&raw) {
                    if let Some(at) = sent.remove(&parent) {
                        latencies.push(at.elapsed());
                    }
                }
            }
        }
        if i == o.messages && last_sent.elapsed() > deadline_after_last {
            let _ = Command::new("kill").arg("-TERM").arg(worker.id().to_string()).status();
            bail!("only {} of {} replies arrived; see {}", latencies.len(), o.messages, log.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = Command::new("kill").arg("-TERM").arg(worker.id().to_string()).status();
    let _ = worker.wait();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1].as_secs_f64();
    let (p50, p95, p99, max) = (pct(0.50), pct(0.95), pct(0.99), latencies.last().map_or(0.0, Duration::as_secs_f64));
    if o.json {
        println!("{}", serde_json::json!({"messages": latencies.len(), "rate_per_second": o.rate, "recheck_ms": o.recheck_ms, "p50_s": p50, "p95_s": p95, "p99_s": p99, "max_s": max}));
    } else {
        let how = match o.recheck_ms {
            0 => "IDLE alone".to_string(),
            ms => format!("IDLE and a check every {ms} ms"),
        };
        println!("delivery-to-reply latency over {} messages at {:.0}/s, {how} (Postfix → Dovecot → Switchyard → Postfix → Dovecot)", latencies.len(), o.rate);
        println!("p50 {:.3} s   p95 {:.3} s   p99 {:.3} s   max {:.3} s", p50, p95, p99, max);
    }
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|e| e.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

fn in_reply_to(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("in-reply-to")).map(|(_, v)| v.trim().to_string()))
}

pub struct BackfillOptions {
    pub stack: PathBuf,
    pub messages: usize,
    pub json: bool,
}

/// Fills the support INBOX with generated messages (written into Dovecot's Maildir), then
/// times a plain `UID FETCH 1:* BODY.PEEK[]` of the folder and Switchyard's backfill of it into
/// a fresh store (UID SEARCH, FETCH in batches, durable insert with the cursor, marking).
pub async fn backfill(o: &BackfillOptions) -> anyhow::Result<()> {
    let stack = Stack::open(&o.stack)?;
    let maildir = stack.dir.join("mail").join(SUPPORT);
    let new = maildir.join("new");
    std::fs::create_dir_all(&new)?;
    let owner = std::fs::metadata(&maildir)?;
    let bytes = crate::bench::generate(o.messages, &new)?;
    for e in std::fs::read_dir(&new)?.flatten() {
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::chown(e.path(), Some(owner.uid()), Some(owner.gid()))?;
    }
    let imap_settings = stack.imap("all")?;
    let tokens = TokenSource::new(None);
    // Dovecot indexes new Maildir files on the first SELECT: do it before timing either side.
    let mut conn = imap::connect(&imap_settings, &tokens).await?;
    let selected = conn.run("SELECT", async |s: &mut ImapSession| s.select("INBOX").await).await?;
    let total = selected.exists as usize;

    let t = Instant::now();
    let fetched = conn
        .run("UID FETCH 1:*", async |s: &mut ImapSession| {
            let mut stream = s.uid_fetch("1:*", "(UID BODY.PEEK[])").await?;
            let mut n = 0usize;
            while let Some(f) = stream.try_next().await? {
                if f.body().is_some() {
                    n += 1;
                }
            }
            Ok::<_, async_imap::error::Error>(n)
        })
        .await?;
    let plain = t.elapsed().as_secs_f64();
    drop(conn);

    let data = std::env::temp_dir().join(format!("switchyard-backfill-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let store = SqliteStore::open(&data.join("switchyard.db")).await?;
    let settings = Settings::from_toml("bench", &stack.config()?, Vec::new())?;
    let mut mailbox: MailboxSettings = settings.mailboxes[0].clone();
    mailbox.imap.initial_sync = InitialSync::All;
    let mut source = ImapSource::new(mailbox, settings.worker.max_message_bytes);
    let t = Instant::now();
    let stored = source.collect(&store).await?;
    let backfill = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&data);

    let rate = stored as f64 / backfill;
    if o.json {
        println!(
            "{}",
            serde_json::json!({"messages": stored, "mailbox_messages": total, "mib": bytes as f64 / 1_048_576.0,
                "plain_fetch_s": plain, "plain_fetched": fetched, "backfill_s": backfill, "backfill_per_second": rate,
                "ratio_to_plain_fetch": backfill / plain})
        );
    } else {
        println!("mailbox: {total} messages, {:.1} MiB", bytes as f64 / 1_048_576.0);
        println!("plain UID FETCH 1:* BODY.PEEK[]: {fetched} messages in {plain:.2} s");
        println!("switchyard backfill (fetch, store durably with the cursor, mark): {stored} messages in {backfill:.2} s = {rate:.0} messages/s, {:.2}× the plain fetch", backfill / plain);
    }
    if stored != o.messages {
        bail!("backfill stored {stored} of {} messages", o.messages);
    }
    Ok(())
}
