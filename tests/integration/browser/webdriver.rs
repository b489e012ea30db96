//! A minimal W3C WebDriver client for the browser tests: Debian's headless Chromium driven
//! by its chromedriver over JSON (reqwest), with a blocking API for `#[test]` functions.
//! Each `Browser` has its own chromedriver, port and fresh profile, all gone on drop.

use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What failed, the W3C error code (or `harness` for our own checks) and the message.
#[derive(Clone)]
pub struct WebDriverError {
    pub command: String,
    pub code: String,
    pub message: String,
}

impl WebDriverError {
    fn harness(command: impl Into<String>, message: impl Into<String>) -> Self {
        Self { command: command.into(), code: "harness".into(), message: message.into() }
    }
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.command, self.code, self.message)
    }
}

// Test functions returning Result print the error's Debug form: make it the readable one.
impl fmt::Debug for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for WebDriverError {}

pub type WdResult<T> = Result<T, WebDriverError>;

/// A reference to an element in the current browsing context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(String);

impl Element {
    /// The element as an argument of [`Browser::execute`] (`arguments[i]` in the script).
    pub fn to_arg(&self) -> Value {
        json!({ELEMENT: self.0})
    }
}

/// A cookie as the browser holds it (W3C "serialized cookie").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`, as the browser reports it.
    pub same_site: Option<String>,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
}

