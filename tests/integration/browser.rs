//! Real-browser tests: headless Chromium (Debian's chromium and chromium-driver, installed by
//! scripts/test) loads each hostile fixture the way staff would see it, and a canary server
//! records every request that gets out. Also the reusable harness for web UI tests:
//! [`Browser`] (WebDriver), [`Canary`], [`hostile_fixture`] and the [`Stage`] that serves a
//! fixture with any combination of the protective layers.

mod canary;
mod hostile;
mod http;
mod stage;
mod ui;
mod webdriver;

// The harness, for the web UI tests too (`use crate::browser::{Browser, Canary, …}`); some
// of it is unused until they are.
#[allow(unused_imports)]
pub use canary::{Canary, Hit};
#[allow(unused_imports)]
pub use hostile::{Fixture, hostile_fixture, hostile_fixtures};
#[allow(unused_imports)]
pub use stage::{Layers, PAGE_CSP, Stage};
#[allow(unused_imports)]
pub use webdriver::{Browser, Cookie, Element, WdResult, WebDriverError, decode_base64};

use std::time::Duration;

/// Everything a customer's HTML could make a reader click or submit.
const CLICKABLE: &str = "a, area, button, input[type=submit], input[type=image], [onclick]";
/// How long a page and its frames may take to load here (a bound, not a measure).
const LOAD: Duration = Duration::from_secs(15);
/// The longest wait for a sign that a click was dealt with (see `wait_for_outcome`). Every
/// click in these fixtures but one (a handler the sandbox drops without a word) gives one
/// at once; this only bounds the wait for that one.
const CLICK_OUTCOME: Duration = Duration::from_secs(2);

/// One canary, the fixtures aimed at it, a stage serving them and a browser.
struct Scene {
    canary: Canary,
    fixtures: Vec<Fixture>,
    stage: Stage,
    browser: Browser,
}

/// What a round of clicks did, for the caller's assertions.
#[derive(Debug, Default)]
struct Clicks {
    /// The target of each element clicked: its link, `submit`, `handler`, or empty when it
    /// had none (a link whose target the sanitizer removed).
    clicked: Vec<String>,
    /// Clicks the browser refused (element hidden, covered…).
    refused: Vec<String>,
    dialogs: Vec<String>,
    /// Top-level URLs the page was replaced by.
    top_navigations: Vec<String>,
}

impl Scene {
    fn new() -> WdResult<Self> {
        let canary = Canary::start();
        let fixtures = hostile_fixtures(&canary);
        let stage = Stage::start(fixtures.clone());
        let browser = Browser::start()?;
        Ok(Self { canary, fixtures, stage, browser })
    }

    fn fixture(&self, name: &str) -> &Fixture {
        self.fixtures.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no fixture {name}"))
    }

    /// Every fixture but the benign one.
    fn hostile(&self) -> impl Iterator<Item = &Fixture> {
        self.fixtures.iter().filter(|f| f.name != "remote-image")
    }

    /// Opens the outer page for `fixture` and waits until it and its frame have loaded and,
    /// when `expect_text`, the customer's words are on screen. Returns the text of every
    /// dialog that opened (dismissed, so the test can go on).
    fn open(&self, fixture: &Fixture, layers: Layers, expect_text: bool) -> WdResult<Vec<String>> {
        let mut dialogs = self.load(&self.stage.page_url(&fixture.name, layers))?;
        if expect_text {
            self.wait_for_text("iframe#message", fixture, layers)?;
        }
        dismiss(&self.browser, &mut dialogs)?;
        Ok(dialogs)
    }

    /// Opens the page with every fixture in its own frame and waits until each shows its
    /// customer's words.
    fn open_gallery(&self, layers: Layers) -> WdResult<Vec<String>> {
        let mut dialogs = self.load(&self.stage.gallery_url(layers))?;
        for fixture in &self.fixtures {
            self.wait_for_text(&format!("iframe#f-{}", fixture.name), fixture, layers)?;
        }
        dismiss(&self.browser, &mut dialogs)?;
        Ok(dialogs)
    }

    fn load(&self, url: &str) -> WdResult<Vec<String>> {
        let b = &self.browser;
        let mut dialogs = Vec::new();
        with_dialogs(b, &mut dialogs, |b| b.goto(url))?;
        // The top document is complete only once its frames and all they load are.
        b.wait_for("page loaded", LOAD, |b| {
            let state = with_dialogs(b, &mut dialogs, |b| b.execute("return document.readyState", vec![]))?;
            Ok((state == "complete").then_some(()))
        })?;
        Ok(dialogs)
    }

