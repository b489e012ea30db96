//! The demo CIS and OMS served over HTTP, exactly as `openapi/utility-systems.json` describes
//! the utility's systems, so the HTTP connectors are tested against the contract and a utility
//! can see what to build (`switchyard demo-cis`). Two demo-only routes change the data the way
//! live systems change under a reply: a payment arrives, a restoration time moves.

use std::sync::{Arc, RwLockReadGuard, RwLockWriteGuard};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::cis::{Customer, CustomerKey, InstallmentEligibility, Statement};
use super::demo_data::{DemoData, DemoError, SharedDemo};
use super::outage::http::OutageList;
use super::outage::{FaultReport, FaultReportRequest, Outage, Place};
use crate::domain::{AccountId, EmailAddress, Money, PhoneNumber, SupplyPointId};
use crate::secret::Secret;

pub const CUSTOMERS: &str = "/cis/v1/customers";
pub const STATEMENT: &str = "/cis/v1/accounts/{account}/statement";
pub const INVOICE_PDF: &str = "/cis/v1/accounts/{account}/invoices/{number}/pdf";
pub const ELIGIBILITY: &str = "/cis/v1/accounts/{account}/installment-eligibility";
pub const OUTAGES: &str = "/oms/v1/outages";
pub const FAULT_REPORTS: &str = "/oms/v1/fault-reports";
pub const DEMO_PAYMENTS: &str = "/demo/v1/accounts/{account}/payments";
pub const DEMO_RESTORATION: &str = "/demo/v1/outages/{id}/restoration";

/// The routes of the utility contract this server answers (method, path as in the OpenAPI
/// file); `router` registers exactly these and `DEMO_ROUTES`.
pub const CONTRACT_ROUTES: &[(&str, &str)] = &[
    ("get", CUSTOMERS),
    ("get", STATEMENT),
    ("get", INVOICE_PDF),
    ("get", ELIGIBILITY),
    ("get", OUTAGES),
    ("post", FAULT_REPORTS),
];

/// Routes of the demo alone, not part of what a utility must build.
pub const DEMO_ROUTES: &[(&str, &str)] = &[("post", DEMO_PAYMENTS), ("put", DEMO_RESTORATION)];

#[derive(Clone)]
struct Demo {
    data: SharedDemo,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    token: Option<Arc<Secret>>,
}

/// The contract's routes and the demo-only ones over `data`; with a `token`, every request
/// must present it.
pub fn router(data: SharedDemo, token: Option<Secret>) -> Router {
    let state = Demo { data, token: token.map(Arc::new) };
    Router::new()
        .route(CUSTOMERS, get(find_customer))
        .route(STATEMENT, get(statement))
        .route(INVOICE_PDF, get(invoice_pdf))
        .route(ELIGIBILITY, get(installment_eligibility))
        .route(OUTAGES, get(outages))
        .route(FAULT_REPORTS, post(open_fault_report))
        .route(DEMO_PAYMENTS, post(record_payment))
        .route(DEMO_RESTORATION, put(set_restoration))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// Serves `app` on `listener` until `cancel` is cancelled, then lets requests in progress
/// finish.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await
}

/// An error answer in the contract's shape: `{"error": "..."}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if unauthorized {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<DemoError> for ApiError {
    fn from(e: DemoError) -> Self {
        match e {
            DemoError::NoAccount(_) | DemoError::NoOutage(_) => ApiError::not_found(e.to_string()),
            DemoError::NotPositive => ApiError::bad_request(e.to_string()),
        }
    }
}

impl Demo {
    /// A poisoned lock means a handler panicked mid-change: answer 500 rather than guess.
    fn read(&self) -> Result<RwLockReadGuard<'_, DemoData>, ApiError> {
        self.data.read().map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "demo data unavailable"))
    }
    fn write(&self) -> Result<RwLockWriteGuard<'_, DemoData>, ApiError> {
        self.data.write().map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "demo data unavailable"))
    }
}

