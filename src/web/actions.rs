//! What staff can do to a queue item, the same for pages and the API: the permission each
//! action needs, the checks before it, and the store call that makes it so.

use serde::Serialize;

use super::auth::Caller;
use super::{WebError, WebState};
use crate::approvals;
use crate::domain::{Claim, Permission, Username};
use crate::pipeline::ApprovedReply;
use crate::pipeline::recheck::Change;
use crate::privacy::{Channel, ConsentQuery, Purpose};
use crate::store::staff::{Approval, Case, ItemChange, QueueItem};

/// The longest reply, reason or note accepted (characters).
const MAX_TEXT: usize = 20_000;
const MAX_REASON: usize = 2_000;

/// An item escalated (an emergency, or by an agent) needs a supervisor.
pub fn permission_for(item: &QueueItem) -> Permission {
    if item.escalated { Permission::ActOnEscalated } else { Permission::Act }
}

pub async fn load(state: &WebState, message: i64) -> Result<Case, WebError> {
    state.store.case(message).await?.ok_or_else(|| WebError::NotFound(format!("there is no decided message {message}")))
}

fn waiting(case: &Case) -> Result<(), WebError> {
    match case.item.state.as_str() {
        "waiting" => Ok(()),
        "no_action" => Err(WebError::Conflict(format!("message {} was answered without a person; nothing to approve", case.item.message))),
        other => Err(WebError::Conflict(format!("message {} is already resolved ({other})", case.item.message))),
    }
}

fn required(text: Option<&str>, what: &str, max: usize) -> Result<String, WebError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(WebError::BadRequest(format!("{what} is required")));
    }
    if text.chars().count() > max {
        return Err(WebError::BadRequest(format!("{what} is longer than {max} characters")));
    }
    Ok(text.to_string())
}

/// The reply text: what the person sent, else their saved edit, else the proposal. Line ends
/// are normalised, since browsers post `\r\n`.
fn reply_text(case: &Case, text: Option<&str>) -> Result<String, WebError> {
    let chosen = text
        .filter(|t| !t.trim().is_empty())
        .or(case.edited_text.as_deref())
        .or(Some(case.proposal.as_str()).filter(|p| !p.trim().is_empty()))
        .ok_or_else(|| WebError::BadRequest("there is no draft: write the reply first".into()))?;
    let text = chosen.replace("\r\n", "\n");
    required(Some(&text), "the reply", MAX_TEXT)?;
    Ok(text.trim_end().to_string() + "\n")
}

/// `text` as the reply to `message`, checked against the facts the live systems give now.
async fn live_check(state: &WebState, message: i64, text: &str) -> Result<crate::pipeline::ApprovedReply, WebError> {
    state
        .pipeline
        .approved_reply(message, text, state.store.as_ref())
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .ok_or_else(|| WebError::NotFound(format!("message {message} cannot be read again")))
}

/// The approved text checked against live facts.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub text: String,
    pub claims: Vec<Claim>,
    pub unverified: usize,
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Approved {
    /// The reply is queued and the worker woken to send it.
    Queued { outbox: i64, unverified_sent: usize },
    /// Not sent: claims the fact-checker could not verify, and no override.
    Held { check: Check },
}

pub async fn approve(state: &WebState, caller: &Caller, message: i64, text: Option<&str>, override_reason: Option<&str>) -> Result<Approved, WebError> {
    let case = load(state, message).await?;
    caller.require(permission_for(&case.item))?;
    waiting(&case)?;
    let text = reply_text(&case, text)?;
    let reply = live_check(state, message, &text).await?;
    refuse_without_consent(state, message, &reply).await?;
    let unverified = reply.claims.iter().filter(|c| c.matched.is_none()).count();
    let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    if unverified > 0 {
        let Some(reason) = override_reason else {
            let check = Check { text, claims: reply.claims, unverified, changes: reply.changes };
            return Ok(Approved::Held { check });
        };
        caller.require(Permission::Override)?;
        required(Some(reason), "the reason for sending unverified claims", MAX_REASON)?;
    }
    let edited = !approvals::same_text(&case.proposal, &text);
    let approval = Approval {
        message,
        by: caller.user.username.clone(),
        via: caller.via,
        diff: edited.then(|| approvals::line_diff(&case.proposal, &text)),
        text,
        edited,
        claims: reply.claims,
        facts: reply.facts,
        override_reason: override_reason.filter(|_| unverified > 0).map(String::from),
        channel: reply.channel,
        reply: reply.reply,
    };
    let item = state.store.approve(&approval).await?;
    tracing::info!(message, user = %caller.user.username, via = caller.via.as_str(), edited, unverified, "reply approved");
    state.wake.notify_one();
    Ok(Approved::Queued { outbox: item.id, unverified_sent: unverified })
}

