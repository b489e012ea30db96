//! The web queue and API served by the real `switchyard run` (port 0): accounts made with the
//! CLI, the sample mailbox triaged, a draft approved through the API and delivered, HTTPS with
//! Secure cookies, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::TestDir;

pub const PASSWORD: &str = "a long enough password";

/// `switchyard run` with the web server on a free port.
pub struct WebWorker {
    child: Child,
    pub url: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl WebWorker {
    pub fn start(dir: &TestDir, extra_env: &[(&str, &str)]) -> Self {
        let _ = std::fs::remove_file(dir.path.join("web.url"));
        let mut cmd = dir.command();
        cmd.args(["run", "--json"])
            .env("SWITCHYARD__WEB__ENABLED", "true")
            .env("SWITCHYARD__WEB__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start switchyard run");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (err, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            if let Some(url) = std::fs::read_to_string(dir.path.join("web.url")).ok().filter(|u| u.ends_with('\n')) {
                break url.trim().to_string();
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                panic!("the web server did not start; log:\n{}", stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        WebWorker { child, url, stderr }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, and the process must exit 0 (graceful shutdown of the worker and the server).
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "switchyard did not stop cleanly: {status}\n{}", self.log());
    }
}

impl Drop for WebWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `switchyard user add NAME --role ROLE`, the password on standard input.
pub fn add_user(dir: &TestDir, name: &str, role: &str) {
    let mut child = dir.command().args(["user", "add", name, "--role", role]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
}

/// `switchyard token add`: the token is the one line on standard output.
pub fn add_token(dir: &TestDir, user: &str, name: &str) -> String {
    let out = dir.command().args(["token", "add", "--user", user, "--name", name]).output().unwrap();
    assert!(out.status.success(), "token add: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Polls `/api/stats` until every message of the sample mailbox is decided.
pub async fn wait_until_triaged(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats: Value = client.get(format!("{url}/api/stats")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        if stats["store"]["messages"].as_i64() > Some(0) && stats["store"]["pending"] == 0 {
            return stats;
        }
        assert!(Instant::now() < deadline, "the sample mailbox was not triaged in time: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// reqwest is built without a crypto provider of its own (one provider for the whole binary).
pub fn client() -> reqwest::Client {
    switchyard::channels::tls::install_crypto_provider();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn a_draft_approved_through_the_api_is_delivered_and_the_worker_stops_cleanly() {
    let dir = TestDir::new("web-api");
    add_user(&dir, "sara", "supervisor");
    add_user(&dir, "carla", "compliance");
    let token = add_token(&dir, "sara", "crm");
    let reader = add_token(&dir, "carla", "audit");
    let listed = dir.command().args(["token", "list", "--json"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&token), "a token is shown once, never listed");
    let worker = WebWorker::start(&dir, &[]);
    let http = client();
    wait_until_triaged(&http, &worker.url, &token).await;

    let list: Value = http.get(format!("{}/api/messages?intent=billing", worker.url)).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    let item = list["items"].as_array().unwrap().iter().find(|i| i["has_draft"] == true && i["escalated"] == false).expect("a billing draft").clone();
    let id = item["message"].as_i64().unwrap();

    // Compliance reads, but may not approve.
    let refused = http.post(format!("{}/api/messages/{id}/draft/approve", worker.url)).bearer_auth(&reader).json(&json!({})).send().await.unwrap();
    assert_eq!(refused.status(), 403);

    let approved = http.post(format!("{}/api/messages/{id}/draft/approve", worker.url)).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    let status = approved.status();
    let body: Value = approved.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "queued");

    // The worker was woken and delivered it into the Maildir outbox.
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let found = dir.maildir_files("outbox").into_iter().find(|(name, _)| name.starts_with("p."));
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "the approved reply was not delivered; log:\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let raw = String::from_utf8_lossy(&delivered.1);
    assert!(crate::helpers::header(&delivered.1, "In-Reply-To").is_some(), "threaded under the customer's message");
    assert!(crate::helpers::header(&delivered.1, "Auto-Submitted").is_none(), "{raw}");
    let case: Value = http.get(format!("{}/api/messages/{id}", worker.url)).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(case["item"]["state"], "approved");
    assert_eq!(case["actions"][0]["actor"], "sara");
    assert!(case["outbox"].as_array().unwrap().iter().any(|o| o["kind"] == "reply" && o["state"] == "sent"), "{}", case["outbox"]);

    let metrics = http.get(format!("{}/metrics", worker.url)).bearer_auth(&reader).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchyard_queue_resolved{state=\"approved\"} 1"), "{metrics}");
    assert!(!metrics.contains("@"), "no addresses in metrics");
    worker.stop();
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with openssl.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (installed by scripts/test)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Switchyard test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign", "-keyout", "ca.key", "-out", "ca.pem"]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr"]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "cert.pem"]);
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

#[tokio::test]
async fn over_https_the_session_cookie_is_secure() {
    switchyard::channels::tls::install_crypto_provider();
    let dir = TestDir::new("web-tls");
    add_user(&dir, "sara", "supervisor");
    let certs = dir.path.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca, cert, key) = certificates(&certs);
    let worker = WebWorker::start(
        &dir,
        &[("SWITCHYARD__WEB__TLS_CERT", cert.to_str().unwrap()), ("SWITCHYARD__WEB__TLS_KEY", key.to_str().unwrap())],
    );
    assert!(worker.url.starts_with("https://127.0.0.1:"), "{}", worker.url);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let https = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).tls_certs_merge([ca]).build().unwrap();
    let page = https.get(format!("{}/login", worker.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("strict-transport-security").is_some());
    let login_cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    let html = page.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[at..at + 64];
    let value = login_cookie.split(';').next().unwrap();
    let signed = https
        .post(format!("{}/login", worker.url))
        .header("cookie", value)
        .form(&[("username", "sara"), ("password", PASSWORD), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let session = signed.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("switchyard_session=")).unwrap();
    assert!(session.contains("; Secure") && session.contains("HttpOnly"), "{session}");
    // Plain HTTP to the TLS port gets nothing useful.
    let plain = client().get(worker.url.replace("https://", "http://") + "/healthz").timeout(Duration::from_secs(5)).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    worker.stop();
}