    fn wait_for_text(&self, frame: &str, fixture: &Fixture, layers: Layers) -> WdResult<()> {
        let shown = self.browser.wait_for(&format!("`{}` shown in the frame", fixture.visible), LOAD, |b| {
            let text = in_frame(b, frame, |b| b.find("body").and_then(|body| b.text(&body)))?;
            Ok(text.contains(&fixture.visible).then_some(()))
        });
        shown.map_err(|e| WebDriverError { message: format!("{} (fixture {}, {layers:?})", e.message, fixture.name), ..e })
    }

    /// Clicks every clickable element of the open page's frame, in order, and waits for a
    /// sign that each click was dealt with. A click that may have changed the frame's
    /// document is followed by a fresh page load. Stops early once `enough` says so.
    fn click_everything(&self, fixture: &Fixture, layers: Layers, expect_text: bool, enough: impl Fn() -> bool) -> WdResult<Clicks> {
        let b = &self.browser;
        let mut clicks = Clicks::default();
        let page = b.current_url()?;
        let mut elements = in_frame(b, "iframe#message", |b| b.find_all(CLICKABLE))?;
        for i in 0..elements.len() {
            if enough() {
                break;
            }
            let before = self.signals()?;
            let clicked = in_frame(b, "iframe#message", |b| {
                let el = elements.get(i).ok_or_else(|| gone(i))?;
                let target = target(b, el)?;
                b.click(el).map(|()| target)
            });
            let target = match clicked {
                Ok(target) => target,
                Err(e) if e.code == "unexpected alert open" => "dialog".into(),
                Err(e) => {
                    clicks.refused.push(e.to_string());
                    "refused".into()
                }
            };
            if !["", "refused"].contains(&target.as_str()) {
                self.wait_for_outcome(before, &format!("{} ({layers:?}): {target}", fixture.name))?;
            }
            dismiss(b, &mut clicks.dialogs)?;
            let now = b.current_url()?;
            if now != page {
                clicks.top_navigations.push(now);
            }
            if !self.frame_intact(&target, before, &elements)? {
                clicks.dialogs.extend(self.open(fixture, layers, expect_text)?);
                elements = in_frame(b, "iframe#message", |b| b.find_all(CLICKABLE))?;
            }
            clicks.clicked.push(target);
        }
        Ok(clicks)
    }

    /// The frame still shows the document just clicked in: the click could not navigate
    /// (no link to follow, or a script link), nothing was requested anywhere, and the
    /// frame's elements are the same ones (a new document would have new references).
    fn frame_intact(&self, target: &str, before: (usize, usize, usize), elements: &[Element]) -> WdResult<bool> {
        let lower: String = target.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        let stays = ["javascript:", "vbscript:"].iter().any(|s| lower.starts_with(s)) || ["", "submit", "handler"].contains(&target);
        let quiet = self.canary.hits().len() == before.0 && self.stage.requests() == before.2;
        if !(stays && quiet) {
            return Ok(false);
        }
        Ok(in_frame(&self.browser, "iframe#message", |b| b.find_all(CLICKABLE)).is_ok_and(|now| now == elements))
    }

    /// Everything that shows a click was dealt with, counted: canary hits, CSP reports (what
    /// the page's or the frame's policy refused), requests to the stage (a link that
    /// resolved to our own origin). Reading the console empties it, so whatever it holds
    /// afterwards is new: Chromium logs there what the sandbox blocked (a form, a script, a
    /// top-level navigation), which no report covers.
    fn signals(&self) -> WdResult<(usize, usize, usize)> {
        self.browser.console()?;
        Ok((self.canary.hits().len(), self.stage.reports().len(), self.stage.requests()))
    }

    /// Waits for one of the signals after a click. Finding none is not an error: the check
    /// on every canary hit at the end of each test still catches a request that came late.
    fn wait_for_outcome(&self, before: (usize, usize, usize), click: &str) -> WdResult<()> {
        let seen = self.browser.wait_for("the click's outcome", CLICK_OUTCOME, |b| {
            let now = (self.canary.hits().len(), self.stage.reports().len(), self.stage.requests());
            Ok((now != before || !b.console()?.is_empty()).then_some(()))
        });
        if seen.is_err() {
            eprintln!("no sign of the outcome of a click within {CLICK_OUTCOME:?}: {click}");
        }
        Ok(())
    }
}

