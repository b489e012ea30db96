//! One webhook POST and what it comes to: delivered, retried later with exponential backoff,
//! or failed (an answer no retry can change, or the attempts used up).

use crate::text::error_chain;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::CONTENT_TYPE;

use super::Hook;
use super::signature::sign;
use crate::store::events::{AttemptOutcome, DueDelivery};

/// What came back from one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// No HTTP answer: connection refused or reset, DNS, TLS, timeout.
    NoAnswer(String),
}

/// POSTs the event of `d` to `hook`, signed now.
pub async fn post(http: &reqwest::Client, hook: &Hook, d: &DueDelivery) -> Answer {
    let body = d.event.body();
    let signature = sign(hook.secret.expose().as_bytes(), Utc::now().timestamp(), &body);
    let sent = http
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header(CONTENT_TYPE, "application/json")
        .header("X-Switchyard-Event", d.event.kind.as_str())
        .header("X-Switchyard-Delivery", &d.delivery_id)
        .header("X-Switchyard-Signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => Answer::Status(response.status().as_u16()),
        Err(e) if e.is_timeout() => Answer::NoAnswer(format!("no answer within {} ms (timeout_ms)", hook.timeout.as_millis())),
        // Without the URL: it may carry a token, and errors end up in logs and `status`.
        Err(e) => Answer::NoAnswer(error_chain(&e.without_url())),
    }
}

/// How long to wait after the `attempt`-th failed attempt (1-based): `base`, doubled each
/// time, never more than `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// Pacing of retries, from `[webhook_delivery]` and the webhook's `max_attempts`.
#[derive(Debug, Clone, Copy)]
pub struct RetryRule {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

/// What `answer` to the `attempt`-th attempt (1-based) made at `now` comes to.
pub fn outcome(answer: Answer, attempt: u32, rule: RetryRule, now: DateTime<Utc>) -> AttemptOutcome {
    let (status, error) = match answer {
        Answer::Status(s @ 200..=299) => return AttemptOutcome::Delivered { status: s },
        // Timeouts, rate limits and server errors pass; a retry can help.
        Answer::Status(s @ (408 | 429 | 500..=599)) => (Some(s), format!("HTTP {s}")),
        Answer::Status(s) => {
            let why = if (300..400).contains(&s) {
                "the receiver redirects (redirects are not followed): set url to where it points"
            } else {
                "the receiver refused it; a retry cannot change that: check the receiver, its url and secret"
            };
            return AttemptOutcome::Failed { status: Some(s), error: format!("HTTP {s}: {why}") };
        }
        Answer::NoAnswer(e) => (None, e),
    };
    if attempt >= rule.max_attempts {
        return AttemptOutcome::Failed { status, error: format!("{error}; gave up at attempt {attempt} of {} (max_attempts)", rule.max_attempts) };
    }
    let wait = backoff(attempt, rule.base, rule.max);
    let at = chrono::Duration::from_std(wait).ok().and_then(|w| now.checked_add_signed(w)).unwrap_or(DateTime::<Utc>::MAX_UTC);
    AttemptOutcome::Retry { status, error, at }
}


#[cfg(test)]
mod tests {
    use super::*;

    const RULE: RetryRule = RetryRule { base: Duration::from_millis(1_000), max: Duration::from_secs(60), max_attempts: 4 };

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n, RULE.base, RULE.max).as_millis() as u64).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
        assert_eq!(backoff(u32::MAX, RULE.base, RULE.max), RULE.max, "no overflow");
    }

    #[test]
    fn answers_are_delivered_retried_or_failed() {
        let now = Utc::now();
        assert_eq!(outcome(Answer::Status(204), 1, RULE, now), AttemptOutcome::Delivered { status: 204 });
        for retried in [408, 429, 500, 503] {
            match outcome(Answer::Status(retried), 1, RULE, now) {
                AttemptOutcome::Retry { status, at, .. } => {
                    assert_eq!(status, Some(retried));
                    assert_eq!(at, now + chrono::Duration::seconds(1));
                }
                other => panic!("{retried}: {other:?}"),
            }
        }
        for refused in [301, 400, 401, 404, 410] {
            assert!(matches!(outcome(Answer::Status(refused), 1, RULE, now), AttemptOutcome::Failed { status: Some(s), .. } if s == refused));
        }
        assert!(matches!(outcome(Answer::NoAnswer("refused".into()), 2, RULE, now), AttemptOutcome::Retry { status: None, .. }));
    }

    #[test]
    fn the_last_attempt_fails_whatever_the_answer() {
        match outcome(Answer::Status(503), RULE.max_attempts, RULE, Utc::now()) {
            AttemptOutcome::Failed { status, error } => {
                assert_eq!(status, Some(503));
                assert!(error.contains("gave up at attempt 4 of 4") && error.contains("HTTP 503"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcome(Answer::Status(200), RULE.max_attempts, RULE, Utc::now()), AttemptOutcome::Delivered { .. }));
    }
}
