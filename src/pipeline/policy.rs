//! Stage 8, policy: auto_send, approve or escalate, with every reason. The rules come from
//! `[policy]` in the configuration and their version is recorded with each decision.

use serde::Serialize;

use super::classify::Classification;
use super::factcheck::FactCheck;
use super::guard::Admitted;
use super::ground::Grounding;
use super::identify::Identity;
use crate::config::PolicySettings;
use crate::domain::{Decision, Reason, ReasonCode, Urgency};

#[derive(Debug, Clone, Serialize)]
pub struct Ruling {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub policy_version: String,
}

pub struct PolicyInput<'a> {
    pub admitted: &'a Admitted,
    pub classification: &'a Classification,
    pub identity: &'a Identity,
    pub grounding: &'a Grounding,
    /// `None` when no draft could be written (the reason is in `draft_error`).
    pub factcheck: Option<&'a FactCheck>,
    pub draft_error: Option<String>,
}

pub fn run(input: &PolicyInput<'_>, rules: &PolicySettings) -> Ruling {
    let c = input.classification;
    // A CIS that could not say who the sender is holds the reply; the rest explain identity.
    let (unavailable, mut reasons): (Vec<Reason>, Vec<Reason>) =
        input.identity.reasons.iter().cloned().partition(|r| r.code == ReasonCode::ConnectorUnavailable);
    let ruling = |decision, reasons| Ruling { decision, reasons, policy_version: rules.version.clone() };

    if c.urgency == Urgency::Emergency {
        if let Some(hit) = &c.safety {
            reasons.push(Reason::new(
                ReasonCode::SafetyOverride,
                format!("safety phrase \"{}\" ({})", hit.phrase, hit.hazard.as_str()),
            ));
        }
        reasons.extend(unavailable);
        reasons.extend(blocking_claims(input));
        reasons.push(Reason::new(
            ReasonCode::EmergencyEscalated,
            "safety instructions go to the sender at once and the on-call team is alerted",
        ));
        return ruling(Decision::Escalate, reasons);
    }

    let mut holds: Vec<Reason> = unavailable;
    if !c.language.is_supported() {
        holds.push(Reason::new(ReasonCode::LanguageUnsupported, "written in a language we do not answer automatically"));
    }
    if (c.confidence as f64) < rules.min_confidence {
        holds.push(Reason::new(
            ReasonCode::LowConfidence,
            format!("intent {} at confidence {:.2}, below {:.2}", c.intent, c.confidence, rules.min_confidence),
        ));
    }
    if !rules.auto_send_intents.contains(&c.intent) {
        holds.push(Reason::new(ReasonCode::IntentRequiresApproval, format!("{} replies are always reviewed by a person", c.intent)));
    }
    if rules.approve_urgencies.contains(&c.urgency) {
        holds.push(Reason::new(ReasonCode::UrgencyRequiresApproval, format!("{} urgency is reviewed by a person", c.urgency)));
    }
    if let Some(customer) = input.identity.customer.as_ref().filter(|c| c.vulnerable) {
        if rules.vulnerable_approval_intents.contains(&c.intent) {
            holds.push(Reason::new(
                ReasonCode::VulnerableCustomer,
                format!("account {} is flagged vulnerable and this is about {}", customer.account, c.intent),
            ));
        } else if rules.vulnerable_disconnection_approval && c.entities.disconnection {
            holds.push(Reason::new(
                ReasonCode::Disconnection,
                format!("account {} is flagged vulnerable and the message is about a disconnection", customer.account),
            ));
        }
    }
    holds.extend(input.admitted.cautions.iter().cloned());
    holds.extend(input.grounding.reasons.iter().cloned());
    if let Some(e) = &input.draft_error {
        holds.push(Reason::new(ReasonCode::DraftUnavailable, e.clone()));
    }
    holds.extend(blocking_claims(input));

    if holds.is_empty() {
        let claims = input.factcheck.map_or(0, |f| f.claims.len());
        reasons.push(Reason::new(ReasonCode::ClaimsVerified, format!("all {claims} claims in the reply match live facts or the allowlist")));
        reasons.push(Reason::new(
            ReasonCode::AutoSendAllowed,
            format!("{} may be answered automatically; confidence {:.2} ≥ {:.2}", c.intent, c.confidence, rules.min_confidence),
        ));
        return ruling(Decision::AutoSend, reasons);
    }
    reasons.extend(holds);
    ruling(Decision::Approve, reasons)
}