async fn require_token(State(demo): State<Demo>, request: Request, next: Next) -> Response {
    if let Some(token) = &demo.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| same_secret(p.as_bytes(), token.expose().as_bytes())) {
            return ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response();
        }
    }
    next.run(request).await
}

/// Compares in time that depends on the length only, not on where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("no such endpoint; see openapi/utility-systems.json")
}

async fn wrong_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint; see openapi/utility-systems.json")
}

/// The one query parameter a lookup takes, by one of the `allowed` names.
fn one_parameter(query: Result<Query<Vec<(String, String)>>, QueryRejection>, allowed: &[&str]) -> Result<(String, String), ApiError> {
    let expected = || format!("expected exactly one of {}", allowed.join(", "));
    let Query(mut pairs) = query.map_err(|e| ApiError::bad_request(format!("{}; {}", e.body_text(), expected())))?;
    if pairs.len() != 1 {
        return Err(ApiError::bad_request(expected()));
    }
    let (name, value) = pairs.remove(0);
    if !allowed.contains(&name.as_str()) {
        return Err(ApiError::bad_request(format!("unknown parameter `{name}`; {}", expected())));
    }
    if value.trim().is_empty() {
        return Err(ApiError::bad_request(format!("`{name}` is empty")));
    }
    Ok((name, value))
}

/// The lookup a query asks for. Errors name the parameter, never echo its value.
fn customer_key(name: &str, value: &str) -> Result<CustomerKey, ApiError> {
    Ok(match name {
        "email" => CustomerKey::Email(EmailAddress::parse(value).map_err(|_| ApiError::bad_request("`email` is not an e-mail address"))?),
        "phone" => CustomerKey::Phone(
            PhoneNumber::parse(value).map_err(|_| ApiError::bad_request("`phone` is not an international number (+ and digits; send + as %2B)"))?,
        ),
        "account" => CustomerKey::Account(AccountId::parse(value).ok_or_else(|| ApiError::bad_request("`account` is not an account number"))?),
        _ => CustomerKey::SupplyPoint(SupplyPointId::normalise(value)),
    })
}

/// An account in a path; one that cannot exist is simply not found.
fn account(raw: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(raw).ok_or_else(|| ApiError::not_found("no such account"))
}