/// What clicking `el` can lead to: its link or form target, `submit`, `handler`, or empty
/// when it has none of these (a link whose target the sanitizer removed). One script call
/// rather than five attribute reads: clicks are most of these tests' time.
fn target(b: &Browser, el: &Element) -> WdResult<String> {
    const TARGET: &str = "const e = arguments[0]; \
        return e.getAttribute('href') ?? e.getAttribute('xlink:href') ?? e.getAttribute('formaction') \
        ?? (e.hasAttribute('onclick') ? 'handler' : ['button', 'input'].includes(e.localName) ? 'submit' : '');";
    let value = b.execute(TARGET, vec![el.to_arg()])?;
    Ok(value.as_str().unwrap_or_default().to_string())
}

fn gone(i: usize) -> WebDriverError {
    WebDriverError { command: "click".into(), code: "harness".into(), message: format!("clickable element {i} is gone") }
}

/// Runs `f` inside the frame `frame` (a CSS selector) of the top page, then returns to it.
fn in_frame<T>(b: &Browser, frame: &str, f: impl FnOnce(&Browser) -> WdResult<T>) -> WdResult<T> {
    b.switch_to_top()?;
    b.switch_to_frame(&b.find(frame)?)?;
    let out = f(b);
    b.switch_to_parent()?;
    out
}

/// Runs `f`; when a dialog is in the way, records and dismisses it and tries again.
fn with_dialogs<T>(b: &Browser, dialogs: &mut Vec<String>, f: impl Fn(&Browser) -> WdResult<T>) -> WdResult<T> {
    for _ in 0..5 {
        match f(b) {
            Err(e) if e.code == "unexpected alert open" => dismiss(b, dialogs)?,
            other => return other,
        }
    }
    f(b)
}

/// Records and dismisses an open dialog, if any.
fn dismiss(b: &Browser, dialogs: &mut Vec<String>) -> WdResult<()> {
    if let Some(text) = b.dialog_text()? {
        dialogs.push(text);
        b.dismiss_dialog()?;
    }
    Ok(())
}

fn show(hits: &[Hit]) -> String {
    hits.iter().map(|h| format!("{} {}", h.method, h.path)).collect::<Vec<_>>().join(", ")
}

/// (a) The harness itself: Chromium loads a canary page, the image it loads is recorded,
/// and every WebDriver call the web UI tests use works.
#[test]
fn harness_drives_chromium_and_the_canary_sees_its_loads() -> WdResult<()> {
    let canary = Canary::start();
    let b = Browser::start()?;
    let page = canary.url(canary::SELF_TEST_PAGE);
    b.goto(&page)?;
    b.wait_for("the pixel request", LOAD, |_| Ok((!canary.hits_for("/harness/pixel.gif").is_empty()).then_some(())))?;
    assert_eq!(canary.hits_for("/harness/pixel.gif")[0].host, canary.host());
    assert_eq!(b.current_url()?, page);
    assert_eq!(b.title()?, "canary");
    assert!(b.page_source()?.contains("canary page"));
    assert_eq!(b.text(&b.find_in(&b.find("body")?, "#words")?)?, "canary page");
    assert_eq!(b.find_all("p, img, input")?.len(), 3);
    let img = b.find("img")?;
    assert_eq!((b.tag_name(&img)?, b.attribute(&img, "alt")?), ("img".into(), Some("pixel".into())));
    assert_eq!(b.attribute(&img, "title")?, None);
    let field = b.find("#field")?;
    b.send_keys(&field, "Giulia Rossi")?;
    assert_eq!(b.execute("return document.getElementById('field').value", vec![])?, "Giulia Rossi");
    b.clear(&field)?;
    assert_eq!(b.execute("return document.getElementById('field').value + arguments[0]", vec![42.into()])?, "42");
    let err = b.find("#missing").expect_err("no such element");
    assert_eq!(err.code, "no such element", "{err}");
    assert_eq!(b.dialog_text()?, None);
    b.execute("console.error('harness console check')", vec![])?;
    let console = b.console()?;
    assert!(console.iter().any(|m| m.contains("harness console check")), "{console:?}");
    let cookie = b.cookies()?.into_iter().find(|c| c.name == "harness").expect("the page's cookie");
    assert!(cookie.http_only && cookie.same_site.as_deref() == Some("Strict"), "{cookie:?}");
    let png = std::env::temp_dir().join(format!("switchyard-harness-{}.png", std::process::id()));
    b.screenshot(&png)?;
    let bytes = std::fs::read(&png).expect("read the screenshot");
    let _ = std::fs::remove_file(&png);
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000, "not a PNG: {} bytes", bytes.len());
    Ok(())
}

