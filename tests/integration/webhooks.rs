//! Outgoing webhooks through the real binary: `run --once` over the sample mailbox with
//! `[[webhooks]]` pointing at a receiver on 127.0.0.1:0 in this test. Retries are driven by
//! repeated `--once` runs (each run makes one delivery pass over what is due, and
//! `retry_base_ms = 1` makes every retry due by the next run): the real binary, the real clock,
//! and no timing assertions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use switchyard::webhooks::verify;

use crate::helpers::{TestDir, count, query, samples_dir};

const SECRET: &str = "whsec_integration_3f9a";
const SECRET_VAR: &str = "SWITCHYARD_TEST_WEBHOOK_SECRET";

/// One POST as the receiver saw it.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    event: String,
    delivery: String,
    signature: String,
    body: Bytes,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A receiver whose answer depends on the path: `/ok` 200, `/gone` 410, `/fail` 500, and
/// `/third` 500 to the first two attempts of each delivery and 200 to the third.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Request>>>,
    addr: Option<SocketAddr>,
}

impl Receiver {
    /// Serves on its own thread and runtime, for as long as the test runs.
    fn start() -> Self {
        let mut receiver = Receiver::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let state = receiver.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("address")).expect("send address");
                let app = axum::Router::new().fallback(answer).with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        receiver.addr = Some(rx.recv_timeout(Duration::from_secs(30)).expect("receiver started"));
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.expect("started"))
    }

    fn requests(&self, path: &str) -> Vec<Request> {
        self.got.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

async fn answer(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let request = Request { path: uri.path().into(), event: h("x-switchyard-event"), delivery: h("x-switchyard-delivery"), signature: h("x-switchyard-signature"), body };
    let mut got = r.got.lock().unwrap();
    let earlier = got.iter().filter(|g| g.path == request.path && g.delivery == request.delivery).count();
    let status = match request.path.as_str() {
        "/ok" => 200,
        "/gone" => 410,
        "/fail" => 500,
        "/third" if earlier >= 2 => 200,
        "/third" => 500,
        _ => 404,
    };
    got.push(request);
    StatusCode::from_u16(status).expect("a status")
}

/// The embedded default configuration plus `extra` (webhook sections), written to the test dir.
fn config(dir: &TestDir, extra: &str) -> PathBuf {
    let default = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/switchyard.toml")).expect("default config");
    let path = dir.path.join("webhooks.toml");
    std::fs::write(&path, format!("{default}\n{extra}")).expect("write config");
    path
}

/// The binary with that configuration, the webhooks' secret, and retries due after 1 ms.
fn switchyard(dir: &TestDir, config: &PathBuf) -> std::process::Command {
    let mut cmd = dir.command();
    cmd.arg("--config")
        .arg(config)
        .env(SECRET_VAR, SECRET)
        .env("SWITCHYARD__WEBHOOK_DELIVERY__RETRY_BASE_MS", "1")
        .env("SWITCHYARD__WEBHOOK_DELIVERY__RETRY_MAX_MS", "10");
    cmd
}

fn webhook(name: &str, url: &str, more: &str) -> String {
    format!("\n[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = {{ env = \"{SECRET_VAR}\" }}\n{more}\n")
}

/// `run --once --json` with the webhook configuration; the JSON lines it printed.
fn run_once(dir: &TestDir, config: &PathBuf, env: &[(&str, &str)]) -> (Vec<Value>, std::process::Output) {
    let out = switchyard(dir, config).envs(env.iter().copied()).args(["run", "--once", "--json"]).output().expect("run switchyard");
    let lines = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    (lines, out)
}

fn succeeded(out: &std::process::Output) {
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// `status --json`'s problems of kind `webhook_failed`.
fn webhook_problems(dir: &TestDir, config: &PathBuf) -> Vec<Value> {
    let out = switchyard(dir, config).args(["status", "--json"]).output().expect("status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    status["problems"].as_array().expect("problems").iter().filter(|p| p["kind"] == "webhook_failed").cloned().collect()
}

/// The states of the deliveries to one webhook: state → (rows, attempts of each).
fn states(dir: &TestDir, webhook: &str) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in query(&dir.db(), "SELECT webhook, state, attempts FROM webhook_deliveries") {
        if row[0].as_deref() == Some(webhook) {
            out.entry(row[1].clone().unwrap_or_default()).or_default().push(row[2].as_deref().unwrap_or("0").parse().unwrap());
        }
    }
    out
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The keys each event's `data` has: exactly these, so nothing else can slip in.
fn data_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "message.triaged" | "draft.pending" => &["channel", "decision", "intent", "language", "message", "policy_version", "reasons", "urgency"],
        "reply.sent" => &["channel", "message", "outbox", "sent_at"],
        other => panic!("unexpected event {other}"),
    }
}

/// Sender addresses, subjects, Message-IDs and the longer body lines of the sample mailbox.
fn personal_strings(lines: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().filter_map(|l| l["from"].as_str().map(String::from)).collect();
    out.extend(lines.iter().filter_map(|l| l["message_id"].as_str().map(String::from)));
    out.extend(lines.iter().filter_map(|l| l["customer"].as_str().map(String::from)));
    for entry in std::fs::read_dir(samples_dir()).expect("samples").flatten() {
        if entry.path().extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).expect("read sample")).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        out.extend(head.lines().filter_map(|l| l.strip_prefix("Subject:")).map(|s| s.trim().to_string()).filter(|s| s.len() >= 8));
        out.extend(body.lines().map(str::trim).filter(|l| l.len() >= 25).map(String::from));
    }
    out
}

