//! The web queue and API over real HTTP (port 0) on a fresh database holding the sample
//! mailbox, triaged by the real pipeline: permissions of every route for every role, CSRF,
//! sessions, sign-in throttling, and the approve flow.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{WebState, auth};
use crate::channels::Source;
use crate::channels::maildir::{MaildirSink, MaildirSource};
use crate::config::Settings;
use crate::domain::{Role, Username};
use crate::pipeline::classify::rules::RulesModel;
use crate::pipeline::draft::Templates;
use crate::pipeline::{LocalClock, Pipeline};
use crate::report::Reporter;
use crate::store::sqlite::SqliteStore;
use crate::store::staff::AccountStore;
use crate::testing::{clock, demo, temp_dir};
use crate::worker::Worker;

const PASSWORD: &str = "a long enough password";

struct TestApp {
    url: String,
    store: Arc<SqliteStore>,
    client: reqwest::Client,
    _cancel: tokio_util::sync::DropGuard,
}

/// A user signed in through the sign-in form, with their cookie and form token.
struct Signed {
    cookie: String,
    csrf: String,
}

async fn spawn_app(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    crate::channels::tls::install_crypto_provider();
    let dir = temp_dir("web");
    let store = Arc::new(SqliteStore::open(&dir.join("s.db")).await.unwrap());
    let inbox = dir.join("inbox");
    crate::app::seed_inbox(&inbox).unwrap();
    let mut source = MaildirSource::open(&inbox, 1 << 24, 128, Duration::from_secs(1)).unwrap();
    source.collect(store.as_ref()).await.unwrap();
    let mut settings = Settings::from_toml("test", "", Vec::new()).unwrap();
    settings.web.listen = "127.0.0.1:0".parse().unwrap();
    tweak(&mut settings);
    let pipeline = Arc::new(Pipeline::new(
        Arc::new(settings),
        demo(),
        Arc::new(RulesModel),
        Arc::new(Templates::embedded().unwrap()),
        LocalClock::Fixed(clock().local_now),
    ));
    let sink = MaildirSink::open(&dir.join("outbox"), &dir.join("drafts"), &dir.join("review")).unwrap();
    let mut worker = Worker { pipeline: pipeline.clone(), store: store.clone(), sink: Arc::new(sink) };
    let wake = Arc::new(Notify::new());
    let cancel = CancellationToken::new();
    let mut reporter = Reporter::new(true, Box::new(std::io::sink()));
    worker.run(true, &cancel, &mut reporter, &wake, Duration::from_secs(1)).await.unwrap();
    for (name, role) in [("alice", Role::Agent), ("sara", Role::Supervisor), ("carla", Role::Compliance), ("adam", Role::Admin)] {
        store.add_user(&Username::parse(name).unwrap(), role, &auth::hash_password(PASSWORD).unwrap(), "test").await.unwrap();
    }
    let state = Arc::new(WebState::new(store.clone(), pipeline, wake).unwrap());
    let (url, _) = super::start(state, &dir, cancel.clone()).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { url, store, client, _cancel: cancel.drop_guard() }
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

fn cookie_value(set_cookie: &[String], name: &str) -> Option<String> {
    set_cookie.iter().find_map(|c| c.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_string()))
}

fn form_token(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_string()
}

