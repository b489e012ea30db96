//! Who is asking, and may they: argon2id passwords, browser sessions (a random token in an
//! HttpOnly, SameSite cookie; only its hash is stored), a CSRF token on every form, sign-in
//! throttling per user name and per client address, and bearer tokens for the API.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Duration, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ClientAddr, WebError, WebState};
use crate::domain::{Permission, Username};
use crate::store::staff::{User, Via};

pub const SESSION_COOKIE: &str = "switchyard_session";
/// Ties the sign-in form to the browser that fetched it (there is no session yet).
const LOGIN_COOKIE: &str = "switchyard_login";
/// Passwords shorter than this are refused when set.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The person behind a request, and how they came.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    /// The session's form token (pages only).
    pub csrf: String,
}

impl Caller {
    pub fn can(&self, permission: Permission) -> bool {
        !self.user.disabled && self.user.role.can(permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), WebError> {
        if self.can(permission) { Ok(()) } else { Err(WebError::Forbidden { role: self.user.role, permission }) }
    }

    /// A form's token must be this session's. Compared in constant time.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        // An API caller has no form token: an empty one never matches.
        if !self.csrf.is_empty() && constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) { Ok(()) } else { Err(WebError::Csrf) }
    }
}

/// A page request from a signed-in browser. Without a live session: the sign-in page.
pub struct Staff(pub Caller);

impl FromRequestParts<Arc<WebState>> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<WebState>) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(WebError::Unauthenticated)?;
        let web = &state.settings.web;
        let now = Utc::now();
        let idle_since = now - Duration::minutes(i64::from(web.session_idle_minutes));
        let session = state.store.session(&sha256_hex(&token), now, idle_since).await?.ok_or(WebError::Unauthenticated)?;
        // Cross-site form posts are refused before any handler sees them, whatever the token.
        if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
            check_origin(&parts.headers)?;
        }
        Ok(Staff(Caller { user: session.user, via: Via::Web, csrf: session.csrf }))
    }
}

/// An API request with `Authorization: Bearer <token>`.
pub struct ApiClient(pub Caller);