/// (b) Every hostile fixture as staff will see it (sanitized, remote images blocked, frame
/// headers, sandboxed frame, page policy): with every link clicked, nothing reaches the
/// canary, no dialog opens, the page stays where it is, and the words are shown in our style.
#[test]
fn hostile_mail_is_inert_in_the_real_setup() -> WdResult<()> {
    let scene = Scene::new()?;
    let b = &scene.browser;
    let mut clicked = Vec::new();
    for fixture in scene.hostile() {
        let dialogs = scene.open(fixture, Layers::All, true)?;
        assert_eq!(dialogs, Vec::<String>::new(), "{}: a dialog opened", fixture.name);
        // Our stylesheet is the one the frame's policy allows (by hash): it applies.
        let padding = in_frame(b, "iframe#message", |b| b.css_value(&b.find("body")?, "padding-left"))?;
        assert_eq!(padding, "16px", "{}: our stylesheet did not apply", fixture.name);
        let origin = in_frame(b, "iframe#message", |b| b.execute("return self.origin", vec![]))?;
        assert_eq!(origin, "null", "{}: the frame is not sandboxed", fixture.name);
        let clicks = scene.click_everything(fixture, Layers::All, true, || false)?;
        assert_eq!(scene.canary.hits(), [], "{}: requests got out after {clicks:?}", fixture.name);
        assert_eq!(clicks.dialogs, Vec::<String>::new(), "{}: a dialog opened", fixture.name);
        assert_eq!(clicks.top_navigations, Vec::<String>::new(), "{}: the page was navigated away", fixture.name);
        assert_eq!(clicks.refused, Vec::<String>::new(), "{}: a link could not be clicked, so was not tested", fixture.name);
        clicked.extend(clicks.clicked);
    }
    // Links to the canary survive sanitizing (javascript-links, ping): following them is
    // what the page's frame-src refuses, and the browser reported it.
    assert!(clicked.len() >= 10 && clicked.iter().any(|t| t.ends_with("/ping/link")), "too few links clicked: {clicked:?}");
    let reports = scene.stage.reports();
    let refused = format!("\"blocked-uri\":\"{}\"", scene.canary.url(""));
    assert!(
        reports.iter().any(|r| r.contains("/page/all/ping\"") && r.contains("\"violated-directive\":\"frame-src\"") && r.contains(&refused)),
        "no refused navigation to the canary reported: {reports:?}"
    );
    assert_eq!(scene.canary.hits(), [], "late requests");
    Ok(())
}

/// (c) The benign remote image: blocked by default (placeholder shown, nothing loaded),
/// loaded once staff allow images, so the zero in (b) is not for want of a working canary.
#[test]
fn remote_images_load_only_when_staff_allow_them() -> WdResult<()> {
    let scene = Scene::new()?;
    let b = &scene.browser;
    let fixture = scene.fixture("remote-image");
    assert_eq!(scene.open(fixture, Layers::All, true)?, Vec::<String>::new());
    let text = in_frame(b, "iframe#message", |b| b.text(&b.find("body")?))?;
    assert!(text.contains("[image blocked: 127.0.0.1] Pasticceria Moretti"), "{text}");
    assert_eq!(scene.canary.hits(), [], "loaded while blocked");

    scene.open(fixture, Layers::AllImagesAllowed, true)?;
    b.wait_for("the logo request", LOAD, |_| Ok((!scene.canary.hits_for("/remote-image/logo.png").is_empty()).then_some(())))?;
    let width = in_frame(b, "iframe#message", |b| b.execute("return document.querySelector('img').naturalWidth", vec![]))?;
    assert_eq!(width, 1, "the canary's pixel is what the frame shows");
    assert!(scene.canary.hits().iter().all(|h| h.path == "/remote-image/logo.png"), "{}", show(&scene.canary.hits()));
    Ok(())
}

/// (d) The policies without the sanitizer: the sender's HTML as written, served with the
/// frame's headers in the sandboxed frame of a page with our policy. Nothing gets out,
/// clicks included.
#[test]
fn policies_alone_hold_against_unsanitized_mail() -> WdResult<()> {
    let scene = Scene::new()?;
    for fixture in scene.hostile() {
        let mut dialogs = scene.open(fixture, Layers::PoliciesOnly, true)?;
        let clicks = scene.click_everything(fixture, Layers::PoliciesOnly, true, || false)?;
        dialogs.extend(clicks.dialogs);
        assert_eq!(scene.canary.hits(), [], "{}: the policies alone let requests out after {:?}", fixture.name, clicks.clicked);
        assert_eq!(dialogs, Vec::<String>::new(), "{}: the policies alone let a dialog open", fixture.name);
        assert_eq!(clicks.top_navigations, Vec::<String>::new(), "{}: the policies alone let the page be navigated", fixture.name);
    }
    assert_eq!(scene.canary.hits(), [], "late requests");
    Ok(())
}