#[test]
fn every_event_arrives_signed_and_without_personal_data() {
    let receiver = Receiver::start();
    let dir = TestDir::new("webhooks");
    let config = config(&dir, &webhook("crm", &receiver.url("/ok"), ""));
    let (lines, out) = run_once(&dir, &config, &[]);
    succeeded(&out);
    let got = receiver.requests("/ok");

    let mut by_kind: HashMap<String, Vec<Value>> = HashMap::new();
    let mut deliveries = HashSet::new();
    for r in &got {
        verify(SECRET.as_bytes(), &r.signature, &r.body, now(), Duration::from_secs(300))
            .unwrap_or_else(|e| panic!("{e}: {} {}", r.signature, String::from_utf8_lossy(&r.body)));
        let event = r.json();
        assert_eq!(event["type"], r.event.as_str(), "X-Switchyard-Event names the payload's type");
        assert!(deliveries.insert(r.delivery.clone()), "delivery id {} used twice", r.delivery);
        let mut keys: Vec<&str> = event["data"].as_object().expect("data").keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, data_keys(&r.event), "{event}");
        by_kind.entry(r.event.clone()).or_default().push(event);
    }
    let kinds = |k: &str| by_kind.get(k).map_or(0, Vec::len) as i64;
    let db = dir.db();
    assert_eq!(lines.len(), 78);
    assert_eq!(kinds("message.triaged"), count(&db, "SELECT COUNT(*) FROM decisions"), "one message.triaged per decision");
    assert_eq!(kinds("message.triaged"), lines.len() as i64);
    let triaged: HashSet<i64> = by_kind["message.triaged"].iter().map(|e| e["data"]["message"].as_i64().unwrap()).collect();
    assert_eq!(triaged.len(), lines.len(), "each message once");
    let for_people = lines.iter().filter(|l| l["decision"] == "approve" || l["decision"] == "escalate").count() as i64;
    assert!(for_people > 0);
    assert_eq!(kinds("draft.pending"), for_people);
    assert!(kinds("reply.sent") > 0);
    assert_eq!(kinds("reply.sent"), count(&db, "SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND state = 'sent'"));
    for e in &by_kind["draft.pending"] {
        assert!(["approve", "escalate"].contains(&e["data"]["decision"].as_str().unwrap()), "{e}");
    }
    let reasons: HashSet<&str> = by_kind["message.triaged"].iter().flat_map(|e| e["data"]["reasons"].as_array().unwrap()).map(|r| r.as_str().unwrap()).collect();
    assert!(reasons.contains("customer_verified") && reasons.iter().all(|r| r.chars().all(|c| c.is_ascii_lowercase() || c == '_')), "codes only: {reasons:?}");

    let personal = personal_strings(&lines);
    assert!(personal.len() > 200, "the check looks at something: {}", personal.len());
    for r in &got {
        let body = String::from_utf8_lossy(&r.body);
        for p in &personal {
            assert!(!body.contains(p.as_str()), "{p:?} in {body}");
        }
    }
    assert!(webhook_problems(&dir, &config).is_empty());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'delivered'"), 0);
}