/// A reply to someone who withdrew consent to be answered on this channel (by address, or as
/// the decision's customer) is refused before anything is queued: the person sees why, and
/// the item stays open for them to answer another way.
async fn refuse_without_consent(state: &WebState, message: i64, reply: &ApprovedReply) -> Result<(), WebError> {
    let query = ConsentQuery { message, recipient: reply.reply.recipient.as_str(), channel: Channel::of(&reply.channel), purpose: Purpose::Service };
    match state.store.latest_consents(&[query]).await?.into_iter().next().flatten() {
        Some(record) if !record.granted => Err(WebError::Conflict(record.refusal())),
        _ => Ok(()),
    }
}

/// Fact-checks a text against live facts without approving it (the API's edit, the page's
/// "check" button).
pub async fn check(state: &WebState, caller: &Caller, message: i64, text: Option<&str>) -> Result<Check, WebError> {
    let case = load(state, message).await?;
    caller.require(permission_for(&case.item))?;
    let text = reply_text(&case, text)?;
    let reply = live_check(state, message, &text).await?;
    let unverified = reply.claims.iter().filter(|c| c.matched.is_none()).count();
    Ok(Check { text, claims: reply.claims, unverified, changes: reply.changes })
}

/// Saves an edit for later (not sent) and returns it checked.
pub async fn save_edit(state: &WebState, caller: &Caller, message: i64, text: &str) -> Result<Check, WebError> {
    let checked = check(state, caller, message, Some(text)).await?;
    let change = ItemChange::SaveEdit { text: checked.text.clone() };
    state.store.change_item(message, &caller.user.username, caller.via, &change).await?;
    Ok(checked)
}

pub async fn reject(state: &WebState, caller: &Caller, message: i64, reason: Option<&str>) -> Result<(), WebError> {
    let case = load(state, message).await?;
    caller.require(permission_for(&case.item))?;
    waiting(&case)?;
    let reason = required(reason, "the reason for rejecting", MAX_REASON)?;
    state.store.change_item(message, &caller.user.username, caller.via, &ItemChange::Reject { reason }).await?;
    tracing::info!(message, user = %caller.user.username, "draft rejected");
    Ok(())
}

pub async fn escalate(state: &WebState, caller: &Caller, message: i64, note: Option<&str>) -> Result<(), WebError> {
    let case = load(state, message).await?;
    caller.require(Permission::Act)?;
    waiting(&case)?;
    if case.item.escalated {
        return Err(WebError::Conflict(format!("message {message} is already escalated")));
    }
    let note = required(note, "a note for the supervisor", MAX_REASON)?;
    state.store.change_item(message, &caller.user.username, caller.via, &ItemChange::Escalate { note }).await?;
    Ok(())
}

/// Gives the item to `to` (a user who may act on it), or to nobody.
pub async fn reassign(state: &WebState, caller: &Caller, message: i64, to: Option<&str>) -> Result<(), WebError> {
    caller.require(Permission::Reassign)?;
    let case = load(state, message).await?;
    let to = match to.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(name) => {
            let name = Username::parse(name).map_err(|e| WebError::BadRequest(e.to_string()))?;
            let (user, _) = state.store.user_for_login(&name).await?.ok_or_else(|| WebError::BadRequest(format!("there is no user `{name}`")))?;
            if user.disabled || !user.role.can(permission_for(&case.item)) {
                return Err(WebError::BadRequest(format!("`{name}` ({}) cannot act on this item", user.role)));
            }
            Some(name)
        }
    };
    state.store.change_item(message, &caller.user.username, caller.via, &ItemChange::Reassign { to }).await?;
    Ok(())
}

/// Corrects the intent or urgency: stored as a training correction.
pub async fn correct(state: &WebState, caller: &Caller, message: i64, intent: Option<&str>, urgency: Option<&str>) -> Result<(), WebError> {
    caller.require(Permission::Act)?;
    let parse = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let intent = parse(intent).map(|v| v.parse()).transpose().map_err(|e: crate::domain::UnknownLabel| WebError::BadRequest(e.to_string()))?;
    let urgency = parse(urgency).map(|v| v.parse()).transpose().map_err(|e: crate::domain::UnknownLabel| WebError::BadRequest(e.to_string()))?;
    if intent.is_none() && urgency.is_none() {
        return Err(WebError::BadRequest("choose an intent or an urgency".into()));
    }
    load(state, message).await?;
    state.store.change_item(message, &caller.user.username, caller.via, &ItemChange::Correct { intent, urgency }).await?;
    Ok(())
}
