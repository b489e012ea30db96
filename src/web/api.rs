//! The REST API under `/api`, for other systems: the queue and its messages, drafts (edit,
//! approve, reject), decisions and statistics. Bearer tokens (`switchyard token add`) act as
//! their user, with that user's role. Described by `openapi/web-api.json`, served at
//! `/api/openapi.json`.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::actions::{self, Approved};
use super::auth::ApiClient;
use super::{WebError, WebState};
use crate::domain::{Intent, Language, Permission};
use crate::pipeline::parse;
use crate::store::staff::{QueueFilter, StateFilter};

pub const OPENAPI: &str = include_str!("../../openapi/web-api.json");

/// Every API route (method, path as in the OpenAPI document); `routes` registers exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/openapi.json"),
    ("get", "/messages"),
    ("get", "/messages/{id}"),
    ("get", "/messages/{id}/draft"),
    ("put", "/messages/{id}/draft"),
    ("post", "/messages/{id}/draft/approve"),
    ("post", "/messages/{id}/draft/reject"),
    ("post", "/messages/{id}/escalate"),
    ("post", "/messages/{id}/assign"),
    ("post", "/messages/{id}/correct"),
    ("get", "/decisions"),
    ("get", "/stats"),
];

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/messages", get(list))
        .route("/messages/{id}", get(show))
        .route("/messages/{id}/draft", get(draft).put(edit))
        .route("/messages/{id}/draft/approve", post(approve))
        .route("/messages/{id}/draft/reject", post(reject))
        .route("/messages/{id}/escalate", post(escalate))
        .route("/messages/{id}/assign", post(assign))
        .route("/messages/{id}/correct", post(correct))
        .route("/decisions", get(decisions))
        .route("/stats", get(stats))
        .fallback(|| async { ApiError(WebError::NotFound("no such API route; see /api/openapi.json".into())) })
}

/// A [`WebError`] as JSON: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(WebError::BadRequest(format!("the request body is not what this route takes: {}", e.body_text())))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError(WebError::BadRequest(e.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = json!({"error": {"code": self.0.code(), "message": self.0.to_string()}});
        let mut response = (self.0.status(), Json(body)).into_response();
        if let WebError::Unauthenticated = self.0 {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchyard\""));
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    state: StateFilter,
    intent: Option<Intent>,
    language: Option<Language>,
    mailbox: Option<String>,
    assignee: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn default_limit() -> u32 {
    100
}

async fn list(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, q: Result<Query<ListQuery>, QueryRejection>) -> ApiResult {
    caller.require(Permission::Read)?;
    let Query(q) = q?;
    let filter = QueueFilter {
        state: q.state,
        intent: q.intent,
        language: q.language,
        mailbox: q.mailbox,
        assignee: q.assignee,
        offset: q.offset,
        limit: q.limit.clamp(1, 1000),
    };
    let items = state.store.queue(&filter).await.map_err(WebError::from)?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn show(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>) -> ApiResult {
    caller.require(Permission::Read)?;
    let case = actions::load(&state, id).await?;
    let parsed = parse::run(&case.raw, case.stored_len, parse::Limits { max_bytes: u64::MAX }).ok();
    let mut body = serde_json::to_value(&case).map_err(|e| WebError::Internal(e.to_string()))?;
    body["text"] = parsed.as_ref().map(|p| Value::from(p.text.clone())).unwrap_or(Value::Null);
    body["attachments"] = parsed.map(|p| json!(p.attachments)).unwrap_or(Value::Null);
    body["history"] = json!(state.store.history(id, 20).await.map_err(WebError::from)?);
    Ok(Json(body).into_response())
}

async fn draft(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>) -> ApiResult {
    caller.require(Permission::Read)?;
    let case = actions::load(&state, id).await?;
    Ok(Json(json!({
        "message": id,
        "state": case.item.state,
        "subject": case.draft_subject,
        "proposal": case.proposal,
        "edited_text": case.edited_text,
        "edited_by": case.edited_by,
        "claims": case.claims,
        "unverified_claims": case.item.unverified_claims,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    text: String,
}

/// Saves an edit (not sent) and returns it fact-checked against live data.
async fn edit(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<EditBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    let check = actions::save_edit(&state, &caller, id, &body.text).await?;
    Ok(Json(json!({ "saved": true, "check": check })).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    text: Option<String>,
    override_reason: Option<String>,
}

async fn approve(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<ApproveBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    match actions::approve(&state, &caller, id, body.text.as_deref(), body.override_reason.as_deref()).await? {
        queued @ Approved::Queued { .. } => Ok(Json(queued).into_response()),
        held @ Approved::Held { .. } => Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(held)).into_response()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn reject(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<ReasonBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    actions::reject(&state, &caller, id, Some(&body.reason)).await?;
    Ok(Json(json!({ "message": id, "state": "rejected" })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: String,
}

async fn escalate(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<NoteBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    actions::escalate(&state, &caller, id, Some(&body.note)).await?;
    Ok(Json(json!({ "message": id, "escalated": true })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: Option<String>,
}

async fn assign(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<AssignBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    actions::reassign(&state, &caller, id, body.assignee.as_deref()).await?;
    Ok(Json(json!({ "message": id, "assignee": body.assignee })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectBody {
    intent: Option<String>,
    urgency: Option<String>,
}

async fn correct(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, Path(id): Path<i64>, body: Result<Json<CorrectBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    actions::correct(&state, &caller, id, body.intent.as_deref(), body.urgency.as_deref()).await?;
    Ok(Json(json!({ "message": id, "corrected": true })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsQuery {
    since: Option<DateTime<Utc>>,
    #[serde(default = "default_limit")]
    limit: u32,
}

async fn decisions(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient, q: Result<Query<DecisionsQuery>, QueryRejection>) -> ApiResult {
    caller.require(Permission::Read)?;
    let Query(q) = q?;
    let rows = state.store.decisions(q.since, q.limit.clamp(1, 1000)).await.map_err(WebError::from)?;
    Ok(Json(json!({ "decisions": rows })).into_response())
}

async fn stats(State(state): State<Arc<WebState>>, ApiClient(caller): ApiClient) -> ApiResult {
    caller.require(Permission::Read)?;
    let queue = state.store.queue_stats().await.map_err(WebError::from)?;
    let counts = state.store.counts().await.map_err(WebError::from)?;
    Ok(Json(json!({ "queue": queue, "store": counts })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_exactly_the_routes_served() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi/web-api.json is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys().filter(|k| ["get", "put", "post", "delete"].contains(&k.as_str())) {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut served: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        served.sort();
        assert_eq!(documented, served);
        assert_eq!(doc["servers"][0]["url"], "/api");
    }
}