#[test]
fn two_500s_then_200_delivers_on_the_third_run_with_the_same_delivery_id() {
    let receiver = Receiver::start();
    let dir = TestDir::new("webhooks-retry");
    let config = config(&dir, &webhook("flaky", &receiver.url("/third"), "events = [\"draft.pending\"]"));
    for run in 1..=3 {
        let (_, out) = run_once(&dir, &config, &[]);
        succeeded(&out);
        let s = states(&dir, "flaky");
        if run < 3 {
            assert_eq!(s.keys().collect::<Vec<_>>(), ["pending"], "after run {run}: {s:?}");
            assert!(s["pending"].iter().all(|&a| a == run), "after run {run}: {s:?}");
        } else {
            assert_eq!(s.keys().collect::<Vec<_>>(), ["delivered"], "after run 3: {s:?}");
            assert!(s["delivered"].iter().all(|&a| a == 3), "{s:?}");
        }
    }
    let got = receiver.requests("/third");
    let mut per_delivery: HashMap<&str, Vec<&Request>> = HashMap::new();
    for r in &got {
        per_delivery.entry(r.delivery.as_str()).or_default().push(r);
    }
    assert_eq!(per_delivery.len() as i64, count(&dir.db(), "SELECT COUNT(*) FROM decisions WHERE decision IN ('approve', 'escalate')"));
    for (id, attempts) in per_delivery {
        assert_eq!(attempts.len(), 3, "delivery {id}");
        assert!(attempts.iter().all(|a| a.body == attempts[0].body), "the same body on every attempt of {id}");
    }
    assert!(webhook_problems(&dir, &config).is_empty());
}

#[test]
fn a_receiver_that_always_fails_ends_failed_and_410_fails_at_once() {
    let receiver = Receiver::start();
    let dir = TestDir::new("webhooks-fail");
    let hooks = webhook("broken", &receiver.url("/fail"), "events = [\"draft.pending\"]\nmax_attempts = 2")
        + &webhook("retired", &receiver.url("/gone"), "events = [\"reply.sent\"]");
    let config = config(&dir, &hooks);
    let (_, out) = run_once(&dir, &config, &[]);
    succeeded(&out);
    let retired = states(&dir, "retired");
    assert_eq!(retired.keys().collect::<Vec<_>>(), ["failed"], "410 is not retried: {retired:?}");
    assert!(retired["failed"].iter().all(|&a| a == 1));
    assert_eq!(states(&dir, "broken").keys().collect::<Vec<_>>(), ["pending"]);

    let (_, out) = run_once(&dir, &config, &[]);
    succeeded(&out);
    let broken = states(&dir, "broken");
    assert_eq!(broken.keys().collect::<Vec<_>>(), ["failed"], "{broken:?}");
    assert!(broken["failed"].iter().all(|&a| a == 2), "{broken:?}");
    let (posted_fail, posted_gone) = (receiver.requests("/fail").len(), receiver.requests("/gone").len());

    // A third run attempts nothing more.
    let (_, out) = run_once(&dir, &config, &[]);
    succeeded(&out);
    assert_eq!((receiver.requests("/fail").len(), receiver.requests("/gone").len()), (posted_fail, posted_gone));
    assert_eq!(posted_fail, 2 * broken["failed"].len());
    assert_eq!(posted_gone, retired["failed"].len());

    let problems = webhook_problems(&dir, &config);
    assert_eq!(problems.len(), broken["failed"].len() + retired["failed"].len());
    let of = |name: &str| problems.iter().filter(|p| p["address"] == format!("webhook {name}")).cloned().collect::<Vec<_>>();
    assert!(of("broken").iter().all(|p| p["detail"].as_str().unwrap().contains("gave up at attempt 2 of 2")), "{problems:?}");
    assert!(of("retired").iter().all(|p| p["detail"].as_str().unwrap().contains("HTTP 410")), "{problems:?}");
    assert!(!problems.iter().any(|p| p.to_string().contains(SECRET)));
}