/// (d) One layer at a time, on loading (not clicking: neither of the first two can stop a
/// clicked link from leaving; only the page's frame-src can). The sanitizer alone, and the
/// frame's CSP alone over the sender's HTML, each stop every load, script and dialog. The
/// page's sandbox and policy alone do not stop loads: that is why the frame has its own.
#[test]
fn sanitizer_alone_and_frame_policy_alone_load_nothing() -> WdResult<()> {
    let scene = Scene::new()?;
    for layers in [Layers::SanitizerOnly, Layers::FrameCspOnly] {
        let dialogs = scene.open_gallery(layers)?;
        assert_eq!(dialogs, Vec::<String>::new(), "{layers:?} alone let a dialog open");
        assert_eq!(scene.canary.hits(), [], "{layers:?} alone let requests out: {}", show(&scene.canary.hits()));
    }
    assert_eq!(scene.canary.hits(), [], "late requests");

    // Without the frame's own policy, the page's sandbox does not stop an image.
    scene.open_gallery(Layers::PageOnly)?;
    assert!(!scene.canary.hits_for("/tracking-pixel/open.gif").is_empty(), "{}", show(&scene.canary.hits()));
    eprintln!("page policy and sandbox alone let out: {}", show(&scene.canary.hits()));
    Ok(())
}

/// The frame document opened on its own (a tab, a bookmarked URL) has no iframe sandbox
/// around it: the `sandbox` in its own policy still keeps the sender's script from running.
#[test]
fn frame_document_opened_on_its_own_stays_sandboxed() -> WdResult<()> {
    let scene = Scene::new()?;
    let b = &scene.browser;
    for name in ["script", "event-handlers", "svg", "meta-refresh"] {
        let fixture = scene.fixture(name);
        for layers in [Layers::All, Layers::PoliciesOnly] {
            let mut dialogs = Vec::new();
            let url = scene.stage.frame_url(name, layers);
            with_dialogs(b, &mut dialogs, |b| b.goto(&url))?;
            let text = b.wait_for("the message text", LOAD, |b| Ok(b.text(&b.find("body")?)?.contains(&fixture.visible).then_some(())));
            text.map_err(|e| WebDriverError { message: format!("{} ({name}, {layers:?})", e.message), ..e })?;
            dismiss(b, &mut dialogs)?;
            // Sandboxed documents get an opaque origin: whatever ran there could not read
            // our cookies or pages.
            assert_eq!(b.execute("return self.origin", vec![])?, "null", "{name} {layers:?}: not sandboxed");
            assert_eq!(dialogs, Vec::<String>::new(), "{name} {layers:?}: a dialog opened");
            assert_eq!(b.current_url()?, url, "{name} {layers:?}: navigated away");
        }
    }
    assert_eq!(scene.canary.hits(), [], "requests got out: {}", show(&scene.canary.hits()));
    Ok(())
}

/// The baseline: with no protection at all, every hostile fixture does reach the canary
/// (and the script one opens its dialog), so each fixture is a real attack and a zero in
/// the tests above means the protection worked.
#[test]
fn every_fixture_reaches_the_canary_when_unprotected() -> WdResult<()> {
    let scene = Scene::new()?;
    let mut dialogs = Vec::new();
    for fixture in scene.hostile() {
        let prefix = fixture.canary_prefix();
        let reached = || !scene.canary.hits_for(&prefix).is_empty();
        dialogs.extend(scene.open(fixture, Layers::Nothing, false)?);
        // Loads are over once the page is complete; what needs a click is clicked.
        if !reached() {
            dialogs.extend(scene.click_everything(fixture, Layers::Nothing, false, reached)?.dialogs);
        }
        let hits = scene.canary.hits_for(&prefix);
        assert!(!hits.is_empty(), "{}: reached nothing even unprotected, so it tests nothing", fixture.name);
        eprintln!("unprotected {}: {}", fixture.name, show(&hits));
    }
    assert!(dialogs.iter().any(|d| d == "xss"), "the script fixture's alert was not seen: {dialogs:?}");
    Ok(())
}
