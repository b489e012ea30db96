//! The HTTP CIS and OMS connectors against the demo served over the contract
//! (`openapi/utility-systems.json`): the same answers as the in-process demo, the contract
//! itself, and every way a system can fail (silent, failing then recovering, refusing,
//! answering off the contract) up to the worker sending the message to a person.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value, json};
use switchyard::config::HttpConnectorSettings;
use switchyard::connectors::cis::demo::DemoCis;
use switchyard::connectors::cis::http::HttpCis;
use switchyard::connectors::cis::{Cis, Customer, CustomerKey};
use switchyard::connectors::demo_data::{DemoData, SharedDemo};
use switchyard::connectors::outage::demo::DemoOms;
use switchyard::connectors::outage::http::HttpOms;
use switchyard::connectors::outage::{FaultReportRequest, Oms, Place};
use switchyard::connectors::{ConnectorError, serve};
use switchyard::domain::{AccountId, EmailAddress, PhoneNumber, SupplyPointId};
use switchyard::secret::Secret;
use tokio_util::sync::CancellationToken;

use crate::fake_llm::{FakeLlm, Reply};
use crate::helpers::{TestDir, count, samples_dir};

/// Named demo customers across the four countries: bills due, overdue and paid, vulnerable
/// ones, two supply points, gas, an active plan, debt in collections, an outage area.
const CUSTOMERS: &[&str] = &[
    "giulia.rossi@posta.example",
    "marco.bianchi@posta.example",
    "anna.esposito@posta.example",
    "luca.ferrari@posta.example",
    "lucia.garcia@correo.example",
    "javier.martinez@correo.example",
    "alejandro.fernandez@correo.example",
    "camille.martin@courriel.example",
    "julien.bernard@courriel.example",
    "claire.robert@courriel.example",
    "emma.murphy@mail.example",
    "sean.kelly@mail.example",
    "liam.obrien@mail.example",
    "sarah.walsh@mail.example",
];

fn demo_data() -> SharedDemo {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    Arc::new(std::sync::RwLock::new(DemoData::generate(as_of, as_of.and_hms_opt(10, 0, 0).unwrap(), 520)))
}

/// The demo served over HTTP on a free loopback port, counting the requests it answers.
struct DemoServer {
    base: String,
    data: SharedDemo,
    requests: Arc<AtomicUsize>,
    cancel: CancellationToken,
}

