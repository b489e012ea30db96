//! For operations: `/healthz` (the process answers), `/readyz` (the database answers) and
//! `/metrics` (Prometheus text format; counts only, no personal data; needs a bearer token).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::auth::{bearer, sha256_hex};
use super::{WebError, WebState};
use crate::domain::Permission;

/// HTTP responses by status class, since the process started.
#[derive(Default)]
pub(super) struct Metrics {
    by_class: [AtomicU64; 5],
}

impl Metrics {
    pub(super) fn count(&self, status: StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<WebState>>) -> Response {
    match state.store.counts().await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database does not answer\n").into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Result<Response, super::api::ApiError> {
    let token = bearer(&headers).ok_or(WebError::Unauthenticated)?;
    let user = state.store.token_user(&sha256_hex(token), chrono::Utc::now()).await.map_err(WebError::from)?.ok_or(WebError::Unauthenticated)?;
    if !user.role.can(Permission::Read) {
        return Err(WebError::Forbidden { role: user.role, permission: Permission::Read }.into());
    }
    let counts = state.store.counts().await.map_err(WebError::from)?;
    let queue = state.store.queue_stats().await.map_err(WebError::from)?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, i64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: i64| vec![(String::new(), v)];
    gauge("switchyard_messages", "Messages stored.", &one(counts.messages));
    gauge("switchyard_messages_pending", "Messages not decided yet.", &one(counts.pending));
    gauge("switchyard_decisions", "Decisions recorded.", &one(counts.decisions));
    gauge(
        "switchyard_outbox",
        "Outbox rows by delivery state.",
        &[
            ("{state=\"pending\"}".into(), counts.outbox_pending),
            ("{state=\"sent\"}".into(), counts.outbox_sent),
            ("{state=\"failed\"}".into(), counts.outbox_failed),
        ],
    );
    let by = |label: &str, pairs: &[(String, i64)]| pairs.iter().map(|(k, v)| (format!("{{{label}=\"{}\"}}", escape_label(k)), *v)).collect::<Vec<_>>();
    gauge("switchyard_queue_open", "Items waiting for a person, by urgency.", &by("urgency", &queue.open_by_urgency));
    gauge("switchyard_queue_escalated", "Items waiting for a supervisor.", &one(queue.escalated));
    gauge("switchyard_queue_oldest_open_seconds", "Age of the oldest item waiting.", &one(queue.oldest_open_seconds.unwrap_or(0)));
    gauge("switchyard_queue_resolved", "Items resolved, by how.", &by("state", &queue.resolved_by_state));
    gauge("switchyard_llm_calls", "Messages the LLM was asked about.", &one(counts.llm_calls));
    let _ = writeln!(out, "# HELP switchyard_http_responses_total HTTP responses by status class.\n# TYPE switchyard_http_responses_total counter");
    for (i, n) in state.metrics.by_class.iter().enumerate() {
        let _ = writeln!(out, "switchyard_http_responses_total{{class=\"{}xx\"}} {}", i + 1, n.load(Ordering::Relaxed));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
