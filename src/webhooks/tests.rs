//! The dispatcher against a receiver on 127.0.0.1:0 that answers from a script. No timing
//! assertions: backoff is 1 ms and every wait is for a positive signal, with a generous deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::*;
use crate::domain::Decision;
use crate::store::Store;
use crate::store::events::tests::{SENDER, messages, outcome, store};
use crate::store::sqlite::SqliteStore;

const SECRET: &str = "whsec_unit";
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Statuses to answer, in order; 200 once it is empty. `0` means never answer.
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (Self, SocketAddr) {
        let r = Receiver { script: Arc::new(Mutex::new(script.iter().copied().collect())), ..Default::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/hook", axum::routing::post(answer)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, addr)
    }

    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

async fn answer(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push((headers, body));
    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
    if status == 0 {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(status).unwrap()
}

fn settings(addr: SocketAddr, extra: &str) -> Settings {
    polled(addr, 50, extra)
}

/// Settings with one webhook `crm` for draft.pending at `addr`, retries after 1 ms.
fn polled(addr: SocketAddr, poll_ms: u64, extra: &str) -> Settings {
    let text = format!(
        "[webhook_delivery]\nretry_base_ms = 1\nretry_max_ms = 5\npoll_ms = {poll_ms}\n\
         [[webhooks]]\nname = \"crm\"\nurl = \"http://{addr}/hook\"\nsecret = \"{SECRET}\"\nevents = [\"draft.pending\"]\n{extra}"
    );
    Settings::from_toml("test", &text, Vec::new()).unwrap()
}

/// A store with the webhook registered and one decision (approve) recorded: one draft.pending
/// event to deliver.
async fn with_event(name: &str, settings: &Settings) -> (Arc<SqliteStore>, Dispatcher) {
    let s = Arc::new(store(name).await);
    let dispatcher = Dispatcher::start(settings, s.clone()).await.unwrap().expect("a webhook is configured");
    let ids = messages(&s, 1).await;
    s.record(&[outcome(ids[0], Decision::Approve, Vec::new())]).await.unwrap();
    (s, dispatcher)
}

async fn delivery(s: &SqliteStore) -> (String, i64, Option<i64>, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_status, last_error FROM webhook_deliveries")
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

/// Waits until the delivery row is in `state`; panics with what it is after the deadline.
async fn wait_for_state(s: &SqliteStore, state: &str) -> (String, i64, Option<i64>, Option<String>) {
    let start = Instant::now();
    loop {
        let row: Option<(String, i64, Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT state, attempts, last_status, last_error FROM webhook_deliveries")
            .fetch_optional(&s.pool)
            .await
            .unwrap();
        match row {
            Some(row) if row.0 == state => return row,
            row if start.elapsed() > DEADLINE => panic!("no delivery in state {state} after {DEADLINE:?}: {row:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap()
}

#[tokio::test]
async fn a_post_is_signed_and_carries_the_event() {
    let (receiver, addr) = Receiver::start(&[]).await;
    let (s, dispatcher) = with_event("hooks-post", &settings(addr, "")).await;
    assert_eq!(dispatcher.pass().await.unwrap(), PassStats { delivered: 1, retrying: 0, failed: 0 });
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    let (h, body) = &got[0];
    assert_eq!(header(h, "content-type"), "application/json");
    assert_eq!(header(h, "x-switchyard-event"), "draft.pending");
    let now = Utc::now().timestamp();
    verify(SECRET.as_bytes(), header(h, "x-switchyard-signature"), body, now, Duration::from_secs(300)).unwrap();
    let event: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "draft.pending");
    assert!(event["id"].as_i64().is_some());
    chrono::DateTime::parse_from_rfc3339(event["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(event["data"]["decision"], "approve");
    assert!(!String::from_utf8_lossy(body).contains(SENDER));
    assert_eq!(delivery(&s).await, ("delivered".into(), 1, Some(200), None));
    assert_eq!(dispatcher.pass().await.unwrap(), PassStats::default(), "delivered once");
}

#[tokio::test]
async fn two_500s_then_200_is_delivered_on_the_third_attempt_with_one_delivery_id() {
    let (receiver, addr) = Receiver::start(&[500, 500]).await;
    let (s, dispatcher) = with_event("hooks-retry", &settings(addr, "")).await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    let row = wait_for_state(&s, "delivered").await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!((row.1, row.2), (3, Some(200)));
    let got = receiver.requests();
    assert_eq!(got.len(), 3);
    let ids: Vec<&str> = got.iter().map(|(h, _)| header(h, "x-switchyard-delivery")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(got.iter().all(|(_, b)| *b == got[0].1), "the same body on every attempt");
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_ends_failed_after_max_attempts() {
    let (receiver, addr) = Receiver::start(&[500; 10]).await;
    let (s, dispatcher) = with_event("hooks-fail", &settings(addr, "max_attempts = 3\n")).await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    let (_, attempts, status, error) = wait_for_state(&s, "failed").await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!((attempts, status), (3, Some(500)));
    assert!(error.unwrap().contains("gave up at attempt 3 of 3"));
    assert_eq!(receiver.requests().len(), 3, "never more than max_attempts");
}

#[tokio::test]
async fn gone_fails_at_once() {
    let (receiver, addr) = Receiver::start(&[410]).await;
    let (s, dispatcher) = with_event("hooks-gone", &settings(addr, "")).await;
    assert_eq!(dispatcher.pass().await.unwrap().failed, 1);
    assert_eq!(dispatcher.pass().await.unwrap(), PassStats::default());
    let (state, attempts, status, _) = delivery(&s).await;
    assert_eq!((state.as_str(), attempts, status, receiver.requests().len()), ("failed", 1, Some(410), 1));
}

#[tokio::test]
async fn no_answer_in_time_or_no_connection_is_retried() {
    let (_receiver, addr) = Receiver::start(&[0]).await;
    let (s, dispatcher) = with_event("hooks-timeout", &settings(addr, "timeout_ms = 200\n")).await;
    assert_eq!(dispatcher.pass().await.unwrap().retrying, 1);
    let (state, attempts, status, error) = delivery(&s).await;
    assert_eq!((state.as_str(), attempts, status), ("pending", 1, None));
    assert!(error.as_deref().unwrap().contains("no answer within 200 ms"), "{error:?}");

    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (s, dispatcher) = with_event("hooks-refused", &settings(closed, "")).await;
    assert_eq!(dispatcher.pass().await.unwrap().retrying, 1);
    let (state, _, status, error) = delivery(&s).await;
    assert_eq!((state.as_str(), status), ("pending", None));
    assert!(!error.unwrap().contains(&closed.to_string()), "errors do not repeat the URL");
}

#[tokio::test]
async fn a_new_decision_wakes_the_dispatcher() {
    let (receiver, addr) = Receiver::start(&[]).await;
    // Polling every ten minutes: within the deadline only the store's signal can deliver.
    let settings = polled(addr, 600_000, "");
    let s = Arc::new(store("hooks-wake").await);
    let dispatcher = Dispatcher::start(&settings, s.clone()).await.unwrap().unwrap();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    let ids = messages(&s, 2).await;
    // The first may be found by the dispatcher's first pass; the second is recorded after a
    // pass finished, so only the signal brings it.
    for (n, id) in ids.iter().enumerate() {
        s.record(&[outcome(*id, Decision::Escalate, Vec::new())]).await.unwrap();
        wait_for_requests(&receiver, n + 1).await;
    }
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(receiver.requests().len(), 2);
}

async fn wait_for_requests(r: &Receiver, n: usize) {
    let start = Instant::now();
    while r.requests().len() < n {
        assert!(start.elapsed() < DEADLINE, "{} requests after {DEADLINE:?}, expected {n}", r.requests().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn no_webhooks_no_dispatcher() {
    let s = Arc::new(store("hooks-none").await);
    let settings = Settings::from_toml("test", "", Vec::new()).unwrap();
    assert!(Dispatcher::start(&settings, s).await.unwrap().is_none());
}