impl DemoServer {
    async fn start(token: Option<&str>) -> Self {
        let data = demo_data();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let app = serve::router(data.clone(), token.map(Secret::new)).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counter.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        tokio::spawn(serve::serve(listener, app, cancel.clone()));
        Self { base, data, requests, cancel }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn settings(base: &str) -> HttpConnectorSettings {
    HttpConnectorSettings { base_url: Some(base.to_string()), cache_entries: 1_000, ..HttpConnectorSettings::default() }
}

fn quick(base: &str) -> HttpConnectorSettings {
    HttpConnectorSettings { timeout_ms: 300, total_timeout_ms: 2_000, retries: 2, cache_seconds: 0, ..settings(base) }
}

fn live_cis(s: &HttpConnectorSettings) -> HttpCis {
    HttpCis::twins(s).unwrap().live
}

fn email(s: &str) -> CustomerKey {
    CustomerKey::Email(EmailAddress::parse(s).unwrap())
}

/// Every way to look a customer up.
fn keys(c: &Customer) -> Vec<CustomerKey> {
    let mut keys = vec![CustomerKey::Account(c.account.clone())];
    keys.extend(c.email.clone().map(CustomerKey::Email));
    keys.extend(c.phone.clone().map(CustomerKey::Phone));
    keys.extend(c.supply_points.iter().map(|sp| CustomerKey::SupplyPoint(sp.id.clone())));
    keys
}

/// The named customers and a few generated ones (every fourth is from another country).
fn sample_customers(data: &SharedDemo) -> Vec<Customer> {
    let d = data.read().unwrap();
    let mut out: Vec<Customer> = CUSTOMERS.iter().map(|e| d.by_email(&EmailAddress::parse(e).unwrap()).unwrap().clone()).collect();
    out.extend(d.customers()[40..48].iter().cloned());
    out
}

#[tokio::test]
async fn the_http_connectors_answer_what_the_demo_answers() {
    switchyard::channels::tls::install_crypto_provider();
    let server = DemoServer::start(Some("demo-token")).await;
    let s = HttpConnectorSettings { token: Some(Secret::new("demo-token")), cache_seconds: 0, ..settings(&server.base) };
    let (http, demo) = (live_cis(&s), DemoCis::new(server.data.clone()));
    let mut countries = BTreeSet::new();
    for c in sample_customers(&server.data) {
        countries.insert(c.address.country.clone());
        for key in keys(&c) {
            assert_eq!(http.find_customer(&key).await.unwrap(), demo.find_customer(&key).await.unwrap(), "{key:?}");
            assert_eq!(http.find_customer(&key).await.unwrap().as_ref(), Some(&c), "{key:?}");
        }
        let statement = http.statement(&c.account).await.unwrap();
        assert_eq!(statement, demo.statement(&c.account).await.unwrap(), "{}", c.account);
        for invoice in &statement.invoices {
            let pdf = http.invoice_pdf(&c.account, &invoice.number).await.unwrap();
            assert!(pdf.as_ref().is_some_and(|p| p.starts_with(b"%PDF-1.4")), "{}", invoice.number);
            assert_eq!(pdf, demo.invoice_pdf(&c.account, &invoice.number).await.unwrap());
        }
        assert_eq!(http.invoice_pdf(&c.account, "F1999-0000000").await.unwrap(), None);
        assert_eq!(http.installment_eligibility(&c.account).await.unwrap(), demo.installment_eligibility(&c.account).await.unwrap());
    }
    assert_eq!(countries.into_iter().collect::<Vec<_>>(), ["ES", "FR", "IE", "IT"]);

    for unknown in [
        email("nobody@else.example"),
        CustomerKey::Phone(PhoneNumber::parse("+39 300 000 0000").unwrap()),
        CustomerKey::Account(AccountId::parse("49999999").unwrap()),
        CustomerKey::SupplyPoint(SupplyPointId::normalise("IT999E99999999")),
    ] {
        assert_eq!(http.find_customer(&unknown).await.unwrap(), None, "{unknown:?}");
    }
    let nobody = AccountId::parse("49999999").unwrap();
    assert!(matches!(http.statement(&nobody).await, Err(ConnectorError::Rejected { status: 404, .. })));
    assert!(demo.statement(&nobody).await.is_err());
    assert_eq!(http.invoice_pdf(&nobody, "F2026-0011452").await.unwrap(), None);
}

#[tokio::test]
async fn outages_and_fault_reports_over_http_match_the_demo() {
    switchyard::channels::tls::install_crypto_provider();
    let server = DemoServer::start(None).await;
    let http = HttpOms::twins(&HttpConnectorSettings { cache_seconds: 0, ..settings(&server.base) }).unwrap().live;
    let demo = DemoOms::new(server.data.clone());
    let mut places: Vec<Place> = server.data.read().unwrap().outages.iter().map(|o| Place::Area(o.area.clone())).collect();
    for c in sample_customers(&server.data) {
        places.push(Place::Postcode(c.address.postcode.clone()));
        places.extend(c.supply_points.iter().map(|sp| Place::SupplyPoint(sp.id.clone())));
    }
    places.extend([Place::Postcode("V94 T9PX".into()), Place::Postcode("00000".into()), Place::SupplyPoint(SupplyPointId::normalise("NOPE"))]);
    let mut found = 0;
    for place in &places {
        let outages = http.outages(place).await.unwrap();
        assert_eq!(outages, demo.outages(place).await.unwrap(), "{place:?}");
        found += outages.len();
    }
    assert!(found >= 15, "the places asked about include outage areas: {found}");

    let request = |key: &str| FaultReportRequest {
        idempotency_key: key.into(),
        postcode: Some("20123".into()),
        supply_point: Some(SupplyPointId::normalise("IT001E00012345")),
        commodity: Some(switchyard::domain::Commodity::Electricity),
        account: Some("40000001".into()),
        channel: "email".into(),
    };
    let first = http.open_fault_report(&request("msg-1")).await.unwrap();
    let again = http.open_fault_report(&request("msg-1")).await.unwrap();
    let other = http.open_fault_report(&request("msg-2")).await.unwrap();
    assert_eq!(first, again, "the same key gives the same report");
    assert_ne!(first.id, other.id);
    assert_eq!(demo.open_fault_report(&request("msg-1")).await.unwrap(), first, "one OMS behind both");
}

#[tokio::test]
async fn a_system_that_never_answers_times_out_within_the_deadline() {
    switchyard::channels::tls::install_crypto_provider();
    // The kernel accepts the connections; nobody ever reads or answers.
    let silent = StdListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    let s = HttpConnectorSettings { timeout_ms: 200, total_timeout_ms: 700, retries: 10, ..settings(&base) };
    let started = Instant::now();
    let err = live_cis(&s).find_customer(&email("giulia.rossi@posta.example")).await.unwrap_err();
    let took = started.elapsed();
    let ConnectorError::Timeout { system: "cis.http", millis, attempts } = err else { panic!("{err:?}") };
    // Attempts of 200 ms with backoff between them, until the next would not fit in 700 ms.
    assert!(attempts >= 2 && (400..=700).contains(&millis), "{err:?}");
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    assert!(err.to_string().contains("[connectors.cis_http] total_timeout_ms"), "{err}");

    // No retries: one attempt.
    let oms = HttpOms::twins(&HttpConnectorSettings { retries: 0, ..s.clone() }).unwrap().live;
    let started = Instant::now();
    let err = oms.outages(&Place::Postcode("10123".into())).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Timeout { system: "oms.http", attempts: 1, millis: 200..=400 }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1_000));
    drop(silent);
}

