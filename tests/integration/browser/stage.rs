//! A stand-in for the web queue's message view: an outer page that embeds a fixture in an
//! `<iframe>`, served with any combination of the three protective layers, so each layer
//! can be shown to hold with and without the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use switchyard::web::inert::{RemoteImages, frame_csp, frame_document, frame_headers};

use super::Fixture;
use super::http::{Request, Response, Server};

/// Which protections a page is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layers {
    /// The real setup: sanitized (remote images blocked), frame headers, sandboxed iframe
    /// in a page whose CSP has `frame-src 'self'`.
    All,
    /// As `All`, after staff asked for remote images.
    AllImagesAllowed,
    /// The sender's HTML unsanitized, with the frame headers and the page's sandbox and CSP.
    PoliciesOnly,
    /// Sanitized, but no headers, no sandbox, no page policy.
    SanitizerOnly,
    /// The sender's HTML with only the frame's headers (its CSP).
    FrameCspOnly,
    /// The sender's HTML in a sandboxed iframe of a page with our page CSP; no frame CSP.
    PageOnly,
    /// The sender's HTML with nothing at all: the baseline that shows each attack is real.
    Nothing,
}

impl Layers {
    fn slug(self) -> &'static str {
        match self {
            Layers::All => "all",
            Layers::AllImagesAllowed => "images",
            Layers::PoliciesOnly => "policies",
            Layers::SanitizerOnly => "sanitizer",
            Layers::FrameCspOnly => "frame-csp",
            Layers::PageOnly => "page",
            Layers::Nothing => "nothing",
        }
    }

    fn from_slug(slug: &str) -> Option<Self> {
        [Self::All, Self::AllImagesAllowed, Self::PoliciesOnly, Self::SanitizerOnly, Self::FrameCspOnly, Self::PageOnly, Self::Nothing]
            .into_iter()
            .find(|l| l.slug() == slug)
    }

    fn sanitized(self) -> Option<RemoteImages> {
        match self {
            Layers::All | Layers::SanitizerOnly => Some(RemoteImages::Blocked),
            Layers::AllImagesAllowed => Some(RemoteImages::Allowed),
            _ => None,
        }
    }

    fn frame_policy(self) -> Option<RemoteImages> {
        match self {
            Layers::All | Layers::PoliciesOnly | Layers::FrameCspOnly => Some(RemoteImages::Blocked),
            Layers::AllImagesAllowed => Some(RemoteImages::Allowed),
            _ => None,
        }
    }

    fn page_policy(self) -> bool {
        matches!(self, Layers::All | Layers::AllImagesAllowed | Layers::PoliciesOnly | Layers::PageOnly)
    }
}

/// The embedding page's policy the web queue is expected to send (README "Customer HTML is
/// inert"): no script at all, frames only from our origin, so a link followed inside the
/// frame cannot take it to another site. `report-uri` is the test's own addition: the
/// browser's report of a refused navigation tells the test a click has been dealt with.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'none'; frame-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'; report-uri /csp-report";

pub struct Stage {
    server: Server,
    reports: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
}

impl Stage {
    pub fn start(fixtures: Vec<Fixture>) -> Self {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let recorded = reports.clone();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let server = Server::start(move |req| {
            counted.fetch_add(1, Ordering::SeqCst);
            if req.method == "POST" && req.path == "/csp-report" {
                recorded.lock().expect("reports lock").push(String::from_utf8_lossy(&req.body).into_owned());
                return Response::new(204, "text/plain", "");
            }
            route(req, &fixtures).unwrap_or_else(|| Response::new(404, "text/plain", "no such page"))
        });
        Self { server, reports, requests }
    }

    /// The outer page showing `fixture` with `layers`.
    pub fn page_url(&self, fixture: &str, layers: Layers) -> String {
        self.server.url(&format!("/page/{}/{fixture}", layers.slug()))
    }

    /// One page with every fixture, each in its own frame `iframe#f-<name>`.
    pub fn gallery_url(&self, layers: Layers) -> String {
        self.server.url(&format!("/gallery/{}", layers.slug()))
    }

    /// The frame document alone, as if opened in a tab of its own.
    pub fn frame_url(&self, fixture: &str, layers: Layers) -> String {
        self.server.url(&format!("/frame/{}/{fixture}", layers.slug()))
    }

    /// How many requests the stage has answered (pages, frames, reports).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// CSP violation reports received so far (JSON bodies).
    pub fn reports(&self) -> Vec<String> {
        self.reports.lock().expect("reports lock").clone()
    }
}

fn route(req: &Request, fixtures: &[Fixture]) -> Option<Response> {
    let mut parts = req.path.trim_start_matches('/').splitn(3, '/');
    let (kind, layers) = (parts.next()?, Layers::from_slug(parts.next()?)?);
    if kind == "gallery" {
        let frames: String = fixtures.iter().map(|f| iframe(&format!("f-{}", f.name), &f.name, layers, 300)).collect();
        return Some(page("every fixture", &frames, layers));
    }
    let name = parts.next()?;
    let fixture = fixtures.iter().find(|f| f.name == name)?;
    match kind {
        "page" => Some(page(name, &iframe("message", name, layers, 700), layers)),
        "frame" => Some(frame(fixture, layers)),
        _ => None,
    }
}

fn iframe(id: &str, name: &str, layers: Layers, height: u32) -> String {
    let sandbox = if layers.page_policy() { " sandbox" } else { "" };
    format!(
        "<iframe id=\"{id}\"{sandbox} src=\"/frame/{}/{name}\" referrerpolicy=\"no-referrer\" title=\"Customer message\" \
         width=\"1000\" height=\"{height}\"></iframe>",
        layers.slug()
    )
}

fn page(title: &str, frames: &str, layers: Layers) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Message {title}</title></head><body>\
         <h1>Message {title}</h1>{frames}</body></html>"
    );
    let response = Response::html(html);
    if layers.page_policy() { response.header("content-security-policy", PAGE_CSP) } else { response }
}

fn frame(fixture: &Fixture, layers: Layers) -> Response {
    let body = match layers.sanitized() {
        Some(images) => frame_document(&fixture.raw, images).document,
        None => fixture.raw_html(),
    };
    let mut response = Response::html(body);
    if let Some(images) = layers.frame_policy() {
        for (name, value) in frame_headers(images) {
            response = response.header(name, value);
        }
        // As on the page, reporting is the test's addition: a refusal is a sign to wait for.
        let csp = format!("{}; report-uri /csp-report", frame_csp(images));
        response = response.header("content-security-policy", &csp);
    }
    response
}
