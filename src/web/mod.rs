//! The web queue, the REST API and the operations endpoints, served by the worker process
//! (axum). Pages are rendered on the server (tera, autoescaped) and carry no JavaScript, so
//! the Content-Security-Policy can forbid scripts outright. A customer's HTML is shown only
//! inert: sanitized, in a sandboxed frame, under its own stricter policy ([`inert`]).

mod actions;
pub mod api;
pub mod auth;
pub mod inert;
mod ops;
mod pages;
mod tls;
#[cfg(test)]
mod tests;

pub use tls::ClientAddr;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::{Permission, Role};
use crate::pipeline::Pipeline;
use crate::store::staff::{AccountStore, QueueStore};
use crate::store::{Store, StoreError};

/// Everything the web side needs from the store.
pub trait WebStore: Store + AccountStore + QueueStore {}
impl<T: Store + AccountStore + QueueStore> WebStore for T {}

pub struct WebState {
    pub store: Arc<dyn WebStore>,
    pub pipeline: Arc<Pipeline>,
    pub settings: Arc<Settings>,
    /// Wakes the worker, so a reply approved now is delivered now.
    pub wake: Arc<Notify>,
    pages: tera::Tera,
    metrics: ops::Metrics,
}

impl WebState {
    pub fn new(store: Arc<dyn WebStore>, pipeline: Arc<Pipeline>, wake: Arc<Notify>) -> Result<Self, tera::Error> {
        Ok(Self { store, settings: pipeline.settings.clone(), pipeline, wake, pages: pages::templates()?, metrics: ops::Metrics::default() })
    }
}

/// Why a request was refused or failed. Pages show it as HTML, the API as JSON.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("the {role} role may not do this (needs `{}`)", .permission.as_str())]
    Forbidden { role: Role, permission: Permission },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the form has expired or did not come from this site: reload the page and try again")]
    Csrf,
    #[error("too many failed sign-ins; try again in {minutes} minute(s)")]
    Throttled { minutes: i64 },
    #[error("the database failed: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => WebError::NotFound(m),
            StoreError::Conflict(m) => WebError::Conflict(m),
            other => WebError::Store(other),
        }
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Forbidden { .. } | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Store(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "unauthenticated",
            WebError::Forbidden { .. } => "forbidden",
            WebError::NotFound(_) => "not_found",
            WebError::Conflict(_) => "conflict",
            WebError::BadRequest(_) => "bad_request",
            WebError::Csrf => "csrf",
            WebError::Throttled { .. } => "throttled",
            WebError::Store(_) | WebError::Internal(_) => "internal",
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(error = %crate::privacy::redact(&self.to_string()), "web request failed");
        }
    }
}

/// Pages: a missing session goes to the sign-in page, anything else is a small HTML page.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        if let WebError::Unauthenticated = self {
            return Redirect::to("/login").into_response();
        }
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchyard: {status}</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\"><h1>{status}</h1>\
             <p class=\"error\">{message}</p><p><a href=\"/queue\">Back to the queue</a></p></main></body></html>",
            status = self.status(),
            message = tera::escape_html(&self.to_string()),
        );
        (self.status(), [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
}

/// The whole application: pages, API, operations endpoints, with the security headers.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(auth::routes())
        .nest("/api", api::routes())
        .merge(ops::routes())
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state)
}

/// The policy of our own pages: our stylesheet, our images, frames only from us (so a link
/// clicked inside a customer's message cannot take the frame elsewhere), no scripts at all.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Headers every response carries unless its handler set its own (the message frame does).
async fn security_headers(State(state): State<Arc<WebState>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    state.metrics.count(response.status());
    let https = state.settings.web.https();
    let h = response.headers_mut();
    let defaults: [(header::HeaderName, &'static str); 7] = [
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Our own pages may tell our own pages where a request came from; nobody else.
        (header::REFERRER_POLICY, "same-origin"),
        // Pages and API answers carry personal data: never kept by browsers or proxies.
        (header::CACHE_CONTROL, "no-store"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=(), payment=()"),
    ];
    for (name, value) in defaults {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if https {
        h.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Binds `[web] listen`, writes the URL served to `<data dir>/web.url` (for port 0), and
/// serves until `cancel`. Returns the URL and the server's task.
pub async fn start(
    state: Arc<WebState>,
    data_dir: &Path,
    cancel: CancellationToken,
) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let web = &state.settings.web;
    let listener = TcpListener::bind(web.listen).await.with_context(|| format!("cannot listen on {} (web.listen)", web.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if web.tls_cert.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    let url_file = data_dir.join("web.url");
    // Written aside and renamed, so a reader never sees a half-written file.
    let partial = data_dir.join("web.url.tmp");
    std::fs::write(&partial, format!("{url}\n")).and_then(|()| std::fs::rename(&partial, &url_file)).with_context(|| format!("cannot write {}", url_file.display()))?;
    let app = router(state.clone()).into_make_service_with_connect_info::<tls::ClientAddr>();
    let task = match (&web.tls_cert, &web.tls_key) {
        (Some(cert), Some(key)) => {
            let acceptor = tls::acceptor(cert, key)?;
            let listener = tls::TlsListener::new(listener, acceptor, cancel.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
                    tracing::error!(error = %e, "the web server stopped");
                }
            })
        }
        _ => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
                tracing::error!(error = %e, "the web server stopped");
            }
        }),
    };
    tracing::info!(%url, "web queue and API listening");
    Ok((url, task))
}