fn blocking_claims(input: &PolicyInput<'_>) -> Vec<Reason> {
    input
        .factcheck
        .map(|f| {
            f.unverified()
                .map(|c| Reason::new(ReasonCode::UnverifiedClaim, format!("{} \"{}\" matches no fact", c.kind.as_str(), c.text)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicySettings;
    use crate::domain::Language;
    use crate::pipeline::{factcheck, ground, identify};
    use crate::testing::{admitted, classify, clock, demo};

    /// Runs the stages up to policy, with `draft` standing in for the draft text.
    async fn decide(raw: &str, draft: &str, rules: &PolicySettings) -> Ruling {
        let a = admitted(raw);
        let c = classify(&a);
        let i = identify::run(&a, &c, demo().cis.as_ref()).await.unwrap();
        let plans = crate::config::InstallmentSettings::default();
        let input = ground::GroundInput { classification: &c, identity: &i, lang: Language::It, reference: "test", channel: "email", installments: &plans };
        let g = ground::run(&input, &demo(), &clock()).await;
        let allow = factcheck::Allowlist::new(["800 123 456", "112"]);
        let check = factcheck::run(draft, &g.facts, &allow, Language::It);
        run(
            &PolicyInput { admitted: &a, classification: &c, identity: &i, grounding: &g, factcheck: Some(&check), draft_error: None },
            rules,
        )
    }

    fn codes(r: &Ruling) -> Vec<&'static str> {
        r.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[tokio::test]
    async fn a_verified_billing_question_with_verified_claims_is_sent() {
        let r = decide(
            "From: giulia.rossi@posta.example\nSubject: Bolletta\n\nperché la bolletta è così alta?",
            "La bolletta F2026-0011452 è di 128,40 €. Chiami l'800 123 456.",
            &PolicySettings::default(),
        )
        .await;
        assert_eq!(r.decision, Decision::AutoSend);
        assert_eq!(codes(&r), ["customer_verified", "claims_verified", "auto_send_allowed"]);
    }

    #[tokio::test]
    async fn an_unverified_figure_holds_the_reply() {
        let r = decide(
            "From: giulia.rossi@posta.example\nSubject: Bolletta\n\nperché la bolletta è così alta?",
            "La bolletta è di 182,40 €.",
            &PolicySettings::default(),
        )
        .await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(r.reasons.iter().any(|x| x.code == ReasonCode::UnverifiedClaim && x.detail.contains("182,40 €")));
    }

    #[tokio::test]
    async fn emergencies_escalate_for_anyone() {
        let r = decide("From: a@stranger.example\nSubject: aiuto\n\nc'è un forte odore di gas nelle scale", "", &PolicySettings::default()).await;
        assert_eq!(r.decision, Decision::Escalate);
        assert_eq!(codes(&r), ["sender_unverified", "safety_override", "emergency_escalated"]);
    }

    #[tokio::test]
    async fn vulnerable_customers_money_questions_go_to_a_person() {
        let r = decide("From: anna.esposito@posta.example\nSubject: Bolletta\n\nnon capisco la bolletta", "", &PolicySettings::default()).await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(codes(&r).contains(&"vulnerable_customer"));
    }

    #[tokio::test]
    async fn complaints_and_configured_urgencies_go_to_a_person() {
        let r = decide("From: luca.ferrari@posta.example\nSubject: Reclamo\n\nreclamo formale, inaccettabile", "", &PolicySettings::default()).await;
        assert!(codes(&r).contains(&"intent_requires_approval"));
        let rules = PolicySettings { approve_urgencies: vec![crate::domain::Urgency::High], ..PolicySettings::default() };
        let r = decide("From: luca.ferrari@posta.example\nSubject: luce\n\nsiamo senza luce", "", &rules).await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(codes(&r).contains(&"urgency_requires_approval"));
    }

    #[tokio::test]
    async fn a_vulnerable_customer_writing_about_a_disconnection_goes_to_a_person() {
        // Anna Esposito (40000003) is flagged vulnerable; outage is not a money intent.
        let r = decide(
            "From: anna.esposito@posta.example\nSubject: luce\n\nHo ricevuto un preavviso di distacco e ora siamo senza luce",
            "",
            &PolicySettings::default(),
        )
        .await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(codes(&r).contains(&"disconnection") || codes(&r).contains(&"vulnerable_customer"), "{:?}", codes(&r));
        let off = PolicySettings { vulnerable_disconnection_approval: false, vulnerable_approval_intents: vec![], ..PolicySettings::default() };
        let r = decide("From: anna.esposito@posta.example\nSubject: luce\n\nHo ricevuto un preavviso di distacco e ora siamo senza luce", "", &off).await;
        assert!(!codes(&r).contains(&"disconnection"), "{:?}", codes(&r));
    }

    #[tokio::test]
    async fn an_accepted_plan_is_always_handed_to_a_person() {
        let r = decide(
            "From: marco.bianchi@posta.example\nSubject: rateizzazione\n\nAccetto il piano in 6 rate.",
            "",
            &PolicySettings::default(),
        )
        .await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(codes(&r).contains(&"plan_handover"), "{:?}", codes(&r));
    }

    #[tokio::test]
    async fn below_the_confidence_threshold_a_person_decides() {
        let rules = PolicySettings { min_confidence: 0.99, ..PolicySettings::default() };
        let r = decide("From: luca.ferrari@posta.example\nSubject: luce\n\nsiamo senza luce", "", &rules).await;
        assert_eq!(r.decision, Decision::Approve);
        assert!(codes(&r).contains(&"low_confidence"));
        assert_eq!(r.policy_version, "default-3");
    }
}