fn reply(status: u16, body: &str) -> Reply {
    Reply { status, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
}

fn giulia() -> Customer {
    demo_data().read().unwrap().by_email(&EmailAddress::parse("giulia.rossi@posta.example").unwrap()).unwrap().clone()
}

#[tokio::test]
async fn failures_that_may_pass_are_retried_and_the_request_follows_the_contract() {
    switchyard::channels::tls::install_crypto_provider();
    let customer = serde_json::to_string(&giulia()).unwrap();
    let fake = FakeLlm::start(move |n, _| match n {
        0 => reply(503, r#"{"error": "restarting"}"#),
        1 => Reply { headers: vec![("retry-after", "0".into())], ..reply(429, r#"{"error": "slow down"}"#) },
        _ => reply(200, &customer),
    });
    let base = format!("http://127.0.0.1:{}", fake.port);
    let s = HttpConnectorSettings { token: Some(Secret::new("cis-token")), ..quick(&base) };
    let found = live_cis(&s).find_customer(&CustomerKey::Phone(PhoneNumber::parse("+39 333 123 4567").unwrap())).await.unwrap();
    assert_eq!(found, Some(giulia()));
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "503 and 429 are retried");
    let r = &requests[2];
    assert_eq!(r.target, "/cis/v1/customers?phone=%2B393331234567");
    assert_eq!((r.header("authorization"), r.header("accept")), (Some("Bearer cis-token"), Some("application/json")));

    // Every attempt fails: the last failure is the reason, with how many attempts were made.
    let fake = FakeLlm::start(|_, _| reply(502, r#"{"error": "bad gateway"}"#));
    let err = live_cis(&quick(&format!("http://127.0.0.1:{}", fake.port))).statement(&giulia().account).await.unwrap_err();
    assert_eq!(err.to_string(), "cis.http is unavailable: statement: HTTP 502 (bad gateway) after 3 attempts");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn refusals_are_not_retried_and_say_what_to_check() {
    switchyard::channels::tls::install_crypto_provider();
    for (status, body, expected) in [
        (400, r#"{"error": "expected exactly one parameter"}"#, "HTTP 400: customer lookup: expected exactly one parameter; the system reads this request differently"),
        (401, r#"{"error": "a valid bearer token is required"}"#, "HTTP 401: customer lookup: a valid bearer token is required; the token was not accepted: check connectors.cis_http.token"),
        (403, "", "HTTP 403: customer lookup: no error text; the token is not allowed to read this"),
        (302, "", "HTTP 302: customer lookup: no error text; the system redirects elsewhere: check connectors.cis_http.base_url"),
    ] {
        let fake = FakeLlm::start(move |_, _| reply(status, body));
        let err = live_cis(&quick(&format!("http://127.0.0.1:{}", fake.port))).find_customer(&email("giulia.rossi@posta.example")).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Rejected { status: s, .. } if s == status), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(fake.requests().len(), 1, "HTTP {status} is not retried");
    }

    // The real demo server with a token, asked without one.
    let server = DemoServer::start(Some("right")).await;
    let err = live_cis(&quick(&server.base)).find_customer(&email("giulia.rossi@posta.example")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected { status: 401, .. }), "{err:?}");
    assert_eq!(server.requests(), 1);

    // Nobody listening: a connection error, retried, then named.
    let port = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = live_cis(&quick(&format!("http://127.0.0.1:{port}"))).find_customer(&email("giulia.rossi@posta.example")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert!(text.contains("cannot connect") && text.contains("after 3 attempts") && text.contains("check connectors.cis_http.base_url"), "{text}");
    assert!(!text.contains("posta.example"), "no personal data from the URL: {text}");
}

#[tokio::test]
async fn answers_off_the_contract_are_clear_errors() {
    switchyard::channels::tls::install_crypto_provider();
    let cases: [(&str, u16, &str, &str); 4] = [
        ("customer", 200, r#"{"account": "40000001", "first_name": "#, "customer lookup: `first_name`: EOF while parsing a value"),
        ("customer", 200, r#"{"account": "40000001"}"#, "customer lookup: missing field `first_name`"),
        ("outages", 200, r#"{"outages": [{"id": 7}]}"#, "outages: `outages[0].id`: invalid type: integer `7`, expected a string"),
        ("pdf", 200, r#"{"pdf": "base64..."}"#, "invoice PDF: expected a PDF document, got 20 bytes of application/json"),
    ];
    for (what, status, body, expected) in cases {
        let fake = FakeLlm::start(move |_, _| reply(status, body));
        let s = quick(&format!("http://127.0.0.1:{}", fake.port));
        let err = match what {
            "customer" => live_cis(&s).find_customer(&email("giulia.rossi@posta.example")).await.unwrap_err(),
            "outages" => HttpOms::twins(&s).unwrap().live.outages(&Place::Postcode("10123".into())).await.unwrap_err(),
            _ => live_cis(&s).invoice_pdf(&giulia().account, "F2026-0011452").await.unwrap_err(),
        };
        assert!(matches!(err, ConnectorError::Invalid { .. }), "{what}: {err:?}");
        let text = err.to_string();
        assert!(text.contains(expected), "{what}: {text}");
        assert!(text.contains("openapi/utility-systems.json"), "{text}");
        assert_eq!(fake.requests().len(), 1, "{what}: an answer off the contract is not retried");
    }
}

#[tokio::test]
async fn the_cache_asks_once_and_the_live_twin_always_asks() {
    switchyard::channels::tls::install_crypto_provider();
    let server = DemoServer::start(None).await;
    let cis = HttpCis::twins(&settings(&server.base)).unwrap();
    let giulia = email("giulia.rossi@posta.example");
    let first = cis.cached.find_customer(&giulia).await.unwrap();
    assert_eq!(cis.cached.find_customer(&giulia).await.unwrap(), first);
    assert_eq!(server.requests(), 1, "the second lookup came from the cache");
    let nobody = email("nobody@else.example");
    for _ in 0..3 {
        assert_eq!(cis.cached.find_customer(&nobody).await.unwrap(), None);
    }
    assert_eq!(server.requests(), 2, "\"nobody matches\" is cached too");
    assert_eq!(cis.live.find_customer(&giulia).await.unwrap(), first);
    assert_eq!(cis.live.find_customer(&giulia).await.unwrap(), first);
    assert_eq!(server.requests(), 4, "the live twin never uses the cache");

    // A payment arrives: the cached statement is stale for up to cache_seconds, live is not.
    let account = first.unwrap().account;
    let before = cis.cached.statement(&account).await.unwrap();
    server.data.write().unwrap().record_payment(&account, before.balance, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()).unwrap();
    assert_eq!(cis.cached.statement(&account).await.unwrap(), before);
    assert_eq!(cis.live.statement(&account).await.unwrap().balance.cents(), 0);
    assert_eq!(server.requests(), 6);

    // A storm about one postcode, all at once: one request to the OMS.
    let oms = HttpOms::twins(&settings(&server.base)).unwrap();
    let torino = Place::Postcode("10123".into());
    let storm = futures_util::future::join_all((0..20).map(|_| oms.cached.outages(&torino))).await;
    assert!(storm.iter().all(|r| r.as_ref().is_ok_and(|o| o.len() == 1)));
    assert_eq!(server.requests(), 7, "twenty concurrent questions, one request");
    oms.live.outages(&torino).await.unwrap();
    assert_eq!(server.requests(), 8);

    // PDFs are never cached; nor is anything with cache_seconds = 0.
    let number = &before.invoices[0].number;
    cis.cached.invoice_pdf(&account, number).await.unwrap();
    cis.cached.invoice_pdf(&account, number).await.unwrap();
    assert_eq!(server.requests(), 10);
    let uncached = HttpCis::twins(&HttpConnectorSettings { cache_seconds: 0, ..settings(&server.base) }).unwrap().cached;
    uncached.find_customer(&giulia).await.unwrap();
    uncached.find_customer(&giulia).await.unwrap();
    assert_eq!(server.requests(), 12);
}

// --- The contract: the OpenAPI file and what the demo server answers -------------------------

fn contract() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/utility-systems.json");
    serde_json::from_slice(&std::fs::read(&path).expect("the contract file")).expect("the contract is JSON")
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = r.strip_prefix('#').and_then(|p| doc.pointer(p)).unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(doc, target)
        }
        None => node,
    }
}

/// Checks `value` against `schema` (the subset the contract uses: $ref, oneOf, type, enum,
/// pattern, format date/date-time, required, properties, items). Every property the demo sends
/// must be documented too: the demo is the reference implementation.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = branches.iter().filter(|b| {
            let mut e = Vec::new();
            check(doc, b, value, at, &mut e);
            e.is_empty()
        });
        if fits.count() != 1 {
            errors.push(format!("{at}: {value} fits not exactly one of {}", Value::Array(branches.clone())));
        }
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = types.as_array().map_or_else(|| vec![types.as_str().unwrap()], |a| a.iter().filter_map(Value::as_str).collect());
        let fits = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("type {other} not handled"),
        };
        if !types.iter().any(|t| fits(t)) {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(text) = value.as_str() {
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(pattern).unwrap().is_match(text)
        {
            errors.push(format!("{at}: {text:?} does not match {pattern}"));
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("date") if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() => errors.push(format!("{at}: {text:?} is not a date")),
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => errors.push(format!("{at}: {text:?} is not RFC 3339")),
            _ => {}
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                errors.push(format!("{at}: required `{name}` missing"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check(doc, s, v, &format!("{at}.{name}"), errors),
                None => errors.push(format!("{at}: `{name}` is not in the schema")),
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

/// (method, path) pairs.
type Operations = BTreeSet<(String, String)>;

/// The operations of the file, split into the contract's and the demo's.
fn operations(doc: &Value) -> (Operations, Operations) {
    let (mut contract, mut demo) = (BTreeSet::new(), BTreeSet::new());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let demo_only = op["x-demo-only"] == json!(true);
            assert_eq!(demo_only, op["tags"].as_array().unwrap().contains(&json!("demo only")), "{method} {path}");
            assert_eq!(demo_only, path.starts_with("/demo/"), "{method} {path}");
            (if demo_only { &mut demo } else { &mut contract }).insert((method.clone(), path.clone()));
        }
    }
    (contract, demo)
}

fn routes(list: &[(&str, &str)]) -> Operations {
    list.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect()
}

#[test]
fn the_contract_file_names_exactly_the_routes_the_demo_serves() {
    let doc = contract();
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1.")), Some(true));
    let (contract_ops, demo_ops) = operations(&doc);
    assert_eq!(contract_ops, routes(serve::CONTRACT_ROUTES));
    assert_eq!(demo_ops, routes(serve::DEMO_ROUTES));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // Every schema's required properties are properties, and every $ref resolves.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            assert!(properties.is_some_and(|p| p.contains_key(r.as_str().unwrap())), "{name}: required {r} is not a property");
        }
    }
    let text = serde_json::to_string(&doc).unwrap();
    for r in regex::Regex::new(r##""\$ref":"(#[^"]+)""##).unwrap().captures_iter(&text) {
        assert!(doc.pointer(&r[1][1..]).is_some(), "dangling {}", &r[1]);
    }
}

/// The JSON schema of one documented answer.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let op = &doc["paths"][path][method];
    let response = op["responses"].get(status.to_string()).unwrap_or_else(|| panic!("{method} {path}: {status} is not documented"));
    let response = resolve(doc, response);
    &response["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn what_the_demo_server_answers_follows_the_contract() {
    switchyard::channels::tls::install_crypto_provider();
    let doc = contract();
    let server = DemoServer::start(Some("t")).await;
    let http = reqwest::Client::new();
    let mut errors = Vec::new();
    let mut checked = 0;
    let mut ask = async |method: &str, template: &str, uri: String, body: Option<Value>, token: bool| {
        let mut request = http.request(method.parse().unwrap(), format!("{}{uri}", server.base));
        if token {
            request = request.bearer_auth("t");
        }
        if let Some(body) = &body {
            let key = body.get("idempotency_key").and_then(Value::as_str).unwrap_or("-").to_string();
            request = request.json(body).header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or_else(|e| panic!("{method} {uri}: not JSON: {e}"));
        check(&doc, response_schema(&doc, &method.to_lowercase(), template, status), &value, &format!("{method} {uri} {status}"), &mut errors);
        checked += 1;
        (status, value)
    };
    let data = server.data.clone();
    for c in sample_customers(&data) {
        let encode = |v: &str| v.replace('+', "%2B").replace(' ', "%20");
        let mut queries = vec![format!("account={}", c.account)];
        queries.extend(c.email.as_ref().map(|e| format!("email={}", e.as_str())));
        queries.extend(c.phone.as_ref().map(|p| format!("phone={}", encode(p.as_str()))));
        queries.extend(c.supply_points.iter().map(|s| format!("supply_point={}", s.id)));
        for q in queries {
            assert_eq!(ask("GET", serve::CUSTOMERS, format!("/cis/v1/customers?{q}"), None, true).await.0, 200, "{q}");
        }
        assert_eq!(ask("GET", serve::STATEMENT, format!("/cis/v1/accounts/{}/statement", c.account), None, true).await.0, 200);
        assert_eq!(ask("GET", serve::ELIGIBILITY, format!("/cis/v1/accounts/{}/installment-eligibility", c.account), None, true).await.0, 200);
        let pc = encode(&c.address.postcode);
        assert_eq!(ask("GET", serve::OUTAGES, format!("/oms/v1/outages?postcode={pc}"), None, true).await.0, 200);
    }
    let areas: Vec<String> = data.read().unwrap().outages.iter().map(|o| o.area.clone()).collect();
    for area in areas {
        let (_, list) = ask("GET", serve::OUTAGES, format!("/oms/v1/outages?area={area}"), None, true).await;
        assert_eq!(list["outages"].as_array().map(Vec::len), Some(1), "{area}");
    }
    let report = json!({"idempotency_key": "k-1", "postcode": "10123", "supply_point": null, "commodity": "electricity", "account": null, "channel": "email"});
    assert_eq!(ask("POST", serve::FAULT_REPORTS, serve::FAULT_REPORTS.into(), Some(report.clone()), true).await.0, 201);
    assert_eq!(ask("POST", serve::FAULT_REPORTS, serve::FAULT_REPORTS.into(), Some(report), true).await.0, 200);
    let payment = json!({"amount": 5000, "date": "2026-11-20"});
    assert_eq!(ask("POST", serve::DEMO_PAYMENTS, "/demo/v1/accounts/40000002/payments".into(), Some(payment), true).await.0, 200);
    let restoration = json!({"estimated_restoration": "2026-11-20T21:00:00"});
    assert_eq!(ask("PUT", serve::DEMO_RESTORATION, "/demo/v1/outages/OUT-ES-0001/restoration".into(), Some(restoration), true).await.0, 200);
    // Error answers follow the contract too.
    assert_eq!(ask("GET", serve::CUSTOMERS, "/cis/v1/customers?email=nobody@else.example".into(), None, true).await.0, 404);
    assert_eq!(ask("GET", serve::CUSTOMERS, "/cis/v1/customers?email=a@b.example&account=40000001".into(), None, true).await.0, 400);
    assert_eq!(ask("GET", serve::CUSTOMERS, "/cis/v1/customers?account=40000001".into(), None, false).await.0, 401);
    assert_eq!(ask("GET", serve::STATEMENT, "/cis/v1/accounts/49999999/statement".into(), None, true).await.0, 404);
    assert_eq!(ask("GET", serve::OUTAGES, "/oms/v1/outages?city=Lille".into(), None, true).await.0, 400);
    let pdf = http.get(format!("{}/cis/v1/accounts/40000001/invoices/F2026-0011452/pdf", server.base)).bearer_auth("t").send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(doc["paths"][serve::INVOICE_PDF]["get"]["responses"]["200"]["content"]["application/pdf"].is_object());
    assert!(checked > 100, "{checked} answers checked");
    assert!(errors.is_empty(), "{} answers off the contract:\n{}", errors.len(), errors.join("\n"));
}

// --- End to end: the worker and `switchyard demo-cis` -----------------------------------------

/// A billing question from a verified demo customer (Giulia Rossi, Italian).
const BILLING: &str = "001-giulia-bolletta-alta.eml";

fn inbox_with(dir: &TestDir, samples: &[&str]) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path.join("inbox").join(sub)).unwrap();
    }
    for name in samples {
        std::fs::copy(samples_dir().join(name), dir.path.join("inbox/new").join(name)).unwrap();
    }
}

#[test]
fn a_cis_that_times_out_sends_the_message_to_a_person_with_that_reason() {
    let silent = StdListener::bind("127.0.0.1:0").unwrap();
    let dir = TestDir::new("cis-timeout");
    inbox_with(&dir, &[BILLING]);
    let started = Instant::now();
    let out = dir
        .command()
        .args(["run", "--once", "--json", "--no-seed"])
        .env("SWITCHYARD__CONNECTORS__CIS", "http")
        .env("SWITCHYARD__CONNECTORS__CIS_HTTP__BASE_URL", format!("http://{}", silent.local_addr().unwrap()))
        .env("SWITCHYARD__CONNECTORS__CIS_HTTP__TIMEOUT_MS", "300")
        .env("SWITCHYARD__CONNECTORS__CIS_HTTP__TOTAL_TIMEOUT_MS", "800")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let outcome = &lines[0];
    assert_eq!(outcome["decision"], "approve", "{outcome}");
    assert_eq!(outcome["customer"], Value::Null, "nobody is verified without the CIS: {outcome}");
    let reasons: Vec<&str> = outcome["reasons"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("connector_unavailable: cis.http did not answer within") && r.contains("attempts)")),
        "{reasons:?}"
    );
    assert_eq!(outcome["reply_message_id"], Value::Null);
    assert!(dir.maildir_files("outbox").keys().all(|n| !n.starts_with("r.")), "no reply was sent");
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM outbox WHERE kind = 'reply'"), 0);
    assert!(took < Duration::from_secs(20), "{took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("giulia"), "no personal data in the logs: {stderr}");
}

/// `switchyard demo-cis` as a child process, stopped with SIGTERM when dropped.
struct DemoCisProcess {
    child: Child,
    base: String,
}

impl DemoCisProcess {
    fn start(dir: &TestDir, token: &str) -> Self {
        let mut child = dir
            .command()
            .args(["demo-cis", "--listen", "127.0.0.1:0", "--token-env", "DEMO_CIS_TOKEN"])
            .env("DEMO_CIS_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line: {line:?}")).to_string();
        Self { child, base }
    }

    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child, by its id, which it keeps until we wait for it.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for DemoCisProcess {
    /// A test that failed before `stop` leaves no server behind (after `stop` this is a no-op).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run decided, message by message, without what differs between runs.
fn decisions(lines: &[Value]) -> Vec<(String, String, String, Vec<String>)> {
    let mut out: Vec<_> = lines
        .iter()
        .map(|l| {
            let reasons = l["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
            (l["message_id"].to_string(), l["decision"].to_string(), l["customer"].to_string(), reasons)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_worker_over_http_decides_what_it_decides_over_the_demo() {
    let server_dir = TestDir::new("demo-cis");
    let server = DemoCisProcess::start(&server_dir, "demo-secret");
    let over_demo = TestDir::new("over-demo");
    let (demo_lines, out) = over_demo.run_once(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let over_http = TestDir::new("over-http");
    let mut cmd = over_http.command();
    cmd.args(["run", "--once", "--json"]);
    for system in ["CIS", "OMS"] {
        cmd.env(format!("SWITCHYARD__CONNECTORS__{system}"), "http")
            .env(format!("SWITCHYARD__CONNECTORS__{system}_HTTP__BASE_URL"), &server.base)
            .env(format!("SWITCHYARD__CONNECTORS__{system}_HTTP__TOKEN"), "demo-secret");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let http_lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(demo_lines.len() > 50);
    assert_eq!(decisions(&http_lines), decisions(&demo_lines));
    assert!(http_lines.iter().all(|l| !l.to_string().contains("connector_unavailable")));
    let replies = |dir: &TestDir| dir.maildir_files("outbox").keys().filter(|n| n.starts_with("r.")).count();
    assert_eq!(replies(&over_http), replies(&over_demo));
    assert!(server.stop().success(), "demo-cis stops cleanly on SIGTERM");
}
