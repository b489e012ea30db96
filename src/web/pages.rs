//! The pages staff use: the queue, one message with everything behind its decision and the
//! forms to act on it, and (for admins) the users. Every form posts with the session's CSRF
//! token; every handler names the permission it needs.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::actions::{self, Approved, Check};
use super::auth::{Staff, hash_password};
use super::inert::{self, RemoteImages};
use super::{WebError, WebState};
use crate::domain::{Claim, Intent, Language, Permission, Role, Urgency, Username};
use crate::pipeline::parse;
use crate::store::staff::{Case, QueueFilter, StateFilter};

pub(super) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/static/app.css", get(stylesheet))
        .route("/queue", get(queue))
        .route("/messages/{id}", get(message))
        .route("/messages/{id}/body", get(message_body))
        .route("/messages/{id}/approve", post(approve))
        .route("/messages/{id}/reject", post(reject))
        .route("/messages/{id}/escalate", post(escalate))
        .route("/messages/{id}/reassign", post(reassign))
        .route("/messages/{id}/correct", post(correct))
        .route("/users", get(users).post(add_user))
        .route("/users/{name}/{change}", post(change_user))
}

/// The page templates (`templates/web/*.html`, compiled in), autoescaped.
pub(super) fn templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    let files = crate::embedded::TEMPLATES
        .iter()
        .filter(|(name, _)| name.starts_with("web/") && name.ends_with(".html"))
        .map(|(name, bytes)| (name.to_string(), String::from_utf8_lossy(bytes).into_owned()));
    tera.add_raw_templates(files.collect::<Vec<_>>())?;
    tera.autoescape_on(vec![".html"]);
    tera.register_filter("when", when);
    Ok(tera)
}

/// `{{ t | when }}`: a stored RFC 3339 time as people read it, to the second, in UTC.
fn when(value: &tera::Value, _: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let text = value.as_str().unwrap_or_default();
    Ok(match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S UTC").to_string().into(),
        Err(_) => value.clone(),
    })
}

pub(super) fn render(state: &WebState, name: &str, ctx: &tera::Context) -> Result<String, WebError> {
    state.pages.render(name, ctx).map_err(|e| WebError::Internal(format!("cannot render {name}: {}", crate::text::error_chain(&e))))
}

/// The context every signed-in page starts from.
fn context(caller: &super::auth::Caller) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("user", &caller.user);
    ctx.insert("csrf", &caller.csrf);
    ctx.insert("can_manage_users", &caller.can(Permission::ManageUsers));
    ctx.insert("notice", &None::<String>);
    ctx
}