pub struct Browser {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    driver_url: String,
    session: String,
    driver: Child,
    dir: PathBuf,
    /// Console messages already returned by console().
    console_seen: std::cell::Cell<usize>,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session with a
    /// fresh profile.
    pub fn start() -> WdResult<Self> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            if !Path::new(path).exists() {
                return Err(WebDriverError::harness(
                    "start browser",
                    format!("{package} not installed ({path} missing): run scripts/test, which installs chromium and chromium-driver"),
                ));
            }
        }
        let dir = fresh_dir()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WebDriverError::harness("start browser", format!("tokio runtime: {e}")))?;
        // reqwest builds its TLS configuration even for plain http: it needs the provider.
        switchyard::channels::tls::install_crypto_provider();
        // Loopback only: a proxy from the environment must not stand between us and the driver.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| WebDriverError::harness("start browser", format!("HTTP client: {e}")))?;
        let (driver, driver_url) = spawn_driver(&dir)?;
        let mut browser = Self { rt, http, driver_url, session: String::new(), driver, dir, console_seen: Default::default() };
        browser.wait_until_ready()?;
        browser.session = browser.new_session()?;
        browser.post("/timeouts", json!({"pageLoad": 30_000, "script": 10_000, "implicit": 0}))?;
        Ok(browser)
    }

    fn wait_until_ready(&mut self) -> WdResult<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(WebDriverError::harness("start chromedriver", format!("exited with {status}; log:\n{}", self.driver_log())));
            }
            let url = format!("{}/status", self.driver_url);
            let ready = self.rt.block_on(async { self.http.get(&url).send().await?.json::<Value>().await });
            if ready.is_ok_and(|v| v["value"]["ready"] == true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(WebDriverError::harness("start chromedriver", format!("not ready after 20 s; log:\n{}", self.driver_log())));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn new_session(&self) -> WdResult<String> {
        let profile = self.dir.join("profile");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            // Without these Chromium keeps calling home, which floods a closed network.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            // Every frame's console into <profile>/chrome_debug.log, for console().
            "--enable-logging",
            "--log-level=0",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // Leave dialogs open so a test can see that one appeared (dialog_text).
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let value = self.request(reqwest::Method::POST, format!("{}/session", self.driver_url), Some(capabilities), "new session")?;
        value["sessionId"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| WebDriverError::harness("new session", format!("no sessionId in {value}; log:\n{}", self.driver_log())))
    }

    fn driver_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn request(&self, method: reqwest::Method, url: String, body: Option<Value>, what: &str) -> WdResult<Value> {
        let failed = |message: String| WebDriverError { command: what.to_string(), code: "http".into(), message };
        let (status, json) = self.rt.block_on(async {
            let mut req = self.http.request(method, &url);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.map_err(|e| failed(format!("{url}: {e}")))?;
            let status = resp.status();
            let json: Value = resp.json().await.map_err(|e| failed(format!("{url}: answer is not JSON: {e}")))?;
            Ok::<_, WebDriverError>((status, json))
        })?;
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        Err(WebDriverError {
            command: what.to_string(),
            code: value["error"].as_str().unwrap_or("unknown error").to_string(),
            message: value["message"].as_str().unwrap_or_default().lines().next().unwrap_or_default().to_string(),
        })
    }

    fn session_url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.driver_url, self.session)
    }

    fn get(&self, path: &str) -> WdResult<Value> {
        self.request(reqwest::Method::GET, self.session_url(path), None, &format!("GET {path}"))
    }

    fn post(&self, path: &str, body: Value) -> WdResult<Value> {
        self.request(reqwest::Method::POST, self.session_url(path), Some(body), &format!("POST {path}"))
    }

    fn string(value: Value, what: &str) -> WdResult<String> {
        value.as_str().map(String::from).ok_or_else(|| WebDriverError::harness(what, format!("expected a string, got {value}")))
    }

    pub fn goto(&self, url: &str) -> WdResult<()> {
        self.post("/url", json!({"url": url})).map(drop).map_err(|e| WebDriverError { command: format!("goto {url}"), ..e })
    }

    /// The top-level page's URL, whichever frame is selected.
    pub fn current_url(&self) -> WdResult<String> {
        Self::string(self.get("/url")?, "current url")
    }

    pub fn title(&self) -> WdResult<String> {
        Self::string(self.get("/title")?, "title")
    }

    /// The serialized DOM of the selected frame.
    pub fn page_source(&self) -> WdResult<String> {
        Self::string(self.get("/source")?, "page source")
    }

    pub fn find(&self, css: &str) -> WdResult<Element> {
        let value = self.post("/element", json!({"using": "css selector", "value": css})).map_err(|e| WebDriverError { command: format!("find `{css}`"), ..e })?;
        element(&value, css)
    }

    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let value = self.post("/elements", json!({"using": "css selector", "value": css}))?;
        let list = value.as_array().ok_or_else(|| WebDriverError::harness(format!("find all `{css}`"), format!("not a list: {value}")))?;
        list.iter().map(|v| element(v, css)).collect()
    }

    /// The first match of `css` inside `parent`.
    pub fn find_in(&self, parent: &Element, css: &str) -> WdResult<Element> {
        let value = self.post(&format!("/element/{}/element", parent.0), json!({"using": "css selector", "value": css}))?;
        element(&value, css)
    }

    pub fn click(&self, el: &Element) -> WdResult<()> {
        self.post(&format!("/element/{}/click", el.0), json!({})).map(drop)
    }

    /// Types `text` into a field, after what it already holds.
    pub fn send_keys(&self, el: &Element, text: &str) -> WdResult<()> {
        self.post(&format!("/element/{}/value", el.0), json!({"text": text})).map(drop)
    }

    pub fn clear(&self, el: &Element) -> WdResult<()> {
        self.post(&format!("/element/{}/clear", el.0), json!({})).map(drop)
    }

    /// The element's rendered text, as a reader sees it.
    pub fn text(&self, el: &Element) -> WdResult<String> {
        Self::string(self.get(&format!("/element/{}/text", el.0))?, "element text")
    }

    /// A computed CSS property, e.g. `padding-left` → `16px`.
    pub fn css_value(&self, el: &Element, property: &str) -> WdResult<String> {
        Self::string(self.get(&format!("/element/{}/css/{property}", el.0))?, "css value")
    }

    /// The element's tag name, lower case.
    pub fn tag_name(&self, el: &Element) -> WdResult<String> {
        Self::string(self.get(&format!("/element/{}/name", el.0))?, "tag name")
    }

    /// An attribute's value; `None` when the element does not have it.
    pub fn attribute(&self, el: &Element, name: &str) -> WdResult<Option<String>> {
        Ok(self.get(&format!("/element/{}/attribute/{name}", el.0))?.as_str().map(String::from))
    }

    /// Runs `script` (a function body: use `return`) in the selected frame, to read state.
    /// DevTools runs it whatever the page's CSP or sandbox says.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    pub fn switch_to_frame(&self, frame: &Element) -> WdResult<()> {
        self.post("/frame", json!({"id": frame.to_arg()})).map(drop)
    }

    pub fn switch_to_parent(&self) -> WdResult<()> {
        self.post("/frame/parent", json!({})).map(drop)
    }

    pub fn switch_to_top(&self) -> WdResult<()> {
        self.post("/frame", json!({"id": null})).map(drop)
    }

    /// The text of an open alert, confirm or prompt; `None` when there is none.
    pub fn dialog_text(&self) -> WdResult<Option<String>> {
        match self.get("/alert/text") {
            Ok(v) => Ok(Some(v.as_str().unwrap_or_default().to_string())),
            Err(e) if e.code == "no such alert" => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn dismiss_dialog(&self) -> WdResult<()> {
        self.post("/alert/dismiss", json!({})).map(drop)
    }

    /// Console messages of every frame since the last call: the page's own and Chromium's
    /// (a load the CSP refused, a script, form or navigation the sandbox blocked). Read from
    /// Chromium's log file: WebDriver's own log leaves out sandboxed frames.
    pub fn console(&self) -> WdResult<Vec<String>> {
        let path = self.dir.join("profile/chrome_debug.log");
        let log = match std::fs::read_to_string(&path) {
            Ok(log) => log,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(WebDriverError::harness("console", format!("read {}: {e}", path.display()))),
        };
        let messages: Vec<String> =
            log.lines().filter_map(|l| l.split_once(":CONSOLE").map(|(_, m)| m.split_once("] ").map_or(m, |(_, m)| m).to_string())).collect();
        let seen = self.console_seen.replace(messages.len());
        Ok(messages.into_iter().skip(seen).collect())
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) -> WdResult<()> {
        let encoded = Self::string(self.get("/screenshot")?, "screenshot")?;
        let png = decode_base64(&encoded).ok_or_else(|| WebDriverError::harness("screenshot", "the driver's answer is not base64"))?;
        std::fs::write(path, png).map_err(|e| WebDriverError::harness("screenshot", format!("write {}: {e}", path.display())))
    }

    /// The cookies visible to the current page.
    pub fn cookies(&self) -> WdResult<Vec<Cookie>> {
        let value = self.get("/cookie")?;
        let list = value.as_array().ok_or_else(|| WebDriverError::harness("cookies", format!("not a list: {value}")))?;
        Ok(list
            .iter()
            .map(|c| Cookie {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                value: c["value"].as_str().unwrap_or_default().to_string(),
                path: c["path"].as_str().map(String::from),
                domain: c["domain"].as_str().map(String::from),
                secure: c["secure"].as_bool().unwrap_or(false),
                http_only: c["httpOnly"].as_bool().unwrap_or(false),
                same_site: c["sameSite"].as_str().map(String::from),
                expiry: c["expiry"].as_u64(),
            })
            .collect())
    }

    /// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`. A wait for
    /// a positive signal (a text shown, a request recorded), never a fixed sleep.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Self) -> WdResult<Option<T>>) -> WdResult<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(self)? {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(WebDriverError::harness(format!("wait for {what}"), format!("not seen within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Quits Chromium; the kill below covers a driver that no longer answers.
            let _ = self.request(reqwest::Method::DELETE, self.session_url(""), None, "quit");
        }
        // chromedriver leads its own process group, Chromium's processes included.
        let group = -(self.driver.id() as i32);
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.driver.wait();
        if std::thread::panicking() {
            eprintln!("browser profile and chromedriver.log kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn element(value: &Value, css: &str) -> WdResult<Element> {
    value[ELEMENT]
        .as_str()
        .map(|id| Element(id.to_string()))
        .ok_or_else(|| WebDriverError::harness(format!("find `{css}`"), format!("no element reference in {value}")))
}

fn fresh_dir() -> WdResult<PathBuf> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("switchyard-browser-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("profile")).map_err(|e| WebDriverError::harness("start browser", format!("create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn spawn_driver(dir: &Path) -> WdResult<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| WebDriverError::harness("start chromedriver", format!("no free port: {e}")))?
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so dropping the Browser can end Chromium with it.
        .process_group(0)
        .spawn()
        .map_err(|e| WebDriverError::harness("start chromedriver", format!("{CHROMEDRIVER}: {e}")))?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// Standard base64 (RFC 4648) with or without padding; `None` on any other character.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
