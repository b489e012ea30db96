//! The check immediately before a reply is sent: the facts the reply's claims rest on are read
//! again from the live systems (no cache). Unchanged, the reply goes. Changed — a payment
//! arrived, a restoration time moved, a system no longer answers — the reply is rebuilt from
//! the new facts and decided again: sent if it passes every check (`on_fact_change = rebuild`)
//! or handed to a person with what changed (`approve`, and always when a fact cannot be read).

use crate::config::FactChange;
use crate::domain::{Claim, Fact, Language, Reason, ReasonCode};
use crate::locale;
use crate::store::RecordedDecision;

/// A fact a sent reply would have relied on, then and now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub key: String,
    pub before: String,
    /// `None`: the fact could not be read again.
    pub after: Option<String>,
}

/// The facts behind the verified claims of `recorded` whose value differs in `fresh`.
pub fn changes(recorded: &RecordedDecision, fresh: &[Fact]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for key in fact_keys(&recorded.claims) {
        let Some(before) = recorded.facts.iter().find(|f| f.key == key) else { continue };
        let after = fresh.iter().find(|f| f.key == key);
        if after.is_some_and(|a| a.value == before.value) || out.iter().any(|c| c.key == key) {
            continue;
        }
        out.push(Change {
            key: key.to_string(),
            before: locale::format_fact(&before.value, Language::En),
            after: after.map(|a| locale::format_fact(&a.value, Language::En)),
        });
    }
    out
}

/// The fact keys the claims matched (allowlist entries are not facts and do not change).
fn fact_keys(claims: &[Claim]) -> impl Iterator<Item = &str> {
    claims.iter().filter_map(|c| c.matched.as_deref()).filter(|k| !k.starts_with("allowlist:"))
}

/// One sentence for people: `balance: 128.40 € → 0.00 €; outage.estimated_restoration: … → unreadable`.
pub fn describe(changes: &[Change]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| format!("{}: {} → {}", c.key, c.before, c.after.as_deref().unwrap_or("could not be read again")))
        .collect();
    parts.join("; ")
}

/// The reason recorded with the rebuilt decision, and whether it must hold the reply.
pub fn reason(changes: &[Change], policy: FactChange) -> (Reason, bool) {
    let unreadable = changes.iter().any(|c| c.after.is_none());
    let hold = policy == FactChange::Approve || unreadable;
    let what = if hold { "a person checks the rebuilt reply" } else { "the reply was rebuilt from the new facts and checked again" };
    (Reason::new(ReasonCode::FactsChanged, format!("facts changed before sending ({}); {what}", describe(changes))), hold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClaimKind, ClaimValue, FactValue, Money};
    use chrono::Utc;

    fn fact(key: &str, cents: i64) -> Fact {
        Fact { key: key.into(), value: FactValue::Money(Money(cents)), source: "cis.demo".into(), fetched_at: Utc::now() }
    }

    fn claim(matched: &str) -> Claim {
        Claim { kind: ClaimKind::Money, text: "x".into(), at: 0, value: ClaimValue::Money(Money(1)), matched: Some(matched.into()) }
    }

    fn recorded(facts: Vec<Fact>, claims: Vec<Claim>) -> RecordedDecision {
        RecordedDecision { intent: None, urgency: None, language: None, confidence: None, facts, claims }
    }

    #[test]
    fn only_facts_the_reply_states_count() {
        let r = recorded(vec![fact("balance", 12_840), fact("payment.0.amount", 5_000)], vec![claim("balance"), claim("allowlist:112")]);
        assert!(changes(&r, &[fact("balance", 12_840), fact("payment.0.amount", 9_999)]).is_empty(), "payment.0 is not in the reply");
        let c = changes(&r, &[fact("balance", 0)]);
        assert_eq!(c, [Change { key: "balance".into(), before: "€128.40".into(), after: Some("€0.00".into()) }]);
        let c = changes(&r, &[]);
        assert_eq!(c[0].after, None);
        assert!(describe(&c).contains("could not be read again"));
    }

    #[test]
    fn an_unreadable_fact_always_holds_the_reply() {
        let changed = [Change { key: "balance".into(), before: "a".into(), after: Some("b".into()) }];
        assert!(!reason(&changed, FactChange::Rebuild).1);
        assert!(reason(&changed, FactChange::Approve).1);
        let gone = [Change { key: "balance".into(), before: "a".into(), after: None }];
        assert!(reason(&gone, FactChange::Rebuild).1);
    }
}