async fn find_customer(State(demo): State<Demo>, query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Json<Customer>, ApiError> {
    let (name, value) = one_parameter(query, &["email", "phone", "account", "supply_point"])?;
    let key = customer_key(&name, &value)?;
    demo.read()?.find(&key).cloned().map(Json).ok_or_else(|| ApiError::not_found("no customer matches"))
}

async fn statement(State(demo): State<Demo>, Path(raw): Path<String>) -> Result<Json<Statement>, ApiError> {
    let account = account(&raw)?;
    demo.read()?.statement(&account).cloned().map(Json).ok_or_else(|| ApiError::not_found("no such account"))
}

async fn invoice_pdf(State(demo): State<Demo>, Path((raw, number)): Path<(String, String)>) -> Result<Response, ApiError> {
    let account = account(&raw)?;
    let pdf = demo.read()?.invoice_pdf(&account, &number).ok_or_else(|| ApiError::not_found("no such bill on this account"))?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
}

async fn installment_eligibility(State(demo): State<Demo>, Path(raw): Path<String>) -> Result<Json<InstallmentEligibility>, ApiError> {
    let account = account(&raw)?;
    demo.read()?.installment_eligibility(&account).map(Json).ok_or_else(|| ApiError::not_found("no such account"))
}

async fn outages(State(demo): State<Demo>, query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Json<OutageList>, ApiError> {
    let (name, value) = one_parameter(query, &["postcode", "area", "supply_point"])?;
    let place = match name.as_str() {
        "postcode" => Place::Postcode(value),
        "area" => Place::Area(value),
        _ => Place::SupplyPoint(SupplyPointId::normalise(&value)),
    };
    Ok(Json(OutageList { outages: demo.read()?.outages_at(&place) }))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// 201 with a new report; 200 with the same report when the key was seen before.
async fn open_fault_report(
    State(demo): State<Demo>,
    headers: HeaderMap,
    body: Result<Json<FaultReportRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<FaultReport>), ApiError> {
    let request = json_body(body)?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    if key != Some(request.idempotency_key.as_str()) || request.idempotency_key.is_empty() {
        return Err(ApiError::bad_request("the Idempotency-Key header must be present and equal the body's idempotency_key"));
    }
    let mut data = demo.write()?;
    if let Some(existing) = data.fault_report(&request.idempotency_key) {
        return Ok((StatusCode::OK, Json(existing.clone())));
    }
    let report = data.open_fault_report(&request, chrono::Utc::now());
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentRequest {
    amount: Money,
    date: NaiveDate,
}

/// Demo only: a payment arrives; answers the account's statement after it.
async fn record_payment(
    State(demo): State<Demo>,
    Path(raw): Path<String>,
    body: Result<Json<PaymentRequest>, JsonRejection>,
) -> Result<Json<Statement>, ApiError> {
    let payment = json_body(body)?;
    let account = account(&raw)?;
    let mut data = demo.write()?;
    data.record_payment(&account, payment.amount, payment.date)?;
    data.statement(&account).cloned().map(Json).ok_or_else(|| ApiError::not_found("no such account"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestorationRequest {
    /// Required, and `null` when the OMS no longer has an estimate: an empty body must not
    /// erase one by accident.
    #[serde(deserialize_with = "present_or_null")]
    estimated_restoration: Option<NaiveDateTime>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    Option::deserialize(d)
}

/// Demo only: the OMS revises an outage's estimated restoration; answers the outage.
async fn set_restoration(
    State(demo): State<Demo>,
    Path(id): Path<String>,
    body: Result<Json<RestorationRequest>, JsonRejection>,
) -> Result<Json<Outage>, ApiError> {
    let change = json_body(body)?;
    let mut data = demo.write()?;
    data.set_restoration(&id, change.estimated_restoration)?;
    data.outages.iter().find(|o| o.id == id).cloned().map(Json).ok_or_else(|| ApiError::not_found("no such outage"))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;

    async fn call(app: &Router, method: &str, uri: &str, body: Option<&str>, auth: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut request = axum::http::Request::builder().method(method).uri(uri);
        if let Some(token) = auth {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json").header("idempotency-key", "k-1");
        }
        let request = request.body(Body::from(body.unwrap_or_default().to_string())).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    fn app(token: Option<&str>) -> Router {
        router(crate::testing::demo_data(), token.map(Secret::new))
    }

    #[tokio::test]
    async fn every_route_is_registered() {
        let app = app(None);
        let concrete = |path: &str| {
            path.replace("{account}", "40000001").replace("{number}", "F2026-0011452").replace("{id}", "OUT-IT-0001")
        };
        for (method, path) in CONTRACT_ROUTES.iter().chain(DEMO_ROUTES) {
            let (status, body) = call(&app, &method.to_uppercase(), &concrete(path), (*method != "get").then_some("{}"), None).await;
            let unrouted = body["error"].as_str().is_some_and(|e| e.starts_with("no such endpoint") || e.starts_with("method not allowed"));
            assert!(!unrouted, "{method} {path}: {status} {body}");
        }
        let (status, body) = call(&app, "GET", "/cis/v2/customers", None, None).await;
        assert_eq!((status, body["error"].as_str().unwrap_or_default().starts_with("no such endpoint")), (StatusCode::NOT_FOUND, true));
        let (status, _) = call(&app, "DELETE", CUSTOMERS, None, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn lookups_take_exactly_one_known_parameter() {
        let app = app(None);
        for uri in [
            "/cis/v1/customers",
            "/cis/v1/customers?email=a@b.example&phone=%2B393331234567",
            "/cis/v1/customers?name=Rossi",
            "/cis/v1/customers?email=",
            "/cis/v1/customers?email=not-an-address",
            "/cis/v1/customers?phone=3331234567",
            "/oms/v1/outages",
            "/oms/v1/outages?city=Torino",
        ] {
            let (status, body) = call(&app, "GET", uri, None, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body["error"].is_string(), "{uri}: {body}");
        }
        let (status, body) = call(&app, "GET", "/cis/v1/customers?email=nobody@else.example", None, None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("no customer matches")));
        let (status, body) = call(&app, "GET", "/cis/v1/customers?phone=%2B39%20333%20123%204567", None, None).await;
        assert_eq!((status, body["account"].as_str()), (StatusCode::OK, Some("40000001")));
    }

    #[tokio::test]
    async fn a_configured_token_is_required_everywhere() {
        let app = app(Some("t0ken"));
        for auth in [None, Some("wrong"), Some("t0ke")] {
            let (status, body) = call(&app, "GET", "/cis/v1/customers?account=40000001", None, auth).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert!(body["error"].is_string());
        }
        let (status, _) = call(&app, "GET", "/cis/v1/customers?account=40000001", None, Some("t0ken")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&app, "GET", "/nowhere", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown paths do not reveal themselves without a token");
    }

    #[tokio::test]
    async fn fault_reports_need_a_matching_idempotency_key() {
        let app = app(None);
        let body = r#"{"idempotency_key": "k-1", "postcode": "10123", "channel": "email"}"#;
        let (first, report) = call(&app, "POST", FAULT_REPORTS, Some(body), None).await;
        let (again, same) = call(&app, "POST", FAULT_REPORTS, Some(body), None).await;
        assert_eq!((first, again), (StatusCode::CREATED, StatusCode::OK));
        assert_eq!(report, same);
        let other = r#"{"idempotency_key": "k-2", "channel": "email"}"#;
        let (status, body) = call(&app, "POST", FAULT_REPORTS, Some(other), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = call(&app, "POST", FAULT_REPORTS, Some("{not json"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].is_string());
    }

    #[tokio::test]
    async fn demo_routes_change_what_the_contract_routes_answer() {
        let app = app(None);
        let (status, st) = call(&app, "POST", "/demo/v1/accounts/40000001/payments", Some(r#"{"amount": 12840, "date": "2026-11-21"}"#), None).await;
        assert_eq!((status, st["balance"].as_i64()), (StatusCode::OK, Some(0)), "{st}");
        let (_, st) = call(&app, "GET", "/cis/v1/accounts/40000001/statement", None, None).await;
        assert_eq!((st["balance"].as_i64(), st["payments"][0]["amount"].as_i64()), (Some(0), Some(12840)));
        let (status, _) = call(&app, "POST", "/demo/v1/accounts/40000001/payments", Some(r#"{"amount": -5, "date": "2026-11-21"}"#), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(&app, "POST", "/demo/v1/accounts/49999999/payments", Some(r#"{"amount": 5, "date": "2026-11-21"}"#), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, o) = call(&app, "PUT", "/demo/v1/outages/OUT-IT-0001/restoration", Some(r#"{"estimated_restoration": "2026-11-20T18:45:00"}"#), None).await;
        assert_eq!((status, o["estimated_restoration"].as_str()), (StatusCode::OK, Some("2026-11-20T18:45:00")));
        let (_, list) = call(&app, "GET", "/oms/v1/outages?area=10123", None, None).await;
        assert_eq!(list["outages"][0]["estimated_restoration"], "2026-11-20T18:45:00");
        let (status, o) = call(&app, "PUT", "/demo/v1/outages/OUT-IT-0001/restoration", Some(r#"{"estimated_restoration": null}"#), None).await;
        assert_eq!((status, o["estimated_restoration"].is_null()), (StatusCode::OK, true));
        let (status, _) = call(&app, "PUT", "/demo/v1/outages/OUT-IT-0001/restoration", Some("{}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "an empty body does not erase the estimate");
        let (status, _) = call(&app, "PUT", "/demo/v1/outages/NOPE/restoration", Some(r#"{"estimated_restoration": null}"#), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
