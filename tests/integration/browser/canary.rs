//! The canary: a loopback HTTP server that records every request it receives (before
//! answering it) and answers each with a 1×1 GIF. Whatever hostile mail manages to load,
//! post or navigate to ends up here, so "no hits" is the proof that nothing got out.

use std::sync::{Arc, Mutex};

use super::http::{Response, Server};

/// One request the canary received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub host: String,
}

pub struct Canary {
    server: Server,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// The smallest valid GIF: one transparent pixel.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// A page that loads an image from the canary itself: the harness's own check that a
/// browser's loads do reach the canary (browser::canary_sees_what_the_browser_loads).
pub const SELF_TEST_PAGE: &str = "/harness/page";
const SELF_TEST_HTML: &str = "<!DOCTYPE html><html><head><title>canary</title></head><body><p id=\"words\">canary page</p>\
<img src=\"/harness/pixel.gif\" alt=\"pixel\"><input id=\"field\" name=\"field\" value=\"\"></body></html>";
/// Set with the self-test page, so the harness can show it reads cookie flags.
const SELF_TEST_COOKIE: &str = "harness=1; Path=/; HttpOnly; SameSite=Strict";

impl Canary {
    pub fn start() -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let recorded = hits.clone();
        let server = Server::start(move |req| {
            let hit = Hit { method: req.method.clone(), path: req.path.clone(), host: req.host.clone() };
            recorded.lock().expect("canary hits lock").push(hit);
            if req.path == SELF_TEST_PAGE {
                Response::html(SELF_TEST_HTML).header("set-cookie", SELF_TEST_COOKIE)
            } else {
                Response::new(200, "image/gif", PIXEL).header("cache-control", "no-store")
            }
        });
        Self { server, hits }
    }

    /// `127.0.0.1:PORT`: what `{{CANARY}}` in a fixture becomes.
    pub fn host(&self) -> String {
        self.server.host()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("canary hits lock").clone()
    }

    /// Requests whose path starts with `prefix` (fixtures use `/<fixture-name>/`).
    pub fn hits_for(&self, prefix: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path.starts_with(prefix)).collect()
    }
}