async fn stylesheet() -> Response {
    let css = include_str!("../../templates/web/app.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], css).into_response()
}

#[derive(Debug, Deserialize, Serialize, Default)]
struct QueueQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    mailbox: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    page: Option<u32>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Query parameters → a filter; an unknown value is a clear error, not an empty list.
fn queue_filter(q: &QueueQuery, page_size: u32) -> Result<QueueFilter, WebError> {
    let bad = |e: &dyn std::fmt::Display| WebError::BadRequest(e.to_string());
    let state = match nonempty(&q.state) {
        None | Some("open") => StateFilter::Open,
        Some("escalated") => StateFilter::Escalated,
        Some("done") => StateFilter::Done,
        Some("all") => StateFilter::All,
        Some(other) => return Err(WebError::BadRequest(format!("unknown state `{other}`; expected open, escalated, done or all"))),
    };
    Ok(QueueFilter {
        state,
        intent: nonempty(&q.intent).map(str::parse::<Intent>).transpose().map_err(|e| bad(&e))?,
        language: nonempty(&q.language).map(str::parse::<Language>).transpose().map_err(|e| bad(&e))?,
        mailbox: nonempty(&q.mailbox).map(String::from),
        assignee: nonempty(&q.assignee).map(String::from),
        offset: q.page.unwrap_or(0).saturating_mul(page_size),
        limit: page_size,
    })
}

fn age(t: chrono::DateTime<Utc>) -> String {
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

async fn queue(State(state): State<Arc<WebState>>, Staff(caller): Staff, Query(q): Query<QueueQuery>) -> Result<Html<String>, WebError> {
    caller.require(Permission::Read)?;
    let page_size = state.settings.web.page_size.max(1);
    let filter = queue_filter(&q, page_size)?;
    let items = state.store.queue(&filter).await?;
    let stats = state.store.queue_stats().await?;
    let page = q.page.unwrap_or(0);
    let link = |page: u32| format!("/queue?{}", query_string(&q, page));
    let rows: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            v["age"] = age(i.received_at).into();
            v
        })
        .collect();
    let mut ctx = context(&caller);
    ctx.insert("items", &rows);
    ctx.insert("stats", &stats);
    ctx.insert("oldest_open", &stats.oldest_open_seconds.map(|s| age(Utc::now() - chrono::Duration::seconds(s))));
    ctx.insert("states", &["open", "escalated", "done", "all"]);
    ctx.insert("intents", &Intent::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>());
    ctx.insert("languages", &Language::SUPPORTED.iter().map(|l| l.as_str()).collect::<Vec<_>>());
    ctx.insert(
        "filter",
        &serde_json::json!({
            "state": nonempty(&q.state).unwrap_or("open"),
            "intent": nonempty(&q.intent).unwrap_or(""),
            "language": nonempty(&q.language).unwrap_or(""),
            "mailbox": nonempty(&q.mailbox).unwrap_or(""),
            "assignee": nonempty(&q.assignee).unwrap_or(""),
        }),
    );
    ctx.insert("prev_page", &(page > 0).then(|| link(page - 1)));
    ctx.insert("next_page", &(items.len() as u32 == page_size).then(|| link(page + 1)));
    Ok(Html(render(&state, "web/queue.html", &ctx)?))
}

/// The query of a link to another page of the same listing (user input, percent-encoded).
fn query_string(q: &QueueQuery, page: u32) -> String {
    let pairs = [
        ("state", q.state.as_deref()),
        ("intent", q.intent.as_deref()),
        ("language", q.language.as_deref()),
        ("mailbox", q.mailbox.as_deref()),
        ("assignee", q.assignee.as_deref()),
    ];
    let mut out: Vec<String> = pairs.iter().filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{k}={}", percent(v)))).collect();
    out.push(format!("page={page}"));
    out.join("&")
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A claim as the page shows it.
#[derive(Serialize)]
struct ClaimView<'a> {
    text: &'a str,
    kind: &'a str,
    verified: bool,
    matched: Option<&'a str>,
}

fn claim_view(c: &Claim) -> ClaimView<'_> {
    ClaimView { text: &c.text, kind: c.kind.as_str(), verified: c.matched.is_some(), matched: c.matched.as_deref() }
}

/// The draft cut into plain text and claims, so each claim can be marked verified or not.
#[derive(Serialize)]
struct Segment<'a> {
    text: &'a str,
    claim: Option<ClaimView<'a>>,
}

fn segments<'a>(text: &'a str, claims: &'a [Claim]) -> Vec<Segment<'a>> {
    let mut sorted: Vec<&Claim> = claims.iter().collect();
    sorted.sort_by_key(|c| c.at);
    let (mut out, mut pos) = (Vec::new(), 0usize);
    for c in sorted {
        let end = c.at + c.text.len();
        // Only a claim that is where it says it is (the draft may have been edited since).
        if c.at < pos || text.get(c.at..end) != Some(c.text.as_str()) {
            continue;
        }
        out.push(Segment { text: &text[pos..c.at], claim: None });
        out.push(Segment { text: &text[c.at..end], claim: Some(claim_view(c)) });
        pos = end;
    }
    out.push(Segment { text: &text[pos..], claim: None });
    out
}