impl TestApp {
    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            r = r.header("cookie", format!("{}={c}", auth::SESSION_COOKIE));
        }
        r.send().await.unwrap()
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.client.post(format!("{}{path}", self.url)).form(form);
        if let Some(c) = cookie {
            r = r.header("cookie", format!("{}={c}", auth::SESSION_COOKIE));
        }
        r.send().await.unwrap()
    }

    async fn try_login(&self, user: &str, password: &str) -> reqwest::Response {
        let page = self.client.get(format!("{}/login", self.url)).send().await.unwrap();
        let login_cookie = cookie_value(&set_cookies(page.headers()), "switchyard_login").unwrap();
        let token = form_token(&page.text().await.unwrap());
        self.client
            .post(format!("{}/login", self.url))
            .header("cookie", format!("switchyard_login={login_cookie}"))
            .form(&[("username", user), ("password", password), ("csrf", &token), ("next", "/queue")])
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, user: &str) -> Signed {
        let r = self.try_login(user, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {user}");
        let cookie = cookie_value(&set_cookies(r.headers()), auth::SESSION_COOKIE).expect("a session cookie");
        let queue = self.get("/queue", Some(&cookie)).await;
        assert_eq!(queue.status(), StatusCode::OK);
        let csrf = form_token(&queue.text().await.unwrap());
        Signed { cookie, csrf }
    }

    async fn token(&self, user: &str) -> String {
        let token = auth::new_token();
        let name = format!("test-{}", &token[..8]);
        self.store.add_token(&Username::parse(user).unwrap(), &name, &auth::sha256_hex(&token), "test").await.unwrap();
        token
    }

    async fn api(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.client.request(method, format!("{}/api{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The first open item matching `pick`, from the API as a supervisor sees it.
    async fn item(&self, token: &str, pick: impl Fn(&Value) -> bool) -> i64 {
        let (_, list) = self.api(reqwest::Method::GET, "/messages?limit=500", Some(token), None).await;
        list["items"].as_array().unwrap().iter().find(|i| pick(i)).unwrap_or_else(|| panic!("no such item in {list}"))["message"].as_i64().unwrap()
    }
}

fn is_escalated(i: &Value) -> bool {
    i["escalated"] == true
}

fn plain_draft(i: &Value) -> bool {
    i["escalated"] == false && i["has_draft"] == true
}

#[tokio::test]
async fn without_a_session_or_a_token_only_health_and_the_api_description_answer() {
    let app = spawn_app(|_| {}).await;
    for path in ["/queue", "/messages/1", "/messages/1/body", "/users", "/"] {
        let r = app.get(path, None).await;
        let to_login = r.headers().get(LOCATION).is_some_and(|l| l == "/login" || l == "/queue");
        assert!(r.status().is_redirection() && to_login, "GET {path}: {}", r.status());
    }
    for path in ["/messages/1/approve", "/messages/1/reject", "/messages/1/escalate", "/messages/1/reassign", "/messages/1/correct", "/users", "/logout"] {
        let r = app.post(path, None, &[("csrf", "x")]).await;
        assert_eq!(r.headers().get(LOCATION).map(|l| l.to_str().unwrap()), Some("/login"), "POST {path}");
    }
    for (method, path) in super::api::ROUTES.iter().filter(|(_, p)| *p != "/openapi.json") {
        let path = path.replace("{id}", "1");
        let (status, body) = app.api(method.to_uppercase().parse().unwrap(), &path, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} /api{path}");
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let (status, _) = app.api(reqwest::Method::GET, "/messages", Some("not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status(), StatusCode::OK);
    assert!(doc.json::<Value>().await.unwrap()["paths"]["/messages/{id}/draft/approve"].is_object());
}

/// Each role against each page action: allowed ones get past the permission check and stop
/// at validation (400) or the fact-check (422), forbidden ones get 403. Nothing is resolved.
#[tokio::test]
async fn every_page_action_is_allowed_or_refused_by_role() {
    let app = spawn_app(|_| {}).await;
    let sup = app.token("sara").await;
    let plain = app.item(&sup, plain_draft).await;
    let escalated = app.item(&sup, is_escalated).await;
    let unverified = [("do", "approve"), ("text", "Gentile cliente, il saldo è di 999,99 €.")];
    // (path, form fields, roles allowed, status when allowed)
    let cases: Vec<(String, Vec<(&str, &str)>, &[Role], StatusCode)> = vec![
        (format!("/messages/{plain}/approve"), unverified.to_vec(), &[Role::Agent, Role::Supervisor], StatusCode::UNPROCESSABLE_ENTITY),
        (format!("/messages/{escalated}/approve"), unverified.to_vec(), &[Role::Supervisor], StatusCode::UNPROCESSABLE_ENTITY),
        (
            format!("/messages/{plain}/approve"),
            vec![("do", "approve"), ("text", "Il saldo è di 999,99 €."), ("override_reason", "")],
            &[Role::Agent, Role::Supervisor],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (format!("/messages/{plain}/reject"), vec![("reason", "")], &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
        (format!("/messages/{escalated}/reject"), vec![("reason", "")], &[Role::Supervisor], StatusCode::BAD_REQUEST),
        (format!("/messages/{plain}/escalate"), vec![("note", "")], &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
        (format!("/messages/{plain}/reassign"), vec![("assignee", "nobody-of-that-name")], &[Role::Supervisor], StatusCode::BAD_REQUEST),
        (format!("/messages/{plain}/correct"), vec![("intent", "")], &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
        ("/users".to_string(), vec![("username", "not valid!"), ("role", "agent"), ("password", PASSWORD)], &[Role::Admin], StatusCode::BAD_REQUEST),
        ("/users/alice/disable-nothing".to_string(), vec![], &[Role::Admin], StatusCode::NOT_FOUND),
    ];
    for (name, role) in [("alice", Role::Agent), ("sara", Role::Supervisor), ("carla", Role::Compliance), ("adam", Role::Admin)] {
        let s = app.login(name).await;
        for (path, fields, allowed, ok) in &cases {
            let mut form = fields.clone();
            form.push(("csrf", &s.csrf));
            let status = app.post(path, Some(&s.cookie), &form).await.status();
            let expected = if allowed.contains(&role) { *ok } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} POST {path}");
        }
        let users = app.get("/users", Some(&s.cookie)).await.status();
        assert_eq!(users, if role == Role::Admin { StatusCode::OK } else { StatusCode::FORBIDDEN }, "{role} GET /users");
        for path in ["/queue".to_string(), format!("/messages/{plain}"), format!("/messages/{plain}/body")] {
            assert_eq!(app.get(&path, Some(&s.cookie)).await.status(), StatusCode::OK, "{role} GET {path}");
        }
    }
    // The override itself: an agent may not send an unverified claim, even with a reason.
    let agent = app.login("alice").await;
    let form = [("do", "approve"), ("text", "Il saldo è di 999,99 €."), ("override_reason", "the customer insisted"), ("csrf", agent.csrf.as_str())];
    assert_eq!(app.post(&format!("/messages/{plain}/approve"), Some(&agent.cookie), &form).await.status(), StatusCode::FORBIDDEN);
    let (_, draft) = app.api(reqwest::Method::GET, &format!("/messages/{plain}/draft"), Some(&sup), None).await;
    assert_eq!(draft["state"], "waiting", "nothing above resolved the item");
}

#[tokio::test]
async fn every_api_call_is_allowed_or_refused_by_role() {
    let app = spawn_app(|_| {}).await;
    let sup = app.token("sara").await;
    let plain = app.item(&sup, plain_draft).await;
    let escalated = app.item(&sup, is_escalated).await;
    use reqwest::Method as M;
    let unverified = json!({"text": "Il saldo è di 999,99 €."});
    let cases: Vec<(M, String, Value, &[Role], StatusCode)> = vec![
        (M::GET, "/messages".into(), Value::Null, &Role::ALL, StatusCode::OK),
        (M::GET, format!("/messages/{plain}"), Value::Null, &Role::ALL, StatusCode::OK),
        (M::GET, format!("/messages/{plain}/draft"), Value::Null, &Role::ALL, StatusCode::OK),
        (M::GET, "/decisions".into(), Value::Null, &Role::ALL, StatusCode::OK),
        (M::GET, "/stats".into(), Value::Null, &Role::ALL, StatusCode::OK),
        (M::POST, format!("/messages/{plain}/draft/approve"), unverified.clone(), &[Role::Agent, Role::Supervisor], StatusCode::UNPROCESSABLE_ENTITY),
        (M::POST, format!("/messages/{escalated}/draft/approve"), unverified.clone(), &[Role::Supervisor], StatusCode::UNPROCESSABLE_ENTITY),
        (M::POST, format!("/messages/{plain}/draft/reject"), json!({"reason": " "}), &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
        (M::PUT, format!("/messages/{escalated}/draft"), json!({"text": ""}), &[Role::Supervisor], StatusCode::BAD_REQUEST),
        (M::POST, format!("/messages/{plain}/escalate"), json!({"note": ""}), &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
        (M::POST, format!("/messages/{plain}/assign"), json!({"assignee": "nobody-of-that-name"}), &[Role::Supervisor], StatusCode::BAD_REQUEST),
        (M::POST, format!("/messages/{plain}/correct"), json!({}), &[Role::Agent, Role::Supervisor], StatusCode::BAD_REQUEST),
    ];
    for (name, role) in [("alice", Role::Agent), ("sara", Role::Supervisor), ("carla", Role::Compliance), ("adam", Role::Admin)] {
        let token = app.token(name).await;
        for (method, path, body, allowed, ok) in &cases {
            let body = (!body.is_null()).then(|| body.clone());
            let (status, answer) = app.api(method.clone(), path, Some(&token), body).await;
            let expected = if allowed.contains(&role) { *ok } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} {method} /api{path}: {answer}");
            if status == StatusCode::FORBIDDEN {
                assert_eq!(answer["error"]["code"], "forbidden");
            }
        }
        let metrics = app.client.get(format!("{}/metrics", app.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(metrics.status(), StatusCode::OK, "every role may read /metrics");
    }
    let (_, draft) = app.api(M::GET, &format!("/messages/{plain}/draft"), Some(&sup), None).await;
    assert_eq!(draft["state"], "waiting");
}

#[tokio::test]
async fn forms_without_this_sessions_token_or_from_another_site_are_refused() {
    let app = spawn_app(|_| {}).await;
    let sup = app.token("sara").await;
    let plain = app.item(&sup, plain_draft).await;
    let sara = app.login("sara").await;
    let alice = app.login("alice").await;
    let path = format!("/messages/{plain}/reject");
    for (label, token) in [("no token", ""), ("a wrong token", "0".repeat(64).as_str()), ("another session's token", alice.csrf.as_str())] {
        let r = app.post(&path, Some(&sara.cookie), &[("reason", "duplicate"), ("csrf", token)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{label}");
    }
    let cross_site = app
        .client
        .post(format!("{}{path}", app.url))
        .header("cookie", format!("{}={}", auth::SESSION_COOKIE, sara.cookie))
        .header("origin", "http://evil.example")
        .form(&[("reason", "duplicate"), ("csrf", sara.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN, "right token, wrong origin");
    let (_, draft) = app.api(reqwest::Method::GET, &format!("/messages/{plain}/draft"), Some(&sup), None).await;
    assert_eq!(draft["state"], "waiting", "no refused form changed anything");
    // And the same form with everything right goes through.
    let r = app.post(&path, Some(&sara.cookie), &[("reason", "duplicate"), ("csrf", sara.csrf.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, draft) = app.api(reqwest::Method::GET, &format!("/messages/{plain}/draft"), Some(&sup), None).await;
    assert_eq!(draft["state"], "rejected");
}

#[tokio::test]
async fn sessions_are_http_only_cookies_that_end() {
    let app = spawn_app(|_| {}).await;
    let r = app.try_login("sara", PASSWORD).await;
    let cookies = set_cookies(r.headers());
    let session = cookies.iter().find(|c| c.starts_with("switchyard_session=")).unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "plain http: a Secure cookie would never come back");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_sha256 = ?")
        .bind(auth::sha256_hex(&cookie_value(&cookies, auth::SESSION_COOKIE).unwrap()))
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1, "only the token's hash is stored");

    // Sign out ends it.
    let s = app.login("sara").await;
    let out = app.post("/logout", Some(&s.cookie), &[("csrf", &s.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(out.headers()).iter().any(|c| c.starts_with("switchyard_session=;") && c.contains("Max-Age=0")));
    assert_eq!(app.get("/queue", Some(&s.cookie)).await.status(), StatusCode::SEE_OTHER);

    // Idle too long ends it.
    let s = app.login("sara").await;
    sqlx::query("UPDATE sessions SET last_seen_at = ?").bind(chrono::Utc::now() - chrono::Duration::minutes(61)).execute(&app.store.pool).await.unwrap();
    assert_eq!(app.get("/queue", Some(&s.cookie)).await.status(), StatusCode::SEE_OTHER);

    // Disabling a user ends their sessions and their tokens.
    let s = app.login("alice").await;
    let token = app.token("alice").await;
    app.store.set_disabled(&Username::parse("alice").unwrap(), true, "test").await.unwrap();
    assert_eq!(app.get("/queue", Some(&s.cookie)).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.api(reqwest::Method::GET, "/stats", Some(&token), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.try_login("alice", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    // Behind https, the cookie is Secure.
    let https = spawn_app(|s| s.web.public_url = Some("https://queue.aurora.example".into())).await;
    let r = https.try_login("sara", PASSWORD).await;
    assert!(set_cookies(r.headers()).iter().any(|c| c.starts_with("switchyard_session=") && c.contains("; Secure")));
    assert!(r.headers().get("strict-transport-security").is_some());
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_per_user() {
    let app = spawn_app(|_| {}).await;
    for i in 0..5 {
        assert_eq!(app.try_login("sara", "wrong password!!").await.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let throttled = app.try_login("sara", PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(throttled.text().await.unwrap().contains("try again in"));
    assert_eq!(app.try_login("alice", PASSWORD).await.status(), StatusCode::SEE_OTHER, "other users are not locked out");
    // Unknown names count as failures too, and look the same as wrong passwords.
    assert_eq!(app.try_login("nobody", "whatever it is").await.status(), StatusCode::UNAUTHORIZED);
    // Once the window has passed, sara may try again.
    sqlx::query("UPDATE login_failures SET at = ?").bind(chrono::Utc::now() - chrono::Duration::minutes(16)).execute(&app.store.pool).await.unwrap();
    assert_eq!(app.try_login("sara", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_supervisor_approves_edits_overrides_and_the_reply_is_queued_once() {
    let app = spawn_app(|_| {}).await;
    let sup = app.token("sara").await;
    let plain = app.item(&sup, plain_draft).await;
    let (_, draft) = app.api(reqwest::Method::GET, &format!("/messages/{plain}/draft"), Some(&sup), None).await;
    let proposal = draft["proposal"].as_str().unwrap().to_string();
    let edited = format!("{proposal}\nP.S. Il saldo è di 999,99 €.\n");

    // An invented amount is held, with the claim named.
    let (status, held) = app.api(reqwest::Method::POST, &format!("/messages/{plain}/draft/approve"), Some(&sup), Some(json!({"text": edited}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(held["outcome"], "held");
    let bad: Vec<&Value> = held["check"]["claims"].as_array().unwrap().iter().filter(|c| c["matched"].is_null()).collect();
    assert_eq!(bad.len(), 1, "{held}");
    assert_eq!(bad[0]["text"], "999,99 €");

    // With a reason, a supervisor sends it anyway; the override is recorded.
    let body = json!({"text": edited, "override_reason": "agreed on the phone"});
    let (status, queued) = app.api(reqwest::Method::POST, &format!("/messages/{plain}/draft/approve"), Some(&sup), Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!(queued["unverified_sent"], 1);
    let (state, reason, via, by): (String, String, String, String) =
        sqlx::query_as("SELECT state, reason, resolved_via, sent_by FROM approvals WHERE message = ?").bind(plain).fetch_one(&app.store.pool).await.unwrap();
    assert_eq!((state.as_str(), reason.as_str(), via.as_str(), by.as_str()), ("approved_edited", "agreed on the phone", "api", "sara"));
    let replies: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT rfc_message_id, raw FROM outbox WHERE message = ? AND kind = 'reply'").bind(plain).fetch_all(&app.store.pool).await.unwrap();
    assert_eq!(replies.len(), 1);
    let raw = String::from_utf8_lossy(&replies[0].1);
    assert!(replies[0].0.starts_with("p."), "a person's reply has its own id");
    assert!(raw.contains("999,99"), "the edited text is what goes out");
    assert!(!raw.to_lowercase().contains("auto-submitted"), "a reply a person approved is not automatic");

    // A second approval (a double click, a second person) changes nothing.
    let (status, again) = app.api(reqwest::Method::POST, &format!("/messages/{plain}/draft/approve"), Some(&sup), Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE message = ? AND kind = 'reply'").bind(plain).fetch_one(&app.store.pool).await.unwrap();
    assert_eq!(n, 1);
    let actions: Vec<(String, String)> = sqlx::query_as("SELECT actor, action FROM staff_actions WHERE message = ?").bind(plain).fetch_all(&app.store.pool).await.unwrap();
    assert_eq!(actions, [("sara".to_string(), "approve".to_string())]);
}

#[tokio::test]
async fn a_reply_to_someone_who_withdrew_consent_is_refused_and_nothing_is_queued() {
    let app = spawn_app(|_| {}).await;
    let sup = app.token("sara").await;
    let plain = app.item(&sup, plain_draft).await;
    let sender: String = sqlx::query_scalar("SELECT sender FROM decisions WHERE message = ?").bind(plain).fetch_one(&app.store.pool).await.unwrap();
    let opt_out = crate::privacy::NewConsent {
        subject: crate::privacy::Subject::email(&sender).unwrap(),
        channel: crate::privacy::Channel::Email,
        purpose: crate::privacy::Purpose::Service,
        granted: false,
        source: "letter".into(),
        by: "sara".into(),
    };
    app.store.record_consent(&opt_out).await.unwrap();
    let (status, body) = app.api(reqwest::Method::POST, &format!("/messages/{plain}/draft/approve"), Some(&sup), Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("withdrew consent to being answered by email"), "{body}");
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE message = ? AND kind = 'reply'").bind(plain).fetch_one(&app.store.pool).await.unwrap();
    assert_eq!(queued, 0);
    // The page's form takes the same path.
    let signed = app.login("sara").await;
    let refused = app.post(&format!("/messages/{plain}/approve"), Some(&signed.cookie), &[("do", "approve"), ("csrf", signed.csrf.as_str())]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    // Given again, the approval goes through.
    app.store.record_consent(&crate::privacy::NewConsent { granted: true, ..opt_out }).await.unwrap();
    let (status, body) = app.api(reqwest::Method::POST, &format!("/messages/{plain}/draft/approve"), Some(&sup), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_queue_puts_emergencies_first_then_the_oldest_and_filters() {
    let app = spawn_app(|_| {}).await;
    let token = app.token("carla").await;
    let (_, all) = app.api(reqwest::Method::GET, "/messages?limit=500", Some(&token), None).await;
    let items = all["items"].as_array().unwrap();
    assert!(items.len() > 10, "the sample mailbox leaves work for people");
    let rank = |u: &Value| ["emergency", "high", "normal", "low"].iter().position(|x| u == x).unwrap_or(4);
    for pair in items.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(rank(&a["urgency"]) < rank(&b["urgency"]) || (rank(&a["urgency"]) == rank(&b["urgency"]) && a["received_at"].as_str() <= b["received_at"].as_str()), "{a} before {b}");
    }
    assert_eq!(items[0]["urgency"], "emergency");
    let (_, billing) = app.api(reqwest::Method::GET, "/messages?intent=billing&language=it", Some(&token), None).await;
    let billing = billing["items"].as_array().unwrap();
    assert!(!billing.is_empty());
    assert!(billing.iter().all(|i| i["intent"] == "billing" && i["language"] == "it"));
    let (status, bad) = app.api(reqwest::Method::GET, "/messages?intent=bribery", Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let s = app.login("carla").await;
    let page = app.get("/queue?state=escalated", Some(&s.cookie)).await.text().await.unwrap();
    assert!(page.contains("escalated") && page.contains("/messages/"));
}