impl FromRequestParts<Arc<WebState>> for ApiClient {
    type Rejection = super::api::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<WebState>) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(WebError::Unauthenticated)?;
        let user = state.store.token_user(&sha256_hex(token), Utc::now()).await.map_err(WebError::from)?.ok_or(WebError::Unauthenticated)?;
        Ok(ApiClient(Caller { user, via: Via::Api, csrf: String::new() }))
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Browsers say where a form was posted from; a post from another site is refused. Modern
/// browsers send `Sec-Fetch-Site`, which is decisive; otherwise `Origin` must be this host.
/// `Origin: null` (sent under some referrer policies and from sandboxed frames) proves
/// nothing either way, so then the form token alone decides.
fn check_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let value = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = value(header::HeaderName::from_static("sec-fetch-site")) {
        return if matches!(site, "same-origin" | "none") { Ok(()) } else { Err(WebError::Csrf) };
    }
    match value(header::ORIGIN) {
        None | Some("null") => Ok(()),
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            if origin_host.is_some() && origin_host == value(header::HOST) { Ok(()) } else { Err(WebError::Csrf) }
        }
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` for our cookies: never readable by scripts, never sent cross-site with a form,
/// HTTPS-only when we are served over HTTPS.
fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

/// 32 random bytes, hex: session cookies, form tokens and API tokens.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// An argon2id PHC string (the crate's defaults: 19 MiB, 2 passes, 1 lane — OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = argon2::password_hash::phc::PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
}

/// Verified against when the user does not exist, so an unknown name takes as long as a
/// wrong password and does not reveal which names exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not-a-real-password-at-all").unwrap_or_default())
}

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", axum::routing::post(logout))
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(State(state): State<Arc<WebState>>, Query(q): Query<LoginQuery>) -> Result<Response, WebError> {
    login_form(&state, q.next.as_deref(), None, axum::http::StatusCode::OK)
}

fn login_form(state: &WebState, next: Option<&str>, error: Option<&str>, status: axum::http::StatusCode) -> Result<Response, WebError> {
    let token = new_token();
    let mut ctx = tera::Context::new();
    ctx.insert("csrf", &token);
    ctx.insert("next", &safe_next(next));
    ctx.insert("error", &error);
    let html = super::pages::render(state, "web/login.html", &ctx)?;
    let cookie = set_cookie(LOGIN_COOKIE, &token, "/login", Some(1800), state.settings.web.https());
    Ok((status, [(header::SET_COOKIE, cookie)], Html(html)).into_response())
}

/// Only a path on this site: never an open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/queue".to_string(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(state): State<Arc<WebState>>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_origin(&headers)?;
    let expected = cookie(&headers, LOGIN_COOKIE).ok_or(WebError::Csrf)?;
    if !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(WebError::Csrf);
    }
    let web = &state.settings.web;
    let client = client.0.ip().to_string();
    let name = form.username.trim().to_lowercase();
    let now = Utc::now();
    let window = Duration::minutes(i64::from(web.login_window_minutes));
    let failures = state.store.login_failures(&name, &client, now - window).await?;
    if failures.for_user >= web.login_max_failures || failures.from_client >= web.login_client_max_failures {
        let reopens = failures.oldest.map_or(now + window, |t| t + window);
        let minutes = ((reopens - now).num_seconds() + 59).div_euclid(60).max(1);
        tracing::warn!(client = %client, "sign-in refused: too many failures");
        return Err(WebError::Throttled { minutes });
    }
    let found = match Username::parse(&name) {
        Ok(u) => state.store.user_for_login(&u).await?,
        Err(_) => None,
    };
    let user = match found {
        Some((user, hash)) if verify_password(&form.password, &hash) && !user.disabled => Some(user),
        Some(_) => None,
        None => {
            verify_password(&form.password, dummy_hash());
            None
        }
    };
    let Some(user) = user else {
        state.store.record_login_failure(&name, &client, now).await?;
        tracing::info!(client = %client, "sign-in failed");
        return login_form(&state, form.next.as_deref(), Some("Wrong user name or password."), axum::http::StatusCode::UNAUTHORIZED);
    };
    state.store.clear_login_failures(&name).await?;
    let token = new_token();
    let expires = now + Duration::hours(i64::from(web.session_max_hours));
    state.store.create_session(user.id, &sha256_hex(&token), &new_token(), expires).await?;
    tracing::info!(user = %user.username, role = %user.role, "signed in");
    let secure = web.https();
    let mut response = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, "/", None, secure));
    h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", "/login", Some(0), secure));
    Ok(response)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(state): State<Arc<WebState>>, Staff(caller): Staff, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Result<Response, WebError> {
    caller.check_csrf(&form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_session(&sha256_hex(&token)).await?;
    }
    tracing::info!(user = %caller.user.username, "signed out");
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/", Some(0), state.settings.web.https()));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(hash_password("short"), Err(PasswordError::TooShort)));
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(safe_next(Some("/messages/4")), "/messages/4");
        assert_eq!(safe_next(Some("//evil.example/")), "/queue");
        assert_eq!(safe_next(Some("https://evil.example/")), "/queue");
        assert_eq!(safe_next(Some("/\\evil.example")), "/queue");
        assert_eq!(safe_next(None), "/queue");
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read_exactly() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; switchyard_session=abc; switchyard_sessionx=no"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer tok123"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(bearer(&h), Some("tok123"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcg=="));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("queue.example:8080"));
        assert!(check_origin(&h).is_ok(), "no Origin: old browsers and API tools");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://queue.example:8080"));
        assert!(check_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(matches!(check_origin(&h), Err(WebError::Csrf)));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&h).is_ok(), "an opaque origin proves nothing: the form token decides");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://queue.example:8080"));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(matches!(check_origin(&h), Err(WebError::Csrf)), "Sec-Fetch-Site decides");
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(matches!(check_origin(&h), Err(WebError::Csrf)), "a sibling subdomain is another site here");
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(check_origin(&h).is_ok());
    }

    #[test]
    fn tokens_are_random_and_stored_only_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