#[derive(Deserialize, Default)]
struct MessageQuery {
    #[serde(default)]
    images: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

async fn message(
    State(state): State<Arc<WebState>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Query(q): Query<MessageQuery>,
) -> Result<Response, WebError> {
    caller.require(Permission::Read)?;
    let case = actions::load(&state, id).await?;
    let notice = q.done.as_deref().map(done_notice);
    Ok(Html(message_page(&state, &caller, &case, q.images.as_deref() == Some("remote"), None, None, notice).await?).into_response())
}

fn done_notice(what: &str) -> String {
    match what {
        "approved" => "Approved: the reply is on its way.".into(),
        "saved" => "Your edit is saved; it has not been sent.".into(),
        "rejected" => "Rejected: nothing was sent.".into(),
        "escalated" => "Escalated to the supervisors.".into(),
        "reassigned" => "Assignment saved.".into(),
        "corrected" => "Correction saved: the classifier learns from it at the next training.".into(),
        _ => "Done.".into(),
    }
}

async fn message_page(
    state: &WebState,
    caller: &super::auth::Caller,
    case: &Case,
    remote_images: bool,
    check: Option<&Check>,
    reply_text: Option<&str>,
    notice: Option<String>,
) -> Result<String, WebError> {
    let limits = parse::Limits { max_bytes: u64::MAX };
    let (attachments, parse_error) = match parse::run(&case.raw, case.stored_len, limits) {
        Ok(p) => (p.attachments, None),
        // Retention and erasure empty the stored message (docs/readme-privacy.md).
        Err(_) if case.raw.is_empty() => (Vec::new(), Some("The message's text was removed: retention period or erasure request.".to_string())),
        Err(e) => (Vec::new(), Some(format!("The message could not be read in full: {e}"))),
    };
    let waiting = case.item.state == "waiting";
    let act = actions::permission_for(&case.item);
    let lang: Language = case.item.language.as_deref().and_then(|l| l.parse().ok()).unwrap_or(Language::En);
    let facts: Vec<serde_json::Value> = case
        .facts
        .iter()
        .map(|f| serde_json::json!({"key": f.key, "value": crate::locale::format_fact(&f.value, lang), "source": f.source, "fetched_at": f.fetched_at}))
        .collect();
    let mut assignable = Vec::new();
    if caller.can(Permission::Reassign) {
        assignable = state.store.users().await?.into_iter().filter(|u| !u.disabled && u.role.can(act)).map(|u| u.username.to_string()).collect();
    }
    let mut ctx = context(caller);
    ctx.insert("notice", &notice);
    ctx.insert("case", case);
    ctx.insert("facts", &facts);
    ctx.insert("attachments", &attachments);
    ctx.insert("parse_error", &parse_error);
    ctx.insert("remote_images", &remote_images);
    // The link to load remote images only when there are some to load.
    ctx.insert("blocked_images", &inert::frame_document(&case.raw, RemoteImages::Blocked).blocked_images);
    // Without a draft, the claims are those of the reply sent automatically (an emergency's
    // safety instructions): shown marked the same way.
    let shown = if case.proposal.is_empty() { case.reply_body.as_deref().filter(|_| case.item.decision == "escalate") } else { Some(case.proposal.as_str()) };
    ctx.insert("draft_is_proposal", &!case.proposal.is_empty());
    ctx.insert("draft_segments", &shown.map(|text| segments(text, &case.claims)));
    ctx.insert("claims", &case.claims.iter().map(claim_view).collect::<Vec<_>>());
    ctx.insert("check", &check);
    ctx.insert("check_claims", &check.map(|c| c.claims.iter().map(claim_view).collect::<Vec<_>>()));
    ctx.insert("reply_text", reply_text.or(case.edited_text.as_deref()).unwrap_or(&case.proposal));
    ctx.insert("can_act", &(waiting && caller.can(act)));
    ctx.insert("can_override", &caller.can(Permission::Override));
    ctx.insert("can_escalate", &(waiting && !case.item.escalated && caller.can(Permission::Act)));
    ctx.insert("can_reassign", &(waiting && caller.can(Permission::Reassign)));
    ctx.insert("can_correct", &(caller.can(Permission::Act) && case.item.decision != "ignore"));
    ctx.insert("assignable", &assignable);
    ctx.insert("intents", &Intent::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>());
    ctx.insert("urgencies", &Urgency::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>());
    ctx.insert("history", &state.store.history(case.item.message, 20).await?);
    render(state, "web/message.html", &ctx)
}

/// The customer's message, inert, for the sandboxed frame of the message page.
async fn message_body(
    State(state): State<Arc<WebState>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Query(q): Query<MessageQuery>,
) -> Result<Response, WebError> {
    caller.require(Permission::Read)?;
    let case = actions::load(&state, id).await?;
    let remote = q.images.as_deref() == Some("remote");
    let images = || if remote { RemoteImages::Allowed } else { RemoteImages::Blocked };
    let shown = inert::frame_document(&case.raw, images());
    // Only our own message page may frame it (frame-ancestors 'self' in its policy, too).
    Ok((inert::frame_headers(images()), [(header::X_FRAME_OPTIONS, "SAMEORIGIN")], shown.document).into_response())
}

#[derive(Deserialize)]
struct ApproveForm {
    csrf: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    override_reason: Option<String>,
    #[serde(default)]
    r#do: Option<String>,
}

async fn approve(State(state): State<Arc<WebState>>, Staff(caller): Staff, Path(id): Path<i64>, Form(form): Form<ApproveForm>) -> Result<Response, WebError> {
    caller.check_csrf(&form.csrf)?;
    let held = match form.r#do.as_deref().unwrap_or("approve") {
        "check" => actions::check(&state, &caller, id, form.text.as_deref()).await?,
        "save" => {
            actions::save_edit(&state, &caller, id, form.text.as_deref().unwrap_or_default()).await?;
            return Ok(Redirect::to(&format!("/messages/{id}?done=saved")).into_response());
        }
        _ => match actions::approve(&state, &caller, id, form.text.as_deref(), form.override_reason.as_deref()).await? {
            Approved::Queued { .. } => return Ok(Redirect::to(&format!("/messages/{id}?done=approved")).into_response()),
            Approved::Held { check } => check,
        },
    };
    // The check result on the same page, with the text as the person left it.
    let case = actions::load(&state, id).await?;
    let status = if held.unverified > 0 { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let html = message_page(&state, &caller, &case, false, Some(&held), Some(&held.text), None).await?;
    Ok((status, Html(html)).into_response())
}

#[derive(Deserialize)]
struct ReasonForm {
    csrf: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
}

async fn reject(State(state): State<Arc<WebState>>, Staff(caller): Staff, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    actions::reject(&state, &caller, id, f.reason.as_deref()).await?;
    Ok(Redirect::to(&format!("/messages/{id}?done=rejected")).into_response())
}

async fn escalate(State(state): State<Arc<WebState>>, Staff(caller): Staff, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    actions::escalate(&state, &caller, id, f.note.as_deref()).await?;
    Ok(Redirect::to(&format!("/messages/{id}?done=escalated")).into_response())
}

async fn reassign(State(state): State<Arc<WebState>>, Staff(caller): Staff, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    actions::reassign(&state, &caller, id, f.assignee.as_deref()).await?;
    Ok(Redirect::to(&format!("/messages/{id}?done=reassigned")).into_response())
}

async fn correct(State(state): State<Arc<WebState>>, Staff(caller): Staff, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    actions::correct(&state, &caller, id, f.intent.as_deref(), f.urgency.as_deref()).await?;
    Ok(Redirect::to(&format!("/messages/{id}?done=corrected")).into_response())
}

async fn users(State(state): State<Arc<WebState>>, Staff(caller): Staff) -> Result<Html<String>, WebError> {
    caller.require(Permission::ManageUsers)?;
    let mut ctx = context(&caller);
    ctx.insert("users", &state.store.users().await?);
    ctx.insert("tokens", &state.store.tokens().await?);
    ctx.insert("roles", &Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>());
    ctx.insert("min_password", &super::auth::MIN_PASSWORD_CHARS);
    Ok(Html(render(&state, "web/users.html", &ctx)?))
}

#[derive(Deserialize)]
struct UserForm {
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn add_user(State(state): State<Arc<WebState>>, Staff(caller): Staff, Form(f): Form<UserForm>) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    caller.require(Permission::ManageUsers)?;
    let name = Username::parse(&f.username).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let role: Role = f.role.parse().map_err(|e: crate::domain::UnknownRole| WebError::BadRequest(e.to_string()))?;
    let hash = hash_password(&f.password).map_err(|e| WebError::BadRequest(e.to_string()))?;
    state.store.add_user(&name, role, &hash, caller.user.username.as_str()).await?;
    tracing::info!(by = %caller.user.username, user = %name, %role, "user added");
    Ok(Redirect::to("/users").into_response())
}

async fn change_user(
    State(state): State<Arc<WebState>>,
    Staff(caller): Staff,
    Path((name, change)): Path<(String, String)>,
    Form(f): Form<UserForm>,
) -> Result<Response, WebError> {
    caller.check_csrf(&f.csrf)?;
    caller.require(Permission::ManageUsers)?;
    let name = Username::parse(&name).map_err(|e| WebError::BadRequest(e.to_string()))?;
    if name == caller.user.username {
        return Err(WebError::BadRequest("change your own account with `switchyard user` on the server, so an admin cannot lock themselves out".into()));
    }
    match change.as_str() {
        "role" => {
            let role: Role = f.role.parse().map_err(|e: crate::domain::UnknownRole| WebError::BadRequest(e.to_string()))?;
            state.store.set_role(&name, role, caller.user.username.as_str()).await?;
        }
        "disable" => state.store.set_disabled(&name, true, caller.user.username.as_str()).await?,
        "enable" => state.store.set_disabled(&name, false, caller.user.username.as_str()).await?,
        other => return Err(WebError::NotFound(format!("no such change `{other}`"))),
    }
    tracing::info!(by = %caller.user.username, user = %name, change = %change, "user changed");
    Ok(Redirect::to("/users").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClaimKind, ClaimValue};

    fn claim(text: &str, at: usize, matched: Option<&str>) -> Claim {
        Claim { kind: ClaimKind::Number, text: text.into(), at, value: ClaimValue::Number(1), matched: matched.map(String::from) }
    }

    #[test]
    fn claims_are_marked_where_they_are_and_only_there() {
        let text = "Total 128,40 € due 5 December.";
        let at = |t: &str| text.find(t).unwrap();
        let claims = [claim("128,40 €", at("128"), Some("invoice.amount")), claim("5 December", at("5 D"), None), claim("moved", 2, None)];
        let s = segments(text, &claims);
        let marked: Vec<(&str, bool)> = s.iter().filter_map(|s| s.claim.as_ref().map(|c| (s.text, c.verified))).collect();
        assert_eq!(marked, [("128,40 €", true), ("5 December", false)]);
        assert_eq!(s.iter().map(|s| s.text).collect::<String>(), text, "nothing lost or repeated");
    }

    #[test]
    fn queue_filters_parse_or_say_what_is_wrong() {
        let q = QueueQuery { state: Some("escalated".into()), intent: Some("billing".into()), page: Some(2), ..Default::default() };
        let f = queue_filter(&q, 50).unwrap();
        assert_eq!((f.state, f.intent, f.offset, f.limit), (StateFilter::Escalated, Some(Intent::Billing), 100, 50));
        let bad = QueueQuery { intent: Some("bribery".into()), ..Default::default() };
        assert!(matches!(queue_filter(&bad, 50), Err(WebError::BadRequest(m)) if m.contains("bribery")));
        assert_eq!(percent("a b&c"), "a%20b%26c");
    }
}