#[test]
fn a_crash_before_delivery_or_before_recording_it_loses_nothing() {
    for point in ["after_record:1", "after_webhook_post:1"] {
        let receiver = Receiver::start();
        let dir = TestDir::new("webhooks-crash");
        let config = config(&dir, &webhook("crm", &receiver.url("/ok"), ""));
        let (_, out) = run_once(&dir, &config, &[("SWITCHYARD_CRASHPOINT", point), ("SWITCHYARD__WORKER__BATCH_SIZE", "16")]);
        assert!(!out.status.success(), "{point}: the crash point was not reached");
        let (_, out) = run_once(&dir, &config, &[]);
        succeeded(&out);

        let db = dir.db();
        assert_eq!(count(&db, "SELECT COUNT(*) FROM decisions"), 78, "{point}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'"), count(&db, "SELECT COUNT(*) FROM events"), "{point}: every event delivered");
        let got = receiver.requests("/ok");
        let delivered: HashSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
        assert_eq!(delivered.len() as i64, count(&db, "SELECT COUNT(*) FROM events"), "{point}");
        let triaged = got.iter().filter(|r| r.event == "message.triaged").map(|r| r.delivery.as_str()).collect::<HashSet<_>>();
        assert_eq!(triaged.len(), 78, "{point}: one message.triaged per decision, whatever was posted twice");
    }
}

/// Waits for `done` with a generous deadline (a positive signal, not a timing assertion).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_watching_worker_delivers_and_retries_as_it_goes_and_stops_on_sigterm() {
    let receiver = Receiver::start();
    let dir = TestDir::new("webhooks-watch");
    let hooks = webhook("crm", &receiver.url("/ok"), "events = [\"message.triaged\"]")
        + &webhook("flaky", &receiver.url("/third"), "events = [\"draft.pending\"]");
    let config = config(&dir, &hooks);
    let mut child = switchyard(&dir, &config)
        .args(["run"])
        .stdout(std::process::Stdio::null())
        // Kept with the test data when the test fails.
        .stderr(std::fs::File::create(dir.path.join("stderr.log")).expect("log file"))
        .spawn()
        .expect("start switchyard");

    let distinct = |path: &str| receiver.requests(path).iter().map(|r| r.delivery.clone()).collect::<HashSet<_>>().len();
    let mut running = || child.try_wait().expect("wait").is_none();
    wait_until("78 message.triaged", || {
        assert!(running(), "the worker exited");
        distinct("/ok") == 78
    });
    let for_people = count(&dir.db(), "SELECT COUNT(*) FROM decisions WHERE decision IN ('approve', 'escalate')") as usize;
    // Each draft.pending is answered 500, 500, 200: three attempts, retried by the running worker.
    wait_until("every draft.pending on its third attempt", || distinct("/third") == for_people && receiver.requests("/third").len() == 3 * for_people);
    wait_until("the third attempts recorded", || states(&dir, "flaky").keys().collect::<Vec<_>>() == ["delivered"]);

    let status = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
    assert!(status.success());
    let start = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the worker did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "worker did not stop cleanly: {exit}");
    assert_eq!(receiver.requests("/ok").len(), 78, "nothing posted twice");
}
